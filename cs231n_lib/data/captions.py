"""Captioned shapes: seeded 32x32 colour images of one or two shapes, each with the one
caption a fixed template gives it ("a large red circle left of a small blue square").

The data set of 08_rnn's captioning (and of 09's transformer captioner and 16's CLIP). Each
image holds one object (40%) or two (60%); an object has a size (small, large), a colour
(red, green, blue, yellow, purple, white) and a shape (circle, square, triangle, diamond,
cross). Nuisances keep it from being trivial: every object is rotated by up to 10 degrees
and placed anywhere it fits, its colour jitters, the background is a dark random colour
with a gradient, and Gaussian noise covers everything.

The caption is unique by construction:

- one object: "a <size> <colour> <shape>";
- two objects: "a <first> <relation> a <second>", where <first> is the object that comes
  first in the order (large before small, then SHAPES order, then COLOURS order); the
  two objects of an image never share all three attributes, so the order is strict;
- <relation> says where the first object is relative to the second: the two centres are
  placed so that one axis clearly dominates (the offset along the other axis is at most
  half of it, and the objects do not overlap along the dominant one), and the relation is
  "left of" / "right of" (x of the first smaller / larger) on a horizontal pair, "above" /
  "below" (row of the first smaller / larger) on a vertical one.

Captions are int64 arrays (N, MAX_LENGTH): <START>, the words, <END>, then <NULL> padding.
The vocabulary VOCAB (also CLASSES, so y indexes CLASSES as in every data set) is fixed:
"<NULL>" 0, "<START>" 1, "<END>" 2, "<UNK>" 3, then WORDS. Every split has its own
generator drawn from `seed`, so the splits are disjoint draws and the size of one never
changes another. Shapes are drawn with scikit-image (skimage.draw).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cs231n_lib.data.layout import arrange, check_layout, check_sizes

DESCRIPTION = (
    "32x32 colour images of one or two shapes, each with its one canonical caption "
    "(procedural, offline): the captioning set of 08-09 and 16"
)
VERSION = 1  # bump on any change of the drawing; caches of trained features name it
IMAGE_SHAPE = (32, 32, 3)  # (H, W, C)
SIZES = ("small", "large")
COLOURS = ("red", "green", "blue", "yellow", "purple", "white")
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
RELATIONS = ("left of", "right of", "above", "below")
SPECIAL = ("<NULL>", "<START>", "<END>", "<UNK>")
WORDS = ("a", *SIZES, *COLOURS, *SHAPES, "left", "right", "of", "above", "below")
VOCAB = (*SPECIAL, *WORDS)
CLASSES = VOCAB
NULL, START, END, UNK = range(4)
# <START> a size colour shape left of a size colour shape <END>
MAX_LENGTH = 12

RGB = {  # nominal colour of each word, jittered per object
    "red": (0.90, 0.12, 0.10),
    "green": (0.12, 0.78, 0.18),
    "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.85, 0.10),
    "purple": (0.62, 0.18, 0.82),
    "white": (0.95, 0.95, 0.95),
}
RADIUS = {"small": (3.0, 3.8), "large": (5.0, 6.0)}  # px; a circle's radius
EXTENT = 1.2  # every shape, rotated, lies within EXTENT * radius of its centre
GAP = 1.0  # px between two objects' extents along the dominant axis
AXIS_RATIO = 0.5  # offset along the other axis <= AXIS_RATIO * offset along the dominant
TWO_OBJECTS_SHARE = 0.6
MAX_ANGLE = 10.0  # degrees, either way: a square never looks like a diamond
COLOUR_JITTER = 0.08  # added to each channel, uniform, either way
BRIGHTNESS = (0.8, 1.0)  # factor on an object's colour
BACKGROUND = (0.0, 0.25)  # per channel, the dark colour of the background
GRADIENT = (0.0, 0.15)  # amplitude of a linear ramp across the background
NOISE_STD = (0.01, 0.05)  # Gaussian noise over the image, per image

# Vertices (x right, y down) of each polygon shape at radius 1, before rotation.
# NOTE: math's cos and sin (the C library's) wherever a drawing depends on one: numpy's
# vectorized ones may differ in the last bit between CPUs, and the data must not.
_TRIANGLE = 1.15 * np.array(
    [[math.cos(a), -math.sin(a)] for a in map(math.radians, (90, 210, 330))]
)
_POLYGONS = {
    "square": 0.85 * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]),
    "diamond": 1.15 * np.array([[0, -1], [1, 0], [0, 1], [-1, 0]]),
    "triangle": _TRIANGLE,
    "cross": np.array([[-1.1, -0.38], [1.1, -0.38], [1.1, 0.38], [-1.1, 0.38]]),
}


def load(
    num_train: int | None = 20000,
    num_val: int = 1000,
    num_test: int = 1000,
    seed: int = 0,
    layout: str = "nchw",
    dtype: npt.DTypeLike = np.float32,
) -> dict:
    """Draw the three splits of captioned shapes.

    Inputs:
    - num_train, num_val, num_test: how many images each split holds (None: 20000 train).
    - seed: seed of the whole data set, so a split is the same on every machine.
    - layout: "flat" rows (N, 3072), "nhwc" (N, 32, 32, 3) or "nchw" (N, 3, 32, 32).
    - dtype: a floating dtype of the images.

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test, word_to_idx and
    idx_to_word. X arrays hold pixels in [0, 1]; y arrays are the CAPTIONS, int64 of shape
    (N, MAX_LENGTH) indexing idx_to_word (= list(VOCAB)); word_to_idx maps a word to its
    index.
    """
    check_layout(layout)
    num_train = check_sizes(num_train, num_val, num_test, default_train=20000)
    data: dict = {}
    for index, (split, count) in enumerate(
        (("train", num_train), ("val", num_val), ("test", num_test))
    ):
        # One generator per split, so the size of one split never changes another.
        images, captions = draw(count, np.random.default_rng([seed, index]))
        data[f"X_{split}"] = arrange(images, layout, dtype)
        data[f"y_{split}"] = captions
    data["word_to_idx"] = {word: i for i, word in enumerate(VOCAB)}
    data["idx_to_word"] = list(VOCAB)
    return data


# Every image takes NUM_DRAWS uniform numbers in [0, 1), one row of a (count, NUM_DRAWS)
# draw: name -> how many, in this order.
_DRAWS = {
    "two": 1,  # one object or two
    "attributes": 2,  # each object's (size, colour, shape)
    "radius": 2,
    "angle": 2,
    "place": 6,  # see _place
    "background": 5,  # colour (3), direction and amplitude of the ramp
    "noise": 1,  # its standard deviation
    "jitter": 6,  # each object's colour, per channel
    "brightness": 2,
}
NUM_DRAWS = sum(_DRAWS.values())
_CHUNK = 256  # images whose background and noise are made at once (stays in the cache)
_TRIPLES = [(s, c, h) for s in SIZES for c in COLOURS for h in SHAPES]
_GRID = (np.mgrid[0 : IMAGE_SHAPE[0], 0 : IMAGE_SHAPE[1]] / (IMAGE_SHAPE[0] - 1) - 0.5).astype(
    np.float32
)


def draw(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` images (count, 32, 32, 3) float32 in [0, 1] and their captions
    (count, MAX_LENGTH) int64. Image i depends only on row i of the draws and on the noise
    stream's i-th block, so a longer split extends a shorter one."""
    noise_rng = np.random.default_rng(rng.integers(2**63))
    draws = rng.random((count, NUM_DRAWS))
    images = np.empty((count, *IMAGE_SHAPE), dtype=np.float32)
    captions = np.full((count, MAX_LENGTH), NULL, dtype=np.int64)
    for start in range(0, count, _CHUNK):
        block = draws[start : start + _CHUNK]
        scenes = [scene(row) for row in block]
        canvas = images[start : start + len(block)]  # a view: drawn in place
        canvas[...] = background(block[:, _COLUMNS["background"]])
        for image, objects in zip(canvas, scenes, strict=True):
            paint(image, objects)
        noise = noise_rng.standard_normal(canvas.shape, dtype=np.float32)
        noise *= _scale(block[:, _COLUMNS["noise"]], NOISE_STD).astype(np.float32)[..., None, None]
        canvas += noise
        np.clip(canvas, 0.0, 1.0, out=canvas)
        for i, objects in enumerate(scenes, start=start):
            tokens = ["<START>", *caption_words(objects), "<END>"]
            captions[i, : len(tokens)] = [_WORD_INDEX[word] for word in tokens]
    return images, captions


def _slices() -> dict[str, slice]:
    """The columns of the draws that each name of _DRAWS takes."""
    ends = np.cumsum(list(_DRAWS.values()))
    return {name: slice(end - n, end) for (name, n), end in zip(_DRAWS.items(), ends, strict=True)}


_COLUMNS = _slices()
_WORD_INDEX = {word: i for i, word in enumerate(VOCAB)}


def _scale(u, bounds: tuple[float, float]):
    """Uniform numbers u in [0, 1) mapped onto [low, high)."""
    return bounds[0] + (bounds[1] - bounds[0]) * u


def scene(u: np.ndarray) -> list[dict]:
    """The objects of one image from its row of draws u (NUM_DRAWS,): one or two dicts
    with size, colour, shape (words), radius (px), angle (degrees), centre (x, y) in px
    and rgb (the jittered colour, (3,)); two objects never share all three attributes."""
    num_objects = 2 if u[_COLUMNS["two"]][0] < TWO_OBJECTS_SHARE else 1
    first, second = u[_COLUMNS["attributes"]]
    index = int(first * len(_TRIPLES))
    # The second is uniform over the other triples: an identical twin would make the
    # naming order ambiguous.
    other = int(second * (len(_TRIPLES) - 1))
    indices = [index, other + (other >= index)][:num_objects]
    radii, angles = u[_COLUMNS["radius"]], u[_COLUMNS["angle"]]
    jitter, brightness = u[_COLUMNS["jitter"]].reshape(2, 3), u[_COLUMNS["brightness"]]
    objects = []
    for k, triple in enumerate(indices):
        size, colour, shape = _TRIPLES[triple]
        rgb = np.asarray(RGB[colour]) + _scale(jitter[k], (-COLOUR_JITTER, COLOUR_JITTER))
        objects.append(
            {
                "size": size,
                "colour": colour,
                "shape": shape,
                "radius": _scale(radii[k], RADIUS[size]),
                "angle": _scale(angles[k], (-MAX_ANGLE, MAX_ANGLE)),
                "rgb": rgb * _scale(brightness[k], BRIGHTNESS),
            }
        )
    _place(objects, u[_COLUMNS["place"]])
    return objects


def _place(objects: list[dict], u: np.ndarray) -> None:
    """Set each object's centre (x, y) from six draws u: anywhere it fits for one object;
    for two, a dominant axis (either, by chance), the objects apart along it and close
    across it."""
    side = IMAGE_SHAPE[0] - 1  # centres in [extent, side - extent] keep a shape on the canvas
    extents = [EXTENT * obj["radius"] for obj in objects]
    if len(objects) == 1:
        objects[0]["centre"] = tuple(_scale(u[:2], (extents[0], side - extents[0])))
        return
    axis = int(u[0] < 0.5)  # 0: a horizontal pair (x differs), 1: a vertical one
    low, high = (0, 1) if u[1] < 0.5 else (1, 0)  # which object is on the low side
    e_low, e_high = extents[low], extents[high]
    apart = e_low + e_high + GAP
    pos_low = _scale(u[2], (e_low, side - e_high - apart))
    pos_high = _scale(u[3], (pos_low + apart, side - e_high))
    distance = pos_high - pos_low
    across_low = _scale(u[4], (e_low, side - e_low))
    across_high = _scale(
        u[5],
        (
            max(e_high, across_low - AXIS_RATIO * distance),
            min(side - e_high, across_low + AXIS_RATIO * distance),
        ),
    )
    for index, along, across in ((low, pos_low, across_low), (high, pos_high, across_high)):
        objects[index]["centre"] = (along, across) if axis == 0 else (across, along)


def _key(obj: dict) -> tuple[int, int, int]:
    """The naming order: large before small, then SHAPES order, then COLOURS order."""
    return (-SIZES.index(obj["size"]), SHAPES.index(obj["shape"]), COLOURS.index(obj["colour"]))


def relation(first: dict, second: dict) -> str:
    """Where `first` is relative to `second` (RELATIONS), from their centres (x, y): along
    the axis on which they are further apart."""
    dx = first["centre"][0] - second["centre"][0]
    dy = first["centre"][1] - second["centre"][1]
    if abs(dx) >= abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def caption_words(objects: list[dict]) -> list[str]:
    """The canonical caption of a scene as words, without <START> and <END>."""
    ordered = sorted(objects, key=_key)
    words = ["a", ordered[0]["size"], ordered[0]["colour"], ordered[0]["shape"]]
    if len(ordered) == 2:
        second = ordered[1]
        words += [*relation(*ordered).split(), "a", second["size"], second["colour"]]
        words.append(second["shape"])
    return words


def background(u: np.ndarray) -> np.ndarray:
    """Backgrounds (N, 32, 32, 3) float32 from draws u (N, 5): a dark colour (three
    draws) plus a linear ramp (its direction and amplitude)."""
    u = u.astype(np.float32)
    base = _scale(u[:, :3], BACKGROUND)
    direction = [2 * math.pi * float(v) for v in u[:, 3]]
    cos = np.array([math.cos(d) for d in direction], dtype=np.float32)[:, None, None]
    sin = np.array([math.sin(d) for d in direction], dtype=np.float32)[:, None, None]
    ramp = cos * _GRID[1] + sin * _GRID[0]
    ramp *= _scale(u[:, 4], GRADIENT)[:, None, None]  # in +-0.71 amplitude
    return base[:, None, None, :] + ramp[..., None]


def paint(image: np.ndarray, objects: list[dict]) -> None:
    """Draw `objects` (scene's dicts) in their colours onto `image` (32, 32, 3), in place."""
    from skimage.draw import disk, polygon

    shape = image.shape[:2]
    for obj in objects:
        x, y = obj["centre"]
        if obj["shape"] == "circle":
            pieces = [disk((y, x), obj["radius"], shape=shape)]
        else:
            cos, sin = math.cos(math.radians(obj["angle"])), math.sin(math.radians(obj["angle"]))
            rotation = np.array([[cos, -sin], [sin, cos]])
            outline = _POLYGONS[obj["shape"]]
            # A cross is two bars: the outline and its transpose.
            outlines = [outline, outline[:, ::-1]] if obj["shape"] == "cross" else [outline]
            pieces = []
            for vertices in outlines:
                points = obj["radius"] * vertices @ rotation.T + (x, y)
                pieces.append(polygon(points[:, 1], points[:, 0], shape=shape))
        for rows, cols in pieces:
            image[rows, cols] = obj["rgb"]


def decode_captions(captions: np.ndarray, idx_to_word: Sequence[str]) -> list[str]:
    """Captions (N, L) (or one caption (L,)) of word indices -> N strings: the words up to
    the first <END>, <NULL> and <START> left out, joined by spaces."""
    captions = np.asarray(captions)
    if captions.ndim == 1:
        captions = captions[None]
    if captions.ndim != 2 or not np.issubdtype(captions.dtype, np.integer):
        raise ValueError(
            f"captions must be integer word indices of shape (N, L), got {captions.dtype} "
            f"{captions.shape}"
        )
    if captions.size and (captions.min() < 0 or captions.max() >= len(idx_to_word)):
        raise ValueError(
            f"caption indices must lie in [0, {len(idx_to_word)}), got [{captions.min()}, "
            f"{captions.max()}]"
        )
    texts = []
    for row in captions:
        words = []
        for index in row:
            word = idx_to_word[index]
            if word == "<END>":
                break
            if word not in ("<NULL>", "<START>"):
                words.append(word)
        texts.append(" ".join(words))
    return texts


def encode_captions(
    texts: Sequence[str], word_to_idx: dict[str, int], max_length: int = MAX_LENGTH
) -> np.ndarray:
    """N strings of space-separated words -> captions (N, max_length) int64: <START>, the
    words (<UNK> for a word not in word_to_idx), <END>, <NULL> padding."""
    captions = np.full((len(texts), max_length), word_to_idx["<NULL>"], dtype=np.int64)
    for i, text in enumerate(texts):
        words = text.split()
        if len(words) + 2 > max_length:
            raise ValueError(
                f"caption {text!r} has {len(words)} words; at most {max_length - 2} fit in "
                f"max_length={max_length} with <START> and <END>"
            )
        indices = [word_to_idx.get(word, word_to_idx["<UNK>"]) for word in words]
        captions[i, : len(words) + 2] = [word_to_idx["<START>"], *indices, word_to_idx["<END>"]]
    return captions


# The slots of a caption, in order, and the words each can hold; a slot that a
# one-object caption leaves empty holds len(choices) ("none").
SLOTS = (
    ("size", SIZES),
    ("colour", COLOURS),
    ("shape", SHAPES),
    ("relation", RELATIONS),
    ("second_size", SIZES),
    ("second_colour", COLOURS),
    ("second_shape", SHAPES),
)


def caption_slots(captions: np.ndarray) -> np.ndarray:
    """Captions (N, MAX_LENGTH) of this data set -> slot values (N, len(SLOTS)) int64:
    for each slot the index of its word in the slot's choices, len(choices) when empty."""
    texts = decode_captions(captions, VOCAB)
    slots = np.empty((len(texts), len(SLOTS)), dtype=np.int64)
    for i, text in enumerate(texts):
        words = text.split()
        if len(words) == 4:
            parts = words[1:4] + [None] * 4
        else:
            rel = " ".join(words[4:-4])
            parts = [*words[1:4], rel, *words[-3:]]
        for j, ((name, choices), word) in enumerate(zip(SLOTS, parts, strict=True)):
            if word is not None and word not in choices:
                raise ValueError(f"caption {text!r} has {word!r} where its {name} belongs")
            slots[i, j] = len(choices) if word is None else choices.index(word)
    return slots


def to_images(X: np.ndarray) -> np.ndarray:
    """Images of this data set in any layout ("flat", "nhwc", "nchw") -> (N, 32, 32, 3)."""
    X = np.asarray(X)
    if X.ndim == 2 and X.shape[1] == np.prod(IMAGE_SHAPE):
        return X.reshape(len(X), *IMAGE_SHAPE)
    if X.ndim == 4 and X.shape[1:] == IMAGE_SHAPE:
        return X
    if X.ndim == 4 and X.shape[1:] == (IMAGE_SHAPE[2], *IMAGE_SHAPE[:2]):
        return X.transpose(0, 2, 3, 1)
    raise ValueError(f"expected images (N, 3072), (N, 32, 32, 3) or (N, 3, 32, 32), got {X.shape}")


def show_captions(
    X: np.ndarray,
    captions: np.ndarray,
    idx_to_word: Sequence[str] = VOCAB,
    predicted: np.ndarray | None = None,
    ncols: int = 5,
):
    """Show images with their captions under them (and `predicted` captions, (N, L), as a
    second line marked ok or x). Returns the matplotlib Figure."""
    from cs231n_lib.vis import image_grid

    truth = decode_captions(captions, idx_to_word)
    titles = [textwrap.fill(text, 24) for text in truth]
    if predicted is not None:
        guesses = decode_captions(predicted, idx_to_word)
        if len(guesses) != len(truth):
            raise ValueError(f"got {len(guesses)} predicted captions for {len(truth)} images")
        titles = [
            f"{title}\n{'ok' if guess == text else 'x'}: {textwrap.fill(guess, 24)}"
            for title, text, guess in zip(titles, truth, guesses, strict=True)
        ]
    return image_grid(to_images(X), titles=titles, ncols=ncols, cell_size=2.2, value_range=(0, 1))
