"""cs231n_lib.layers.rnn against torch oracles, numerical gradients and hand computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cs231n_lib import reference as ref
from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.layers import rnn

N, T, D, H, V = 3, 4, 5, 6, 7
BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
SEQUENCE = {
    "rnn": (rnn.rnn_forward, rnn.rnn_backward, ref.rnn_forward, ref.rnn_backward),
    "lstm": (rnn.lstm_forward, rnn.lstm_backward, ref.lstm_forward, ref.lstm_backward),
    "gru": (rnn.gru_forward, rnn.gru_backward, ref.gru_forward, ref.gru_backward),
}
STEP = {  # the cells whose step maps (x, prev_h, Wx, Wh, b) -> next_h
    "rnn": (
        rnn.rnn_step_forward,
        rnn.rnn_step_backward,
        ref.rnn_step_forward,
        ref.rnn_step_backward,
    ),
    "gru": (
        rnn.gru_step_forward,
        rnn.gru_step_backward,
        ref.gru_step_forward,
        ref.gru_step_backward,
    ),
}


def _weights(cell, seed=0, scale=0.6):
    rng = np.random.default_rng(seed)
    width = BLOCKS[cell] * H
    return {
        "Wx": scale * rng.standard_normal((D, width)),
        "Wh": scale * rng.standard_normal((H, width)),
        "b": rng.standard_normal(width),
    }


def _assert_all_close(got, want, names, rtol=1e-9, atol=1e-10):
    assert len(got) == len(want) == len(names)
    for name, g, w in zip(names, got, want, strict=True):
        assert g.shape == w.shape, f"{name}: shape {g.shape}, expected {w.shape}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=name)


# --- steps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", STEP)
def test_step_matches_torch_and_numerical_gradient(cell):
    forward, backward, ref_forward, ref_backward = STEP[cell]
    rng = np.random.default_rng(1)
    x, prev_h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    w = _weights(cell)
    next_h, cache = forward(x, prev_h, **w)
    np.testing.assert_allclose(next_h, ref_forward(x, prev_h, **w), rtol=1e-12, atol=1e-12)
    dnext_h = rng.standard_normal(next_h.shape)
    grads = backward(dnext_h, cache)
    names = ("dx", "dprev_h", "dWx", "dWh", "db")
    _assert_all_close(grads, ref_backward(dnext_h, x, prev_h, **w), names)
    inputs = {"x": x, "prev_h": prev_h, **w}
    check_gradient(
        lambda **a: forward(**a)[0],
        inputs,
        dict(zip(inputs, grads, strict=True)),
        dout=dnext_h,
    )


def test_lstm_step_matches_torch_and_numerical_gradient():
    rng = np.random.default_rng(2)
    x, prev_h, prev_c = (rng.standard_normal(s) for s in ((N, D), (N, H), (N, H)))
    w = _weights("lstm")
    next_h, next_c, cache = rnn.lstm_step_forward(x, prev_h, prev_c, **w)
    want_h, want_c = ref.lstm_step_forward(x, prev_h, prev_c, **w)
    _assert_all_close((next_h, next_c), (want_h, want_c), ("next_h", "next_c"), 1e-12, 1e-12)
    dnext_h, dnext_c = rng.standard_normal((2, N, H))
    grads = rnn.lstm_step_backward(dnext_h, dnext_c, cache)
    names = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
    _assert_all_close(
        grads, ref.lstm_step_backward(dnext_h, dnext_c, x, prev_h, prev_c, **w), names
    )
    inputs = {"x": x, "prev_h": prev_h, "prev_c": prev_c, **w}

    def weighted(**a):  # sum(next_h * dnext_h + next_c * dnext_c)
        h, c, _ = rnn.lstm_step_forward(**a)
        return np.sum(h * dnext_h) + np.sum(c * dnext_c)

    check_gradient(weighted, inputs, dict(zip(inputs, grads, strict=True)))


def test_rnn_step_by_hand():
    x, prev_h = np.array([[1.0, 2.0]]), np.array([[0.5]])
    Wx, Wh, b = np.array([[0.3], [-0.1]]), np.array([[2.0]]), np.array([0.2])
    next_h, cache = rnn.rnn_step_forward(x, prev_h, Wx, Wh, b)
    a = 0.3 - 0.2 + 1.0 + 0.2  # x Wx + prev_h Wh + b = 1.3
    np.testing.assert_allclose(next_h, [[np.tanh(a)]])
    dx, dprev_h, dWx, dWh, db = rnn.rnn_step_backward(np.ones((1, 1)), cache)
    slope = 1 - np.tanh(a) ** 2  # tanh'(a) from the output; 1 - a^2 would be the input's
    np.testing.assert_allclose(db, [slope])
    np.testing.assert_allclose(dx, slope * Wx.T)
    np.testing.assert_allclose(dprev_h, [[2.0 * slope]])


def _lstm_by_hand(a, prev_c):
    """next_h, next_c from pre-activations a = (a_i, a_f, a_o, a_g), the course's order."""
    sigmoid = 1 / (1 + np.exp(-np.asarray(a[:3])))
    i, f, o, g = *sigmoid, np.tanh(a[3])
    next_c = f * prev_c + i * g
    return o * np.tanh(next_c), next_c


def test_lstm_gate_order_is_i_f_o_g():
    # One hidden unit, no weights: the bias blocks are the pre-activations a_i, a_f, a_o, a_g.
    blocks = (1.5, -0.7, 0.4, -1.2)
    prev_h, prev_c = np.array([[0.9]]), np.array([[2.0]])
    x, Wx, Wh = np.zeros((1, 1)), np.zeros((1, 4)), np.zeros((1, 4))
    next_h, next_c, _ = rnn.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, np.array(blocks))
    want_h, want_c = _lstm_by_hand(blocks, 2.0)
    np.testing.assert_allclose([next_h[0, 0], next_c[0, 0]], [want_h, want_c], rtol=1e-12)
    # The test can tell every other order of the blocks apart (prev_c != prev_h also tells
    # a forget gate applied to h from one applied to c).
    for order in itertools.permutations(range(4)):
        if order != (0, 1, 2, 3):
            other = _lstm_by_hand([blocks[k] for k in order], 2.0)
            assert abs(other[0] - want_h) > 1e-3 or abs(other[1] - want_c) > 1e-3, order
    assert abs(_lstm_by_hand(blocks, 0.9)[1] - want_c) > 1e-3


def test_gru_step_by_hand():
    # One hidden unit: z = sigmoid(bz) = 0.8, r = sigmoid(br), candidate = tanh(x + r h Whh).
    logit = np.log(0.8 / 0.2)
    x, prev_h = np.array([[0.3]]), np.array([[-0.6]])
    Wx = np.array([[0.0, 0.0, 1.0]])
    Wh = np.array([[0.0, 0.0, 0.5]])
    b = np.array([logit, 0.4, 0.1])
    next_h, _ = rnn.gru_step_forward(x, prev_h, Wx, Wh, b)
    r = 1 / (1 + np.exp(-0.4))
    candidate = np.tanh(0.3 + 0.5 * r * -0.6 + 0.1)
    want = 0.2 * -0.6 + 0.8 * candidate  # (1 - z) h + z candidate; reversed: 0.8 h + 0.2 c
    np.testing.assert_allclose(next_h, [[want]], rtol=1e-12)
    assert abs(want - (0.8 * -0.6 + 0.2 * candidate)) > 0.1


def test_sigmoid_is_stable_for_large_preactivations():
    x, prev_h = np.zeros((1, 1)), np.zeros((1, 1))
    b = np.array([800.0, -800.0, 800.0, 3.0])
    with np.errstate(over="raise", invalid="raise"):  # underflow to 0 is harmless
        next_h, next_c, _ = rnn.lstm_step_forward(
            x, prev_h, np.ones((1, 1)), np.zeros((1, 4)), np.zeros((1, 4)), b
        )
    np.testing.assert_allclose(next_c, [[np.tanh(3.0)]])
    np.testing.assert_allclose(next_h, np.tanh(next_c))


# --- sequences -----------------------------------------------------------------------------


@pytest.mark.parametrize("cell", SEQUENCE)
def test_sequence_matches_torch(cell):
    forward, backward, ref_forward, ref_backward = SEQUENCE[cell]
    rng = np.random.default_rng(3)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    w = _weights(cell, seed=4)
    h, cache = forward(x, h0, **w)
    np.testing.assert_allclose(h, ref_forward(x, h0, **w), rtol=1e-12, atol=1e-12)
    dh = rng.standard_normal(h.shape)
    names = ("dx", "dh0", "dWx", "dWh", "db")
    _assert_all_close(backward(dh, cache), ref_backward(dh, x, h0, **w), names)


@pytest.mark.parametrize("cell", SEQUENCE)
def test_sequence_backward_matches_numerical_gradient(cell):
    forward, backward, _, _ = SEQUENCE[cell]
    rng = np.random.default_rng(5)
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3))
    width = BLOCKS[cell] * 3
    w = {
        "Wx": 0.6 * rng.standard_normal((4, width)),
        "Wh": 0.6 * rng.standard_normal((3, width)),
        "b": rng.standard_normal(width),
    }
    h, cache = forward(x, h0, **w)
    dh = rng.standard_normal(h.shape)
    inputs = {"x": x, "h0": h0, **w}
    grads = dict(zip(inputs, backward(dh, cache), strict=True))
    check_gradient(lambda **a: forward(**a)[0], inputs, grads, dout=dh)


@pytest.mark.parametrize("cell", SEQUENCE)
def test_gradient_from_the_last_step_reaches_the_first(cell):
    # Only h[:, -1] feeds the loss: the gradient of x[:, 0] exists only by backpropagating
    # through every later step (the next step's gradient must be added at each step).
    forward, backward, _, ref_backward = SEQUENCE[cell]
    rng = np.random.default_rng(6)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    w = _weights(cell, seed=7)
    h, cache = forward(x, h0, **w)
    dh = np.zeros_like(h)
    dh[:, -1] = 1.0
    dx, dh0, *_ = backward(dh, cache)
    want_dx, want_dh0, *_ = ref_backward(dh, x, h0, **w)
    assert np.abs(dx[:, 0]).max() > 1e-3
    np.testing.assert_allclose(dx, want_dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dh0, want_dh0, rtol=1e-9, atol=1e-12)


def test_lstm_starts_from_a_zero_cell():
    rng = np.random.default_rng(8)
    x, h0 = rng.standard_normal((N, 1, D)), rng.standard_normal((N, H))
    w = _weights("lstm")
    h, _ = rnn.lstm_forward(x, h0, **w)
    next_h, _, _ = rnn.lstm_step_forward(x[:, 0], h0, np.zeros((N, H)), **w)
    np.testing.assert_array_equal(h[:, 0], next_h)


def test_float32_stays_float32():
    rng = np.random.default_rng(9)
    x, h0 = rng.standard_normal((N, T, D), dtype=np.float32), np.zeros((N, H), np.float32)
    w = {k: v.astype(np.float32) for k, v in _weights("gru").items()}
    h, cache = rnn.gru_forward(x, h0, **w)
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rnn.gru_backward(np.ones_like(h), cache))


@pytest.mark.parametrize(
    "call",
    [
        lambda: rnn.rnn_step_forward(
            np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(5)
        ),
        lambda: rnn.lstm_step_forward(
            np.zeros((2, 3)),
            np.zeros((2, 4)),
            np.zeros((2, 4)),
            np.zeros((3, 4)),
            np.zeros((4, 4)),
            np.zeros(4),
        ),
        lambda: rnn.gru_forward(
            np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(12)
        ),
    ],
    ids=["rnn-bias", "lstm-not-4H", "gru-not-3d"],
)
def test_bad_shapes_raise(call):
    with pytest.raises(ValueError, match="expected"):
        call()


# --- word embedding, temporal affine, temporal softmax loss --------------------------------


def test_word_embedding_matches_torch_and_adds_repeated_words():
    rng = np.random.default_rng(10)
    W = rng.standard_normal((V, D))
    x = np.array([[0, 3, 3], [6, 3, 0]])
    out, cache = rnn.word_embedding_forward(x, W)
    np.testing.assert_array_equal(out, W[x])
    dout = rng.standard_normal(out.shape)
    dW = rnn.word_embedding_backward(dout, cache)
    np.testing.assert_allclose(dW, ref.word_embedding_backward(dout, x, W), rtol=1e-12)
    np.testing.assert_allclose(dW[3], dout[0, 1] + dout[0, 2] + dout[1, 1])  # used 3 times
    assert not dW[[1, 2, 4, 5]].any()


def test_word_embedding_rejects_bad_indices():
    W = np.zeros((V, D))
    with pytest.raises(ValueError, match=r"0\.\.6"):
        rnn.word_embedding_forward(np.array([[0, 7]]), W)
    with pytest.raises(TypeError, match="integer"):
        rnn.word_embedding_forward(np.array([[0.0, 1.0]]), W)


def test_temporal_affine_matches_torch_and_numerical_gradient():
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, V)), rng.standard_normal(V)
    out, cache = rnn.temporal_affine_forward(x, w, b)
    np.testing.assert_allclose(out, ref.temporal_affine_forward(x, w, b), rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    grads = rnn.temporal_affine_backward(dout, cache)
    _assert_all_close(grads, ref.temporal_affine_backward(dout, x, w, b), ("dx", "dw", "db"))
    check_gradient(
        lambda **a: rnn.temporal_affine_forward(**a)[0],
        {"x": x, "w": w, "b": b},
        dict(zip("xwb", grads, strict=True)),
        dout=dout,
    )


def _loss_inputs(seed=12):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, V))
    y = rng.integers(0, V, size=(N, T))
    mask = rng.random((N, T)) < 0.6
    mask[0] = True  # at least one scored step
    return x, y, mask


def test_temporal_softmax_loss_matches_torch_and_numerical_gradient():
    x, y, mask = _loss_inputs()
    loss, dx = rnn.temporal_softmax_loss(x, y, mask)
    want_loss, want_dx = ref.temporal_softmax_loss(x, y, mask)
    assert abs(loss - want_loss) < 1e-12
    np.testing.assert_allclose(dx, want_dx, rtol=1e-10, atol=1e-14)
    check_gradient(
        lambda x: rnn.temporal_softmax_loss(x, y, mask)[0], {"x": x}, {"x": dx}, tol=1e-7
    )


def test_temporal_softmax_loss_divides_by_n_not_by_the_number_of_words():
    # Uniform scores: every scored word costs log V; 5 scored words in N = 2 captions.
    x = np.zeros((2, 4, V))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
    y = np.zeros((2, 4), dtype=np.int64)
    loss, dx = rnn.temporal_softmax_loss(x, y, mask)
    assert abs(loss - 5 * np.log(V) / 2) < 1e-12, f"loss {loss}, expected 5 log V / N"
    np.testing.assert_allclose(dx[0, 0], (np.full(V, 1 / V) - np.eye(V)[0]) / 2)


def test_temporal_softmax_loss_ignores_masked_steps():
    x, y, mask = _loss_inputs(13)
    loss, dx = rnn.temporal_softmax_loss(x, y, mask)
    assert not dx[~mask].any(), "masked steps must get no gradient"
    x2, y2 = x.copy(), y.copy()
    x2[~mask] = 100 * np.random.default_rng(0).standard_normal(x2[~mask].shape)
    y2[~mask] = -1  # what a masked step holds does not matter, even out of range
    assert rnn.temporal_softmax_loss(x2, y2, mask)[0] == pytest.approx(loss, rel=1e-12)
    scored = mask.sum()
    assert scored < mask.size and loss < rnn.temporal_softmax_loss(x, y, np.ones_like(mask))[0]


def test_temporal_softmax_loss_bad_inputs():
    x, y, mask = _loss_inputs()
    with pytest.raises(ValueError, match="expected"):
        rnn.temporal_softmax_loss(x, y[:, 1:], mask)
    with pytest.raises(TypeError, match="integer"):
        rnn.temporal_softmax_loss(x, y.astype(float), mask)
