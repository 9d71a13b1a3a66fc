"""The digits classifier that scores generated samples (12_generative), on one scale for
every model: autoregressive, VAE, GAN and diffusion.

A small convnet reads 8x8 digits with pixels in [0, 1] (cs231n_lib.data.digits). It is
trained on the TRAINING split of digits.load(seed=DATA_SEED), so the validation split
(held-out real digits) and the test split stay unseen. From it:

- score_samples(images): the class probabilities, the penultimate layer's features, the
  class coverage (share of samples per class by argmax) and the mean top-class confidence.
- frechet_to_test(images): the Frechet distance between the features of the images and
  those of the test split (the FID formula with this classifier in place of Inception).
- frechet_floor(): the same for real held-out digits (the validation split) against the
  test split: what a perfect model would score at these sample sizes.

Generative models should train on the same training split (digits.load(seed=DATA_SEED)):
then neither the scorer nor the model has seen the test digits.

scorer(seed) trains on first use (on the CPU, one thread, seeded; a few seconds) and
caches the weights in config.data_dir() under a name with the data split, the model
version and the seed, through blocks.model_cache: a cached file is read before anything
is written (the grader's sandboxed kernels see the data directory read-only), a new one is
written atomically under a lock, so notebooks started together train once; without a
cache and a writable directory it trains in memory, once per process.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib import config
from cs231n_lib.blocks import model_cache
from cs231n_lib.data import digits
from cs231n_lib.metrics.generative import class_coverage, frechet_distance, mean_confidence

MODEL_VERSION = 1  # bump on any change of the network or its training
DATA_SEED = 0  # the digits split: the scorer trains on its train split, scores on its test
FEATURE_DIM = 64
NUM_CLASSES = 10
TRAINING = {  # AdamW on the 1,197 training digits: 760 steps, seconds on one CPU thread
    "num_epochs": 40,
    "batch_size": 64,
    "learning_rate": 3e-3,
    "weight_decay": 1e-4,
}
THREADS = 1  # training threads: the same weights on every machine with the same torch
SCALE_SLACK = 0.5  # pixel values beyond [-0.5, 1.5] mean the images are not in [0, 1]
_IN_MEMORY: dict[str, nn.Module] = {}
_SPLIT_FEATURES: weakref.WeakKeyDictionary = (
    weakref.WeakKeyDictionary()
)  # model -> split -> features


class DigitScorer(nn.Module):
    """Digits (N, 1, 8, 8) in [0, 1] -> class scores (N, 10); `features` gives the
    penultimate layer (N, FEATURE_DIM), after a ReLU."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, 4, 4)
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 64, 2, 2)
            nn.Flatten(),
            nn.Linear(64 * 2 * 2, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features(self, X: torch.Tensor) -> torch.Tensor:
        return self.body(X)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(X))


def as_digit_images(images) -> np.ndarray:
    """Digits in any layout, numpy or torch: (N, 64), (N, 8, 8), (N, 8, 8, 1) or
    (N, 1, 8, 8) -> (N, 1, 8, 8) float32, clipped to [0, 1].

    Raises ValueError for other shapes, and for values far outside [0, 1] (e.g. a tanh
    output in [-1, 1]: rescale it with (x + 1) / 2 first)."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images, dtype=np.float32)
    shapes = {(64,), (8, 8), (8, 8, 1), (1, 8, 8)}
    if images.ndim < 2 or images.shape[1:] not in shapes:
        raise ValueError(
            f"images must be 8x8 digits, (N, 64), (N, 8, 8), (N, 8, 8, 1) or (N, 1, 8, 8); "
            f"got shape {images.shape}"
        )
    if images.size and (
        images.min() < -SCALE_SLACK or images.max() > 1 + SCALE_SLACK or np.isnan(images).any()
    ):
        raise ValueError(
            f"images must hold pixels in [0, 1] like data.digits; these lie in "
            f"[{images.min():.3g}, {images.max():.3g}] (a tanh output in [-1, 1] needs "
            f"(x + 1) / 2)"
        )
    return np.clip(images.reshape(-1, 1, 8, 8), 0.0, 1.0)


def train_scorer(
    X: np.ndarray,
    y: np.ndarray,
    seed: int = 0,
    num_epochs: int = 40,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-4,
) -> DigitScorer:
    """Train a DigitScorer on digits X (any layout of as_digit_images) and labels y (N,), on
    the CPU with THREADS threads: AdamW, a cosine learning rate, batches in an order drawn
    from `seed` (which also seeds the weights; torch's global generator is left as it
    was). Returns the model in eval mode, on the CPU."""
    X = torch.as_tensor(as_digit_images(X))
    y = torch.as_tensor(np.asarray(y, dtype=np.int64))
    if len(X) != len(y):
        raise ValueError(f"{len(X)} images but {len(y)} labels")
    steps_per_epoch = -(-len(X) // batch_size)
    with torch.random.fork_rng(devices=[]), model_cache.threads(THREADS):
        torch.manual_seed(seed)
        model = DigitScorer()
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=learning_rate, weight_decay=weight_decay
        )
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=num_epochs * steps_per_epoch
        )
        generator = torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(num_epochs):
            order = torch.randperm(len(X), generator=generator)
            for start in range(0, len(X), batch_size):
                batch = order[start : start + batch_size]
                optimizer.zero_grad()
                F.cross_entropy(model(X[batch]), y[batch]).backward()
                optimizer.step()
                schedule.step()
    return model.eval()


def cache_path(seed: int = 0) -> Path:
    """Where scorer(seed) keeps its weights."""
    name = f"sample_scorer_digits{DATA_SEED}_model{MODEL_VERSION}_seed{seed}"
    return config.data_dir() / f"{name}.pt"


def scorer(seed: int = 0) -> DigitScorer:
    """The trained DigitScorer for training seed `seed`, in eval mode on config.device();
    trained on the first call and cached (see the module)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    path = cache_path(seed)
    key = str(path)
    if key not in _IN_MEMORY:
        _IN_MEMORY[key] = _load_or_train(path, seed)
    return _IN_MEMORY[key].to(config.device()).eval()


def _train(seed: int) -> DigitScorer:
    data = digits.load(seed=DATA_SEED, layout="nchw", dtype=np.float32)
    return train_scorer(data["X_train"], data["y_train"], seed=seed, **TRAINING)


def _load_or_train(path: Path, seed: int) -> DigitScorer:
    return model_cache.load_or_train(path, DigitScorer, lambda: _train(seed))


def warm_cache(seed: int = 0) -> bool:
    """Train and cache the weights for `seed` unless they are cached already, so that
    processes that only read the data directory (the grader's sandboxed kernels) find them.
    Returns True if the cache file exists afterwards."""
    scorer(seed)
    return cache_path(seed).is_file()


def _run(model: DigitScorer, images, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (N, 10), features (N, FEATURE_DIM)), float64, by batches."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    X = as_digit_images(images)
    device = next(model.parameters()).device
    probabilities, features = [], []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            batch = torch.as_tensor(X[start : start + batch_size], device=device)
            hidden = model.features(batch)
            probabilities.append(F.softmax(model.head(hidden).double(), dim=1).cpu())
            features.append(hidden.double().cpu())
    if not features:
        return np.zeros((0, NUM_CLASSES)), np.zeros((0, FEATURE_DIM))
    return torch.cat(probabilities).numpy(), torch.cat(features).numpy()


def score_samples(images, seed: int = 0, batch_size: int = 500) -> dict:
    """Score images (N >= 1 digits in [0, 1], any layout of as_digit_images) by scorer(seed).

    Returns a dict with
    - "probabilities": (N, 10) float64, the classifier's softmax;
    - "features": (N, FEATURE_DIM) float64, its penultimate layer;
    - "coverage": (10,) float64, the share of samples per class by argmax (sums to 1);
    - "confidence": float, the mean top-class probability.
    """
    probabilities, features = _run(scorer(seed), images, batch_size)
    if len(probabilities) == 0:
        raise ValueError("score_samples needs at least one image")
    return {
        "probabilities": probabilities,
        "features": features,
        "coverage": class_coverage(probabilities),
        "confidence": mean_confidence(probabilities),
    }


def _split_features(split: str, seed: int) -> np.ndarray:
    """scorer(seed)'s features of a split of digits.load(seed=DATA_SEED), kept per model."""
    model = scorer(seed)
    kept = _SPLIT_FEATURES.setdefault(model, {})
    if split not in kept:
        data = digits.load(seed=DATA_SEED, layout="nchw", dtype=np.float32)
        kept[split] = _run(model, data[f"X_{split}"], 500)[1]
    return kept[split]


def frechet_to_test(images, seed: int = 0) -> float:
    """Frechet distance between scorer(seed)'s features of `images` (N >= 2 digits in
    [0, 1]) and those of the 300 test digits of digits.load(seed=DATA_SEED).

    NOTE: the estimate grows as N shrinks; compare models at one N, and with frechet_floor.
    """
    features = _run(scorer(seed), images, 500)[1]
    return frechet_distance(features, _split_features("test", seed))


def frechet_floor(seed: int = 0) -> float:
    """frechet_to_test of real digits the scorer never saw: the 300 validation digits of
    digits.load(seed=DATA_SEED) against its 300 test digits."""
    return frechet_distance(_split_features("val", seed), _split_features("test", seed))


def scorer_accuracy(split: str = "test", seed: int = 0) -> float:
    """Accuracy of scorer(seed) on a split ("train", "val" or "test") of
    digits.load(seed=DATA_SEED)."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    data = digits.load(seed=DATA_SEED, layout="nchw", dtype=np.float32)
    probabilities = _run(scorer(seed), data[f"X_{split}"], 500)[0]
    return float((probabilities.argmax(axis=1) == data[f"y_{split}"]).mean())


__all__ = [
    "DATA_SEED",
    "FEATURE_DIM",
    "DigitScorer",
    "as_digit_images",
    "cache_path",
    "frechet_floor",
    "frechet_to_test",
    "score_samples",
    "scorer",
    "scorer_accuracy",
    "train_scorer",
    "warm_cache",
]
