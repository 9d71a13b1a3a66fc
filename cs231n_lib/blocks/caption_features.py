"""Image features for captioning: a small CNN trained by the course on the captioned shapes.

The public course captions photos from the features of a network pretrained on ImageNet.
Here a small convnet learns from pixels, on the TRAINING split of `cs231n_lib.data.captions`
only, to read the attributes its captions name, one softmax head per slot:

    size, colour, shape of the left (or upper) object, the layout (side by side, one above
    the other, or a single object), and size, colour, shape of the other one ("none")

The slots go by position, not by the caption's naming order: a convnet reads "the object
on the left" easily, and the order in which a caption names the objects is left for the
captioner to learn. Its penultimate layer, FEATURE_DIM values after a ReLU, is the image
feature. The features never see the generator's labels, only pixels.

feature_extractor(seed) trains once (on the CPU, seeded, with at most two threads, so
the weights do not depend on the machine's GPU) and caches the weights in
config.data_dir() under a name with the data and model versions, the budget and the seed;
blocks.model_cache reads a cached file before writing anything (a read-only data directory
that holds it loads it), and writes it atomically under a lock, so notebooks started
together train it once. Without a cache and a writable directory it trains in memory,
once per process. Two budgets: "full" (what a student runs) and "fast" (fast mode:
seconds, weaker features).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib import config
from cs231n_lib.blocks import model_cache
from cs231n_lib.data import captions as caption_data

MODEL_VERSION = 2  # bump on any change of the network or its training (2: fast budget)
FEATURE_DIM = 256
# (slot name, number of classes); "other_*" have a last class "none" for single objects.
HEADS = (
    ("size", 2),
    ("colour", 6),
    ("shape", 5),
    ("layout", 3),  # 0 side by side, 1 one above the other, 2 a single object
    ("other_size", 3),
    ("other_colour", 7),
    ("other_shape", 6),
)
BUDGETS = {  # training images (the first of the training split), optimizer steps, batch
    # fast: a few seconds (the grader warms it before a class, see warm_cache), weak features
    "fast": {"num_train": 2000, "num_steps": 80, "batch_size": 64},
    "full": {"num_train": 20000, "num_steps": 1600, "batch_size": 128},
}
GRID_LAYERS = 12  # body[:12] ends with the third block's pooling: (N, 64, 4, 4)
THREADS = 2  # at most; fewer where torch is set to fewer (OMP_NUM_THREADS=1 under CI)
_IN_MEMORY: dict[tuple[str, int], nn.Module] = {}


class CaptionFeatureCNN(nn.Module):
    """Images (N, 3, 32, 32) -> attribute scores (N, sum of HEADS' sizes); `features`
    gives the penultimate layer (N, FEATURE_DIM)."""

    def __init__(self):
        super().__init__()

        def block(c_in, c_out):
            return [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]

        self.body = nn.Sequential(
            *block(3, 24),  # (N, 24, 16, 16)
            *block(24, 48),  # (N, 48, 8, 8)
            *block(48, 64),  # (N, 64, 4, 4): positions survive for the layout
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, FEATURE_DIM),
            nn.ReLU(),
        )
        self.heads = nn.Linear(FEATURE_DIM, sum(n for _, n in HEADS))

    def features(self, X: torch.Tensor) -> torch.Tensor:
        return self.body(X)

    def grid(self, X: torch.Tensor) -> torch.Tensor:
        """The last convolutional block's map as tokens: (N, 16, 64), cells row-major."""
        return self.body[:GRID_LAYERS](X).flatten(2).transpose(1, 2)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.heads(self.body(X))


def feature_targets(captions: np.ndarray) -> np.ndarray:
    """Captions (N, L) of the captions data set -> slot targets (N, len(HEADS)) int64.

    The caption names its objects in its own order; the relation says which is left (or
    above): "a X left of a Y" and "a Y right of a X" both give X as the first slot.
    """
    slots = caption_data.caption_slots(captions)  # first, relation, second (naming order)
    relation = slots[:, 3]
    swap = np.isin(relation, [caption_data.RELATIONS.index(r) for r in ("right of", "below")])
    targets = slots.copy()
    targets[swap, 0:3], targets[swap, 4:7] = slots[swap, 4:7], slots[swap, 0:3]
    vertical = np.isin(relation, [caption_data.RELATIONS.index(r) for r in ("above", "below")])
    targets[:, 3] = np.where(relation == len(caption_data.RELATIONS), 2, vertical.astype(int))
    return targets


def _loss(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    parts = scores.split([n for _, n in HEADS], dim=1)
    return sum(F.cross_entropy(part, targets[:, j]) for j, part in enumerate(parts))


def predict_slots(model: CaptionFeatureCNN, X: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """The most likely class of each head, (N, len(HEADS)) int64, for images X."""
    scores = _run(model, X, batch_size, lambda m, x: m(x))
    parts = np.split(scores, np.cumsum([n for _, n in HEADS])[:-1], axis=1)
    return np.stack([part.argmax(axis=1) for part in parts], axis=1)


def slot_accuracy(model: CaptionFeatureCNN, X: np.ndarray, captions: np.ndarray) -> dict:
    """Accuracy of each head on images X and their captions, and "all" (every head right)."""
    right = predict_slots(model, X) == feature_targets(captions)
    result = {name: float(right[:, j].mean()) for j, (name, _) in enumerate(HEADS)}
    result["all"] = float(right.all(axis=1).mean())
    return result


def train_feature_extractor(
    X: np.ndarray,
    captions: np.ndarray,
    seed: int = 0,
    num_steps: int = 1600,
    batch_size: int = 128,
    learning_rate: float = 4e-3,
    progress: bool = False,
) -> CaptionFeatureCNN:
    """Train a CaptionFeatureCNN on images X (N, 3, 32, 32) and their captions (N, L), on
    the CPU with at most THREADS threads (fewer if torch has fewer): AdamW, a one-cycle
    learning rate, batches in an order drawn from `seed` (which also seeds the weights;
    torch's global generator is left as it was). Returns the model in eval mode, on the CPU."""
    from tqdm.auto import tqdm

    X = torch.as_tensor(_nchw(X))
    targets = torch.as_tensor(feature_targets(captions))
    with (
        torch.random.fork_rng(devices=[]),
        model_cache.threads(min(THREADS, torch.get_num_threads())),
    ):
        torch.manual_seed(seed)
        model = CaptionFeatureCNN()
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=learning_rate, total_steps=num_steps, pct_start=0.25
        )
        generator = torch.Generator().manual_seed(seed)
        model.train()
        order = torch.randperm(len(X), generator=generator)
        position = 0
        for _ in tqdm(range(num_steps), desc="caption features", disable=not progress):
            if position + batch_size > len(X):  # a new epoch: a new order
                order, position = torch.randperm(len(X), generator=generator), 0
            batch = order[position : position + batch_size]
            position += batch_size
            optimizer.zero_grad()
            _loss(model(X[batch]), targets[batch]).backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def cache_path(seed: int = 0, budget: str = "full") -> Path:
    """Where feature_extractor keeps the weights for `seed` and `budget`."""
    name = f"caption_features_data{caption_data.VERSION}_model{MODEL_VERSION}_{budget}_seed{seed}"
    return config.data_dir() / f"{name}.pt"


def feature_extractor(seed: int = 0, budget: str | None = None) -> CaptionFeatureCNN:
    """The trained CaptionFeatureCNN for `seed` (of the data and of the training), in eval
    mode on config.device(); trained on the first call and cached (see the module).

    budget: "full", "fast" or None (fast in fast mode, full otherwise).
    """
    budget = config.pick("fast", "full") if budget is None else budget
    if budget not in BUDGETS:
        raise ValueError(f"budget={budget!r} is not one of {sorted(BUDGETS)}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    path = cache_path(seed, budget)
    key = (str(path), seed)
    if key not in _IN_MEMORY:
        _IN_MEMORY[key] = _load_or_train(path, seed, budget)
    return _IN_MEMORY[key].to(config.device()).eval()


def _train(seed: int, budget: str) -> CaptionFeatureCNN:
    settings = BUDGETS[budget]
    data = caption_data.load(num_train=settings["num_train"], num_val=0, num_test=0, seed=seed)
    return train_feature_extractor(
        data["X_train"],
        data["y_train"],
        seed=seed,
        num_steps=settings["num_steps"],
        batch_size=settings.get("batch_size", 128),
    )


def _load_or_train(path: Path, seed: int, budget: str) -> CaptionFeatureCNN:
    return model_cache.load_or_train(path, CaptionFeatureCNN, lambda: _train(seed, budget))


def warm_cache(seed: int = 0, budget: str = "fast") -> bool:
    """Train and cache the weights for (seed, budget) unless they are cached already, so
    that processes that only read the data directory (the grader's sandboxed kernels)
    find them. Returns True if the cache file exists afterwards."""
    feature_extractor(seed, budget)
    return cache_path(seed, budget).is_file()


def _nchw(X: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(caption_data.to_images(X).transpose(0, 3, 1, 2), dtype=np.float32)


def _run(model: nn.Module, X: np.ndarray, batch_size: int, fn, empty=(FEATURE_DIM,)) -> np.ndarray:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    device = next(model.parameters()).device
    X = _nchw(X)
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            out.append(fn(model, torch.as_tensor(X[i : i + batch_size], device=device)).cpu())
    model.train(was_training)
    if not out:
        return np.zeros((0, *empty), dtype=np.float32)
    return torch.cat(out).numpy().astype(np.float32)


def image_features(
    X: np.ndarray, seed: int = 0, batch_size: int = 500, budget: str | None = None
) -> np.ndarray:
    """Features (N, FEATURE_DIM) float32 of images X (any layout of the captions data set),
    from feature_extractor(seed, budget), computed on config.device()."""
    model = feature_extractor(seed, budget)
    return _run(model, X, batch_size, lambda m, x: m.features(x))


def spatial_features(
    X: np.ndarray, seed: int = 0, batch_size: int = 500, budget: str | None = None
) -> np.ndarray:
    """Grid features (N, 16, 64) float32 of images X: the 4x4 cells of the feature CNN's last
    convolutional map (before its linear layer), row-major, each a 64-vector; the same
    trained network as image_features."""
    model = feature_extractor(seed, budget)
    return _run(model, X, batch_size, lambda m, x: m.grid(x), empty=(16, 64))


__all__ = [
    "BUDGETS",
    "FEATURE_DIM",
    "HEADS",
    "CaptionFeatureCNN",
    "cache_path",
    "feature_extractor",
    "feature_targets",
    "image_features",
    "predict_slots",
    "slot_accuracy",
    "spatial_features",
    "train_feature_extractor",
    "warm_cache",
]
