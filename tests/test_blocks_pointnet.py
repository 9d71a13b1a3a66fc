"""Tests of cs231n_lib.blocks.pointnet: invariances, the voxelizer against data.points',
set abstraction against a loop over the groups, and the training loop."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from cs231n_lib.blocks.counting import count_parameters
from cs231n_lib.blocks.pointnet import (
    PointNet,
    PointNet2,
    SetAbstraction,
    TNet,
    VoxelCNN,
    predict_proba,
    random_rotations,
    train_classifier,
    voxelize,
)
from cs231n_lib.data import points as points_data


def cloud_batch(seed, count=4, num_points=64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, num_points, 3))
    return torch.as_tensor(x / np.linalg.norm(x, axis=-1).max(), dtype=torch.float32)


def group_index(clouds, levels):
    """Farthest point sampling and ball query from their definitions (cdist), per cloud."""
    index = [[] for _ in range(2 * len(levels))]
    for cloud in np.asarray(clouds, dtype=np.float64):
        xyz = cloud
        for level, (count, radius, neighbours) in enumerate(levels):
            chosen = [0]
            while len(chosen) < count:
                chosen.append(int(np.argmax(cdist(xyz, xyz[chosen]).min(axis=1))))
            rows = []
            for c in chosen:
                inside = list(np.flatnonzero(cdist(xyz[c : c + 1], xyz)[0] < radius))
                inside = inside[:neighbours]
                rows.append(inside + [inside[0]] * (neighbours - len(inside)))
            index[2 * level].append(chosen)
            index[2 * level + 1].append(rows)
            xyz = xyz[chosen]
    return [torch.as_tensor(np.array(a), dtype=torch.int64) for a in index]


def test_voxelize_matches_the_data_module():
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1.2, 1.2, size=(3, 200, 3))
    pts[0, :4] = [[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]
    for resolution in (1, 4, 7, 16):
        ours = voxelize(torch.as_tensor(pts, dtype=torch.float64), resolution).numpy()[:, 0]
        np.testing.assert_array_equal(ours, points_data.voxelize(pts, resolution))


def test_tnet_starts_as_the_identity():
    torch.manual_seed(0)
    tnet = TNet(3).eval()
    transforms = tnet(cloud_batch(1).transpose(1, 2))
    assert transforms.shape == (4, 3, 3)
    torch.testing.assert_close(transforms, torch.eye(3).expand(4, 3, 3))


@pytest.mark.parametrize("input_transform", [True, False])
def test_pointnet_ignores_the_order_of_the_points(input_transform):
    torch.manual_seed(0)
    net = PointNet(5, widths=(16, 32), input_transform=input_transform).eval()
    with torch.no_grad():  # a trained-like T-Net: not the identity
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    clouds = cloud_batch(2)
    with torch.no_grad():
        scores = net(clouds)
        permuted = net(clouds[:, torch.randperm(clouds.shape[1])])
    assert scores.shape == (4, 5)
    torch.testing.assert_close(permuted, scores, rtol=0, atol=1e-6)


def test_pointnet_critical_points_alone_give_the_same_scores():
    torch.manual_seed(0)
    net = PointNet(5, widths=(16, 32)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    clouds = cloud_batch(3, num_points=200)
    with torch.no_grad():
        critical = net.critical_points(clouds)
        assert critical.shape == (4, 128 + 32)  # the T-Net's 128 pooled features, then 32
        for b in range(len(clouds)):
            kept = clouds[b : b + 1, torch.unique(critical[b])]
            assert kept.shape[1] < clouds.shape[1]
            torch.testing.assert_close(net(kept), net(clouds[b : b + 1]), rtol=0, atol=1e-6)
            others = np.setdiff1d(np.arange(clouds.shape[1]), critical[b].numpy())
            assert not torch.allclose(net(clouds[b : b + 1, others]), net(clouds[b : b + 1]))


def test_set_abstraction_is_a_pointnet_on_each_ball():
    torch.manual_seed(0)
    level = SetAbstraction(in_features=2, widths=(8, 6), radius=0.5).eval()
    xyz = cloud_batch(4, count=2, num_points=30)
    features = torch.randn(2, 30, 2)
    centroids, groups = group_index(xyz, [(5, 0.5, 4)])
    centre, out = level(xyz, features, centroids, groups)
    assert centre.shape == (2, 5, 3) and out.shape == (2, 5, 6)
    for b in range(2):
        for s in range(5):
            c = xyz[b, centroids[b, s]]
            members = groups[b, s]
            x = torch.cat([(xyz[b, members] - c) / 0.5, features[b, members]], dim=1)  # (K, 5)
            expected = level.mlp(x.T[None, :, None, :]).amax(dim=3)[0, :, 0]  # (6,)
            torch.testing.assert_close(centre[b, s], c)
            torch.testing.assert_close(out[b, s], expected, rtol=1e-5, atol=1e-6)


def test_pointnet2_indices_hold_for_every_rotation_and_order():
    torch.manual_seed(0)
    levels = [(16, 0.4, 8), (4, 0.8, 8)]
    net = PointNet2(3, radii=[0.4, 0.8], level_widths=((8, 8), (8, 16)), global_widths=(16,),
                    head_widths=(8,)).eval()  # fmt: skip
    clouds = cloud_batch(5, count=2, num_points=48)
    index = group_index(clouds, levels)
    rotation = random_rotations(1, torch.Generator().manual_seed(0))[0]
    turned = clouds @ rotation.T
    for a, b in zip(index, group_index(turned, levels), strict=True):
        torch.testing.assert_close(a, b)  # distances are kept, so are the indices
    order = torch.randperm(48)
    where = torch.argsort(order)  # point i of the cloud sits at where[i] after the shuffle
    shuffled_index = [where[index[0]], where[index[1]], *index[2:]]
    with torch.no_grad():
        torch.testing.assert_close(net(clouds[:, order], shuffled_index), net(clouds, index))
    with pytest.raises(ValueError, match="2 arrays per level"):
        net(clouds, index[:2])


def test_voxel_cnn_parameters_do_not_depend_on_the_resolution():
    counts = {r: count_parameters(VoxelCNN(4, resolution=r)) for r in (8, 16, 32)}
    assert len(set(counts.values())) == 1
    with torch.no_grad():
        assert VoxelCNN(4, resolution=8).eval()(cloud_batch(6)).shape == (4, 4)
    with pytest.raises(ValueError, match="too small"):
        VoxelCNN(4, resolution=4)


def test_random_rotations_are_rotations_spread_over_so3():
    turns = random_rotations(4000, torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(turns @ turns.transpose(1, 2), torch.eye(3).expand(4000, 3, 3)
                               .double(), atol=1e-6, rtol=0)  # fmt: skip
    torch.testing.assert_close(
        torch.linalg.det(turns), torch.ones(4000, dtype=torch.float64), atol=1e-5, rtol=0
    )
    # Uniform on SO(3): E[R] = 0 and E[R_ij^2] = 1/3.
    assert turns.mean(0).abs().max() < 0.05
    assert (turns.pow(2).mean(0) - 1 / 3).abs().max() < 0.03


def test_train_classifier_learns_and_is_deterministic():
    data = points_data.load(num_train=64, num_val=0, num_test=0, num_points=64)
    keep = np.isin(data["y_train"], [0, 4])  # spheres and tori
    X, y = data["X_train"][keep], (data["y_train"][keep] == 4).astype(np.int64)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        net = PointNet(2, widths=(16, 32), head_widths=(16,))
        history = train_classifier(net, X, y, 60, batch_size=16, learning_rate=1e-2,
                                   progress=False)  # fmt: skip
        runs.append((history["loss"], predict_proba(net, X)))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    loss = runs[0][0]
    assert np.mean(loss[-10:]) < 0.5 * np.mean(loss[:10])
    probs = runs[0][1]
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert np.mean(probs.argmax(1) == y) >= 0.9
    with pytest.raises(ValueError, match="num_steps"):
        train_classifier(net, X, y, 0)
    with pytest.raises(ValueError, match="labels"):
        train_classifier(net, X, y[:-1], 1)
