"""A torch image captioner: image features -> initial state of an LSTM, GRU or vanilla RNN
that reads the caption word by word and scores the next word.

The torch counterpart of 08_rnn's numpy CaptioningRNN, with the same conventions: the
inputs are captions[:, :-1] (from <START>), the targets captions[:, 1:], <NULL> targets
are left out of the loss, and the loss is summed over the time steps and divided by the
batch size N. The initial hidden state (and, for an LSTM, the initial cell state) is a
linear map of the features. Everything runs on the device of the model's parameters
(`config.device()` by default); features and captions may be numpy arrays.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class TorchCaptioner(nn.Module):
    """Features (N, feature_dim) and captions (N, T) -> next-word scores (N, T, vocab_size)."""

    def __init__(
        self,
        vocab_size: int,
        feature_dim: int,
        wordvec_dim: int = 64,
        hidden_dim: int = 256,
        cell: str = "lstm",
        null_idx: int = 0,
        device=None,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell={cell!r} is not one of {sorted(CELLS)}")
        for name, value in [
            ("vocab_size", vocab_size),
            ("feature_dim", feature_dim),
            ("wordvec_dim", wordvec_dim),
            ("hidden_dim", hidden_dim),
        ]:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.cell, self.null_idx, self.hidden_dim = cell, null_idx, hidden_dim
        states = 2 if cell == "lstm" else 1  # an LSTM starts from (h0, c0)
        self.init_state = nn.Linear(feature_dim, states * hidden_dim)
        self.embed = nn.Embedding(vocab_size, wordvec_dim)
        self.rnn = CELLS[cell](wordvec_dim, hidden_dim, batch_first=True)
        self.vocab = nn.Linear(hidden_dim, vocab_size)
        if device is None:
            from cs231n_lib.config import device as default_device

            device = default_device()
        self.to(device)

    def initial_state(self, features: torch.Tensor):
        """Features (N, F) -> the recurrent state: h0 (1, N, H), or (h0, c0) for an LSTM."""
        state = self.init_state(features).unsqueeze(0)  # (1, N, states * H)
        if self.cell == "lstm":
            h0, c0 = state.chunk(2, dim=-1)
            return h0.contiguous(), c0.contiguous()
        return state

    def forward(self, features: torch.Tensor, captions_in: torch.Tensor) -> torch.Tensor:
        """Features (N, F), input words (N, T) int64 -> scores (N, T, V) of the next word."""
        hidden, _ = self.rnn(self.embed(captions_in), self.initial_state(features))  # (N, T, H)
        return self.vocab(hidden)

    def loss(self, features: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of captions[:, 1:] given captions[:, :-1], summed over the
        non-<NULL> targets and divided by N (the numpy temporal_softmax_loss's scale)."""
        scores = self(features, captions[:, :-1])  # (N, T - 1, V)
        targets = captions[:, 1:]
        total = F.cross_entropy(
            scores.reshape(-1, scores.shape[-1]),
            targets.reshape(-1),
            ignore_index=self.null_idx,
            reduction="sum",
        )
        return total / len(captions)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _as_tensors(model, features, captions=None):
    device = _device(model)
    features = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)
    if features.ndim != 2:
        raise ValueError(f"features must be (N, F), got shape {tuple(features.shape)}")
    if captions is None:
        return features
    captions = torch.as_tensor(np.asarray(captions), dtype=torch.int64, device=device)
    if captions.ndim != 2 or len(captions) != len(features):
        raise ValueError(
            f"captions must be (N, T) with N = {len(features)} (the features' rows), got "
            f"shape {tuple(captions.shape)}"
        )
    return features, captions


def train_captioner(
    model: TorchCaptioner,
    features: np.ndarray,
    captions: np.ndarray,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
    clip: float | None = 5.0,
    cosine: bool = True,
) -> dict[str, list[float]]:
    """Train `model` with Adam on (features (N, F), captions (N, T)).

    Batches are drawn in a new order each epoch from a generator seeded with `seed`; with
    `cosine` the learning rate falls from `lr` to 0 along a half cosine over all steps;
    `clip` caps the gradient norm (None: no clipping). Returns a history dict: "loss"
    (per step), "epoch_loss" (mean per epoch) and "epoch_seconds".
    """
    from tqdm.auto import tqdm

    for name, value in [("epochs", epochs), ("batch_size", batch_size)]:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    features, captions = _as_tensors(model, features, captions)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = -(-len(features) // batch_size)
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
        if cosine
        else None
    )
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"loss": [], "epoch_loss": [], "epoch_seconds": []}
    model.train()
    bar = tqdm(range(epochs), desc=f"{model.cell} captioner", disable=not progress)
    for _ in bar:
        start, losses = time.perf_counter(), []
        order = torch.randperm(len(features), generator=generator).to(features.device)
        for i in range(0, len(features), batch_size):
            batch = order[i : i + batch_size]
            optimizer.zero_grad()
            loss = model.loss(features[batch], captions[batch])
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            losses.append(loss.item())
        history["loss"] += losses
        history["epoch_loss"].append(float(np.mean(losses)))
        history["epoch_seconds"].append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{history['epoch_loss'][-1]:.3f}")
    model.eval()
    return history


@torch.no_grad()
def greedy_sample(
    model: TorchCaptioner,
    features: np.ndarray,
    start_idx: int,
    end_idx: int,
    max_length: int = 11,
    batch_size: int = 1024,
) -> np.ndarray:
    """Greedy captions (N, max_length) int64 for features (N, F): from <START>, the most
    likely word at each step; once a caption has produced <END> (which it keeps), the
    rest of its row is the model's null_idx. <START> itself is not in the output."""
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length must be a positive int, got {max_length!r}")
    features = _as_tensors(model, features)
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(features), batch_size):
        out.append(_greedy(model, features[i : i + batch_size], start_idx, end_idx, max_length))
    model.train(was_training)
    if not out:
        return np.zeros((0, max_length), dtype=np.int64)
    return np.concatenate(out)


def _greedy(model, features, start_idx, end_idx, max_length) -> np.ndarray:
    n = len(features)
    words = torch.full((n, max_length), model.null_idx, dtype=torch.int64, device=features.device)
    state = model.initial_state(features)
    previous = torch.full((n, 1), start_idx, dtype=torch.int64, device=features.device)
    done = torch.zeros(n, dtype=torch.bool, device=features.device)
    for t in range(max_length):
        hidden, state = model.rnn(model.embed(previous), state)  # (n, 1, H)
        word = model.vocab(hidden[:, 0]).argmax(dim=1)  # (n,)
        words[:, t] = torch.where(done, model.null_idx, word)
        done |= word == end_idx
        if done.all():
            break
        previous = word[:, None]
    return words.cpu().numpy()
