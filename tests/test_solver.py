"""Tests of cs231n_lib.solver: arguments, minibatches, histories, decay, best parameters."""

import numpy as np
import pytest

from cs231n_lib.models import TwoLayerNet
from cs231n_lib.solver import Solver, update_rules


class CountingModel:
    """A model whose one parameter w grows by learning_rate per step (its gradient is -1).

    Every example is predicted as class 1 exactly when w == 2, so with all labels 1 the
    accuracy is 1.0 at w = 2 and 0.0 everywhere else.
    """

    def __init__(self, losses=None):
        self.params = {"w": np.array(0.0)}
        self.losses = losses  # loss of each step, default 0.0
        self.batches = []
        self.num_predicted = 0  # examples scored at test time

    def loss(self, X, y=None):
        if y is None:
            self.num_predicted += len(X)
            w = float(self.params["w"])
            return np.column_stack([np.zeros(len(X)), np.full(len(X), 0.5 - abs(w - 2))])
        self.batches.append(np.array(X[:, 0]))
        step = len(self.batches) - 1
        loss = self.losses[step] if self.losses is not None else 0.0
        return loss, {"w": np.array(-1.0)}


def ones_data(num_train=10, num_val=4):
    return {
        "X_train": np.arange(num_train, dtype=float)[:, None],
        "y_train": np.ones(num_train, dtype=int),
        "X_val": np.zeros((num_val, 1)),
        "y_val": np.ones(num_val, dtype=int),
    }


def blobs(rng, num_per_class=60, num_classes=3, dim=4):
    """Well separated Gaussian blobs: an easy classification problem."""
    centres = 4 * rng.normal(size=(num_classes, dim))
    y = np.repeat(np.arange(num_classes), num_per_class)
    X = centres[y] + rng.normal(size=(len(y), dim))
    order = rng.permutation(len(y))
    return X[order], y[order]


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def quiet_solver(model, data, **kwargs):
    return Solver(model, data, progress=False, **kwargs)


# --- arguments ---------------------------------------------------------------------------


def test_unknown_keyword_arguments_are_named_with_the_allowed_ones():
    with pytest.raises(ValueError) as info:
        Solver(CountingModel(), ones_data(), learning_rate=0.1, num_epoch=3)
    message = str(info.value)
    assert "learning_rate" in message and "num_epoch" in message
    assert "optim_config" in message and "num_epochs" in message  # the allowed ones


def test_unknown_update_rule_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"'sgd_typo'.*'sgd'"):
        Solver(CountingModel(), ones_data(), update_rule="sgd_typo")


def test_update_rules_are_the_public_functions_of_optim():
    rules = update_rules()
    assert "sgd" in rules
    assert all(not name.startswith("_") for name in rules)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"num_epochs": -1}, "num_epochs"),
        ({"lr_decay": 0.0}, "lr_decay"),
        ({"num_train_samples": 0}, "num_train_samples"),
    ],
)
def test_bad_values_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Solver(CountingModel(), ones_data(), **kwargs)


def test_data_must_have_all_four_arrays():
    data = ones_data()
    del data["y_val"]
    with pytest.raises(ValueError, match="y_val"):
        Solver(CountingModel(), data)


def test_model_without_loss_is_rejected():
    with pytest.raises(TypeError, match="loss"):
        Solver(object(), ones_data())


# --- training ----------------------------------------------------------------------------


def test_epochs_steps_and_history_lengths():
    model = CountingModel()
    solver = quiet_solver(model, ones_data(num_train=10), batch_size=3, num_epochs=4)
    solver.train()
    steps_per_epoch = 10 // 3
    assert len(solver.loss_history) == 4 * steps_per_epoch
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4 + 1
    assert solver.epoch == 4
    # Within an epoch the minibatches are disjoint: a permutation, not draws with replacement.
    for epoch in range(4):
        seen = np.concatenate(model.batches[epoch * 3 : (epoch + 1) * 3])
        assert len(set(seen.tolist())) == len(seen) == 9


def test_best_parameters_are_kept():
    model = CountingModel()
    data = ones_data()
    solver = quiet_solver(
        model,
        data,
        batch_size=len(data["X_train"]),
        num_epochs=5,
        optim_config={"learning_rate": 1.0},
    )
    solver.train()
    assert solver.val_acc_history == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert solver.best_val_acc == 1.0
    assert float(model.params["w"]) == 2.0  # not the last value, 5.0


def test_learning_rate_decays_after_each_epoch():
    solver = quiet_solver(
        CountingModel(),
        ones_data(),
        batch_size=5,
        num_epochs=3,
        lr_decay=0.5,
        optim_config={"learning_rate": 0.8},
    )
    solver.train()
    assert solver.optim_configs["w"]["learning_rate"] == pytest.approx(0.8 * 0.5**3)
    assert solver.optim_config == {"learning_rate": 0.8}  # the caller's settings are kept


def test_a_callable_update_rule_is_used():
    calls = []

    def halve(w, dw, config):
        calls.append(config)
        return w / 2, config

    solver = quiet_solver(CountingModel(), ones_data(), update_rule=halve, num_epochs=1)
    solver.train()
    assert len(calls) == 1


def test_training_stops_at_a_non_finite_loss():
    model = CountingModel(losses=[1.0, 0.5, np.inf, 0.1, 0.1])
    solver = quiet_solver(model, ones_data(num_train=10), batch_size=2, num_epochs=1)
    solver.train()
    assert solver.diverged
    assert len(solver.loss_history) == 3


def test_same_seed_same_minibatches():
    runs = []
    for seed in (0, 0, 1):
        model = CountingModel()
        quiet_solver(model, ones_data(), batch_size=2, num_epochs=2, seed=seed).train()
        runs.append(np.concatenate(model.batches))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_check_accuracy_on_a_subset():
    solver = quiet_solver(CountingModel(), ones_data())
    solver.model.params["w"] = np.array(2.0)
    X, y = np.zeros((50, 1)), np.r_[np.ones(30, dtype=int), np.zeros(20, dtype=int)]
    assert solver.check_accuracy(X, y) == pytest.approx(0.6)
    assert solver.check_accuracy(X, y, batch_size=7) == pytest.approx(0.6)
    solver.model.num_predicted = 0
    sub = solver.check_accuracy(X, y, num_samples=10)
    assert solver.model.num_predicted == 10
    assert sub * 10 == pytest.approx(round(sub * 10))  # a fraction of 10 examples


def test_progress_bar_goes_to_stderr_only_when_asked(capsys):
    Solver(CountingModel(), ones_data(), num_epochs=1, progress=False).train()
    assert capsys.readouterr().err == ""
    Solver(CountingModel(), ones_data(), num_epochs=1, progress=True).train()
    assert "training" in capsys.readouterr().err


def test_verbose_prints_losses_and_accuracies(capsys):
    quiet_solver(
        CountingModel(), ones_data(), batch_size=2, num_epochs=2, verbose=True, print_every=2
    ).train()
    out = capsys.readouterr().out
    assert "step 2: loss" in out and "epoch 2: train acc" in out


def test_two_layer_net_learns_separable_blobs(rng):
    X, y = blobs(rng)
    data = {"X_train": X[:120], "y_train": y[:120], "X_val": X[120:], "y_val": y[120:]}
    model = TwoLayerNet(input_dim=4, hidden_dim=20, num_classes=3, weight_scale=1e-1, seed=1)
    solver = quiet_solver(
        model, data, optim_config={"learning_rate": 0.5}, batch_size=20, num_epochs=15
    )
    solver.train()
    assert np.mean(solver.loss_history[-6:]) < 0.5 * solver.loss_history[0]
    assert solver.best_val_acc >= 0.95
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc


class RunningStateModel:
    """A model whose predictions depend on running state only: each training step adds 1 to
    bn_params[0]["running_mean"], and test-mode scores favour class running_mean % 3."""

    def __init__(self):
        self.params = {"w": np.zeros(1)}
        self.bn_params = [{"mode": "train", "running_mean": np.zeros(1)}]

    def loss(self, X, y=None):
        if y is None:
            scores = np.zeros((len(X), 3))
            scores[:, int(self.bn_params[0]["running_mean"][0]) % 3] = 1.0
            return scores
        self.bn_params[0]["running_mean"] = self.bn_params[0]["running_mean"] + 1.0
        return 1.0, {"w": np.zeros(1)}


def test_best_epoch_keeps_its_normalization_state():
    # One step per epoch: epochs 0, 1, 2, 3 predict class 0, 1, 2, 0; every label is 1, so
    # epoch 1 is the best, and its running mean (1.0) must come back with its params.
    data = {"X_train": np.zeros((4, 1)), "y_train": np.ones(4, dtype=int)}
    data.update(X_val=np.zeros((6, 1)), y_val=np.ones(6, dtype=int))
    model = RunningStateModel()
    solver = quiet_solver(model, data, batch_size=4, num_epochs=3)
    solver.train()
    assert solver.val_acc_history == [0.0, 1.0, 0.0, 0.0]
    assert model.bn_params[0]["running_mean"][0] == 1.0, model.bn_params
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc
