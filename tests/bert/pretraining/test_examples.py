"""Tests for bert/pretraining/examples.py: the NSP pairs as google-research/bert builds them.

Token ids of the test corpus encode (document, sentence, position) (helpers.traceable_documents), so every
invariant is checked against where each token really came from."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bert.pretraining.examples import (IS_NEXT, NOT_NEXT, create_examples, create_examples_from_document, pack_pair,
                                       truncate_seq_pair)
from tests.bert.pretraining.helpers import CLS, SEP, binomial_ok, traceable_documents, where

DOCS = traceable_documents(n_docs=1500)
MAX_LEN = 48


@pytest.fixture(scope="module")
def examples():
    return create_examples(DOCS, MAX_LEN, seed=1, short_seq_prob=0.1, cls_id=CLS, sep_id=SEP)


def _split(ex):
    ids = list(ex.input_ids)
    first = ids.index(SEP)
    return ids[1:first], ids[first + 1:-1]


def test_layout_is_cls_a_sep_b_sep_with_token_types(examples):
    assert len(examples) > 1500
    for ex in examples:
        ids = ex.input_ids
        assert ids[0] == CLS and ids[-1] == SEP and ids.count(SEP) == 2 and ids.count(CLS) == 1
        a, b = _split(ex)
        assert len(a) >= 1 and len(b) >= 1
        assert ex.token_type_ids == (0,) * (len(a) + 2) + (1,) * (len(b) + 1)
        assert len(ids) <= MAX_LEN


def test_a_and_b_come_from_the_documents_the_example_names(examples):
    for ex in examples:
        a, b = _split(ex)
        assert {where(t)[0] for t in a} == {ex.a_document}
        assert {where(t)[0] for t in b} == {ex.b_document}


def test_random_next_is_never_from_the_same_document_and_is_next_truly_follows(examples):
    for ex in examples:
        a, b = _split(ex)
        if ex.next_sentence_label == NOT_NEXT:
            assert ex.b_document != ex.a_document
        else:
            assert ex.next_sentence_label == IS_NEXT and ex.b_document == ex.a_document
            # B starts in a later sentence of the same document (truncation may trim whole sentences, as google)
            a_sent = [where(t)[1] for t in a]
            b_sent = [where(t)[1] for t in b]
            assert a_sent == sorted(a_sent) and b_sent == sorted(b_sent)
            assert min(b_sent) > max(a_sent)
            # inside A, tokens are consecutive pieces of consecutive sentences of the document
            positions = [(where(t)[1], where(t)[2]) for t in a]
            assert positions == sorted(positions)


def test_is_next_and_not_next_are_fifty_fifty(examples):
    n = len(examples)
    k = sum(ex.next_sentence_label for ex in examples)
    assert binomial_ok(k, n, 0.5), (k, n)


def test_short_seq_prob_gives_shorter_examples():
    long_docs = traceable_documents(n_docs=200, seed=3, max_segments=12, max_len=30)
    full = create_examples(long_docs, 64, seed=0, short_seq_prob=0.0, cls_id=CLS, sep_id=SEP)
    short = create_examples(long_docs, 64, seed=0, short_seq_prob=1.0, cls_id=CLS, sep_id=SEP)
    mean = lambda xs: sum(len(x) for x in xs) / len(xs)
    assert mean(short) < 0.8 * mean(full)


def test_single_sentence_documents_give_no_a_but_serve_as_random_b():
    docs = [[[10_000 * (d + 1) + p for p in range(5)]] for d in range(50)]       # one sentence each
    docs[7] = [[80_000 + p for p in range(5)], [80_100 + p for p in range(5)]]   # document 7: two sentences
    rng = random.Random(0)
    assert create_examples_from_document(docs, 3, 32, 0.0, rng, CLS, SEP) == []
    examples = [ex for seed in range(40) for ex in create_examples(docs, 32, seed, 0.0, CLS, SEP)]
    assert examples and all(ex.a_document == 7 for ex in examples)
    assert {ex.next_sentence_label for ex in examples} == {IS_NEXT, NOT_NEXT}


def test_same_seed_same_examples_other_seed_other_examples():
    a = create_examples(DOCS[:60], MAX_LEN, seed=5, cls_id=CLS, sep_id=SEP)
    b = create_examples(DOCS[:60], MAX_LEN, seed=5, cls_id=CLS, sep_id=SEP)
    c = create_examples(DOCS[:60], MAX_LEN, seed=6, cls_id=CLS, sep_id=SEP)
    assert a == b and a != c


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="at least 2 documents"):
        create_examples(DOCS[:1], MAX_LEN, seed=0)
    with pytest.raises(ValueError, match="max_seq_length"):
        create_examples(DOCS, 4, seed=0)
    with pytest.raises(ValueError, match="short_seq_prob"):
        create_examples(DOCS, MAX_LEN, seed=0, short_seq_prob=1.5)
    with pytest.raises(ValueError, match="document 1 is empty"):
        create_examples([[[5]], []], MAX_LEN, seed=0)


def test_pack_pair():
    ids, types = pack_pair([7, 8], [9], cls_id=CLS, sep_id=SEP)
    assert ids == (CLS, 7, 8, SEP, 9, SEP) and types == (0, 0, 0, 0, 1, 1)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(2, 50), st.integers(0, 2**32 - 1))
def test_truncate_seq_pair_keeps_contiguous_pieces_and_trims_the_longer(la, lb, max_tokens, seed):
    a, b = list(range(la)), list(range(100, 100 + lb))
    truncate_seq_pair(a, b, max_tokens, random.Random(seed))
    assert len(a) + len(b) == min(la + lb, max_tokens)
    for kept, start, n in ((a, 0, la), (b, 100, lb)):       # what is left is one contiguous piece of the original
        assert all(start <= t < start + n for t in kept)
        if kept:
            assert kept == list(range(kept[0], kept[0] + len(kept)))
    if la + lb > max_tokens:                                # the longer is trimmed first: lengths end up balanced
        assert abs(len(a) - len(b)) <= 1 or min(len(a), len(b)) == min(la, lb)
        assert len(a) >= min(la, 1) and len(b) >= min(lb, 1)


def test_truncate_seq_pair_trims_both_ends():
    ends = {"front": 0, "back": 0}
    for seed in range(50):
        a, b = list(range(10)), [100]
        truncate_seq_pair(a, b, 6, random.Random(seed))
        ends["front"] += a[0] > 0
        ends["back"] += a[-1] < 9
    assert ends["front"] > 0 and ends["back"] > 0
    with pytest.raises(ValueError, match="max_num_tokens"):
        truncate_seq_pair([1], [2], 1, random.Random(0))
