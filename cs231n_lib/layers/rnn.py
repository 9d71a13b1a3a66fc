"""Recurrent layers in numpy: vanilla RNN, LSTM and GRU cells, and the layers of a captioner.

Shapes use one alphabet: N sequences in a minibatch, T time steps, D input features,
H hidden units, V words in the vocabulary, M outputs of a temporal affine layer.

- RNN: h' = tanh(x Wx + h Wh + b), with Wx (D, H), Wh (H, H), b (H,).
- LSTM: a = x Wx + h Wh + b; i, f, o = sigmoid(a_i, a_f, a_o); g = tanh(a_g);
  c' = f * c + i * g; h' = o * tanh(c'), with Wx (D, 4H), Wh (H, 4H), b (4H,).
- GRU: z = sigmoid(x Wxz + h Whz + bz); r = sigmoid(x Wxr + h Whr + br);
  h~ = tanh(x Wxh + (r * h) Whh + bh); h' = (1 - z) * h + z * h~, with Wx (D, 3H),
  Wh (H, 3H), b (3H,).

The LSTM's columns are four blocks of H in the order i, f, o, g (input, forget, output
gates, then the candidate g), as in the public course. The GRU's are three blocks of H in
the order z, r, candidate (update gate, reset gate, then the candidate's weights), with the
course notes' equations: r multiplies h before Whh, and z weighs the NEW candidate.
NOTE: torch's nn.LSTM orders its blocks i, f, g, o, and torch's nn.GRU applies r after
Whh (r * (h Whh + bhh)) and keeps the old state with z: h' = z * h + (1 - z) * h~.

Step layers: forward(x, prev_h, ...) -> (next_h, cache), backward(dnext_h, cache).
Sequence layers run a step over x (N, T, D) from h0 (N, H) (the LSTM's cell starts at 0)
and return every hidden state h (N, T, H); their backward takes the upstream gradient dh
(N, T, H) of every hidden state and adds to it, at each step, the gradient that flows back
from the step after. 08_rnn has the student write these; 09 reuses the embedding, the
temporal affine layer and the temporal softmax loss.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cs231n_lib.layers.activations import sigmoid_forward
from cs231n_lib.layers.core import Cache


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow (sigmoid_forward's stable form)."""
    return sigmoid_forward(x)[0]


def _check_step(
    name: str,
    x: np.ndarray,
    prev_h: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    blocks: int,
) -> None:
    """ValueError unless x (N, D), prev_h (N, H), Wx (D, k H), Wh (H, k H), b (k H,), k = blocks."""
    ok = x.ndim == 2 and prev_h.ndim == 2 and Wx.ndim == 2 and Wh.ndim == 2 and b.ndim == 1
    if ok:
        (num, dim), hidden = x.shape, prev_h.shape[1]
        width = blocks * hidden
        ok = (
            prev_h.shape[0] == num
            and Wx.shape == (dim, width)
            and Wh.shape == (hidden, width)
            and b.shape == (width,)
        )
    if not ok:
        k = f"{blocks}H" if blocks > 1 else "H"
        raise ValueError(
            f"{name}: expected x (N, D), prev_h (N, H), Wx (D, {k}), Wh (H, {k}), b ({k},); "
            f"got x {x.shape}, prev_h {prev_h.shape}, Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape}"
        )


def _check_sequence(name: str, x: np.ndarray, h0: np.ndarray) -> None:
    if x.ndim != 3 or h0.ndim != 2 or h0.shape[0] != x.shape[0]:
        raise ValueError(f"{name}: expected x (N, T, D) and h0 (N, H), got {x.shape}, {h0.shape}")


def _arrays(*values) -> list[np.ndarray]:
    return [np.asarray(v) for v in values]


# --- vanilla RNN ---------------------------------------------------------------------------


def rnn_step_forward(
    x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, Cache]:
    """One step of a tanh RNN: next_h = tanh(x Wx + prev_h Wh + b).

    Inputs:
    - x: inputs of this step, shape (N, D).
    - prev_h: hidden state of the previous step, shape (N, H).
    - Wx: input-to-hidden weights, shape (D, H).
    - Wh: hidden-to-hidden weights, shape (H, H).
    - b: biases, shape (H,).
    Returns (next_h, cache): next_h of shape (N, H).
    """
    x, prev_h, Wx, Wh, b = _arrays(x, prev_h, Wx, Wh, b)
    _check_step("rnn_step_forward", x, prev_h, Wx, Wh, b, blocks=1)
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)  # (N, H)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """Backward pass of `rnn_step_forward`.

    Inputs:
    - dnext_h: upstream gradient of next_h, shape (N, H).
    - cache: from rnn_step_forward.
    Returns (dx, dprev_h, dWx, dWh, db) of shapes (N, D), (N, H), (D, H), (H, H), (H,).
    """
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1.0 - next_h * next_h)  # (N, H): tanh' from the OUTPUT, 1 - tanh^2
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def _unroll(step: Callable, name: str, x, h0, Wx, Wh, b) -> tuple[np.ndarray, Cache]:
    """Run `step(x_t, h, Wx, Wh, b) -> (h, cache)` over the T steps of x (N, T, D)."""
    x, h0 = _arrays(x, h0)
    _check_sequence(name, x, h0)
    h, prev_h, caches = [], h0, []
    for t in range(x.shape[1]):
        prev_h, cache = step(x[:, t], prev_h, Wx, Wh, b)
        h.append(prev_h)
        caches.append(cache)
    if not h:
        raise ValueError(f"{name}: x {x.shape} has no time steps (T = 0)")
    return np.stack(h, axis=1), (caches, x.shape)  # (N, T, H)


def _unroll_backward(step_backward: Callable, dh: np.ndarray, cache: Cache) -> tuple:
    """Backpropagation through time for a cell with one state; returns (dx, dh0, dWx, dWh, db)."""
    caches, x_shape = cache
    dh = np.asarray(dh)
    if dh.ndim != 3 or dh.shape[:2] != x_shape[:2]:
        raise ValueError(f"dh must be (N, T, H) with (N, T) = {x_shape[:2]}, got {dh.shape}")
    dx = np.zeros(x_shape, dtype=np.result_type(dh, caches[0][0]))
    dprev_h = np.zeros_like(dh[:, 0])
    dWx = dWh = db = 0.0
    for t in reversed(range(x_shape[1])):
        # the state h_t feeds the loss (dh[:, t]) and the next step (dprev_h): add both
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = step_backward(dh[:, t] + dprev_h, caches[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, Cache]:
    """A tanh RNN over a whole sequence, one `rnn_step_forward` per time step.

    Inputs:
    - x: input sequences, shape (N, T, D).
    - h0: initial hidden state, shape (N, H).
    - Wx (D, H), Wh (H, H), b (H,): as in rnn_step_forward, shared by all steps.
    Returns (h, cache): h of shape (N, T, H), h[:, t] the hidden state after step t.
    """
    return _unroll(rnn_step_forward, "rnn_forward", x, h0, Wx, Wh, b)


def rnn_backward(dh: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """Backward pass of `rnn_forward` (backpropagation through time).

    Inputs:
    - dh: upstream gradient of every hidden state, shape (N, T, H) (not counting the
      gradient that flows from step t + 1 back into h[:, t], which this function adds).
    - cache: from rnn_forward.
    Returns (dx, dh0, dWx, dWh, db) of shapes (N, T, D), (N, H), (D, H), (H, H), (H,).
    """
    return _unroll_backward(rnn_step_backward, dh, cache)


# --- LSTM ----------------------------------------------------------------------------------


def lstm_step_forward(
    x: np.ndarray,
    prev_h: np.ndarray,
    prev_c: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, Cache]:
    """One LSTM step; the columns of Wx, Wh, b are the blocks i, f, o, g of H each.

    Inputs:
    - x: inputs, shape (N, D).
    - prev_h, prev_c: previous hidden and cell states, shape (N, H) each.
    - Wx: shape (D, 4H); Wh: shape (H, 4H); b: shape (4H,).
    Returns (next_h, next_c, cache), both states of shape (N, H).
    """
    x, prev_h, prev_c, Wx, Wh, b = _arrays(x, prev_h, prev_c, Wx, Wh, b)
    _check_step("lstm_step_forward", x, prev_h, Wx, Wh, b, blocks=4)
    if prev_c.shape != prev_h.shape:
        raise ValueError(f"prev_c must have the shape of prev_h {prev_h.shape}, got {prev_c.shape}")
    hidden = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H)
    gates = _sigmoid(a[:, : 3 * hidden])  # (N, 3H): i, f, o
    i, f, o = gates[:, :hidden], gates[:, hidden : 2 * hidden], gates[:, 2 * hidden :]
    g = np.tanh(a[:, 3 * hidden :])  # (N, H)
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_backward(
    dnext_h: np.ndarray, dnext_c: np.ndarray, cache: Cache
) -> tuple[np.ndarray, ...]:
    """Backward pass of `lstm_step_forward`.

    Inputs:
    - dnext_h, dnext_c: upstream gradients of next_h and next_c, shape (N, H) each.
    - cache: from lstm_step_forward.
    Returns (dx, dprev_h, dprev_c, dWx, dWh, db) of shapes (N, D), (N, H), (N, H), (D, 4H),
    (H, 4H), (4H,).
    """
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1.0 - tanh_c * tanh_c)  # next_c reaches the loss both ways
    da = np.concatenate(  # (N, 4H), blocks i, f, o, g
        [
            dc * g * i * (1.0 - i),
            dc * prev_c * f * (1.0 - f),
            dnext_h * tanh_c * o * (1.0 - o),
            dc * i * (1.0 - g * g),
        ],
        axis=1,
    )
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, Cache]:
    """An LSTM over a whole sequence from the hidden state h0 and a zero cell state.

    Inputs:
    - x: input sequences, shape (N, T, D).
    - h0: initial hidden state, shape (N, H); the initial cell state is 0.
    - Wx (D, 4H), Wh (H, 4H), b (4H,): as in lstm_step_forward.
    Returns (h, cache): h of shape (N, T, H). The cell states are not returned.
    """
    x, h0 = _arrays(x, h0)
    _check_sequence("lstm_forward", x, h0)
    if x.shape[1] == 0:
        raise ValueError(f"lstm_forward: x {x.shape} has no time steps (T = 0)")
    prev_h, prev_c = h0, np.zeros_like(h0)
    h, caches = [], []
    for t in range(x.shape[1]):
        prev_h, prev_c, cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h.append(prev_h)
        caches.append(cache)
    return np.stack(h, axis=1), (caches, x.shape)  # (N, T, H)


def lstm_backward(dh: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """Backward pass of `lstm_forward`: dh (N, T, H) as in rnn_backward.

    Returns (dx, dh0, dWx, dWh, db) of shapes (N, T, D), (N, H), (D, 4H), (H, 4H), (4H,).
    """
    caches, x_shape = cache
    dh = np.asarray(dh)
    if dh.ndim != 3 or dh.shape[:2] != x_shape[:2]:
        raise ValueError(f"dh must be (N, T, H) with (N, T) = {x_shape[:2]}, got {dh.shape}")
    dx = np.zeros(x_shape, dtype=np.result_type(dh, caches[0][0]))
    dprev_h = np.zeros_like(dh[:, 0])
    dprev_c = np.zeros_like(dprev_h)  # the last cell state reaches the loss only through h
    dWx = dWh = db = 0.0
    for t in reversed(range(x_shape[1])):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, caches[t]
        )
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


# --- GRU -----------------------------------------------------------------------------------


def gru_step_forward(
    x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, Cache]:
    """One GRU step (the course notes' equations); columns are the blocks z, r, candidate.

    z = sigmoid(x Wxz + prev_h Whz + bz), r = sigmoid(x Wxr + prev_h Whr + br),
    candidate = tanh(x Wxh + (r * prev_h) Whh + bh), next_h = (1 - z) * prev_h + z * candidate.

    Inputs:
    - x: inputs, shape (N, D).
    - prev_h: previous hidden state, shape (N, H).
    - Wx: shape (D, 3H); Wh: shape (H, 3H); b: shape (3H,).
    Returns (next_h, cache): next_h of shape (N, H).
    """
    x, prev_h, Wx, Wh, b = _arrays(x, prev_h, Wx, Wh, b)
    _check_step("gru_step_forward", x, prev_h, Wx, Wh, b, blocks=3)
    hidden = prev_h.shape[1]
    ax = x @ Wx + b  # (N, 3H)
    gates = _sigmoid(ax[:, : 2 * hidden] + prev_h @ Wh[:, : 2 * hidden])  # (N, 2H): z, r
    z, r = gates[:, :hidden], gates[:, hidden:]
    reset_h = r * prev_h  # (N, H)
    candidate = np.tanh(ax[:, 2 * hidden :] + reset_h @ Wh[:, 2 * hidden :])  # (N, H)
    next_h = (1.0 - z) * prev_h + z * candidate
    return next_h, (x, prev_h, Wx, Wh, z, r, reset_h, candidate)


def gru_step_backward(dnext_h: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """Backward pass of `gru_step_forward`.

    Inputs:
    - dnext_h: upstream gradient of next_h, shape (N, H).
    - cache: from gru_step_forward.
    Returns (dx, dprev_h, dWx, dWh, db) of shapes (N, D), (N, H), (D, 3H), (H, 3H), (3H,).
    """
    x, prev_h, Wx, Wh, z, r, reset_h, candidate = cache
    hidden = prev_h.shape[1]
    Whz_r, Whh = Wh[:, : 2 * hidden], Wh[:, 2 * hidden :]
    da_h = dnext_h * z * (1.0 - candidate * candidate)  # (N, H): candidate's pre-activation
    dreset_h = da_h @ Whh.T  # (N, H)
    da_zr = np.concatenate(  # (N, 2H): pre-activations of z and r
        [dnext_h * (candidate - prev_h) * z * (1.0 - z), dreset_h * prev_h * r * (1.0 - r)],
        axis=1,
    )
    da = np.concatenate([da_zr, da_h], axis=1)  # (N, 3H)
    # prev_h reaches next_h directly, through r * prev_h, and through both gates
    dprev_h = dnext_h * (1.0 - z) + dreset_h * r + da_zr @ Whz_r.T
    dWh = np.concatenate([prev_h.T @ da_zr, reset_h.T @ da_h], axis=1)  # (H, 3H)
    return da @ Wx.T, dprev_h, x.T @ da, dWh, da.sum(axis=0)


def gru_forward(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, Cache]:
    """A GRU over a whole sequence, one `gru_step_forward` per time step.

    Inputs: x (N, T, D), h0 (N, H), Wx (D, 3H), Wh (H, 3H), b (3H,).
    Returns (h, cache): h of shape (N, T, H).
    """
    return _unroll(gru_step_forward, "gru_forward", x, h0, Wx, Wh, b)


def gru_backward(dh: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """Backward pass of `gru_forward`: dh (N, T, H) as in rnn_backward.

    Returns (dx, dh0, dWx, dWh, db) of shapes (N, T, D), (N, H), (D, 3H), (H, 3H), (3H,).
    """
    return _unroll_backward(gru_step_backward, dh, cache)


# --- the layers around a recurrent cell in a captioner ---------------------------------------


def word_embedding_forward(x: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Word vectors of word indices: out[n, t] = W[x[n, t]].

    Inputs:
    - x: integer word indices, shape (N, T), each in 0..V-1.
    - W: one word vector per row, shape (V, D).
    Returns (out, cache): out of shape (N, T, D).
    """
    x, W = _arrays(x, W)
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"x must hold integer word indices, got dtype {x.dtype}")
    if x.ndim != 2 or W.ndim != 2:
        raise ValueError(f"expected x (N, T) and W (V, D), got {x.shape} and {W.shape}")
    if x.size and (x.min() < 0 or x.max() >= W.shape[0]):
        raise ValueError(
            f"word indices must lie in 0..{W.shape[0] - 1} for V = {W.shape[0]}, "
            f"got {x.min()}..{x.max()}"
        )
    return W[x], (x, W.shape)


def word_embedding_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of `word_embedding_forward`: the rows of dout added onto their words.

    Inputs:
    - dout: upstream gradient, shape (N, T, D).
    - cache: from word_embedding_forward.
    Returns dW of shape (V, D); a word used k times gets the sum of its k rows.
    """
    x, w_shape = cache
    dW = np.zeros(w_shape, dtype=np.asarray(dout).dtype)
    # NOTE: dW[x] += dout would add only once per repeated index; add.at adds every one.
    np.add.at(dW, x, dout)
    return dW


def temporal_affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, Cache]:
    """The same affine layer at every time step: out[n, t] = x[n, t] w + b.

    Inputs:
    - x: shape (N, T, D); w: shape (D, M); b: shape (M,).
    Returns (out, cache): out of shape (N, T, M).
    """
    x, w, b = _arrays(x, w, b)
    if x.ndim != 3 or w.ndim != 2 or x.shape[2] != w.shape[0] or b.shape != (w.shape[1],):
        raise ValueError(
            f"expected x (N, T, D), w (D, M), b (M,); got x {x.shape}, w {w.shape}, b {b.shape}"
        )
    return x @ w + b, (x, w)  # (N, T, M)


def temporal_affine_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, ...]:
    """Backward pass of `temporal_affine_forward`.

    Inputs:
    - dout: upstream gradient, shape (N, T, M).
    - cache: from temporal_affine_forward.
    Returns (dx, dw, db) of shapes (N, T, D), (D, M), (M,).
    """
    x, w = cache
    num, steps, dim = x.shape
    rows = dout.reshape(num * steps, -1)  # (N T, M)
    dw = x.reshape(num * steps, dim).T @ rows  # (D, M)
    return dout @ w.T, dw, rows.sum(axis=0)


def temporal_softmax_loss(
    x: np.ndarray, y: np.ndarray, mask: np.ndarray
) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy at every unmasked time step, summed, divided by N.

    loss = 1/N sum_{n, t: mask[n, t]} -log softmax(x[n, t])[y[n, t]]. Dividing by the
    number of sequences N (not by the number of scored words) is the public course's
    convention: a longer caption weighs more.

    Inputs:
    - x: scores, shape (N, T, V).
    - y: target word indices, shape (N, T), each in 0..V-1.
    - mask: bool (N, T); False where a step is not scored (the <NULL> padding).
    Returns (loss, dx): a float and the gradient of the scores, shape (N, T, V).
    """
    x, y, mask = _arrays(x, y, mask)
    if x.ndim != 3 or y.shape != x.shape[:2] or mask.shape != x.shape[:2]:
        raise ValueError(
            f"expected x (N, T, V), y (N, T), mask (N, T); got {x.shape}, {y.shape}, {mask.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer word indices, got dtype {y.dtype}")
    num, steps, vocab = x.shape
    if num == 0:
        raise ValueError("temporal_softmax_loss got no sequences (N = 0)")
    scored = mask.astype(bool).reshape(-1)  # (N T,)
    targets = y.reshape(-1)
    if scored.any() and (targets[scored].min() < 0 or targets[scored].max() >= vocab):
        raise ValueError(
            f"targets must lie in 0..{vocab - 1}, got {targets[scored].min()}.."
            f"{targets[scored].max()}"
        )
    targets = np.where(scored, targets, 0)  # masked steps may hold anything
    scores = x.reshape(num * steps, vocab)
    shifted = scores - scores.max(axis=1, keepdims=True)  # (N T, V), entries <= 0
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(num * steps)
    loss = -(log_probs[rows, targets] * scored).sum() / num
    dx = np.exp(log_probs)
    dx[rows, targets] -= 1.0
    dx *= scored[:, None] / num
    return float(loss), dx.reshape(x.shape)
