"""Time the numpy im2col conv layer against torch's conv2d on the CPU, forward + backward.

Not a test: run it by hand and read the table.

    .venv/bin/python benchmarks/conv_im2col.py [--repeats 5] [--threads N]

For each shape, both implementations get the same float32 inputs and upstream gradient;
their outputs and gradients are compared before timing. The ratio is the best im2col
time over the best torch time (torch on the CPU, with autograd for the backward pass).
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
import torch
import torch.nn.functional as F

from cs231n_lib.layers.conv import conv_backward_im2col, conv_forward_im2col

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


def best_time(fn, repeats: int) -> float:
    """The fastest of `repeats` calls, after one warm-up call, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; float32, CPU")
    print(f"{'x':>18} {'w':>14} {'S':>2} {'P':>2} {'im2col s':>9} {'torch s':>8} {'ratio':>6}")
    ratios = []
    for x_shape, (num_filters, kh, kw), stride, pad in SHAPES:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = (0.1 * rng.standard_normal((num_filters, x_shape[1], kh, kw))).astype(np.float32)
        b = rng.standard_normal(num_filters).astype(np.float32)
        conv_param = {"stride": stride, "pad": pad}
        out, _ = conv_forward_im2col(x, w, b, conv_param)
        dout = rng.standard_normal(out.shape).astype(np.float32)

        numpy_layer = functools.partial(run_numpy, x, w, b, conv_param, dout)
        torch_layer = functools.partial(run_torch, x, w, b, conv_param, dout)
        for name, ours, theirs in zip(
            ("out", "dx", "dw", "db"), numpy_layer(), torch_layer(), strict=True
        ):
            scale = np.abs(theirs).max()
            if np.abs(ours - theirs).max() > 1e-3 * scale:
                raise RuntimeError(f"{name} differs from torch for x {x_shape}")
        ours_s = best_time(numpy_layer, args.repeats)
        torch_s = best_time(torch_layer, args.repeats)
        ratios.append(ours_s / torch_s)
        w_shape = (num_filters, x_shape[1], kh, kw)
        print(
            f"{str(x_shape):>18} {str(w_shape):>14} {stride:>2} {pad:>2} "
            f"{ours_s:>9.4f} {torch_s:>8.4f} {ratios[-1]:>6.1f}"
        )
    print(f"geometric mean ratio im2col / torch: {np.exp(np.mean(np.log(ratios))):.1f}x")


if __name__ == "__main__":
    main()
