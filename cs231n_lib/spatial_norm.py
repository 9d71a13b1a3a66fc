"""Spatial batch normalization: batch norm of images, one mean and variance per channel.

A conv layer applies each filter at every position, so the values of one channel at all
positions of all images are samples of the same feature. Spatial batch normalization
therefore normalizes each channel over N, H and W together, which is ordinary batch
normalization (cs231n_lib.normalization) of the N * H * W rows of an (N * H * W, C) matrix:

    (N, C, H, W) -> transpose -> (N, H, W, C) -> reshape -> (N * H * W, C)

gamma, beta and the running averages in bn_param have shape (C,). 06_cnn has the student
write these; later notebooks import them.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import numpy as np

from cs231n_lib.normalization import batchnorm_backward, batchnorm_forward

Cache = Any  # what a forward pass hands to its backward pass; opaque to callers


def _to_rows(x: np.ndarray) -> np.ndarray:
    num, channels, height, width = x.shape
    return x.transpose(0, 2, 3, 1).reshape(num * height * width, channels)  # (N H W, C)


def _to_images(rows: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    num, channels, height, width = shape
    return rows.reshape(num, height, width, channels).transpose(0, 3, 1, 2)  # (N, C, H, W)


def spatial_batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: MutableMapping
) -> tuple[np.ndarray, Cache]:
    """Batch normalization of each channel over the batch and all positions.

    Inputs:
    - x: images (N, C, H, W).
    - gamma, beta: scale and shift per channel, shape (C,).
    - bn_param: as in `batchnorm_forward` ("mode" required); updated in place.
    Returns (out, cache): out (N, C, H, W).
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"spatial_batchnorm_forward: x must be (N, C, H, W), got {x.shape}")
    rows_out, bn_cache = batchnorm_forward(_to_rows(x), gamma, beta, bn_param)
    return _to_images(rows_out, x.shape), (bn_cache, x.shape)


def spatial_batchnorm_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of `spatial_batchnorm_forward`.

    Inputs:
    - dout: upstream gradient (N, C, H, W).
    - cache: from the forward pass.
    Returns (dx, dgamma, dbeta) of shapes (N, C, H, W), (C,), (C,).
    """
    bn_cache, shape = cache
    drows, dgamma, dbeta = batchnorm_backward(_to_rows(np.asarray(dout)), bn_cache)
    return _to_images(drows, shape), dgamma, dbeta
