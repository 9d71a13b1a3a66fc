"""A `Solver` that trains a classification model by minibatch gradient descent.

It holds everything about training that is not the model: the minibatches, the update
rule and its per-parameter state, learning-rate decay, the loss and accuracy histories,
and the parameters of the epoch with the best validation accuracy.

A model is any object with
- `params`: dict name -> array, the trainable parameters (the Solver replaces entries);
- `loss(X, y=None)`: with y None, the scores (N, C) of X (test time); else a tuple
  `(loss, grads)` with a float loss and `grads[name]` of the shape of `params[name]`.

Typical use:

    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1e-1},
                    lr_decay=0.95, batch_size=100, num_epochs=20)
    solver.train()
    solver.loss_history, solver.val_acc_history, solver.best_val_acc
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cs231n_lib import optim

UpdateRule = Callable[[np.ndarray, np.ndarray, dict | None], tuple[np.ndarray, dict]]
DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


def update_rules() -> dict[str, UpdateRule]:
    """The update rules of `cs231n_lib.optim` by name (its public functions)."""
    return {
        name: fn
        for name, fn in vars(optim).items()
        if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == optim.__name__
    }


class Solver:
    """Minibatch training of a model with loss and accuracy histories and a progress bar.

    Inputs:
    - model: an object with `params` and `loss(X, y=None)` (module docstring).
    - data: dict with X_train (N, ...), y_train (N,), X_val (N_val, ...), y_val (N_val,).
    Keyword arguments (anything else raises ValueError):
    - update_rule: name of a rule in `cs231n_lib.optim` ("sgd", ...) or a function
      update(w, dw, config) -> (next_w, config).
    - optim_config: hyperparameters of the rule, e.g. {"learning_rate": 1e-2}; each
      parameter gets its own copy, in which the rule keeps its state.
    - lr_decay: factor applied to every "learning_rate" after each epoch.
    - batch_size: examples per step; an epoch is max(1, N // batch_size) steps over a
      fresh random permutation of the training set.
    - num_epochs: number of epochs that `train` runs.
    - num_train_samples: training examples (a random subset) on which the training
      accuracy is measured after each epoch; None uses all of them.
    - num_val_samples: the same for the validation accuracy; None uses all of them.
    - print_every: with verbose, print the loss every this many steps.
    - verbose: print the loss and the accuracies while training (stdout).
    - progress: show a tqdm progress bar (stderr or a notebook widget).
    - seed: seeds the minibatches and the accuracy subsets.

    After `train`: `loss_history` (one float per step), `train_acc_history` and
    `val_acc_history` (one float per epoch, the first before any step), `best_val_acc`,
    `best_params`, and `diverged` (True if training stopped at a non-finite loss). The
    model's params are set to `best_params` at the end of `train`; a model with
    normalization state (`model.bn_params`, e.g. batch norm's running averages) gets the
    state of the same epoch back (`best_bn_params`), so its test mode matches best_val_acc.
    """

    def __init__(
        self,
        model: Any,
        data: Mapping[str, np.ndarray],
        *,
        update_rule: str | UpdateRule = "sgd",
        optim_config: dict | None = None,
        lr_decay: float = 1.0,
        batch_size: int = 100,
        num_epochs: int = 10,
        num_train_samples: int | None = 1000,
        num_val_samples: int | None = None,
        print_every: int = 100,
        verbose: bool = False,
        progress: bool = True,
        seed: int = 0,
        **unknown: Any,
    ):
        if unknown:
            allowed = [
                name
                for name, p in inspect.signature(Solver.__init__).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY
            ]
            raise ValueError(
                f"unknown keyword argument(s) {sorted(unknown)} for Solver; allowed: {allowed}"
            )
        if not hasattr(model, "params") or not callable(getattr(model, "loss", None)):
            raise TypeError(
                f"model must have a `params` dict and a `loss(X, y=None)` method, "
                f"got {type(model).__name__}"
            )
        missing = [key for key in DATA_KEYS if key not in data]
        if missing:
            raise ValueError(f"data lacks {missing}; it needs {list(DATA_KEYS)}")
        for split in ("train", "val"):
            X, y = data[f"X_{split}"], data[f"y_{split}"]
            if len(X) != len(y) or len(X) == 0:
                raise ValueError(
                    f"X_{split} has {len(X)} examples and y_{split} has {len(y)}; "
                    f"they must match and not be empty"
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 0:
            raise ValueError(f"num_epochs must be an integer >= 0, got {num_epochs!r}")
        if not lr_decay > 0:
            raise ValueError(f"lr_decay must be positive, got {lr_decay!r}")
        if not print_every >= 1:
            raise ValueError(f"print_every must be at least 1, got {print_every!r}")
        for name, value in (
            ("num_train_samples", num_train_samples),
            ("num_val_samples", num_val_samples),
        ):
            if value is not None and not value >= 1:
                raise ValueError(f"{name} must be None or at least 1, got {value!r}")

        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.update_rule = self._find_rule(update_rule)
        self.optim_config = dict(optim_config or {})
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.num_epochs = num_epochs
        self.num_train_samples = num_train_samples
        self.num_val_samples = num_val_samples
        self.print_every = print_every
        self.verbose = verbose
        self.progress = progress
        self.rng = np.random.default_rng(seed)  # minibatches
        self._sample_rng = np.random.default_rng([seed, 1])  # accuracy subsets
        self._reset()

    @staticmethod
    def _find_rule(update_rule: str | UpdateRule) -> UpdateRule:
        if callable(update_rule):
            return update_rule
        rules = update_rules()
        if update_rule not in rules:
            raise ValueError(
                f"unknown update_rule {update_rule!r}; cs231n_lib.optim has {sorted(rules)}"
            )
        return rules[update_rule]

    def _reset(self) -> None:
        """Start the bookkeeping afresh (the model's parameters are left as they are)."""
        self.epoch = 0
        self.diverged = False
        self.best_val_acc = -np.inf
        self.best_params = {name: np.copy(p) for name, p in self.model.params.items()}
        self.best_bn_params = self._bn_state()
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self, batch: np.ndarray) -> float:
        """One update of every parameter on the examples `batch`; returns the loss."""
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        for name, w in self.model.params.items():
            if name not in grads:
                raise KeyError(f"the model's loss returned no gradient for parameter {name!r}")
            next_w, self.optim_configs[name] = self.update_rule(
                w, grads[name], self.optim_configs[name]
            )
            self.model.params[name] = next_w
        return float(loss)

    def check_accuracy(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """Fraction of examples of X (or of a random subset of num_samples) classified as y.

        Inputs:
        - X: examples, shape (N, ...); y: labels, shape (N,).
        - num_samples: measure on this many random examples; None uses all N.
        - batch_size: examples per call of model.loss (bounds the memory used).
        """
        if num_samples is not None and num_samples < len(X):
            subset = self._sample_rng.choice(len(X), size=num_samples, replace=False)
            X, y = X[subset], y[subset]
        predictions = [
            np.argmax(self.model.loss(X[start : start + batch_size]), axis=1)
            for start in range(0, len(X), batch_size)
        ]
        return float(np.mean(np.concatenate(predictions) == y))

    def _record_accuracy(self) -> None:
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {name: np.copy(p) for name, p in self.model.params.items()}
            self.best_bn_params = self._bn_state()

    def _bn_state(self) -> list[dict]:
        """A copy of the model's normalization state (running averages), [] if it has none."""
        return [
            {
                key: np.copy(value) if isinstance(value, np.ndarray) else value
                for key, value in bn_param.items()
            }
            for bn_param in getattr(self.model, "bn_params", [])
        ]

    def train(self) -> None:
        """Run `num_epochs` epochs (more on a second call), then keep the best parameters."""
        num_train = len(self.X_train)
        steps_per_epoch = max(num_train // self.batch_size, 1)
        if not self.val_acc_history:
            self._record_accuracy()  # epoch 0: before any step
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.num_epochs * steps_per_epoch, desc="training", leave=False)
        say = bar.write if bar is not None else print

        for _ in range(self.num_epochs):
            order = self.rng.permutation(num_train)
            for i in range(steps_per_epoch):
                loss = self._step(order[i * self.batch_size : (i + 1) * self.batch_size])
                self.loss_history.append(loss)
                if not np.isfinite(loss):
                    self.diverged = True
                    break
                if self.verbose and len(self.loss_history) % self.print_every == 0:
                    say(f"step {len(self.loss_history)}: loss {loss:.4f}")
                if bar is not None:
                    bar.update()
            if self.diverged:
                if self.verbose:
                    say(f"stopped at step {len(self.loss_history)}: the loss is {loss}")
                break
            self.epoch += 1
            for config in self.optim_configs.values():
                if "learning_rate" in config:
                    config["learning_rate"] *= self.lr_decay
            self._record_accuracy()
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.3g}", val_acc=f"{self.val_acc_history[-1]:.3f}")
            if self.verbose:
                say(
                    f"epoch {self.epoch}: train acc {self.train_acc_history[-1]:.3f}, "
                    f"val acc {self.val_acc_history[-1]:.3f}"
                )
        if bar is not None:
            bar.close()
        for name, p in self.best_params.items():
            self.model.params[name] = np.copy(p)
        # NOTE: in place, as the model's layers hold references to these dicts.
        bn_params = getattr(self.model, "bn_params", [])
        for bn_param, best in zip(bn_params, self.best_bn_params, strict=True):
            bn_param.clear()
            bn_param.update(best)
