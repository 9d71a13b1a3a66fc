"""Reference implementations in torch: the ground truth (oracles) that tests compare with.

Each layer has a forward function that returns its output (no cache) and a backward
function that takes the upstream gradient and the forward's inputs, both computed by
torch (autograd for the gradients), never by the course's numpy code:

- affine, ReLU, affine-ReLU: affine_forward(x, w, b), relu_forward(x),
  affine_relu_forward(x, w, b); affine_backward(dout, x, w, b) -> (dx, dw, db),
  relu_backward(dout, x) -> dx, affine_relu_backward(dout, x, w, b) -> (dx, dw, db)
- activations (04_training): sigmoid_forward(x), tanh_forward(x),
  leaky_relu_forward(x, alpha=0.01), elu_forward(x, alpha=1.0); the same names ending in
  _backward take (dout, x[, alpha]) and return dx
- a fully connected network: FullyConnectedNet(params, reg, activation), the Solver's
  model interface (params, loss(X, y=None)) computed by torch for given weights
- convolution (1D, 2D, 3D): conv_forward(x, w, b, conv_param);
  conv_backward(dout, x, w, b, conv_param) -> (dx, dw, db)
- im2col(x, kernel_h, kernel_w, stride, pad) -> cols (N H' W', C HH WW) and its adjoint
  col2im(cols, x_shape, kernel_h, kernel_w, stride, pad): torch's unfold / fold
- pooling: max_pool_forward(x, pool_param), avg_pool_forward(x, pool_param);
  max_pool_backward(dout, x, pool_param) -> dx, avg_pool_backward(dout, x, pool_param) -> dx
- normalization: batchnorm_forward(x, gamma, beta, bn_param), spatial_batchnorm_forward,
  layernorm_forward(x, gamma, beta, ln_param),
  spatial_groupnorm_forward(x, gamma, beta, G, gn_param); the same names ending in
  _backward take dout first and return (dx, dgamma, dbeta)
- losses: softmax_loss(x, y) -> (loss, dx), svm_loss(x, y) -> (loss, dx)
- recurrent layers (08_rnn): rnn_step_forward(x, prev_h, Wx, Wh, b) -> next_h,
  rnn_forward(x, h0, Wx, Wh, b) -> h, rnn_step_backward(dnext_h, x, prev_h, Wx, Wh, b)
  -> (dx, dprev_h, dWx, dWh, db), rnn_backward(dh, x, h0, Wx, Wh, b) -> (dx, dh0, dWx,
  dWh, db); the same for gru_ (blocks z, r, candidate) and lstm_ (blocks i, f, o, g;
  lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c),
  lstm_step_backward(dnext_h, dnext_c, x, prev_h, prev_c, Wx, Wh, b) -> (dx, dprev_h,
  dprev_c, dWx, dWh, db)); lstm_via_nn(x, h0, Wx, Wh, b) -> h through torch's nn.LSTM;
  word_embedding_forward(x, W), word_embedding_backward(dout, x, W) -> dW;
  temporal_affine_forward(x, w, b), temporal_affine_backward(dout, x, w, b) -> (dx, dw,
  db); temporal_softmax_loss(x, y, mask) -> (loss, dx)
- the captioning model: captioning_loss(params, features, captions, word_to_idx,
  cell_type) -> (loss, grads)
- attention (09_transformers): attention_forward(q, k, v, mask=None) -> out by
  F.scaled_dot_product_attention, attention_backward(dout, q, k, v, mask=None) -> (dq, dk,
  dv); additive_attention_forward(query, keys, values, Wa, Ua, va, mask=None) -> context,
  additive_attention_backward(dcontext, ...) -> (dquery, dkeys, dvalues, dWa, dUa, dva);
  multi_head_attention(params, query, key, value, num_heads, attn_mask=None) -> (out,
  weights) through torch's nn.MultiheadAttention with the course block's weights mapped
  (masks: True / 1 = keep, as in the numpy layers; nn.MultiheadAttention's are inverted);
  transformer_encoder_layer(params, src, num_heads, src_mask=None) and
  transformer_decoder_layer(params, tgt, memory, num_heads, tgt_mask=None) through torch's
  nn.TransformerEncoderLayer / nn.TransformerDecoderLayer with the course layers' weights;
  patch_embedding(weight, bias, x, patch_size) through F.unfold
- boxes (10_detection), each written another way than layers.boxes: box_iou, nms and
  batched_nms by brute force; encode_boxes, decode_boxes; smooth_l1_forward /
  smooth_l1_backward by F.smooth_l1_loss; roi_pool_forward / roi_pool_backward by
  F.adaptive_max_pool2d per RoI; roi_align_forward / roi_align_backward by explicit
  bilinear gathers (backward by autograd)
- segmentation (11_segmentation): pixel_softmax_loss(scores, y, class_weights=None,
  ignore_index=None) -> (loss, dscores) by F.cross_entropy; upsample_nearest_ /
  upsample_bilinear_forward and _backward by F.interpolate; max_pool_with_indices and
  max_unpool_forward / _backward by F.max_pool2d and F.max_unpool2d;
  conv_transpose_forward / _backward by F.conv_transpose2d (backwards by autograd)
- masked_conv (12_generative): pixelcnn_mask(kernel_size, mask_type, in_channels,
  out_channels) from raster indices; masked_conv_forward / _backward by F.conv2d with the
  weights times the mask (backward by autograd)
- any function of tensors: vjp(fn, inputs, dout, **kwargs) -> one gradient per input
- the numpy layers' interface around a pair: cached(forward, backward) -> (forward with
  (out, cache), backward(dout, cache)), for tests that need a correct sibling layer

**numpy in, numpy out.** Called with numpy arrays, a function computes on
`compute_device()` (config.device(): a GPU when there is one; float64 stays float64) and
returns numpy arrays (a scalar loss as a float), so a numpy test compares with it
directly. Called with any torch tensor, it stays in torch on that tensor's device and
returns tensors. Parameter dicts follow the course's conventions (DESIGN.md): conv_param
{"stride", "pad"}, pool_param {"pool_height", "pool_width", "stride"}, bn_param
{"mode", "eps", "momentum", "running_mean", "running_var"} with the course's momentum.

Building blocks that are not oracles (the training loop, counting) are in
`cs231n_lib.blocks`.
"""

from cs231n_lib.reference._tensors import compute_device, vjp
from cs231n_lib.reference.activations import (
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from cs231n_lib.reference.attention import (
    additive_attention_backward,
    additive_attention_forward,
    attention_backward,
    attention_forward,
    multi_head_attention,
    patch_embedding,
    transformer_decoder_layer,
    transformer_encoder_layer,
)
from cs231n_lib.reference.boxes import (
    batched_nms,
    box_iou,
    decode_boxes,
    encode_boxes,
    nms,
    roi_align_backward,
    roi_align_forward,
    roi_pool_backward,
    roi_pool_forward,
    smooth_l1_backward,
    smooth_l1_forward,
)
from cs231n_lib.reference.cached import cached
from cs231n_lib.reference.conv import (
    avg_pool_backward,
    avg_pool_forward,
    col2im,
    conv_backward,
    conv_forward,
    im2col,
    max_pool_backward,
    max_pool_forward,
)
from cs231n_lib.reference.fc_net import FullyConnectedNet
from cs231n_lib.reference.layers import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    relu_backward,
    relu_forward,
)
from cs231n_lib.reference.losses import softmax_loss, svm_loss
from cs231n_lib.reference.masked_conv import (
    masked_conv_backward,
    masked_conv_forward,
    pixelcnn_mask,
)
from cs231n_lib.reference.norm import (
    batchnorm_backward,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from cs231n_lib.reference.rnn import (
    captioning_loss,
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    lstm_via_nn,
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
from cs231n_lib.reference.segmentation import (
    conv_transpose_backward,
    conv_transpose_forward,
    max_pool_with_indices,
    max_unpool_backward,
    max_unpool_forward,
    pixel_softmax_loss,
    upsample_bilinear_backward,
    upsample_bilinear_forward,
    upsample_nearest_backward,
    upsample_nearest_forward,
)

__all__ = [
    "masked_conv_backward",
    "masked_conv_forward",
    "pixelcnn_mask",
    "conv_transpose_backward",
    "conv_transpose_forward",
    "max_pool_with_indices",
    "max_unpool_backward",
    "max_unpool_forward",
    "pixel_softmax_loss",
    "upsample_bilinear_backward",
    "upsample_bilinear_forward",
    "upsample_nearest_backward",
    "upsample_nearest_forward",
    "FullyConnectedNet",
    "additive_attention_backward",
    "additive_attention_forward",
    "affine_backward",
    "affine_forward",
    "affine_relu_backward",
    "affine_relu_forward",
    "attention_backward",
    "attention_forward",
    "avg_pool_backward",
    "avg_pool_forward",
    "batched_nms",
    "batchnorm_backward",
    "batchnorm_forward",
    "box_iou",
    "cached",
    "captioning_loss",
    "col2im",
    "compute_device",
    "conv_backward",
    "conv_forward",
    "decode_boxes",
    "elu_backward",
    "elu_forward",
    "encode_boxes",
    "gru_backward",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "im2col",
    "layernorm_backward",
    "layernorm_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "lstm_via_nn",
    "max_pool_backward",
    "max_pool_forward",
    "multi_head_attention",
    "nms",
    "patch_embedding",
    "relu_backward",
    "relu_forward",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "roi_align_backward",
    "roi_align_forward",
    "roi_pool_backward",
    "roi_pool_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "smooth_l1_backward",
    "smooth_l1_forward",
    "softmax_loss",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "spatial_groupnorm_backward",
    "spatial_groupnorm_forward",
    "svm_loss",
    "tanh_backward",
    "tanh_forward",
    "temporal_affine_backward",
    "temporal_affine_forward",
    "temporal_softmax_loss",
    "transformer_decoder_layer",
    "transformer_encoder_layer",
    "vjp",
    "word_embedding_backward",
    "word_embedding_forward",
]
