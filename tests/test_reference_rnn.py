"""Tests of cs231n_lib.reference.rnn: the torch oracles against torch's own nn.LSTM, numpy
written here from the equations, and numerical gradients of the oracles' forwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cs231n_lib import reference as ref
from cs231n_lib.gradcheck import check_gradient

N, T, D, H = 2, 5, 3, 4


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    monkeypatch.setenv("CS231N_DEVICE", "cpu")


@pytest.fixture
def rng():
    return np.random.default_rng(17)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _lstm_weights(rng):
    return (
        rng.normal(size=(D, 4 * H)),
        rng.normal(size=(H, 4 * H)) * 0.5,
        rng.normal(size=4 * H),
    )


def test_nn_lstm_with_mapped_weights_equals_the_equations(rng):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = _lstm_weights(rng)
    np.testing.assert_allclose(
        ref.lstm_via_nn(x, h0, Wx, Wh, b), ref.lstm_forward(x, h0, Wx, Wh, b), atol=1e-12
    )


def test_nn_lstm_without_the_block_swap_differs(rng):
    # nn.LSTM's blocks are i, f, g, o: handing it the course's i, f, o, g as they are
    # computes another function, which is why lstm_via_nn swaps the last two blocks.
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = _lstm_weights(rng)
    lstm = torch.nn.LSTM(D, H, batch_first=True).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
        lstm.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
        unswapped, _ = lstm(torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.zeros(1, N, H)))
    assert np.abs(unswapped.numpy() - ref.lstm_forward(x, h0, Wx, Wh, b)).max() > 1e-2


def test_lstm_step_by_hand(rng):
    x, prev_h, prev_c = rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    Wx, Wh, b = _lstm_weights(rng)
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H]), _sigmoid(a[:, 2 * H : 3 * H])
    g = np.tanh(a[:, 3 * H :])
    next_c = f * prev_c + i * g
    next_h, got_c = ref.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    np.testing.assert_allclose(got_c, next_c, atol=1e-12)
    np.testing.assert_allclose(next_h, o * np.tanh(next_c), atol=1e-12)


def test_gru_step_by_hand():
    # One hidden unit, every number chosen: z = 0.25, r = 0.5, so
    # candidate = tanh(0.2 * 1 + 0.5 * (0.5 * 0.8) + 0.1) and h' = 0.75 h + 0.25 candidate.
    x, prev_h = np.array([[1.0]]), np.array([[0.8]])
    Wx = np.array([[0.0, 0.0, 0.2]])
    Wh = np.array([[0.0, 0.0, 0.5]])
    b = np.array([np.log(0.25 / 0.75), 0.0, 0.1])
    candidate = np.tanh(0.2 + 0.5 * 0.4 + 0.1)
    want = 0.75 * 0.8 + 0.25 * candidate
    np.testing.assert_allclose(ref.gru_step_forward(x, prev_h, Wx, Wh, b), [[want]], rtol=1e-12)


def test_gru_step_against_the_equations(rng):
    x, prev_h = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, 3 * H)), rng.normal(size=(H, 3 * H)), rng.normal(size=3 * H)
    blocks = [slice(k * H, (k + 1) * H) for k in range(3)]
    z = _sigmoid(x @ Wx[:, blocks[0]] + prev_h @ Wh[:, blocks[0]] + b[blocks[0]])
    r = _sigmoid(x @ Wx[:, blocks[1]] + prev_h @ Wh[:, blocks[1]] + b[blocks[1]])
    candidate = np.tanh(x @ Wx[:, blocks[2]] + (r * prev_h) @ Wh[:, blocks[2]] + b[blocks[2]])
    want = (1 - z) * prev_h + z * candidate
    np.testing.assert_allclose(ref.gru_step_forward(x, prev_h, Wx, Wh, b), want, atol=1e-12)
    # The sequence runs the same step T times from h0.
    xs = rng.normal(size=(N, 3, D))
    h = prev_h
    for t in range(3):
        h = ref.gru_step_forward(xs[:, t], h, Wx, Wh, b)
    np.testing.assert_allclose(ref.gru_forward(xs, prev_h, Wx, Wh, b)[:, -1], h, atol=1e-12)


def test_rnn_forward_against_the_equations(rng):
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, H)), rng.normal(size=(H, H)), rng.normal(size=H)
    h, states = h0, []
    for t in range(T):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    np.testing.assert_allclose(ref.rnn_forward(x, h0, Wx, Wh, b), np.stack(states, 1), atol=1e-12)


@pytest.mark.parametrize("cell,blocks", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_sequence_backward_matches_numerical_gradient(rng, cell, blocks):
    forward, backward = getattr(ref, f"{cell}_forward"), getattr(ref, f"{cell}_backward")
    inputs = {
        "x": rng.normal(size=(N, 3, D)),
        "h0": rng.normal(size=(N, H)),
        "Wx": rng.normal(size=(D, blocks * H)) * 0.5,
        "Wh": rng.normal(size=(H, blocks * H)) * 0.5,
        "b": rng.normal(size=blocks * H),
    }
    dh = rng.normal(size=(N, 3, H))
    grads = dict(zip(inputs, backward(dh, **inputs), strict=True))
    check_gradient(forward, inputs, grads, dout=dh)


def test_lstm_step_backward_matches_numerical_gradient(rng):
    Wx, Wh, b = _lstm_weights(rng)
    inputs = {
        "x": rng.normal(size=(N, D)),
        "prev_h": rng.normal(size=(N, H)),
        "prev_c": rng.normal(size=(N, H)),
        "Wx": Wx,
        "Wh": Wh,
        "b": b,
    }
    dnext_h, dnext_c = rng.normal(size=(2, N, H))
    grads = dict(zip(inputs, ref.lstm_step_backward(dnext_h, dnext_c, **inputs), strict=True))

    def weighted(**a):
        next_h, next_c = ref.lstm_step_forward(**a)
        return np.sum(next_h * dnext_h) + np.sum(next_c * dnext_c)

    check_gradient(weighted, inputs, grads)


def test_temporal_softmax_loss_against_numpy(rng):
    x, y = rng.normal(size=(3, 4, 6)), rng.integers(0, 6, size=(3, 4))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=bool)
    log_probs = x - np.log(np.exp(x).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, y[..., None], axis=2)[..., 0]
    loss, dx = ref.temporal_softmax_loss(x, y, mask)
    assert loss == pytest.approx(-(picked * mask).sum() / 3, rel=1e-12)
    want_dx = (np.exp(log_probs) - np.eye(6)[y]) * mask[..., None] / 3
    np.testing.assert_allclose(dx, want_dx, atol=1e-14)


def test_word_embedding_and_temporal_affine(rng):
    W = rng.normal(size=(5, 3))
    x = np.array([[4, 0, 4]])
    np.testing.assert_array_equal(ref.word_embedding_forward(x, W), W[x])
    dout = rng.normal(size=(1, 3, 3))
    dW = ref.word_embedding_backward(dout, x, W)
    np.testing.assert_allclose(dW[4], dout[0, 0] + dout[0, 2])
    xs, w, bias = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    np.testing.assert_allclose(ref.temporal_affine_forward(xs, w, bias), xs @ w + bias)


def test_captioning_loss_composes_the_layers(rng):
    vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "b": 4}
    params = {
        "W_embed": rng.normal(size=(5, 3)),
        "W_proj": rng.normal(size=(6, H)),
        "b_proj": rng.normal(size=H),
        "Wx": rng.normal(size=(3, 3 * H)),
        "Wh": rng.normal(size=(H, 3 * H)),
        "b": rng.normal(size=3 * H),
        "W_vocab": rng.normal(size=(H, 5)),
        "b_vocab": rng.normal(size=5),
    }
    features = rng.normal(size=(2, 6))
    captions = np.array([[1, 3, 4, 2, 0], [1, 4, 2, 0, 0]])
    loss, grads = ref.captioning_loss(params, features, captions, vocab, "gru")
    h0 = features @ params["W_proj"] + params["b_proj"]
    words = ref.word_embedding_forward(captions[:, :-1], params["W_embed"])
    h = ref.gru_forward(words, h0, params["Wx"], params["Wh"], params["b"])
    scores = ref.temporal_affine_forward(h, params["W_vocab"], params["b_vocab"])
    want, _ = ref.temporal_softmax_loss(scores, captions[:, 1:], captions[:, 1:] != 0)
    assert loss == pytest.approx(want, rel=1e-12)
    assert grads.keys() == params.keys()

    def loss_of(**p):
        return ref.captioning_loss(p, features, captions, vocab, "gru")[0]

    check_gradient(loss_of, params, grads, num_checks=6)


def test_tensors_in_tensors_out(rng):
    x = torch.tensor(rng.normal(size=(N, T, D)))
    h0 = torch.tensor(rng.normal(size=(N, H)))
    Wx, Wh, b = (torch.tensor(a) for a in _lstm_weights(rng))
    h = ref.lstm_forward(x, h0, Wx, Wh, b)
    assert isinstance(h, torch.Tensor) and h.shape == (N, T, H)
    grads = ref.lstm_backward(torch.ones_like(h), x, h0, Wx, Wh, b)
    assert all(isinstance(g, torch.Tensor) for g in grads)
    numpy_h = ref.lstm_forward(x.numpy(), h0.numpy(), Wx.numpy(), Wh.numpy(), b.numpy())
    assert isinstance(numpy_h, np.ndarray)
    np.testing.assert_allclose(numpy_h, h.numpy())


def test_bad_inputs_raise(rng):
    with pytest.raises(ValueError, match=r"Wx \(D, 4H\)"):
        ref.lstm_step_forward(
            np.zeros((N, D)), np.zeros((N, H)), np.zeros((N, H)),
            np.zeros((D, 3 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H),
        )  # fmt: skip
    with pytest.raises(ValueError, match="cell_type"):
        ref.captioning_loss({}, np.zeros((1, 2)), np.zeros((1, 3), int), {"<NULL>": 0}, "cnn")
