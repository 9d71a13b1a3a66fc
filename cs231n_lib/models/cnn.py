"""A three-layer convolutional network: conv - ReLU - 2x2 max pool - affine - ReLU - affine.

    scores = affine(relu(affine(maxpool(relu(conv(X, W1, b1))), W2, b2)), W3, b3)
    loss   = softmax cross-entropy(scores, y) + 0.5 * reg * (|W1|^2 + |W2|^2 + |W3|^2)

The conv layer keeps the spatial size (stride 1, pad (filter_size - 1) // 2, so the filter
size must be odd) and the pool halves it (2x2 windows, stride 2, so H and W must be even).
Biases are not regularized, as in TwoLayerNet.
"""

from __future__ import annotations

import numpy as np

from cs231n_lib.layers.conv import conv_relu_pool_backward, conv_relu_pool_forward
from cs231n_lib.layers.core import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    softmax_loss,
)


class ThreeLayerConvNet:
    """conv - ReLU - 2x2 max pool - affine - ReLU - affine - softmax, for the `Solver`.

    Inputs:
    - input_dim: (C, H, W) of one image; H and W even.
    - num_filters: F, filters of the conv layer.
    - filter_size: HH = WW, odd.
    - hidden_dim: units of the hidden affine layer.
    - num_classes: number of scores per image.
    - weight_scale: standard deviation of the Gaussian initial weights; biases start at 0.
    - reg: L2 regularization strength.
    - dtype: float type of the parameters (np.float32 trains faster, float64 for gradchecks).
    - seed: seed of the initial weights.
    params: W1 (F, C, HH, WW), b1 (F,), W2 (F * H/2 * W/2, hidden_dim), b2 (hidden_dim,),
    W3 (hidden_dim, num_classes), b3 (num_classes,).
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: type = np.float64,
        seed: int = 0,
    ):
        channels, height, width = input_dim
        if filter_size % 2 == 0:
            raise ValueError(f"filter_size must be odd to keep H and W, got {filter_size}")
        if height % 2 or width % 2:
            raise ValueError(f"H and W must be even for the 2x2 pool, got input_dim {input_dim}")
        if not weight_scale > 0 or not reg >= 0:
            raise ValueError(f"need weight_scale > 0 and reg >= 0, got {weight_scale}, {reg}")
        self.reg, self.dtype = reg, dtype
        self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        rng = np.random.default_rng(seed)
        pooled = num_filters * (height // 2) * (width // 2)
        shapes = {
            "W1": (num_filters, channels, filter_size, filter_size),
            "W2": (pooled, hidden_dim),
            "W3": (hidden_dim, num_classes),
        }
        self.params = {}
        for i, (name, shape) in enumerate(shapes.items(), 1):
            self.params[name] = (weight_scale * rng.standard_normal(shape)).astype(dtype)
            self.params[f"b{i}"] = np.zeros(shape[0] if i == 1 else shape[1], dtype=dtype)

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores of X, or the loss and gradients on the labelled batch (X, y).

        Inputs:
        - X: images (N, C, H, W).
        - y: labels (N,), or None.
        Returns scores (N, num_classes) if y is None, else (loss, grads) with grads[name]
        of the shape of params[name].
        """
        W1, b1, W2, b2, W3, b3 = (self.params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
        X = np.asarray(X, dtype=self.dtype)
        pooled, pool_cache = conv_relu_pool_forward(X, W1, b1, self.conv_param, self.pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)  # (N, hidden_dim)
        scores, scores_cache = affine_forward(hidden, W3, b3)  # (N, num_classes)
        if y is None:
            return scores

        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * sum(np.sum(W * W) for W in (W1, W2, W3))
        dhidden, dW3, db3 = affine_backward(dscores, scores_cache)
        dpooled, dW2, db2 = affine_relu_backward(dhidden, hidden_cache)
        _, dW1, db1 = conv_relu_pool_backward(dpooled, pool_cache)
        grads = {
            "W1": dW1 + self.reg * W1,
            "b1": db1,
            "W2": dW2 + self.reg * W2,
            "b2": db2,
            "W3": dW3 + self.reg * W3,
            "b3": db3,
        }
        return float(loss), grads
