"""The numpy layers students write, as forward/backward pairs (forward -> (out, cache),
backward(dout, cache) -> gradients), one module per family:

- core: affine, ReLU, softmax loss, affine-ReLU (03_backprop)
- activations: sigmoid, tanh, Leaky ReLU, ELU (04_training)
- initializers: small random, Xavier, He (04_training)
- normalization: batch, layer and spatial batch normalization (05_regularization, 06_cnn)
- dropout: inverted dropout (05_regularization)
- conv: convolution (naive and im2col), pooling, conv-ReLU-pool (06_cnn)
- rnn: RNN, LSTM and GRU steps and sequences, word embedding, temporal affine,
  temporal softmax loss (08_rnn)
- attention: scaled dot-product and additive attention, causal and padding masks
  (09_transformers)

`from cs231n_lib.layers import affine_forward` works for every layer function.
"""

from cs231n_lib.layers.activations import (
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from cs231n_lib.layers.attention import (
    additive_attention_backward,
    additive_attention_forward,
    attention_backward,
    attention_forward,
    attention_weights,
    causal_mask,
    masked_softmax,
    padding_mask,
)
from cs231n_lib.layers.conv import (
    avg_pool_backward,
    avg_pool_forward,
    col2im,
    conv_backward_im2col,
    conv_backward_naive,
    conv_forward_im2col,
    conv_forward_naive,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
    im2col,
    max_pool_backward,
    max_pool_forward,
    output_size,
)
from cs231n_lib.layers.core import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)
from cs231n_lib.layers.dropout import dropout_backward, dropout_forward
from cs231n_lib.layers.initializers import he, init_weights, small_random, xavier
from cs231n_lib.layers.normalization import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from cs231n_lib.layers.rnn import (
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

__all__ = [
    "additive_attention_backward",
    "additive_attention_forward",
    "affine_backward",
    "affine_forward",
    "affine_relu_backward",
    "affine_relu_forward",
    "attention_backward",
    "attention_forward",
    "attention_weights",
    "avg_pool_backward",
    "avg_pool_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "causal_mask",
    "col2im",
    "conv_backward_im2col",
    "conv_backward_naive",
    "conv_forward_im2col",
    "conv_forward_naive",
    "conv_relu_backward",
    "conv_relu_forward",
    "conv_relu_pool_backward",
    "conv_relu_pool_forward",
    "dropout_backward",
    "dropout_forward",
    "elu_backward",
    "elu_forward",
    "gru_backward",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "he",
    "im2col",
    "init_weights",
    "layernorm_backward",
    "layernorm_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "masked_softmax",
    "max_pool_backward",
    "max_pool_forward",
    "output_size",
    "padding_mask",
    "relu_backward",
    "relu_forward",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "small_random",
    "softmax_loss",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "tanh_backward",
    "tanh_forward",
    "temporal_affine_backward",
    "temporal_affine_forward",
    "temporal_softmax_loss",
    "word_embedding_backward",
    "word_embedding_forward",
    "xavier",
]
