"""Models built from `cs231n_lib.layers`, one per module, trained with `cs231n_lib.solver`."""

from cs231n_lib.classifiers.two_layer_net import TwoLayerNet

__all__ = ["TwoLayerNet"]
