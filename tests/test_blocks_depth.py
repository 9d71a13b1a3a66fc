"""Tests of cs231n_lib.blocks.depth: the rendered scenes against the data module's renderer
and a sphere's exact shading, the depth CNN and its training loop, the depth metric, the
quaternion map against scipy, and the pose loop's augmentation against a Procrustes oracle."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from cs231n_lib.blocks import depth
from cs231n_lib.data import points as points_data


def test_render_scenes_match_the_data_module_renderer():
    scenes = depth.render_scenes(3, seed=5, split="test", resolution=16)
    assert scenes["images"].shape == (3, 1, 16, 16) and scenes["images"].dtype == np.float32
    assert scenes["depths"].shape == (3, 16, 16) and scenes["depths"].dtype == np.float32
    assert np.all((scenes["units"] >= 0.5) & (scenes["units"] <= 2.0))
    camera = points_data.Camera(
        np.array([0.0, -1.0, 0.0]), resolution=16, extent=1.05, distance=1.6
    )
    for i in range(3):
        sample = points_data.draw_sample(5, "test", i, "easy", num_points=64)
        expected = points_data.render_depth(sample.solid, camera)
        np.testing.assert_allclose(scenes["depths"][i] / scenes["units"][i], expected, rtol=1e-5)
        assert scenes["labels"][i] == sample.label
        background = ~np.isfinite(expected)
        assert np.all(scenes["images"][i, 0][background] == 0)
        assert np.all(scenes["images"][i, 0][~background] >= 0.2 - 1e-6)
    again = depth.render_scenes(3, seed=5, split="test", resolution=16)
    for key in scenes:
        np.testing.assert_array_equal(scenes[key], again[key])


def test_shade_of_a_sphere_is_lambertian():
    sphere = points_data.make_solid("sphere")
    sphere.scale = 0.8
    camera = points_data.Camera(np.array([0.3, -1.0, 0.2]), resolution=24)
    depth_map = points_data.render_depth(sphere, camera)
    image = depth.shade(sphere, camera, depth_map)
    hit = np.isfinite(depth_map)
    x = camera.rays()[hit] - depth_map[hit][:, None] * camera.direction
    normal = x / np.linalg.norm(x, axis=1, keepdims=True)  # a sphere's normal, exactly
    light = depth.LIGHT @ np.stack([camera.right, camera.up, camera.direction])
    light = light / np.linalg.norm(light)
    np.testing.assert_allclose(image[hit], 0.2 + 0.8 * np.maximum(normal @ light, 0), atol=2e-3)
    assert np.all(image[~hit] == 0)


def test_log_depth_targets_mask_the_background():
    depths = np.array([[[1.0, np.inf], [np.nan, 0.0]], [[2.0, 3.0], [np.e, -1.0]]])
    log_depth, mask = depth.log_depth_targets(depths)
    np.testing.assert_array_equal(mask, [[[True, False], [False, False]],
                                         [[True, True], [True, False]]])  # fmt: skip
    np.testing.assert_allclose(log_depth[mask], np.log([1.0, 2.0, 3.0, np.e]), rtol=1e-6)
    assert np.all(log_depth[~mask] == 0)


def test_depth_cnn_shapes_and_training_lowers_the_loss():
    torch.manual_seed(0)
    model = depth.DepthCNN(width=4)
    assert model(torch.zeros(2, 1, 16, 12)).shape == (2, 16, 12)
    scenes = depth.render_scenes(8, seed=1, resolution=16)
    log_depth, mask = depth.log_depth_targets(scenes["depths"])

    def masked_mse(log_pred, log_true, m):
        return ((log_pred - log_true)[m] ** 2).mean()

    history = depth.train_depth(
        model,
        scenes["images"],
        log_depth,
        mask,
        masked_mse,
        num_steps=40,
        batch_size=8,
        learning_rate=1e-2,
        progress=False,
    )
    assert len(history["loss"]) == 40 and history["seconds"] > 0
    assert np.mean(history["loss"][-5:]) < 0.5 * np.mean(history["loss"][:5])
    predicted = depth.predict_log_depth(model, scenes["images"])
    assert predicted.shape == log_depth.shape and np.all(np.isfinite(predicted))
    with pytest.raises(ValueError, match="num_steps"):
        depth.train_depth(model, scenes["images"], log_depth, mask, masked_mse, num_steps=0)


def test_abs_rel_after_scale():
    rng = np.random.default_rng(0)
    log_true = rng.normal(size=(3, 4, 5))
    mask = rng.random((3, 4, 5)) < 0.7
    mask[:, 0, 0] = True
    shifted = log_true + np.array([0.3, -1.0, 2.0])[:, None, None]  # a scale per image
    assert depth.abs_rel_after_scale(shifted, log_true, mask) == pytest.approx(0, abs=1e-12)
    log_pred = rng.normal(size=(3, 4, 5))
    expected = []
    for p, t, m in zip(log_pred, log_true, mask, strict=True):
        s = np.exp(np.mean(t[m]) - np.mean(p[m]))
        expected.append(np.mean(np.abs(s * np.exp(p[m]) - np.exp(t[m])) / np.exp(t[m])))
    assert depth.abs_rel_after_scale(log_pred, log_true, mask) == pytest.approx(np.mean(expected))


def test_quaternion_to_matrix_matches_scipy():
    q = np.random.default_rng(1).normal(size=(6, 4)) * 3  # not normalized
    ours = depth.quaternion_to_matrix(torch.tensor(q)).numpy()
    theirs = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()  # scipy: (x, y, z, w)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize("pooling", ["max", "mean", "max+mean"])
def test_posenet_ignores_the_order_of_the_points(pooling):
    torch.manual_seed(0)
    model = depth.PoseNet(6, widths=(8, 16), head_widths=(16,), pooling=pooling).eval()
    cloud = torch.randn(3, 50, 3)
    with torch.no_grad():
        out = model(cloud)
        shuffled = model(cloud[:, torch.randperm(50)])
    assert out.shape == (3, 6)
    torch.testing.assert_close(out, shuffled, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        depth.PoseNet(6, pooling="sum")


@pytest.mark.parametrize("max_angle", [10.0, 90.0, 179.0])
def test_random_rotations_within_an_angle(max_angle):
    turns = depth.random_rotations_within(2000, max_angle, torch.Generator().manual_seed(0))
    turns = turns.double().numpy()
    np.testing.assert_allclose(turns @ turns.transpose(0, 2, 1), np.broadcast_to(np.eye(3),
                               turns.shape), atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(np.linalg.det(turns), 1.0, atol=1e-6)
    angles = np.degrees(Rotation.from_matrix(turns).magnitude())
    assert angles.max() <= max_angle + 1e-3
    # Angles uniform in [0, max_angle]: the deciles of a uniform sample.
    np.testing.assert_allclose(
        np.quantile(angles, [0.25, 0.5, 0.75]) / max_angle, [0.25, 0.5, 0.75], atol=0.04
    )
    axes = Rotation.from_matrix(turns).as_rotvec()
    assert np.abs(axes.mean(axis=0)).max() < 0.05 * max(1.0, np.radians(max_angle))


def _gram_schmidt(x):
    b1 = x[:, :3] / x[:, :3].norm(dim=1, keepdim=True)
    b2 = x[:, 3:] - (b1 * x[:, 3:]).sum(1, keepdim=True) * b1
    b2 = b2 / b2.norm(dim=1, keepdim=True)
    return torch.stack([b1, b2, torch.linalg.cross(b1, b2, dim=1)], dim=2)


class ProcrustesOracle(torch.nn.Module):
    """Finds the rotation of a known base cloud exactly (points keep their order), so the
    pose loss is 0 only if train_pose turns the points and the targets consistently."""

    def __init__(self, base, base_rotation):
        super().__init__()
        self.base = torch.as_tensor(base, dtype=torch.float32)  # (P, 3), pose base_rotation
        self.base_rotation = torch.as_tensor(base_rotation, dtype=torch.float32)
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, cloud):
        # cloud = base Q^T: Q from the SVD of cloud^T base (Kabsch), then Q R_base.
        u, _, vt = torch.linalg.svd(cloud.transpose(1, 2) @ self.base)
        turn = u @ vt
        pose = turn @ self.base_rotation
        return torch.cat([pose[:, :, 0], pose[:, :, 1]], dim=1) + 0 * self.unused


@pytest.mark.parametrize("max_angle", [30.0, 180.0])
def test_train_pose_turns_points_and_targets_together(max_angle):
    sample = points_data.draw_sample(0, "train", 3, "easy", num_points=64)
    oracle = ProcrustesOracle(sample.points, sample.rotation)
    history = depth.train_pose(
        oracle,
        sample.points[None],
        sample.rotation[None],
        _gram_schmidt,
        num_steps=5,
        batch_size=4,
        max_angle=max_angle,
        progress=False,
    )
    assert max(history["loss"]) < 1e-6
    codes = depth.predict_codes(oracle, sample.points[None])
    torch.testing.assert_close(
        _gram_schmidt(codes)[0],
        torch.as_tensor(sample.rotation, dtype=torch.float32),
        atol=1e-4,
        rtol=0,
    )
