"""The numpy layers of 08-11 against their torch twins on the CPU, forward + backward.

    .venv/bin/python benchmarks/layers_numpy_torch.py [--repeats 5] [--threads 2]

RNN and LSTM over a whole sequence (nn.RNN / nn.LSTM with the same weights: the LSTM's
gate blocks reordered from the course's i, f, o, g to torch's i, f, g, o), scaled
dot-product attention (F.scaled_dot_product_attention) and the transposed convolution
(F.conv_transpose2d). Both sides get the same float32 inputs and upstream gradient; the
outputs and every gradient are compared before timing. The ratio is numpy over torch.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from timing import THREADS, compare, main, summary, use_threads
from torch import nn

from cs231n_lib.layers.attention import attention_backward, attention_forward
from cs231n_lib.layers.rnn import lstm_backward, lstm_forward, rnn_backward, rnn_forward
from cs231n_lib.layers.segmentation import conv_transpose_backward, conv_transpose_forward

RNN_SHAPE = (50, 16, 64, 128)  # N, T, D, H: 08's captioning scale
ATTENTION_SHAPE = (32, 64, 64)  # N, S = T, d: 09's ViT on 8x8 patches
CONV_TRANSPOSE_SHAPE = ((50, 32, 16, 16), (32, 16, 4, 4), 2, 1)  # x, w, stride, pad: 11's 2x


def _numpy_rnn(forward, backward, x, h0, Wx, Wh, b, dh):
    h, cache = forward(x, h0, Wx, Wh, b)
    return (h, *backward(dh, cache))


def _lstm_order(H: int) -> np.ndarray:
    """Column order that takes the course's gate blocks (i, f, o, g) to torch's (i, f, g, o)."""
    blocks = [np.arange(k * H, (k + 1) * H) for k in range(4)]
    return np.concatenate([blocks[0], blocks[1], blocks[3], blocks[2]])


def _torch_rnn(kind, x, h0, Wx, Wh, b, dh):
    N, T, D = x.shape
    H = h0.shape[1]
    order = _lstm_order(H) if kind == "lstm" else np.arange(H)
    module = (nn.LSTM if kind == "lstm" else nn.RNN)(D, H, batch_first=True)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(Wx[:, order].T))
        module.weight_hh_l0.copy_(torch.from_numpy(Wh[:, order].T))
        module.bias_ih_l0.copy_(torch.from_numpy(b[order]))
        module.bias_hh_l0.zero_()
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    state = (h0t, torch.zeros_like(h0t)) if kind == "lstm" else h0t
    h, _ = module(xt, state)
    h.backward(torch.from_numpy(dh))
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    dWx = module.weight_ih_l0.grad.numpy().T[:, back]
    dWh = module.weight_hh_l0.grad.numpy().T[:, back]
    db = module.bias_ih_l0.grad.numpy()[back]
    return h.detach().numpy(), xt.grad.numpy(), h0t.grad.numpy()[0], dWx, dWh, db


def _rnn_rows(rng, repeats: int) -> list[dict]:
    N, T, D, H = RNN_SHAPE
    rows = []
    for kind, width, forward, backward in [
        ("rnn", H, rnn_forward, rnn_backward),
        ("lstm", 4 * H, lstm_forward, lstm_backward),
    ]:
        x = rng.standard_normal((N, T, D)).astype(np.float32)
        h0 = rng.standard_normal((N, H)).astype(np.float32)
        Wx = (rng.standard_normal((D, width)) / np.sqrt(D)).astype(np.float32)
        Wh = (rng.standard_normal((H, width)) / np.sqrt(H)).astype(np.float32)
        b = (0.1 * rng.standard_normal(width)).astype(np.float32)
        dh = rng.standard_normal((N, T, H)).astype(np.float32)
        args = (x, h0, Wx, Wh, b, dh)
        rows.append(
            compare(
                f"{kind}_forward/backward",
                f"N {N}, T {T}, D {D}, H {H}",
                functools.partial(_numpy_rnn, forward, backward, *args),
                functools.partial(_torch_rnn, kind, *args),
                repeats,
            )
        )
    return rows


def _numpy_attention(q, k, v, dout):
    out, cache = attention_forward(q, k, v)
    return (out, *attention_backward(dout, cache))


def _torch_attention(q, k, v, dout):
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(qt, kt, vt)
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), qt.grad.numpy(), kt.grad.numpy(), vt.grad.numpy()


def _numpy_conv_transpose(x, w, b, conv_param, dout):
    out, cache = conv_transpose_forward(x, w, b, conv_param)
    return (out, *conv_transpose_backward(dout, cache))


def _torch_conv_transpose(x, w, b, conv_param, dout):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv_transpose2d(xt, wt, bt, stride=conv_param["stride"], padding=conv_param["pad"])
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def measure(repeats: int = 20, threads: int = THREADS) -> dict:
    """Every layer, checked against torch, then timed (run.py's "layers" item)."""
    use_threads(threads)
    rng = np.random.default_rng(0)
    rows = _rnn_rows(rng, repeats)

    N, S, d = ATTENTION_SHAPE
    q, k, v, dout = (rng.standard_normal((N, S, d)).astype(np.float32) for _ in range(4))
    rows.append(
        compare(
            "attention_forward/backward",
            f"N {N}, S = T {S}, d {d}",
            functools.partial(_numpy_attention, q, k, v, dout),
            functools.partial(_torch_attention, q, k, v, dout),
            repeats,
        )
    )

    x_shape, w_shape, stride, pad = CONV_TRANSPOSE_SHAPE
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (0.1 * rng.standard_normal(w_shape)).astype(np.float32)
    b = rng.standard_normal(w_shape[1]).astype(np.float32)
    conv_param = {"stride": stride, "pad": pad}
    out, _ = conv_transpose_forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    rows.append(
        compare(
            "conv_transpose",
            f"x {x_shape}, w {w_shape}, S {stride}, P {pad}",
            functools.partial(_numpy_conv_transpose, x, w, b, conv_param, dout),
            functools.partial(_torch_conv_transpose, x, w, b, conv_param, dout),
            repeats,
        )
    )
    return summary(rows, None, threads)


if __name__ == "__main__":
    main(measure, __doc__)
