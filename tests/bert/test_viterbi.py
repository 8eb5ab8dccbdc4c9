"""BIO-constrained Viterbi decoding (bert/viterbi.py) against brute force over every tag sequence."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bert.ner import entity_spans
from bert.viterbi import bio_rules, bio_viterbi

LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def valid(tags):
    """BIO by its definition: an I-X only right after B-X or I-X."""
    return all(not t.startswith("I-") or (i > 0 and tags[i - 1][2:] == t[2:] and tags[i - 1] != "O")
               for i, t in enumerate(tags))


def score(log_probs, tags):
    return sum(float(log_probs[t, LABELS.index(tag)]) for t, tag in enumerate(tags))


def test_rules_by_hand():
    opens, follows = bio_rules(["O", "B-LOC", "I-LOC", "I-PER"])
    assert opens.tolist() == [True, True, False, False]
    assert follows.tolist() == [[True, True, False, False],     # after O: O, B-LOC
                                [True, True, True, False],      # after B-LOC: also I-LOC
                                [True, True, True, False],      # after I-LOC: also I-LOC
                                [True, True, False, True]]      # after I-PER: also I-PER
    with pytest.raises(ValueError, match="labels: expected 'O', 'B-<type>' or 'I-<type>', got 'PER'"):
        bio_rules(["O", "PER"])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_viterbi_is_the_best_valid_sequence_by_brute_force(length, seed):
    log_probs = torch.randn(length, len(LABELS), generator=torch.Generator().manual_seed(seed)).log_softmax(-1)
    tags = bio_viterbi(log_probs, LABELS)
    assert len(tags) == length and valid(tags)
    best = max(score(log_probs, seq) for seq in itertools.product(LABELS, repeat=length) if valid(seq))
    assert math.isclose(score(log_probs, tags), best, rel_tol=0, abs_tol=1e-9)
    argmax = [LABELS[j] for j in log_probs.argmax(-1).tolist()]
    if valid(argmax):                                   # nothing to repair: the per-word arg-max itself
        assert tags == argmax


def test_a_stray_i_becomes_the_more_probable_repair():
    p = torch.tensor([[.1, .5, .1, .2, .1],        # B-LOC
                      [.1, .1, .25, .05, .5],      # arg-max I-PER: invalid after B-LOC
                      [.9, .025, .025, .025, .025]]).log()
    # the valid B-LOC I-LOC O (.5·.25·.9 = .1125) beats B-PER I-PER O (.2·.5·.9 = .09) and B-LOC O O (.5·.1·.9)
    assert bio_viterbi(p, LABELS) == ["B-LOC", "I-LOC", "O"]
    assert [s[0] for s in entity_spans(bio_viterbi(p, LABELS))] == ["LOC"]


def test_shapes_are_checked():
    assert bio_viterbi(torch.zeros(0, 5), LABELS) == []
    with pytest.raises(ValueError, match=r"log_probs: expected shape \(words, 5 labels\), got \(3, 4\)"):
        bio_viterbi(torch.zeros(3, 4), LABELS)
