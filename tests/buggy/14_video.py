"""Plausible mistakes in 14_video (see README.md)."""

BUGS = [
    dict(
        # Frames on the batch axis: N * T separate frames, the single-frame model again.
        name="early_fusion_stacks_frames_on_the_batch_axis",
        notebook="video.ipynb",
        cell="stack_frames",
        replace=[("return clips.reshape(N, T * C, H, W)", "return clips.reshape(N * T, C, H, W)")],
        loses=["test_stack_frames"],
    ),
    dict(
        # Channel after channel instead of frame after frame (only differs when C > 1).
        name="early_fusion_channel_major_order",
        notebook="video.ipynb",
        cell="stack_frames",
        replace=[
            (
                "return clips.reshape(N, T * C, H, W)",
                "return clips.transpose(1, 2).reshape(N, T * C, H, W)",
            )
        ],
        loses=["test_stack_frames"],
    ),
    dict(
        # Averaging over time where the notebook asks for concatenation: the order is lost.
        name="late_fusion_averages_instead_of_concatenating",
        notebook="video.ipynb",
        cell="late_fusion_forward",
        replace=[
            (
                "return head(features.reshape(N, T * features.shape[1]))",
                "return head(features.reshape(N, T, -1).mean(1).repeat(1, T))",
            )
        ],
        loses=["test_late_fusion_forward"],
    ),
    dict(
        # Time-major flattening, read back clip-major: frames of different clips mixed.
        name="late_fusion_mixes_clips",
        notebook="video.ipynb",
        cell="late_fusion_forward",
        replace=[
            (
                "features = encoder(clips.reshape(N * T, *clips.shape[2:]))",
                "features = encoder(clips.transpose(0, 1).reshape(N * T, *clips.shape[2:]))",
            )
        ],
        loses=["test_late_fusion_forward"],
    ),
    dict(
        # The kernel's time and height extents swapped (cubic kernels would hide it).
        name="conv3d_time_and_height_axes_swapped",
        notebook="video.ipynb",
        cell="conv3d_forward_naive",
        replace=[("F_, _, KT, KH, KW = w.shape", "F_, _, KH, KT, KW = w.shape")],
        loses=["test_conv3d_forward_naive"],
    ),
    dict(
        name="conv3d_pads_every_axis_by_the_time_pad",
        notebook="video.ipynb",
        cell="conv3d_forward_naive",
        replace=[("(pad[1], pad[1]), (pad[2], pad[2])", "(pad[0], pad[0]), (pad[0], pad[0])")],
        loses=["test_conv3d_forward_naive"],
    ),
    dict(
        name="frame_differences_backwards",  # frame t minus frame t + 1
        notebook="video.ipynb",
        cell="frame_differences",
        replace=[("return clips[:, 1:] - clips[:, :-1]", "return clips[:, :-1] - clips[:, 1:]")],
        loses=["test_frame_differences"],
    ),
    dict(
        # Frames shuffled before the RNN: a time-major flattening read back clip-major.
        name="cnn_rnn_frames_shuffled_before_the_rnn",
        notebook="video.ipynb",
        cell="cnn_rnn_forward",
        replace=[
            (
                "features = encoder(clips.reshape(N * T, *clips.shape[2:])).reshape(N, T, -1)",
                "features = encoder(clips.transpose(0, 1).reshape(N * T, *clips.shape[2:]))"
                ".reshape(N, T, -1)",
            )
        ],
        loses=["test_cnn_rnn_forward"],
    ),
    dict(
        name="cnn_rnn_classifies_the_first_step",  # outputs[:, 0]: one frame seen
        notebook="video.ipynb",
        cell="cnn_rnn_forward",
        replace=[("return fc(outputs[:, -1])", "return fc(outputs[:, 0])")],
        loses=["test_cnn_rnn_forward"],
    ),
    dict(
        # No temporal stride: T steps where the slow pathway has T / alpha.
        name="slowfast_lateral_without_temporal_stride",
        notebook="video.ipynb",
        cell="lateral_connection",
        replace=[("stride=(alpha, 1, 1)", "stride=(1, 1, 1)")],
        loses=["test_lateral_connection"],
    ),
    dict(
        # The stride applied in space as well as in time.
        name="slowfast_lateral_strided_in_space_too",
        notebook="video.ipynb",
        cell="lateral_connection",
        replace=[("stride=(alpha, 1, 1)", "stride=alpha")],
        loses=["test_lateral_connection"],
    ),
    dict(
        name="saliency_without_absolute_value",
        notebook="video.ipynb",
        cell="temporal_saliency",
        replace=[("clips.grad.abs().amax(dim=2)", "clips.grad.amax(dim=2)")],
        loses=["test_temporal_saliency"],
    ),
    dict(
        name="saliency_sums_the_channels",  # sum over channels where the notebook says max
        notebook="video.ipynb",
        cell="temporal_saliency",
        replace=[("clips.grad.abs().amax(dim=2)", "clips.grad.abs().sum(dim=2)")],
        loses=["test_temporal_saliency"],
    ),
    dict(
        name="saliency_of_the_sum_of_all_scores",  # not the true class's score
        notebook="video.ipynb",
        cell="temporal_saliency",
        replace=[("scores.gather(1, y[:, None]).sum().backward()", "scores.sum().backward()")],
        loses=["test_temporal_saliency"],
    ),
    dict(
        name="saliency_in_train_mode",  # batch norm then uses the batch's statistics
        notebook="video.ipynb",
        cell="temporal_saliency",
        replace=[("    model.eval()\n", "")],
        loses=["test_temporal_saliency"],
    ),
]
