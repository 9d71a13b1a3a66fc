"""Point clouds of 3-D shapes: a seeded, procedural data set for 13_3d_vision, with the
shapes themselves (signed distances), so that voxels, depth maps and silhouettes of the
same objects can be drawn from known cameras.

CLASSES: five primitives (sphere, cube, cylinder, cone, torus), four compound objects
(table, snowman, lshape, mug) and two look-alikes that only the hard variant draws
(capsule, a cylinder with round ends; frustum, a cone with its tip cut off). The easy
variant draws the first nine classes (y in 0..8), the hard one all eleven.

Every object is a union of parts; a part is a primitive placed by a rotation and an
offset. Primitives, in their own frame (z is the axis of the round ones):
- sphere of radius r; box of half-sides (a, b, c);
- a solid of revolution of a convex profile: cylinder (radius r, half-height h), cone
  (base radius r at z = -h, tip at z = +h), frustum (radii r1 at z = -h, r2 at +h);
- capsule (the points within r of the segment z in [-h, h]); torus (tube radius r around
  the circle of radius R in the xy-plane).
Each has an exact signed distance (negative inside) and a sampler uniform by area: the
sphere a normalized Gaussian; the box a face drawn by its area, then a uniform point on
it; a solid of revolution an edge of its profile drawn by the area of the band it sweeps
(pi (rho_a + rho_b) length), a point along it with density proportional to its radius
rho (inverted in closed form), a uniform azimuth; the capsule its side or its two
hemispheres by area; the torus a uniform azimuth and a tube angle theta accepted with
probability (R + r cos theta) / (R + r). A compound's surface is the boundary of the
union: points are drawn from the parts' area-weighted mixture and those strictly inside
another part are dropped (parts overlap, never touch face to face, so no face is counted
twice), which keeps the density uniform on what is left.

Proportions are drawn per object (the ranges in `make_solid`, e.g. a cylinder's
half-height 0.5-1.5 of its radius). Symmetry: sphere, cube, cylinder, cone, torus,
capsule and frustum are symmetric about an axis, the table has a two-fold axis (its top
is oblong), the snowman (a nose sticks out of the head), the lshape (two bars of
different length and thickness) and the mug (its handle sits above the middle) have no
rotational symmetry (ASYMMETRIC): their pose is defined by the cloud, for pose regression.

A cloud, each step from the object's own generator: the class (uniform over the
variant's classes), the proportions, a rotation R uniform on SO(3) (a normalized Gaussian
quaternion), on the hard variant a camera direction uniform on the sphere, a noise level,
then the points: `num_points` surface points (uniform by area; partial views keep only
the points the camera sees: a ray from the point towards the camera, an orthographic
camera infinitely far, leaves the object without entering it, found by sphere tracing of
the signed distance), rotated, plus Gaussian jitter of the drawn std (in units of the
object's size, about 1), then centred on their mean and scaled so that the farthest
point lies on the unit sphere. A partial cloud holds `num_points` points of the visible
side (drawn until enough are seen).

Records (load returns them per split): `rotations` (N, 3, 3) float32, the R of each cloud
(pose targets); `scales` (N,) and `offsets` (N, 3) float32: a point p of the object's own
frame lies at scale * R p + offset in the cloud; `views` (N, 3) float32, the unit
direction towards the camera in the cloud's frame (zeros on full clouds). X holds
coordinates in the unit ball, not values in [0, 1] (layout "points"), or the occupancy
of those points on a voxel grid (layout "voxels").

The other representations, of a Solid (`draw_sample` returns each cloud's, placed in the
cloud's frame; `make_solid` one in its own frame) or of points:
- `voxelize(points, R)`: the (R, R, R) occupancy of points in [-1, 1]^3;
  `solid_voxels(solid, R)`: the voxels whose centre is inside (the true volume, from the
  inside test solid.contains); `sdf_grid(solid, R)`: signed distances at the centres;
- `Camera(direction)`: an orthographic camera (no perspective: every ray runs along
  -direction), with `project` (points -> pixel rows, cols and depth) and `rays`;
  `cameras_around(k)`: k directions spread over the sphere;
- `render_depth(solid, camera)`: the depth map by sphere tracing the signed distance
  (inf on the background); `silhouette(solid, camera)`: where it is finite.

Measured (seed 0, 1,000 training clouds of 1,024 points, one thread, 2 shared cores,
load average about 4): easy 1.1 s of CPU (2.3 s wall), hard 5.7 s of CPU (11.6 s wall),
most of it tracing the visibility rays of the compound and torus clouds; nothing is
written to disk. Class balance (classes drawn uniformly): easy 102-122 clouds per class
of 1,000; hard 78-115 per class. Every cloud holds exactly `num_points` points; a partial
view sees on average 49% of the object's surface (30-67%; about 50% of the centrally
symmetric sphere, cube, cylinder and capsule, 33-67% of a cone or frustum depending on
whether the camera looks at its base or its tip, 30-52% of a torus, which hides part of
its inside), measured on 300 hard clouds. A view may hide what tells two classes apart:
of 200 hard views each, 12% of mugs show fewer than 5 handle points (a cylinder to any
model), 8% of cones and 2% of frusta only their base disk, so about 2% of hard clouds
are ambiguous and no classifier reaches 1.0 there. A light baseline (histograms of the
points' distances to the centroid and of 2,000 random pairs' distances, rotation
invariant, with logistic regression; 1,500 training clouds of 512 points, 500 test):
0.95 easy, 0.78 hard (mug 0.49, frustum 0.46, cylinder 0.61, cone 0.63; the rest 0.73-1).

Determinism: cloud i of a split depends only on (seed, variant, split, i): its generator
is seeded with np.random.SeedSequence([seed, variant key, split index, i]), so a prefix
of a split is the same whatever size was asked, and no split changes another. numpy's
SIMD sin and cos and the BLAS products may differ in the last bit between CPUs, so the
fingerprints in tests/test_data_points.py hash values rounded to 1e-4.

FROZEN: VERSION 1. Any change of the drawing must bump VERSION and update the
fingerprints pinned in tests/test_data_points.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from cs231n_lib.data.layout import check_int, check_sizes

DESCRIPTION = (
    "surface point clouds of rotated 3-D primitives and compound objects, with poses, "
    "partial views, voxels, depth maps and silhouettes (procedural, offline): the data "
    "of 13_3d_vision"
)
VERSION = 1
CLASSES = (
    "sphere",
    "cube",
    "cylinder",
    "cone",
    "torus",
    "table",
    "snowman",
    "lshape",
    "mug",
    "capsule",
    "frustum",
)
ASYMMETRIC = ("snowman", "lshape", "mug")  # no rotation but the identity maps them to themselves
SPLITS = ("train", "val", "test")
LAYOUTS = ("points", "voxels")


@dataclass(frozen=True)
class Variant:
    """The rules of one variant of the clouds."""

    key: int  # enters every cloud's seed, so the variants are independent draws
    num_classes: int  # draws CLASSES[:num_classes]
    partial: bool  # one view's visible side, else the whole surface
    noise_std: tuple[float, float]  # jitter std, drawn per cloud, in units of the object's size
    notes: str = field(default="", compare=False)


VARIANTS = {
    "easy": Variant(
        key=0,
        num_classes=9,
        partial=False,
        noise_std=(0.0, 0.01),
        notes="9 classes, whole surfaces, jitter std up to 0.01",
    ),
    "hard": Variant(
        key=1,
        num_classes=11,
        partial=True,
        noise_std=(0.01, 0.03),
        notes="11 classes (capsule and frustum added), partial views, jitter std 0.01-0.03",
    ),
}

_INSIDE_TOL = 1e-9  # a point is inside another part if its distance is below -this
_VIEW_START = 1e-3  # a visibility ray starts this far from its point
_MIN_STEP = 0.01  # smallest sphere-tracing step of a visibility ray (object size about 1)


# -- primitives: exact signed distances and area-uniform samplers, in their own frame ----


def _unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) directions uniform on the unit sphere (normalized Gaussians)."""
    v = rng.standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@dataclass(frozen=True)
class Sphere:
    radius: float
    convex = True  # (a class attribute, not a field)

    @property
    def area(self) -> float:
        return 4 * math.pi * self.radius**2

    @property
    def bound(self) -> float:
        """The radius of a ball about the origin that holds the primitive."""
        return self.radius

    def sdf(self, p: np.ndarray) -> np.ndarray:
        """p (..., 3) -> (...) signed distance, negative inside."""
        return np.linalg.norm(p, axis=-1) - self.radius

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 3) points uniform by area on the surface."""
        return self.radius * _unit_vectors(n, rng)


@dataclass(frozen=True)
class Box:
    half: tuple[float, float, float]  # half-sides along x, y, z
    convex = True

    @property
    def area(self) -> float:
        a, b, c = self.half
        return 8 * (a * b + b * c + c * a)

    @property
    def bound(self) -> float:
        return float(np.linalg.norm(self.half))

    def sdf(self, p: np.ndarray) -> np.ndarray:
        q = np.abs(p) - np.asarray(self.half)
        outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
        return outside + np.minimum(q.max(axis=-1), 0.0)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        half = np.asarray(self.half)
        # The pair of faces normal to axis k has area 8 * (product of the other two halves).
        face_areas = np.array([half[1] * half[2], half[0] * half[2], half[0] * half[1]])
        axis = rng.choice(3, size=n, p=face_areas / face_areas.sum())
        p = rng.uniform(-1.0, 1.0, (n, 3)) * half
        sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        p[np.arange(n), axis] = sign * half[axis]
        return p


@dataclass(frozen=True)
class Revolved:
    """A solid of revolution about z: `profile` lists (rho, z) from the axis round to the
    axis, e.g. a cylinder ((0, -h), (r, -h), (r, h), (0, h)); the profile mirrored about
    the axis must be a convex polygon, listed counter-clockwise."""

    profile: tuple[tuple[float, float], ...]
    convex = True

    def _edges(self):
        a = np.asarray(self.profile[:-1], dtype=float)
        b = np.asarray(self.profile[1:], dtype=float)
        areas = math.pi * (a[:, 0] + b[:, 0]) * np.linalg.norm(b - a, axis=1)
        keep = areas > 0
        return a[keep], b[keep], areas[keep]

    @property
    def area(self) -> float:
        return float(self._edges()[2].sum())

    @cached_property
    def _polygon(self) -> tuple[np.ndarray, np.ndarray]:
        """The full cross-section (the profile and its mirror image, without repeats) as
        (K, 2) edge starts and (K, 2) edge vectors."""
        half = np.asarray(self.profile, dtype=float)
        poly = np.concatenate([half, half[::-1] * [-1.0, 1.0]])
        poly = poly[np.any(np.abs(poly - np.roll(poly, -1, axis=0)) > 0, axis=1)]
        # Drop vertices in the middle of a straight edge (the axis crossings of a cylinder).
        before, after = poly - np.roll(poly, 1, axis=0), np.roll(poly, -1, axis=0) - poly
        poly = poly[np.abs(before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]) > 1e-12]
        return poly, np.roll(poly, -1, axis=0) - poly

    @property
    def bound(self) -> float:
        return float(np.hypot(*np.asarray(self.profile).T).max())

    def sdf(self, p: np.ndarray) -> np.ndarray:
        rho, z = np.hypot(p[..., 0], p[..., 1]), p[..., 2]
        dist = np.full(rho.shape, np.inf)
        inside = np.ones(rho.shape, dtype=bool)
        for (ax, az), (ex, ez) in zip(*self._polygon, strict=True):  # a few edges
            dx, dz = rho - ax, z - az
            t = np.clip((dx * ex + dz * ez) / (ex * ex + ez * ez), 0.0, 1.0)
            np.minimum(dist, np.hypot(dx - t * ex, dz - t * ez), out=dist)
            inside &= ex * dz - ez * dx >= 0  # left of every edge (counter-clockwise)
        return np.where(inside, -dist, dist)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        a, b, areas = self._edges()
        edge = rng.choice(len(areas), size=n, p=areas / areas.sum())
        ra, rb = a[edge, 0], b[edge, 0]
        u = rng.random(n)
        # Density along the edge proportional to rho = ra + t (rb - ra): the inverse of its
        # CDF, in a form without a division by rb - ra (t = u when ra = rb, sqrt(u) when ra = 0).
        t = u * (ra + rb) / (ra + np.sqrt(ra * ra + u * (rb * rb - ra * ra)))
        rho_z = a[edge] + t[:, None] * (b[edge] - a[edge])
        phi = rng.uniform(0.0, 2 * math.pi, n)
        return np.stack([rho_z[:, 0] * np.cos(phi), rho_z[:, 0] * np.sin(phi), rho_z[:, 1]], 1)


class Cylinder(Revolved):
    """A Revolved cylinder ((0, -h), (r, -h), (r, h), (0, h)) with the closed-form distance
    (the polygon's loop over edges is four times slower; tables have four legs)."""

    def sdf(self, p: np.ndarray) -> np.ndarray:
        (_, _), (r, _), (_, h), _ = self.profile
        dr = np.hypot(p[..., 0], p[..., 1]) - r
        dz = np.abs(p[..., 2]) - h
        outside = np.hypot(np.maximum(dr, 0.0), np.maximum(dz, 0.0))
        return outside + np.minimum(np.maximum(dr, dz), 0.0)


def cylinder(radius: float, half_height: float) -> Cylinder:
    r, h = radius, half_height
    return Cylinder(((0.0, -h), (r, -h), (r, h), (0.0, h)))


def cone(radius: float, half_height: float) -> Revolved:
    """Base of `radius` at z = -half_height, tip at z = +half_height."""
    return Revolved(((0.0, -half_height), (radius, -half_height), (0.0, half_height)))


def frustum(bottom: float, top: float, half_height: float) -> Revolved:
    h = half_height
    return Revolved(((0.0, -h), (bottom, -h), (top, h), (0.0, h)))


@dataclass(frozen=True)
class Capsule:
    radius: float
    half_height: float  # of the segment; the capsule spans z in +-(half_height + radius)
    convex = True

    @property
    def area(self) -> float:
        return 4 * math.pi * self.radius * (self.half_height + self.radius)

    @property
    def bound(self) -> float:
        return self.half_height + self.radius

    def sdf(self, p: np.ndarray) -> np.ndarray:
        excess = np.abs(p[..., 2]) - np.minimum(np.abs(p[..., 2]), self.half_height)
        return np.sqrt(p[..., 0] ** 2 + p[..., 1] ** 2 + excess**2) - self.radius

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        r, h = self.radius, self.half_height
        side = rng.random(n) < h / (h + r)  # side 4 pi r h of 4 pi r (h + r)
        phi = rng.uniform(0.0, 2 * math.pi, n)
        p = np.stack([r * np.cos(phi), r * np.sin(phi), rng.uniform(-h, h, n)], axis=1)
        ends = r * _unit_vectors(n, rng)
        ends[:, 2] += np.where(ends[:, 2] >= 0, h, -h)
        return np.where(side[:, None], p, ends)


@dataclass(frozen=True)
class Torus:
    major: float  # R, radius of the tube's centre circle
    minor: float  # r, radius of the tube
    convex = False

    @property
    def area(self) -> float:
        return 4 * math.pi**2 * self.major * self.minor

    @property
    def bound(self) -> float:
        return self.major + self.minor

    def sdf(self, p: np.ndarray) -> np.ndarray:
        rho = np.hypot(p[..., 0], p[..., 1])
        return np.hypot(rho - self.major, p[..., 2]) - self.minor

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        R, r = self.major, self.minor
        theta = np.empty(0)
        while len(theta) < n:  # the area element is (R + r cos theta) dtheta dphi
            draw = rng.uniform(0.0, 2 * math.pi, 2 * n)
            accept = rng.random(2 * n) * (R + r) < R + r * np.cos(draw)
            theta = np.concatenate([theta, draw[accept]])
        theta = theta[:n]
        phi = rng.uniform(0.0, 2 * math.pi, n)
        rho = R + r * np.cos(theta)
        return np.stack([rho * np.cos(phi), rho * np.sin(phi), r * np.sin(theta)], axis=1)


# -- solids: unions of placed parts -----------------------------------------------------


def _turn(axis: str) -> np.ndarray:
    """The rotation that takes a part's own z axis to `axis` ("x", "y" or "z")."""
    if axis == "x":
        return np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    if axis == "y":
        return np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    return np.eye(3)


@dataclass
class Part:
    shape: object  # a primitive: Sphere, Box, Revolved, Capsule, Torus
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # own frame -> solid's
    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def sdf(self, x: np.ndarray) -> np.ndarray:
        return self.shape.sdf((x - self.centre) @ self.rotation)  # rotation^T (x - c)


@dataclass
class Solid:
    """An object: a union of parts, placed by x = scale * rotation p + offset (p in the
    object's own frame, x in the cloud's). Distances are in the cloud's units."""

    name: str
    parts: list[Part]
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    scale: float = 1.0
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @property
    def label(self) -> int:
        return CLASSES.index(self.name)

    def to_local(self, x: np.ndarray) -> np.ndarray:
        """x (..., 3) in the cloud's frame -> (..., 3) in the object's own frame."""
        return ((np.asarray(x, dtype=float) - self.offset) @ self.rotation) / self.scale

    def to_world(self, p: np.ndarray) -> np.ndarray:
        """p (..., 3) in the object's own frame -> (..., 3) in the cloud's frame."""
        return self.scale * (p @ self.rotation.T) + self.offset

    def local_sdf(self, p: np.ndarray) -> np.ndarray:
        """p (..., 3) own frame -> (...) signed distance of the union (min of the parts)."""
        return np.min([part.sdf(p) for part in self.parts], axis=0)

    def sdf(self, x: np.ndarray) -> np.ndarray:
        """x (..., 3) in the cloud's frame -> (...) signed distance, negative inside (exact
        outside; inside a compound a bound, its sign exact)."""
        return self.scale * self.local_sdf(self.to_local(x))

    def contains(self, x: np.ndarray) -> np.ndarray:
        """x (..., 3) -> (...) bool: strictly inside the object."""
        return self.sdf(x) < 0

    @cached_property
    def bound(self) -> float:
        """The radius of a ball about the own frame's origin that holds the object."""
        return max(float(np.linalg.norm(part.centre)) + part.shape.bound for part in self.parts)

    @property
    def area(self) -> float:
        """Surface area of the parts (overlaps counted twice), in the object's own frame."""
        return float(sum(part.shape.area for part in self.parts))

    def sample_local(
        self, n: int, rng: np.random.Generator, view: np.ndarray | None = None
    ) -> np.ndarray:
        """(n, 3) points of the object's own frame, uniform by area on the boundary of the
        union; with `view` (3,), a unit direction towards the camera in that frame, only
        points the camera sees (see `visible`)."""
        areas = np.array([part.shape.area for part in self.parts])
        kept = []
        total = 0
        while total < n:
            draw = 2 * (n - total) + 64
            counts = rng.multinomial(draw, areas / areas.sum())
            owner = np.repeat(np.arange(len(self.parts)), counts)
            pts = np.concatenate(
                [
                    part.shape.sample(c, rng) @ part.rotation.T + part.centre
                    for part, c in zip(self.parts, counts, strict=True)
                ]
            )
            order = rng.permutation(draw)
            pts, owner = pts[order], owner[order]
            if len(self.parts) > 1:  # drop points inside another part
                d = np.stack([part.sdf(pts) for part in self.parts], axis=1)
                d[np.arange(draw), owner] = np.inf
                keep = d.min(axis=1) >= -_INSIDE_TOL
                pts, owner = pts[keep], owner[keep]
            if view is not None:
                pts = pts[self._visible_local(pts, view, owner)]
            kept.append(pts)
            total += len(pts)
        return np.concatenate(kept)[:n]

    def sample(
        self, n: int, rng: np.random.Generator, view: np.ndarray | None = None
    ) -> np.ndarray:
        """(n, 3) points of the cloud's frame, uniform by area on the surface (no jitter);
        with `view` (3,), a direction towards the camera in the cloud's frame, only those
        the camera sees."""
        if view is not None:
            view = np.asarray(view, dtype=float) @ self.rotation
            view = view / np.linalg.norm(view)
        return self.to_world(self.sample_local(n, rng, view))

    def _visible_local(
        self, pts: np.ndarray, view: np.ndarray, owner: np.ndarray | None = None
    ) -> np.ndarray:
        """pts (M, 3) on the surface, view (3,) unit, both in the own frame, owner (M,) the
        part each lies on (None: unknown) -> (M,) bool: the ray pts + t view (t > 0) never
        enters the object, by sphere tracing of the signed distance."""
        pos = pts + _VIEW_START * view  # (M, 3) where each ray is
        visible = np.zeros(len(pts), dtype=bool)
        d = np.stack([part.sdf(pos) for part in self.parts], axis=1)  # (M, K)
        # A ray that leaves a convex part's surface outwards never enters that part again:
        # after this first step only the other parts can hide the point.
        convex = np.array([part.shape.convex for part in self.parts])
        ignore = np.zeros(d.shape, dtype=bool)
        if owner is not None:
            ignore[np.arange(len(pts)), owner] = convex[owner]
        active = np.flatnonzero(d.min(axis=1) >= 0)  # the others start inside: hidden
        pos, ignore, d = pos[active], ignore[active], d[active]
        bound2 = self.bound**2
        while len(active):
            s = np.where(ignore, np.inf, d).min(axis=1)  # >= 0: no ray left is inside
            pos += np.minimum(np.maximum(s, _MIN_STEP), 2 * self.bound)[:, None] * view
            # Out of the bounding ball and moving away from it: it never comes back.
            escaped = ((pos * pos).sum(1) > bound2) & (pos @ view > 0)
            visible[active[escaped]] = True
            active, pos, ignore = active[~escaped], pos[~escaped], ignore[~escaped]
            d = np.stack([part.sdf(pos) for part in self.parts], axis=1)
            going = np.where(ignore, np.inf, d).min(axis=1) >= 0  # else it entered: hidden
            active, pos, ignore, d = active[going], pos[going], ignore[going], d[going]
        return visible

    def visible(self, x: np.ndarray, view: np.ndarray) -> np.ndarray:
        """x (M, 3) surface points, view (3,) unit direction towards an orthographic camera,
        both in the cloud's frame -> (M,) bool: seen by the camera (the ray from the point
        towards it does not enter the object)."""
        view = np.asarray(view, dtype=float)
        return self._visible_local(self.to_local(x), (view @ self.rotation) / np.linalg.norm(view))


def _u(rng: np.random.Generator | None, low: float, high: float) -> float:
    """Uniform in [low, high] from rng; the middle without one."""
    return (low + high) / 2 if rng is None else float(rng.uniform(low, high))


def make_solid(name: str, rng: np.random.Generator | None = None) -> Solid:
    """The object of class `name` in its own frame (within about 1.8 of the origin), its
    proportions drawn from `rng` (the middle of every range without one)."""
    if name not in CLASSES:
        raise ValueError(f"unknown class {name!r}; choose one of {CLASSES}")
    P = Part
    if name == "sphere":
        parts = [P(Sphere(1.0))]
    elif name == "cube":
        parts = [P(Box((1.0, 1.0, 1.0)))]
    elif name == "cylinder":
        parts = [P(cylinder(1.0, _u(rng, 0.5, 1.5)))]
    elif name == "cone":
        parts = [P(cone(1.0, _u(rng, 0.5, 1.5)))]
    elif name == "torus":
        parts = [P(Torus(1.0, _u(rng, 0.2, 0.45)))]
    elif name == "capsule":  # as long as a cylinder, its ends round
        r = 1.0 / _u(rng, 1.0, 1.4)
        parts = [P(Capsule(r, max(_u(rng, 0.5, 1.5) - r, 0.2)))]
    elif name == "frustum":
        parts = [P(frustum(1.0, _u(rng, 0.2, 0.5), _u(rng, 0.5, 1.5)))]
    elif name == "table":  # an oblong top on four legs
        a, b, leg = _u(rng, 0.9, 1.1), _u(rng, 0.5, 0.75), _u(rng, 0.35, 0.55)
        top, r = 0.08, _u(rng, 0.06, 0.1)
        parts = [P(Box((a, b, top)), centre=np.array([0.0, 0.0, leg]))]
        for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):  # legs reach 0.02 into the top
            centre = np.array([sx * (a - 0.15), sy * (b - 0.15), (0.02 - top) / 2])
            parts.append(P(cylinder(r, (2 * leg - top + 0.02) / 2), centre=centre))
    elif name == "snowman":  # two balls and a nose to one side
        head = _u(rng, 0.35, 0.5)
        z = 0.6 + head - 0.15
        nose, length = _u(rng, 0.07, 0.12), _u(rng, 0.25, 0.4)
        parts = [
            P(Sphere(0.6)),
            P(Sphere(head), centre=np.array([0.0, 0.0, z])),
            # the cone's base sits 0.05 inside the head, its tip points along +x
            P(cone(nose, length / 2), _turn("x"), np.array([head - 0.05 + length / 2, 0.0, z])),
        ]
    elif name == "lshape":  # a long thick bar and a shorter, thinner one at its end
        a, b = _u(rng, 0.8, 1.0), _u(rng, 0.45, 0.65)
        thick, thin = _u(rng, 0.25, 0.32), _u(rng, 0.14, 0.2)
        parts = [
            P(Box((a, 0.2, thick))),
            P(Box((0.18, b, thin)), centre=np.array([a - 0.2, 0.15 + b, 0.0])),
        ]
    else:  # mug: a cylinder with a ring handle above its middle
        r, h, lift = _u(rng, 0.5, 0.65), _u(rng, 0.6, 0.8), _u(rng, 0.1, 0.2)
        ring, tube = _u(rng, 0.22, 0.3), _u(rng, 0.05, 0.08)
        parts = [
            P(cylinder(r, h)),
            P(Torus(ring, tube), _turn("y"), np.array([r + ring - 2 * tube, 0.0, lift])),
        ]
    return Solid(name, parts)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """(3, 3) rotation uniform on SO(3): the matrix of a unit quaternion drawn as a
    normalized 4-D Gaussian (uniform on the 3-sphere, which covers SO(3) twice evenly)."""
    w, x, y, z = rng.standard_normal(4).tolist()
    n = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


# -- the data set -----------------------------------------------------------------------


@dataclass
class Sample:
    """One cloud: points (P, 3) float32 in the unit ball, its label, its pose (rotation
    (3, 3), scale, offset (3,): an own-frame point p lies at scale * rotation p + offset),
    view (3,) the unit direction towards the camera (zeros for a whole surface), the
    jitter std, and the Solid placed in the cloud's frame."""

    points: np.ndarray
    label: int
    rotation: np.ndarray
    scale: float
    offset: np.ndarray
    view: np.ndarray
    noise_std: float
    solid: Solid


def check_variant(variant: str) -> Variant:
    """The Variant named `variant`, or a ValueError naming the choices."""
    if variant not in VARIANTS:
        raise ValueError(
            f"variant={variant!r} is not one of {sorted(VARIANTS)}: 'easy' (whole surfaces, "
            f"9 classes) or 'hard' (partial views, noise, 11 classes)"
        )
    return VARIANTS[variant]


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def draw_sample(
    seed: int, split: str, index: int, variant: str = "easy", num_points: int = 1024
) -> Sample:
    """Cloud `index` of `split` ("train", "val", "test") of the data set drawn from `seed`:
    the same cloud load returns there, with its Solid and pose (Sample)."""
    spec = check_variant(variant)
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not one of {SPLITS}")
    num_points = check_int("num_points", num_points, 1)
    index = check_int("index", index, 0)
    sequence = np.random.SeedSequence([_check_seed(seed), spec.key, SPLITS.index(split), index])
    rng = np.random.default_rng(sequence)
    name = CLASSES[int(rng.integers(spec.num_classes))]
    solid = make_solid(name, rng)
    rotation = random_rotation(rng)
    view_local = _unit_vectors(1, rng)[0] if spec.partial else None
    noise_std = float(rng.uniform(*spec.noise_std))
    local = solid.sample_local(num_points, rng, view_local)
    world = local @ rotation.T + noise_std * rng.standard_normal((num_points, 3))
    centre = world.mean(axis=0)
    radius = float(np.linalg.norm(world - centre, axis=1).max())
    solid.rotation, solid.scale, solid.offset = rotation, 1.0 / radius, -centre / radius
    view = np.zeros(3) if view_local is None else rotation @ view_local
    return Sample(
        points=((world - centre) / radius).astype(np.float32),
        label=CLASSES.index(name),
        rotation=rotation,
        scale=1.0 / radius,
        offset=-centre / radius,
        view=view,
        noise_std=noise_std,
        solid=solid,
    )


def load(
    num_train: int | None = None,
    num_val: int = 500,
    num_test: int = 500,
    seed: int = 0,
    layout: str = "points",
    dtype: npt.DTypeLike = np.float32,
    variant: str = "easy",
    num_points: int = 1024,
    resolution: int = 32,
) -> dict:
    """Draw the three splits of point clouds.

    Inputs:
    - num_train, num_val, num_test: clouds per split (None: 2000 train).
    - seed: seed of the whole data set (a non-negative int).
    - layout: "points", X (N, P, 3) coordinates in the unit ball (not in [0, 1]); or
      "voxels", X (N, R, R, R) occupancy in {0, 1} of those points (`voxelize`).
    - dtype: a floating dtype of X.
    - variant: "easy" or "hard", see VARIANTS.
    - num_points: P, points per cloud.
    - resolution: R, voxels a side for layout "voxels".

    Returns a dict with, for each split s in train, val, test: X_s; y_s (N,) int64 class
    ids indexing CLASSES; rotations_s (N, 3, 3), scales_s (N,), offsets_s (N, 3), views_s
    (N, 3), all float32 (see the module docstring); and classes, the names the variant
    draws (CLASSES[:9] easy, all 11 hard).
    """
    spec = check_variant(variant)
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r} is not one of {list(LAYOUTS)}")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"dtype must be a floating type such as np.float32, got {np.dtype(dtype)}")
    seed = _check_seed(seed)
    num_points = check_int("num_points", num_points, 1)
    resolution = check_int("resolution", resolution, 1)
    num_train = check_sizes(num_train, num_val, num_test, default_train=2000)
    data: dict = {}
    for split, count in zip(SPLITS, (num_train, num_val, num_test), strict=True):
        samples = [draw_sample(seed, split, i, variant, num_points) for i in range(count)]
        X = np.stack([s.points for s in samples]) if count else np.zeros((0, num_points, 3))
        if layout == "voxels":
            X = voxelize(X, resolution) if count else np.zeros((0,) + (resolution,) * 3)
        data[f"X_{split}"] = np.ascontiguousarray(X, dtype=dtype)
        data[f"y_{split}"] = np.array([s.label for s in samples], dtype=np.int64)
        for key, shape in (("rotation", (3, 3)), ("scale", ()), ("offset", (3,)), ("view", (3,))):
            values = np.array([getattr(s, key) for s in samples], dtype=np.float32)
            data[f"{key}s_{split}"] = values.reshape((count, *shape))
    data["classes"] = CLASSES[: spec.num_classes]
    return data


# -- other representations: voxels, cameras, depth maps, silhouettes --------------------


def voxel_centres(resolution: int, bound: float = 1.0) -> np.ndarray:
    """(R, R, R, 3) centres of the voxels of the cube [-bound, bound]^3, index [i, j, k]
    along x, y, z."""
    c = (np.arange(resolution) + 0.5) * (2 * bound / resolution) - bound
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1)


def voxelize(points: np.ndarray, resolution: int, bound: float = 1.0) -> np.ndarray:
    """Occupancy of the cube [-bound, bound]^3 cut into R^3 voxels: points (P, 3) ->
    (R, R, R) float32, or (N, P, 3) -> (N, R, R, R); voxel [i, j, k] (x, y, z) is 1 if a
    point lies in [-b + i w, -b + (i + 1) w) x ... (w = 2 b / R; points on the far faces
    go to the last voxel); points outside the cube are dropped."""
    resolution = check_int("resolution", resolution, 1)
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[-1] != 3 or pts.ndim not in (2, 3):
        raise ValueError(f"points must be (P, 3) or (N, P, 3), got {pts.shape}")
    batch = pts.reshape(-1, pts.shape[-2], 3) if pts.ndim == 3 else pts[None]
    n = len(batch)
    grid = np.zeros((n, resolution**3), dtype=np.float32)
    inside = np.all(np.abs(batch) <= bound, axis=-1)  # (N, P)
    idx = np.clip(np.floor((batch + bound) * (resolution / (2 * bound))), 0, resolution - 1)
    idx = idx.astype(np.int64)
    flat = (idx[..., 0] * resolution + idx[..., 1]) * resolution + idx[..., 2]
    rows = np.broadcast_to(np.arange(n)[:, None], flat.shape)
    grid[rows[inside], flat[inside]] = 1.0
    grid = grid.reshape(n, resolution, resolution, resolution)
    return grid if pts.ndim == 3 else grid[0]


def sdf_grid(solid: Solid, resolution: int, bound: float = 1.0) -> np.ndarray:
    """(R, R, R) float32 signed distances of `solid` at the voxel centres of
    [-bound, bound]^3 (an implicit surface on a grid, e.g. for skimage's marching_cubes)."""
    centres = voxel_centres(check_int("resolution", resolution, 1), bound)
    return solid.sdf(centres).astype(np.float32)


def solid_voxels(solid: Solid, resolution: int, bound: float = 1.0) -> np.ndarray:
    """(R, R, R) bool: the voxels of [-bound, bound]^3 whose centre lies inside `solid`
    (the true volume, e.g. for the IoU of a carved one)."""
    return solid.contains(voxel_centres(check_int("resolution", resolution, 1), bound))


@dataclass
class Camera:
    """An orthographic camera looking at the origin from unit `direction` (towards the
    camera), its image plane at `distance`; the image (resolution x resolution) spans
    [-extent, extent] on both axes: column c at x = (c + 0.5) 2 e / W - e along `right`,
    row r at y = e - (r + 0.5) 2 e / H along `up` (row 0 on top). `up` is made
    orthogonal to the direction (any vector not parallel to it)."""

    direction: np.ndarray
    resolution: int = 64
    extent: float = 1.1
    distance: float = 3.0
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))

    def __post_init__(self):
        d = np.asarray(self.direction, dtype=float)
        if d.shape != (3,) or not np.linalg.norm(d) > 0:
            raise ValueError(f"direction must be a non-zero (3,) vector, got {self.direction!r}")
        self.direction = d / np.linalg.norm(d)
        up = np.asarray(self.up, dtype=float)
        if np.linalg.norm(np.cross(up, self.direction)) < 1e-6:
            up = np.array([1.0, 0.0, 0.0]) if abs(self.direction[0]) < 0.9 else np.eye(3)[1]
        right = np.cross(up, self.direction)
        self.right = right / np.linalg.norm(right)
        self.up = np.cross(self.direction, self.right)
        self.resolution = check_int("resolution", self.resolution, 1)

    def project(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x (..., 3) -> rows, cols (...) float pixel coordinates (pixel r spans [r, r + 1))
        and depth (...), the distance from the image plane along -direction."""
        scale = self.resolution / (2 * self.extent)
        cols = (x @ self.right + self.extent) * scale
        rows = (self.extent - x @ self.up) * scale
        return rows, cols, self.distance - x @ self.direction

    def rays(self) -> np.ndarray:
        """(H, W, 3) origins of the pixels' rays on the image plane; each goes along
        -direction."""
        c = (np.arange(self.resolution) + 0.5) * (2 * self.extent / self.resolution)
        c = c - self.extent
        xs, ys = c[None, :], -c[:, None]  # columns along right, rows down
        return xs[..., None] * self.right + ys[..., None] * self.up + self.distance * self.direction


def cameras_around(count: int, **kwargs) -> list[Camera]:
    """`count` cameras spread evenly over the sphere (a Fibonacci spiral of directions);
    kwargs go to Camera (resolution, extent, distance)."""
    count = check_int("count", count, 1)
    k = np.arange(count) + 0.5
    z = 1 - 2 * k / count
    phi = k * math.pi * (3 - math.sqrt(5))
    rho = np.sqrt(1 - z * z)
    dirs = np.stack([rho * np.cos(phi), rho * np.sin(phi), z], axis=1)
    return [Camera(d, **kwargs) for d in dirs]


def render_depth(
    solid: Solid, camera: Camera, tol: float = 1e-5, max_steps: int = 300
) -> np.ndarray:
    """(H, W) float32 depth of `solid` seen by `camera`: the distance from the image plane
    to the first surface point along each pixel's ray (sphere tracing of solid.sdf), inf
    where the ray misses (background)."""
    origins = camera.rays().reshape(-1, 3)
    depth = np.full(len(origins), np.inf)
    t = np.zeros(len(origins))
    active = np.arange(len(origins))
    far = 2 * camera.distance
    for _ in range(max_steps):
        if not len(active):
            break
        s = solid.sdf(origins[active] - t[active, None] * camera.direction)
        hit = s < tol
        depth[active[hit]] = t[active[hit]]
        t[active] += s
        active = active[~hit & (t[active] < far)]
    return depth.reshape(camera.resolution, camera.resolution).astype(np.float32)


def silhouette(solid: Solid, camera: Camera) -> np.ndarray:
    """(H, W) bool: the pixels whose ray hits `solid`."""
    return np.isfinite(render_depth(solid, camera))
