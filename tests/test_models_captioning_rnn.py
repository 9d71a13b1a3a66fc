"""cs231n_lib.models.captioning_rnn.CaptioningRNN against the torch oracle, closed forms and
an overfitting run through the Solver."""

from __future__ import annotations

import numpy as np
import pytest

from cs231n_lib import reference as ref
from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.models.captioning_rnn import CaptioningRNN, CaptioningSolverModel
from cs231n_lib.solver import Solver

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "red", "circle", "left", "of"]
WORD_TO_IDX = {w: i for i, w in enumerate(WORDS)}
NULL, START, END = 0, 1, 2
CELLS = ["rnn", "lstm", "gru"]


def _batch(seed=0, num=4, length=7, input_dim=5):
    """Features (N, D) and captions (N, length): <START> words <END> <NULL>..., random lengths."""
    rng = np.random.default_rng(seed)
    captions = np.full((num, length), NULL)
    captions[:, 0] = START
    for n in range(num):
        k = int(rng.integers(1, length - 1))  # 1..length-2 words, then <END>
        captions[n, 1 : k + 1] = rng.integers(3, len(WORDS), size=k)
        captions[n, k + 1] = END
    return rng.standard_normal((num, input_dim)), captions


def _model(cell, seed=0, **kwargs):
    sizes = {"input_dim": 5, "wordvec_dim": 4, "hidden_dim": 6, **kwargs}
    return CaptioningRNN(WORD_TO_IDX, cell_type=cell, dtype=np.float64, seed=seed, **sizes)


@pytest.mark.parametrize("cell", CELLS)
def test_loss_and_gradients_match_torch(cell):
    model = _model(cell, seed=1)
    features, captions = _batch(seed=2)
    assert (captions == NULL).any(), "the batch must have padding to test the mask"
    loss, grads = model.loss(features, captions)
    want_loss, want_grads = ref.captioning_loss(model.params, features, captions, WORD_TO_IDX, cell)
    assert abs(loss - want_loss) < 1e-10
    assert grads.keys() == model.params.keys()
    for name, want in want_grads.items():
        assert grads[name].shape == model.params[name].shape, name
        np.testing.assert_allclose(grads[name], want, rtol=1e-8, atol=1e-12, err_msg=name)


def test_gradients_match_numerical_gradient():
    model = _model("lstm", seed=3)
    features, captions = _batch(seed=4)
    _, grads = model.loss(features, captions)

    def loss_of(**params):
        model.params.update(params)
        return model.loss(features, captions)[0]

    check_gradient(loss_of, dict(model.params), grads, num_checks=8)


def test_bias_gradient_in_closed_form_masks_null_and_skips_start():
    # With W_vocab = 0 and b_vocab = 0 every word has probability 1/V at every step, so
    # db_vocab[w] = (scored steps / V - times w is a target) / N: <START> is never a
    # target, <NULL> padding is never scored, and the sum is divided by N.
    model = _model("gru", seed=5)
    model.params["W_vocab"][:] = 0.0
    model.params["b_vocab"][:] = 0.0
    features, captions = _batch(seed=6)
    targets = captions[:, 1:]
    scored = targets != NULL
    counts = np.bincount(targets[scored], minlength=len(WORDS))
    loss, grads = model.loss(features, captions)
    num = len(captions)
    np.testing.assert_allclose(grads["b_vocab"], (scored.sum() / len(WORDS) - counts) / num)
    assert counts[START] == 0 and counts[NULL] == 0
    assert loss == pytest.approx(scored.sum() * np.log(len(WORDS)) / num, rel=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_null_padding_does_not_change_the_loss(cell):
    model = _model(cell, seed=7)
    features, captions = _batch(seed=8)
    padded = np.concatenate([captions, np.full((len(captions), 3), NULL)], axis=1)
    loss, grads = model.loss(features, captions)
    padded_loss, padded_grads = model.loss(features, padded)
    assert padded_loss == pytest.approx(loss, rel=1e-12)
    for name, grad in grads.items():
        np.testing.assert_allclose(padded_grads[name], grad, rtol=1e-9, atol=1e-14)


def _successor_model(cell, chain):
    """A model whose greedy caption follows `chain` (word -> next word) by construction.

    Word vectors are one-hot (W = V), the features give h0 = 0, and the cell copies the
    one-hot of chain[word] into h (gates saturated open, the LSTM's forget gate shut);
    W_vocab reads h back as scores.
    """
    vocab = len(WORDS)
    model = _model(cell, input_dim=3, wordvec_dim=vocab, hidden_dim=vocab)
    p = model.params
    for name in p:
        p[name][:] = 0.0
    p["W_embed"][:] = np.eye(vocab)
    copy = np.zeros((vocab, vocab))
    for word, nxt in chain.items():
        copy[WORD_TO_IDX[word], WORD_TO_IDX[nxt]] = 5.0
    H = vocab
    if cell == "rnn":
        p["Wx"][:] = copy
    elif cell == "lstm":  # blocks i, f, o, g
        p["b"][: 3 * H] = np.concatenate([np.full(H, 20.0), np.full(H, -20.0), np.full(H, 20.0)])
        p["Wx"][:, 3 * H :] = copy
    else:  # blocks z, r, candidate: z = 1 takes the candidate
        p["b"][:H] = 20.0
        p["Wx"][:, 2 * H :] = copy
    p["W_vocab"][:] = np.eye(vocab)
    return model


@pytest.mark.parametrize("cell", CELLS)
def test_sample_is_greedy_and_pads_after_end(cell):
    chain = {"<START>": "a", "a": "red", "red": "circle", "circle": "<END>", "<END>": "of"}
    model = _successor_model(cell, chain)
    captions = model.sample(np.zeros((2, 3)), max_length=6)
    expected = [WORD_TO_IDX[w] for w in ("a", "red", "circle", "<END>", "<NULL>", "<NULL>")]
    assert captions.shape == (2, 6) and np.issubdtype(captions.dtype, np.integer)
    np.testing.assert_array_equal(captions, [expected, expected])


def test_sample_without_end_fills_max_length():
    model = _successor_model("rnn", {"<START>": "a", "a": "a"})
    captions = model.sample(np.zeros((3, 3)), max_length=4)
    np.testing.assert_array_equal(captions, np.full((3, 4), WORD_TO_IDX["a"]))


def test_sample_of_a_random_model_has_its_shape():
    model = _model("lstm", seed=9)
    features, _ = _batch(seed=10)
    captions = model.sample(features, max_length=5)
    assert captions.shape == (len(features), 5)
    assert captions.min() >= 0 and captions.max() < len(WORDS)


def _random_captions(seed, num=50, length=12, vocab=20):
    rng = np.random.default_rng(seed)
    captions = np.full((num, length), NULL)
    captions[:, 0] = START
    for n in range(num):
        k = int(rng.integers(4, length - 1))
        captions[n, 1 : k + 1] = rng.integers(4, vocab, size=k)
        captions[n, k + 1] = END
    return captions


@pytest.mark.parametrize("cell", CELLS)
def test_overfits_50_random_captions_with_the_solver(cell):
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{i}" for i in range(16)]
    word_to_idx = {w: i for i, w in enumerate(words)}
    captions = _random_captions(seed=0, vocab=len(words))
    features = np.random.default_rng(1).standard_normal((50, 40)).astype(np.float32)
    model = CaptioningRNN(word_to_idx, input_dim=40, wordvec_dim=32, hidden_dim=64, cell_type=cell)
    data = {"X_train": features, "y_train": captions, "X_val": features, "y_val": captions}
    solver = Solver(
        CaptioningSolverModel(model, max_length=captions.shape[1] - 1),
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        batch_size=25,
        num_epochs=100,
        progress=False,
    )
    solver.train()
    assert solver.loss_history[-1] < 0.1, f"{cell}: final loss {solver.loss_history[-1]:.3f}"
    assert solver.best_val_acc == 1.0
    greedy = model.sample(features, max_length=captions.shape[1] - 1)
    np.testing.assert_array_equal(greedy, captions[:, 1:])
    assert all(p.dtype == np.float32 for p in model.params.values())


def test_solver_adapter_scores_give_the_greedy_caption():
    model = _model("rnn", seed=11)
    features, captions = _batch(seed=12)
    adapter = CaptioningSolverModel(model, max_length=captions.shape[1] - 1)
    assert adapter.params is model.params
    scores = adapter.loss(features)
    assert scores.shape == (len(features), len(WORDS), captions.shape[1])
    tokens = scores.argmax(axis=1)
    np.testing.assert_array_equal(tokens[:, 0], START)
    np.testing.assert_array_equal(tokens[:, 1:], model.sample(features, captions.shape[1] - 1))
    assert adapter.loss(features, captions)[0] == model.loss(features, captions)[0]


def test_parameter_shapes():
    model = CaptioningRNN(WORD_TO_IDX, input_dim=10, wordvec_dim=4, hidden_dim=6, cell_type="lstm")
    shapes = {k: v.shape for k, v in model.params.items()}
    V = len(WORDS)
    assert shapes == {
        "W_embed": (V, 4),
        "W_proj": (10, 6),
        "b_proj": (6,),
        "Wx": (4, 24),
        "Wh": (6, 24),
        "b": (24,),
        "W_vocab": (6, V),
        "b_vocab": (V,),
    }
    assert all(v.dtype == np.float32 for v in model.params.values())
    again = CaptioningRNN(WORD_TO_IDX, input_dim=10, wordvec_dim=4, hidden_dim=6, cell_type="lstm")
    assert all(np.array_equal(model.params[k], again.params[k]) for k in model.params)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="cell_type"):
        CaptioningRNN(WORD_TO_IDX, cell_type="transformer")
    with pytest.raises(ValueError, match="<END>"):
        CaptioningRNN({"<NULL>": 0, "<START>": 1})
    model = _model("rnn")
    features, captions = _batch()
    with pytest.raises(ValueError, match=r"features must be \(N, 5\)"):
        model.loss(features[:, :4], captions)
    with pytest.raises(ValueError, match="captions must be"):
        model.loss(features, captions[:, :1])
    with pytest.raises(ValueError, match="max_length"):
        model.sample(features, max_length=0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_layers_passed_in_replace_the_packages(cell, monkeypatch):
    # A notebook graded with the package's cells stubbed hands in its own: the model must
    # call those (and give the same numbers), never the package's.
    from cs231n_lib.layers import rnn as layers_rnn
    from cs231n_lib.models import captioning_rnn

    own = [
        getattr(layers_rnn, f"{cell}_{name}") for name in ("step_forward", "forward", "backward")
    ]
    calls = []

    def counted(function):
        def wrapper(*args):
            calls.append(function.__name__)
            return function(*args)

        return wrapper

    features, captions = _batch(seed=5)
    default = _model(cell, seed=6)
    want_loss, want_grads = default.loss(features, captions)
    want_sample = default.sample(features, max_length=5)

    def stub(*args):
        raise NotImplementedError("the package's cell must not run")

    monkeypatch.setitem(captioning_rnn.STEPS, cell, stub)
    for name in ("step_forward", "forward", "backward"):
        monkeypatch.setattr(captioning_rnn, f"{cell}_{name}", stub)
    monkeypatch.setitem(captioning_rnn.CELLS, cell, (captioning_rnn.CELLS[cell][0], stub, stub))
    model = _model(cell, seed=6, recurrent=tuple(counted(f) for f in own))
    loss, grads = model.loss(features, captions)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    for name, want in want_grads.items():
        np.testing.assert_allclose(grads[name], want, rtol=1e-10, err_msg=name)
    np.testing.assert_array_equal(model.sample(features, max_length=5), want_sample)
    assert {f"{cell}_forward", f"{cell}_backward", f"{cell}_step_forward"} <= set(calls)
    with pytest.raises(NotImplementedError):  # the default model runs the (stubbed) package
        _model(cell).loss(features, captions)
    with pytest.raises(TypeError, match="three functions"):
        _model(cell, recurrent=own[:2])
