"""Tests of cs231n_lib.models.linear against torch autograd, formulas and gradcheck."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from cs231n_lib.gradcheck import check_gradient
from cs231n_lib.models.linear import (
    LinearClassifier,
    LinearSVM,
    Softmax,
    softmax_loss,
    svm_loss,
)

LOSSES = [svm_loss, softmax_loss]


def random_problem(seed: int, num: int = 15, dim: int = 7, num_classes: int = 5):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 0.5, (dim, num_classes))
    X = rng.normal(0.0, 1.0, (num, dim))
    y = rng.integers(0, num_classes, size=num)
    return W, X, y


def torch_svm(W, X, y, reg):
    """The SVM loss by its formula in torch; gradient by autograd."""
    W_t = torch.tensor(W, requires_grad=True)
    scores = torch.tensor(X) @ W_t
    rows, labels = torch.arange(len(y)), torch.tensor(y)
    margins = torch.clamp(scores - scores[rows, labels][:, None] + 1.0, min=0.0)
    wrong_class = torch.ones_like(scores)
    wrong_class[rows, labels] = 0.0
    loss = (margins * wrong_class).sum() / len(y) + reg * (W_t**2).sum()
    loss.backward()
    return loss.item(), W_t.grad.numpy()


def torch_softmax(W, X, y, reg):
    """Cross-entropy by torch; gradient by autograd."""
    W_t = torch.tensor(W, requires_grad=True)
    scores = torch.tensor(X) @ W_t
    loss = torch.nn.functional.cross_entropy(scores, torch.tensor(y)) + reg * (W_t**2).sum()
    loss.backward()
    return loss.item(), W_t.grad.numpy()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("reg", [0.0, 0.1, 2.5])
@pytest.mark.parametrize(
    ("loss_fn", "reference"), [(svm_loss, torch_svm), (softmax_loss, torch_softmax)]
)
def test_loss_and_gradient_match_torch(loss_fn, reference, reg, seed):
    rng = np.random.default_rng(seed)
    shape = rng.integers([1, 2, 2], [30, 12, 9])
    W, X, y = random_problem(seed, *shape)
    loss, dW = loss_fn(W, X, y, reg)
    ref_loss, ref_dW = reference(W, X, y, reg)
    assert isinstance(loss, float)
    assert dW.shape == W.shape
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-10)
    np.testing.assert_allclose(dW, ref_dW, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_gradient_matches_numerical_gradient(loss_fn):
    W, X, y = random_problem(7)
    _, dW = loss_fn(W, X, y, 0.3)
    check_gradient(lambda W: loss_fn(W, X, y, 0.3)[0], {"W": W}, {"W": dW})


def test_svm_loss_of_a_worked_example():
    # One-hot rows: the scores of example i are row i of W.
    W = np.array([[2.0, 1.5, -1.0], [0.5, 1.2, 1.0], [0.3, -0.2, 0.1]])
    X = np.eye(3)[:2]
    y = np.array([0, 2])
    loss, dW = svm_loss(W, X, y, 0.0)
    # Example 0 violates one margin by 0.5; example 1 two margins, by 0.5 and 1.2.
    assert loss == pytest.approx((0.5 + 0.5 + 1.2) / 2)
    # The correct class gets -x_i once per violated margin: twice for example 1.
    expected = np.array([[-1.0, 1.0, 0.0], [1.0, 1.0, -2.0], [0.0, 0.0, 0.0]]) / 2
    np.testing.assert_allclose(dW, expected)


def test_svm_loss_is_zero_when_every_margin_is_met():
    W = np.array([[5.0, 0.0, 3.9], [0.0, 5.0, 0.0]])  # class 0 wins by 1.1, class 1 by 5
    X = np.eye(2)
    y = np.array([0, 1])
    loss, dW = svm_loss(W, X, y, 0.0)
    assert loss == 0.0
    np.testing.assert_array_equal(dW, np.zeros_like(W))


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_regularization_adds_reg_sum_of_squares_and_its_gradient(loss_fn):
    W, X, y = random_problem(3)
    loss_0, dW_0 = loss_fn(W, X, y, 0.0)
    loss_r, dW_r = loss_fn(W, X, y, 0.7)
    assert loss_r - loss_0 == pytest.approx(0.7 * np.sum(W**2), rel=1e-12)
    np.testing.assert_allclose(dW_r - dW_0, 2 * 0.7 * W, rtol=1e-12, atol=1e-14)


def test_softmax_loss_with_zero_weights_is_log_num_classes():
    _, X, y = random_problem(1, num_classes=7)
    loss, _ = softmax_loss(np.zeros((X.shape[1], 7)), X, y, 0.0)
    assert loss == pytest.approx(np.log(7), rel=1e-12)


@pytest.mark.parametrize("offset", [1e3, -1e3, 1e5, -1e5])
def test_softmax_is_stable_and_shift_invariant_for_huge_scores(offset):
    # A bias feature with the same huge weight for every class shifts all scores of an
    # example equally: the loss and the other rows of the gradient must not change.
    W, X, y = random_problem(4)
    X_bias = np.hstack([X, np.ones((len(X), 1))])
    W_bias = np.vstack([W, np.full((1, W.shape[1]), offset)])
    loss, dW = softmax_loss(W, X, y, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow RuntimeWarning fails the test
        loss_big, dW_big = softmax_loss(W_bias, X_bias, y, 0.0)
    assert np.isfinite(loss_big) and np.all(np.isfinite(dW_big))
    assert loss_big == pytest.approx(loss, rel=1e-9)
    np.testing.assert_allclose(dW_big[:-1], dW, rtol=1e-8, atol=1e-12)


def test_softmax_matches_torch_for_huge_scores_of_different_sizes():
    # Each example gets its own offset of +-(300..5000): a shift by one global maximum
    # would underflow every example far below it.
    rng = np.random.default_rng(9)
    W, X, y = random_problem(9, num=20)
    X[:, -1] = rng.choice([-1.0, 1.0], size=20) * rng.uniform(300, 5000, size=20)
    W[-1] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dW = softmax_loss(W, X, y, 0.01)
    ref_loss, ref_dW = torch_softmax(W, X, y, 0.01)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-10)
    np.testing.assert_allclose(dW, ref_dW, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_losses_do_not_modify_their_inputs(loss_fn):
    W, X, y = random_problem(2)
    copies = [W.copy(), X.copy(), y.copy()]
    loss_fn(W, X, y, 0.5)
    for array, copy in zip((W, X, y), copies, strict=True):
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("loss_fn", LOSSES)
@pytest.mark.parametrize(
    ("W_shape", "X_shape", "y"),
    [
        ((4, 3), (5, 3), [0, 1, 2, 0, 1]),  # X has D=3, W expects D=4
        ((4, 3), (5, 4), [0, 1, 2, 0]),  # 4 labels for 5 examples
        ((4, 3), (5, 4), [0, 1, 2, 0, 3]),  # label 3 with C=3
        ((4, 3), (5, 4), [0.0, 1.0, 2.0, 0.0, 1.0]),  # float labels
        ((4, 3), (4,), [0]),  # X not 2-D
    ],
)
def test_losses_reject_inconsistent_shapes(loss_fn, W_shape, X_shape, y):
    with pytest.raises(ValueError):
        loss_fn(np.zeros(W_shape), np.zeros(X_shape), np.array(y), 0.0)


class RecordingLoss:
    """A stand-in loss that records its inputs and returns a known loss and gradient."""

    def __init__(self):
        self.calls = []

    def __call__(self, W, X, y, reg):
        dW = np.outer(X.sum(axis=0), np.bincount(y, minlength=W.shape[1])) / len(y) + W
        self.calls.append((W.copy(), X.copy(), y.copy(), reg, dW))
        return float(len(self.calls)), dW


def indexed_data(num: int = 50, dim: int = 4, num_classes: int = 3, seed: int = 0):
    """X whose column 0 is the row index, so a batch tells which rows it holds."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.arange(float(num)), rng.standard_normal((num, dim - 1))])
    return X, np.arange(num) % num_classes


def test_train_takes_sgd_steps_on_matching_minibatches():
    X, y = indexed_data()
    recorder = RecordingLoss()
    classifier = LinearClassifier(recorder)
    history = classifier.train(X, y, learning_rate=0.01, reg=0.25, num_iters=20, batch_size=8)
    assert history == [float(i) for i in range(1, 21)]
    assert classifier.W.shape == (4, 3)
    for it, (W_seen, X_batch, y_batch, reg, dW) in enumerate(recorder.calls):
        rows = X_batch[:, 0].astype(int)
        assert X_batch.shape == (8, 4)
        np.testing.assert_array_equal(X_batch, X[rows])
        np.testing.assert_array_equal(y_batch, y[rows])
        assert reg == 0.25
        W_next = recorder.calls[it + 1][0] if it + 1 < 20 else classifier.W
        np.testing.assert_allclose(W_next, W_seen - 0.01 * dW)
    assert len({tuple(call[1][:, 0]) for call in recorder.calls}) > 1


def test_train_draws_with_replacement_and_is_seeded():
    X, y = indexed_data(num=5)
    runs = []
    for seed in (4, 4, 5):
        recorder = RecordingLoss()
        LinearClassifier(recorder).train(X, y, num_iters=3, batch_size=16, seed=seed)
        runs.append(np.stack([call[1][:, 0] for call in recorder.calls]))
    assert runs[0].shape == (3, 16)  # batches larger than the data set
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_train_continues_from_existing_weights():
    X, y = indexed_data()
    classifier = LinearClassifier(RecordingLoss())
    classifier.train(X, y, num_iters=2)
    W_after_first = classifier.W.copy()
    recorder = RecordingLoss()
    classifier.loss_fn = recorder
    classifier.train(X, y, num_iters=1)
    np.testing.assert_array_equal(recorder.calls[0][0], W_after_first)


def test_predict_takes_the_argmax_of_each_row():
    classifier = LinearClassifier(svm_loss)
    classifier.W = np.array(
        [[0.1, 0.9, 0.0], [2.0, -1.0, 0.5], [0.0, 0.0, 3.0], [-1.0, -2.0, -0.5]]
    )
    np.testing.assert_array_equal(classifier.predict(np.eye(4)), [1, 0, 2, 2])


@pytest.mark.parametrize("classifier_type", [LinearSVM, Softmax])
def test_subclasses_learn_separable_blobs(classifier_type):
    rng = np.random.default_rng(0)
    centres = np.array([[3.0, 0.0], [-3.0, 3.0], [0.0, -3.0]])
    y = np.repeat(np.arange(3), 60)
    X = np.hstack([centres[y] + rng.normal(0.0, 1.0, (180, 2)), np.ones((180, 1))])
    classifier = classifier_type()
    history = classifier.train(X, y, learning_rate=0.1, reg=1e-4, num_iters=200, batch_size=32)
    assert np.mean(classifier.predict(X) == y) > 0.9
    assert np.mean(history[-10:]) < history[0]


def test_subclasses_use_their_own_loss():
    assert LinearSVM().loss_fn is svm_loss
    assert Softmax().loss_fn is softmax_loss


def test_progress_bar_is_off_by_default_and_on_request(capfd):
    X, y = indexed_data()
    LinearSVM().train(X, y, num_iters=5)
    assert capfd.readouterr().err == ""
    LinearSVM().train(X, y, num_iters=5, progress=True)
    assert "LinearSVM" in capfd.readouterr().err


def test_bad_arguments_raise_clear_errors():
    X, y = indexed_data()
    with pytest.raises(TypeError, match="loss_fn"):
        LinearClassifier()
    with pytest.raises(RuntimeError, match="train"):
        LinearSVM().predict(X)
    with pytest.raises(ValueError, match="learning_rate"):
        LinearSVM().train(X, y, learning_rate=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        LinearSVM().train(X, y, batch_size=0)
    with pytest.raises(ValueError, match="y"):
        LinearSVM().train(X, y[:-1])
    classifier = LinearSVM()
    classifier.train(X, y, num_iters=1)
    with pytest.raises(ValueError, match="shape"):
        classifier.train(X[:, :2], y, num_iters=1)
    with pytest.raises(ValueError, match="shape"):
        classifier.predict(X[:, :2])
