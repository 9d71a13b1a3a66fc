"""Shape scenes: seeded procedural images of several shapes, with boxes, class ids,
instance masks and semantic masks, for 10_detection and 11_segmentation.

Five classes, CLASSES = (circle, ring, square, triangle, cross), chosen to stay distinct
under any rotation: a circle has no corner, a ring a hole (its inner radius is RING_HOLE
of the outer one, so a 6 px ring still shows a few background pixels inside), a triangle
three corners, a square four (turned by 45 degrees it is a diamond, and still a square),
a cross (a plus sign, its arms CROSS_ARM of its length wide) four arms and concave
corners. A star was left out: under about 10 px it rasterizes to a blob that reads as a
circle or a cross. Even these five blur on a pixel grid when tiny, so each class has a
smallest size, LEGIBLE_SIZE (circle and ring 6 px, triangle 7, square and cross 10):
below it a turned square looks like a circle and a cross like a blob.

Every image is drawn in this order, each step from the image's own generator:

1. a background: (easy) a plain dark or light colour; (hard) a colour with texture:
   smooth colour noise (a coarse random grid, 2-6 cells a side, upsampled with smoothstep
   interpolation), stripes with a probability of one half (a clipped triangle wave of
   period 5-20 px at a random angle) and a linear gradient with a probability of one half;
2. distractors (hard only): 0-4 lumpy elongated blobs (polygons of 9 vertices, 2-4 times
   longer than wide, 10-30 px long) of any colour. No class is elongated, so no blob looks
   like an object; they are unlabelled (background in every record), and objects may
   cover them as they cover each other (below), so that a blob never shrinks to a
   fragment that could pass for a shape;
3. the objects, one after another, each drawn over the ones before it: a class (uniform),
   a size, a rotation (uniform, any angle), a sub-pixel offset, a position where the whole
   shape lies on the image, then a colour. A placement is redrawn when it breaks a rule:
   - size: the side of the full shape's box (the larger of width and height of the pixels
     the unoccluded shape covers) lies in `object_size`;
   - occlusion: an object may cover an earlier object or a distractor only if that
     keeps the share of its full area hidden <= `max_occlusion` and >= min(`min_visible`,
     its area) of its pixels visible (so a shape smaller than `min_visible` is never
     covered). The easy variant allows no overlap and keeps objects a pixel apart (they
     never touch);
   - contrast: C(colour, under) = the mean over the object's pixels of the mean over R, G,
     B of |colour - under|, where `under` is the noise-free canvas below the object when it
     is drawn (background, distractors and earlier objects), is >= `min_contrast`; so is
     the mean absolute RGB difference between its colour and the colour of every object
     or distractor it overlaps or touches (8-neighbourhood), so that two shapes never
     merge into one. Up to COLOUR_TRIES colours uniform in the RGB cube are tried, then the
     corner of the cube opposite the mean of `under`, then the placement is redrawn.
   A redrawn placement leaves no trace. After MAX_SHAPES shapes of POSITIONS places each
   the image keeps the objects it has (1 of 2,000 easy images, none of 2,000 hard ones).
4. pixel noise, of a standard deviation drawn per image (`noise_std`): a standard normal
   quantized to 256 levels (within +-2.9, drawn from a uniform byte, three times cheaper
   than a normal draw), then the image is clipped to [0, 1].

Records of an image (load returns them per split): `boxes` (K, 4) float32 pixels
(x1, y1, x2, y2) of the VISIBLE extent, x2 = last visible column + 1 (width = x2 - x1);
`labels` (K,) int64 class ids; `instances` (H, W) uint8, 0 background and k + 1 on the
visible pixels of object k (the order of the boxes, the drawing order: a later object
lies on top); `semantic` (H, W) uint8, 0 background and class + 1 on objects; `y` = the
class of the object with the largest visible area (the first drawn on a tie), a label for
classification. `draw_scene` returns one image with what made it (full masks, colours,
the background, the distractors), for tests and pictures.

Measured on 1,000 hard training images (seed 0): 4.55 objects per image (1-8, each count
105-148 images), each class 18-21% of the objects; sizes (px) 6-7: 3%, 8-11: 10%, 12-19:
25%, 20-40: 62%; 68% of the objects wholly visible, 32% partly hidden (mean hidden share
6%, 7% of the objects 30-40% hidden); contrast at least 0.2, median 0.33, 38% of the
objects under 0.3. As `y` the circle is the most common class (27%) and the triangle the
least (13%): at one box size a disk covers more pixels. Easy (seed 0): 2.54 objects per
image, 12-32 px, contrast at least 0.5 (median 0.57).

Determinism: image i of a split depends only on (seed, variant, split, i): its generator
is seeded with np.random.SeedSequence([seed, variant key, split index, i]), so a prefix
of a split is the same whatever size was asked, and no split changes another. The
drawing avoids what may differ in the last bit between CPUs (numpy's SIMD sin and cos,
BLAS products): pixel values come from additions and products, angles go through the
math module, shapes through scikit-image's skimage.draw (polygon, disk). Drawn at about
2 s per 1,000 hard images on one core; nothing is written to disk.

FROZEN: VERSION 1. Any change of the drawing must bump VERSION and update the
fingerprints pinned in tests/test_data_shapes.py.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cs231n_lib.data.layout import arrange, check_layout, check_sizes

DESCRIPTION = (
    "colour scenes of 1-8 rotated, occluded shapes on textured backgrounds with boxes, "
    "instance and semantic masks (procedural, offline): the detection and segmentation "
    "set of 10-11"
)
VERSION = 1
CLASSES = ("circle", "ring", "square", "triangle", "cross")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Variant:
    """The rules of one variant of the scenes (sizes in pixels, colours in [0, 1])."""

    key: int  # enters every image's seed, so the variants are independent draws
    image_size: int  # images are image_size x image_size
    num_objects: tuple[int, int]  # objects per image, inclusive range, uniform
    object_size: tuple[int, int]  # side of the full shape's box, inclusive range
    max_occlusion: float  # largest hidden share of an object's area; 0: no overlap, no touch
    min_visible: int  # an occluded object keeps at least this many pixels visible
    min_contrast: float  # mean absolute RGB difference to what is under and around it
    num_distractors: tuple[int, int]  # unlabelled irregular blobs, inclusive range
    distractor_size: tuple[int, int]
    noise_std: tuple[float, float]  # Gaussian pixel noise, its std drawn per image
    textured: bool  # smooth noise, stripes and gradients; else a plain colour
    notes: str = field(default="", compare=False)


VARIANTS = {
    "easy": Variant(
        key=0,
        image_size=64,
        num_objects=(1, 4),
        object_size=(12, 32),
        max_occlusion=0.0,
        min_visible=0,
        min_contrast=0.5,
        num_distractors=(0, 0),
        distractor_size=(0, 0),
        noise_std=(0.0, 0.02),
        textured=False,
        notes="64x64, 1-4 objects of 12-32 px apart from each other, plain background",
    ),
    "hard": Variant(
        key=1,
        image_size=96,
        num_objects=(1, 8),
        object_size=(6, 40),
        max_occlusion=0.4,
        min_visible=15,
        min_contrast=0.2,
        num_distractors=(0, 4),
        distractor_size=(10, 30),
        noise_std=(0.01, 0.06),
        textured=True,
        notes="96x96, 1-8 objects of 6-40 px, occlusion up to 40%, textures, distractors",
    ),
}

# The smallest size (px, side of the box) at which a person tells each class from the
# others at any angle: below 10 px a turned square rasterizes to a blob like a circle, a
# cross to a star-like blob; below 7 px a triangle to an arrowhead. Sizes are drawn
# uniform in [max(object_size low, this), object_size high].
LEGIBLE_SIZE = {"circle": 6, "ring": 6, "square": 10, "triangle": 7, "cross": 10}
RING_HOLE = 0.5  # inner radius of a ring / its outer radius
CROSS_ARM = 0.36  # width of a cross's arm / its length (tip to tip)
MAX_SHAPES = 20  # shapes drawn for one object before the image stops adding objects
POSITIONS = 10  # places tried for each of them
COLOUR_TRIES = 24  # random colours tried for one placement before the opposite corner
DISTRACTOR_VERTICES = 9
DISTRACTOR_RADII = (0.7, 1.0)  # of each vertex, before the squash
DISTRACTOR_ASPECT = (0.25, 0.5)  # its width / its length
DISTRACTOR_ID = 32  # ids of distractors in the drawing's owner map: 32, 33, ...
_CHUNK = 500  # images load draws before it arranges them into the layout
# Hard backgrounds: a base colour per channel, then texture amplitudes.
BASE_COLOUR = (0.15, 0.85)
SMOOTH_CELLS = (2, 6)  # cells a side of the coarse grid of smooth noise, inclusive
SMOOTH_AMPLITUDE = (0.05, 0.25)
STRIPE_PERIOD = (5.0, 20.0)  # px
STRIPE_AMPLITUDE = 0.2  # per channel, uniform in +-this
STRIPE_SHARPNESS = (1.0, 4.0)  # 1 a soft triangle wave, 4 nearly square stripes
GRADIENT_AMPLITUDE = 0.25  # per channel, uniform in +-this, over half the image's side
# Easy backgrounds: a dark or a light plain colour, so that contrast 0.5 stays reachable.
EASY_BACKGROUND = 0.3  # channels in [0, 0.3] (dark) or [0.7, 1] (light)

_SQRT3_2 = math.sqrt(3.0) / 2
_A = CROSS_ARM  # half-width of an arm, in units of half the arm length
# Outlines (x right, y down) before rotation and scaling; their scale is set afterwards.
_POLYGONS = {
    "square": np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]),
    "triangle": np.array([[0.0, -1.0], [_SQRT3_2, 0.5], [-_SQRT3_2, 0.5]]),
    # A cross is two bars, the outline and its transpose (two quadrilaterals rasterize
    # faster than one 12-gon: skimage tests every pixel of the box against every edge).
    "cross": np.array([[-1.0, -_A], [1.0, -_A], [1.0, _A], [-1.0, _A]]),
}


@dataclass
class Scene:
    """One drawn image and its records (see the module docstring), and what made it.

    image (H, W, 3) float32 in [0, 1]; boxes (K, 4) float32; labels (K,) int64;
    instances, semantic (H, W) uint8. What made it, for tests and inspection: background
    (H, W, 3) float32, the noise-free canvas before the first object (distractors
    included); colours (K, 3) float32; patches: per object (top, left, mask) with mask the
    full (unoccluded) shape (h, w) bool; distractors: per blob (top, left, mask, colour)
    in drawing order; noise_std of the image.
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    instances: np.ndarray
    semantic: np.ndarray
    background: np.ndarray
    colours: np.ndarray
    patches: list[tuple[int, int, np.ndarray]]
    distractors: list[tuple[int, int, np.ndarray, np.ndarray]]
    noise_std: float

    @property
    def label(self) -> int:
        """The class of the object with the largest visible area (the first on a tie)."""
        areas = np.bincount(self.instances.ravel(), minlength=len(self.labels) + 1)[1:]
        return int(self.labels[int(np.argmax(areas))])

    def full_masks(self) -> np.ndarray:
        """(K, H, W) bool: each object's full shape, occluded parts included."""
        masks = np.zeros((len(self.patches), *self.instances.shape), dtype=bool)
        for k, (top, left, mask) in enumerate(self.patches):
            masks[k, top : top + mask.shape[0], left : left + mask.shape[1]] = mask
        return masks


def check_variant(variant: str) -> Variant:
    """The Variant named `variant`, or a ValueError naming the choices."""
    if variant not in VARIANTS:
        raise ValueError(
            f"variant={variant!r} is not one of {sorted(VARIANTS)}: 'easy' (64x64, few "
            f"separated shapes) or 'hard' (96x96, occluded shapes on textures)"
        )
    return VARIANTS[variant]


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def load(
    num_train: int | None = None,
    num_val: int = 1000,
    num_test: int = 1000,
    seed: int = 0,
    layout: str = "nhwc",
    dtype: npt.DTypeLike = np.float32,
    variant: str = "hard",
) -> dict:
    """Draw the three splits of shape scenes.

    Inputs:
    - num_train, num_val, num_test: images per split (None: 8000 train).
    - seed: seed of the whole data set (a non-negative int).
    - layout: "flat" (N, H*W*3), "nhwc" (N, H, W, 3) or "nchw" (N, 3, H, W).
    - dtype: a floating dtype of the images.
    - variant: "hard" (96x96) or "easy" (64x64), see VARIANTS.

    Returns a dict with, for each split s in train, val, test:
    - X_s: images in [0, 1] (RGB) in `layout`;
    - y_s (N,) int64: the class of the object with the largest visible area;
    - boxes_s: a list of N float32 arrays (K_i, 4), visible extent (x1, y1, x2, y2) in px;
    - labels_s: a list of N int64 arrays (K_i,), class ids indexing CLASSES;
    - instances_s (N, H, W) uint8: 0 background, k + 1 on the visible pixels of object k;
    - semantic_s (N, H, W) uint8: 0 background, class + 1 on the objects.
    """
    spec = check_variant(variant)
    check_layout(layout)
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"dtype must be a floating type such as np.float32, got {np.dtype(dtype)}")
    seed = _check_seed(seed)
    num_train = check_sizes(num_train, num_val, num_test, default_train=8000)
    side = spec.image_size
    data: dict = {}
    for split, count in zip(SPLITS, (num_train, num_val, num_test), strict=True):
        shape = (count, side * side * 3) if layout == "flat" else (count, side, side, 3)
        if layout == "nchw":
            shape = (count, 3, side, side)
        X = np.empty(shape, dtype=dtype)
        instances = np.empty((count, side, side), dtype=np.uint8)
        semantic = np.empty((count, side, side), dtype=np.uint8)
        y = np.empty(count, dtype=np.int64)
        boxes, labels = [], []
        # Drawn in chunks: the float32 (N, H, W, 3) copy stays small whatever the layout.
        images = np.empty((min(_CHUNK, count), side, side, 3), dtype=np.float32)
        for start in range(0, count, _CHUNK):
            stop = min(start + _CHUNK, count)
            for i in range(start, stop):
                scene = draw_scene(seed, split, i, variant)
                images[i - start] = scene.image
                instances[i], semantic[i] = scene.instances, scene.semantic
                y[i] = scene.label
                boxes.append(scene.boxes)
                labels.append(scene.labels)
            X[start:stop] = arrange(images[: stop - start], layout, dtype)
        data.update(
            {
                f"X_{split}": X,
                f"y_{split}": y,
                f"boxes_{split}": boxes,
                f"labels_{split}": labels,
                f"instances_{split}": instances,
                f"semantic_{split}": semantic,
            }
        )
    return data


def draw_scene(seed: int, split: str, index: int, variant: str = "hard") -> Scene:
    """Image `index` of `split` ("train", "val", "test") of the data set drawn from `seed`:
    the same image load returns there, with what made it (Scene)."""
    spec = check_variant(variant)
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not one of {SPLITS}")
    sequence = np.random.SeedSequence([_check_seed(seed), spec.key, SPLITS.index(split), index])
    return _draw(spec, np.random.default_rng(sequence))


def _draw(spec: Variant, rng: np.random.Generator) -> Scene:
    side = spec.image_size
    # NOTE: channels first while drawing: numpy broadcasts over a last axis of 3 slowly.
    canvas = _background(spec, rng)  # (3, H, W) float32, noise-free
    owner = np.zeros((side, side), dtype=np.uint8)  # 0, k + 1 objects, DISTRACTOR_ID + d
    colours = {}  # owner id -> colour (3,)
    # Full and visible pixels of each owner id (objects and distractors), for occlusion.
    areas, visible = np.zeros(256, dtype=np.int64), np.zeros(256, dtype=np.int64)
    distractors = []
    for d in range(int(rng.integers(spec.num_distractors[0], spec.num_distractors[1] + 1))):
        mask = _blob(float(rng.uniform(*spec.distractor_size)), rng)
        top, left = _position(mask.shape, side, rng)
        colour = rng.random(3, dtype=np.float32)
        h, w = mask.shape
        visible -= np.bincount(owner[top : top + h, left : left + w][mask], minlength=256)
        _paint(canvas, owner, top, left, mask, colour, DISTRACTOR_ID + d)
        areas[DISTRACTOR_ID + d] = visible[DISTRACTOR_ID + d] = mask.sum()
        colours[DISTRACTOR_ID + d] = colour
        distractors.append((top, left, mask, colour))
    background = canvas.copy().transpose(1, 2, 0)  # (H, W, 3), a view

    labels, patches, object_colours = [], [], []
    for k in range(int(rng.integers(spec.num_objects[0], spec.num_objects[1] + 1))):
        placed = _place_object(spec, rng, canvas, owner, colours, areas, visible)
        if placed is None:
            break  # no room for another object: keep those drawn
        label, top, left, mask, colour, covered = placed
        _paint(canvas, owner, top, left, mask, colour, k + 1)
        colours[k + 1] = colour
        visible -= covered
        areas[k + 1] = visible[k + 1] = mask.sum()
        labels.append(label)
        patches.append((top, left, mask))
        object_colours.append(colour)

    if not labels:
        raise RuntimeError(f"no object fits on an image of variant {spec}: relax its rules")
    instances = np.where(owner <= len(labels), owner, 0).astype(np.uint8)
    lut = np.array([0, *(c + 1 for c in labels)], dtype=np.uint8)
    boxes = np.zeros((len(labels), 4), dtype=np.float32)
    for k, (rows, cols) in enumerate(_find_objects(instances, len(labels))):
        boxes[k] = (cols.start, rows.start, cols.stop, rows.stop)
    noise_std = float(rng.uniform(*spec.noise_std))
    noise = np.take(_gaussian_levels(), rng.integers(0, 256, canvas.shape, dtype=np.uint8))
    noise *= np.float32(noise_std)
    noise += canvas
    image = np.clip(noise, 0.0, 1.0, out=noise).transpose(1, 2, 0)  # (H, W, 3), a view
    return Scene(
        image=image,
        boxes=boxes,
        labels=np.array(labels, dtype=np.int64),
        instances=instances,
        semantic=lut[instances],
        background=background,
        colours=np.array(object_colours, dtype=np.float32).reshape(-1, 3),
        patches=patches,
        distractors=distractors,
        noise_std=noise_std,
    )


@functools.cache
def _gaussian_levels() -> np.ndarray:
    """256 quantiles of the standard normal, rounded to 1/4096: pixel noise is one of
    them per channel, drawn from a uniform byte (three times cheaper than a normal draw).
    Made on first use, not at import: importing scipy would cost every notebook."""
    from scipy.special import ndtri

    levels = ndtri((np.arange(256) + 0.5) / 256)
    levels = (np.round(levels * 4096) / 4096).astype(np.float32)  # std 0.997, within +-2.89
    levels.setflags(write=False)  # shared by every call
    return levels


def _paint(canvas, owner, top, left, mask, colour, owner_id) -> None:
    """Paint `mask` (h, w) at (top, left) in `colour` (3,) and give its pixels to `owner_id`."""
    h, w = mask.shape
    canvas[:, top : top + h, left : left + w][:, mask] = colour[:, None]
    owner[top : top + h, left : left + w][mask] = owner_id


def _find_objects(instances: np.ndarray, count: int):
    from scipy.ndimage import find_objects

    return find_objects(instances, max_label=count)


def _place_object(spec, rng, canvas, owner, colours, areas, visible):
    """Draw the next object until a placement keeps every rule (at most MAX_SHAPES shapes,
    POSITIONS places each): (label, top, left, mask, colour, covered), or None. areas and
    visible (256,) count the full and visible pixels of each owner id; covered (256,) the
    pixels of each that the object hides."""
    side = spec.image_size
    least = np.minimum(spec.min_visible, areas)  # visible pixels each shape keeps
    most_hidden = spec.max_occlusion * areas
    for _ in range(MAX_SHAPES):
        label = int(rng.integers(len(CLASSES)))
        low = max(spec.object_size[0], LEGIBLE_SIZE[CLASSES[label]])
        size = float(rng.uniform(low, spec.object_size[1]))
        angle, dy, dx = float(rng.uniform(0.0, 360.0)), float(rng.random()), float(rng.random())
        mask = _shape(CLASSES[label], size, angle, (dy, dx))
        h, w = mask.shape
        if not spec.object_size[0] <= max(h, w) <= spec.object_size[1]:
            continue
        # What the shape covers or touches: its mask grown by one pixel (8-neighbourhood).
        wide = np.zeros((h + 2, w + 2), dtype=bool)
        wide[1:-1, 1:-1] = mask
        wide[1:-1, :-2] |= mask
        wide[1:-1, 2:] |= mask
        grown = wide.copy()
        grown[:-1] |= wide[1:]
        grown[1:] |= wide[:-1]
        for _ in range(POSITIONS):
            top, left = _position(mask.shape, side, rng)
            t0, t1 = max(top - 1, 0), min(top + h + 1, side)
            l0, l1 = max(left - 1, 0), min(left + w + 1, side)
            ring = grown[t0 - top + 1 : t1 - top + 1, l0 - left + 1 : l1 - left + 1]
            near = owner[t0:t1, l0:l1][ring]
            if spec.max_occlusion == 0:
                if near.any():
                    continue  # easy: objects never overlap nor touch
                covered = np.zeros(256, dtype=np.int64)
            else:
                covered = np.bincount(owner[top : top + h, left : left + w][mask], minlength=256)
                covered[0] = 0
                # Only the shapes it covers: one hidden by distractors alone stays as it is.
                left_visible = visible - covered
                broken = (left_visible < least) | (areas - left_visible > most_hidden)
                if (broken & (covered > 0)).any():
                    continue
            under = canvas[:, top : top + h, left : left + w][:, mask]  # (3, P)
            colour = _colour(spec, rng, under, near, colours)
            if colour is not None:
                return label, top, left, mask, colour, covered
    return None


def _colour(spec, rng, under, near, colours):
    """A colour (3,) for an object over `under` (3, P), the noise-free pixels below it,
    that keeps the contrast rule against them and against the colours of the owners in
    `near` (the ids under and around it); None if none of the tries does."""
    candidates = rng.random((COLOUR_TRIES, 3), dtype=np.float32)
    neighbours = [colours[int(i)] for i in np.flatnonzero(np.bincount(near)) if i > 0]
    scale = 1.0 / under.size
    for colour in candidates:
        if _keeps_contrast(spec, colour, under, scale, neighbours):
            return colour
    opposite = (under.mean(axis=1) <= 0.5).astype(np.float32)  # the cube's far corner
    return opposite if _keeps_contrast(spec, opposite, under, scale, neighbours) else None


def _keeps_contrast(spec, colour, under, scale, neighbours) -> bool:
    if float(np.abs(under - colour[:, None]).sum()) * scale < spec.min_contrast:
        return False
    return all(float(np.abs(colour - c).sum()) / 3 >= spec.min_contrast for c in neighbours)


def _position(shape: tuple[int, int], side: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a (h, w) patch, uniform over the places where it fits."""
    top = int(rng.integers(0, side - shape[0] + 1))
    left = int(rng.integers(0, side - shape[1] + 1))
    return top, left


def _rasterized(rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """Pixels (rr, cc) -> the (h, w) bool mask of their bounding box."""
    r0, c0 = int(rr.min()), int(cc.min())
    mask = np.zeros((int(rr.max()) - r0 + 1, int(cc.max()) - c0 + 1), dtype=bool)
    mask[rr - r0, cc - c0] = True
    return mask


def _shape(name: str, size: float, angle: float, offset: tuple[float, float]) -> np.ndarray:
    """The pixels (h, w) bool of shape `name` whose rotated outline spans `size` px (its
    larger side), turned by `angle` degrees, shifted by `offset` (dy, dx) in [0, 1) px;
    cropped to the pixels it covers."""
    from skimage.draw import disk, polygon

    dy, dx = offset
    if name in ("circle", "ring"):
        radius = size / 2
        centre = (radius + 0.5 + dy, radius + 0.5 + dx)
        rr, cc = disk(centre, radius)
        mask = _rasterized(rr, cc)
        if name == "ring":
            inner_rr, inner_cc = disk(centre, RING_HOLE * radius)  # inside the outer disk
            mask[inner_rr - rr.min(), inner_cc - cc.min()] = False
        return mask
    # NOTE: math's cos and sin and Python floats for the few vertices: the same to the
    # last bit on every CPU (numpy's SIMD sin/cos and matrix products need not be).
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    outlines = [_POLYGONS[name].tolist()]
    if name == "cross":
        outlines.append([[y, x] for x, y in outlines[0]])
    xs = [[cos * x - sin * y for x, y in outline] for outline in outlines]
    ys = [[sin * x + cos * y for x, y in outline] for outline in outlines]
    x0, y0 = min(map(min, xs)), min(map(min, ys))
    scale = size / max(max(map(max, xs)) - x0, max(map(max, ys)) - y0)
    rr, cc = [], []
    for xo, yo in zip(xs, ys, strict=True):
        rows = np.array([(y - y0) * scale + 0.5 + dy for y in yo])
        cols = np.array([(x - x0) * scale + 0.5 + dx for x in xo])
        r, c = polygon(rows, cols)
        rr.append(r)
        cc.append(c)
    return _rasterized(np.concatenate(rr), np.concatenate(cc))


def _blob(size: float, rng: np.random.Generator) -> np.ndarray:
    """A distractor: a lumpy, elongated polygon (DISTRACTOR_VERTICES vertices at radii
    DISTRACTOR_RADII, squashed to DISTRACTOR_ASPECT, at a random angle), `size` px along
    its larger side; (h, w) bool, cropped. No class is elongated, so none looks like one."""
    from skimage.draw import polygon

    n = DISTRACTOR_VERTICES
    radii = rng.uniform(*DISTRACTOR_RADII, n).tolist()
    jitter = rng.uniform(-0.3, 0.3, n).tolist()
    aspect = float(rng.uniform(*DISTRACTOR_ASPECT))
    turn = float(rng.uniform(0.0, 2 * math.pi))
    cos, sin = math.cos(turn), math.sin(turn)
    xs, ys = [], []
    for v in range(n):
        angle = 2 * math.pi * (v + jitter[v]) / n
        x, y = radii[v] * math.cos(angle), aspect * radii[v] * math.sin(angle)
        xs.append(cos * x - sin * y)
        ys.append(sin * x + cos * y)
    x0, y0 = min(xs), min(ys)
    scale = size / max(max(xs) - x0, max(ys) - y0)
    rows = np.array([(y - y0) * scale + 0.5 for y in ys])
    cols = np.array([(x - x0) * scale + 0.5 for x in xs])
    return _rasterized(*polygon(rows, cols))


def _smoothstep_weights(cells: int, side: int):
    """Upsampling of `cells` values to `side` pixels: indices (side,) of the lower and
    upper cell, and the smoothstep weights (side,) of the upper one."""
    position = np.clip((np.arange(side) + 0.5) * cells / side - 0.5, 0.0, cells - 1)
    lower = np.floor(position).astype(np.intp)
    upper = np.minimum(lower + 1, cells - 1)
    t = (position - lower).astype(np.float32)
    return lower, upper, t * t * (3 - 2 * t)


_WEIGHTS: dict[tuple[int, int], tuple] = {}


def _upsample(grid: np.ndarray, side: int) -> np.ndarray:
    """A coarse grid (3, g, g) -> (3, side, side), smoothstep interpolated, separably."""
    key = (grid.shape[1], side)
    if key not in _WEIGHTS:
        _WEIGHTS[key] = _smoothstep_weights(*key)
    lower, upper, t = _WEIGHTS[key]
    rows = grid[:, lower] * (1 - t)[:, None] + grid[:, upper] * t[:, None]  # (3, S, g)
    return np.take(rows, lower, axis=2) * (1 - t) + np.take(rows, upper, axis=2) * t


def _background(spec: Variant, rng: np.random.Generator) -> np.ndarray:
    """The noise-free background (3, S, S) float32 in [0, 1] of one image."""
    side = spec.image_size
    if not spec.textured:
        level = rng.random(3, dtype=np.float32) * np.float32(EASY_BACKGROUND)
        if rng.random() < 0.5:
            level = 1 - level
        return np.repeat(level, side * side).reshape(3, side, side)
    base = rng.uniform(*BASE_COLOUR, (3, 1, 1)).astype(np.float32)
    cells = int(rng.integers(SMOOTH_CELLS[0], SMOOTH_CELLS[1] + 1))
    grid = rng.uniform(-1.0, 1.0, (3, cells, cells)).astype(np.float32)
    grid *= np.float32(rng.uniform(*SMOOTH_AMPLITUDE))
    canvas = _upsample(grid, side)
    canvas += base
    coords = np.arange(side, dtype=np.float32) - np.float32((side - 1) / 2)
    if rng.random() < 0.5:  # stripes
        theta = rng.uniform(0.0, math.pi)
        period = rng.uniform(*STRIPE_PERIOD)
        cos, sin = np.float32(math.cos(theta) / period), np.float32(math.sin(theta) / period)
        phase = coords[:, None] * sin + coords[None, :] * cos + np.float32(rng.random())
        wave = 4 * np.abs(phase - np.floor(phase) - 0.5) - 1  # triangle wave in [-1, 1]
        wave = np.clip(wave * np.float32(rng.uniform(*STRIPE_SHARPNESS)), -1, 1)
        amplitude = rng.uniform(-STRIPE_AMPLITUDE, STRIPE_AMPLITUDE, (3, 1, 1))
        canvas += wave * amplitude.astype(np.float32)
    if rng.random() < 0.5:  # a linear gradient
        theta = rng.uniform(0.0, 2 * math.pi)
        cos, sin = np.float32(math.cos(theta)), np.float32(math.sin(theta))
        ramp = (coords[:, None] * sin + coords[None, :] * cos) / np.float32(side / 2)
        amplitude = rng.uniform(-GRADIENT_AMPLITUDE, GRADIENT_AMPLITUDE, (3, 1, 1))
        canvas += ramp * amplitude.astype(np.float32)
    return np.clip(canvas, 0.0, 1.0, out=canvas)


def to_images(X: np.ndarray) -> np.ndarray:
    """Images of this data set in any layout ("flat", "nhwc", "nchw") -> (N, H, W, 3)."""
    X = np.asarray(X)
    if X.ndim == 2:
        side = int(round(math.sqrt(X.shape[1] / 3)))
        if side * side * 3 != X.shape[1]:
            raise ValueError(f"flat rows must hold H*W*3 values of a square image, got {X.shape}")
        return X.reshape(len(X), side, side, 3)
    if X.ndim == 4 and X.shape[-1] == 3:
        return X
    if X.ndim == 4 and X.shape[1] == 3:
        return X.transpose(0, 2, 3, 1)
    raise ValueError(f"expected images (N, H*W*3), (N, H, W, 3) or (N, 3, H, W), got {X.shape}")


# One colour per class (and per mask value): matplotlib's tab10, first five.
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")
_MASK_COLOURS = (*CLASS_COLOURS, "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _per_image(name: str, values, n: int) -> list | None:
    if values is None:
        return None
    if len(values) != n:
        raise ValueError(f"got {len(values)} {name} for {n} images: pass one entry per image")
    return list(values)


def show_scenes(
    images: np.ndarray,
    boxes: Sequence[np.ndarray] | None = None,
    labels: Sequence[np.ndarray] | None = None,
    scores: Sequence[np.ndarray] | None = None,
    masks: Sequence[np.ndarray] | np.ndarray | None = None,
    ncols: int = 4,
    class_names: Sequence[str] = CLASSES,
    titles: Sequence[str] | None = None,
    cell_size: float = 2.6,
    alpha: float = 0.45,
):
    """Show scenes in a grid, with boxes (and their class names and scores) or masks.

    Inputs:
    - images: (N, H, W, 3), (N, 3, H, W) or flat rows (N, H*W*3), values in [0, 1].
    - boxes: per image a (K, 4) array of (x1, y1, x2, y2) in pixels, x2 exclusive.
    - labels: per image (K,) class ids, written over the boxes (class_names[label]).
    - scores: per image (K,) scores, written after the class name.
    - masks: per image an (H, W) map of ints (an instance or semantic map: each value > 0
      in its own colour) or a (K, H, W) stack of masks (> 0.5 is inside; later ones on top).
    - titles: one per image.
    Returns the matplotlib Figure.
    """
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Rectangle

    from cs231n_lib.vis import image_grid

    images = to_images(images)
    n = len(images)
    boxes, labels = _per_image("boxes", boxes, n), _per_image("labels", labels, n)
    scores, masks = _per_image("scores", scores, n), _per_image("masks", masks, n)
    if (labels is not None or scores is not None) and boxes is None:
        raise ValueError("labels and scores are written on boxes: pass boxes too")
    fig = image_grid(
        images, titles=titles, ncols=ncols, cell_size=cell_size, value_range=(0.0, 1.0)
    )
    palette = np.array([to_rgb(c) for c in _MASK_COLOURS])
    for i, ax in enumerate(fig.axes[:n]):
        if masks is not None:
            ids = _mask_ids(np.asarray(masks[i]), images.shape[1:3])
            overlay = np.zeros((*ids.shape, 4))
            inside = ids > 0
            overlay[inside, :3] = palette[(ids[inside] - 1) % len(palette)]
            overlay[inside, 3] = alpha
            ax.imshow(overlay, interpolation="nearest")
        if boxes is None:
            continue
        box = np.asarray(boxes[i], dtype=float).reshape(-1, 4)
        label = None if labels is None else np.asarray(labels[i]).reshape(-1)
        score = None if scores is None else np.asarray(scores[i]).reshape(-1)
        for name, values in (("labels", label), ("scores", score)):
            if values is not None and len(values) != len(box):
                raise ValueError(f"image {i}: {len(values)} {name} for {len(box)} boxes")
        for k, (x1, y1, x2, y2) in enumerate(box):
            colour = "white" if label is None else CLASS_COLOURS[int(label[k]) % len(CLASS_COLOURS)]
            # Pixel c spans [c - 0.5, c + 0.5] in imshow's coordinates.
            ax.add_patch(
                Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec=colour, lw=1.2)
            )
            text = [] if label is None else [class_names[int(label[k])]]
            if score is not None:
                text.append(f"{float(score[k]):.2f}")
            if text:
                ax.text(
                    x1 - 0.5, y1 - 1.0, " ".join(text), fontsize=6, color="white",
                    va="bottom", bbox=dict(fc=colour, ec="none", pad=0.8, alpha=0.8),
                )  # fmt: skip
    return fig


def _mask_ids(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An (H, W) id map or a (K, H, W) stack of masks -> an (H, W) int id map."""
    if mask.ndim == 3 and mask.shape[1:] == shape:
        ids = np.zeros(shape, dtype=np.int64)
        for k, m in enumerate(mask):
            ids[m > 0.5] = k + 1
        return ids
    if mask.shape != shape:
        raise ValueError(
            f"a mask must be (H, W) = {shape} or (K, H, W) to match the images, got {mask.shape}"
        )
    return mask.astype(np.int64)
