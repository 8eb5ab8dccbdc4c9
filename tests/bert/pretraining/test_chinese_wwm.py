"""Chinese whole-word masking (masking.py with per-position word boundaries; data.word_continues): a word is masked
whole or not at all, the masked share of characters is p, the labels are the original characters, and character
masking is unchanged when whole-word masking is off (Cui et al. 2019 §3)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bert.pretraining.data import word_continues
from bert.pretraining.examples import create_examples
from bert.pretraining.masking import IGNORE_INDEX, MaskingSpec, mask_tokens, num_to_predict
from tests.bert.pretraining.helpers import CLS, MASK, SEP, SPECIALS

V = 60


def _spec(whole_word: bool, p: float = 0.15) -> MaskingSpec:
    # no id is a "##" piece: the word boundaries come only from word_continues, as for Chinese characters
    return MaskingSpec(mask_id=MASK, special_ids=SPECIALS, vocab_size=V, mask_prob=p, max_predictions=200,
                       whole_word=whole_word, is_continuation=(False,) * V)


words_strategy = st.lists(st.lists(st.integers(5, V - 1), min_size=1, max_size=4), min_size=1, max_size=40)


def _sentence(words: list[list[int]]) -> tuple[list[int], list[bool], list[int]]:
    """[CLS] + the words' characters + [SEP]: (ids, word_continues, the word index of each position or -1)."""
    ids, flags, word_of = [CLS], [False], [-1]
    for w, word in enumerate(words):
        ids += word
        flags += [False] + [True] * (len(word) - 1)
        word_of += [w] * len(word)
    return ids + [SEP], flags + [False], word_of + [-1]


@settings(max_examples=200, deadline=None)
@given(words=words_strategy, seed=st.integers(0, 10_000))
def test_a_word_is_masked_whole_or_not_at_all(words, seed):
    ids, flags, word_of = _sentence(words)
    m = mask_tokens(ids, _spec(True), random.Random(seed), flags)
    chosen = set(m.positions)
    for w in range(len(words)):
        positions = {i for i, x in enumerate(word_of) if x == w}
        assert positions <= chosen or not positions & chosen


@settings(max_examples=200, deadline=None)
@given(words=words_strategy, seed=st.integers(0, 10_000))
def test_labels_are_the_original_characters_at_the_chosen_positions_only(words, seed):
    ids, flags, _ = _sentence(words)
    m = mask_tokens(ids, _spec(True), random.Random(seed), flags)
    assert [i for i, y in enumerate(m.labels) if y != IGNORE_INDEX] == m.positions
    assert all(m.labels[i] == ids[i] for i in m.positions)
    assert all(m.input_ids[i] == ids[i] for i in range(len(ids)) if i not in m.positions)


@settings(max_examples=100, deadline=None)
@given(words=words_strategy, seed=st.integers(0, 10_000))
def test_character_masking_ignores_the_word_boundaries(words, seed):
    ids, flags, _ = _sentence(words)
    spec = _spec(False)
    assert mask_tokens(ids, spec, random.Random(seed), flags) == mask_tokens(ids, spec, random.Random(seed))


def test_the_masked_share_of_characters_is_p_within_the_words_that_overshoot():
    rng = random.Random(0)
    for p in (0.15, 0.4):
        n_chars = n_masked = 0
        for i in range(400):
            words = [[rng.randrange(5, V) for _ in range(rng.choice((1, 2, 2, 3, 4)))] for _ in range(rng.randint(20, 40))]
            ids, flags, _ = _sentence(words)
            m = mask_tokens(ids, _spec(True, p), random.Random(i), flags)
            n = len(ids) - 2
            n_chars += n
            n_masked += len(m.positions)
            assert len(m.positions) <= num_to_predict(n, _spec(True, p))   # a word that would overshoot is skipped
        assert abs(n_masked / n_chars - p) < 0.01, (p, n_masked / n_chars)


def test_word_continues_joins_the_characters_of_a_segmented_word_and_the_pieces_of_a_latin_one():
    text = "中共中央 总书记 、 １９９８年 hello, world"
    tokens = ["中", "共", "中", "央", "总", "书", "记", "、", "１９", "##９８", "年", "hello", ",", "world"]
    starts = [0, 1, 2, 3, 5, 6, 7, 9, 11, 13, 15, 17, 22, 24]
    offsets = [(s, s + len(t.removeprefix("##"))) for s, t in zip(starts, tokens)]
    assert [text[a:b] for a, b in offsets] == [t.removeprefix("##") for t in tokens]
    assert word_continues(text, tokens, offsets) == [False, True, True, True, False, True, True, False, False, True,
                                                     True, False, False, False]


def test_examples_carry_the_flags_and_keep_the_ids_of_plain_tokens():
    rng = random.Random(1)
    docs = [[[(rng.randrange(5, V), rng.random() < 0.5) for _ in range(rng.randint(3, 12))]
             for _ in range(rng.randint(2, 5))] for _ in range(30)]
    plain = [[[t for t, _ in seg] for seg in doc] for doc in docs]
    flagged, unflagged = create_examples(docs, 64, seed=3), create_examples(plain, 64, seed=3)
    assert [e.input_ids for e in flagged] == [e.input_ids for e in unflagged]
    assert all(e.word_continues is None for e in unflagged)
    for e in flagged:
        assert len(e.word_continues) == len(e.input_ids)
        assert all(not e.word_continues[i] for i, t in enumerate(e.input_ids) if t in (CLS, SEP))


def test_pretraining_on_chinese_text_with_whole_word_masking_uses_jieba_and_a_character_vocabulary(tmp_path):
    import pytest
    pytest.importorskip("jieba", reason="jieba is not installed: `make install` installs it")
    from bert.pretraining.cli import pretrain
    from bert.pretraining.corpus import load_documents
    from tokenization import load_vocab

    rng = random.Random(0)
    words = ["经济", "发展", "人民", "国家", "北京", "记者", "今天", "会议", "农民", "工厂", "学校"]
    docs = ["\n".join("".join(rng.choice(words) for _ in range(rng.randint(3, 8))) + "。" for _ in range(4))
            for _ in range(30)]
    corpus = tmp_path / "zh.txt"
    corpus.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    segmented = load_documents(str(corpus), segment_chinese=True)
    assert all(set(s.replace(" ", "").replace("。", "")) <= set("".join(words)) for d in segmented for s in d)
    assert {w for d in segmented for s in d for w in s.split()} <= set(words) | {"。"}   # jieba found the words
    summary = pretrain(["--corpus", str(corpus), "--whole-word-mask", "--preset", "tiny", "--seq-len", "32",
                        "--batch-size", "4", "--max-steps", "2", "--eval-examples", "8", "--no-progress", "--no-plot",
                        "--save-every", "0", "--out", str(tmp_path / "run")])
    assert summary["step"] == 2
    vocab = load_vocab(tmp_path / "run" / "vocab.txt")
    assert all(c in vocab for c in "经济发展") and "##2" in vocab                  # the Chinese convention


def test_character_masking_needs_no_continuation_table():
    """A spec built without `is_continuation` (whole_word off) masks as before, with or without word boundaries."""
    spec = MaskingSpec(mask_id=MASK, special_ids=SPECIALS, vocab_size=V)
    ids, flags, _ = _sentence([[5, 6], [7], [8, 9, 10]] * 5)
    assert mask_tokens(ids, spec, random.Random(1)) == mask_tokens(ids, spec, random.Random(1), flags)
    assert len(mask_tokens(ids, spec, random.Random(1)).positions) == num_to_predict(len(ids) - 2, spec)
