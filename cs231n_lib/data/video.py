"""Clips of a moving shape whose class only motion tells: a seeded, procedural data set for
14_video.

A clip is `num_frames` (T, 16 by default) grey frames of 32 x 32 pixels. One actor, a small
shape of one of four KINDS (ell, tee, arrow, flag: none of them looks the same after any
rotation but a full turn), does what its class says:

- right, left, up, down: it slides at a constant speed and, at the edge of its band,
  wraps round to the other side (it leaves on the right and comes back on the left);
- bounce: it slides sideways and bounces back at the edges of the same band;
- clockwise, counterclockwise: it turns in place;
- shape_then_shade, shade_then_shape: it stays put and changes twice, its kind and its grey
  level, in the order the name says;
- periodic: it switches back and forth between two kinds at a steady rate;
- one_off: it switches kind once.

Why a single frame cannot tell the classes apart, by construction: in every class and at
every frame index, the actor's centre is uniform on the band [MARGIN, 32 - MARGIN]^2 (a
slide or a bounce started at a uniform phase stays uniform, a static actor is placed
uniformly), its orientation is uniform, its kind uniform over KINDS and its grey level
uniform over SHADES (a change draws the new value uniformly among the others, so the
value after it is uniform again), its size drawn alike; nothing else on the frame
depends on the class. Only how frames follow each other does. tests/test_data_video.py
checks the claim with a per-frame logistic regression, which stays at chance (1 / 11).

Timing: every motion runs on a phase phi(t) = speed_factor * max(0, t - start) (t the frame
index): position (speed 1.5-2.5 pixels per unit of phase), angle (20-35 degrees per unit)
and the phases of the changes (the first of shape_then_shade at 2-6, the second 4-7 after
it; one_off at 3-12; periodic every 2.5-4). The normal clips have start 0 and
speed_factor 1 (phi(t) = t). The "shifted" variant holds the actor still for the first
`start` frames (0-4) and then runs it at half or double speed: the test of whether a model
learned the motion or the clip's timing. Change phases are scaled by min(1, phi(T - 1) /
15), so every change a class needs falls within the clip also at half speed or in a short
clip. A slide of at least 1.5 pixels a frame crosses the 18-pixel band in at most 12
frames, so a normal 16-frame bounce always shows a bounce and a slide a wrap; a clip that
moves less (half speed, late start, T < 13) may show neither, and then bounce and a slide
look alike.

VARIANTS:
- "easy": the actor on a flat dark background;
- "hard": the camera pans (a periodic smooth texture behind the actor slides at 0.5-1.5
  pixels a frame in a uniform direction), three small dots wander at random (a random
  walk of 1 pixel a step), and Gaussian pixel noise of std 0.03;
- "shifted": the hard clips with the shifted timing above.

Drawing: the actor is a polygon rasterized at 4 x 4 sub-pixels and averaged (anti-aliased
coverage a in [0, 1]), painted as frame = (1 - a) background + a shade; dots are discs of
radius 1.2 with a linear edge. Records (per split): the actor's track on each frame,
`centres_s` (N, T, 2) float32 (row, column), `angles_s`, `kinds_s` and `shades_s` (N, T);
`starts_s` (N,) int64 and `speed_factors_s` (N,) float32, the timing.

Determinism: clip i of a split depends only on (seed, variant, split, i): its generator is
seeded with np.random.SeedSequence([seed, variant key, split index, i]), so a prefix of a
split is the same whatever size was asked and no split changes another. The fingerprints in
tests/test_data_video.py hash values rounded to 1e-4 (scipy's interpolation and numpy's sin
may differ in the last bit between CPUs).

Measured (seed 0, one thread, 2 cores with another job on one): 1.1 s of CPU per 1,000 easy
clips and 2.5 s per 1,000 hard ones (8,000 hard clips, the default splits, in about 20 s);
nothing is written to disk; 8,000 clips of 16 x 32 x 32 float32 take 0.5 GB. A logistic
regression on the pixels of one frame (2,200 hard training clips, 1,100 test) scores
0.08-0.10 at frames 0, 7 and 15, chance being 0.091; on the mean absolute frame difference
of each of the 15 steps (motion energy, no direction) 0.16-0.19.

FROZEN: VERSION 1. Any change of the drawing must bump VERSION and update the fingerprints
pinned in tests/test_data_video.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from cs231n_lib.data.layout import check_int, check_sizes

DESCRIPTION = (
    "16-frame 32x32 clips of a moving shape whose class only the motion tells (direction, "
    "bounce, rotation sense, order of changes, periodic or one-off), with camera motion and "
    "clutter on the hard variant (procedural, offline): the data of 14_video"
)
VERSION = 1
CLASSES = (
    "right",
    "left",
    "up",
    "down",
    "bounce",
    "clockwise",
    "counterclockwise",
    "shape_then_shade",
    "shade_then_shape",
    "periodic",
    "one_off",
)
SPLITS = ("train", "val", "test")
LAYOUTS = {
    "ntchw": "clips (N, T, C, H, W): frames first, each frame as torch's 2-D layers take it",
    "ncthw": "clips (N, C, T, H, W): channels first, as torch's Conv3d takes them",
}
SIZE = 32  # frame height and width, pixels
MARGIN = 7  # the actor's centre stays in [MARGIN, SIZE - MARGIN]
SUBPIXELS = 4  # anti-aliasing: the actor is rasterized at 4 x 4 samples per pixel
SHADES = (0.55, 0.75, 0.95)  # the actor's grey levels
# Polygons (x right, y down) within about the unit disc; none maps onto itself under a
# rotation other than the full turn, so a rotation's sense is always visible.
KINDS = {
    "ell": ((-0.8, -1.0), (-0.2, -1.0), (-0.2, 0.4), (0.8, 0.4), (0.8, 1.0), (-0.8, 1.0)),
    "tee": (
        (-1.0, -1.0),
        (1.0, -1.0),
        (1.0, -0.4),
        (0.3, -0.4),
        (0.3, 1.0),
        (-0.3, 1.0),
        (-0.3, -0.4),
        (-1.0, -0.4),
    ),
    "arrow": (
        (0.0, -1.0),
        (0.9, -0.1),
        (0.3, -0.1),
        (0.3, 1.0),
        (-0.3, 1.0),
        (-0.3, -0.1),
        (-0.9, -0.1),
    ),
    "flag": ((-0.7, -1.0), (0.9, -0.5), (-0.3, 0.0), (-0.3, 1.0), (-0.7, 1.0)),
}
KIND_NAMES = tuple(KINDS)
_DIRECTIONS = {"right": (0, 1), "left": (0, -1), "up": (-1, 0), "down": (1, 0)}  # (row, col)
_REFERENCE_PHASE = 15.0  # phi(T - 1) of a normal 16-frame clip: change phases are set for it


@dataclass(frozen=True)
class Variant:
    """The rules of one variant of the clips."""

    key: int  # enters every clip's seed, so the variants are independent draws
    camera: bool  # a textured background that pans
    num_dots: int  # small distractor dots on random walks
    noise_std: float  # Gaussian pixel noise
    shifted: bool  # motion starts late and runs at half or double speed
    notes: str = field(default="", compare=False)


VARIANTS = {
    "easy": Variant(0, False, 0, 0.0, False, "flat background, the actor alone"),
    "hard": Variant(1, True, 3, 0.03, False, "panning textured background, 3 dots, noise 0.03"),
    "shifted": Variant(
        2, True, 3, 0.03, True, "hard, motion starting at frame 0-4 at half or double speed"
    ),
}


@dataclass
class Clip:
    """One clip and what made it."""

    frames: np.ndarray  # (T, H, W) float32 in [0, 1]
    label: int  # index into CLASSES
    centres: np.ndarray  # (T, 2) float32: the actor's (row, col) on each frame
    angles: np.ndarray  # (T,) float32: its turn, radians clockwise on the screen
    kinds: np.ndarray  # (T,) int64: its kind, an index into KIND_NAMES
    shades: np.ndarray  # (T,) float32: its grey level, one of SHADES
    start: int  # the first frame of motion
    speed_factor: float  # 1 on normal clips, 0.5 or 2 on shifted ones


def check_variant(variant: str) -> Variant:
    """The Variant named `variant`, or a ValueError naming the choices."""
    if variant not in VARIANTS:
        raise ValueError(
            f"variant={variant!r} is not one of {sorted(VARIANTS)}: 'easy' (the actor alone), "
            f"'hard' (camera motion, dots, noise) or 'shifted' (hard, motion late and at "
            f"half or double speed)"
        )
    return VARIANTS[variant]


# -- drawing --------------------------------------------------------------------------


def actor_coverage(kind: str, centre, angle: float, scale: float) -> np.ndarray:
    """(H, W) float coverage in [0, 1] of the actor `kind` turned by `angle` (radians,
    clockwise on the screen), `scale` pixels per polygon unit, centred at `centre` (row,
    col): the share of each pixel's 4 x 4 sub-pixel samples that Pillow's polygon fill
    covers (the inside and the samples the outline touches)."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not one of {KIND_NAMES}")
    xy = np.asarray(KINDS[kind], dtype=np.float64) * scale
    c, s = math.cos(angle), math.sin(angle)
    cols = centre[1] + xy[:, 0] * c - xy[:, 1] * s  # y runs down: a positive angle turns
    rows = centre[0] + xy[:, 0] * s + xy[:, 1] * c  # clockwise on the screen
    k = SUBPIXELS
    cover = np.zeros((SIZE, SIZE))
    # Only the pixels of the polygon's bounding box are sampled (the rest is 0).
    r0, c0 = (max(0, math.floor(v.min())) for v in (rows, cols))
    r1, c1 = (min(SIZE, math.ceil(v.max()) + 1) for v in (rows, cols))
    if r1 <= r0 or c1 <= c0:
        return cover
    # Sub-pixel (i, j) of the box covers [r0 + i / k, r0 + (i + 1) / k) x [c0 + j / k, ...):
    # Pillow's pixel (i, j) is the unit square at (i, j), so vertices scale by k, unshifted.
    xy = list(zip((cols - c0) * k, (rows - r0) * k, strict=True))
    canvas = Image.new("L", ((c1 - c0) * k, (r1 - r0) * k))
    ImageDraw.Draw(canvas).polygon(xy, fill=1)
    hi = np.asarray(canvas, dtype=np.float64)
    cover[r0:r1, c0:c1] = hi.reshape(r1 - r0, k, c1 - c0, k).mean(axis=(1, 3))
    return cover


def _disc_coverage(centres: np.ndarray, radius: float = 1.2) -> np.ndarray:
    """(T, H, W) coverage of one disc per frame at centres (T, 2), with a one-pixel linear
    edge; positions wrap round the frame."""
    grid = np.arange(SIZE) + 0.5
    d_row = (grid[None, :] - centres[:, :1] + SIZE / 2) % SIZE - SIZE / 2  # (T, H)
    d_col = (grid[None, :] - centres[:, 1:] + SIZE / 2) % SIZE - SIZE / 2  # (T, W)
    dist = np.sqrt(d_row[:, :, None] ** 2 + d_col[:, None, :] ** 2)
    return np.clip(radius + 0.5 - dist, 0.0, 1.0)


def _texture(rng: np.random.Generator, period: int = 64) -> np.ndarray:
    """(period, period) smooth periodic texture in about [0.05, 0.45]: white noise low-pass
    filtered in the Fourier domain (so it tiles), scaled to std 0.08 around 0.25."""
    noise = rng.standard_normal((period, period))
    f = np.fft.fftfreq(period)
    lowpass = np.exp(-(f[:, None] ** 2 + f[None, :] ** 2) / (2 * 0.06**2))
    smooth = np.fft.ifft2(np.fft.fft2(noise) * lowpass).real
    return 0.25 + 0.08 * (smooth - smooth.mean()) / smooth.std()


def _panned(texture: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(T, H, W) windows of the periodic texture, frame t's top-left corner at offsets[t]
    (row, col, sub-pixel, bilinear)."""
    from scipy import ndimage  # here, not at the top: importing scipy costs every notebook

    T = len(offsets)
    grid = np.arange(SIZE, dtype=np.float64)
    rows = np.broadcast_to(offsets[:, 0, None, None] + grid[None, :, None], (T, SIZE, SIZE))
    cols = np.broadcast_to(offsets[:, 1, None, None] + grid[None, None, :], (T, SIZE, SIZE))
    coords = np.stack([rows.ravel(), cols.ravel()])
    out = ndimage.map_coordinates(texture, coords, order=1, mode="grid-wrap")
    return out.reshape(T, SIZE, SIZE)


# -- the motion of each class ------------------------------------------------------------


def _band(u: np.ndarray, bounce: bool) -> np.ndarray:
    """Positions on the band [MARGIN, SIZE - MARGIN] of length L from a phase u (pixels):
    wrapped (u mod L), or bouncing (a triangle wave of period 2 L)."""
    length = SIZE - 2 * MARGIN
    if bounce:
        z = np.mod(u, 2 * length)
        return MARGIN + np.where(z < length, z, 2 * length - z)
    return MARGIN + np.mod(u, length)


def _other(rng: np.random.Generator, count: int, current: int) -> int:
    """A value of range(count) other than `current`, uniformly."""
    return (current + 1 + int(rng.integers(count - 1))) % count


def _actor_track(name: str, phi: np.ndarray, rng: np.random.Generator):
    """The actor's state on each frame for class `name` and phases phi (T,): centres (T, 2),
    angles (T,), kinds (T,) and shade indices (T,) as int arrays."""
    T = len(phi)
    length = SIZE - 2 * MARGIN
    centre = rng.uniform(MARGIN, SIZE - MARGIN, size=2)
    angle0 = rng.uniform(0, 2 * math.pi)
    kind0 = int(rng.integers(len(KINDS)))
    shade0 = int(rng.integers(len(SHADES)))
    centres = np.repeat(centre[None], T, axis=0)
    angles = np.full(T, angle0)
    kinds = np.full(T, kind0)
    shades = np.full(T, shade0)
    squeeze = min(1.0, float(phi[-1]) / _REFERENCE_PHASE)  # change phases fit in the clip
    if name in _DIRECTIONS or name == "bounce":
        speed = rng.uniform(1.5, 2.5)
        axis = 1 if name in ("right", "left", "bounce") else 0
        sign = 1 if name == "bounce" else sum(_DIRECTIONS[name])
        period = 2 * length if name == "bounce" else length
        u0 = rng.uniform(0, period)  # a uniform phase keeps the position uniform on the band
        centres[:, axis] = _band(u0 + sign * speed * phi, bounce=name == "bounce")
    elif name in ("clockwise", "counterclockwise"):
        omega = math.radians(rng.uniform(20.0, 35.0))
        angles = angle0 + (omega if name == "clockwise" else -omega) * phi
    elif name in ("shape_then_shade", "shade_then_shape"):
        first = rng.uniform(2.0, 6.0) * squeeze
        second = first + rng.uniform(4.0, 7.0) * squeeze
        kind_at, shade_at = (first, second) if name == "shape_then_shade" else (second, first)
        kinds = np.where(phi >= kind_at, _other(rng, len(KINDS), kind0), kind0)
        shades = np.where(phi >= shade_at, _other(rng, len(SHADES), shade0), shade0)
    elif name == "periodic":
        half_period = rng.uniform(2.5, 4.0) * squeeze
        offset = rng.uniform(0.0, half_period)
        switches = np.floor((phi + offset) / half_period).astype(int)  # changes so far, +1
        kinds = np.where(switches % 2 == 0, kind0, _other(rng, len(KINDS), kind0))
    elif name == "one_off":
        at = rng.uniform(3.0, 12.0) * squeeze
        kinds = np.where(phi >= at, _other(rng, len(KINDS), kind0), kind0)
    else:
        raise ValueError(f"unknown class {name!r}; CLASSES are {CLASSES}")
    return centres, angles, kinds.astype(int), shades.astype(int)


def draw_clip(
    seed: int, split: str, index: int, variant: str = "easy", num_frames: int = 16
) -> Clip:
    """Clip `index` of `split` ("train", "val", "test") of the data set drawn from `seed`:
    the same clip load returns there, with its class and track (Clip)."""
    spec = check_variant(variant)
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not one of {SPLITS}")
    T = check_int("num_frames", num_frames, 2)
    index = check_int("index", index, 0)
    sequence = np.random.SeedSequence(
        [check_int("seed", seed, 0), spec.key, SPLITS.index(split), index]
    )
    rng = np.random.default_rng(sequence)
    label = int(rng.integers(len(CLASSES)))
    start, speed_factor = 0, 1.0
    if spec.shifted:
        start, speed_factor = int(rng.integers(0, 5)), float(rng.choice([0.5, 2.0]))
    phi = speed_factor * np.maximum(0.0, np.arange(T, dtype=np.float64) - start)
    centres, angles, kinds, shades = _actor_track(CLASSES[label], phi, rng)
    scale = rng.uniform(4.0, 5.0)

    if spec.camera:
        direction = rng.uniform(0, 2 * math.pi)
        velocity = rng.uniform(0.5, 1.5) * np.array([math.sin(direction), math.cos(direction)])
        offsets = rng.uniform(0, 64, size=2) + np.arange(T)[:, None] * velocity
        frames = _panned(_texture(rng), offsets)
    else:
        frames = np.full((T, SIZE, SIZE), 0.15)
    for _ in range(spec.num_dots):
        walk = rng.uniform(0, SIZE, size=2) + np.cumsum(rng.normal(0, 1.0, size=(T, 2)), axis=0)
        cover = _disc_coverage(walk)
        frames = (1 - cover) * frames + cover * rng.uniform(0.55, 0.95)
    for t in range(T):
        cover = actor_coverage(KIND_NAMES[kinds[t]], centres[t], angles[t], scale)
        frames[t] = (1 - cover) * frames[t] + cover * SHADES[shades[t]]
    if spec.noise_std:
        frames = frames + rng.normal(0, spec.noise_std, size=frames.shape)
    return Clip(
        frames=np.clip(frames, 0.0, 1.0).astype(np.float32),
        label=label,
        centres=centres.astype(np.float32),
        angles=angles.astype(np.float32),
        kinds=kinds.astype(np.int64),
        shades=np.asarray(SHADES, dtype=np.float32)[shades],
        start=start,
        speed_factor=speed_factor,
    )


def load(
    num_train: int | None = None,
    num_val: int = 1000,
    num_test: int = 1000,
    seed: int = 0,
    layout: str = "ntchw",
    dtype: npt.DTypeLike = np.float32,
    variant: str = "easy",
    num_frames: int = 16,
) -> dict:
    """Draw the three splits of clips.

    Inputs:
    - num_train, num_val, num_test: clips per split (None: 6000 train).
    - seed: seed of the whole data set (a non-negative int).
    - layout: "ntchw", X (N, T, 1, H, W), or "ncthw", X (N, 1, T, H, W) (LAYOUTS).
    - dtype: a floating dtype of X.
    - variant: "easy", "hard" or "shifted" (VARIANTS).
    - num_frames: T, frames per clip.

    Returns a dict with, for each split s in train, val, test: X_s in [0, 1]; y_s (N,) int64
    class ids indexing CLASSES; the actor's track, centres_s (N, T, 2) float32 (row, col),
    angles_s (N, T) float32, kinds_s (N, T) int64 (KIND_NAMES) and shades_s (N, T)
    float32; the timing, starts_s (N,) int64 and speed_factors_s (N,) float32 (see the
    module docstring); and classes, CLASSES.
    """
    check_variant(variant)
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r} is not one of {sorted(LAYOUTS)}")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"dtype must be a floating type such as np.float32, got {np.dtype(dtype)}")
    T = check_int("num_frames", num_frames, 2)
    check_int("seed", seed, 0)
    num_train = check_sizes(num_train, num_val, num_test, default_train=6000)
    data: dict = {}
    for split, count in zip(SPLITS, (num_train, num_val, num_test), strict=True):
        clips = [draw_clip(seed, split, i, variant, T) for i in range(count)]
        X = np.stack([c.frames for c in clips]) if count else np.zeros((0, T, SIZE, SIZE))
        X = X[:, :, None] if layout == "ntchw" else X[:, None]
        data[f"X_{split}"] = np.ascontiguousarray(X, dtype=dtype)
        data[f"y_{split}"] = np.array([c.label for c in clips], dtype=np.int64)
        tracks = (("centres", np.float32, (2,)), ("angles", np.float32, ()))
        tracks += (("kinds", np.int64, ()), ("shades", np.float32, ()))
        for key, track_dtype, tail in tracks:
            track = np.array([getattr(c, key) for c in clips], dtype=track_dtype)
            data[f"{key}_{split}"] = track.reshape((count, T, *tail))
        data[f"starts_{split}"] = np.array([c.start for c in clips], dtype=np.int64)
        data[f"speed_factors_{split}"] = np.array([c.speed_factor for c in clips], dtype=np.float32)
    data["classes"] = CLASSES
    return data
