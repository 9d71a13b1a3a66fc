"""A small PixelCNN for binarized 8x8 digits in torch: model, training with early stopping,
likelihood in bits per dimension, and sampling pixel by pixel (12_generative).

The model factorizes p(x) = prod_i p(x_i | x_<i) over the pixels in raster order. Every
layer is a convolution whose filters are multiplied by a causal mask (mask "A" for the
first layer: the centre pixel hidden; mask "B" after it: the centre visible), so one
forward pass gives all H W conditionals at once: logits (N, 1, H, W), logit i a function of
the pixels before i alone. Training is maximum likelihood: the per-pixel Bernoulli
cross-entropy, reported in bits per dimension (nats / ln 2, averaged over the pixels).

The masks come from `mask_fn(kernel_size, mask_type, in_channels, out_channels)`, an
array (F, C, K, K) of 0s and 1s (the signature of layers.masked_conv.pixelcnn_mask, the
default). autoregressive.ipynb passes the student's own pixelcnn_mask, so its model runs
on the student's masks; the package's is looked up only when no mask_fn is given (and,
while that notebook is graded, it is withheld like every exercise).

- PixelCNN(mask_fn=None, channels=64, num_layers=4, first_kernel=7, kernel_size=3)
- train_pixelcnn(model, X_train, X_val, ...): Adam; after each epoch the bits/dim of the
  whole training and validation splits; early stopping on the validation bits/dim with a
  patience, and the best state restored at the end.
- bits_per_dim(model, X): the negative log-likelihood of each image, in bits per pixel.
- sample(model, num_samples, ...): H W forward passes, one pixel drawn after each, in
  raster order; `given` and `known` fix pixels (completion of a partly seen image) and
  `temperature` divides the logits.

Images are (N, 1, H, W) with pixels in {0, 1} (binarize() thresholds digits in [0, 1]).
NOTE: a stack of such masked 3x3 layers has the PixelCNN "blind spot" (some pixels up and
to the right are never seen); at 8x8 with a 7x7 first layer it costs little.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib.layers import masked_conv

MaskFn = Callable[[int, str, int, int], np.ndarray]
LN2 = math.log(2.0)


def binarize(images, threshold: float = 0.5) -> np.ndarray:
    """Digits in [0, 1], (N, 1, H, W) or (N, H, W) -> (N, 1, H, W) float32 of 0s and 1s
    (1 where the pixel is above `threshold`)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be (N, 1, H, W) or (N, H, W), got shape {images.shape}")
    return (images > threshold).astype(np.float32)


class MaskedConv2d(nn.Conv2d):
    """A same-size convolution (stride 1, pad K // 2) with its weights times a fixed mask:
    conv2d(x, weight * mask) + bias. The mask is a buffer (saved with the state, no
    gradient); the gradient of a masked weight is 0, so it stays unused."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        mask_type: str,
        mask_fn: MaskFn | None = None,
    ):
        if kernel_size % 2 != 1:
            raise ValueError(
                f"kernel_size must be odd (the mask needs a centre), got {kernel_size}"
            )
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        build = masked_conv.pixelcnn_mask if mask_fn is None else mask_fn
        mask = np.array(build(kernel_size, mask_type, in_channels, out_channels), np.float32)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        if mask.shape != shape:
            raise ValueError(
                f"mask_fn({kernel_size}, {mask_type!r}, {in_channels}, {out_channels}) returned "
                f"shape {mask.shape}, expected {shape} (F, C, K, K)"
            )
        self.mask_type = mask_type
        self.register_buffer("mask", torch.as_tensor(mask))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """Binary images (N, 1, H, W) in {0, 1} -> logits (N, 1, H, W) of p(x_i = 1 | x_<i).

    A masked first_kernel x first_kernel convolution (mask A) from the image (read as
    2 x - 1) to `channels` maps, then `num_layers` residual blocks h + conv_B(relu(h))
    (kernel_size, mask B), then two 1x1 convolutions (a 1x1 kernel sees only its own
    position, which after the first layer depends on x_<i alone) to one logit per pixel.
    Fully convolutional: any H and W.
    """

    def __init__(
        self,
        mask_fn: MaskFn | None = None,
        channels: int = 64,
        num_layers: int = 4,
        first_kernel: int = 7,
        kernel_size: int = 3,
    ):
        super().__init__()
        self.first = MaskedConv2d(1, channels, first_kernel, "A", mask_fn)
        self.hidden = nn.ModuleList(
            MaskedConv2d(channels, channels, kernel_size, "B", mask_fn) for _ in range(num_layers)
        )
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(2.0 * x - 1.0)  # (N, channels, H, W); pixels as -1 / +1
        for layer in self.hidden:
            h = h + layer(F.relu(h))
        return self.head(h)  # (N, 1, H, W)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _as_binary_tensor(X, device) -> torch.Tensor:
    X = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    if X.ndim != 4 or X.shape[1] != 1:
        raise ValueError(f"images must be (N, 1, H, W), got shape {tuple(X.shape)}")
    if not torch.all((X == 0) | (X == 1)):
        raise ValueError("images must hold 0s and 1s: binarize() them first")
    return X


def bits_per_dim(model: nn.Module, X, batch_size: int = 500) -> np.ndarray:
    """The negative log-likelihood -log2 p(x) / D of each image (N,), in bits per pixel
    (D = H W), under the model (eval mode, no gradient)."""
    was_training = model.training
    model.eval()
    X = _as_binary_tensor(X, _device(model))
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            batch = X[start : start + batch_size]
            nats = F.binary_cross_entropy_with_logits(model(batch), batch, reduction="none")
            out.append(nats.flatten(1).mean(dim=1).double().cpu() / LN2)
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0)


def train_pixelcnn(
    model: nn.Module,
    X_train,
    X_val,
    num_epochs: int = 60,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    patience: int | None = 10,
    seed: int = 0,
    desc: str = "PixelCNN",
    progress: bool = True,
) -> dict:
    """Train `model` by maximum likelihood (Adam on the mean per-pixel cross-entropy).

    After every epoch the bits/dim of the whole training and validation splits are
    recorded; the state with the lowest validation bits/dim is kept. Training stops once
    `patience` epochs in a row have not improved on it (None: run all `num_epochs`), and
    the kept state is loaded back into the model. Batches are drawn in an order from
    `seed` (torch's global generator is left alone).

    Returns a history dict: "train_bits", "val_bits" (one per epoch run), "best_epoch"
    (0-based), "best_val_bits", "epochs" (how many ran), "stopped_early", "seconds".
    """
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be a positive int or None, got {patience!r}")
    device = _device(model)
    X_train = _as_binary_tensor(X_train, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    history = {"train_bits": [], "val_bits": [], "best_epoch": -1, "best_val_bits": math.inf}
    best_state = None
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_epochs, desc=desc, leave=False)
    for epoch in range(num_epochs):
        model.train()
        order = torch.randperm(len(X_train), generator=generator).to(device)
        for i in range(0, len(X_train), batch_size):
            batch = X_train[order[i : i + batch_size]]
            loss = F.binary_cross_entropy_with_logits(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        train_bits = float(bits_per_dim(model, X_train).mean())
        val_bits = float(bits_per_dim(model, X_val).mean())
        history["train_bits"].append(train_bits)
        history["val_bits"].append(val_bits)
        if val_bits < history["best_val_bits"]:
            history["best_epoch"], history["best_val_bits"] = epoch, val_bits
            best_state = copy.deepcopy(model.state_dict())
        if bar is not None:
            bar.update(1)
            bar.set_postfix(train=f"{train_bits:.3f}", val=f"{val_bits:.3f}")
        if patience is not None and epoch - history["best_epoch"] >= patience:
            break
    if bar is not None:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    history["epochs"] = len(history["val_bits"])
    history["stopped_early"] = history["epochs"] < num_epochs
    history["seconds"] = time.perf_counter() - start
    return history


def sample(
    model: nn.Module,
    num_samples: int,
    image_shape: tuple[int, int] = (8, 8),
    seed: int = 0,
    temperature: float = 1.0,
    given=None,
    known=None,
) -> np.ndarray:
    """Draw images pixel by pixel in raster order: H W forward passes of the whole batch,
    the k-th one giving p(x_k = 1 | x_<k) = sigmoid(logit_k / temperature), from which
    pixel k is drawn (uniforms from `seed`) before the next pass.

    Inputs:
    - num_samples: N; image_shape: (H, W).
    - temperature: > 0; below 1 sharpens each conditional, above 1 flattens it.
    - given: (N, 1, H, W) images in {0, 1} and known: a boolean (H, W) or (N, 1, H, W);
      where known is True the pixel is copied from `given` instead of drawn (completion).
    Returns samples (N, 1, H, W) float32 of 0s and 1s.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    if (given is None) != (known is None):
        raise ValueError("given and known go together: the images and which of their pixels")
    height, width = image_shape
    device = _device(model)
    x = torch.zeros(num_samples, 1, height, width, device=device)
    fixed = torch.zeros(num_samples, 1, height, width, dtype=torch.bool, device=device)
    if given is not None:
        given = _as_binary_tensor(given, device)
        fixed = torch.as_tensor(np.asarray(known, dtype=bool), device=device).expand_as(x)
        if given.shape != x.shape:
            raise ValueError(f"given has shape {tuple(given.shape)}, expected {tuple(x.shape)}")
    generator = torch.Generator().manual_seed(seed)
    uniforms = torch.rand(num_samples, height, width, generator=generator).to(device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(height):
            for j in range(width):
                if given is not None and bool(fixed[:, 0, i, j].all()):
                    x[:, 0, i, j] = given[:, 0, i, j]  # known everywhere: no pass needed
                    continue
                logits = model(x)[:, 0, i, j]  # (N,): p(x_ij | the pixels before it)
                drawn = (uniforms[:, i, j] < torch.sigmoid(logits / temperature)).float()
                if given is not None:
                    drawn = torch.where(fixed[:, 0, i, j], given[:, 0, i, j], drawn)
                x[:, 0, i, j] = drawn
    model.train(was_training)
    return x.cpu().numpy()


__all__ = [
    "MaskedConv2d",
    "PixelCNN",
    "binarize",
    "bits_per_dim",
    "sample",
    "train_pixelcnn",
]
