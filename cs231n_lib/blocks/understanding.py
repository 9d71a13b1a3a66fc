"""What a trained convnet sees, and how to fool it (15_understanding/visualization.ipynb).

The notebook trains the small classifiers here, then the student writes saliency maps,
fooling images, FGSM and the class-visualization update step in its cells; this module
holds everything around those functions and takes them as arguments:

- ShapesNet (shapes scenes, the class of the largest object) and DigitsNet (cluttered
  digits): conv-BN-ReLU stages in `model.features` (an nn.Sequential whose stages are named
  stage1, stage2, ...), global average pooling, and a linear `model.classifier`;
  `feature_layers` returns the activations of the named stages;
- train_classifier: fixed-step AdamW with a half-cosine learning rate
  (blocks.training.train_steps), seeded; TRAINING holds the measured budgets; accuracy;
  downsample shrinks the 64x64 shapes to the 32x32 that ShapesNet was measured on;
- occlusion_map: how much the true class's probability drops when a patch is greyed;
- fooling_success and fgsm_curve: run the student's attacks and measure them;
- class_visualization: gradient ascent on a class score with jitter, blur and clamping
  around the student's update step;
- invert_features: an image whose features match given ones, with a total-variation prior;
- nearest_neighbours: the k nearest rows of a feature bank by Euclidean distance.

Images are float32 (N, C, H, W) in [0, 1], the layout of cs231n_lib.data's "nchw".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib.blocks.training import (
    epoch_batches,
    predict_in_batches,
    seeded_adamw_steps,
)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_images(X, name: str = "X") -> None:
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, C, H, W), got {type(X).__name__}")
    if X.ndim != 4:
        raise ValueError(f"{name} must be (N, C, H, W), got shape {tuple(X.shape)}")


def _check_labels(y, N: int, name: str = "y") -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape ({N},), got {type(y).__name__}")
    if y.shape != (N,) or y.dtype.is_floating_point:
        raise ValueError(
            f"{name} must be integer labels of shape ({N},), got {y.dtype} {tuple(y.shape)}"
        )
    return y.long()


# -- classifiers ---------------------------------------------------------------------------


class SmallConvNet(nn.Module):
    """A plain convnet: images (N, in_channels, H, W) -> scores (N, num_classes).

    features: one stage per entry of widths, stage1 ... stageS, each `convs_per_stage`
    3x3 conv-BN-ReLU (no conv bias: batch norm has one), a 2x2 max pooling before every
    stage but the first; then global average pooling and classifier, a linear layer
    widths[-1] -> num_classes. Any H, W divisible by 2^(S-1).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        widths: Sequence[int],
        convs_per_stage: int = 1,
    ):
        super().__init__()
        num_classes = _check_positive_int(num_classes, "num_classes")
        in_channels = _check_positive_int(in_channels, "in_channels")
        convs_per_stage = _check_positive_int(convs_per_stage, "convs_per_stage")
        if len(widths) == 0:
            raise ValueError("widths must hold one width per stage, got none")
        stages: OrderedDict[str, nn.Module] = OrderedDict()
        width_in = in_channels
        for i, width in enumerate(widths):
            layers: list[nn.Module] = [nn.MaxPool2d(2)] if i > 0 else []
            for _ in range(convs_per_stage):
                layers += [
                    nn.Conv2d(
                        width_in, _check_positive_int(width, "widths[i]"), 3, padding=1, bias=False
                    ),
                    nn.BatchNorm2d(width),
                    nn.ReLU(),
                ]
                width_in = width
            stages[f"stage{i + 1}"] = nn.Sequential(*layers)
        self.features = nn.Sequential(stages)
        self.classifier = nn.Linear(width_in, num_classes)
        self.num_classes, self.in_channels = num_classes, in_channels

    def embed(self, X: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, D) globally average-pooled last-stage features, D = widths[-1]."""
        return self.features(X).mean(dim=(2, 3))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        _check_images(X)
        if X.shape[1] != self.in_channels:
            raise ValueError(f"this model reads C={self.in_channels} channels, got {X.shape[1]}")
        return self.classifier(self.embed(X))  # (N, num_classes)


class ShapesNet(SmallConvNet):
    """SmallConvNet for shapes scenes (RGB, 5 classes); the defaults were measured on the
    easy variant shrunk to 32x32 (downsample(X, 2); see TRAINING)."""

    def __init__(
        self,
        num_classes: int = 5,
        in_channels: int = 3,
        widths: Sequence[int] = (16, 32, 64, 128),
        convs_per_stage: int = 1,
    ):
        super().__init__(num_classes, in_channels, widths, convs_per_stage)


class DigitsNet(SmallConvNet):
    """SmallConvNet for cluttered digits (grey 32x32, 10 classes)."""

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        widths: Sequence[int] = (16, 32, 64),
        convs_per_stage: int = 1,
    ):
        super().__init__(num_classes, in_channels, widths, convs_per_stage)


def feature_layers(
    model: SmallConvNet, X: torch.Tensor, names: Sequence[str] | None = None
) -> dict[str, torch.Tensor]:
    """The activations of model.features' stages on images X (N, C, H, W).

    Returns {name: (N, C_s, H_s, W_s)} for each stage named in names (None: every stage),
    in the model's order; gradients flow (for feature inversion and style features), so wrap
    the call in torch.no_grad() when none are needed. The model runs in its current mode:
    put it in eval mode first for batch norm's running statistics.
    """
    _check_images(X)
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential):
        raise TypeError(f"model must have an nn.Sequential `features`, got {type(model).__name__}")
    stage_names = [name for name, _ in features.named_children()]
    wanted = stage_names if names is None else list(names)
    unknown = [name for name in wanted if name not in stage_names]
    if unknown:
        raise ValueError(f"names {unknown} are not stages of the model, which has {stage_names}")
    out: dict[str, torch.Tensor] = {}
    for name, stage in features.named_children():
        X = stage(X)
        if name in wanted:
            out[name] = X
        if len(out) == len(wanted):
            break
    return {name: out[name] for name in wanted}


def downsample(X: np.ndarray, factor: int) -> np.ndarray:
    """Images X (N, C, H, W) shrunk by averaging factor x factor blocks: (N, C, H / factor,
    W / factor), float32; H and W must be multiples of factor."""
    factor = _check_positive_int(factor, "factor")
    if np.ndim(X) != 4 or X.shape[2] % factor or X.shape[3] % factor:
        raise ValueError(
            f"X must be (N, C, H, W) with H, W multiples of {factor}, got {np.shape(X)}"
        )
    N, C, H, W = X.shape
    blocks = np.asarray(X, dtype=np.float32).reshape(N, C, H // factor, factor, W // factor, factor)
    return blocks.mean(axis=(3, 5))


# train_classifier's arguments for the notebook's two nets, measured at 1 thread (seed 0,
# 8,000 training images, the default widths; validation accuracy on 1,000 images):
# - "shapes": ShapesNet on the easy variant shrunk to 32x32 (downsample(X, 2)), symmetric
#   augmentation, learning rate 1e-2, y = the largest object's class. 1,500 steps: 0.916
#   (112 s; seed 1: 0.924), 1,000 steps: 0.909 (82 s; seed 1: 0.906), 1,000 steps without
#   augmentation 0.881 (it overfits). Tried and dropped: 3 stages (16, 32, 64), 1,500 steps
#   0.869; two convs per stage, 1,000 steps 0.922 (191 s); learning rate 3e-3 (3 stages, 600
#   steps 0.65); 64x64 input (300 steps took 184 s for 0.61).
# - "digits": DigitsNet on cluttered digits, learning rate 3e-3: 1,000 steps 0.945 (79 s),
#   400 steps 0.900 (33 s).
TRAINING = {
    "shapes": {"num_steps": 1500, "batch_size": 64, "learning_rate": 1e-2, "symmetric": True},
    "digits": {"num_steps": 1000, "batch_size": 64, "learning_rate": 3e-3, "symmetric": False},
}


def _dihedral(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image (N, C, H, W) flipped left-right, up-down and transposed, each with
    probability one half (the 8 symmetries of a square); H must equal W."""
    flips = torch.rand(3, len(images), generator=generator) < 0.5
    out = torch.where(flips[0][:, None, None, None], images.flip(-1), images)
    out = torch.where(flips[1][:, None, None, None], out.flip(-2), out)
    return torch.where(flips[2][:, None, None, None], out.transpose(-1, -2), out)


def train_classifier(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    num_steps: int,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
    weight_decay: float = 1e-4,
    symmetric: bool = False,
    desc: str = "training",
) -> dict[str, list[float] | float]:
    """Train `model` for num_steps AdamW steps with a half-cosine learning rate on its device.

    Inputs: X (N, C, H, W) images in [0, 1]; y (N,) labels. Batches run through random
    permutations (every image once per epoch) drawn from `seed`, which also draws the
    augmentation; the caller's global random state is left as it was. symmetric=True
    applies a random flip/transpose per image (H == W): right for the shapes, whose five
    classes and areas do not change under them, wrong for digits (a mirrored 2 is no 2).
    Returns train_steps' {"loss": per-step losses, "seconds", "seconds_per_step"}.
    """
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} images but y has {len(y)} labels")
    if np.ndim(X) != 4:
        raise ValueError(f"X must be (N, C, H, W), got shape {np.shape(X)}")
    if symmetric and np.shape(X)[2] != np.shape(X)[3]:
        raise ValueError(f"symmetric=True needs square images, got shape {np.shape(X)}")
    batch_size = _check_positive_int(batch_size, "batch_size")
    device = next(model.parameters()).device
    images = torch.as_tensor(X, dtype=torch.float32)
    labels = torch.as_tensor(y, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    next_batch = epoch_batches(len(images), batch_size, generator)

    def batch_loss() -> torch.Tensor:
        batch = next_batch()
        inputs = _dihedral(images[batch], generator) if symmetric else images[batch]
        return F.cross_entropy(model(inputs.to(device)), labels[batch].to(device))

    history = seeded_adamw_steps(
        model, batch_loss, num_steps, learning_rate, weight_decay, seed, desc, progress
    )
    model.eval()
    return history


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray, batch_size: int = 200) -> float:
    """The share of images X (N, C, H, W) whose argmax score is their label y (N,), in eval
    mode without gradients."""
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} images but y has {len(y)} labels")
    predicted = predict_in_batches(model, X, batch_size).argmax(dim=1).numpy()
    return float(np.mean(predicted == np.asarray(y)))


# -- occlusion -----------------------------------------------------------------------------


def occlusion_map(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    patch: int,
    stride: int,
    fill: float = 0.5,
    batch_size: int = 256,
) -> torch.Tensor:
    """How much the true class's PROBABILITY drops when a patch of the image is greyed.

    Inputs: X (N, C, H, W) images; y (N,) their labels; a patch x patch square set to
    `fill` on every channel, its top-left corner at (i stride, j stride) for every place
    where it fits. The model runs in eval mode without gradients, batch_size occluded
    images at a time.
    Returns (N, H', W') float32 on the CPU, H' = (H - patch) // stride + 1 (W' alike):
    softmax(model(X))[y] minus the same on the occluded image (positive where the patch
    hid evidence for the class, negative where it hid evidence against it).
    """
    _check_images(X)
    N, C, H, W = X.shape
    y = _check_labels(y, N)
    patch, stride = _check_positive_int(patch, "patch"), _check_positive_int(stride, "stride")
    if patch > min(H, W):
        raise ValueError(f"patch={patch} does not fit in images of {H}x{W}")
    rows, cols = (H - patch) // stride + 1, (W - patch) // stride + 1
    corners = [(i * stride, j * stride) for i in range(rows) for j in range(cols)]
    device = next(model.parameters()).device
    model.eval()
    drops = torch.empty(N, rows * cols)
    with torch.no_grad():
        clean = F.softmax(model(X.to(device)), dim=1)[torch.arange(N), y.to(device)].cpu()
        for n in range(N):
            for start in range(0, len(corners), batch_size):
                chunk = corners[start : start + batch_size]
                occluded = X[n].repeat(len(chunk), 1, 1, 1)  # (B, C, H, W)
                for b, (top, left) in enumerate(chunk):
                    occluded[b, :, top : top + patch, left : left + patch] = fill
                probs = F.softmax(model(occluded.to(device)), dim=1)[:, y[n]].cpu()
                drops[n, start : start + len(chunk)] = clean[n] - probs
    return drops.view(N, rows, cols)


# -- fooling images and FGSM ---------------------------------------------------------------


class _ForwardCounter:
    """Counts the forward passes of a module while it is active (a forward hook)."""

    def __init__(self, module: nn.Module):
        self.count = 0
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output) -> None:
        self.count += 1


def fooling_success(
    model: nn.Module,
    X: torch.Tensor,
    target_y: torch.Tensor | Sequence[int],
    make_fooling_image: Callable,
) -> dict:
    """Run make_fooling_image(X[n : n + 1], int(target_y[n]), model) on each image, alone.

    Inputs: X (N, C, H, W) images in [0, 1]; target_y (N,) the class each should be
    pushed to; make_fooling_image(X (1, C, H, W), target_y int, model) -> (1, C, H, W), the
    student's function, given a copy of the image (the model in eval mode).
    Returns a dict:
    - "X_fooling" (N, C, H, W): the returned images, on the CPU;
    - "success" (N,) bool: argmax of the model's scores on the returned image == target;
      "success_rate": their mean;
    - "l2" (N,) and "linf" (N,): the Euclidean and largest absolute change over all
      C H W values, in the units of [0, 1] pixels; "mean_l2": l2's mean over the images
      that fooled the model (nan if none did);
    - "forward_passes" (N,) int: how often the function ran the model (its step count,
      for a function that evaluates the model once per step).
    """
    _check_images(X)
    N = len(X)
    targets = _check_labels(torch.as_tensor(target_y), N, "target_y")
    device = next(model.parameters()).device
    model.eval()
    fooled, passes = [], []
    for n in range(N):
        counter = _ForwardCounter(model)
        try:
            out = make_fooling_image(X[n : n + 1].clone().to(device), int(targets[n]), model)
        finally:
            counter.handle.remove()
        if not isinstance(out, torch.Tensor) or out.shape != (1, *X.shape[1:]):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"make_fooling_image must return a tensor (1, {', '.join(map(str, X.shape[1:]))})"
                f" for image {n}, got {shape}"
            )
        fooled.append(out.detach().cpu().float())
        passes.append(counter.count)
    X_fooling = torch.cat(fooled)
    with torch.no_grad():
        predicted = predict_in_batches(model, X_fooling, 256).argmax(dim=1)
    change = (X_fooling - X.cpu().float()).flatten(1)  # (N, C H W)
    success = (predicted == targets).numpy()
    l2 = change.norm(dim=1).numpy()
    return {
        "X_fooling": X_fooling,
        "success": success,
        "success_rate": float(success.mean()),
        "l2": l2,
        "linf": change.abs().amax(dim=1).numpy(),
        "mean_l2": float(l2[success].mean()) if success.any() else float("nan"),
        "forward_passes": np.array(passes),
    }


def fgsm_curve(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    epsilons: Sequence[float],
    fgsm_attack: Callable,
    batch_size: int = 100,
) -> np.ndarray:
    """Accuracy of the model on fgsm_attack's images, one epsilon at a time.

    Inputs: X (N, C, H, W) images; y (N,) labels; fgsm_attack(X (B, C, H, W), y (B,),
    model, epsilon) -> (B, C, H, W) the student's function, called on batches of
    batch_size images (copies, on the model's device; the model in eval mode).
    Returns (len(epsilons),) float64: the share of attacked images whose argmax score is y.
    """
    _check_images(X)
    y = _check_labels(y, len(X))
    batch_size = _check_positive_int(batch_size, "batch_size")
    if len(epsilons) == 0:
        raise ValueError("epsilons must hold at least one value, got none")
    if any(not float(eps) >= 0 for eps in epsilons):
        raise ValueError(f"epsilons must be >= 0, got {list(epsilons)}")
    device = next(model.parameters()).device
    model.eval()
    accuracies = np.empty(len(epsilons))
    for e, eps in enumerate(epsilons):
        correct = 0
        for start in range(0, len(X), batch_size):
            images = X[start : start + batch_size].clone().to(device)
            labels = y[start : start + batch_size].to(device)
            attacked = fgsm_attack(images, labels, model, float(eps))
            if not isinstance(attacked, torch.Tensor) or attacked.shape != images.shape:
                shape = tuple(attacked.shape) if isinstance(attacked, torch.Tensor) else attacked
                raise ValueError(
                    f"fgsm_attack must return a tensor {tuple(images.shape)}, got {shape!r}"
                )
            with torch.no_grad():
                correct += int((model(attacked.detach()).argmax(dim=1) == labels).sum())
        accuracies[e] = correct / len(X)
    return accuracies


# -- class visualization -------------------------------------------------------------------


def gaussian_blur(images: torch.Tensor, sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """Each channel of images (N, C, H, W) blurred by a Gaussian of standard deviation
    sigma pixels, as scipy.ndimage.gaussian_filter with mode="reflect": a separable
    kernel of radius int(truncate sigma + 0.5), the edges padded by mirroring the image
    including its border pixel (... b a | a b ...). Returns (N, C, H, W)."""
    _check_images(images, "images")
    if not float(sigma) > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    N, C, H, W = images.shape
    radius = int(truncate * sigma + 0.5)
    if radius >= min(H, W):
        raise ValueError(f"sigma={sigma} gives a kernel radius {radius} >= the image side")
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = images.reshape(N * C, 1, H, W)
    if radius > 0:
        out = torch.cat([out[..., :radius].flip(-1), out, out[..., -radius:].flip(-1)], dim=-1)
        out = F.conv2d(out, kernel.view(1, 1, 1, -1))
        out = torch.cat([out[..., :radius, :].flip(-2), out, out[..., -radius:, :].flip(-2)], -2)
        out = F.conv2d(out, kernel.view(1, 1, -1, 1))
    return out.reshape(N, C, H, W)


def class_visualization(
    model: nn.Module,
    target_y: int,
    update_step: Callable,
    num_steps: int,
    image_shape: Sequence[int],
    l2_reg: float = 1e-3,
    learning_rate: float = 0.05,
    blur_every: int | None = 10,
    blur_sigma: float = 0.5,
    max_jitter: int = 4,
    seed: int = 0,
    snapshot_every: int | None = None,
    init: torch.Tensor | None = None,
) -> dict:
    """An image that the model scores high for target_y, by gradient ascent.

    The image starts as init (1, C, H, W) if given, else 0.5 plus Gaussian noise of standard
    deviation 0.1 (drawn from seed), a leaf tensor with requires_grad. Each of num_steps
    steps:
    1. roll it by (dy, dx), each uniform in [-max_jitter, max_jitter] (torch.roll, from
       seed): the image must work at every shift, which discourages pixel-level noise;
    2. update_step(img, model, target_y, l2_reg, learning_rate), the student's function,
       changes img in place (img.grad is cleared before each call; a returned tensor of the
       same shape replaces img instead);
    3. roll back by (-dy, -dx) and clamp to [0, 1], the range of the data;
    4. every blur_every-th step (None: never), blur by gaussian_blur(sigma=blur_sigma).
    The model runs in eval mode. Returns {"image": (1, C, H, W) on the CPU, "snapshots":
    [(step, (1, C, H, W))] after every snapshot_every-th step (None: none) with the initial
    image as step 0, "score": the final image's target score}.
    """
    num_steps = _check_positive_int(num_steps, "num_steps")
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
    C, H, W = (_check_positive_int(side, "image_shape") for side in image_shape)
    if isinstance(max_jitter, bool) or not isinstance(max_jitter, int) or max_jitter < 0:
        raise ValueError(f"max_jitter must be an int >= 0, got {max_jitter!r}")
    if max_jitter >= min(H, W):
        raise ValueError(f"max_jitter={max_jitter} must be below the image side {min(H, W)}")
    if blur_every is not None:
        blur_every = _check_positive_int(blur_every, "blur_every")
    if snapshot_every is not None:
        snapshot_every = _check_positive_int(snapshot_every, "snapshot_every")
    device = next(model.parameters()).device
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    noise = 0.5 + 0.1 * torch.randn(1, C, H, W, generator=generator)
    if init is None:
        init = noise
    elif not isinstance(init, torch.Tensor) or init.shape != (1, C, H, W):
        shape = tuple(init.shape) if isinstance(init, torch.Tensor) else type(init).__name__
        raise ValueError(f"init must be a tensor (1, {C}, {H}, {W}), got {shape}")
    init = init.detach().float().cpu()
    img = init.to(device, copy=True).requires_grad_()
    snapshots = [(0, init.clone())] if snapshot_every else []
    for step in range(1, num_steps + 1):
        dy, dx = (
            int(s) for s in torch.randint(-max_jitter, max_jitter + 1, (2,), generator=generator)
        )
        with torch.no_grad():
            img.copy_(torch.roll(img, (dy, dx), dims=(2, 3)))
        img.grad = None
        result = update_step(img, model, target_y, l2_reg, learning_rate)
        with torch.no_grad():
            current = img if result is None else result.detach()
            if current.shape != img.shape:
                raise ValueError(
                    f"update_step returned shape {tuple(current.shape)}, "
                    f"expected {tuple(img.shape)}"
                )
            current = torch.roll(current, (-dy, -dx), dims=(2, 3)).clamp(0.0, 1.0)
            if blur_every and step % blur_every == 0:
                current = gaussian_blur(current, blur_sigma)
            img.copy_(current)
        if snapshot_every and step % snapshot_every == 0:
            snapshots.append((step, img.detach().cpu().clone()))
    with torch.no_grad():
        score = float(model(img)[0, target_y])
    return {"image": img.detach().cpu(), "snapshots": snapshots, "score": score}


# -- feature inversion and nearest neighbours ------------------------------------------------


def _tv(img: torch.Tensor) -> torch.Tensor:
    """Total variation of images (N, C, H, W): the mean squared difference of vertical
    neighbours plus that of horizontal neighbours (a scalar)."""
    vertical = (img[:, :, 1:, :] - img[:, :, :-1, :]).pow(2).mean()
    horizontal = (img[:, :, :, 1:] - img[:, :, :, :-1]).pow(2).mean()
    return vertical + horizontal


def invert_features(
    extract: Callable[[torch.Tensor], torch.Tensor],
    target_features: torch.Tensor,
    image_shape: Sequence[int],
    num_steps: int = 200,
    learning_rate: float = 0.05,
    tv_weight: float = 0.1,
    seed: int = 0,
) -> dict:
    """An image whose features match target_features (Mahendran and Vedaldi 2015).

    Minimizes ||extract(img) - target||^2 / ||target||^2 (the squared error relative to the
    target's, so tv_weight means the same at every layer) + tv_weight _tv(img) over the image
    (1, C, H, W) with Adam (learning_rate), clamped to [0, 1] after each step, from 0.5 plus
    Gaussian noise of standard deviation 0.1 drawn from seed. extract maps (1, C, H, W) to a
    tensor of target_features' shape, with gradients.
    Returns {"image": (1, C, H, W) on the CPU, "loss": per-step total losses}.
    """
    num_steps = _check_positive_int(num_steps, "num_steps")
    if not isinstance(target_features, torch.Tensor):
        raise TypeError(
            f"target_features must be a torch.Tensor, got {type(target_features).__name__}"
        )
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
    if tv_weight < 0:
        raise ValueError(f"tv_weight must be >= 0, got {tv_weight!r}")
    target = target_features.detach()
    scale = target.pow(2).sum().clamp_min(1e-12)
    generator = torch.Generator().manual_seed(seed)
    init = 0.5 + 0.1 * torch.randn(1, *image_shape, generator=generator)
    img = init.to(target.device).requires_grad_()
    optimizer = torch.optim.Adam([img], lr=learning_rate)
    losses = []
    for _ in range(num_steps):
        features = extract(img)
        if features.shape != target.shape:
            raise ValueError(
                f"extract gave shape {tuple(features.shape)}, "
                f"target_features is {tuple(target.shape)}"
            )
        loss = (features - target).pow(2).sum() / scale + tv_weight * _tv(img)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            img.clamp_(0.0, 1.0)
        losses.append(loss.item())
    return {"image": img.detach().cpu(), "loss": losses}


def _as_double(feats: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(feats, torch.Tensor):
        return feats.detach().cpu().double()
    return torch.as_tensor(np.asarray(feats), dtype=torch.float64)


def nearest_neighbours(
    query_feats: np.ndarray | torch.Tensor, bank_feats: np.ndarray | torch.Tensor, k: int
) -> np.ndarray:
    """Indices (Q, k) int64 of the k rows of bank_feats (N, D) nearest to each row of
    query_feats (Q, D) by Euclidean distance, nearest first (ties: the lower index first)."""
    query, bank = _as_double(query_feats), _as_double(bank_feats)
    if query.ndim != 2 or bank.ndim != 2 or query.shape[1] != bank.shape[1]:
        raise ValueError(
            f"query_feats (Q, D) and bank_feats (N, D) must share D, got {tuple(query.shape)}"
            f" and {tuple(bank.shape)}"
        )
    k = _check_positive_int(k, "k")
    if k > len(bank):
        raise ValueError(f"k={k} is more than the {len(bank)} rows of bank_feats")
    # NOTE: the direct difference, not the matmul expansion, so equal rows tie exactly.
    distances = torch.cdist(query, bank, compute_mode="donot_use_mm_for_euclid_dist")  # (Q, N)
    return torch.argsort(distances, dim=1, stable=True)[:, :k].numpy()
