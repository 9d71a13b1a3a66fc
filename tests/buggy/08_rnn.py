"""Plausible student mistakes in solutions/08_rnn/*.ipynb; format in README.md."""

BUGS = [
    # --- rnn.ipynb -------------------------------------------------------------------------
    dict(
        # Forgotten or extra transpose: Wh is square, so the shapes still fit.
        name="rnn_step_forward_transposes_Wh",
        notebook="rnn.ipynb",
        cell="rnn_step_forward",
        replace=[("prev_h @ Wh + b", "prev_h @ Wh.T + b")],
        loses=["test_rnn_step_forward"],
    ),
    dict(
        # tanh' evaluated as 1 - a^2 on the input a of the tanh instead of 1 - tanh(a)^2.
        name="tanh_backward_uses_the_input",
        notebook="rnn.ipynb",
        cell="rnn_step_backward",
        replace=[("(1.0 - next_h**2)", "(1.0 - (x @ Wx + prev_h @ Wh + b) ** 2)")],
        loses=["test_rnn_step_backward"],
    ),
    dict(
        name="rnn_forward_feeds_h0_at_every_step",
        notebook="rnn.ipynb",
        cell="rnn_forward",
        replace=[
            (
                "rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)",
                "rnn_step_forward(x[:, t], h0, Wx, Wh, b)",
            )
        ],
        loses=["test_rnn_forward"],
    ),
    dict(
        # Each step only gets the loss's gradient, not the one from step t + 1.
        name="bptt_without_the_next_steps_gradient",
        notebook="rnn.ipynb",
        cell="rnn_backward",
        replace=[
            (
                "rnn_step_backward(dh[:, t] + dprev_h, cache[t])",
                "rnn_step_backward(dh[:, t], cache[t])",
            )
        ],
        loses=["test_rnn_backward"],
    ),
    dict(
        # Fancy-index assignment writes a repeated word once instead of adding every row.
        name="embedding_backward_drops_repeated_words",
        notebook="rnn.ipynb",
        cell="word_embedding_backward",
        replace=[("np.add.at(dW, x, dout)", "dW[x] += dout")],
        loses=["test_word_embedding_backward"],
    ),
    dict(
        # db summed over the batch only: one bias gradient per time step.
        name="temporal_affine_db_over_the_batch_only",
        notebook="rnn.ipynb",
        cell="temporal_affine_backward",
        replace=[("db = rows.sum(axis=0)", "db = dout.sum(axis=0)")],
        loses=["test_temporal_affine_backward"],
    ),
    dict(
        name="temporal_loss_ignores_the_mask",
        notebook="rnn.ipynb",
        cell="temporal_softmax_loss",
        replace=[("mask.reshape(N * T)", "np.ones(N * T)")],
        loses=["test_temporal_softmax_loss"],
    ),
    dict(
        # The mean over scored words instead of the course's sum divided by N.
        name="temporal_loss_divides_by_the_number_of_words",
        notebook="rnn.ipynb",
        cell="temporal_softmax_loss",
        replace=[("/ N", "/ scored.sum()")],
        loses=["test_temporal_softmax_loss"],
    ),
    dict(
        # Clipping each array by its own norm changes the direction of the step.
        name="clip_gradient_per_array",
        notebook="rnn.ipynb",
        cell="clip_gradient",
        replace=[
            (
                "clipped = {name: g * scale for name, g in grads.items()}",
                "clipped = {name: g * min(1.0, max_norm / max(np.linalg.norm(g), 1e-12))\n"
                "               for name, g in grads.items()}",
            )
        ],
        loses=["test_clip_gradient"],
    ),
    dict(
        name="clip_gradient_by_value",
        notebook="rnn.ipynb",
        cell="clip_gradient",
        replace=[
            (
                "clipped = {name: g * scale for name, g in grads.items()}",
                "clipped = {name: np.clip(g, -max_norm, max_norm) for name, g in grads.items()}",
            )
        ],
        loses=["test_clip_gradient"],
    ),
    dict(
        # Targets taken from the same columns as the inputs: <START> becomes a target.
        name="captioning_start_in_the_targets",
        notebook="rnn.ipynb",
        cell="CaptioningRNN",
        replace=[("captions[:, :-1], captions[:, 1:]  #", "captions[:, :-1], captions[:, :-1]  #")],
        loses=["test_CaptioningRNN_loss"],
    ),
    dict(
        # Words after a caption's <END> are kept instead of <NULL>.
        name="captioning_sample_goes_on_after_end",
        notebook="rnn.ipynb",
        cell="CaptioningRNN",
        replace=[("captions[:, t] = np.where(done, self._null, word)", "captions[:, t] = word")],
        loses=["test_CaptioningRNN_sample"],
    ),
    # --- lstm_gru.ipynb --------------------------------------------------------------------
    dict(
        # torch's block order i, f, g, o read into the course's i, f, o, g layout.
        name="lstm_gates_in_torch_order",
        notebook="lstm_gru.ipynb",
        cell="lstm_step_forward",
        replace=[
            ("o = sigmoid(a[:, 2 * H : 3 * H])", "o = sigmoid(a[:, 3 * H :])"),
            ("g = np.tanh(a[:, 3 * H :])", "g = np.tanh(a[:, 2 * H : 3 * H])"),
        ],
        loses=["test_lstm_step_forward"],
    ),
    dict(
        name="lstm_forget_gate_applied_to_h",
        notebook="lstm_gru.ipynb",
        cell="lstm_step_forward",
        replace=[("next_c = f * prev_c + i * g", "next_c = f * prev_h + i * g")],
        loses=["test_lstm_step_forward"],
    ),
    dict(
        # The cell gradient passes to the previous step as if f were 1.
        name="lstm_dprev_c_without_forget_gate",
        notebook="lstm_gru.ipynb",
        cell="lstm_step_backward",
        replace=[("dprev_c = dc * f", "dprev_c = dc")],
        loses=["test_lstm_step_backward"],
    ),
    dict(
        # Only the direct path from next_c: the gradient through next_h = o tanh(c) is lost.
        name="lstm_dc_misses_the_path_through_h",
        notebook="lstm_gru.ipynb",
        cell="lstm_step_backward",
        replace=[("dc = dnext_c + dnext_h * o * (1 - tanh_c**2)", "dc = dnext_c")],
        loses=["test_lstm_step_backward"],
    ),
    dict(
        name="lstm_forward_starts_the_cell_at_h0",
        notebook="lstm_gru.ipynb",
        cell="lstm_forward",
        replace=[("prev_h, prev_c = h0, np.zeros_like(h0)", "prev_h, prev_c = h0, h0")],
        loses=["test_lstm_forward"],
    ),
    dict(
        # The cell state's gradient is not carried back from step t + 1.
        name="lstm_backward_drops_dprev_c",
        notebook="lstm_gru.ipynb",
        cell="lstm_backward",
        replace=[
            ("dh[:, t] + dprev_h, dprev_c, cache[t])", "dh[:, t] + dprev_h, 0 * dprev_c, cache[t])")
        ],
        loses=["test_lstm_backward"],
    ),
    dict(
        # torch's nn.GRU convention: z keeps the old state.
        name="gru_interpolation_reversed",
        notebook="lstm_gru.ipynb",
        cell="gru_step_forward",
        replace=[
            (
                "next_h = (1 - z) * prev_h + z * candidate",
                "next_h = z * prev_h + (1 - z) * candidate",
            )
        ],
        loses=["test_gru_step_forward"],
    ),
    dict(
        # torch's nn.GRU convention: r applied after the hidden matrix product.
        name="gru_reset_after_the_matmul",
        notebook="lstm_gru.ipynb",
        cell="gru_step_forward",
        replace=[("(r * prev_h) @ Whh + bh)", "r * (prev_h @ Whh) + bh)")],
        loses=["test_gru_step_forward"],
    ),
    dict(
        name="gru_dprev_h_misses_the_reset_path",
        notebook="lstm_gru.ipynb",
        cell="gru_step_backward",
        replace=[
            ("dprev_h = dnext_h * (1 - z) + dreset_h * r + ", "dprev_h = dnext_h * (1 - z) + ")
        ],
        loses=["test_gru_step_backward"],
    ),
    dict(
        # The candidate block of dWh taken against prev_h instead of r * prev_h.
        name="gru_dWh_candidate_block_without_reset",
        notebook="lstm_gru.ipynb",
        cell="gru_step_backward",
        replace=[("(r * prev_h).T @ da_h]", "prev_h.T @ da_h]")],
        loses=["test_gru_step_backward"],
    ),
    dict(
        name="gru_forward_feeds_h0_at_every_step",
        notebook="lstm_gru.ipynb",
        cell="gru_forward",
        replace=[
            (
                "gru_step_forward(x[:, t], prev_h, Wx, Wh, b)",
                "gru_step_forward(x[:, t], h0, Wx, Wh, b)",
            )
        ],
        loses=["test_gru_forward"],
    ),
    dict(
        # The weight gradients keep only one step's share instead of the sum over time.
        name="gru_backward_overwrites_dWh",
        notebook="lstm_gru.ipynb",
        cell="gru_backward",
        replace=[("dWh += dWh_t", "dWh = dWh_t")],
        loses=["test_gru_backward"],
    ),
]
