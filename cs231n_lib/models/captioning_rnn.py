"""An image captioner: image features -> initial hidden state -> a recurrent language model.

Training (teacher forcing), for captions (N, T + 1) that start with <START>:

    h0     = features W_proj + b_proj                       # (N, H)
    words  = W_embed[captions[:, :-1]]                      # (N, T, W)
    h      = cell(words, h0, Wx, Wh, b)                     # (N, T, H), "rnn" | "lstm" | "gru"
    scores = h W_vocab + b_vocab                            # (N, T, V)
    loss   = temporal softmax loss(scores, captions[:, 1:], captions[:, 1:] != <NULL>)

so the word at step t is predicted from the words before it, <START> is never a target
and the <NULL> padding is never scored. Sampling feeds back the most likely word (greedy).
No regularization. `CaptioningSolverModel` gives the model the interface of the Solver.

The cell's layers are the package's unless `recurrent=(step_forward, forward, backward)`
names others with the same signatures (a notebook's own LSTM or GRU, say): then loss and
sample call those, and nothing else of the package's cell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from cs231n_lib.layers.rnn import (
    gru_backward,
    gru_forward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)

CELLS = {  # cell_type -> (column blocks of H in Wx, Wh, b; forward; backward)
    "rnn": (1, rnn_forward, rnn_backward),
    "lstm": (4, lstm_forward, lstm_backward),
    "gru": (3, gru_forward, gru_backward),
}
STEPS = {"rnn": rnn_step_forward, "lstm": lstm_step_forward, "gru": gru_step_forward}
SPECIAL_WORDS = ("<NULL>", "<START>", "<END>")


class CaptioningRNN:
    """A recurrent captioner over precomputed image features, trained on word indices.

    Inputs:
    - word_to_idx: vocabulary, word -> index in 0..V-1, with "<NULL>", "<START>", "<END>"
      (and usually "<UNK>").
    - input_dim: D, values per image feature vector.
    - wordvec_dim: W, values per word vector.
    - hidden_dim: H, hidden units of the recurrent cell.
    - cell_type: "rnn", "lstm" (blocks i, f, o, g) or "gru" (blocks z, r, candidate).
    - dtype: float type of the parameters (np.float64 for gradient checks).
    - seed: seed of the initial weights (np.random.default_rng).
    - recurrent: None for the package's layers of cell_type, or (step_forward, forward,
      backward) with the signatures of the package's for that cell type, e.g.
      (lstm_step_forward, lstm_forward, lstm_backward): the step computes
      (next_h, next_c, cache) for "lstm" and (next_h, cache) otherwise.
    params: W_embed (V, W), W_proj (D, H), b_proj (H,), Wx (W, kH), Wh (H, kH), b (kH,),
    W_vocab (H, V), b_vocab (V,), with k = 1, 4, 3 for rnn, lstm, gru.
    """

    def __init__(
        self,
        word_to_idx: Mapping[str, int],
        input_dim: int = 512,
        wordvec_dim: int = 128,
        hidden_dim: int = 128,
        cell_type: str = "rnn",
        dtype: type = np.float32,
        seed: int = 0,
        recurrent: tuple[Callable, Callable, Callable] | None = None,
    ):
        if cell_type not in CELLS:
            raise ValueError(f"unknown cell_type {cell_type!r}; choose one of {list(CELLS)}")
        if recurrent is None:
            recurrent = (STEPS[cell_type], *CELLS[cell_type][1:])
        elif len(recurrent) != 3 or not all(callable(f) for f in recurrent):
            raise TypeError(
                "recurrent must be three functions (step_forward, forward, backward), "
                f"got {recurrent!r}"
            )
        missing = [word for word in SPECIAL_WORDS if word not in word_to_idx]
        if missing:
            raise ValueError(f"word_to_idx lacks {missing}; it needs {list(SPECIAL_WORDS)}")
        vocab_size = len(word_to_idx)
        if sorted(word_to_idx.values()) != list(range(vocab_size)):
            raise ValueError(f"word_to_idx must map its {vocab_size} words onto 0..V-1")
        for name, dim in (("input_dim", input_dim), ("wordvec_dim", wordvec_dim)):
            if dim < 1:
                raise ValueError(f"{name} must be at least 1, got {dim}")
        if hidden_dim < 1:
            raise ValueError(f"hidden_dim must be at least 1, got {hidden_dim}")
        self.word_to_idx = dict(word_to_idx)
        self.idx_to_word = {i: w for w, i in self.word_to_idx.items()}
        self.cell_type, self.dtype = cell_type, dtype
        self._step_forward, self._cell_forward, self._cell_backward = recurrent
        self._null, self._start, self._end = (self.word_to_idx[w] for w in SPECIAL_WORDS)

        rng = np.random.default_rng(seed)
        width = CELLS[cell_type][0] * hidden_dim

        def normal_weights(shape, scale):
            return (scale * rng.standard_normal(shape)).astype(dtype)

        # Small word vectors; the other weights scaled by 1 / sqrt(fan-in) (Xavier-like).
        self.params = {
            "W_embed": normal_weights((vocab_size, wordvec_dim), 0.01),
            "W_proj": normal_weights((input_dim, hidden_dim), input_dim**-0.5),
            "b_proj": np.zeros(hidden_dim, dtype=dtype),
            "Wx": normal_weights((wordvec_dim, width), wordvec_dim**-0.5),
            "Wh": normal_weights((hidden_dim, width), hidden_dim**-0.5),
            "b": np.zeros(width, dtype=dtype),
            "W_vocab": normal_weights((hidden_dim, vocab_size), hidden_dim**-0.5),
            "b_vocab": np.zeros(vocab_size, dtype=dtype),
        }

    def _features(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=self.dtype)
        dim = self.params["W_proj"].shape[0]
        if features.ndim != 2 or features.shape[1] != dim:
            raise ValueError(f"features must be (N, {dim}), got shape {features.shape}")
        return features

    def loss(
        self, features: np.ndarray, captions: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and gradients of the model on a minibatch of captioned images.

        Inputs:
        - features: image features, shape (N, D).
        - captions: integer word indices, shape (N, T + 1), T >= 1; each row starts with
          <START>; <NULL> pads after <END>.
        Returns (loss, grads): the temporal softmax loss (summed over the scored words,
        divided by N) and grads[name] of the shape of params[name].
        """
        features = self._features(features)
        captions = np.asarray(captions)
        if captions.ndim != 2 or captions.shape[0] != features.shape[0] or captions.shape[1] < 2:
            raise ValueError(
                f"captions must be (N, T + 1) with N = {features.shape[0]} and T >= 1, "
                f"got shape {captions.shape}"
            )
        p = self.params
        cell_forward, cell_backward = self._cell_forward, self._cell_backward
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]  # (N, T) each
        mask = captions_out != self._null

        h0 = features @ p["W_proj"] + p["b_proj"]  # (N, H)
        words, embed_cache = word_embedding_forward(captions_in, p["W_embed"])  # (N, T, W)
        h, cell_cache = cell_forward(words, h0, p["Wx"], p["Wh"], p["b"])  # (N, T, H)
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        dwords, dh0, grads["Wx"], grads["Wh"], grads["b"] = cell_backward(dh, cell_cache)
        grads["W_embed"] = word_embedding_backward(dwords, embed_cache)
        grads["W_proj"] = features.T @ dh0
        grads["b_proj"] = dh0.sum(axis=0)
        grads = {name: grads[name].astype(self.dtype, copy=False) for name in p}
        return float(loss), grads

    def sample(self, features: np.ndarray, max_length: int = 30) -> np.ndarray:
        """Greedy captions: from <START>, feed back the highest-scoring word at each step.

        Inputs:
        - features: image features, shape (N, D).
        - max_length: T, words generated per image.
        Returns captions, integer array (N, max_length) WITHOUT the leading <START>:
        captions[n, t] is the word chosen at step t; a caption's first <END> is kept and
        every position after it is <NULL> (a caption without <END> fills all T words).
        """
        features = self._features(features)
        if isinstance(max_length, bool) or not isinstance(max_length, int | np.integer):
            raise TypeError(f"max_length must be an integer, got {max_length!r}")
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        p = self.params
        num = features.shape[0]
        h = features @ p["W_proj"] + p["b_proj"]  # (N, H)
        c = np.zeros_like(h)
        word = np.full(num, self._start)
        captions = np.full((num, max_length), self._null, dtype=np.int64)
        done = np.zeros(num, dtype=bool)
        for t in range(max_length):
            x = p["W_embed"][word]  # (N, W)
            if self.cell_type == "lstm":
                h, c, _ = self._step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = self._step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)  # (N,)
            captions[:, t] = np.where(done, self._null, word)
            done |= word == self._end
            if done.all():
                break
        return captions


class CaptioningSolverModel:
    """A CaptioningRNN with the Solver's model interface, for Solver(model, data, ...).

    data = {"X_train": features (N, D), "y_train": captions (N, T + 1), "X_val", "y_val"}.
    loss(X, y) is the captioner's; loss(X) (what the Solver's accuracy calls) returns
    one-hot "scores" (N, V, T + 1) of the greedy caption with its <START>, so that
    argmax(axis=1) == y measures the fraction of caption positions (padding included)
    that the greedy captions get right. params is the captioner's own dict.
    """

    def __init__(self, model: CaptioningRNN, max_length: int):
        self.model, self.max_length = model, max_length
        self.params = model.params

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        if y is not None:
            return self.model.loss(X, y)
        words = self.model.sample(X, self.max_length)  # (N, T)
        start = np.full((len(words), 1), self.model.word_to_idx["<START>"])
        tokens = np.concatenate([start, words], axis=1)  # (N, T + 1)
        vocab_size = len(self.model.word_to_idx)
        return np.moveaxis(np.eye(vocab_size)[tokens], -1, 1)  # (N, V, T + 1)
