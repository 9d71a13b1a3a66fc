"""numpy models built from `cs231n_lib.layers`, one per module, trained with
`cs231n_lib.solver.Solver` (the linear classifiers train themselves by SGD):

- linear: svm_loss, softmax_loss, LinearClassifier, LinearSVM, Softmax (02_linear)
- two_layer_net: TwoLayerNet (03_backprop)
- fc_net: FullyConnectedNet of any depth (04_training, 05_regularization)
- cnn: ThreeLayerConvNet (06_cnn)
- captioning_rnn: CaptioningRNN with an RNN, LSTM or GRU cell, and CaptioningSolverModel,
  its adapter to the Solver (08_rnn)
"""

from cs231n_lib.models.captioning_rnn import CaptioningRNN, CaptioningSolverModel
from cs231n_lib.models.cnn import ThreeLayerConvNet
from cs231n_lib.models.fc_net import FullyConnectedNet
from cs231n_lib.models.linear import LinearClassifier, LinearSVM, Softmax
from cs231n_lib.models.two_layer_net import TwoLayerNet

__all__ = [
    "CaptioningRNN",
    "CaptioningSolverModel",
    "FullyConnectedNet",
    "LinearClassifier",
    "LinearSVM",
    "Softmax",
    "ThreeLayerConvNet",
    "TwoLayerNet",
]
