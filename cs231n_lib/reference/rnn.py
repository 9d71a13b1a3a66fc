"""Recurrent layers and a captioning model in torch: the ground truth for the numpy layers of 08.

Each forward is written from the equations with torch operations (no nn modules, so
the course's conventions are explicit) and each backward is autograd's, never the
course's numpy code:

- RNN: h' = tanh(x Wx + h Wh + b); Wx (D, H), Wh (H, H), b (H,).
- LSTM: a = x Wx + h Wh + b split into blocks i, f, o, g of H columns (the course's
  order); c' = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g), h' = sigmoid(a_o) * tanh(c');
  initial cell state 0 in lstm_forward.
- GRU (the course notes): blocks z, r, candidate; z = sigmoid(x Wxz + h Whz + bz),
  r = sigmoid(x Wxr + h Whr + br), h~ = tanh(x Wxh + (r * h) Whh + bh),
  h' = (1 - z) * h + z * h~.

`lstm_via_nn` computes the same LSTM with torch's nn.LSTM, whose blocks are ordered
i, f, g, o: it shows that the equations above are the LSTM everyone uses.
Forward functions return outputs only; backward functions take the upstream
gradient(s) first, then the forward's inputs. numpy in, numpy out (see _tensors).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from cs231n_lib.reference._tensors import Array, Converter, numpy_io, require_shape, vjp

CELL_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}  # column blocks of H in Wx, Wh, b


def _check_weights(name: str, x, prev_h, Wx, Wh, b, blocks: int) -> None:
    require_shape("x", x, 2)
    require_shape("prev_h", prev_h, 2)
    width = blocks * prev_h.shape[1]
    if (
        prev_h.shape[0] != x.shape[0]
        or tuple(Wx.shape) != (x.shape[1], width)
        or tuple(Wh.shape) != (prev_h.shape[1], width)
        or tuple(b.shape) != (width,)
    ):
        raise ValueError(
            f"{name}: expected x (N, D), prev_h (N, H), Wx (D, {blocks}H), Wh (H, {blocks}H), "
            f"b ({blocks}H,); got x {tuple(x.shape)}, prev_h {tuple(prev_h.shape)}, "
            f"Wx {tuple(Wx.shape)}, Wh {tuple(Wh.shape)}, b {tuple(b.shape)}"
        )


def _rnn_step(x, prev_h, Wx, Wh, b):
    _check_weights("rnn step", x, prev_h, Wx, Wh, b, 1)
    return torch.tanh(x @ Wx + prev_h @ Wh + b)  # (N, H)


def _lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    _check_weights("lstm step", x, prev_h, Wx, Wh, b, 4)
    a_i, a_f, a_o, a_g = (x @ Wx + prev_h @ Wh + b).chunk(4, dim=1)  # 4 x (N, H)
    next_c = torch.sigmoid(a_f) * prev_c + torch.sigmoid(a_i) * torch.tanh(a_g)
    return torch.sigmoid(a_o) * torch.tanh(next_c), next_c


def _gru_step(x, prev_h, Wx, Wh, b):
    _check_weights("gru step", x, prev_h, Wx, Wh, b, 3)
    Wxz, Wxr, Wxh = Wx.chunk(3, dim=1)
    Whz, Whr, Whh = Wh.chunk(3, dim=1)
    bz, br, bh = b.chunk(3)
    z = torch.sigmoid(x @ Wxz + prev_h @ Whz + bz)
    r = torch.sigmoid(x @ Wxr + prev_h @ Whr + br)
    candidate = torch.tanh(x @ Wxh + (r * prev_h) @ Whh + bh)
    return (1 - z) * prev_h + z * candidate


def _sequence(cell: str, x, h0, Wx, Wh, b):
    """Every hidden state (N, T, H) of `cell` run over x (N, T, D) from h0 (and c0 = 0)."""
    require_shape("x", x, 3)
    if x.shape[1] == 0:
        raise ValueError(f"x {tuple(x.shape)} has no time steps (T = 0)")
    h, c, states = h0, torch.zeros_like(h0), []
    for t in range(x.shape[1]):
        if cell == "lstm":
            h, c = _lstm_step(x[:, t], h, c, Wx, Wh, b)
        else:
            h = (_rnn_step if cell == "rnn" else _gru_step)(x[:, t], h, Wx, Wh, b)
        states.append(h)
    return torch.stack(states, dim=1)


@numpy_io
def rnn_step_forward(x: Array, prev_h: Array, Wx: Array, Wh: Array, b: Array) -> Array:
    """next_h (N, H) = tanh(x Wx + prev_h Wh + b); x (N, D), prev_h (N, H)."""
    return _rnn_step(x, prev_h, Wx, Wh, b)


def rnn_step_backward(dnext_h: Array, x: Array, prev_h: Array, Wx: Array, Wh: Array, b: Array):
    """(dx, dprev_h, dWx, dWh, db) of one RNN step for the upstream gradient dnext_h (N, H)."""
    return vjp(_rnn_step, (x, prev_h, Wx, Wh, b), dnext_h)


@numpy_io
def rnn_forward(x: Array, h0: Array, Wx: Array, Wh: Array, b: Array) -> Array:
    """Hidden states h (N, T, H) of a tanh RNN over x (N, T, D) from h0 (N, H)."""
    return _sequence("rnn", x, h0, Wx, Wh, b)


def rnn_backward(dh: Array, x: Array, h0: Array, Wx: Array, Wh: Array, b: Array):
    """(dx, dh0, dWx, dWh, db) of rnn_forward for the upstream gradient dh (N, T, H)."""
    return vjp(functools.partial(_sequence, "rnn"), (x, h0, Wx, Wh, b), dh)


@numpy_io
def lstm_step_forward(x: Array, prev_h: Array, prev_c: Array, Wx: Array, Wh: Array, b: Array):
    """(next_h, next_c), both (N, H), of one LSTM step; blocks i, f, o, g."""
    return _lstm_step(x, prev_h, prev_c, Wx, Wh, b)


def lstm_step_backward(
    dnext_h: Array,
    dnext_c: Array,
    x: Array,
    prev_h: Array,
    prev_c: Array,
    Wx: Array,
    Wh: Array,
    b: Array,
):
    """(dx, dprev_h, dprev_c, dWx, dWh, db) of one LSTM step for dnext_h, dnext_c (N, H)."""
    io = Converter([dnext_h, dnext_c, x, prev_h, prev_c, Wx, Wh, b])
    dnext_h, dnext_c = io.tensor(dnext_h), io.tensor(dnext_c)

    def weighted(*inputs):  # sum(next_h * dnext_h + next_c * dnext_c): a scalar for vjp
        next_h, next_c = _lstm_step(*inputs)
        return (next_h * dnext_h).sum() + (next_c * dnext_c).sum()

    inputs = [io.tensor(v) for v in (x, prev_h, prev_c, Wx, Wh, b)]
    return io.result(vjp(weighted, inputs))


@numpy_io
def lstm_forward(x: Array, h0: Array, Wx: Array, Wh: Array, b: Array) -> Array:
    """Hidden states h (N, T, H) of an LSTM over x (N, T, D) from h0 (N, H) and c0 = 0."""
    return _sequence("lstm", x, h0, Wx, Wh, b)


def lstm_backward(dh: Array, x: Array, h0: Array, Wx: Array, Wh: Array, b: Array):
    """(dx, dh0, dWx, dWh, db) of lstm_forward for the upstream gradient dh (N, T, H)."""
    return vjp(functools.partial(_sequence, "lstm"), (x, h0, Wx, Wh, b), dh)


@numpy_io
def gru_step_forward(x: Array, prev_h: Array, Wx: Array, Wh: Array, b: Array) -> Array:
    """next_h (N, H) of one GRU step (course notes); blocks z, r, candidate."""
    return _gru_step(x, prev_h, Wx, Wh, b)


def gru_step_backward(dnext_h: Array, x: Array, prev_h: Array, Wx: Array, Wh: Array, b: Array):
    """(dx, dprev_h, dWx, dWh, db) of one GRU step for the upstream gradient dnext_h (N, H)."""
    return vjp(_gru_step, (x, prev_h, Wx, Wh, b), dnext_h)


@numpy_io
def gru_forward(x: Array, h0: Array, Wx: Array, Wh: Array, b: Array) -> Array:
    """Hidden states h (N, T, H) of a GRU over x (N, T, D) from h0 (N, H)."""
    return _sequence("gru", x, h0, Wx, Wh, b)


def gru_backward(dh: Array, x: Array, h0: Array, Wx: Array, Wh: Array, b: Array):
    """(dx, dh0, dWx, dWh, db) of gru_forward for the upstream gradient dh (N, T, H)."""
    return vjp(functools.partial(_sequence, "gru"), (x, h0, Wx, Wh, b), dh)


@numpy_io
def lstm_via_nn(x: Array, h0: Array, Wx: Array, Wh: Array, b: Array) -> Array:
    """lstm_forward computed by torch's nn.LSTM (batch_first) with the course's weights.

    nn.LSTM keeps weight_ih (4H, D) and weight_hh (4H, H) with row blocks i, f, g, o, so
    the course's column blocks i, f, o, g are transposed and their last two swapped; b
    becomes bias_ih and bias_hh is 0. Returns h (N, T, H).
    """
    require_shape("x", x, 3)
    hidden = h0.shape[1]
    _check_weights("lstm_via_nn", x[:, 0], h0, Wx, Wh, b, 4)

    def torch_order(w: torch.Tensor) -> torch.Tensor:  # (..., 4H) i f o g -> (4H, ...) i f g o
        i, f, o, g = w.chunk(4, dim=-1)
        return torch.cat([i, f, g, o], dim=-1).movedim(-1, 0)

    lstm = torch.nn.LSTM(x.shape[2], hidden, batch_first=True).to(x.device, x.dtype)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch_order(Wx))
        lstm.weight_hh_l0.copy_(torch_order(Wh))
        lstm.bias_ih_l0.copy_(torch_order(b))
        lstm.bias_hh_l0.zero_()
        h, _ = lstm(x, (h0[None], torch.zeros_like(h0)[None]))  # states (1, N, H)
    return h


def _word_embedding(W, x):
    require_shape("x", x, 2)
    require_shape("W", W, 2)
    if x.dtype != torch.int64:
        raise TypeError(f"x must hold integer word indices, got dtype {x.dtype}")
    return F.embedding(x, W)  # (N, T, D)


@numpy_io
def word_embedding_forward(x: Array, W: Array) -> Array:
    """out (N, T, D) with out[n, t] = W[x[n, t]]; x integers (N, T), W (V, D)."""
    return _word_embedding(W, x)


def word_embedding_backward(dout: Array, x: Array, W: Array) -> Array:
    """dW (V, D) of the embedding for the upstream gradient dout (N, T, D)."""
    io = Converter([dout, x, W])
    return vjp(_word_embedding, (W,), dout, x=io.tensor(x))[0]


def _temporal_affine(x, w, b):
    require_shape("x", x, 3)
    if w.ndim != 2 or x.shape[2] != w.shape[0] or tuple(b.shape) != (w.shape[1],):
        raise ValueError(
            f"expected x (N, T, D), w (D, M), b (M,); got x {tuple(x.shape)}, "
            f"w {tuple(w.shape)}, b {tuple(b.shape)}"
        )
    return x @ w + b  # (N, T, M)


@numpy_io
def temporal_affine_forward(x: Array, w: Array, b: Array) -> Array:
    """out (N, T, M) = x w + b at every time step; x (N, T, D), w (D, M), b (M,)."""
    return _temporal_affine(x, w, b)


def temporal_affine_backward(dout: Array, x: Array, w: Array, b: Array) -> tuple:
    """(dx, dw, db) of the temporal affine layer for the upstream gradient dout (N, T, M)."""
    return vjp(_temporal_affine, (x, w, b), dout)


def _temporal_softmax(x, y, mask):
    require_shape("x", x, 3)
    if tuple(y.shape) != tuple(x.shape[:2]) or tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"expected x (N, T, V), y (N, T), mask (N, T); got {tuple(x.shape)}, "
            f"{tuple(y.shape)}, {tuple(mask.shape)}"
        )
    mask = mask.bool()
    targets = torch.where(mask, y, torch.zeros_like(y))  # masked steps may hold anything
    per_step = F.cross_entropy(x.flatten(0, 1), targets.flatten(), reduction="none")
    return (per_step * mask.flatten()).sum() / x.shape[0]


def temporal_softmax_loss(x: Array, y: Array, mask: Array) -> tuple:
    """Cross-entropy summed over the steps where mask is True, divided by N; and dx.

    Inputs: scores x (N, T, V), integer targets y (N, T), bool mask (N, T).
    Returns (loss, dx) with dx of shape (N, T, V).
    """
    io = Converter([x, y, mask])
    x, y, mask = io.tensor(x), io.tensor(y), io.tensor(mask)
    loss = _temporal_softmax(x.detach(), y, mask)
    return io.result((loss, vjp(_temporal_softmax, (x,), None, y=y, mask=mask)[0]))


CAPTION_PARAMS = ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab")


def _captioning(params: Mapping, features, captions, null: int, cell: str):
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]  # (N, T) each
    h0 = features @ params["W_proj"] + params["b_proj"]  # (N, H)
    words = F.embedding(captions_in, params["W_embed"])  # (N, T, W)
    h = _sequence(cell, words, h0, params["Wx"], params["Wh"], params["b"])  # (N, T, H)
    scores = h @ params["W_vocab"] + params["b_vocab"]  # (N, T, V)
    return _temporal_softmax(scores, captions_out, captions_out != null)


def captioning_loss(
    params: Mapping[str, Array],
    features: Array,
    captions: Array,
    word_to_idx: Mapping[str, int],
    cell_type: str = "rnn",
) -> tuple:
    """Loss and gradients of the course's CaptioningRNN, by torch and autograd.

    h0 = features W_proj + b_proj; the words captions[:, :-1] are embedded by W_embed and
    run through the cell; the scores h W_vocab + b_vocab are scored against
    captions[:, 1:] where those are not <NULL>, summed and divided by N.

    Inputs:
    - params: W_embed (V, W), W_proj (D, H), b_proj (H,), Wx (W, kH), Wh (H, kH), b (kH,),
      W_vocab (H, V), b_vocab (V,), k = 1, 4, 3 for "rnn", "lstm", "gru".
    - features: image features, shape (N, D).
    - captions: integer word indices, shape (N, T + 1), starting with <START>.
    - word_to_idx: the vocabulary, with "<NULL>".
    - cell_type: "rnn", "lstm" or "gru".
    Returns (loss, grads): a float and grads[name] of the shape and dtype of params[name].
    """
    if cell_type not in CELL_BLOCKS:
        raise ValueError(f"unknown cell_type {cell_type!r}; choose one of {list(CELL_BLOCKS)}")
    missing = [name for name in CAPTION_PARAMS if name not in params]
    if missing:
        raise ValueError(f"params lacks {missing}; it needs {list(CAPTION_PARAMS)}")
    io = Converter([*(params[name] for name in CAPTION_PARAMS), features, captions])
    tensors = {name: io.tensor(params[name]) for name in CAPTION_PARAMS}
    features, captions = io.tensor(features), io.tensor(captions)
    require_shape("captions", captions, 2)
    dtype = functools.reduce(
        torch.promote_types, [t.dtype for t in tensors.values()], features.dtype
    )
    leaves = {n: t.detach().to(dtype).clone().requires_grad_(True) for n, t in tensors.items()}
    null = int(word_to_idx["<NULL>"])
    with torch.enable_grad():
        loss = _captioning(leaves, features.to(dtype), captions, null, cell_type)
        grads = torch.autograd.grad(loss, list(leaves.values()))
    grads = {n: g.to(tensors[n].dtype) for n, g in zip(leaves, grads, strict=True)}
    return io.result(loss.detach()), {n: io.result(g) for n, g in grads.items()}
