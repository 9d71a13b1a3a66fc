"""A small CLIP on the captioned shapes (16_self_supervised/clip.ipynb).

The notebook's student writes the cosine similarity, the symmetric contrastive loss, the
zero-shot classifier and top-k retrieval in its cells; this module holds everything
around them and takes the student's functions (or their results) as arguments:

- ImageEncoder: images (N, 3, 32, 32) -> embeddings (N, E), a small convnet whose last
  feature map is pooled to 2x2 and flattened, so that the embedding keeps where things
  are (captions say "left of", "above");
- TextEncoder: captions (N, L) of word indices -> embeddings (N, E). kind="gru" (the
  default) reads the words in order with a GRU and takes its state at the caption's
  <END>; word order matters here ("a red circle left of a blue square" and "a blue
  circle left of a red square" have the same words). kind="mean" averages the word
  embeddings of the non-<NULL> tokens: a bag of words, for comparison;
- train_clip: fixed-step AdamW (blocks.training.train_steps) on batches of (image,
  caption) pairs with the student's loss_fn(image_features, text_features, temperature)
  and a learnable temperature (log-parameterized, as CLIP's logit scale), seeded;
- encode_images / encode_texts: numpy in, (N, E) float32 numpy out, unnormalized;
- prompts, shape_prompts, colour_prompts, encode_prompts: prompt ensembles for zero-shot
  classification, each class the mean of the unit embeddings of every single-object
  caption that names it ("a <size> <colour> circle" for all sizes and colours);
- attributes, has_combination: the first-named object's size, colour and shape of each
  caption, whether it has one object, and which captions name a (colour, shape) pair;
- zero_shot_accuracy: accuracy, predictions and confusion matrix of the argmax over the
  classes of the student's similarity(prompt_features, image_features);
- retrieval_recall: recall@k of a similarity matrix (N_text, M_image): the share of
  captions with a right image among their k most similar; same_caption, the right images
  when captions repeat (every image whose caption is the same).

Images are float32 (N, 3, 32, 32) in [0, 1], the layout "nchw" of cs231n_lib.data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from cs231n_lib import config
from cs231n_lib.blocks.training import epoch_batches, predict_in_batches, train_steps
from cs231n_lib.data import captions as C

NUM_WORDS = len(C.VOCAB)
MAX_TEMPERATURE = 1.0  # clamps of the learned temperature (CLIP caps its logit scale at 100)
MIN_TEMPERATURE = 0.01


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_captions(captions, name: str = "captions") -> None:
    if not isinstance(captions, torch.Tensor) or captions.ndim != 2:
        shape = tuple(captions.shape) if hasattr(captions, "shape") else type(captions).__name__
        raise ValueError(f"{name} must be a torch tensor (N, L) of word indices, got {shape}")
    if captions.dtype.is_floating_point:
        raise ValueError(f"{name} must hold integer word indices, got {captions.dtype}")


# -- encoders ------------------------------------------------------------------------------


# Measured at 1 thread (seed 0, 20,000 training pairs, batches of 128, 1,500 steps of
# learning rate 2e-3, E = 64, the GRU text encoder; zero-shot on the one-object images of
# 2,000 test pairs): widths (16, 32, 64) took 153 s for shape 0.929, colour 1.000, recall@1
# 0.917 (an image with the same caption counts); widths (32, 64, 128) took 352 s for shape
# 0.944, colour 1.000, recall@1 0.934: the default is the cheaper one. The notebook's 2,000
# steps of the default took 175 s for shape 0.950, colour 1.000, recall@1 0.935, @5 0.999.


class ImageEncoder(nn.Module):
    """Images (N, 3, H, W) -> embeddings (N, embed_dim).

    One stage per entry of widths, each a 3x3 conv-BN-ReLU with a 2x2 max pooling before
    every stage but the first; the last feature map average-pooled to 2x2 and flattened
    (4 widths[-1] values: coarse positions survive), then a linear layer to embed_dim.
    """

    def __init__(
        self, embed_dim: int = 64, widths: Sequence[int] = (16, 32, 64), in_channels: int = 3
    ):
        super().__init__()
        embed_dim = _check_positive_int(embed_dim, "embed_dim")
        if len(widths) == 0:
            raise ValueError("widths must hold one width per stage, got none")
        layers: list[nn.Module] = []
        width_in = _check_positive_int(in_channels, "in_channels")
        for i, width in enumerate(widths):
            width = _check_positive_int(width, "widths[i]")
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(width_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)]
            layers.append(nn.ReLU())
            width_in = width
        layers.append(nn.AdaptiveAvgPool2d(2))
        self.features = nn.Sequential(*layers)
        self.projection = nn.Linear(4 * width_in, embed_dim)
        self.embed_dim = embed_dim

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if not isinstance(X, torch.Tensor) or X.ndim != 4:
            shape = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
            raise ValueError(f"X must be a torch tensor (N, C, H, W), got {shape}")
        return self.projection(self.features(X).flatten(1))  # (N, E)


class TextEncoder(nn.Module):
    """Captions (N, L) of word indices (<START>, words, <END>, <NULL> padding) ->
    embeddings (N, embed_dim).

    kind="gru": word embeddings (word_dim) read left to right by a one-layer GRU
    (hidden_dim); the embedding is a linear map of its state at the caption's last
    non-<NULL> token (the <END>). The GRU is causal, so the <NULL>s after it change nothing.
    kind="mean": the mean of the word embeddings of the non-<NULL> tokens, then a linear
    map (order-blind). Either way a caption's embedding does not depend on its padding.
    """

    KINDS = ("gru", "mean")

    def __init__(
        self,
        embed_dim: int = 64,
        kind: str = "gru",
        word_dim: int = 32,
        hidden_dim: int = 64,
        num_words: int = NUM_WORDS,
        null: int = C.NULL,
    ):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        embed_dim = _check_positive_int(embed_dim, "embed_dim")
        self.kind, self.null, self.embed_dim = kind, int(null), embed_dim
        self.words = nn.Embedding(_check_positive_int(num_words, "num_words"), word_dim)
        if kind == "gru":
            hidden_dim = _check_positive_int(hidden_dim, "hidden_dim")
            self.gru = nn.GRU(word_dim, hidden_dim, batch_first=True)
            self.projection = nn.Linear(hidden_dim, embed_dim)
        else:
            self.projection = nn.Linear(word_dim, embed_dim)

    def forward(self, captions: torch.Tensor) -> torch.Tensor:
        _check_captions(captions)
        mask = captions != self.null  # (N, L)
        lengths = mask.sum(dim=1)
        if bool((lengths == 0).any()):
            raise ValueError("every caption needs at least one token that is not <NULL>")
        words = self.words(captions)  # (N, L, word_dim)
        if self.kind == "mean":
            pooled = (words * mask[..., None]).sum(dim=1) / lengths[:, None]
            return self.projection(pooled)  # (N, E)
        # NOTE: the state at the last real token, not at position L - 1: the GRU would
        # otherwise read the padding too, and the embedding would depend on its length.
        states, _ = self.gru(words)  # (N, L, hidden_dim)
        last = states[torch.arange(len(captions), device=captions.device), lengths - 1]
        return self.projection(last)  # (N, E)


# -- training ------------------------------------------------------------------------------


class _Pair(nn.Module):
    """Both encoders and the log of the inverse temperature (CLIP's logit scale)."""

    def __init__(self, image_encoder: nn.Module, text_encoder: nn.Module, temperature: float):
        super().__init__()
        self.image_encoder, self.text_encoder = image_encoder, text_encoder
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def temperature(self) -> torch.Tensor:
        # exp(-s) clamped to the allowed range (a clamp, so the gradient stops at the edges).
        low, high = math.log(1 / MAX_TEMPERATURE), math.log(1 / MIN_TEMPERATURE)
        return torch.exp(-self.logit_scale.clamp(low, high))


def train_clip(
    image_encoder: nn.Module,
    text_encoder: nn.Module,
    X: np.ndarray,
    captions: np.ndarray,
    loss_fn: Callable,
    num_steps: int,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    seed: int = 0,
    temperature: float = 0.07,
    learn_temperature: bool = True,
    weight_decay: float = 1e-4,
    progress: bool = True,
    device=None,
    desc: str = "CLIP",
) -> dict:
    """Train both encoders with the student's contrastive loss for num_steps AdamW steps
    (a half-cosine learning rate from learning_rate to 0, blocks.training.train_steps).

    Inputs:
    - image_encoder: images (B, 3, H, W) -> (B, E); text_encoder: captions (B, L) -> (B, E).
    - X (N, 3, H, W) images in [0, 1] and captions (N, L) int word indices, pair by pair.
    - loss_fn(image_features (B, E), text_features (B, E), temperature): the student's loss,
      a scalar tensor; row i of both is pair i of the batch; the features are the encoders'
      raw outputs (not normalized); temperature is a 0-d tensor with gradient when
      learn_temperature, exp(-logit_scale) with logit_scale a parameter started at
      log(1 / temperature) and clamped to [log(1 / MAX_TEMPERATURE), log(1 / MIN_TEMPERATURE)].
    - Batches run through random permutations of the pairs (every pair once per epoch),
      drawn from seed, which also seeds everything else random (in a forked random state:
      the caller's is left as it was). The encoders are moved to device (None:
      config.device()) and left in eval mode.
    Returns {"loss": per-step losses, "temperature": per-step temperatures (before the
    step), "final_temperature", "seconds", "seconds_per_step"}.
    """
    if len(X) != len(captions):
        raise ValueError(f"{len(X)} images but {len(captions)} captions")
    if np.ndim(X) != 4 or np.ndim(captions) != 2:
        raise ValueError(
            f"expected images X (N, C, H, W) and captions (N, L), got {np.shape(X)} and "
            f"{np.shape(captions)}"
        )
    batch_size = _check_positive_int(batch_size, "batch_size")
    if batch_size < 2:
        raise ValueError("batch_size must be >= 2 (a contrastive loss needs negatives), got 1")
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        raise ValueError(
            f"temperature must lie in [{MIN_TEMPERATURE}, {MAX_TEMPERATURE}], got {temperature!r}"
        )
    device = config.device() if device is None else torch.device(device)
    pair = _Pair(image_encoder, text_encoder, temperature).to(device)
    pair.logit_scale.requires_grad_(learn_temperature)
    images = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    tokens = torch.as_tensor(np.asarray(captions), dtype=torch.int64)
    next_batch = epoch_batches(len(images), batch_size, torch.Generator().manual_seed(seed))
    temperatures: list[float] = []

    def batch_loss() -> torch.Tensor:
        batch = next_batch()
        image_features = pair.image_encoder(images[batch].to(device))
        text_features = pair.text_encoder(tokens[batch].to(device))
        tau = pair.temperature()
        temperatures.append(float(tau.detach()))
        loss = loss_fn(image_features, text_features, tau)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"loss_fn must return a scalar tensor, got {shape}")
        return loss

    decay = [p for name, p in pair.named_parameters() if name != "logit_scale"]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if learn_temperature:
        groups.append({"params": [pair.logit_scale], "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=learning_rate)
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        history = train_steps(pair, optimizer, num_steps, batch_loss, desc, progress)
    pair.eval()
    return {
        "loss": history["loss"],
        "temperature": temperatures,
        "final_temperature": float(pair.temperature().detach()),
        "seconds": history["seconds"],
        "seconds_per_step": history["seconds_per_step"],
    }


# -- encoding ------------------------------------------------------------------------------


def encode_images(image_encoder: nn.Module, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Embeddings (N, E) float32 numpy of images X (N, 3, H, W), the encoder in eval mode,
    without gradients, batch_size images at a time on its device (not normalized)."""
    if np.ndim(X) != 4:
        raise ValueError(f"X must be images (N, C, H, W), got shape {np.shape(X)}")
    return predict_in_batches(
        image_encoder, X, _check_positive_int(batch_size, "batch_size")
    ).numpy()


def encode_texts(
    text_encoder: nn.Module, captions: np.ndarray, batch_size: int = 1024
) -> np.ndarray:
    """Embeddings (N, E) float32 numpy of captions (N, L) of word indices, as encode_images."""
    tokens = torch.as_tensor(np.asarray(captions), dtype=torch.int64)
    _check_captions(tokens)
    batch_size = _check_positive_int(batch_size, "batch_size")
    device = next(text_encoder.parameters()).device
    text_encoder.eval()
    with torch.no_grad():
        out = [
            text_encoder(tokens[s : s + batch_size].to(device)).float().cpu()
            for s in range(0, len(tokens), batch_size)
        ]
    return torch.cat(out).numpy() if out else np.zeros((0, text_encoder.embed_dim), np.float32)


# -- prompts and labels --------------------------------------------------------------------


def _single_object_prompts(attribute: str) -> tuple[list[str], list[list[str]]]:
    """Class names of an attribute and, per class, every one-object caption naming it."""
    if attribute == "shape":
        return list(C.SHAPES), [
            [f"a {s} {c} {h}" for s in C.SIZES for c in C.COLOURS] for h in C.SHAPES
        ]
    if attribute == "colour":
        return list(C.COLOURS), [
            [f"a {s} {c} {h}" for s in C.SIZES for h in C.SHAPES] for c in C.COLOURS
        ]
    if attribute == "size":
        return list(C.SIZES), [
            [f"a {s} {c} {h}" for c in C.COLOURS for h in C.SHAPES] for s in C.SIZES
        ]
    raise ValueError(f"attribute must be 'shape', 'colour' or 'size', got {attribute!r}")


def prompts(attribute: str) -> dict:
    """The prompt ensemble of an attribute ("shape", "colour" or "size"): {"classes": K
    names, "texts": K lists of P captions, "tokens": (K, P, MAX_LENGTH) int64}. Class k's
    captions are all the one-object captions that name it, the other attributes running
    over all their values (shape: 12 per class, colour: 10, size: 30)."""
    classes, texts = _single_object_prompts(attribute)
    word_to_idx = {word: i for i, word in enumerate(C.VOCAB)}
    tokens = np.stack([C.encode_captions(group, word_to_idx) for group in texts])
    return {"classes": classes, "texts": texts, "tokens": tokens}


def shape_prompts() -> dict:
    """prompts("shape"): the 5 shapes, each averaged over 2 sizes x 6 colours."""
    return prompts("shape")


def colour_prompts() -> dict:
    """prompts("colour"): the 6 colours, each averaged over 2 sizes x 5 shapes."""
    return prompts("colour")


def encode_prompts(text_encoder: nn.Module, tokens: np.ndarray) -> np.ndarray:
    """Prompt-ensemble features (K, E) float32 of tokens (K, P, L): each caption's embedding
    scaled to unit length, then the mean over the P captions of a class (CLIP's prompt
    ensembling; the mean is not unit length again)."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 3:
        raise ValueError(f"tokens must be (K, P, L), got shape {tokens.shape}")
    K, P, L = tokens.shape
    features = encode_texts(text_encoder, tokens.reshape(K * P, L)).reshape(K, P, -1)
    norms = np.linalg.norm(features, axis=2, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).mean(axis=1).astype(np.float32)


def attributes(captions: np.ndarray) -> dict[str, np.ndarray]:
    """Of each caption (N, MAX_LENGTH) of the data set: its first-named object's "size",
    "colour" and "shape" (indices into captions.SIZES, COLOURS, SHAPES; (N,) int64), the
    second object's "second_size", "second_colour", "second_shape" (-1 where there is
    none) and "single" (N,) bool, whether the image holds one object only."""
    slots = C.caption_slots(np.asarray(captions))
    single = slots[:, 3] == len(C.RELATIONS)
    out = {"size": slots[:, 0], "colour": slots[:, 1], "shape": slots[:, 2], "single": single}
    for j, name in ((4, "second_size"), (5, "second_colour"), (6, "second_shape")):
        out[name] = np.where(single, -1, slots[:, j])
    return out


def has_combination(captions: np.ndarray, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """(N,) bool: whether a caption names an object whose (colour, shape) is one of pairs
    (either object of a two-object caption)."""
    for colour, shape in pairs:
        if colour not in C.COLOURS or shape not in C.SHAPES:
            raise ValueError(f"({colour!r}, {shape!r}) is not a (colour, shape) of the data")
    wanted = {(C.COLOURS.index(c), C.SHAPES.index(s)) for c, s in pairs}
    slots = C.caption_slots(np.asarray(captions))
    first = [(int(c), int(s)) in wanted for c, s in slots[:, [1, 2]]]
    second = [(int(c), int(s)) in wanted for c, s in slots[:, [5, 6]]]
    return np.array(first) | np.array(second)


# -- evaluation ----------------------------------------------------------------------------


def zero_shot_accuracy(
    similarity: Callable,
    image_features: np.ndarray,
    prompt_features: np.ndarray,
    labels: np.ndarray,
) -> dict:
    """Zero-shot classification by the student's similarity(prompt_features (K, E),
    image_features (M, E)) -> (K, M): each image's class is the argmax over the K classes
    (ties: the lower class). labels (M,) int in [0, K).
    Returns {"accuracy", "predicted" (M,) int64, "confusion" (K, K) int64, rows the true
    class, columns the predicted one}.
    """
    image_features, prompt_features = np.asarray(image_features), np.asarray(prompt_features)
    labels = np.asarray(labels)
    K, M = len(prompt_features), len(image_features)
    if labels.shape != (M,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be ({M},) integers, got {labels.dtype} {labels.shape}")
    if M and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(f"labels must lie in [0, {K}), got [{labels.min()}, {labels.max()}]")
    scores = similarity(prompt_features, image_features)
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    scores = np.asarray(scores)
    if scores.shape != (K, M):
        raise ValueError(f"similarity must return ({K}, {M}) (prompts, images), got {scores.shape}")
    predicted = scores.argmax(axis=0).astype(np.int64)
    confusion = np.zeros((K, K), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    accuracy = float(np.mean(predicted == labels)) if M else float("nan")
    return {"accuracy": accuracy, "predicted": predicted, "confusion": confusion}


def retrieval_recall(
    similarity: np.ndarray | torch.Tensor, k: int, relevant: np.ndarray | None = None
) -> float:
    """Recall@k of text-to-image retrieval: the share of captions (rows of similarity
    (N_text, M_image)) with at least one right image among their k most similar images.

    relevant (N_text, M_image) bool says which images are right for each caption (None: the
    identity, image i for caption i, which needs N_text <= M_image). Ties in similarity
    rank the lower image index first.
    """
    if isinstance(similarity, torch.Tensor):
        similarity = similarity.detach().cpu().numpy()
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.ndim != 2:
        raise ValueError(f"similarity must be (N_text, M_image), got shape {similarity.shape}")
    N, M = similarity.shape
    k = _check_positive_int(k, "k")
    if k > M:
        raise ValueError(f"k={k} is more than the {M} images")
    if relevant is None:
        if N > M:
            raise ValueError(f"the identity needs N_text <= M_image, got {N} > {M}")
        relevant = np.eye(N, M, dtype=bool)
    relevant = np.asarray(relevant, dtype=bool)
    if relevant.shape != (N, M):
        raise ValueError(f"relevant must be ({N}, {M}), got {relevant.shape}")
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]  # (N, k)
    hits = np.take_along_axis(relevant, top, axis=1).any(axis=1)
    return float(hits.mean()) if N else float("nan")


def same_caption(text_captions: np.ndarray, image_captions: np.ndarray) -> np.ndarray:
    """(N_text, M_image) bool: whether image j's caption is caption i (token for token up to
    the padding), the `relevant` of retrieval_recall when captions repeat."""
    text = np.asarray(text_captions)
    image = np.asarray(image_captions)
    if text.ndim != 2 or image.ndim != 2 or text.shape[1] != image.shape[1]:
        raise ValueError(
            f"captions (N, L) and (M, L) must share L, got {text.shape} and {image.shape}"
        )
    return (text[:, None, :] == image[None, :, :]).all(axis=2)
