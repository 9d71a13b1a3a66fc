"""cs231n_lib.blocks.captioning: shapes, the loss against a hand-written masked
cross-entropy, overfitting a tiny set, and greedy sampling that stops at <END>."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cs231n_lib.blocks.captioning import TorchCaptioner, greedy_sample, train_captioner
from cs231n_lib.data import captions as cap

V, F_DIM = len(cap.VOCAB), 16


def tiny_set(n=12, seed=0):
    rng = np.random.default_rng(seed)
    data = cap.load(num_train=n, num_val=0, num_test=0, seed=seed)
    return rng.standard_normal((n, F_DIM)).astype(np.float32), data["y_train"]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_scores_and_state_have_the_documented_shapes(cell):
    torch.manual_seed(0)
    model = TorchCaptioner(V, F_DIM, wordvec_dim=8, hidden_dim=10, cell=cell)
    features, captions = tiny_set(5)
    scores = model(torch.as_tensor(features), torch.as_tensor(captions[:, :-1]))
    assert scores.shape == (5, cap.MAX_LENGTH - 1, V)
    state = model.initial_state(torch.as_tensor(features))
    states = state if cell == "lstm" else (state,)
    assert all(s.shape == (1, 5, 10) for s in states)
    if cell == "lstm":  # h0 and c0 are different maps of the features
        assert not torch.allclose(states[0], states[1])


def test_loss_is_the_masked_cross_entropy_summed_over_time_divided_by_n():
    torch.manual_seed(1)
    model = TorchCaptioner(V, F_DIM, wordvec_dim=8, hidden_dim=12, cell="lstm")
    features, captions = (torch.as_tensor(a) for a in tiny_set(7))
    loss = model.loss(features, captions)
    # By hand: log-softmax of the scores, the targets' entries, <NULL> targets left out.
    scores = model(features, captions[:, :-1])
    log_probs = scores.log_softmax(dim=-1)
    targets = captions[:, 1:]
    picked = log_probs.gather(-1, targets[..., None])[..., 0]
    expected = -(picked * (targets != cap.NULL)).sum() / len(captions)
    torch.testing.assert_close(loss, expected)
    # Scores at <NULL> targets get no gradient.
    scores = scores.detach().requires_grad_()
    model.forward = lambda *args: scores
    model.loss(features, captions).backward()
    assert scores.grad[targets == cap.NULL].abs().max() == 0
    assert scores.grad[targets != cap.NULL].abs().max() > 0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_it_overfits_a_tiny_set_and_samples_it_back(cell):
    torch.manual_seed(0)
    features, captions = tiny_set(16)
    model = TorchCaptioner(V, F_DIM, wordvec_dim=16, hidden_dim=64, cell=cell)
    history = train_captioner(model, features, captions, 150, 16, lr=2e-2, progress=False)
    assert history["epoch_loss"][-1] < 0.1 < history["epoch_loss"][0]
    assert len(history["loss"]) == 150 and len(history["epoch_seconds"]) == 150
    sampled = greedy_sample(model, features, cap.START, cap.END, max_length=cap.MAX_LENGTH - 1)
    assert sampled.shape == (16, cap.MAX_LENGTH - 1) and sampled.dtype == np.int64
    assert cap.decode_captions(sampled, cap.VOCAB) == cap.decode_captions(captions, cap.VOCAB)


def test_training_is_deterministic_by_seed():
    features, captions = tiny_set(10)
    losses = []
    for seed in (3, 3, 4):
        torch.manual_seed(0)
        model = TorchCaptioner(V, F_DIM, wordvec_dim=8, hidden_dim=16, cell="gru")
        losses.append(train_captioner(model, features, captions, 2, 4, 1e-2, seed, False)["loss"])
    assert losses[0] == losses[1] and losses[0] != losses[2]


def test_greedy_sample_stops_at_end_and_pads_with_null():
    torch.manual_seed(0)
    model = TorchCaptioner(V, F_DIM, wordvec_dim=8, hidden_dim=8, cell="rnn")
    with torch.no_grad():  # a model that always says <END>: <END> first, then <NULL>
        model.vocab.weight.zero_()
        model.vocab.bias.zero_()
        model.vocab.bias[cap.END] = 5.0
    out = greedy_sample(model, np.zeros((3, F_DIM), np.float32), cap.START, cap.END, 6)
    np.testing.assert_array_equal(out, [[cap.END] + [cap.NULL] * 5] * 3)
    # A caption that ends at step 3 keeps its words and <END>, then <NULL>.
    with torch.no_grad():
        model.vocab.bias.zero_()
        model.embed.weight.zero_()
        model.init_state.weight.zero_()
        model.init_state.bias.zero_()
        model.rnn.weight_ih_l0.zero_()
        model.rnn.bias_ih_l0.zero_()
        model.rnn.bias_hh_l0.zero_()
        model.rnn.weight_hh_l0.copy_(torch.eye(8))
        model.init_state.bias[0] = 0.5  # h_t = tanh(h_{t-1}): h0[0] = 0.5 shrinks each step
        model.vocab.weight[cap.WORDS.index("a") + 4, 0] = 10.0
        model.vocab.bias[cap.END] = 3.0  # wins once 10 * h_t[0] < 3
    out = greedy_sample(model, np.zeros((2, F_DIM), np.float32), cap.START, cap.END, 12)
    row = list(out[0])
    end = row.index(cap.END)
    assert 0 < end < 11 and set(row[:end]) == {cap.WORDS.index("a") + 4}
    assert set(row[end + 1 :]) == {cap.NULL}


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="cell='transformer'"):
        TorchCaptioner(V, F_DIM, cell="transformer")
    with pytest.raises(ValueError, match="hidden_dim"):
        TorchCaptioner(V, F_DIM, hidden_dim=0)
    model = TorchCaptioner(V, F_DIM, hidden_dim=8)
    features, captions = tiny_set(4)
    with pytest.raises(ValueError, match="N = 4"):
        train_captioner(model, features, captions[:3], progress=False)
    with pytest.raises(ValueError, match="epochs"):
        train_captioner(model, features, captions, epochs=0, progress=False)
    with pytest.raises(ValueError, match="max_length"):
        greedy_sample(model, features, cap.START, cap.END, max_length=0)
