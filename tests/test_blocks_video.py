"""Tests of cs231n_lib.blocks.video: shapes for two clip lengths, each block against a direct
implementation (gate equations, attention loops, a strided temporal sum, explicit stacking
and concatenation, F.conv3d on the permuted clip), temporal receptive fields and causality
by autograd, and the training loop."""

import inspect
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_cases import perturbed

from cs231n_lib.blocks import video as V

NUM_CLASSES = 5


def clips_of(seed, N=3, T=8, C=1, H=16, W=16, requires_grad=False):
    generator = torch.Generator().manual_seed(seed)
    clips = torch.rand(N, T, C, H, W, generator=generator)
    return clips.requires_grad_(requires_grad)


def capture_input(module):
    """A list that receives module's first input at each forward, and the hook's handle."""
    seen = []
    handle = module.register_forward_hook(lambda m, inputs, output: seen.append(inputs[0]))
    return seen, handle


# -- shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(V.MODELS))
@pytest.mark.parametrize("T", [16, 8])
def test_every_model_scores_clips_of_two_lengths(name, T):
    torch.manual_seed(0)
    model = V.make_model(name, num_classes=NUM_CLASSES, num_frames=T).eval()
    with torch.no_grad():
        scores = model(clips_of(1, N=2, T=T, H=32, W=32))
    assert scores.shape == (2, NUM_CLASSES), f"{name} with T={T} gave {tuple(scores.shape)}"
    assert torch.isfinite(scores).all(), f"{name} with T={T} gave non-finite scores"


@pytest.mark.parametrize(
    "name", ["late_fusion", "early_fusion", "two_stream", "space_time_transformer"]
)
def test_models_built_for_one_length_reject_another(name):
    model = V.make_model(name, num_classes=NUM_CLASSES, num_frames=8)
    with pytest.raises(ValueError, match="T=8"):
        model(clips_of(0, N=1, T=16, H=32, W=32))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="not one of"):
        V.make_model("resnet")
    with pytest.raises(ValueError, match="cell"):
        V.CNNRNN(3, cell="rnn")
    with pytest.raises(ValueError, match="tubelet"):
        V.SpaceTimeTransformer(3, num_frames=15)
    with pytest.raises(ValueError, match=r"\(N, T, C, H, W\)"):
        V.SingleFrame(3)(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="one entry per stage"):
        V.SlowFast(3, slow_widths=(8, 16), fast_widths=(2,))


def test_frame_encoder_pools_to_its_grid():
    torch.manual_seed(0)
    images = torch.rand(4, 2, 16, 16)
    encoder = perturbed(V.FrameEncoder(2, widths=(4, 6), pool_size=1))
    assert encoder.out_dim == 6 and encoder(images).shape == (4, 6)
    maps = encoder.features[:-2](images)  # before pooling and flattening: (4, 6, 8, 8)
    torch.testing.assert_close(encoder(images), maps.mean(dim=(2, 3)))
    gridded = V.FrameEncoder(2, widths=(4, 6), pool_size=2)
    assert gridded.out_dim == 24 and gridded(images).shape == (4, 24)


# -- single frame, late and early fusion, two streams --------------------------------------


def test_single_frame_ignores_the_order_of_the_frames():
    torch.manual_seed(0)
    model = perturbed(V.SingleFrame(NUM_CLASSES, widths=(4, 8)))
    clips = clips_of(2)
    with torch.no_grad():
        scores = model(clips)
        shuffled = model(clips[:, torch.randperm(clips.shape[1])])
        per_frame = [model.classifier(model.encoder(clips[:, t])) for t in range(clips.shape[1])]
    torch.testing.assert_close(shuffled, scores, msg="SingleFrame must not see frame order")
    torch.testing.assert_close(
        scores, torch.stack(per_frame).mean(0), msg="SingleFrame must average the per-frame scores"
    )


@pytest.mark.parametrize("center", [False, True])
def test_late_fusion_concatenates_frame_features_in_time_order(center):
    torch.manual_seed(0)
    model = V.LateFusion(NUM_CLASSES, num_frames=6, widths=(4, 8), pool_size=2, center=center)
    model = perturbed(model)
    clips = clips_of(3, T=6)
    with torch.no_grad():
        scores = model(clips)
        frames = [model.encoder(clips[:, t]) for t in range(6)]  # 6 x (N, D)
        if center:  # each clip's mean feature over its frames, subtracted
            mean = sum(frames) / 6
            frames = [f - mean for f in frames]
        expected = model.head(torch.cat(frames, dim=1))  # (N, 6 D)
        permuted = model(clips[:, [1, 0, 2, 3, 5, 4]])
    torch.testing.assert_close(
        scores, expected, msg=f"LateFusion(center={center}) != head(encoder(frame 0), ...)"
    )
    assert not torch.allclose(permuted, scores, atol=1e-4), "LateFusion ignored the frame order"


def test_center_over_time_removes_what_every_frame_shares():
    features = torch.randn(4, 7, 5)
    shared = torch.randn(4, 1, 5)  # the same in every frame of a clip
    centred = V.center_over_time(features + shared)
    torch.testing.assert_close(centred, V.center_over_time(features))
    torch.testing.assert_close(centred.mean(dim=1), torch.zeros(4, 5), atol=1e-6, rtol=0)
    torch.testing.assert_close(centred[:, 3] - centred[:, 1], features[:, 3] - features[:, 1])


def test_early_fusion_stacks_frames_on_channels_in_time_order():
    torch.manual_seed(0)
    model = perturbed(V.EarlyFusion(NUM_CLASSES, num_frames=4, in_channels=2, widths=(4, 8)))
    clips = clips_of(4, T=4, C=2)
    seen, handle = capture_input(model.cnn.features[0])
    with torch.no_grad():
        model(clips)
    handle.remove()
    stacked = torch.cat([clips[:, t] for t in range(4)], dim=1)  # frame t at channels 2t, 2t+1
    torch.testing.assert_close(
        seen[0], stacked, msg="the first conv must see frame t's channels at t C..(t+1) C-1"
    )


def test_two_stream_sees_the_middle_frame_and_the_frame_differences():
    torch.manual_seed(0)
    model = perturbed(
        V.TwoStream(
            NUM_CLASSES, num_frames=5, in_channels=2, appearance_widths=(4,), motion_widths=(4, 8)
        )
    )
    clips = clips_of(5, T=5, C=2)
    appearance, handle_a = capture_input(model.appearance.features[0])
    motion, handle_m = capture_input(model.motion.features[0])
    with torch.no_grad():
        model(clips)
    handle_a.remove()
    handle_m.remove()
    torch.testing.assert_close(appearance[0], clips[:, 2], msg="appearance: not frame T // 2")
    moves = torch.cat([clips[:, t + 1] - clips[:, t] for t in range(4)], dim=1)
    torch.testing.assert_close(
        motion[0], moves, msg="motion: not frame t+1 - frame t at channels t C..(t+1) C-1"
    )


# -- 3-D convolution -----------------------------------------------------------------------


def test_c3d_first_conv_is_conv3d_of_the_permuted_clip():
    torch.manual_seed(0)
    model = perturbed(V.C3D(NUM_CLASSES, in_channels=2, widths=(4, 6, 8)))
    clips = clips_of(6, T=6, C=2)
    conv = model.features[0]
    outputs = []
    handle = conv.register_forward_hook(lambda m, i, out: outputs.append(out))
    with torch.no_grad():
        model(clips)
    handle.remove()
    expected = F.conv3d(clips.permute(0, 2, 1, 3, 4), conv.weight, padding=1)  # (N, F, T, H, W)
    torch.testing.assert_close(
        outputs[0], expected, msg="C3D's first conv must see (N, C, T, H, W) = clips permuted"
    )


def test_c3d_pools_space_first_then_space_and_time():
    model = V.C3D(NUM_CLASSES, widths=(4, 6, 8))
    shapes = []
    handles = [
        m.register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape[2:])))
        for m in model.features
        if isinstance(m, torch.nn.MaxPool3d)
    ]
    with torch.no_grad():
        model.eval()(clips_of(0, N=1, T=8, H=16, W=16))
    for handle in handles:
        handle.remove()
    assert shapes == [(8, 8, 8), (4, 4, 4)], f"pooled (T, H, W) shapes {shapes}"


def test_c3d_first_layer_sees_one_frame_on_each_side():
    torch.manual_seed(0)
    model = perturbed(V.C3D(NUM_CLASSES, widths=(4, 8)))
    clips = clips_of(7, T=7, requires_grad=True)
    first = model.features[0](clips.permute(0, 2, 1, 3, 4))  # (N, F, T, H, W), before BN
    for t in (0, 3, 6):
        (grad,) = torch.autograd.grad(first[:, :, t].sum(), clips, retain_graph=True)
        reached = [s for s in range(7) if grad[:, s].abs().sum() > 0]
        expected = [s for s in (t - 1, t, t + 1) if 0 <= s < 7]
        assert reached == expected, f"output frame {t} depends on frames {reached}, not {expected}"


# -- recurrent models ----------------------------------------------------------------------


def _assert_causal(states_of, clips, what):
    T = clips.shape[1]
    states = states_of(clips)  # (N, T, ...)
    for t in range(T):
        (grad,) = torch.autograd.grad(states[:, t].sum(), clips, retain_graph=True)
        reached = [s for s in range(T) if grad[:, s].abs().sum() > 0]
        assert reached == list(range(t + 1)), (
            f"{what}: the state after frame {t} depends on frames {reached}, expected 0..{t}"
        )


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_cnn_rnn_is_causal_and_scores_its_last_state(cell):
    torch.manual_seed(0)
    model = V.CNNRNN(NUM_CLASSES, widths=(4, 8), hidden_size=6, cell=cell, center=False)
    model = perturbed(model)
    clips = clips_of(8, T=5, requires_grad=True)
    _assert_causal(model.hidden_states, clips, f"CNNRNN({cell})")
    with torch.no_grad():
        features = torch.stack([model.encoder(clips[:, t]) for t in range(5)], dim=1)
        reference = getattr(torch.nn, cell.upper())(features.shape[2], 6, batch_first=True)
        reference.load_state_dict(model.rnn.state_dict())
        expected = model.classifier(reference(features)[0][:, -1])
        torch.testing.assert_close(model(clips), expected, msg="CNNRNN: not head(rnn(...)[-1])")


def test_cnn_rnn_centred_reads_the_features_minus_their_mean():
    torch.manual_seed(0)
    model = perturbed(V.CNNRNN(NUM_CLASSES, widths=(4, 8), hidden_size=6))  # center=True
    clips = clips_of(3, T=5)
    with torch.no_grad():
        features = torch.stack([model.encoder(clips[:, t]) for t in range(5)], dim=1)
        centred = features - features.mean(dim=1, keepdim=True)
        expected = model.classifier(model.rnn(centred)[0][:, -1])
        torch.testing.assert_close(model(clips), expected, msg="CNNRNN(center=True)")


def test_conv_gru_cell_follows_the_gate_equations():
    torch.manual_seed(0)
    cell = perturbed(V.ConvGRUCell(3, 4, kernel_size=3), scale=0.3)
    x, h = torch.randn(2, 3, 5, 6), torch.randn(2, 4, 5, 6)
    W, b = cell.input_conv.weight, cell.input_conv.bias  # (12, 3, 3, 3): z, r, candidate
    U = cell.hidden_conv.weight  # (8, 4, 3, 3): z, r
    U_c = cell.candidate_conv.weight

    def conv(inp, weight, bias=None):
        return F.conv2d(inp, weight, bias, padding=1)

    z = torch.sigmoid(conv(x, W[:4], b[:4]) + conv(h, U[:4]))
    r = torch.sigmoid(conv(x, W[4:8], b[4:8]) + conv(h, U[4:]))
    candidate = torch.tanh(conv(x, W[8:], b[8:]) + conv(r * h, U_c))
    with torch.no_grad():
        torch.testing.assert_close(
            cell(x, h),
            (1 - z) * h + z * candidate,
            msg="ConvGRUCell != (1 - z) h + z tanh(W_c x + U_c (r h))",
        )
        torch.testing.assert_close(
            cell(x), cell(x, torch.zeros(2, 4, 5, 6)), msg="h=None must mean a zero state"
        )


def test_conv_gru_is_causal_and_runs_the_cell_over_time():
    torch.manual_seed(0)
    model = perturbed(V.ConvGRU(NUM_CLASSES, stem_widths=(4,), hidden_channels=3))
    clips = clips_of(9, T=5, requires_grad=True)
    _assert_causal(model.hidden_states, clips, "ConvGRU")
    with torch.no_grad():
        h = None
        for t in range(5):
            h = model.cell(model.stem(clips[:, t]), h)
        torch.testing.assert_close(
            model(clips),
            model.classifier(h.mean(dim=(2, 3))),
            msg="ConvGRU: not the cell run over frames 0..T-1",
        )


# -- space-time attention ------------------------------------------------------------------


def attend(attention, x):
    """Multi-head softmax(Q K^T / sqrt(d)) V of the tokens x (L, E) among themselves, written
    with explicit heads from `attention`'s query, key, value and proj layers."""
    E, H = x.shape[1], attention.num_heads
    d = E // H
    q = x @ attention.query.weight.T + attention.query.bias
    k = x @ attention.key.weight.T + attention.key.bias
    v = x @ attention.value.weight.T + attention.value.bias
    heads = []
    for i in range(H):
        cols = slice(i * d, (i + 1) * d)
        weights = torch.softmax(q[:, cols] @ k[:, cols].T / math.sqrt(d), dim=1)
        heads.append(weights @ v[:, cols])
    return torch.cat(heads, dim=1) @ attention.proj.weight.T + attention.proj.bias


def test_divided_attention_matches_loops_over_positions_and_time_steps():
    torch.manual_seed(0)
    block = perturbed(V.DividedSpaceTimeBlock(8, num_heads=2, mlp_ratio=2.0))
    tokens = torch.randn(2, 3, 5, 8)  # (N, T', S, E)
    N, T, S, _ = tokens.shape
    with torch.no_grad():
        x = tokens.clone()
        normed = block.norm_time(tokens)
        for n in range(N):
            for s in range(S):  # temporal: the T' tokens at one place
                x[n, :, s] = tokens[n, :, s] + attend(block.temporal_attn, normed[n, :, s])
        y = x.clone()
        normed = block.norm_space(x)
        for n in range(N):
            for t in range(T):  # spatial: the S tokens of one time step
                y[n, t] = x[n, t] + attend(block.spatial_attn, normed[n, t])
        expected = y + block.mlp(block.norm_mlp(y))
        torch.testing.assert_close(
            block(tokens),
            expected,
            rtol=1e-5,
            atol=1e-5,
            msg="divided attention != time-then-space loops",
        )


def test_tubelet_tokens_carry_their_patch_and_positions():
    torch.manual_seed(0)
    model = V.SpaceTimeTransformer(
        NUM_CLASSES,
        num_frames=4,
        image_size=8,
        in_channels=2,
        tubelet=(2, 4, 4),
        embed_dim=8,
        depth=1,
        num_heads=2,
    )
    clips = clips_of(10, T=4, C=2, H=8, W=8)
    with torch.no_grad():
        tokens = model.tokens(clips)
        assert tokens.shape == (3, 2, 4, 8)
        weight, bias = model.embed.weight, model.embed.bias  # (E, C, 2, 4, 4)
        for t in range(2):
            for s in range(4):
                row, col = divmod(s, 2)  # positions row-major
                patch = clips[:, 2 * t : 2 * t + 2, :, 4 * row : 4 * row + 4, 4 * col : 4 * col + 4]
                value = torch.einsum("ntchw,ecthw->ne", patch, weight) + bias
                value = value + model.time_embedding[0, t, 0] + model.space_embedding[0, 0, s]
                torch.testing.assert_close(
                    tokens[:, t, s],
                    value,
                    rtol=1e-5,
                    atol=1e-5,
                    msg=f"token (t'={t}, s={s}) is not its tubelet",
                )


# -- SlowFast ------------------------------------------------------------------------------


def test_slowfast_lateral_is_a_strided_temporal_sum():
    torch.manual_seed(0)
    model = perturbed(V.SlowFast(NUM_CLASSES, alpha=3, slow_widths=(4, 6), fast_widths=(2, 3)))
    lateral = model.laterals[0]
    fast = torch.randn(2, 2, 7, 3, 4)  # (N, C_f, T, H, W)
    padded = F.pad(fast, (0, 0, 0, 0, 2, 2))  # two zero frames before and after
    steps = math.ceil(7 / 3)
    expected = torch.zeros(2, 4, steps, 3, 4)
    w = lateral.weight[:, :, :, 0, 0]  # (2 C_f, C_f, 5)
    for t in range(steps):
        for k in range(5):  # output t sums fast frames 3 t - 2 ... 3 t + 2
            expected[:, :, t] += torch.einsum("oc,nchw->nohw", w[:, :, k], padded[:, :, 3 * t + k])
    expected += lateral.bias[None, :, None, None, None]
    with torch.no_grad():
        torch.testing.assert_close(
            lateral(fast),
            expected,
            rtol=1e-5,
            atol=1e-5,
            msg="lateral != bias + sum_k W_k fast[alpha t + k - 2]",
        )


def test_slowfast_pathways_and_their_fusion():
    torch.manual_seed(0)
    model = perturbed(V.SlowFast(NUM_CLASSES, alpha=4, slow_widths=(4, 6), fast_widths=(2, 3)))
    clips = clips_of(11, T=9)
    slow_in, h1 = capture_input(model.slow[0])
    fast_in, h2 = capture_input(model.fast[0])
    fused_in, h3 = capture_input(model.slow[1])
    with torch.no_grad():
        model(clips)
        volume = clips.permute(0, 2, 1, 3, 4)
        torch.testing.assert_close(slow_in[0], volume[:, :, [0, 4, 8]], msg="slow: not frames ::4")
        torch.testing.assert_close(fast_in[0], volume, msg="fast: not every frame")
        fused = torch.cat([model.slow[0](slow_in[0]), model.laterals[0](model.fast[0](volume))], 1)
        torch.testing.assert_close(
            fused_in[0], model.pool(fused), msg="slow stage 2 must get [slow, lateral(fast)] pooled"
        )
    for handle in (h1, h2, h3):
        handle.remove()
    assert model.slow[0][0].kernel_size == (1, 3, 3), "no temporal kernel in the early slow stage"
    assert model.fast[0][0].kernel_size == (3, 3, 3), "the fast pathway has temporal kernels"


# -- training and evaluation ---------------------------------------------------------------


def separable_clips(seed, count=48):
    """Two classes of 6-frame noisy clips: a bright square sliding right or left."""
    rng = np.random.default_rng(seed)
    X = 0.2 * rng.random((count, 6, 1, 12, 12)).astype(np.float32)
    y = np.arange(count) % 2
    for i in range(count):
        start = int(rng.integers(0, 3))
        for t in range(6):
            col = start + t if y[i] == 0 else start + 5 - t
            X[i, t, 0, 4:8, col : col + 4] = 1.0
    return X, y


def test_train_video_classifier_learns_and_is_deterministic():
    X, y = separable_clips(0)
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(0)
        model = V.EarlyFusion(2, num_frames=6, widths=(8, 16))
        state = torch.random.get_rng_state()
        history = V.train_video_classifier(
            model,
            X,
            y,
            40,
            batch_size=16,
            learning_rate=1e-2,
            seed=seed,
            progress=False,
            device="cpu",
        )
        runs.append((history["loss"], V.predict_clip_scores(model, X), model))
        assert torch.equal(torch.random.get_rng_state(), state), "training moved the global RNG"
    assert runs[0][0] == runs[1][0], "the same seed gave different losses"
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0], "another seed gave the same batches"
    loss = runs[0][0]
    assert np.mean(loss[-5:]) < 0.3 * np.mean(loss[:5]), f"loss {loss[:5]} -> {loss[-5:]}"
    assert V.clip_accuracy(runs[0][2], X, y) == 1.0
    with pytest.raises(ValueError, match="num_steps"):
        V.train_video_classifier(model, X, y, 0, progress=False, device="cpu")
    with pytest.raises(ValueError, match="labels"):
        V.train_video_classifier(model, X, y[:-1], 1, progress=False, device="cpu")


def test_train_video_classifier_draws_every_clip_once_per_epoch():
    X, y = separable_clips(1, count=12)
    model = V.SingleFrame(2, widths=(4,))
    seen = []
    handle = model.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].clone()))
    V.train_video_classifier(model, X, y, 6, batch_size=4, progress=False, device="cpu")
    handle.remove()
    for epoch in (seen[:3], seen[3:]):
        rows = torch.cat(epoch).flatten(1)
        matches = (rows[:, None] == torch.as_tensor(X).flatten(1)[None]).all(dim=2)  # (12, 12)
        assert (matches.sum(dim=0) == 1).all(), "an epoch must show every clip exactly once"


def test_predictions_are_eval_mode_and_batched():
    torch.manual_seed(0)
    model = perturbed(V.LateFusion(3, num_frames=4, widths=(4,), pool_size=1))
    model.train()
    X = clips_of(12, N=7, T=4).numpy()
    scores = V.predict_clip_scores(model, X, batch_size=3)
    assert isinstance(scores, np.ndarray) and scores.shape == (7, 3)
    with torch.no_grad():
        expected = model.eval()(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    assert V.clip_accuracy(model, X, y, batch_size=2) == np.mean(expected.argmax(1) == y)


def test_every_model_has_a_training_budget_the_trainer_accepts():
    assert set(V.TRAINING) == set(V.MODELS), f"TRAINING {sorted(V.TRAINING)} != MODELS"
    accepted = set(inspect.signature(V.train_video_classifier).parameters)
    for name, budget in V.TRAINING.items():
        assert set(budget) <= accepted, f"{name}: {sorted(set(budget) - accepted)} not accepted"


# -- mirroring ------------------------------------------------------------------------------


def test_mirror_permutations_name_the_mirrored_motion():
    from cs231n_lib.data.video import CLASSES

    swapped = {
        "left_right": {"right": "left", "clockwise": "counterclockwise"},
        "up_down": {"up": "down", "clockwise": "counterclockwise"},
    }
    for which, permutation in (
        ("left_right", V.MIRROR_LEFT_RIGHT),
        ("up_down", V.MIRROR_UP_DOWN),
    ):
        pairs = swapped[which] | {b: a for a, b in swapped[which].items()}
        for k, name in enumerate(CLASSES):
            expected = pairs.get(name, name)  # bounce stays horizontal, changes stay changes
            got = CLASSES[int(permutation[k])]
            assert got == expected, f"{which}: a mirrored {name} is a {expected}, not a {got}"


def test_mirror_clips_flips_each_clip_with_its_label():
    clips = clips_of(3, N=64, T=4, H=6, W=5)
    labels = torch.arange(64) % 11
    out, out_labels = V.mirror_clips(clips, labels, torch.Generator().manual_seed(0))
    again, again_labels = V.mirror_clips(clips, labels, torch.Generator().manual_seed(0))
    assert torch.equal(out, again) and torch.equal(out_labels, again_labels), "not seeded"
    lr, ud = V.MIRROR_LEFT_RIGHT, V.MIRROR_UP_DOWN
    counts = {}
    for n in range(64):
        options = {
            "none": (clips[n], labels[n]),
            "left_right": (clips[n].flip(-1), lr[labels[n]]),
            "up_down": (clips[n].flip(-2), ud[labels[n]]),
            "both": (clips[n].flip(-1).flip(-2), ud[lr[labels[n]]]),
        }
        found = [k for k, (c, y) in options.items() if torch.equal(out[n], c)]
        assert len(found) == 1, f"clip {n} is not one flip of its input (same for all frames)"
        assert out_labels[n] == options[found[0]][1], f"clip {n} ({found[0]}): wrong label"
        counts[found[0]] = counts.get(found[0], 0) + 1
    assert set(counts) == {"none", "left_right", "up_down", "both"}, counts
    assert torch.equal(clips, clips_of(3, N=64, T=4, H=6, W=5)), "mirror_clips changed its input"
    with pytest.raises(ValueError, match="labels"):
        V.mirror_clips(clips, labels[:-1], torch.Generator())


def test_train_video_classifier_mirrors_on_request():
    X, y = separable_clips(1, count=12)
    runs = []
    for mirror in (False, True, True):
        torch.manual_seed(0)
        model = V.SingleFrame(2, widths=(4,))
        seen = []
        model.register_forward_hook(lambda m, inputs, out, seen=seen: seen.append(inputs[0]))
        history = V.train_video_classifier(
            model, X, y, 3, batch_size=4, progress=False, device="cpu", mirror=mirror
        )
        runs.append((history["loss"], torch.cat(seen)))
    assert runs[1][0] == runs[2][0], "mirror=True is not deterministic"
    assert not torch.equal(runs[0][1], runs[1][1]), "mirror=True flipped no clip"
    flips = [X_t.flip(-1) for X_t in runs[0][1]]
    assert any(torch.equal(a, b) for a, b in zip(runs[1][1], flips, strict=True)), (
        "mirror=True must flip the same batches that mirror=False draws"
    )
    with pytest.raises(ValueError, match="mirror"):
        V.train_video_classifier(
            model, X, np.full_like(y, 11), 1, progress=False, device="cpu", mirror=True
        )
