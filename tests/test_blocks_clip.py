"""Tests of cs231n_lib.blocks.clip: the encoders' shapes and their indifference to <NULL>
padding (against the GRU run by hand on the unpadded caption), the trainer calling the
given loss on the batch's pairs and being seeded, the prompt ensembles against captions
written out directly, zero-shot argmax and confusion against a loop, recall@k against a
loop over captions.

symmetric_loss and cosine below are this file's own (the notebook's students write
theirs); they drive the trainer and the evaluation here.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cs231n_lib.blocks import clip as K
from cs231n_lib.data import captions as C

WORD_TO_IDX = {word: i for i, word in enumerate(C.VOCAB)}


def symmetric_loss(image_features, text_features, temperature):
    """Cross-entropy of cosine logits / temperature, images to texts and back, averaged."""
    logits = F.normalize(image_features, dim=1) @ F.normalize(text_features, dim=1).T
    logits = logits / temperature
    labels = torch.arange(len(logits))
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def cosine(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (
        b / np.linalg.norm(b, axis=1, keepdims=True)
    ).T


def some_captions(texts, max_length=C.MAX_LENGTH):
    return torch.as_tensor(C.encode_captions(texts, WORD_TO_IDX, max_length))


TEXTS = ["a small red circle", "a large blue square left of a small white cross", "a large red"]


# -- encoders ------------------------------------------------------------------------------


def test_image_encoder_shapes():
    torch.manual_seed(0)
    for widths, side in [((4, 8, 8), 32), ((4,), 8), ((2, 3), 12)]:
        encoder = K.ImageEncoder(embed_dim=5, widths=widths).eval()
        with torch.no_grad():
            out = encoder(torch.rand(3, 3, side, side))
        assert out.shape == (3, 5), f"widths {widths} on {side}x{side}: {tuple(out.shape)}"
        assert encoder.projection.in_features == 4 * widths[-1], "features pooled to 2x2"


def test_gru_text_encoder_reads_up_to_end_and_ignores_the_padding():
    torch.manual_seed(1)
    encoder = K.TextEncoder(embed_dim=6, kind="gru", word_dim=4, hidden_dim=5).eval()
    tokens = some_captions(TEXTS)
    with torch.no_grad():
        out = encoder(tokens)
        longer = encoder(some_captions(TEXTS, max_length=20))
        assert out.shape == (3, 6), tuple(out.shape)
        assert torch.allclose(out, longer, atol=1e-6), "more <NULL> padding changed an embedding"
        for n, row in enumerate(tokens):
            real = row[row != C.NULL]
            # By hand: the GRU cell over the unpadded caption, from a zero state.
            h = torch.zeros(5)
            cell = torch.nn.GRUCell(4, 5)
            cell.weight_ih.copy_(encoder.gru.weight_ih_l0)
            cell.weight_hh.copy_(encoder.gru.weight_hh_l0)
            cell.bias_ih.copy_(encoder.gru.bias_ih_l0)
            cell.bias_hh.copy_(encoder.gru.bias_hh_l0)
            for token in real:
                h = cell(encoder.words.weight[token][None], h[None])[0]
            expected = encoder.projection(h)
            assert torch.allclose(out[n], expected, atol=1e-5), (
                f"caption {n}: not the projected GRU state at its <END> "
                f"(max error {(out[n] - expected).abs().max():.2e})"
            )
    assert not torch.allclose(out[0], out[2]), "different captions, same embedding"


def test_mean_text_encoder_is_the_mean_of_the_real_tokens():
    torch.manual_seed(2)
    encoder = K.TextEncoder(embed_dim=3, kind="mean", word_dim=4).eval()
    tokens = some_captions(TEXTS)
    with torch.no_grad():
        out = encoder(tokens)
        for n, row in enumerate(tokens):
            mean = encoder.words.weight[row[row != C.NULL]].mean(dim=0)
            assert torch.allclose(out[n], encoder.projection(mean), atol=1e-6), f"caption {n}"
        assert torch.allclose(out, encoder(some_captions(TEXTS, 16)), atol=1e-6)
        swapped = some_captions(["a large white square left of a small blue cross"])
        assert torch.allclose(out[1], encoder(swapped)[0], atol=1e-6), "a bag of words"


def test_text_encoder_refuses_empty_and_float_captions():
    encoder = K.TextEncoder(embed_dim=3)
    with pytest.raises(ValueError, match="not <NULL>"):
        encoder(torch.zeros(2, 5, dtype=torch.int64))
    with pytest.raises(ValueError, match="integer"):
        encoder(torch.ones(2, 5))
    with pytest.raises(ValueError, match="kind"):
        K.TextEncoder(kind="lstm")


# -- training ------------------------------------------------------------------------------


def tiny_pairs(N=24):
    """8x8 images of one flat colour plus noise, captioned with that colour: learnable."""
    rng = np.random.default_rng(0)
    order = rng.permutation(N)
    texts = [f"a {C.SIZES[i % 2]} {C.COLOURS[i % 6]} {C.SHAPES[i % 5]}" for i in order]
    rgb = np.array([C.RGB[C.COLOURS[i % 6]] for i in order], dtype=np.float32)
    X = rgb[:, :, None, None] + 0.1 * rng.normal(size=(N, 3, 8, 8)).astype(np.float32)
    return X, C.encode_captions(texts, WORD_TO_IDX)


def tiny_encoders(seed=0):
    torch.manual_seed(seed)
    return K.ImageEncoder(4, widths=(4,)), K.TextEncoder(4, word_dim=3, hidden_dim=4)


def test_train_clip_calls_the_given_loss_on_the_batch_pairs():
    X, captions = tiny_pairs()
    image_encoder, text_encoder = tiny_encoders()
    calls = []

    def recording_loss(image_features, text_features, temperature):
        calls.append((image_features.detach().clone(), text_features.detach().clone()))
        assert temperature.ndim == 0 and temperature.requires_grad
        return symmetric_loss(image_features, text_features, temperature)

    history = K.train_clip(
        image_encoder, text_encoder, X, captions, recording_loss, 3, batch_size=8,
        seed=4, progress=False, device="cpu",
    )  # fmt: skip
    assert len(calls) == 3 and len(history["loss"]) == 3, "one loss call per step"
    assert all(i.shape == (8, 4) and t.shape == (8, 4) for i, t in calls), "(B, E) features"
    assert history["temperature"][0] == pytest.approx(0.07, rel=1e-5), history["temperature"]
    assert history["temperature"][1] != history["temperature"][0], "the temperature is learned"
    # The first batch is the first 8 of the seed's permutation; row i of both is pair i.
    first = torch.randperm(24, generator=torch.Generator().manual_seed(4))[:8]
    retrained_image, retrained_text = tiny_encoders()
    retrained_image.train()
    with torch.no_grad():
        expected_image = retrained_image(torch.as_tensor(X[first.numpy()]))
        expected_text = retrained_text(torch.as_tensor(captions[first.numpy()]))
    assert torch.allclose(calls[0][0], expected_image, atol=1e-5), "image rows are not the batch"
    assert torch.allclose(calls[0][1], expected_text, atol=1e-5), "text rows are not the batch"
    assert not image_encoder.training and not text_encoder.training, "left in eval mode"


def test_train_clip_is_seeded_learns_and_keeps_the_callers_random_state():
    X, captions = tiny_pairs()
    runs = []
    for seed in (0, 0, 1):
        image_encoder, text_encoder = tiny_encoders()
        state = torch.get_rng_state()
        history = K.train_clip(
            image_encoder, text_encoder, X, captions, symmetric_loss, 40, batch_size=12,
            learning_rate=1e-2, seed=seed, progress=False, device="cpu",
        )  # fmt: skip
        assert torch.equal(torch.get_rng_state(), state), "the caller's random state changed"
        runs.append(history["loss"])
    assert runs[0] == runs[1], "two runs with the same seed gave different losses"
    assert runs[0] != runs[2], "seeds 0 and 1 gave the same losses: is seed used?"
    assert np.mean(runs[0][-5:]) < 0.8 * np.mean(runs[0][:5]), (
        f"the loss went from {np.mean(runs[0][:5]):.3f} to {np.mean(runs[0][-5:]):.3f}"
    )


def test_train_clip_fixed_temperature_and_bad_arguments():
    X, captions = tiny_pairs(8)
    image_encoder, text_encoder = tiny_encoders()
    seen = []

    def loss(image_features, text_features, temperature):
        seen.append(temperature)
        return symmetric_loss(image_features, text_features, temperature)

    history = K.train_clip(
        image_encoder, text_encoder, X, captions, loss, 2, batch_size=4, temperature=0.2,
        learn_temperature=False, progress=False, device="cpu",
    )  # fmt: skip
    assert history["temperature"] == pytest.approx([0.2, 0.2]) and not seen[0].requires_grad
    cases = [
        ("batch_size must be >= 2", dict(batch_size=1)),
        ("temperature must lie", dict(temperature=5.0)),
        ("num_steps", dict(num_steps=0)),
    ]
    for words, change in cases:
        kwargs = dict(num_steps=1, batch_size=4, progress=False, device="cpu") | change
        with pytest.raises(ValueError, match=words):
            K.train_clip(image_encoder, text_encoder, X, captions, loss, **kwargs)
    with pytest.raises(ValueError, match="scalar"):
        K.train_clip(
            image_encoder, text_encoder, X, captions, lambda i, t, tau: i, 1, 4,
            progress=False, device="cpu",
        )  # fmt: skip
    with pytest.raises(ValueError, match="8 images but 7"):
        K.train_clip(image_encoder, text_encoder, X, captions[:7], loss, 1, 4, progress=False)


# -- encoding and prompts ------------------------------------------------------------------


def test_encode_images_and_texts_match_the_encoders_in_eval_mode():
    image_encoder, text_encoder = tiny_encoders(3)
    X, captions = tiny_pairs(10)
    with torch.no_grad():
        expected_image = image_encoder.eval()(torch.as_tensor(X)).numpy()
        expected_text = text_encoder.eval()(torch.as_tensor(captions)).numpy()
    image_encoder.train()
    got_image = K.encode_images(image_encoder, X, batch_size=3)
    got_text = K.encode_texts(text_encoder, captions, batch_size=4)
    assert got_image.shape == (10, 4) and got_image.dtype == np.float32
    assert np.allclose(got_image, expected_image, atol=1e-6), "encode_images != eval encoder"
    assert got_text.shape == (10, 4) and np.allclose(got_text, expected_text, atol=1e-6)


def test_prompts_are_every_single_object_caption_of_the_class():
    shapes, colours = K.shape_prompts(), K.colour_prompts()
    assert shapes["classes"] == list(C.SHAPES) and colours["classes"] == list(C.COLOURS)
    assert shapes["tokens"].shape == (5, 12, C.MAX_LENGTH)
    assert colours["tokens"].shape == (6, 10, C.MAX_LENGTH)
    for k, shape in enumerate(C.SHAPES):
        expected = sorted(f"a {s} {c} {shape}" for s in C.SIZES for c in C.COLOURS)
        assert sorted(shapes["texts"][k]) == expected, shapes["texts"][k]
        decoded = C.decode_captions(shapes["tokens"][k], C.VOCAB)
        assert decoded == shapes["texts"][k], "tokens do not spell the texts"
    for k, colour in enumerate(C.COLOURS):
        expected = sorted(f"a {s} {colour} {h}" for s in C.SIZES for h in C.SHAPES)
        assert sorted(colours["texts"][k]) == expected, colours["texts"][k]
    assert K.prompts("size")["tokens"].shape == (2, 30, C.MAX_LENGTH)
    with pytest.raises(ValueError, match="attribute"):
        K.prompts("relation")


def test_encode_prompts_is_the_mean_of_unit_embeddings():
    _, text_encoder = tiny_encoders(5)
    tokens = K.colour_prompts()["tokens"]
    got = K.encode_prompts(text_encoder, tokens)
    assert got.shape == (6, 4), got.shape
    for k in range(6):
        single = K.encode_texts(text_encoder, tokens[k])
        unit = single / np.linalg.norm(single, axis=1, keepdims=True)
        assert np.allclose(got[k], unit.mean(axis=0), atol=1e-6), f"class {k}"


def test_attributes_and_combinations_from_captions():
    texts = [
        "a small red circle",
        "a large blue square left of a small red triangle",
        "a large white cross above a large green cross",
    ]
    captions = C.encode_captions(texts, WORD_TO_IDX)
    got = K.attributes(captions)
    assert got["single"].tolist() == [True, False, False]
    assert got["shape"].tolist() == [0, 1, 4] and got["colour"].tolist() == [0, 2, 5]
    assert got["size"].tolist() == [0, 1, 1]
    assert got["second_shape"].tolist() == [-1, 2, 4] and got["second_colour"].tolist() == [
        -1,
        0,
        1,
    ]
    assert got["second_size"].tolist() == [-1, 0, 1]
    mask = K.has_combination(captions, [("red", "triangle"), ("green", "cross")])
    assert mask.tolist() == [False, True, True], "either object of a caption counts"
    with pytest.raises(ValueError, match="not a"):
        K.has_combination(captions, [("pink", "circle")])


# -- evaluation ----------------------------------------------------------------------------


def test_zero_shot_accuracy_is_the_argmax_over_classes():
    rng = np.random.default_rng(0)
    image_features, prompt_features = rng.normal(size=(40, 6)), rng.normal(size=(4, 6))
    labels = rng.integers(4, size=40)
    calls = []

    def similarity(text_features, images):
        calls.append((text_features.shape, images.shape))
        return cosine(text_features, images)

    got = K.zero_shot_accuracy(similarity, image_features, prompt_features, labels)
    assert calls == [((4, 6), (40, 6))], f"similarity(prompts, images) once: {calls}"
    scores = cosine(prompt_features, image_features)
    predicted = [max(range(4), key=lambda k: scores[k, m]) for m in range(40)]
    confusion = np.zeros((4, 4), dtype=int)
    for true, guess in zip(labels, predicted, strict=True):
        confusion[true, guess] += 1
    assert got["predicted"].tolist() == predicted
    assert np.array_equal(got["confusion"], confusion), got["confusion"]
    assert got["accuracy"] == pytest.approx(np.mean(np.array(predicted) == labels))
    with pytest.raises(ValueError, match=r"\(4, 40\)"):
        K.zero_shot_accuracy(lambda t, i: cosine(i, t), image_features, prompt_features, labels)
    with pytest.raises(ValueError, match="labels"):
        K.zero_shot_accuracy(similarity, image_features, prompt_features, labels + 1)


def recall_by_loop(similarity, k, relevant):
    hits = 0
    for i in range(len(similarity)):
        ranked = sorted(range(similarity.shape[1]), key=lambda j: (-similarity[i, j], j))
        hits += any(relevant[i][j] for j in ranked[:k])
    return hits / len(similarity)


def test_retrieval_recall_matches_a_loop():
    rng = np.random.default_rng(1)
    similarity = rng.normal(size=(12, 15))
    similarity[3, :] = 0.0  # ties: the lower index first
    relevant = rng.random((12, 15)) < 0.15
    for k in (1, 3, 5, 15):
        eye = np.eye(12, 15, dtype=bool)
        assert K.retrieval_recall(similarity, k) == pytest.approx(
            recall_by_loop(similarity, k, eye)
        ), f"recall@{k} with the identity"
        assert K.retrieval_recall(torch.as_tensor(similarity), k, relevant) == pytest.approx(
            recall_by_loop(similarity, k, relevant)
        ), f"recall@{k} with relevant"
    assert K.retrieval_recall(similarity, 15) == 1.0
    with pytest.raises(ValueError, match="k=16"):
        K.retrieval_recall(similarity, 16)
    with pytest.raises(ValueError, match="identity"):
        K.retrieval_recall(similarity.T, 1)


def test_same_caption_compares_whole_captions():
    captions = C.encode_captions(["a small red circle", "a small red", "a small red circle"],
                                 WORD_TO_IDX)  # fmt: skip
    got = K.same_caption(captions[:2], captions)
    assert got.tolist() == [[True, False, True], [False, True, False]]
