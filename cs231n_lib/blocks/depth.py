"""Depth and pose in torch (13_3d_vision, depth_and_shape): rendered scenes for monocular
depth, a small depth CNN and its training loop, and a PointNet-style rotation regressor.

- `render_scenes`: objects of cs231n_lib.data.points seen by one orthographic camera, as
  a shaded grey image (the network's input) and a depth map (its target), each scene's
  depth multiplied by a random factor the image does not show (the unknown unit of a
  single photograph);
- `DepthCNN` and `train_depth`: an encoder-decoder from the image to the log depth,
  trained with a loss the caller passes in (the notebook's scale-invariant loss);
- `PoseNet` and `train_pose`: a shared per-point MLP, max pooling and a head that outputs
  a rotation code (6 numbers for the 6-D representation, 4 for a quaternion), trained with
  the caller's code -> matrix map on clouds turned by fresh random rotations;
- `random_rotations_within`: rotations by at most a given angle (the poses of the notebook's
  regression: from scratch, uniform rotations need far more training than fits in minutes);
- `quaternion_to_matrix`, `abs_rel_after_scale`: a baseline head's map and a depth metric.

The functions the notebook asks the student to write (the scale-invariant loss, the 6-D
map, the angle error) are not here: they are passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from cs231n_lib.blocks.pointnet import random_rotations, shared_mlp
from cs231n_lib.blocks.training import predict_in_batches, train_steps
from cs231n_lib.data import points as points_data

LIGHT = np.array([0.4, 0.3, 1.0])  # towards the light, in camera coordinates (right, up, view)


def _normals(solid: points_data.Solid, x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """(M, 3) unit outward normals of `solid` at points x (M, 3): the gradient of its signed
    distance by central differences."""
    grad = np.stack([solid.sdf(x + step * e) - solid.sdf(x - step * e) for e in np.eye(3)], axis=1)
    return grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)


def shade(solid: points_data.Solid, camera: points_data.Camera, depth: np.ndarray) -> np.ndarray:
    """(H, W) float32 grey image in [0, 1] of `solid` from its depth map (H, W) (inf on the
    background, which stays 0): ambient 0.2 plus 0.8 times the Lambertian term max(0, n . l)
    for the light LIGHT fixed to the camera."""
    light = LIGHT[0] * camera.right + LIGHT[1] * camera.up + LIGHT[2] * camera.direction
    light = light / np.linalg.norm(light)
    image = np.zeros(depth.shape, dtype=np.float32)
    hit = np.isfinite(depth)
    if hit.any():
        x = camera.rays()[hit] - depth[hit][:, None] * camera.direction  # (M, 3) surface points
        image[hit] = 0.2 + 0.8 * np.maximum(_normals(solid, x) @ light, 0.0)
    return image


def render_scenes(
    num_scenes: int,
    seed: int = 0,
    split: str = "train",
    resolution: int = 32,
    distance: float = 1.6,
    unit_range: tuple[float, float] = (0.5, 2.0),
) -> dict[str, np.ndarray]:
    """Scenes of one object each (cloud `i` of data.points' easy `split`, whole surface, in a
    random pose and the unit ball), seen by an orthographic camera along -y at `distance`.

    Returns images (N, 1, R, R) float32 shaded grey in [0, 1]; depths (N, R, R) float32,
    the rendered depth times the scene's unit factor (inf on the background); units (N,)
    float32 those factors, log-uniform in `unit_range` (the image does not depend on them);
    labels (N,) int64 the objects' classes.
    """
    rng = np.random.default_rng([seed, 13])
    camera = points_data.Camera(
        np.array([0.0, -1.0, 0.0]), resolution=resolution, extent=1.05, distance=distance
    )
    images, depths, labels = [], [], []
    units = np.exp(rng.uniform(*np.log(unit_range), size=num_scenes)).astype(np.float32)
    for i in range(num_scenes):
        sample = points_data.draw_sample(seed, split, i, "easy", num_points=64)
        depth = points_data.render_depth(sample.solid, camera)
        images.append(shade(sample.solid, camera, depth))
        depths.append(depth * units[i])
        labels.append(sample.label)
    return {
        "images": np.stack(images)[:, None],
        "depths": np.stack(depths).astype(np.float32),
        "units": units,
        "labels": np.array(labels, dtype=np.int64),
    }


def log_depth_targets(depths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """depths (N, H, W) with inf (or nan) off the object -> (log depths (N, H, W) float32
    with 0 off the object, masks (N, H, W) bool: where the depth is finite and > 0)."""
    depths = np.asarray(depths, dtype=np.float64)
    mask = np.isfinite(depths) & (depths > 0)
    log_depth = np.log(np.where(mask, depths, 1.0))
    return log_depth.astype(np.float32), mask


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class DepthCNN(nn.Module):
    """A small encoder-decoder: images (N, 1, H, W) -> log depths (N, H, W), H and W
    multiples of 4. Two stride-2 stages down (width, 2 width, 4 width channels), two
    bilinear upsamplings back with skip connections (concatenated), a 1x1 output layer."""

    def __init__(self, width: int = 16):
        super().__init__()
        w = width
        self.down0 = nn.Sequential(_block(1, w), _block(w, w))  # (N, w, H, W)
        self.down1 = nn.Sequential(_block(w, 2 * w, 2), _block(2 * w, 2 * w))  # H / 2
        self.down2 = nn.Sequential(_block(2 * w, 4 * w, 2), _block(4 * w, 4 * w))  # H / 4
        self.up1 = _block(4 * w + 2 * w, 2 * w)
        self.up0 = _block(2 * w + w, w)
        self.out = nn.Conv2d(w, 1, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        up = nn.functional.interpolate
        x0 = self.down0(images)
        x1 = self.down1(x0)
        x2 = self.down2(x1)
        y1 = self.up1(torch.cat([up(x2, size=x1.shape[-2:], mode="bilinear"), x1], dim=1))
        y0 = self.up0(torch.cat([up(y1, size=x0.shape[-2:], mode="bilinear"), x0], dim=1))
        return self.out(y0)[:, 0]  # (N, H, W)


def train_depth(
    model: nn.Module,
    images: np.ndarray,
    log_depths: np.ndarray,
    masks: np.ndarray,
    loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    num_steps: int,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    seed: int = 0,
    flip: bool = True,
    progress: bool = True,
    desc: str = "depth CNN",
) -> dict[str, list[float] | float]:
    """Train `model` for `num_steps` Adam steps (half-cosine learning rate) on random
    batches, minimizing loss_fn(predicted log depths (B, H, W), true log depths (B, H, W),
    masks (B, H, W) bool). flip: mirror each drawn image left-right with probability 1/2.

    Inputs: images (N, 1, H, W); log_depths (N, H, W); masks (N, H, W) bool.
    Returns {"loss": per-step losses, "seconds": training time, "seconds_per_step"}.
    """
    if not len(images) == len(log_depths) == len(masks):
        raise ValueError(f"{len(images)} images, {len(log_depths)} depths, {len(masks)} masks")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    X = torch.tensor(np.asarray(images), dtype=torch.float32)  # copies: inputs may be views
    Y = torch.tensor(np.asarray(log_depths), dtype=torch.float32)
    M = torch.tensor(np.asarray(masks), dtype=torch.bool)

    def batch_loss() -> torch.Tensor:
        batch = torch.randint(0, len(X), (min(batch_size, len(X)),), generator=generator)
        x, y, m = X[batch], Y[batch], M[batch]
        if flip:
            mirror = torch.rand(len(batch), generator=generator) < 0.5
            x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
            y = torch.where(mirror[:, None, None], y.flip(-1), y)
            m = torch.where(mirror[:, None, None], m.flip(-1), m)
        return loss_fn(model(x.to(device)), y.to(device), m.to(device))

    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return train_steps(model, optimizer, num_steps, batch_loss, desc, progress)


def predict_log_depth(model: nn.Module, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """(N, H, W) float32 log depths of `model` in eval mode for images (N, 1, H, W)."""
    return predict_in_batches(model, images, batch_size).numpy()


def abs_rel_after_scale(log_pred: np.ndarray, log_true: np.ndarray, mask: np.ndarray) -> float:
    """Mean over images of the absolute relative error mean |s y_pred - y| / y over each
    image's mask, after the scale s = exp(mean(log y - log y_pred)) that best aligns the two
    in log space (the unit a single image cannot tell). Inputs (N, H, W); mask bool."""
    log_pred, log_true = np.asarray(log_pred, float), np.asarray(log_true, float)
    mask = np.asarray(mask, dtype=bool)
    errors = []
    for p, t, m in zip(log_pred, log_true, mask, strict=True):
        if m.any():
            shift = np.mean(t[m] - p[m])
            errors.append(np.mean(np.abs(np.exp(p[m] + shift - t[m]) - 1.0)))
    return float(np.mean(errors))


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternions (w, x, y, z), normalized here -> (..., 3, 3) rotation matrices."""
    w, x, y, z = (q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).view(*q.shape[:-1], 3, 3)  # fmt: skip


class PoseNet(nn.Module):
    """A PointNet-style regressor: points (B, P, 3) -> (B, out_dim) rotation codes.

    A shared MLP (3 -> widths, 1x1 convolutions with batch norm and ReLU), pooling over the
    points ("max"; "mean"; or "max+mean", both concatenated: a mean of per-point features
    holds moments of the cloud such as its covariance, which carry its orientation), then
    fully connected layers head_widths -> out_dim (6: the 6-D representation; 4: a
    quaternion). No input transform: the pose is what it must find.
    """

    def __init__(
        self,
        out_dim: int = 6,
        widths: tuple[int, ...] = (32, 64, 128),
        head_widths: tuple[int, ...] = (128, 64),
        pooling: str = "max+mean",
    ):
        super().__init__()
        if pooling not in ("max", "mean", "max+mean"):
            raise ValueError(f"pooling={pooling!r} is not one of 'max', 'mean', 'max+mean'")
        self.pooling = pooling
        self.mlp = shared_mlp((3, *widths))
        pooled = widths[-1] * (2 if pooling == "max+mean" else 1)
        layers: list[nn.Module] = []
        for w_in, w_out in zip((pooled, *head_widths[:-1]), head_widths, strict=True):
            layers += [nn.Linear(w_in, w_out), nn.ReLU()]
        layers.append(nn.Linear(head_widths[-1], out_dim))
        self.head = nn.Sequential(*layers)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        features = self.mlp(points.transpose(1, 2))  # (B, C, P)
        pooled = []
        if "max" in self.pooling:
            pooled.append(features.max(dim=2).values)  # (B, C)
        if "mean" in self.pooling:
            pooled.append(features.mean(dim=2))
        return self.head(torch.cat(pooled, dim=1))


def random_rotations_within(
    count: int, max_angle: float, generator: torch.Generator
) -> torch.Tensor:
    """(count, 3, 3) rotations about axes uniform on the sphere by angles uniform in
    [0, max_angle] degrees (Rodrigues' formula); max_angle >= 180: uniform on SO(3)
    (`random_rotations`)."""
    if max_angle >= 180:
        return random_rotations(count, generator)
    axis = torch.randn(count, 3, generator=generator)
    x, y, z = (axis / axis.norm(dim=1, keepdim=True)).unbind(1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=1).view(count, 3, 3)
    angle = torch.rand(count, generator=generator) * math.radians(max_angle)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    return torch.eye(3) + s * K + (1 - c) * (K @ K)


def train_pose(
    model: nn.Module,
    points: np.ndarray,
    rotations: np.ndarray,
    to_matrix: Callable[[torch.Tensor], torch.Tensor],
    num_steps: int,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    max_angle: float = 180.0,
    seed: int = 0,
    progress: bool = True,
    desc: str = "pose",
) -> dict[str, list[float] | float]:
    """Train `model` for `num_steps` Adam steps (half-cosine learning rate) to regress the
    rotation of each cloud: the loss is the mean squared Frobenius distance between
    to_matrix(model(cloud)) (B, 3, 3) and the true rotation. Each drawn cloud is turned by a
    fresh random rotation Q (`random_rotations_within(max_angle)`; points x -> Q x, target
    R -> Q R): a new pose at every step.

    Inputs: points (N, P, 3); rotations (N, 3, 3), own frame -> cloud frame (the identity
    for clouds in their own frame).
    Returns {"loss": per-step losses, "seconds": training time, "seconds_per_step"}.
    """
    if len(points) != len(rotations):
        raise ValueError(f"{len(points)} clouds but {len(rotations)} rotations")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    X = torch.tensor(np.asarray(points), dtype=torch.float32)  # copies: inputs may be views
    R = torch.tensor(np.asarray(rotations), dtype=torch.float32)

    def batch_loss() -> torch.Tensor:
        batch = torch.randint(0, len(X), (min(batch_size, len(X)),), generator=generator)
        turn = random_rotations_within(len(batch), max_angle, generator)  # (B, 3, 3)
        cloud = X[batch] @ turn.transpose(1, 2)  # (B, P, 3): each point x -> Q x
        target = turn @ R[batch]  # (B, 3, 3)
        predicted = to_matrix(model(cloud.to(device)))
        return ((predicted - target.to(device)) ** 2).sum(dim=(1, 2)).mean()

    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return train_steps(model, optimizer, num_steps, batch_loss, desc, progress)


def predict_codes(model: nn.Module, points: np.ndarray, batch_size: int = 200) -> torch.Tensor:
    """(N, out_dim) rotation codes of `model` in eval mode (on the CPU) for clouds (N, P, 3)."""
    return predict_in_batches(model, points, batch_size)
