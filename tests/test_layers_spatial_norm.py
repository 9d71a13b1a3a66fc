"""cs231n_lib.layers.normalization against torch's batch norm (cs231n_lib.reference)."""

from __future__ import annotations

import numpy as np
import pytest

from cs231n_lib import reference as ref
from cs231n_lib.layers.normalization import spatial_batchnorm_backward, spatial_batchnorm_forward


def _inputs(shape=(4, 3, 5, 6), seed=0):
    rng = np.random.default_rng(seed)
    x = 2.0 + 3.0 * rng.standard_normal(shape)
    gamma = rng.standard_normal(shape[1])
    beta = rng.standard_normal(shape[1])
    return x, gamma, beta


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (2, 5, 3, 1)])
def test_train_mode_matches_torch(shape):
    x, gamma, beta = _inputs(shape)
    bn_param, ref_param = {"mode": "train"}, {"mode": "train"}
    out, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    expected = ref.spatial_batchnorm_forward(x, gamma, beta, ref_param)
    np.testing.assert_allclose(out, expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(bn_param["running_mean"], ref_param["running_mean"], rtol=1e-10)
    np.testing.assert_allclose(bn_param["running_var"], ref_param["running_var"], rtol=1e-10)
    dout = np.random.default_rng(1).standard_normal(shape)
    grads = spatial_batchnorm_backward(dout, cache)
    expected_grads = ref.spatial_batchnorm_backward(dout, x, gamma, beta, {"mode": "train"})
    for name, got, want in zip(("dx", "dgamma", "dbeta"), grads, expected_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, err_msg=name)


def test_each_channel_is_normalized_over_batch_and_positions():
    x, _, _ = _inputs()
    channels = x.shape[1]
    out, _ = spatial_batchnorm_forward(x, np.ones(channels), np.zeros(channels), {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)


def test_test_mode_uses_running_averages():
    x, gamma, beta = _inputs(seed=2)
    channels = x.shape[1]
    bn_param = {"mode": "test", "running_mean": np.arange(channels), "running_var": np.ones(3)}
    out, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    expected = ref.spatial_batchnorm_forward(x, gamma, beta, dict(bn_param))
    np.testing.assert_allclose(out, expected, rtol=1e-8, atol=1e-10)
    dout = np.ones_like(x)
    dx, _, _ = spatial_batchnorm_backward(dout, cache)
    expected_dx = ref.spatial_batchnorm_backward(dout, x, gamma, beta, dict(bn_param))[0]
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-8, atol=1e-10)


def test_rejects_non_image_input():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        spatial_batchnorm_forward(np.zeros((4, 3)), np.ones(3), np.zeros(3), {"mode": "train"})
