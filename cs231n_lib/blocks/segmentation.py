"""Semantic segmentation networks in torch: an FCN, an FCN with skip fusion and a U-Net,
with a training loop, prediction and evaluation (11_segmentation).

Images are (N, 3, H, W) floats in [0, 1] (numpy (N, H, W, 3) is accepted where noted);
label maps are (N, H, W) integers, 0 background and class + 1 on objects (the `semantic`
maps of cs231n_lib.data.shapes); scores are (N, num_classes, H, W). H and W must be
multiples of the network's total stride (8, 16 or 32; 96 is a multiple of all three).

- FCN: a conv backbone down to stride 8 (or 16), a 1x1 classifier, ONE upsampling by the
  whole stride back to full size (bilinear, or a transposed convolution initialized as a
  bilinear upsampler): Long et al.'s FCN without skips ("FCN-32s" at its stride).
- SkipFCN: the same backbone down to stride 32, a 1x1 classifier at strides 32, 16 and 8;
  each coarser score map is upsampled 2x and added to the next finer one, and the sum at
  stride 8 is upsampled 8x (the FCN-32s -> 16s -> 8s idea).
- UNet: an encoder of conv blocks and 2x2 max pooling, a decoder that upsamples 2x
  (transposed 2x2 convolution, stride 2, or bilinear followed by a 1x1 conv), concatenates
  the encoder's features of the same scale and applies a conv block; a 1x1 classifier at
  full resolution (Ronneberger et al., 2015, with padded convolutions); optionally 1x1
  scale heads on the coarser decoder maps, upsampled and added.

train_segmenter (AdamW, warm-up and cosine decay, flips and quarter turns; cross-entropy,
plus lovasz_softmax_loss if asked), predict_masks / predict_scores (optionally averaged
over the 8 flips and quarter turns: test-time augmentation) and evaluate_segmenter (one
ConfusionMatrix over the whole split, background a class).

init_prior_bias (called by train_segmenter unless prior_bias=False) starts the output bias
at the log class frequencies of the training masks, so that the first scores already say
"mostly background". Without it a U-Net, whose 1x1 classifier reads only widths[0] = 16
channels, spends its first ~100 Adam steps on that prior alone (Adam moves each weight by
about the learning rate per step, so 16 inputs move the scores ~10x slower than the FCN's
160): measured at 200 steps, loss 0.62 -> 0.32 and mIoU 0.18 -> 0.36.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib.blocks.detection import native_bf16
from cs231n_lib.blocks.training import fraction_done, warmup_cosine_lr
from cs231n_lib.metrics.segmentation import ConfusionMatrix


def conv_block(in_channels: int, out_channels: int, num_convs: int = 2) -> nn.Sequential:
    """num_convs x (3x3 conv, no bias -> BatchNorm -> ReLU): (N, C_in, H, W) -> (N, C_out, H, W)."""
    layers: list[nn.Module] = []
    for k in range(num_convs):
        layers += [
            nn.Conv2d(
                in_channels if k == 0 else out_channels, out_channels, 3, padding=1, bias=False
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


def bilinear_weights(channels: int, scale: int) -> torch.Tensor:
    """(C, C, k, k) weights, k = 2 s - s % 2, that make nn.ConvTranspose2d(C, C, k, stride=s,
    padding=ceil((s - 1) / 2)) a per-channel bilinear upsampler by s (FCN's initialization)."""
    k = 2 * scale - scale % 2
    factor = (k + 1) // 2
    centre = factor - 1 if k % 2 == 1 else factor - 0.5
    tent = 1.0 - torch.abs(torch.arange(k, dtype=torch.float64) - centre) / factor  # (k,)
    weights = torch.zeros(channels, channels, k, k, dtype=torch.float64)
    weights[torch.arange(channels), torch.arange(channels)] = torch.outer(tent, tent)
    return weights.float()


class Upsample(nn.Module):
    """Upsampling by an integer factor: (N, C, H, W) -> (N, C, s H, s W).

    mode="bilinear": F.interpolate (no parameters); mode="transposed": a learnable
    nn.ConvTranspose2d started at bilinear_weights (FCN's "deconvolution" layer).
    """

    def __init__(self, channels: int, scale: int, mode: str = "bilinear"):
        super().__init__()
        if mode not in ("bilinear", "transposed"):
            raise ValueError(f"mode must be 'bilinear' or 'transposed', got {mode!r}")
        self.scale, self.mode = int(scale), mode
        self.conv = None
        if mode == "transposed" and scale > 1:
            k = 2 * scale - scale % 2
            pad = math.ceil((scale - 1) / 2)
            self.conv = nn.ConvTranspose2d(channels, channels, k, scale, pad, bias=False)
            with torch.no_grad():
                self.conv.weight.copy_(bilinear_weights(channels, scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1:
            return x
        if self.conv is not None:
            return self.conv(x)
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)


class Encoder(nn.Module):
    """A conv block per stage, 2x2 max pooling between stages.

    Stage 0 runs at full resolution; stage k at stride 2^k. forward returns the output
    of every stage, finest first: [(N, widths[0], H, W), (N, widths[1], H/2, W/2), ...].
    """

    def __init__(self, widths: Sequence[int], in_channels: int = 3, num_convs: int = 2):
        super().__init__()
        if len(widths) < 1:
            raise ValueError(f"widths must name at least one stage, got {widths!r}")
        chans = [in_channels, *widths]
        self.stages = nn.ModuleList(
            conv_block(chans[k], chans[k + 1], num_convs) for k in range(len(widths))
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for k, stage in enumerate(self.stages):
            x = stage(x if k == 0 else F.max_pool2d(x, 2))
            features.append(x)
        return features


def _check_size(x: torch.Tensor, stride: int) -> None:
    if x.ndim != 4 or x.shape[2] % stride or x.shape[3] % stride:
        raise ValueError(
            f"expected images (N, C, H, W) with H and W multiples of the stride {stride}, "
            f"got {tuple(x.shape)}"
        )


class FCN(nn.Module):
    """Fully convolutional network without skips: (N, 3, H, W) -> scores (N, K, H, W).

    Encoder stages of `widths` (stride 2^(len(widths) - 1) at the last one: 8 for four
    stages), a 1x1 classifier there, one upsampling by the whole stride.
    """

    def __init__(self, num_classes: int, widths=(16, 32, 64, 160), upsample: str = "bilinear"):
        super().__init__()
        self.stride = 2 ** (len(widths) - 1)
        self.encoder = Encoder(widths)
        self.classifier = nn.Conv2d(widths[-1], num_classes, 1)
        self.upsample = Upsample(num_classes, self.stride, upsample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, self.stride)
        coarse = self.classifier(self.encoder(x)[-1])  # (N, K, H / stride, W / stride)
        return self.upsample(coarse)


class SkipFCN(nn.Module):
    """FCN with skip fusion (FCN-8s): (N, 3, H, W) -> scores (N, K, H, W).

    Encoder stages of `widths` down to stride 2^(len(widths) - 1) (32 for six stages). A
    1x1 classifier scores each of the last `num_fused` stages (strides 32, 16, 8 for
    three); from the coarsest, the running sum is upsampled 2x and the next finer score
    map added, and the sum at the finest fused stride is upsampled to full size.
    """

    def __init__(
        self,
        num_classes: int,
        widths=(16, 32, 48, 64, 96, 128),
        num_fused: int = 3,
        upsample: str = "bilinear",
    ):
        super().__init__()
        if not 1 <= num_fused <= len(widths):
            raise ValueError(f"num_fused must lie in 1..{len(widths)}, got {num_fused}")
        self.stride = 2 ** (len(widths) - 1)
        self.num_fused = num_fused
        self.encoder = Encoder(widths)
        self.classifiers = nn.ModuleList(
            nn.Conv2d(w, num_classes, 1) for w in widths[len(widths) - num_fused :]
        )  # finest fused stage first
        self.step_up = nn.ModuleList(
            Upsample(num_classes, 2, upsample) for _ in range(num_fused - 1)
        )
        self.final_up = Upsample(num_classes, self.stride // 2 ** (num_fused - 1), upsample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, self.stride)
        features = self.encoder(x)[-self.num_fused :]  # finest fused first
        scores = [clf(f) for clf, f in zip(self.classifiers, features, strict=True)]
        fused = scores[-1]  # the coarsest: (N, K, H / 32, W / 32)
        for k in range(self.num_fused - 2, -1, -1):
            fused = self.step_up[k](fused) + scores[k]  # (N, K, 2 h, 2 w)
        return self.final_up(fused)


class UNet(nn.Module):
    """U-Net: (N, 3, H, W) -> scores (N, K, H, W).

    Encoder stages of `widths` (stride 2^(len(widths) - 1) at the bottom). Going up, at
    each scale from the bottom: upsample 2x to the width of the encoder stage above
    (transposed 2x2 conv, stride 2; or bilinear then a 1x1 conv), concatenate that
    stage's features along the channels, conv block. A 1x1 classifier at full size.

    coarse_head (default): a second 1x1 classifier on the bottom features, bilinearly
    upsampled to full size and added to the scores (the FCN's head: a short path from
    the deep features to the output). The class of a shape is known only at the bottom;
    without this path it must be carried up through every decoder stage to a classifier
    that reads widths[0] channels, which a small budget does not teach: at 200 steps
    (2,000 hard scenes) mIoU 0.365 without, 0.544 with, against 0.486 for the FCN
    without skips.

    scale_heads (off by default): a 1x1 classifier on each decoder map between the bottom
    and full size (strides 4 and 2 for four stages), its scores upsampled bilinearly to
    full size and added too: each scale's features reach the output in one step. Their
    biases start at 0 and their weights near 0, so a new net scores as one without them.
    """

    def __init__(
        self,
        num_classes: int,
        widths=(16, 32, 64, 128),
        upsample: str = "transposed",
        coarse_head: bool = True,
        scale_heads: bool = False,
    ):
        super().__init__()
        if upsample not in ("bilinear", "transposed"):
            raise ValueError(f"upsample must be 'bilinear' or 'transposed', got {upsample!r}")
        self.stride = 2 ** (len(widths) - 1)
        self.encoder = Encoder(widths)
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for k in range(len(widths) - 1, 0, -1):  # from the bottom up
            if upsample == "transposed":
                up = nn.ConvTranspose2d(widths[k], widths[k - 1], 2, stride=2)
            else:
                up = nn.Sequential(Upsample(widths[k], 2), nn.Conv2d(widths[k], widths[k - 1], 1))
            self.ups.append(up)
            self.blocks.append(conv_block(2 * widths[k - 1], widths[k - 1]))
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)
        self.coarse_classifier = nn.Conv2d(widths[-1], num_classes, 1) if coarse_head else None
        self.scale_classifiers = None
        if scale_heads:
            # NOTE: made last, so that a seed gives every other layer the weights it gives
            # them without scale heads.
            self.scale_classifiers = nn.ModuleList(
                nn.Conv2d(widths[k], num_classes, 1) for k in range(len(widths) - 2, 0, -1)
            )  # coarsest first, as the decoder's maps
            with torch.no_grad():
                for head in self.scale_classifiers:
                    head.weight.normal_(0.0, 1e-3)
                    head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, self.stride)
        features = self.encoder(x)  # finest first
        y, decoded = features[-1], []
        for up, block, skip in zip(self.ups, self.blocks, features[-2::-1], strict=True):
            y = block(torch.cat([skip, up(y)], dim=1))  # (N, 2 C_k, H_k, W_k) -> (N, C_k, ...)
            decoded.append(y)
        return self.scores_from(features, decoded)

    def scores_from(self, features: list[torch.Tensor], decoded: list[torch.Tensor]):
        """The output layers: scores (N, K, H, W) from the encoder's maps `features` (finest
        first) and the decoder's maps `decoded` (coarsest first, decoded[-1] (N, widths[0],
        H, W) at full size; empty for a one-stage net): the 1x1 classifier of the full-size
        map, plus the coarse head on features[-1] and the scale heads on decoded[:-1] where
        the net has them, each upsampled bilinearly to full size."""
        scores = self.classifier(decoded[-1] if decoded else features[-1])
        heads = [] if self.coarse_classifier is None else [(self.coarse_classifier, features[-1])]
        if self.scale_classifiers is not None:
            heads += list(zip(self.scale_classifiers, decoded[:-1], strict=True))
        for head, fmap in heads:
            scores = scores + F.interpolate(
                head(fmap), size=scores.shape[-2:], mode="bilinear", align_corners=False
            )
        return scores


# --- training, prediction, evaluation ------------------------------------------------------


def class_frequencies(masks, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """Share of each class among the pixels of label maps (N, H, W): (K,) float64, with one
    pseudo-pixel per class added (no class is given frequency 0); ignore_index left out."""
    y = np.asarray(masks).ravel().astype(np.int64)
    if ignore_index is not None:
        y = y[y != ignore_index]
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {y.min()}..{y.max()}")
    counts = np.bincount(y, minlength=num_classes).astype(np.float64) + 1.0
    return counts / counts.sum()


def _output_layers(model: nn.Module) -> list[nn.Conv2d] | None:
    """The output 1x1 convs whose biases add up in the scores, the one to set last:
    model.classifiers (SkipFCN) or [model.coarse_classifier, *model.scale_classifiers (UNet,
    where it has them), model.classifier], when they are all nn.Conv2d with a bias; None
    otherwise."""
    layers = getattr(model, "classifiers", None)
    if layers is not None:
        layers = list(layers)
    else:
        coarse = getattr(model, "coarse_classifier", None)
        scale = getattr(model, "scale_classifiers", None)
        layers = [*([coarse] if coarse is not None else []), *(scale or [])]
        layers.append(getattr(model, "classifier", None))
    if all(isinstance(c, nn.Conv2d) and c.bias is not None for c in layers):
        return layers
    return None


@torch.no_grad()
def init_prior_bias(model: nn.Module, masks, ignore_index: int | None = None) -> np.ndarray:
    """Start the output bias of `model` at log(class frequency) of `masks` (N, H, W).

    The output layer is `model.classifier` (FCN, UNet) or the sum of several (SkipFCN's
    `classifiers`, UNet's `coarse_classifier` + `scale_classifiers` + `classifier`): the
    last one gets log prior minus the others' biases (bilinear upsampling keeps a
    constant). Returns the log frequencies (K,). A constant score map of these biases
    predicts the class frequencies: the best guess before seeing the image.
    """
    layers = _output_layers(model)
    if layers is None:
        raise ValueError("model needs a `classifier` (or `classifiers`) nn.Conv2d with a bias")
    log_prior = np.log(class_frequencies(masks, layers[0].out_channels, ignore_index))
    target = torch.as_tensor(log_prior, dtype=layers[-1].bias.dtype, device=layers[-1].bias.device)
    others = sum((c.bias for c in layers[:-1]), torch.zeros_like(target))
    layers[-1].bias.copy_(target - others)
    return log_prior


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def as_image_tensor(images) -> torch.Tensor:
    """Images as a float32 (N, 3, H, W) CPU tensor, from numpy (N, H, W, 3) / (N, 3, H, W)
    or a tensor (N, 3, H, W)."""
    X = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    if X.ndim != 4 or 3 not in (X.shape[1], X.shape[-1]):
        raise ValueError(f"expected images (N, 3, H, W) or (N, H, W, 3), got {tuple(X.shape)}")
    if X.shape[1] != 3:
        X = X.permute(0, 3, 1, 2)
    return X.float().contiguous().cpu()


def _as_masks(masks, n: int, size: tuple[int, int]) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(masks) if not torch.is_tensor(masks) else masks)
    if tuple(y.shape) != (n, *size):
        raise ValueError(
            f"masks must be (N, H, W) = {(n, *size)} to match the images, got {tuple(y.shape)}"
        )
    return y.long().cpu()


def _turn(X: torch.Tensor, y: torch.Tensor, quarter_turns: int, flip: bool):
    """The same flip and quarter turns of images (B, 3, H, W) and label maps (B, H, W)."""
    if flip:
        X, y = X.flip(-1), y.flip(-1)
    return torch.rot90(X, quarter_turns, (-2, -1)), torch.rot90(y, quarter_turns, (-2, -1))


LOVASZ_CUT = 1e-3  # errors at or below this are left out of lovasz_softmax_loss's sort


def lovasz_softmax_loss(
    scores: torch.Tensor, labels: torch.Tensor, ignore_index: int | None = None
) -> torch.Tensor:
    """Lovasz-softmax loss (Berman et al., 2018): a convex surrogate of 1 - IoU, per class.

    Inputs: scores (N, K, H, W) (the softmax runs over the classes, dim 1); labels (N, H, W)
    integers in 0..K-1 (or ignore_index, whose pixels count nowhere).
    Returns a scalar: the mean over the classes present in `labels` of the Lovasz extension
    of that class's Jaccard loss |M| / |G u M| (G its true pixels, M the mispredicted ones)
    at the pixel errors m = |[y = c] - p_c|: sum_i m_(i) (D(S_i) - D(S_(i-1))), m sorted
    descending and S_i the pixels of the i largest errors. It equals the Jaccard loss itself
    where the errors are 0 or 1.

    NOTE: only errors > LOVASZ_CUT are sorted (a batch has ~10^5 pixels, most of them
    certain). The increments D(S_i) - D(S_(i-1)) are >= 0 and sum to at most 1, so the
    errors left out, sorted last, would add less than LOVASZ_CUT to the loss; the loss is
    that much below the exact one at most, and those pixels get no Lovasz gradient.
    """
    if scores.ndim != 4 or labels.shape != (scores.shape[0], *scores.shape[2:]):
        raise ValueError(
            f"expected scores (N, K, H, W) and labels (N, H, W), got {tuple(scores.shape)} "
            f"and {tuple(labels.shape)}"
        )
    num_classes = scores.shape[1]
    probs = F.softmax(scores, dim=1).permute(0, 2, 3, 1).reshape(-1, num_classes)  # (P, K)
    labels = labels.reshape(-1).long()
    if ignore_index is not None:
        probs, labels = probs[labels != ignore_index], labels[labels != ignore_index]
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1} (or be ignore_index), got "
            f"{labels.min().item()}..{labels.max().item()}"
        )
    losses = []
    for c in labels.unique().tolist():
        truth = (labels == c).to(probs.dtype)  # (P,)
        errors = (truth - probs[:, c]).abs()
        kept = errors > LOVASZ_CUT
        errors, order = errors[kept].sort(descending=True)
        truth_sorted = truth[kept][order]
        num_true = truth.sum()  # over ALL pixels: the cut drops only the end of the order
        intersection = num_true - truth_sorted.cumsum(0)  # |G - S_i|
        union = num_true + (1 - truth_sorted).cumsum(0)  # |G u S_i|
        jaccard = 1 - intersection / union  # D(S_i)
        increments = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
        losses.append(torch.dot(errors, increments))
    if not losses:  # every pixel ignored
        return scores.sum() * 0.0
    return torch.stack(losses).mean()


def train_segmenter(
    model: nn.Module,
    images,
    masks,
    seconds: float | None = None,
    epochs: float | None = None,
    batch_size: int = 16,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-4,
    warmup_steps: int = 50,
    class_weights=None,
    ignore_index: int | None = None,
    augment: bool = True,
    seed: int = 0,
    progress: bool = True,
    desc: str = "segmenter",
    num_steps: int | None = None,
    bf16: bool | None = None,
    prior_bias: bool = True,
    lovasz_weight: float = 0.0,
) -> dict:
    """Train `model` with per-pixel cross-entropy on images (N, 3, H, W) and masks (N, H, W).

    AdamW (weight decay on the conv weights only), a linear warm-up over warmup_steps and
    a half-cosine decay to 0 at the end; the end is `epochs` passes over the data (a
    fraction allowed), or the `seconds` budget, or whichever comes first (the schedule
    follows the larger of the two fractions done). Batches of batch_size images, a new
    order each epoch from a generator seeded with `seed`; with augment, each batch is
    flipped left-right (half the time) and turned by 0-3 quarter turns (every shape class
    is rotation invariant). class_weights (K,) and ignore_index go to F.cross_entropy.
    num_steps (optimizer steps) may replace epochs: a fixed step count whose result does not
    depend on how loaded the machine is (seconds then only a guard). bf16: run the forward
    pass under torch.autocast in bfloat16 (the loss stays float32); None does so where the
    device computes bfloat16 natively (blocks.detection.native_bf16).
    prior_bias: first set the output bias to the log class frequencies of `masks`
    (init_prior_bias; models without a `classifier`/`classifiers` conv are left alone).
    lovasz_weight: the loss is the cross-entropy plus this times lovasz_softmax_loss of the
    batch (a surrogate of 1 - IoU per class, unweighted); 0 trains with cross-entropy only.
    Given epochs or num_steps and no seconds a run is deterministic on a given machine.

    Returns a history dict: "loss" (the loss optimized, per step), "cross_entropy" (its
    cross-entropy part, per step), "steps", "seconds", "images_seen", "epochs", "log_prior"
    ((K,) set by prior_bias, or None).
    """
    from tqdm.auto import tqdm

    if epochs is None and seconds is None and num_steps is None:
        raise ValueError("give epochs, num_steps or seconds to say when training ends")
    if epochs is not None and num_steps is not None:
        raise ValueError("give epochs or num_steps, not both")
    if num_steps is not None and (
        isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1
    ):
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    if epochs is not None and not epochs > 0:
        raise ValueError(f"epochs must be > 0, got {epochs!r}")
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not lovasz_weight >= 0:
        raise ValueError(f"lovasz_weight must be >= 0, got {lovasz_weight!r}")
    X = as_image_tensor(images)
    y = _as_masks(masks, len(X), tuple(X.shape[2:]))
    device = _device(model)
    log_prior = None
    if prior_bias and _output_layers(model) is not None:
        log_prior = init_prior_bias(model, y.numpy(), ignore_index)
    weight = None if class_weights is None else torch.as_tensor(class_weights).float().to(device)
    ignore = -100 if ignore_index is None else int(ignore_index)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0}],
        lr=learning_rate,
    )
    batch_size = min(batch_size, len(X))
    steps_per_epoch = len(X) // batch_size
    if epochs is not None:
        num_steps = max(1, round(epochs * steps_per_epoch))
    bf16 = native_bf16(device) if bf16 is None else bool(bf16)
    rng = np.random.default_rng(seed)
    history: dict = {"loss": [], "cross_entropy": [], "log_prior": log_prior}
    bar = tqdm(total=num_steps, desc=desc, disable=not progress, unit="step")
    order, position, step = rng.permutation(len(X)), 0, 0
    # NOTE: channels-last makes a CPU pass through these small convs up to a third faster.
    model.to(memory_format=torch.channels_last)
    model.train()
    start = time.perf_counter()
    while (done := fraction_done(step, start, num_steps, seconds)) < 1:
        for group in optimizer.param_groups:
            group["lr"] = warmup_cosine_lr(step, done, learning_rate, warmup_steps)
        if position + batch_size > len(X):
            order, position = rng.permutation(len(X)), 0
        index = torch.as_tensor(order[position : position + batch_size])
        position += batch_size
        batch_X, batch_y = X[index], y[index]
        if augment:
            batch_X, batch_y = _turn(batch_X, batch_y, int(rng.integers(4)), bool(rng.integers(2)))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            scores = model(batch_X.to(device).contiguous(memory_format=torch.channels_last))
        scores, batch_y = scores.float(), batch_y.to(device)
        cross_entropy = F.cross_entropy(scores, batch_y, weight=weight, ignore_index=ignore)
        loss = cross_entropy
        if lovasz_weight > 0:
            loss = loss + lovasz_weight * lovasz_softmax_loss(scores, batch_y, ignore_index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history["loss"].append(loss.item())  # .item() waits for a GPU: the clock stays honest
        history["cross_entropy"].append(cross_entropy.item())
        step += 1
        bar.update(1)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{np.mean(history['loss'][-10:]):.3f}")
    bar.close()
    model.eval()
    history.update(
        steps=step,
        seconds=time.perf_counter() - start,
        images_seen=step * batch_size,
        epochs=step / steps_per_epoch,
    )
    return history


# The 8 symmetries of a square (the dihedral group): a left-right flip or not, then 0-3
# quarter turns, as _turn applies them in training.
DIHEDRAL_VIEWS = tuple((turns, flip) for flip in (False, True) for turns in range(4))


def _view(x: torch.Tensor, turns: int, flip: bool) -> torch.Tensor:
    """Maps (..., H, W) flipped left-right (if flip), then turned by `turns` quarter turns."""
    return torch.rot90(x.flip(-1) if flip else x, turns, (-2, -1))


def _unview(x: torch.Tensor, turns: int, flip: bool) -> torch.Tensor:
    """The inverse of _view: turned back, then flipped back."""
    x = torch.rot90(x, -turns, (-2, -1))
    return x.flip(-1) if flip else x


def _batch_scores(model: nn.Module, X: torch.Tensor, tta: bool, bf16: bool) -> torch.Tensor:
    """Float32 scores (B, K, H, W) of a batch on the model's device (see predict_scores)."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(X.device.type, dtype=torch.bfloat16, enabled=bf16):
            return model(x).float()

    if not tta:
        return forward(X)
    log_probs = torch.stack(
        [
            _unview(F.log_softmax(forward(_view(X, turns, flip)), dim=1), turns, flip)
            for turns, flip in DIHEDRAL_VIEWS
        ]
    )  # (8, B, K, H, W), each view's log softmax back in the image's frame
    # log of the mean probability, without the underflow of exp then log
    return torch.logsumexp(log_probs, dim=0) - math.log(len(DIHEDRAL_VIEWS))


@torch.no_grad()
def predict_scores(
    model: nn.Module, images, batch_size: int = 64, tta: bool = False, bf16: bool = False
) -> np.ndarray:
    """Class scores (N, K, H, W) float32 of images (N, 3, H, W) or (N, H, W, 3), in eval mode.

    tta (test-time augmentation): the model sees each image in the 8 flips and quarter
    turns of DIHEDRAL_VIEWS, each view's softmax is turned back to the image's frame, and
    the scores returned are the log of their mean (log-probabilities: their softmax is
    that mean). 8 forward passes; right where the labels turn with the image, as for the
    shape scenes. bf16: the forward passes under torch.autocast in bfloat16.
    """
    X = as_image_tensor(images)
    device = _device(model)
    model.eval()
    out = [
        _batch_scores(model, X[i : i + batch_size].to(device), tta, bf16).cpu()
        for i in range(0, len(X), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, 0, *X.shape[2:]), np.float32)


@torch.no_grad()
def predict_masks(
    model: nn.Module, images, batch_size: int = 64, tta: bool = False, bf16: bool = False
) -> np.ndarray:
    """Predicted label maps (N, H, W) int64: the argmax over the classes at every pixel of
    the scores of predict_scores (with its tta and bf16)."""
    X = as_image_tensor(images)
    device = _device(model)
    model.eval()
    out = [
        _batch_scores(model, X[i : i + batch_size].to(device), tta, bf16).argmax(dim=1).cpu()
        for i in range(0, len(X), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, *X.shape[2:]), np.int64)


def evaluate_segmenter(
    model: nn.Module,
    images,
    masks,
    num_classes: int,
    batch_size: int = 64,
    ignore_index: int | None = None,
    tta: bool = False,
    bf16: bool = False,
) -> dict:
    """Scores of `model` over a whole split, from ONE confusion matrix of all its pixels.

    Background (label 0) is a class like the others; tta and bf16 as in predict_scores.
    Returns a dict: "pixel_accuracy", "mean_iou" (classes absent from truth and prediction
    left out), "per_class_iou" (K,) (nan for those), "confusion" (K, K) int64 (rows truth,
    columns prediction).
    """
    X = as_image_tensor(images)
    y = np.asarray(masks)
    if y.shape != (len(X), *X.shape[2:]):
        raise ValueError(f"masks must be (N, H, W) = {(len(X), *X.shape[2:])}, got {y.shape}")
    conf = ConfusionMatrix(num_classes, ignore_index)
    for i in range(0, len(X), batch_size):
        predicted = predict_masks(model, X[i : i + batch_size], batch_size, tta, bf16)
        conf.update(y[i : i + batch_size], predicted)
    return {
        "pixel_accuracy": conf.pixel_accuracy(),
        "mean_iou": conf.mean_iou(),
        "per_class_iou": conf.per_class_iou(),
        "confusion": conf.matrix.copy(),
    }
