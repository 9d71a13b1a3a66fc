"""cs231n_lib.metrics: corpus BLEU against nltk's corpus_bleu (the independent reference),
on random corpora and on the edge cases, and exact match."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu

from cs231n_lib.metrics import brevity_penalty, corpus_bleu, exact_match, ngram_counts

WORDS = "a small large red green blue circle square left right of above below".split()


def nltk_bleu(list_of_references, hypotheses, max_n=4):
    with warnings.catch_warnings():  # nltk warns when an order has no match (and gives ~0)
        warnings.simplefilter("ignore")
        return nltk_corpus_bleu(list_of_references, hypotheses, weights=(1 / max_n,) * max_n)


def random_corpus(rng, size, vocab=6, lengths=(1, 12), num_refs=(1, 3)):
    words = WORDS[:vocab]

    def sentence():
        return [words[i] for i in rng.integers(vocab, size=rng.integers(*lengths))]

    refs = [[sentence() for _ in range(rng.integers(*num_refs))] for _ in range(size)]
    # Hypotheses: a reference edited a little, so that high orders sometimes match.
    hyps = []
    for references in refs:
        hyp = list(references[0])
        for _ in range(rng.integers(0, 3)):
            if hyp and rng.random() < 0.5:
                hyp.pop(rng.integers(len(hyp)))
            else:
                hyp.insert(rng.integers(len(hyp) + 1), words[rng.integers(vocab)])
        hyps.append(hyp)
    return refs, hyps


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_n", [1, 2, 4])
def test_corpus_bleu_matches_nltk_on_random_corpora(seed, max_n):
    refs, hyps = random_corpus(np.random.default_rng(seed), size=int(5 + 10 * seed))
    ours, theirs = corpus_bleu(refs, hyps, max_n), nltk_bleu(refs, hyps, max_n)
    assert ours == pytest.approx(theirs, abs=1e-12), (seed, max_n, ours, theirs)


def test_a_perfect_corpus_scores_one_and_no_4gram_match_scores_zero():
    refs = [
        ["a large red circle left of a small blue square".split()],
        ["a small red circle".split()],
    ]
    assert corpus_bleu(refs, [r[0] for r in refs]) == pytest.approx(1.0)
    # Every word right, no 4-gram in order: BLEU-4 is 0 without smoothing (nltk: ~1e-77).
    scrambled = [["a", "red", "large", "circle"], ["a", "circle", "small", "red"]]
    assert corpus_bleu(refs, scrambled) == 0.0
    assert nltk_bleu(refs, scrambled) < 1e-50
    assert corpus_bleu(refs, scrambled, max_n=1) == pytest.approx(nltk_bleu(refs, scrambled, 1))
    assert corpus_bleu([[["x"]]], [["y"]]) == 0.0 == nltk_bleu([[["x"]]], [["y"]])


@pytest.mark.parametrize(
    "hyps",
    [
        [["a"], ["a", "small"]],  # shorter than n: they count 1 in the denominator (nltk)
        [[], ["a", "small", "red", "circle"]],  # an empty hypothesis
        [["a", "small", "red"], ["a", "small", "red", "circle"]],
        [["a", "small", "red", "circle", "circle", "circle"], ["a", "small", "red", "circle"]],
    ],
)
def test_short_empty_and_long_hypotheses_match_nltk(hyps):
    refs = [["a small red circle".split()], ["a small red circle".split(), "a red circle".split()]]
    for max_n in (1, 2, 4):
        ours, theirs = corpus_bleu(refs, hyps, max_n), nltk_bleu(refs, hyps, max_n)
        assert ours == pytest.approx(theirs, abs=1e-12), (hyps, max_n, ours, theirs)


def test_clipping_and_the_brevity_penalty_by_hand():
    # "the the the" against "the cat": unigram precision is clipped to 1/3.
    assert corpus_bleu([[["the", "cat"]]], [["the", "the", "the"]], max_n=1) == pytest.approx(1 / 3)
    # One word of a four-word reference: p_1 = 1, BP = exp(1 - 4).
    assert corpus_bleu([[["a", "b", "c", "d"]]], [["a"]], max_n=1) == pytest.approx(np.exp(-3))
    # The closest reference length (the shorter on a tie) is r.
    assert corpus_bleu([[["a", "b"], ["a", "b", "c", "d"]]], [["a", "b", "c"]], 1) == 1.0
    assert brevity_penalty(5, 0) == 0.0 and brevity_penalty(3, 4) == 1.0
    assert ngram_counts(["a", "b", "a", "b"], 2) == {("a", "b"): 2, ("b", "a"): 1}


def test_exact_match():
    refs = ["a red circle".split(), "a large blue square".split(), "a cross".split()]
    hyps = ["a red circle".split(), "a large blue".split(), "a cross".split()]
    assert exact_match(refs, hyps) == pytest.approx(2 / 3)
    assert exact_match([[r] for r in refs], hyps) == pytest.approx(2 / 3)
    assert exact_match([["x".split(), "a cross".split()]], ["a cross".split()]) == 1.0


def test_bad_input_is_refused_clearly():
    with pytest.raises(TypeError, match="lists of tokens"):
        corpus_bleu([[["a"]]], ["a red circle"])
    with pytest.raises(TypeError, match="list of references"):
        corpus_bleu([["a", "red"]], [["a", "red"]])
    with pytest.raises(ValueError, match="2 references for 1 hypotheses"):
        exact_match([["a"], ["b"]], [["a"]])
    with pytest.raises(ValueError, match="max_n"):
        corpus_bleu([[["a"]]], [["a"]], max_n=0)
    with pytest.raises(ValueError, match="no hypotheses"):
        corpus_bleu([], [])
