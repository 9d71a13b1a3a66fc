"""Digit sequences: a seeded, procedural sequence-to-sequence task for 09's attention.

Two tasks on strings of decimal digits, each source of a length drawn uniformly from
[min_length, max_length], so accuracy can be read against the length:

- "reverse": the source "3 1 4 1" has the target "1 4 1 3" (the alignment of the answer
  to the question is the anti-diagonal);
- "add": the source "4 7 + 1 2 5" (two numbers, each of a length drawn on its own, no
  leading 0) has the target "1 7 2", the sum's digits, most significant first.

Token ids use one fixed vocabulary VOCAB (also CLASSES): "<NULL>" 0 (padding),
"<START>" 1, "<END>" 2, "+" 3 (the separator), then the digits "0".."9" as 4..13
(DIGIT0 + d). Sources X (N, S) hold the tokens, then <NULL>; targets y (N, T) hold
<START>, the tokens, <END>, then <NULL> (08's caption convention). S and T depend only on
the task and max_length, never on the draw. `lengths_<split>` (N,) counts each source's
tokens.

Every split has its own generator drawn from `seed`, and example i of a split depends
only on row i of that generator's uniform draws, so a longer split extends a shorter one
and the size of one split never changes another. The splits are independent draws: short
strings (all 10 of length 1, all 100 of length 2) occur in several splits; with the
default sizes 15% of the test sources also occur in training, and under 1% of those of 5
or more digits.

FROZEN (VERSION 1): 09's accuracy-against-length comparisons are measured on it; a
change must bump VERSION and update the fingerprints in tests/test_data_registry.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cs231n_lib.data.layout import check_sizes

DESCRIPTION = (
    "digit strings to reverse or add, with variable lengths (procedural, offline): the "
    "sequence-to-sequence task of 09's attention"
)
VERSION = 1
TASKS = ("reverse", "add")
SPECIAL = ("<NULL>", "<START>", "<END>", "+")
DIGITS = tuple(str(d) for d in range(10))
VOCAB = (*SPECIAL, *DIGITS)
CLASSES = VOCAB
NULL, START, END, SEPARATOR = range(4)
DIGIT0 = len(SPECIAL)  # token id of "0"; digit d is DIGIT0 + d
MAX_ADD_LENGTH = 18  # operands up to 18 digits: their sum stays exact in int64


def load(
    num_train: int | None = 10000,
    num_val: int = 1000,
    num_test: int = 1000,
    seed: int = 0,
    layout: str = "tokens",
    dtype: npt.DTypeLike = np.int64,
    task: str = "reverse",
    min_length: int = 1,
    max_length: int = 16,
) -> dict:
    """Draw the three splits of a digit-sequence task.

    Inputs:
    - num_train, num_val, num_test: examples per split (None: 10000 train).
    - seed: seed of the whole data set, so a split is the same on every machine.
    - layout: "tokens", the only layout: X holds token ids (N, S), not pixels.
    - dtype: an integer dtype of X and y (int64 by default, as nn.Embedding wants).
    - task: "reverse" or "add" (see the module's docstring).
    - min_length, max_length: the range of a source's digit count (of each operand for
      "add"), both included; max_length <= 18 for "add".

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test, lengths_train,
    lengths_val, lengths_test (source lengths in tokens), word_to_idx, idx_to_word
    (= list(VOCAB)) and task. X (N, S): sources padded with <NULL>, S = max_length
    ("reverse") or 2 max_length + 1 ("add"); y (N, T): <START> target <END> <NULL>...,
    T = max_length + 2 ("reverse") or max_length + 3 ("add").
    """
    if layout != "tokens":
        raise ValueError(f"layout={layout!r}: sequences have only layout='tokens' (ids (N, S))")
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.integer):
        raise TypeError(f"dtype must be an integer type such as np.int64, got {dtype}")
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not one of {TASKS}")
    num_train = check_sizes(num_train, num_val, num_test, default_train=10000)
    _check_lengths(task, min_length, max_length)
    data: dict = {}
    for index, (split, count) in enumerate(
        (("train", num_train), ("val", num_val), ("test", num_test))
    ):
        # One generator per split, so the size of one split never changes another.
        X, y, lengths = draw(
            count, np.random.default_rng([seed, index]), task, min_length, max_length
        )
        data[f"X_{split}"] = X.astype(dtype)
        data[f"y_{split}"] = y.astype(dtype)
        data[f"lengths_{split}"] = lengths
    data["word_to_idx"] = {word: i for i, word in enumerate(VOCAB)}
    data["idx_to_word"] = list(VOCAB)
    data["task"] = task
    return data


def _check_lengths(task: str, min_length, max_length) -> None:
    for name, value in (("min_length", min_length), ("max_length", max_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if min_length > max_length:
        raise ValueError(f"min_length={min_length} exceeds max_length={max_length}")
    if task == "add" and max_length > MAX_ADD_LENGTH:
        raise ValueError(f"task 'add' takes max_length <= {MAX_ADD_LENGTH}, got {max_length}")


def shapes(task: str, max_length: int) -> tuple[int, int]:
    """(S, T): the width of the sources X and of the targets y for a task and max_length."""
    if task == "reverse":
        return max_length, max_length + 2
    return 2 * max_length + 1, max_length + 3  # the sum has at most max_length + 1 digits


def draw(
    count: int, rng: np.random.Generator, task: str, min_length: int, max_length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` examples: sources (count, S), targets (count, T), source lengths (count,),
    int64. Example i uses row i of one (count, 2 + 2 max_length) uniform draw only:
    columns 0 and 1 pick the lengths, the next max_length the (first) digits, the last
    max_length the second operand's digits."""
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not one of {TASKS}")
    _check_lengths(task, min_length, max_length)
    u = rng.random((count, 2 + 2 * max_length))
    span = max_length - min_length + 1
    first_len = min_length + np.floor(u[:, 0] * span).astype(np.int64)  # (count,)
    first = np.floor(u[:, 2 : 2 + max_length] * 10).astype(np.int64)  # (count, max_length)
    S, T = shapes(task, max_length)
    X = np.full((count, S), NULL, dtype=np.int64)
    y = np.full((count, T), NULL, dtype=np.int64)
    y[:, 0] = START
    if task == "reverse":
        for i, (n, digits) in enumerate(zip(first_len, first, strict=True)):
            X[i, :n] = DIGIT0 + digits[:n]
            y[i, 1 : n + 1] = DIGIT0 + digits[:n][::-1]
            y[i, n + 1] = END
        return X, y, first_len
    second_len = min_length + np.floor(u[:, 1] * span).astype(np.int64)
    second = np.floor(u[:, 2 + max_length :] * 10).astype(np.int64)
    # No leading zero: a number of several digits starts with 1..9 (a column of its own).
    first[:, 0] = np.where(first_len > 1, 1 + np.floor(u[:, 2] * 9), first[:, 0])
    second[:, 0] = np.where(second_len > 1, 1 + np.floor(u[:, 2 + max_length] * 9), second[:, 0])
    lengths = first_len + 1 + second_len
    for i in range(count):
        a, b = first[i, : first_len[i]], second[i, : second_len[i]]
        tokens = [*(DIGIT0 + a), SEPARATOR, *(DIGIT0 + b)]
        X[i, : len(tokens)] = tokens
        total = [DIGIT0 + int(c) for c in str(_number(a) + _number(b))]
        y[i, 1 : len(total) + 1] = total
        y[i, len(total) + 1] = END
    return X, y, lengths


def _number(digits: np.ndarray) -> int:
    """The integer whose decimal digits, most significant first, are `digits`."""
    return int("".join(map(str, digits)))


def decode(ids: np.ndarray, idx_to_word: Sequence[str] = VOCAB) -> list[str] | str:
    """Token ids as text, without <NULL>, <START> and <END>: [4, 5, 3, 6] -> "01+2".

    A 1-d array gives one string, a 2-d array (N, L) a list of N strings; decoding stops
    at the first <END>.
    """
    ids = np.asarray(ids)
    if ids.ndim == 2:
        return [decode(row, idx_to_word) for row in ids]
    if ids.ndim != 1:
        raise ValueError(f"ids must be (L,) or (N, L), got shape {ids.shape}")
    words = []
    for i in ids.tolist():
        if i == END:
            break
        if i not in (NULL, START):
            words.append(idx_to_word[i])
    return "".join(words)
