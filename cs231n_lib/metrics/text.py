"""Scores of generated text against references: corpus BLEU and exact match.

Tokens are lists of strings (a caption "a red circle" is ["a", "red", "circle"]; the
special tokens <START>, <END> and <NULL> are left out, as `decode_captions(...)`'s
`.split()` gives them).

BLEU (Papineni et al., 2002) scores a whole corpus at once:

    BLEU = BP * exp(sum_n w_n log p_n),  w_n = 1 / max_n,  n = 1 .. max_n

p_n is the modified n-gram precision summed over the corpus: each hypothesis n-gram counts
at most as often as it occurs in any ONE of that hypothesis's references (clipping),
divided by the number of hypothesis n-grams. BP = exp(1 - r / c) when the total
hypothesis length c is at most r, the sum over hypotheses of the reference length closest
to each (the shorter on a tie), and 1 otherwise. No smoothing: a corpus without a single
matching n-gram of some order scores 0. As nltk's `corpus_bleu` (the reference in the
tests) does, a hypothesis shorter than n counts 1 in the denominator of p_n, not 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

Tokens = Sequence[str]


def ngram_counts(tokens: Tokens, n: int) -> Counter:
    """How often each n-gram (a tuple of n tokens) occurs in `tokens`."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(
    list_of_references: Sequence[Sequence[Tokens]], hypotheses: Sequence[Tokens], max_n: int = 4
) -> float:
    """Corpus BLEU-`max_n` (uniform weights, no smoothing) of hypotheses, in [0, 1].

    Inputs:
    - list_of_references: for each hypothesis, a list of one or more references, each a
      list of str tokens.
    - hypotheses: N lists of str tokens.
    - max_n: the longest n-gram order, e.g. 4 for BLEU-4.
    """
    _check_corpus(list_of_references, hypotheses)
    if isinstance(max_n, bool) or not isinstance(max_n, int) or max_n < 1:
        raise ValueError(f"max_n must be a positive int, got {max_n!r}")
    matches, totals = [0] * max_n, [0] * max_n
    hyp_length, ref_length = 0, 0
    for references, hypothesis in zip(list_of_references, hypotheses, strict=True):
        if isinstance(references, str) or not references or isinstance(references[0], str):
            raise TypeError(
                "each hypothesis needs a list of references, each a list of tokens, e.g. "
                f"[reference.split()], got {references!r}"
            )
        for n in range(1, max_n + 1):
            counts = ngram_counts(hypothesis, n)
            most = Counter()
            for reference in references:
                most |= ngram_counts(reference, n)  # elementwise max over the references
            matches[n - 1] += sum(min(c, most[g]) for g, c in counts.items())
            totals[n - 1] += max(1, sum(counts.values()))
        hyp_length += len(hypothesis)
        ref_length += min((len(r) for r in references), key=lambda r: (abs(r - len(hypothesis)), r))
    if min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / max_n
    return brevity_penalty(ref_length, hyp_length) * math.exp(log_precision)


def brevity_penalty(ref_length: int, hyp_length: int) -> float:
    """1 if the hypotheses are longer than the references, else exp(1 - r / c) (0 if c = 0)."""
    if hyp_length > ref_length:
        return 1.0
    if hyp_length == 0:
        return 0.0
    return math.exp(1 - ref_length / hyp_length)


def exact_match(references: Sequence[Tokens], hypotheses: Sequence[Tokens]) -> float:
    """The share of hypotheses equal to their reference, token for token, in [0, 1].

    references: N token lists (one reference each; a list of references per hypothesis,
    as corpus_bleu takes, counts a match with any of them).
    """
    _check_corpus(references, hypotheses)
    hits = 0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        options = reference if reference and not isinstance(reference[0], str) else [reference]
        hits += any(list(option) == list(hypothesis) for option in options)
    return hits / len(hypotheses)


def _check_corpus(references: Sequence, hypotheses: Sequence) -> None:
    if isinstance(hypotheses, str) or any(isinstance(h, str) for h in hypotheses):
        raise TypeError("hypotheses must be lists of tokens (str), e.g. text.split(), not str")
    if len(references) != len(hypotheses):
        raise ValueError(f"got {len(references)} references for {len(hypotheses)} hypotheses")
    if not hypotheses:
        raise ValueError("got no hypotheses")
