"""Tests for bert/pretraining/masking.py: 15% of the maskable tokens, 80% [MASK] / 10% random / 10% unchanged,
never a special token, at most max_predictions, whole words together, deterministic given the seed."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bert.pretraining.masking import IGNORE_INDEX, KEEP, MASK, RANDOM, MaskingSpec, mask_tokens, num_to_predict
from tests.bert.pretraining.helpers import CLS, MASK as MASK_ID, SEP, SPECIALS, binomial_ok, small_vocab_spec

V = 99


def _sequence(rng: random.Random, n: int) -> list[int]:
    """[CLS] a… [SEP] b… [SEP] with a few [PAD]/[UNK] inside: n tokens in all."""
    ids = [rng.randrange(5, V) for _ in range(n)]
    ids[0], ids[-1], ids[n // 2] = CLS, SEP, SEP
    if n > 10:
        ids[3] = 1                                              # an [UNK]: special, never chosen
    return ids


@pytest.fixture(scope="module")
def corpus():
    rng = random.Random(0)
    spec = small_vocab_spec(V, max_predictions=40)
    seqs = [_sequence(rng, rng.randint(8, 120)) for _ in range(1500)]
    return spec, seqs, [mask_tokens(s, spec, random.Random(i)) for i, s in enumerate(seqs)]


def test_number_predicted_is_15_percent_of_maskable_tokens_rounded_half_up(corpus):
    spec, seqs, masked = corpus
    for ids, m in zip(seqs, masked):
        n = sum(t not in SPECIALS for t in ids)
        expected = min(40, max(1, math.floor(0.15 * n + 0.5)))    # written out, not calling num_to_predict
        assert len(m.positions) == expected


def test_masked_share_is_15_percent_overall(corpus):
    _, seqs, masked = corpus
    n = sum(sum(t not in SPECIALS for t in ids) for ids in seqs)
    k = sum(len(m.positions) for m in masked)
    mean_len = n / len(seqs)
    # rounding each sequence's count moves the share by at most 0.5 / mean length; the cap of 40 never binds here
    assert abs(k / n - 0.15) <= 0.5 / mean_len


def test_80_10_10_within_binomial_tolerance(corpus):
    _, _, masked = corpus
    actions = [a for m in masked for a in m.actions]
    n = len(actions)
    assert n > 10_000
    assert binomial_ok(actions.count(MASK), n, 0.8)
    assert binomial_ok(actions.count(RANDOM), n, 0.1)
    assert binomial_ok(actions.count(KEEP), n, 0.1)


def test_inputs_and_labels_follow_the_actions_and_specials_are_never_chosen(corpus):
    spec, seqs, masked = corpus
    for ids, m in zip(seqs, masked):
        chosen = set(m.positions)
        for i, t in enumerate(ids):
            if i in chosen:
                assert t not in SPECIALS
                assert m.labels[i] == t                          # the label is always the original token
            else:
                assert m.labels[i] == IGNORE_INDEX and m.input_ids[i] == t
        for i, action in zip(m.positions, m.actions):
            if action == MASK:
                assert m.input_ids[i] == MASK_ID
            elif action == KEEP:
                assert m.input_ids[i] == ids[i]
            else:
                assert m.input_ids[i] not in SPECIALS           # a random *ordinary* token


def test_max_predictions_caps_the_count():
    spec = small_vocab_spec(V, max_predictions=3)
    ids = [CLS] + list(range(5, 95)) + [SEP]
    m = mask_tokens(ids, spec, random.Random(0))
    assert len(m.positions) == 3 and num_to_predict(90, spec) == 3


def test_a_sequence_without_maskable_tokens_is_left_alone():
    spec = small_vocab_spec(V)
    m = mask_tokens([CLS, SEP, SEP], spec, random.Random(0))
    assert m.positions == [] and m.labels == [IGNORE_INDEX] * 3 and m.input_ids == [CLS, SEP, SEP]


def test_whole_word_masking_takes_every_piece_of_a_word():
    spec = small_vocab_spec(V, whole_word=True, max_predictions=60)   # ids >= 50 are "##" pieces
    rng = random.Random(1)
    for seed in range(300):
        ids = [CLS] + [rng.choice([rng.randrange(5, 50), rng.randrange(50, V)]) for _ in range(40)] + [SEP]
        m = mask_tokens(ids, spec, random.Random(seed))
        chosen = set(m.positions)
        for i in range(1, len(ids) - 1):                   # a piece and the token before it: both or neither
            if ids[i] >= 50 and ids[i - 1] not in SPECIALS:
                assert (i in chosen) == (i - 1 in chosen)


def test_same_seed_same_masks():
    spec = small_vocab_spec(V)
    ids = _sequence(random.Random(3), 60)
    a = mask_tokens(ids, spec, random.Random(42))
    b = mask_tokens(ids, spec, random.Random(42))
    c = mask_tokens(ids, spec, random.Random(43))
    assert a == b and a != c


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, V - 1), min_size=1, max_size=80), st.integers(0, 2**32 - 1), st.booleans())
def test_any_sequence_masks_only_ordinary_tokens_and_labels_match(ids, seed, whole_word):
    spec = small_vocab_spec(V, whole_word=whole_word, max_predictions=200)
    m = mask_tokens(ids, spec, random.Random(seed))
    n = sum(t not in SPECIALS for t in ids)
    assert len(m.positions) == (0 if n == 0 else max(1, math.floor(0.15 * n + 0.5))) or whole_word
    assert len(m.positions) <= max(1, math.floor(0.15 * n + 0.5))
    assert all(ids[i] not in SPECIALS and m.labels[i] == ids[i] for i in m.positions)
    assert sum(label != IGNORE_INDEX for label in m.labels) == len(m.positions)


def test_spec_checks_its_settings_and_reads_a_tokenizer():
    with pytest.raises(ValueError, match="mask_prob"):
        small_vocab_spec(V, mask_prob=0.0)
    with pytest.raises(ValueError, match="max_predictions"):
        small_vocab_spec(V, max_predictions=0)
    with pytest.raises(ValueError, match="is_continuation"):
        MaskingSpec(mask_id=MASK_ID, special_ids=SPECIALS, vocab_size=V, whole_word=True)
    from tokenization import BertTokenizer
    tok = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "play", "##ing", "cat"])
    spec = MaskingSpec.from_tokenizer(tok)
    assert spec.mask_id == 4 and spec.special_ids == {0, 1, 2, 3, 4} and spec.random_ids == (5, 6, 7)
    assert spec.is_continuation == (False,) * 6 + (True, False)
