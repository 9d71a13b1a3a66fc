"""Neural style transfer (Gatys et al. 2016) without a downloaded network (15_understanding).

The public courses optimize an image so that its features in an ImageNet network match a
content photo's features (content loss) and the Gram matrices of a style photo's features
(style loss), with a total-variation penalty for smoothness. Nothing can be downloaded
here, so the features come from one of two extractors, side by side:

- RandomFeatures: one layer of fixed random filters at several scales, then ReLU. Random
  filters already carry texture statistics (Ustyuzhaninov, Brendel, Gatys and Bethge 2016,
  texture synthesis with shallow random-filter networks): their Gram matrices say which
  local colour and edge patterns co-occur, without any training;
- LayerFeatures: the activations of chosen layers of a network the course trains (any
  module whose `features` is an nn.Sequential, or an nn.Sequential itself).

Images: float32 (H, W, 3) in [0, 1] (load_photos: scikit-learn's and scikit-image's bundled
photographs, resized). The optimized image lives in NORMALIZED space, one tensor
(1, 3, H, W) = (pixel - MEAN) / STD per channel (to_tensor; to_image goes back), as in the
public course; every extractor reads that tensor.

The student writes content_loss, gram_matrix, style_loss and tv_loss in the notebook;
style_transfer takes them in a dict and optimizes the image with Adam. RANDOM_SETTINGS and
LAYER_SETTINGS hold layers, weights and steps that were looked at for each extractor.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Fixed per-channel normalization (R, G, B) of to_tensor: the ImageNet statistics that the
# public course normalizes its photos with.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

# name -> (library, file or function): photographs that ship with the libraries, offline.
PHOTOS = {
    "china": ("sklearn", "china.jpg"),  # a temple roof and trees, 427 x 640
    "flower": ("sklearn", "flower.jpg"),  # a dahlia, 427 x 640
    "astronaut": ("skimage", "astronaut"),  # Eileen Collins, 512 x 512
    "coffee": ("skimage", "coffee"),  # a cup of coffee on a saucer, 400 x 600
    "chelsea": ("skimage", "chelsea"),  # a cat, 300 x 451
}
LOSS_NAMES = ("content_loss", "gram_matrix", "style_loss", "tv_loss")

# Settings that stylize the photos at 128 px visibly (style_transfer(content, style,
# extractor, **SETTINGS, losses=...)), chosen by looking at chelsea / china, astronaut /
# flower and coffee / china (1 CPU thread, on a machine shared with other work):
# - RandomFeatures(): 0.03-0.07 s per step (0.09-0.16 while the machine was busier); the
#   style loss falls 25-120 times by step 50, when the photo has taken the style's palette
#   and soft colour blobs; 200 steps settle it.
RANDOM_SETTINGS = {
    "content_layer": 0,  # 5 px windows: keeps the edges; the colours follow the style
    "style_layers": (0, 1, 2, 3),
    "content_weight": 3e-4,
    "style_weights": (1e3, 1e3, 1e3, 1e3),  # each scale's style loss starts at 0.1-0.7
    "tv_weight": 1e-3,
    "num_steps": 200,
    "learning_rate": 0.1,
}
# - LayerFeatures(net) of a ShapesNet (blocks.understanding: 4 conv-BN-ReLU stages of 16,
#   32, 64 and 128 channels, 2 x 2 max pooling before each stage but the first; a layer is a
#   stage's output, fields of view 3, 8, 18 and 38 px) trained as in
#   15_understanding/style_transfer.ipynb (the easy shapes at 32 x 32, 1,000 steps, 0.91
#   validation accuracy): 0.010-0.014 s per step. Its first style losses are 2e-4 to 3e-2,
#   15 to 3,000 times smaller than RandomFeatures' and unequal across stages, so each
#   stage's weight times its first loss is about 400-900 (china as the style), as for
#   RandomFeatures. By step 200: a grain of small dark and light marks and the style's
#   contrast, some of its colour; the style loss falls 50-120 times, still falling.
#   tv_weight 1e-2 turned the grain into a grid of dots, 0 into pixel noise.
LAYER_SETTINGS = {
    "content_layer": 1,  # the second stage, at half resolution: 8 px windows
    "style_layers": (0, 1, 2, 3),  # every stage (LayerFeatures' default layers)
    "content_weight": 1e-2,
    "style_weights": (1e5, 3e5, 2e6, 3e4),
    "tv_weight": 3e-3,
    "num_steps": 200,
    "learning_rate": 0.1,
}
INITS = ("content", "noise")


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _read_photo(name: str) -> np.ndarray:
    library, item = PHOTOS[name]
    if library == "sklearn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(item)
    import skimage.data

    return getattr(skimage.data, item)()


def load_photos(names: Sequence[str] | None = None, size: int = 128) -> dict[str, np.ndarray]:
    """The bundled photographs, resized so that the longer side has `size` pixels.

    Inputs:
    - names: keys of PHOTOS (None: all of them, in PHOTOS's order).
    - size: the longer side in pixels after resizing (aspect ratio kept, anti-aliased).

    Returns {name: float32 (H, W, 3) in [0, 1]}, max(H, W) == size.
    """
    if isinstance(names, str) or (names is not None and any(name not in PHOTOS for name in names)):
        raise ValueError(f"names must be a list of {sorted(PHOTOS)}, got {names!r}")
    names = list(PHOTOS) if names is None else list(names)
    _positive_int("size", size)
    from skimage.transform import resize
    from skimage.util import img_as_float32

    photos = {}
    for name in names:
        photo = img_as_float32(_read_photo(name))
        H, W = photo.shape[:2]
        shape = (max(1, round(H * size / max(H, W))), max(1, round(W * size / max(H, W))))
        resized = resize(photo, shape, anti_aliasing=True)
        photos[name] = np.clip(resized, 0.0, 1.0).astype(np.float32)
    return photos


def _channel_stats(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(MEAN, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    return mean, std


def to_tensor(image, device: torch.device | str | None = None) -> torch.Tensor:
    """An image (H, W, 3) in [0, 1] -> the normalized tensor (1, 3, H, W), float32:
    (pixel - MEAN) / STD per channel."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an image (H, W, 3), got shape {image.shape}")
    if image.min() < 0 or image.max() > 1:
        raise ValueError(f"expected pixels in [0, 1], got [{image.min():.3g}, {image.max():.3g}]")
    x = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).to(device)  # (1, 3, H, W)
    mean, std = _channel_stats(x)
    return ((x - mean) / std).contiguous()


def to_image(x: torch.Tensor) -> np.ndarray:
    """A normalized tensor (1, 3, H, W) or (3, H, W) -> the image (H, W, 3) float32,
    clipped to [0, 1]; the inverse of to_tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[:2] != (1, 3):
        raise ValueError(f"expected a tensor (1, 3, H, W) or (3, H, W), got {tuple(x.shape)}")
    mean, std = _channel_stats(x)
    pixels = (x.detach() * std + mean).clamp(0, 1)
    return pixels[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)  # (H, W, 3)


def valid_range(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel bounds (1, 3, 1, 1) of normalized tensors whose pixels are in [0, 1]."""
    mean, std = _channel_stats(like)
    return (0 - mean) / std, (1 - mean) / std


class RandomFeatures(nn.Module):
    """Fixed random filters at several scales: x (N, 3, H, W) -> a list of num_scales
    feature maps, scale s = ReLU(conv(x downsampled 2^s times)), (N, num_filters,
    H // 2^s, W // 2^s).

    Scale s convolves the image, shrunk by 2^s (bilinear, anti-aliased), with its own
    num_filters random kernel_size x kernel_size filters: a filter of scale s sees a window
    of kernel_size * 2^s pixels at 2^s-pixel resolution. With the defaults (5 x 5, 4 scales)
    scale 0 sees 5 px (colour, fine edges, grain), scale 1 10 px (edges and their
    orientation), scale 2 20 px (strokes, small blobs), scale 3 40 px (the arrangement of
    colour regions). Their Gram matrices (the texture statistics) say which of these local
    patterns co-occur; a scale-0 map, almost a linear function of the pixels, keeps the
    content.

    NOTE: one small kernel on a pyramid, not large kernels at full resolution
    (Ustyuzhaninov et al. 2016 use up to 55 x 55): kernels 3, 5, 7, 11 at full resolution
    reach 11 px at 3.5 times the cost per step on the CPU, and shrinking with plain average
    pooling (no anti-aliasing) printed its 8 px grid into the image.

    The filters are N(0, 1 / fan_in) (so every scale's ReLU outputs have about the same
    size), drawn from `seed`; they are buffers, not parameters: nothing here learns.
    """

    def __init__(
        self,
        kernel_size: int = 5,
        num_scales: int = 4,
        num_filters: int = 64,
        seed: int = 0,
        in_channels: int = 3,
    ):
        super().__init__()
        for name, value in (
            ("kernel_size", kernel_size),
            ("num_scales", num_scales),
            ("num_filters", num_filters),
            ("in_channels", in_channels),
        ):
            _positive_int(name, value)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (symmetric padding), got {kernel_size}")
        generator = torch.Generator().manual_seed(seed)
        fan_in = in_channels * kernel_size**2
        self.kernel_size, self.num_scales = kernel_size, num_scales
        for s in range(num_scales):
            shape = (num_filters, in_channels, kernel_size, kernel_size)
            filters = torch.randn(shape, generator=generator) / fan_in**0.5
            self.register_buffer(f"filters{s}", filters)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4:
            raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
        H, W = x.shape[2:]
        pad = self.kernel_size // 2
        coarsest = 2 ** (self.num_scales - 1)
        if min(H, W) // coarsest <= pad:
            raise ValueError(
                f"images {H} x {W} are too small for {self.num_scales} scales: the coarsest "
                f"(1/{coarsest}) must be more than {pad} px on each side"
            )
        feats = []
        for s in range(self.num_scales):
            xs = x
            if s > 0:
                size = (H // 2**s, W // 2**s)
                xs = F.interpolate(x, size=size, mode="bilinear", antialias=True)
            xs = F.pad(xs, (pad, pad, pad, pad), mode="reflect")
            feats.append(F.relu(F.conv2d(xs, getattr(self, f"filters{s}"))))
        return feats


def _as_sequential(network: nn.Module) -> nn.Sequential:
    if isinstance(network, nn.Sequential):
        return network
    features = getattr(network, "features", None)
    if isinstance(features, nn.Sequential):
        return features
    raise TypeError(
        f"expected an nn.Sequential or a module whose `features` is one, got "
        f"{type(network).__name__}"
    )


def _ends_in_relu(module: nn.Module) -> bool:
    if isinstance(module, nn.ReLU):
        return True
    return isinstance(module, nn.Sequential) and len(module) > 0 and _ends_in_relu(module[-1])


def relu_indices(network: nn.Module) -> list[int]:
    """Indices of the modules of an nn.Sequential (or of a module's `features`) whose output
    is a ReLU's: a ReLU, or a block (an nn.Sequential, such as a ShapesNet stage) whose last
    module is one."""
    return [i for i, layer in enumerate(_as_sequential(network)) if _ends_in_relu(layer)]


class LayerFeatures(nn.Module):
    """The activations after chosen layers of a trained network: x (N, 3, H, W) normalized
    by to_tensor -> [sequential[: i + 1](x') for i in layers], in the order of `layers`.

    Inputs:
    - network: an nn.Sequential, or a module whose `features` is one (its other parts,
      a classifier for instance, are not used). It is COPIED, in eval mode (batch norm uses
      its running statistics) with no gradient on its weights, so the caller's network is
      left as it was.
    - layers: distinct indices into the sequential (None: after every ReLU and
      every block that ends in one, relu_indices).
    - input_mean, input_std: the per-channel normalization the network was trained on,
      pixel' = (pixel - input_mean) / input_std; the default (0, 1) is a network trained on
      pixels in [0, 1], the course's convention. x is mapped from to_tensor's MEAN / STD to
      it first.
    """

    def __init__(
        self,
        network: nn.Module,
        layers: Sequence[int] | None = None,
        input_mean: Sequence[float] = (0.0, 0.0, 0.0),
        input_std: Sequence[float] = (1.0, 1.0, 1.0),
    ):
        super().__init__()
        sequential = _as_sequential(network)
        layers = relu_indices(sequential) if layers is None else list(layers)
        bad = [
            i
            for i in layers
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(sequential)
        ]
        if not layers or bad or len(set(layers)) != len(layers):
            raise ValueError(
                f"layers must be distinct ints in [0, {len(sequential) - 1}], got {layers!r}"
            )
        if len(input_mean) != 3 or len(input_std) != 3 or min(input_std) <= 0:
            raise ValueError(
                f"input_mean and input_std need 3 values (std > 0), got {input_mean!r}, "
                f"{input_std!r}"
            )
        self.layers = layers
        self.sequential = copy.deepcopy(sequential[: max(layers) + 1]).eval()
        self.sequential.requires_grad_(False)
        for module in self.sequential.modules():
            # NOTE: an in-place ReLU would overwrite a kept activation, and the tensor
            # autograd saved, of the layer before it.
            if getattr(module, "inplace", False):
                module.inplace = False
        # x' = x * scale + shift turns to_tensor's normalization into the network's.
        mean, std = torch.tensor(input_mean), torch.tensor(input_std)
        self.register_buffer("scale", (torch.tensor(STD) / std).view(1, 3, 1, 1))
        self.register_buffer("shift", ((torch.tensor(MEAN) - mean) / std).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> LayerFeatures:
        # NOTE: batch norm in train mode would normalize by the one image's statistics and
        # overwrite the running ones; an extractor stays in eval mode.
        super().train(mode)
        self.sequential.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x * self.scale + self.shift
        wanted = set(self.layers)
        found = {}
        for i, layer in enumerate(self.sequential):
            x = layer(x)
            if i in wanted:
                found[i] = x
        return [found[i] for i in self.layers]


def _check_losses(losses) -> dict[str, Callable]:
    if not isinstance(losses, Mapping):
        raise TypeError(f"losses must be a dict of {LOSS_NAMES}, got {type(losses).__name__}")
    missing = [name for name in LOSS_NAMES if name not in losses]
    extra = [name for name in losses if name not in LOSS_NAMES]
    if missing or extra:
        raise ValueError(
            f"losses must have exactly the keys {LOSS_NAMES}; missing {missing}, unknown {extra}"
        )
    for name in LOSS_NAMES:
        if not callable(losses[name]):
            raise TypeError(f"losses[{name!r}] must be a function, got {losses[name]!r}")
    return dict(losses)


def _check_layer(name: str, index, num_layers: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < num_layers:
        raise ValueError(
            f"{name} must be an int in [0, {num_layers - 1}] (the extractor gives "
            f"{num_layers} feature maps), got {index!r}"
        )
    return index


def _features(extractor: Callable, x: torch.Tensor) -> list[torch.Tensor]:
    feats = extractor(x)
    if not isinstance(feats, (list, tuple)) or not all(
        isinstance(f, torch.Tensor) and f.ndim == 4 for f in feats
    ):
        raise TypeError(
            f"the extractor must return a list of feature maps (N, C, H, W), got "
            f"{type(feats).__name__}"
        )
    return list(feats)


def style_transfer(
    content: np.ndarray,
    style: np.ndarray,
    extractor: Callable[[torch.Tensor], list[torch.Tensor]],
    content_layer: int,
    style_layers: Sequence[int],
    content_weight: float,
    style_weights: Sequence[float],
    tv_weight: float,
    losses: Mapping[str, Callable],
    num_steps: int = 200,
    learning_rate: float = 0.1,
    init: str = "content",
    seed: int = 0,
    progress: bool = True,
    snapshot_every: int | None = None,
) -> dict:
    """Optimize an image so that its features match the content photo's (content loss) and
    their Gram matrices the style photo's (style loss), smoothed by a total-variation loss
    (Gatys et al. 2016).

    Inputs:
    - content, style: images (H, W, 3) and (H', W', 3), floats in [0, 1] (load_photos); the
      sizes may differ, since a Gram matrix (C, C) does not depend on H and W.
    - extractor: normalized images x (1, 3, H, W) (to_tensor) -> a list of feature maps
      (1, C_l, H_l, W_l): RandomFeatures, LayerFeatures or any such function.
    - content_layer: the index in that list of the map the content loss compares.
    - style_layers, style_weights: the indices of the maps the style loss compares, and a
      weight for each.
    - content_weight, tv_weight: the weights of the content and total-variation losses.
    - losses: the student's functions {"content_loss", "gram_matrix", "style_loss",
      "tv_loss"}, called as content_loss(content_weight, feats[content_layer], target),
      gram_matrix(features) on the style photo's maps (once, for the targets),
      style_loss(feats, style_layers, style_targets, style_weights) and tv_loss(img,
      tv_weight), with img the normalized image tensor (1, 3, H, W) being optimized.
    - num_steps, learning_rate: Adam steps on the image, and their size in normalized units
      (the pixels 0 to 1 span about 4.4 of them).
    - init: "content" starts from the content photo, "noise" from uniform random pixels
      drawn from `seed`.
    - progress: show a tqdm bar. snapshot_every: keep the image every so many steps and
      after the last (None: no snapshots).

    Each step computes the features of the image, loss = content + style + TV, takes one
    Adam step and clamps the image so that its pixels stay in [0, 1].

    NOTE: Adam, not the L-BFGS of Gatys et al. On chelsea / china at 128 px with
    RandomFeatures, 20 s of one CPU thread took Adam (learning rate 0.1-0.2) to a loss of
    178-181 and L-BFGS (20 iterations per step, the image clamped after each) to 245: the
    clamp breaks L-BFGS's curvature estimates, and one Adam step is one forward and
    backward pass, so a slider or a snapshot sees progress after every step.

    Returns {"image": (H, W, 3) float32 in [0, 1]; "loss", "content_loss", "style_loss",
    "tv_loss": per step, each computed before that step's update; "snapshots": [(step,
    image)]; "seconds": the time of the loop}.
    """
    from tqdm.auto import tqdm

    losses = _check_losses(losses)
    _positive_int("num_steps", num_steps)
    if snapshot_every is not None:
        _positive_int("snapshot_every", snapshot_every)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if not callable(extractor):
        raise TypeError(f"extractor must be callable, got {type(extractor).__name__}")
    style_layers = list(style_layers)
    style_weights = [float(w) for w in style_weights]
    if not style_layers or len(style_weights) != len(style_layers):
        raise ValueError(
            f"style_weights needs one weight per style layer: {len(style_layers)} layers "
            f"{style_layers}, {len(style_weights)} weights"
        )
    for name, value in (("content_weight", content_weight), ("tv_weight", tv_weight)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)):
        raise TypeError(f"learning_rate must be a number, got {learning_rate!r}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    if min(style_weights) < 0:
        raise ValueError(f"style_weights must be >= 0, got {style_weights}")

    device = _extractor_device(extractor)
    content_x, style_x = to_tensor(content, device), to_tensor(style, device)
    with torch.no_grad():
        content_feats = _features(extractor, content_x)
        _check_layer("content_layer", content_layer, len(content_feats))
        for i, layer in enumerate(style_layers):
            _check_layer(f"style_layers[{i}]", layer, len(content_feats))
        content_target = content_feats[content_layer]
        style_feats = _features(extractor, style_x)
        style_targets = [losses["gram_matrix"](style_feats[i]) for i in style_layers]
    low, high = valid_range(content_x)
    if init == "content":
        img = content_x.clone()
    else:
        generator = torch.Generator().manual_seed(seed)
        noise = torch.rand(content_x.shape, generator=generator).to(device)
        img = low + noise * (high - low)
    img.requires_grad_(True)
    optimizer = torch.optim.Adam([img], lr=learning_rate)
    history: dict = {
        "loss": [],
        "content_loss": [],
        "style_loss": [],
        "tv_loss": [],
        "snapshots": [],
    }
    start = time.perf_counter()
    for step in tqdm(range(1, num_steps + 1), desc="style", leave=False, disable=not progress):
        feats = _features(extractor, img)
        c = losses["content_loss"](content_weight, feats[content_layer], content_target)
        s = losses["style_loss"](feats, style_layers, style_targets, style_weights)
        t = losses["tv_loss"](img, tv_weight)
        loss = c + s + t
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            img.clamp_(low, high)
        for key, value in (("loss", loss), ("content_loss", c), ("style_loss", s), ("tv_loss", t)):
            history[key].append(float(value.detach() if isinstance(value, torch.Tensor) else value))
        if snapshot_every is not None and (step % snapshot_every == 0 or step == num_steps):
            history["snapshots"].append((step, to_image(img)))
    history["seconds"] = time.perf_counter() - start
    history["image"] = to_image(img)
    return history


def _extractor_device(extractor) -> torch.device:
    if isinstance(extractor, nn.Module):
        for tensor in (*extractor.parameters(), *extractor.buffers()):
            return tensor.device
    return torch.device("cpu")
