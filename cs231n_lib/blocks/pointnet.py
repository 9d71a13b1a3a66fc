"""Point-set and voxel classifiers in torch (13_3d_vision): PointNet, PointNet++ and a
volumetric CNN, with one training loop for all three.

All three read clouds `points` (B, P, 3) in the unit ball (cs231n_lib.data.points):
- PointNet (Qi et al. 2017): an input transform (a T-Net predicting a 3x3 matrix from
  the cloud), a shared per-point MLP (1x1 convolutions), max pooling over the points
  (the symmetric function that makes the output independent of their order), a head;
- PointNet2 (PointNet++, Qi et al. 2017): set abstraction levels, each a small PointNet
  on the neighbourhood (ball) of every sampled centroid, then a PointNet on the last
  level. Sampling and grouping are not done here: `SetAbstraction` takes the centroid
  and neighbour indices (farthest point sampling and ball query, which 13's notebook
  has the student write in numpy). They depend only on distances between points, so
  indices computed once per cloud stay valid for every rotation of it;
- VoxelCNN: the cloud's occupancy grid (`voxelize`, as data.points.voxelize), then 3-D
  convolutions; its cost grows with the cube of the resolution.

`train_classifier` trains any of them for a fixed number of steps on clouds rotated at
random (uniform on SO(3)), since the data's clouds come in every orientation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib.blocks.training import train_steps


def shared_mlp(widths: Sequence[int], dims: int = 1) -> nn.Sequential:
    """1x1 convolutions with batch norm and ReLU, the same weights at every point:
    (B, widths[0], P) -> (B, widths[-1], P) (dims=1) or (B, C, S, K) maps (dims=2)."""
    conv, norm = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
    layers: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [conv(width_in, width_out, 1, bias=False), norm(width_out), nn.ReLU()]
    return nn.Sequential(*layers)


def head(widths: Sequence[int], num_classes: int, dropout: float) -> nn.Sequential:
    """Fully connected layers on the global feature: widths[0] -> ... -> num_classes."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(width_in, width_out, bias=False), nn.BatchNorm1d(width_out)]
        layers += [nn.ReLU(), nn.Dropout(dropout)]
    layers.append(nn.Linear(widths[-1], num_classes))
    return nn.Sequential(*layers)


class TNet(nn.Module):
    """Predicts a k x k matrix from a cloud (B, k, P): shared MLP, max pool, FC layers.
    The last layer starts at zero with the identity as bias, so it starts as a no-op."""

    def __init__(self, k: int = 3, widths: Sequence[int] = (32, 64, 128)):
        super().__init__()
        self.k = k
        self.mlp = shared_mlp((k, *widths))
        self.fc = head((widths[-1], widths[-1] // 2), k * k, dropout=0.0)
        nn.init.zeros_(self.fc[-1].weight)
        with torch.no_grad():
            self.fc[-1].bias.copy_(torch.eye(k).flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.mlp(x).max(dim=2).values  # (B, C)
        return self.fc(pooled).view(-1, self.k, self.k)  # (B, k, k)


class PointNet(nn.Module):
    """PointNet classifier: points (B, P, 3) -> class scores (B, num_classes).

    input_transform: multiply the points by a T-Net's 3x3 matrix first; widths: the shared
    MLP's layers after the 3 input coordinates; head_widths: the FC layers after pooling.
    """

    def __init__(
        self,
        num_classes: int,
        widths: Sequence[int] = (64, 128, 256),
        head_widths: Sequence[int] = (128,),
        input_transform: bool = True,
        dropout: float = 0.3,
    ):
        super().__init__()
        self.tnet = TNet(3) if input_transform else None
        self.mlp = shared_mlp((3, *widths))
        self.head = head((widths[-1], *head_widths), num_classes, dropout)

    def point_features(self, points: torch.Tensor) -> torch.Tensor:
        """(B, P, 3) -> (B, C, P): every point's feature before pooling."""
        x = points.transpose(1, 2)  # (B, 3, P)
        if self.tnet is not None:
            x = torch.bmm(self.tnet(x).transpose(1, 2), x)  # (B, 3, P): points @ T
        return self.mlp(x)

    def critical_points(self, points: torch.Tensor) -> torch.Tensor:
        """(B, C_tnet + C) long: for each pooled feature, of the T-Net then of the shared
        MLP, the index of the point that sets its max. These points alone give the same
        matrix T, the same global feature and so the same scores."""
        found = [self.point_features(points).argmax(dim=2)]
        if self.tnet is not None:
            found.insert(0, self.tnet.mlp(points.transpose(1, 2)).argmax(dim=2))
        return torch.cat(found, dim=1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.head(self.point_features(points).max(dim=2).values)


def gather_points(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values (B, P, C), index (B, ...) long into P -> (B, ..., C)."""
    batch = torch.arange(len(values), device=values.device).view(-1, *[1] * (index.dim() - 1))
    return values[batch, index]


class SetAbstraction(nn.Module):
    """One PointNet++ level: a PointNet on the ball around each of S centroids.

    forward(xyz (B, P, 3), features (B, P, C) or None, centroids (B, S) long,
    groups (B, S, K) long) -> (centroid xyz (B, S, 3), features (B, S, widths[-1])).
    Each neighbour enters with its offset from its centroid (divided by `radius`, so
    that every level sees offsets of order 1) and its features.
    """

    def __init__(self, in_features: int, widths: Sequence[int], radius: float):
        super().__init__()
        self.radius = radius
        self.mlp = shared_mlp((3 + in_features, *widths), dims=2)

    def forward(self, xyz, features, centroids, groups):
        centre = gather_points(xyz, centroids)  # (B, S, 3)
        offsets = (gather_points(xyz, groups) - centre[:, :, None]) / self.radius  # (B, S, K, 3)
        if features is not None:
            offsets = torch.cat([offsets, gather_points(features, groups)], dim=-1)
        grouped = offsets.permute(0, 3, 1, 2)  # (B, 3 + C, S, K)
        return centre, self.mlp(grouped).max(dim=3).values.transpose(1, 2)  # (B, S, C')


class PointNet2(nn.Module):
    """PointNet++ classifier (single-scale grouping): set abstraction levels, then a
    PointNet on the last level's centroids (their xyz and features), max pooled.

    forward(points (B, P, 3), index) with index = (centroids_1, groups_1, centroids_2,
    groups_2, ...): level l's centroids (B, S_l) and groups (B, S_l, K_l) index the
    points of level l - 1 (the cloud for l = 1).
    """

    def __init__(
        self,
        num_classes: int,
        radii: Sequence[float] = (0.25, 0.5),
        level_widths: Sequence[Sequence[int]] = ((32, 32, 64), (64, 64, 128)),
        global_widths: Sequence[int] = (128, 256),
        head_widths: Sequence[int] = (128,),
        dropout: float = 0.3,
    ):
        super().__init__()
        if len(radii) != len(level_widths):
            raise ValueError(f"{len(radii)} radii for {len(level_widths)} levels")
        levels, width = [], 0
        for radius, widths in zip(radii, level_widths, strict=True):
            levels.append(SetAbstraction(width, widths, radius))
            width = widths[-1]
        self.levels = nn.ModuleList(levels)
        self.global_mlp = shared_mlp((3 + width, *global_widths))
        self.head = head((global_widths[-1], *head_widths), num_classes, dropout)

    def forward(self, points: torch.Tensor, index: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(index) != 2 * len(self.levels):
            raise ValueError(
                f"index needs 2 arrays per level ({2 * len(self.levels)}), got {len(index)}"
            )
        xyz, features = points, None
        for level, centroids, groups in zip(self.levels, index[::2], index[1::2], strict=True):
            xyz, features = level(xyz, features, centroids, groups)
        x = torch.cat([xyz, features], dim=-1).transpose(1, 2)  # (B, 3 + C, S)
        return self.head(self.global_mlp(x).max(dim=2).values)


def voxelize(points: torch.Tensor, resolution: int, bound: float = 1.0) -> torch.Tensor:
    """Occupancy grids (B, 1, R, R, R) of clouds (B, P, 3), as data.points.voxelize:
    voxel [i, j, k] (x, y, z) holds the points of [-b + i w, -b + (i + 1) w) x ...
    (w = 2 b / R, the far faces in the last voxel); points outside the cube dropped."""
    B = len(points)
    idx = torch.floor((points + bound) * (resolution / (2 * bound))).clamp(0, resolution - 1)
    idx = idx.long()
    flat = (idx[..., 0] * resolution + idx[..., 1]) * resolution + idx[..., 2]  # (B, P)
    inside = (points.abs() <= bound).all(dim=-1)
    cells = resolution**3  # one more column collects the points outside, then is dropped
    grid = torch.zeros(B, cells + 1, device=points.device, dtype=points.dtype)
    grid.scatter_(1, torch.where(inside, flat, cells), 1.0)
    return grid[:, :cells].view(B, 1, resolution, resolution, resolution)


class VoxelCNN(nn.Module):
    """A volumetric CNN on the occupancy grid of a cloud: points (B, P, 3) -> scores.

    Stages of a 3x3x3 convolution, batch norm, ReLU and 2x2x2 max pooling (one per entry
    of widths) on the (R, R, R) grid, then global max pooling and a head. The parameters
    do not depend on R; the work of each stage is proportional to its R^3 voxels.
    """

    def __init__(
        self,
        num_classes: int,
        resolution: int = 16,
        widths: Sequence[int] = (16, 32, 64),
        head_widths: Sequence[int] = (64,),
        dropout: float = 0.3,
    ):
        super().__init__()
        if resolution < 2 ** len(widths):
            raise ValueError(f"resolution {resolution} is too small for {len(widths)} poolings")
        self.resolution = resolution
        layers: list[nn.Module] = []
        for width_in, width_out in zip((1, *widths[:-1]), widths, strict=True):
            layers += [nn.Conv3d(width_in, width_out, 3, padding=1, bias=False)]
            layers += [nn.BatchNorm3d(width_out), nn.ReLU(), nn.MaxPool3d(2)]
        self.features = nn.Sequential(*layers)
        self.head = head((widths[-1], *head_widths), num_classes, dropout)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        grid = voxelize(points, self.resolution)
        return self.head(self.features(grid).amax(dim=(2, 3, 4)))


def random_rotations(count: int, generator: torch.Generator) -> torch.Tensor:
    """(count, 3, 3) rotations uniform on SO(3), from normalized Gaussian quaternions."""
    q = torch.randn(count, 4, generator=generator)
    w, x, y, z = (q / q.norm(dim=1, keepdim=True)).unbind(1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=1).view(count, 3, 3)  # fmt: skip


def _as_tensors(index, device) -> list[torch.Tensor]:
    return [torch.as_tensor(np.asarray(a), dtype=torch.int64, device=device) for a in index]


def train_classifier(
    model: nn.Module,
    points: np.ndarray,
    y: np.ndarray,
    num_steps: int,
    index: Sequence[np.ndarray] | None = None,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    weight_decay: float = 1e-4,
    rotate: bool = True,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
) -> dict[str, list[float] | float]:
    """Train `model` for `num_steps` steps of Adam (weight decay as AdamW) with a
    half-cosine learning rate, on random batches of clouds, each turned by a random
    rotation (uniform on SO(3)) when `rotate`.

    Inputs: points (N, P, 3); y (N,) labels; index: PointNet2's per-cloud index arrays,
    each (N, ...), or None for models called with the points alone.
    Returns {"loss": per-step losses, "seconds": training time, "seconds_per_step"}.
    """
    if len(points) != len(y):
        raise ValueError(f"{len(points)} clouds but {len(y)} labels")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    X = torch.as_tensor(points, dtype=torch.float32)
    labels = torch.as_tensor(y, dtype=torch.int64)
    indices = None if index is None else _as_tensors(index, "cpu")

    def batch_loss() -> torch.Tensor:
        batch = torch.randint(0, len(X), (min(batch_size, len(X)),), generator=generator)
        cloud = X[batch]
        if rotate:
            cloud = cloud @ random_rotations(len(batch), generator).transpose(1, 2)
        args = [cloud.to(device)]
        if indices is not None:
            args.append([a[batch].to(device) for a in indices])
        return F.cross_entropy(model(*args), labels[batch].to(device))

    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    return train_steps(model, optimizer, num_steps, batch_loss, desc, progress)


def predict_proba(
    model: nn.Module,
    points: np.ndarray,
    index: Sequence[np.ndarray] | None = None,
    batch_size: int = 100,
    num_rotations: int = 0,
    seed: int = 0,
) -> np.ndarray:
    """(N, num_classes) softmax probabilities of `model` in eval mode, without gradients.

    num_rotations > 0: the mean of the probabilities of that many random rotations of
    each cloud (voting over views, as PointNet's paper does at test time), drawn from
    `seed`; 0: the clouds as they are.
    """
    device = next(model.parameters()).device
    model.eval()
    X = torch.as_tensor(points, dtype=torch.float32)
    indices = None if index is None else _as_tensors(index, "cpu")
    turns = None
    if num_rotations > 0:
        turns = random_rotations(num_rotations, torch.Generator().manual_seed(seed))
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            batch = X[start : start + batch_size]
            extra = []
            if indices is not None:
                extra.append([a[start : start + batch_size].to(device) for a in indices])
            views = [batch] if turns is None else [batch @ turn.T for turn in turns]
            probs = [F.softmax(model(view.to(device), *extra), dim=1) for view in views]
            out.append(torch.stack(probs).mean(0).cpu())
    return torch.cat(out).numpy()
