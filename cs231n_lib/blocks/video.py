"""Video classifiers in torch (14_video): the ways of letting a network see time.

Every model reads clips X (N, T, C, H, W), float32 in [0, 1] (cs231n_lib.data.video, layout
"ntchw"), and returns class scores (N, num_classes):

- SingleFrame: a 2-D CNN scores each frame alone; the clip's scores are the mean over its
  frames, so it sees what one frame shows and nothing of their order;
- LateFusion: the same 2-D FrameEncoder on every frame, the T features concatenated in time
  order, then an MLP (Karpathy et al. 2014, with all frames): time is mixed only at the end;
- EarlyFusion: the T frames stacked on the channel axis (frame t's channels at t C ...
  (t + 1) C - 1), then a 2-D CNN: time is mixed in the very first layer;
- C3D: 3-D convolutions (3 x 3 x 3, padded by one frame on each side) and pooling over
  (1, 2, 2), then (2, 2, 2) (Tran et al. 2015): time is mixed a little in every layer;
- TwoStream: an appearance stream on the middle frame and a motion stream on the T - 1
  stacked frame differences (Simonyan and Zisserman 2014, with differences for optical flow);
- CNNRNN: the FrameEncoder on every frame, then a GRU or LSTM over the features in time
  order, its last hidden state scored (Donahue et al. 2015);
- ConvGRU: a per-frame conv stem, then a GRU whose gates are convolutions over feature maps
  (ConvGRUCell, Ballas et al. 2016), its last state pooled and scored;
- SpaceTimeTransformer: tubelet tokens, learned space and time position embeddings, blocks of
  divided space-time attention (TimeSformer, Bertasius et al. 2021);
- SlowFast: a slow pathway on every alpha-th frame with many channels, a fast one on every
  frame with few, lateral connections fast -> slow (Feichtenhofer et al. 2019).

CNNRNN and ConvGRU are causal in time: the state after frame t depends on frames 0..t only
(in eval mode; in train mode batch norm's statistics mix the frames of a batch).

`train_video_classifier` trains any of them for a fixed number of AdamW steps with a
half-cosine learning rate (blocks.training.train_steps) on the model's `config.device()`;
`predict_clip_scores` and `clip_accuracy` evaluate in batches. A flip or a time reversal
changes the class (left <-> right, clockwise <-> counterclockwise, the order of two changes),
so a plain flip is no augmentation here; `mirror_clips` flips clips in space *and* swaps their
labels to match (`train_video_classifier(..., mirror=True)`, late fusion's budget). Time is
never reversed. `make_model(name, ...)` builds MODELS[name] with the defaults that train on 2
CPU cores in about a minute or two.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib import config
from cs231n_lib.blocks.attention import FeedForward, MultiHeadAttention
from cs231n_lib.blocks.training import (
    epoch_batches,
    predict_in_batches,
    seeded_adamw_steps,
)
from cs231n_lib.data.video import CLASSES


def _check_clips(clips: torch.Tensor, num_frames: int | None = None, channels: int | None = None):
    """Raise a ValueError unless clips is (N, T, C, H, W) with the T and C a model needs."""
    if clips.ndim != 5:
        raise ValueError(f"expected clips (N, T, C, H, W), got shape {tuple(clips.shape)}")
    if num_frames is not None and clips.shape[1] != num_frames:
        raise ValueError(f"this model was built for T={num_frames} frames, got {clips.shape[1]}")
    if channels is not None and clips.shape[2] != channels:
        raise ValueError(f"this model was built for C={channels} channels, got {clips.shape[2]}")


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size=3, dims: int = 2) -> list:
    """[Conv (no bias, 'same' padding), BatchNorm, ReLU] in 2-D or 3-D; kernel_size an int or
    a tuple (odd sizes, so the padding is symmetric on every axis)."""
    conv, norm = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d)
    size = (kernel_size,) * dims if isinstance(kernel_size, int) else tuple(kernel_size)
    padding = tuple(k // 2 for k in size)
    return [
        conv(in_channels, out_channels, size, padding=padding, bias=False),
        norm(out_channels),
        nn.ReLU(),
    ]


class FrameEncoder(nn.Module):
    """A small 2-D CNN: images (M, C, H, W) -> features (M, D).

    One 3x3 conv-BN-ReLU per entry of widths, with 2x2 max pooling between them, then
    average pooling to a pool_size x pool_size grid, flattened: D = widths[-1] pool_size^2.
    pool_size=1 is global average pooling, which keeps what is in the frame but not where;
    a larger grid keeps a coarse position, which a model that compares frames needs to see
    a translation.
    """

    def __init__(
        self, in_channels: int = 1, widths: Sequence[int] = (16, 32, 64), pool_size: int = 1
    ):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (width_in, width_out) in enumerate(
            zip((in_channels, *widths[:-1]), widths, strict=True)
        ):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += conv_bn_relu(width_in, width_out)
        layers.append(nn.AdaptiveAvgPool2d(pool_size))
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.out_dim = widths[-1] * pool_size**2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)  # (M, D)


def _per_frame(encoder: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """encoder on every frame of clips (N, T, C, H, W) -> (N, T, D), frames in time order."""
    N, T = clips.shape[:2]
    return encoder(clips.reshape(N * T, *clips.shape[2:])).view(N, T, -1)


def center_over_time(features: torch.Tensor) -> torch.Tensor:
    """features (N, T, D) minus each clip's mean feature over its T frames: what changes
    from frame to frame, without what every frame shares.

    NOTE: every frame looks alike in every class, so a per-frame encoder's features are
    mostly what the frames share (the background, the actor's look); the class is in their
    small changes. Subtracting the clip's mean, a fixed linear map, lets a head or an RNN see
    those changes from the first step: on the hard clips (1,200 steps, 1 thread) CNNRNN
    reached 0.91 validation accuracy with it (learning rate 3e-3) and 0.53-0.63 without
    (3e-3 and 1e-2); LateFusion 0.84-0.87 with it, 0.72-0.82 without.
    """
    return features - features.mean(dim=1, keepdim=True)


def mlp_head(in_dim: int, hidden: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Linear, BatchNorm, ReLU, Dropout, Linear: in_dim -> hidden -> num_classes.

    NOTE: the batch norm matters for LateFusion. Every frame looks alike in every class, so
    the class is in how the frames' features combine, a signal that is tiny at
    initialization; normalizing each hidden unit amplifies it. Without it the head sat at
    chance for 1,000 steps on the hard clips; with it the loss falls from the first steps.
    """
    return nn.Sequential(
        nn.Linear(in_dim, hidden, bias=False),
        nn.BatchNorm1d(hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )


class SingleFrame(nn.Module):
    """Scores every frame alone (FrameEncoder, then a linear layer) and averages the T
    frames' scores: clips (N, T, C, H, W) -> (N, num_classes), blind to the frames' order."""

    def __init__(self, num_classes: int, in_channels: int = 1, widths: Sequence[int] = (8, 16, 32)):
        super().__init__()
        self.encoder = FrameEncoder(in_channels, widths)
        self.classifier = nn.Linear(self.encoder.out_dim, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        _check_clips(clips)
        return self.classifier(_per_frame(self.encoder, clips)).mean(dim=1)


class LateFusion(nn.Module):
    """A shared FrameEncoder on each frame, the features concatenated in time order
    (N, T D) (frame t's at t D ... (t + 1) D - 1), then an MLP head:
    clips (N, num_frames, C, H, W) -> (N, num_classes).

    center (the default): the features are centred over time (center_over_time) before
    they are concatenated.

    NOTE: the defaults (widths (16, 32, 32), hidden 256, dropout 0.3) are those that reached
    0.95-0.96 validation and 0.95-0.97 test accuracy on the hard clips with TRAINING's
    budget, mirror=True included (seeds 0, 1, 2, one thread; notes of 14_video). Without the
    mirroring this head overfits (a weight for every frame position): about 0.90 validation
    accuracy with these defaults, 0.86-0.89 with (8, 16, 16), hidden 128, dropout 0.5.
    """

    def __init__(
        self,
        num_classes: int,
        num_frames: int = 16,
        in_channels: int = 1,
        widths: Sequence[int] = (16, 32, 32),
        pool_size: int = 2,
        hidden: int = 256,
        dropout: float = 0.3,
        center: bool = True,
    ):
        super().__init__()
        self.num_frames, self.center = num_frames, center
        self.encoder = FrameEncoder(in_channels, widths, pool_size)
        self.head = mlp_head(num_frames * self.encoder.out_dim, hidden, num_classes, dropout)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        _check_clips(clips, self.num_frames)
        features = _per_frame(self.encoder, clips)  # (N, T, D)
        if self.center:
            features = center_over_time(features)
        return self.head(features.flatten(1))  # (N, T D) -> (N, K)


class EarlyFusion(nn.Module):
    """The frames stacked on the channel axis in time order, (N, T C, H, W) (frame t's
    channels at t C ... (t + 1) C - 1), then a 2-D CNN (FrameEncoder) and a linear layer."""

    def __init__(
        self,
        num_classes: int,
        num_frames: int = 16,
        in_channels: int = 1,
        widths: Sequence[int] = (32, 64, 64),
    ):
        super().__init__()
        self.num_frames, self.in_channels = num_frames, in_channels
        self.cnn = FrameEncoder(num_frames * in_channels, widths)
        self.classifier = nn.Linear(self.cnn.out_dim, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        _check_clips(clips, self.num_frames, self.in_channels)
        stacked = clips.flatten(1, 2)  # (N, T C, H, W), t-major: frame t at t C ...
        return self.classifier(self.cnn(stacked))


class C3D(nn.Module):
    """3-D convolutions: clips (N, T, C, H, W) -> (N, num_classes) for any T.

    The clips are permuted to (N, C, T, H, W), Conv3d's layout. One 3x3x3 conv-BN-ReLU per
    entry of widths (padding 1 in time: frame t of a layer's output sees frames t-1..t+1 of
    its input), max pooling (1, 2, 2) after the first (space only, so early layers still
    see every frame), (2, 2, 2) after the later ones but the last; global average pooling;
    a linear layer.
    """

    def __init__(
        self, num_classes: int, in_channels: int = 1, widths: Sequence[int] = (8, 16, 32, 64)
    ):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (width_in, width_out) in enumerate(
            zip((in_channels, *widths[:-1]), widths, strict=True)
        ):
            if i > 0:
                layers.append(nn.MaxPool3d((1, 2, 2) if i == 1 else 2, ceil_mode=True))
            layers += conv_bn_relu(width_in, width_out, 3, dims=3)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(widths[-1], num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        _check_clips(clips)
        volume = clips.permute(0, 2, 1, 3, 4)  # (N, C, T, H, W)
        return self.classifier(self.features(volume).mean(dim=(2, 3, 4)))


class TwoStream(nn.Module):
    """An appearance stream (FrameEncoder) on the middle frame, clips[:, T // 2], and a
    motion stream (FrameEncoder on (T - 1) C channels) on the stacked differences of
    consecutive frames, frame t + 1 minus frame t at channels t C ... (t + 1) C - 1; the two
    features concatenated (appearance first), then a linear layer."""

    def __init__(
        self,
        num_classes: int,
        num_frames: int = 16,
        in_channels: int = 1,
        appearance_widths: Sequence[int] = (16, 32, 32),
        motion_widths: Sequence[int] = (32, 64, 64),
    ):
        super().__init__()
        if num_frames < 2:
            raise ValueError(f"TwoStream needs num_frames >= 2 for differences, got {num_frames}")
        self.num_frames, self.in_channels = num_frames, in_channels
        self.appearance = FrameEncoder(in_channels, appearance_widths)
        self.motion = FrameEncoder((num_frames - 1) * in_channels, motion_widths)
        self.classifier = nn.Linear(self.appearance.out_dim + self.motion.out_dim, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        _check_clips(clips, self.num_frames, self.in_channels)
        middle = clips[:, self.num_frames // 2]  # (N, C, H, W)
        moves = (clips[:, 1:] - clips[:, :-1]).flatten(1, 2)  # (N, (T - 1) C, H, W)
        both = torch.cat([self.appearance(middle), self.motion(moves)], dim=1)
        return self.classifier(both)


class CNNRNN(nn.Module):
    """FrameEncoder on each frame, a one-layer GRU or LSTM (cell) over the T features in time
    order, a linear layer on the hidden state after the last frame. Any T.

    center (the default): the features are centred over time first (center_over_time),
    which makes the network see the whole clip before its first step (not causal); with
    center=False the state after frame t depends on frames 0..t only.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        widths: Sequence[int] = (8, 16, 32),
        pool_size: int = 4,
        hidden_size: int = 64,
        cell: str = "gru",
        center: bool = True,
    ):
        super().__init__()
        self.center = center
        cells = {"gru": nn.GRU, "lstm": nn.LSTM}
        if cell not in cells:
            raise ValueError(f"cell={cell!r} is not one of {sorted(cells)}")
        self.encoder = FrameEncoder(in_channels, widths, pool_size)
        self.rnn = cells[cell](self.encoder.out_dim, hidden_size, batch_first=True)
        self.classifier = nn.Linear(hidden_size, num_classes)

    def hidden_states(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, T, C, H, W) -> (N, T, hidden_size): the hidden state after each frame."""
        _check_clips(clips)
        features = _per_frame(self.encoder, clips)  # (N, T, D)
        return self.rnn(center_over_time(features) if self.center else features)[0]

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.hidden_states(clips)[:, -1])


class ConvGRUCell(nn.Module):
    """One step of a convolutional GRU (Ballas et al. 2016) on feature maps:

        z = sigmoid(W_z * x + U_z * h + b_z)        update gate
        r = sigmoid(W_r * x + U_r * h + b_r)        reset gate
        c = tanh(W_c * x + U_c * (r h) + b_c)       candidate
        h' = (1 - z) h + z c

    with * a kernel_size 'same' convolution. `input_conv` holds W_z, W_r, W_c stacked on its
    output channels in that order (with the biases), `hidden_conv` U_z, U_r (no bias),
    `candidate_conv` U_c (no bias). forward(x (N, C_in, H, W), h (N, C_h, H, W) or None for
    zeros) -> h' (N, C_h, H, W).
    """

    def __init__(self, input_channels: int, hidden_channels: int, kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        pad = kernel_size // 2
        self.hidden_channels = hidden_channels
        self.input_conv = nn.Conv2d(input_channels, 3 * hidden_channels, kernel_size, padding=pad)
        self.hidden_conv = nn.Conv2d(
            hidden_channels, 2 * hidden_channels, kernel_size, padding=pad, bias=False
        )
        self.candidate_conv = nn.Conv2d(
            hidden_channels, hidden_channels, kernel_size, padding=pad, bias=False
        )

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_channels, *x.shape[2:])
        x_z, x_r, x_c = self.input_conv(x).chunk(3, dim=1)
        h_z, h_r = self.hidden_conv(h).chunk(2, dim=1)
        z = torch.sigmoid(x_z + h_z)
        r = torch.sigmoid(x_r + h_r)
        candidate = torch.tanh(x_c + self.candidate_conv(r * h))
        return (1 - z) * h + z * candidate


class ConvGRU(nn.Module):
    """A per-frame 2-D conv stem (conv-BN-ReLU and 2x2 max pooling per entry of
    stem_widths), a ConvGRUCell over the T feature maps in time order, global average
    pooling of the last state, a linear layer. Any T."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        stem_widths: Sequence[int] = (16, 32),
        hidden_channels: int = 32,
        kernel_size: int = 3,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        for width_in, width_out in zip((in_channels, *stem_widths[:-1]), stem_widths, strict=True):
            layers += [*conv_bn_relu(width_in, width_out), nn.MaxPool2d(2)]
        self.stem = nn.Sequential(*layers)
        self.cell = ConvGRUCell(stem_widths[-1], hidden_channels, kernel_size)
        self.classifier = nn.Linear(hidden_channels, num_classes)

    def hidden_states(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, T, C, H, W) -> (N, T, hidden_channels, H', W'): the state after each frame."""
        _check_clips(clips)
        N, T = clips.shape[:2]
        maps = self.stem(clips.reshape(N * T, *clips.shape[2:]))
        maps = maps.view(N, T, *maps.shape[1:])  # (N, T, C', H', W')
        h, states = None, []
        for t in range(T):
            h = self.cell(maps[:, t], h)
            states.append(h)
        return torch.stack(states, dim=1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.hidden_states(clips)[:, -1].mean(dim=(2, 3)))


class DividedSpaceTimeBlock(nn.Module):
    """A TimeSformer block on tokens (N, T', S, E) (T' time steps of S spatial positions),
    pre-norm with residuals:

        x = x + temporal_attn(norm_time(x))    each position attends over its T' time steps
        x = x + spatial_attn(norm_space(x))    each time step attends over its S positions
        x = x + mlp(norm_mlp(x))

    Attention is blocks.attention.MultiHeadAttention (its dropout on the weights).
    """

    def __init__(
        self, embed_dim: int, num_heads: int, mlp_ratio: float = 2.0, dropout: float = 0.0
    ):
        super().__init__()
        self.norm_time = nn.LayerNorm(embed_dim)
        self.temporal_attn = MultiHeadAttention(embed_dim, num_heads, dropout)
        self.norm_space = nn.LayerNorm(embed_dim)
        self.spatial_attn = MultiHeadAttention(embed_dim, num_heads, dropout)
        self.norm_mlp = nn.LayerNorm(embed_dim)
        self.mlp = FeedForward(embed_dim, int(mlp_ratio * embed_dim), dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        N, T, S, E = tokens.shape
        x = self.norm_time(tokens).transpose(1, 2).reshape(N * S, T, E)  # one row per position
        tokens = tokens + self.temporal_attn(x, x, x).view(N, S, T, E).transpose(1, 2)
        x = self.norm_space(tokens).reshape(N * T, S, E)  # one row per time step
        tokens = tokens + self.spatial_attn(x, x, x).view(N, T, S, E)
        return tokens + self.mlp(self.norm_mlp(tokens))


class SpaceTimeTransformer(nn.Module):
    """Divided space-time attention over tubelets: clips (N, T, C, H, W) -> (N, num_classes).

    1. Tubelet embedding: Conv3d with kernel = stride = tubelet (t, p, p) on (N, C, T, H, W):
       T' = T / t time steps of S = (H / p)(W / p) tokens of embed_dim E, (N, T', S, E).
    2. Learned position embeddings, time_embedding (1, T', 1, E) plus space_embedding
       (1, 1, S, E): a token knows its time step and its place.
    3. depth DividedSpaceTimeBlocks; a final LayerNorm; the mean over all tokens; linear.
    """

    def __init__(
        self,
        num_classes: int,
        num_frames: int = 16,
        image_size: int = 32,
        in_channels: int = 1,
        tubelet: tuple[int, int, int] = (2, 4, 4),
        embed_dim: int = 64,
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
    ):
        super().__init__()
        t, p, q = tubelet
        if num_frames % t or image_size % p or image_size % q:
            raise ValueError(
                f"tubelet {tubelet} must divide (num_frames, image_size, image_size) = "
                f"{(num_frames, image_size, image_size)}"
            )
        self.num_frames, self.image_size = num_frames, image_size
        self.embed = nn.Conv3d(in_channels, embed_dim, tubelet, stride=tubelet)
        steps, positions = num_frames // t, (image_size // p) * (image_size // q)
        self.time_embedding = nn.Parameter(0.02 * torch.randn(1, steps, 1, embed_dim))
        self.space_embedding = nn.Parameter(0.02 * torch.randn(1, 1, positions, embed_dim))
        self.blocks = nn.Sequential(
            *[DividedSpaceTimeBlock(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.classifier = nn.Linear(embed_dim, num_classes)

    def tokens(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, T, C, H, W) -> embedded tokens with positions (N, T', S, E), before the blocks."""
        _check_clips(clips, self.num_frames)
        if clips.shape[3:] != (self.image_size, self.image_size):
            raise ValueError(
                f"expected {self.image_size}x{self.image_size} frames, got {tuple(clips.shape[3:])}"
            )
        x = self.embed(clips.permute(0, 2, 1, 3, 4))  # (N, E, T', H', W')
        x = x.flatten(3).permute(0, 2, 3, 1)  # (N, T', S, E), positions row-major
        return x + self.time_embedding + self.space_embedding

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.blocks(self.tokens(clips)))
        return self.classifier(x.mean(dim=(1, 2)))


class SlowFast(nn.Module):
    """Two pathways over the same clip (N, T, C, H, W) -> (N, num_classes), any T:

    - slow: frames 0, alpha, 2 alpha, ... (ceil(T / alpha) of them), slow_widths channels;
      kernels (1, 3, 3) in every stage but the last (no temporal kernel early on: at a low
      frame rate an object moves too far between frames for a local temporal filter), then
      (3, 3, 3);
    - fast: every frame, fast_widths channels (beta = fast / slow, 1/4 by default),
      kernels (3, 3, 3) in every stage;
    - after every stage but the last, a lateral connection (laterals[i]) Conv3d(C_f, 2 C_f,
      kernel (5, 1, 1), stride (alpha, 1, 1), padding (2, 0, 0)) maps the fast features to
      the slow frame rate (output time t' sums fast frames alpha t' - 2 ... alpha t' + 2) and
      its output is concatenated to the slow features on the channel axis. After the last
      stage both are pooled and concatenated anyway, so no lateral is needed there;
    - (1, 2, 2) max pooling after every stage but the last; global average pooling of both
      pathways, concatenated (slow first), a linear layer.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        alpha: int = 4,
        slow_widths: Sequence[int] = (16, 32, 64),
        fast_widths: Sequence[int] = (4, 8, 16),
    ):
        super().__init__()
        if len(slow_widths) != len(fast_widths):
            raise ValueError(
                f"slow_widths {slow_widths} and fast_widths {fast_widths} must "
                f"have one entry per stage"
            )
        if isinstance(alpha, bool) or not isinstance(alpha, int) or alpha < 1:
            raise ValueError(f"alpha must be a positive int, got {alpha!r}")
        self.alpha = alpha
        last = len(slow_widths) - 1
        slow, fast, laterals = [], [], []
        slow_in, fast_in = in_channels, in_channels
        for i, (width_slow, width_fast) in enumerate(zip(slow_widths, fast_widths, strict=True)):
            slow.append(
                nn.Sequential(
                    *conv_bn_relu(slow_in, width_slow, (3 if i == last else 1, 3, 3), dims=3)
                )
            )
            fast.append(nn.Sequential(*conv_bn_relu(fast_in, width_fast, 3, dims=3)))
            slow_in, fast_in = width_slow, width_fast
            if i < last:
                laterals.append(
                    nn.Conv3d(
                        width_fast,
                        2 * width_fast,
                        (5, 1, 1),
                        stride=(alpha, 1, 1),
                        padding=(2, 0, 0),
                    )
                )
                slow_in += 2 * width_fast
        self.slow, self.fast = nn.ModuleList(slow), nn.ModuleList(fast)
        self.laterals = nn.ModuleList(laterals)
        self.pool = nn.MaxPool3d((1, 2, 2), ceil_mode=True)
        self.classifier = nn.Linear(slow_widths[-1] + fast_widths[-1], num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        _check_clips(clips)
        fast = clips.permute(0, 2, 1, 3, 4)  # (N, C, T, H, W)
        slow = fast[:, :, :: self.alpha]  # (N, C, ceil(T / alpha), H, W)
        for i, (slow_stage, fast_stage) in enumerate(zip(self.slow, self.fast, strict=True)):
            slow, fast = slow_stage(slow), fast_stage(fast)
            if i < len(self.laterals):
                slow = torch.cat([slow, self.laterals[i](fast)], dim=1)  # (N, C_s + 2 C_f, ...)
                slow, fast = self.pool(slow), self.pool(fast)
        both = torch.cat([slow.mean(dim=(2, 3, 4)), fast.mean(dim=(2, 3, 4))], dim=1)
        return self.classifier(both)


MODELS = {
    "single_frame": SingleFrame,
    "late_fusion": LateFusion,
    "early_fusion": EarlyFusion,
    "c3d": C3D,
    "two_stream": TwoStream,
    "cnn_rnn": CNNRNN,
    "conv_gru": ConvGRU,
    "space_time_transformer": SpaceTimeTransformer,
    "slowfast": SlowFast,
}

# Fixed budgets measured on the hard clips (6,000 training clips, batch 32, one CPU thread:
# about 45-300 s each; validation accuracies in the notes of 14_video): keyword arguments
# of train_video_classifier for each model of MODELS with make_model's defaults. Only late
# fusion mirrors its training clips (mirror_clips): it overfits without (see LateFusion).
TRAINING = {
    "single_frame": {"num_steps": 300, "batch_size": 32, "learning_rate": 2e-3},
    "late_fusion": {"num_steps": 1500, "batch_size": 32, "learning_rate": 3e-3, "mirror": True},
    "early_fusion": {"num_steps": 1200, "batch_size": 32, "learning_rate": 2e-3},
    "c3d": {"num_steps": 650, "batch_size": 32, "learning_rate": 2e-3},
    "two_stream": {"num_steps": 1500, "batch_size": 32, "learning_rate": 2e-3},
    "cnn_rnn": {"num_steps": 1200, "batch_size": 32, "learning_rate": 3e-3},
    "conv_gru": {"num_steps": 350, "batch_size": 32, "learning_rate": 2e-3},
    "space_time_transformer": {"num_steps": 300, "batch_size": 32, "learning_rate": 1e-3},
    "slowfast": {"num_steps": 650, "batch_size": 32, "learning_rate": 2e-3},
}


def make_model(
    name: str, num_classes: int = 11, num_frames: int = 16, in_channels: int = 1, **kwargs
) -> nn.Module:
    """MODELS[name](num_classes, ...) with its defaults; num_frames goes to the models whose
    layers depend on T (LateFusion, EarlyFusion, TwoStream, SpaceTimeTransformer) and is
    ignored by the others; kwargs override any constructor argument."""
    if name not in MODELS:
        raise ValueError(f"name={name!r} is not one of {sorted(MODELS)}")
    cls = MODELS[name]
    if "num_frames" in inspect.signature(cls).parameters:
        kwargs.setdefault("num_frames", num_frames)
    return cls(num_classes, in_channels=in_channels, **kwargs)


def _swap(pairs: Sequence[tuple[str, str]]) -> torch.Tensor:
    """The label permutation (len(CLASSES),) int64 that swaps each pair of class names."""
    permutation = list(range(len(CLASSES)))
    for a, b in pairs:
        i, j = CLASSES.index(a), CLASSES.index(b)
        permutation[i], permutation[j] = j, i
    return torch.tensor(permutation)


# What a mirror image of a clip shows, as a label permutation of data.video.CLASSES: left and
# right (or up and down) swap places, and a turn's sense reverses (a mirror keeps a bounce
# horizontal and leaves the changes of kind and shade as they were).
MIRROR_LEFT_RIGHT = _swap([("right", "left"), ("clockwise", "counterclockwise")])
MIRROR_UP_DOWN = _swap([("up", "down"), ("clockwise", "counterclockwise")])


def mirror_clips(
    clips: torch.Tensor, labels: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A class-aware flip augmentation of clips (N, T, C, H, W) with labels (N,) indexing
    cs231n_lib.data.video.CLASSES: each clip, with probability 1/2, mirrored left-right (every
    frame the same way) and its label mapped by MIRROR_LEFT_RIGHT, then, independently with
    probability 1/2, mirrored up-down and mapped by MIRROR_UP_DOWN (both: a half turn, which
    keeps the turn's sense). The coins come from `generator` (N left-right, then N up-down,
    torch.rand < 0.5). Returns new (clips, labels); time is never reversed.

    A mirrored clip is a clip the data set could have drawn but for the actor's shape, which
    comes out mirrored (a mirrored ell is no rotated ell), and its label is known, so the
    training set grows fourfold in effect.
    """
    if len(clips) != len(labels):
        raise ValueError(f"{len(clips)} clips but {len(labels)} labels")
    _check_clips(clips)
    for dim, permutation in ((-1, MIRROR_LEFT_RIGHT), (-2, MIRROR_UP_DOWN)):
        flip = torch.rand(len(clips), generator=generator) < 0.5
        clips = torch.where(flip[:, None, None, None, None], clips.flip(dim), clips)
        labels = torch.where(flip, permutation.to(labels.device)[labels], labels)
    return clips, labels


def train_video_classifier(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    num_steps: int,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    progress: bool = True,
    device=None,
    desc: str = "training",
    mirror: bool = False,
) -> dict[str, list[float] | float]:
    """Train `model` for `num_steps` AdamW steps with a half-cosine learning rate on
    batches of clips, the model moved to `device` (None: config.device()) first.

    Inputs: X (N, T, C, H, W) clips in [0, 1]; y (N,) labels. Batches run through random
    permutations of the clips (every clip once per epoch), drawn from `seed`, which also
    seeds dropout (in a forked random state: the caller's is left as it was); so the same
    model, data and seed give the same run. mirror: each batch goes through mirror_clips
    (flips with the labels swapped to match, y indexing data.video.CLASSES), its coins drawn
    from a second generator seeded seed + 1000, so the batches are the same clips as
    without it; otherwise no augmentation (a plain flip or a time reversal would change
    the class).
    Returns train_steps' {"loss": per-step losses, "seconds", "seconds_per_step"}.
    """
    if len(X) != len(y):
        raise ValueError(f"{len(X)} clips but {len(y)} labels")
    if np.ndim(X) != 5:
        raise ValueError(f"expected clips X (N, T, C, H, W), got shape {np.shape(X)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    device = config.device() if device is None else torch.device(device)
    model.to(device)
    clips = torch.as_tensor(X, dtype=torch.float32)
    labels = torch.as_tensor(y, dtype=torch.int64)
    if mirror and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise ValueError(f"mirror=True needs labels in 0..{len(CLASSES) - 1} (data.video.CLASSES)")
    next_batch = epoch_batches(len(clips), batch_size, torch.Generator().manual_seed(seed))
    coins = torch.Generator().manual_seed(seed + 1000)

    def batch_loss() -> torch.Tensor:
        batch = next_batch()
        x, y = clips[batch], labels[batch]
        if mirror:
            x, y = mirror_clips(x, y, coins)
        return F.cross_entropy(model(x.to(device)), y.to(device))

    return seeded_adamw_steps(
        model, batch_loss, num_steps, learning_rate, weight_decay, seed, desc, progress
    )


def predict_clip_scores(model: nn.Module, X: np.ndarray, batch_size: int = 100) -> np.ndarray:
    """Class scores (N, num_classes) float32 numpy of clips X (N, T, C, H, W): the model in
    eval mode, without gradients, batch_size clips at a time on its device."""
    return predict_in_batches(model, X, batch_size).numpy()


def clip_accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray, batch_size: int = 100) -> float:
    """The share of clips X (N, T, C, H, W) whose argmax score is their label y (N,)."""
    if len(X) != len(y):
        raise ValueError(f"{len(X)} clips but {len(y)} labels")
    predicted = predict_clip_scores(model, X, batch_size).argmax(axis=1)
    return float(np.mean(predicted == np.asarray(y)))
