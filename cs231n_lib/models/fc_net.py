"""A fully connected network of any depth, trained with `cs231n_lib.solver.Solver`.

With L = len(hidden_dims) + 1 affine layers the network computes

    {affine - [normalization] - activation - [dropout]} x (L - 1) - affine - softmax

and the loss is the softmax cross-entropy plus 0.5 * reg * sum_l sum(W_l ** 2) (the
factor 0.5 makes the penalty's gradient reg * W, as in `TwoLayerNet`; biases, gammas and
betas are not regularized).

Normalization (batch or layer, `cs231n_lib.layers.normalization`) and dropout
(`cs231n_lib.layers.dropout`) are the layers of 05_regularization.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from cs231n_lib.layers import activations
from cs231n_lib.layers import dropout as dropout_layers
from cs231n_lib.layers import normalization as norm_layers
from cs231n_lib.layers.core import affine_backward, affine_forward, softmax_loss
from cs231n_lib.layers.initializers import INITIALIZERS, gaussian, init_weights

NORMALIZATIONS = (None, "batchnorm", "layernorm")
# The 05_regularization layers a network can take from its caller instead of the package.
REPLACEABLE_LAYERS = (
    "batchnorm_forward",
    "batchnorm_backward",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
)


class FullyConnectedNet:
    """A fully connected classifier with the interface the `Solver` expects.

    Inputs:
    - hidden_dims: sizes H_1, ..., H_{L-1} of the hidden layers (may be empty: a linear
      softmax classifier).
    - input_dim: D, values per example (examples of any shape are flattened).
    - num_classes: C.
    - activation: one of cs231n_lib.layers.activations.ACTIVATIONS ("relu", "leaky_relu",
      "elu", "tanh", "sigmoid"), used after every hidden affine layer.
    - normalization: None, "batchnorm" or "layernorm", after every hidden affine layer.
    - dropout_keep_ratio: probability of KEEPING a hidden unit in training; 1 disables
      dropout.
    - reg: L2 regularization strength (module docstring).
    - weight_scale: if given, every W is Gaussian with this standard deviation and `init`
      is ignored; None uses `init`.
    - init: "he", "xavier" or "small" (cs231n_lib.layers.initializers), with each layer's fan_in.
    - dtype: floating type of the parameters and of the computation (float32 trains
      faster, float64 is needed for gradient checks).
    - seed: seeds the initial weights and the dropout masks.
    - dropout_seed: None draws a fresh dropout mask on every training call (from `seed`);
      an int uses the same mask on every call, as a gradient check needs.
    - layer_functions: name -> function replacing the package's normalization or dropout
      layers (REPLACEABLE_LAYERS), e.g. {"batchnorm_forward": batchnorm_forward, ...}:
      05_regularization trains this network with the layers the student wrote.

    params: W1 (D, H_1), b1 (H_1,), ..., WL (H_{L-1}, C), bL (C,); with normalization
    also gamma1, beta1, ..., gamma{L-1}, beta{L-1} (H_l,), starting at 1 and 0.
    """

    def __init__(
        self,
        hidden_dims: Sequence[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        activation: str = "relu",
        normalization: str | None = None,
        dropout_keep_ratio: float = 1.0,
        reg: float = 0.0,
        weight_scale: float | None = None,
        init: str = "he",
        dtype: type = np.float64,
        seed: int = 0,
        dropout_seed: int | None = None,
        layer_functions: Mapping[str, Callable] | None = None,
    ):
        if isinstance(hidden_dims, int | str) or not isinstance(hidden_dims, Sequence):
            raise TypeError(
                f"hidden_dims must be a sequence of layer sizes such as [100, 100], "
                f"got {hidden_dims!r}"
            )
        dims = [input_dim, *hidden_dims, num_classes]
        for value in dims:
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(
                    f"layer sizes must be positive integers, got {value!r} in input_dim "
                    f"{input_dim!r}, hidden_dims {list(hidden_dims)!r}, num_classes {num_classes!r}"
                )
        activations.get(activation)  # raises ValueError for an unknown name
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}"
            )
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(
                f"dropout_keep_ratio (probability of keeping a unit) must lie in (0, 1], "
                f"got {dropout_keep_ratio!r}"
            )
        if not reg >= 0:
            raise ValueError(f"reg must be >= 0, got {reg!r}")
        if weight_scale is not None and not weight_scale > 0:
            raise ValueError(f"weight_scale must be None or positive, got {weight_scale!r}")
        if init not in INITIALIZERS:
            raise ValueError(f"unknown init {init!r}; choose one of {sorted(INITIALIZERS)}")
        unknown = set(layer_functions or {}) - set(REPLACEABLE_LAYERS)
        if unknown:
            raise ValueError(
                f"layer_functions can replace {list(REPLACEABLE_LAYERS)}, not {sorted(unknown)}"
            )
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"dtype must be a floating type such as np.float64, got {dtype!r}")

        self.activation = activation
        self.layer_functions = dict(layer_functions or {})
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio < 1
        self.reg = reg
        self.dtype = dtype
        self.num_layers = len(dims) - 1

        rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), 1):
            if weight_scale is not None:
                W = gaussian(fan_in, fan_out, weight_scale, rng)
            else:
                W = init_weights(fan_in, fan_out, init, rng)
            self.params[f"W{layer}"] = W.astype(dtype)
            self.params[f"b{layer}"] = np.zeros(fan_out, dtype=dtype)
            if normalization is not None and layer < self.num_layers:
                self.params[f"gamma{layer}"] = np.ones(fan_out, dtype=dtype)
                self.params[f"beta{layer}"] = np.zeros(fan_out, dtype=dtype)

        # One dict per normalization layer, updated in place (running averages for
        # batchnorm); the mode is set on every call of `loss`.
        self.bn_params: list[dict] = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        elif normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]
        self.dropout_param: dict = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
        self.dropout_seed = dropout_seed
        self._dropout_rng = np.random.default_rng([seed, 1])

    def _layer(self, name: str) -> Callable:
        """The function `name` of REPLACEABLE_LAYERS: the caller's, else the package's."""
        if name in self.layer_functions:
            return self.layer_functions[name]
        module = dropout_layers if name.startswith("dropout") else norm_layers
        return getattr(module, name)

    def _hidden_forward(self, x: np.ndarray, layer: int):
        """Forward pass of hidden layer `layer` (1-based); returns (out, caches)."""
        act_forward, _ = activations.get(self.activation)
        out, fc_cache = affine_forward(x, self.params[f"W{layer}"], self.params[f"b{layer}"])
        norm_cache = None
        if self.normalization is not None:
            forward = self._layer(f"{self.normalization}_forward")
            gamma, beta = self.params[f"gamma{layer}"], self.params[f"beta{layer}"]
            out, norm_cache = forward(out, gamma, beta, self.bn_params[layer - 1])
        out, act_cache = act_forward(out)
        drop_cache = None
        if self.use_dropout:
            out, drop_cache = self._layer("dropout_forward")(out, self.dropout_param)
        return out, (fc_cache, norm_cache, act_cache, drop_cache)

    def _hidden_backward(self, dout: np.ndarray, layer: int, caches, grads: dict) -> np.ndarray:
        """Backward pass of hidden layer `layer`: fills grads, returns the gradient of x."""
        _, act_backward = activations.get(self.activation)
        fc_cache, norm_cache, act_cache, drop_cache = caches
        if self.use_dropout:
            dout = self._layer("dropout_backward")(dout, drop_cache)
        dout = act_backward(dout, act_cache)
        if self.normalization is not None:
            backward = self._layer(f"{self.normalization}_backward")
            dout, grads[f"gamma{layer}"], grads[f"beta{layer}"] = backward(dout, norm_cache)
        dx, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(dout, fc_cache)
        return dx

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores of X (test mode), or the loss and gradients on the batch (X, y) (train mode).

        Inputs:
        - X: examples, shape (N, d_1, ..., d_k) with d_1 * ... * d_k = D.
        - y: labels, shape (N,), or None.
        Returns scores of shape (N, C) if y is None, else (loss, grads) where grads holds
        the gradient of the loss with respect to each entry of params, of its shape.
        """
        X = np.asarray(X).astype(self.dtype, copy=False)
        mode = "test" if y is None else "train"
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        if self.use_dropout:
            self.dropout_param["mode"] = mode
            seed = self.dropout_seed
            if seed is None and mode == "train":
                seed = int(self._dropout_rng.integers(2**32))  # a fresh mask per step
            self.dropout_param["seed"] = seed

        L = self.num_layers
        out, caches = X, []
        for layer in range(1, L):
            out, cache = self._hidden_forward(out, layer)  # (N, H_layer)
            caches.append(cache)
        scores, scores_cache = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
        if y is None:
            return scores  # (N, C)

        data_loss, dscores = softmax_loss(scores, y)
        weights = [self.params[f"W{layer}"] for layer in range(1, L + 1)]
        loss = data_loss + 0.5 * self.reg * sum(float(np.sum(W * W)) for W in weights)
        grads: dict[str, np.ndarray] = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, scores_cache)
        for layer in range(L - 1, 0, -1):
            dout = self._hidden_backward(dout, layer, caches[layer - 1], grads)
        for layer in range(1, L + 1):
            grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * self.params[f"W{layer}"]
        return float(loss), grads
