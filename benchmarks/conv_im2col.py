"""Time the numpy im2col conv layer against torch's conv2d on the CPU, forward + backward.

Not a test: run it by hand and read the table.

    .venv/bin/python benchmarks/conv_im2col.py [--repeats 20] [--threads 2]

For each shape, both implementations get the same float32 inputs and upstream gradient;
their outputs and gradients are compared before timing. The ratio is the best im2col
time over the best torch time (torch on the CPU, with autograd for the backward pass).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from timing import THREADS, compare, main, summary, use_threads

from cs231n_lib.layers.conv import conv_backward_im2col, conv_forward_im2col

BAR = 1.5  # issue 26: im2col forward + backward within 1.5x of torch's conv2d

# (N, C, H, W), (F, HH, WW), stride, pad: a CIFAR-sized first layer, a deeper 3x3 layer,
# and a strided one.
SHAPES = [
    ((50, 3, 32, 32), (32, 7, 7), 1, 3),
    ((50, 32, 16, 16), (64, 3, 3), 1, 1),
    ((50, 16, 31, 31), (32, 3, 3), 2, 1),
]


def run_numpy(x, w, b, conv_param, dout) -> tuple:
    """Forward and backward of the im2col layer: (out, dx, dw, db)."""
    out, cache = conv_forward_im2col(x, w, b, conv_param)
    return (out, *conv_backward_im2col(dout, cache))


def run_torch(x, w, b, conv_param, dout) -> tuple:
    """Forward and backward of torch's conv2d (autograd): (out, dx, dw, db) as numpy."""
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=conv_param["stride"], padding=conv_param["pad"])
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def measure(repeats: int = 20, threads: int = THREADS) -> dict:
    """Each shape of SHAPES, checked against torch, then timed (run.py's "conv" item)."""
    use_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    for x_shape, (num_filters, kh, kw), stride, pad in SHAPES:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = (0.1 * rng.standard_normal((num_filters, x_shape[1], kh, kw))).astype(np.float32)
        b = rng.standard_normal(num_filters).astype(np.float32)
        conv_param = {"stride": stride, "pad": pad}
        out, _ = conv_forward_im2col(x, w, b, conv_param)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        shape = f"x {x_shape}, w {(num_filters, x_shape[1], kh, kw)}, S {stride}, P {pad}"
        rows.append(
            compare(
                "conv (im2col)",
                shape,
                functools.partial(run_numpy, x, w, b, conv_param, dout),
                functools.partial(run_torch, x, w, b, conv_param, dout),
                repeats,
            )
        )
    return summary(rows, BAR, threads)


if __name__ == "__main__":
    main(measure, __doc__)
