"""tokenization/chinese.py: a vocabulary in BERT-Chinese's convention (a token per CJK character, WordPiece for Latin
letters and digits, ASCII and full-width forms, GB2312 and frequent Big5 hanzi), and parity with transformers'
BertTokenizerFast on it."""

from __future__ import annotations

import pytest

from tokenization import BertTokenizer, load_vocab
from tokenization.chars import is_chinese_char
from tokenization.chinese import (ascii_and_full_width, big5_frequent_characters, cjk_share, gb2312_characters,
                                  train_chinese_vocab, unk_rate)

TEXTS = ["中共中央总书记、国家主席发表１９９８年新年讲话。", "今年经济增长百分之八，ＷＴＯ谈判取得进展！",
         "记者在北京采访了一位老农民。", "他说：“明年会更好。”"] * 20


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("zh") / "vocab.txt"
    train_chinese_vocab(TEXTS, vocab_size=200, output=str(path))
    return str(path)


def test_every_character_of_the_corpus_is_a_token_and_no_cjk_character_is_a_piece(vocab_file):
    vocab = load_vocab(vocab_file)
    assert {c.lower() for t in TEXTS for c in t} <= set(vocab)
    assert not [t for t in vocab if t.startswith("##") and any(map(is_chinese_char, t))]
    assert list(vocab)[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_ascii_and_full_width_are_in_and_common_hanzi_only_when_asked(vocab_file):
    vocab = load_vocab(vocab_file)
    assert {c.lower() for c in ascii_and_full_width()} <= set(vocab)
    assert "##2" in vocab and "##ｗ" in vocab                       # "2008", "ＷＴＯ" are not [UNK]
    assert "鑫" not in vocab and len(vocab) < 400
    common = train_chinese_vocab(TEXTS, vocab_size=200, common_hanzi=True)
    assert common[:len(vocab)] == list(vocab)                       # the same ids, then the common hanzi
    assert set(gb2312_characters()[-6763:]) <= set(common) and set(big5_frequent_characters()) <= set(common)


def test_the_character_tables_have_their_documented_sizes():
    assert len(big5_frequent_characters()) == 5401 and big5_frequent_characters()[0] == "一"
    assert len([c for c in ascii_and_full_width() if not c.startswith("##")]) == 2 * 94


def test_training_is_deterministic(vocab_file, tmp_path):
    assert train_chinese_vocab(TEXTS, vocab_size=200) == list(load_vocab(vocab_file))


def test_unk_rate_and_cjk_share(vocab_file):
    tok = BertTokenizer(vocab_file)
    assert unk_rate(tok, TEXTS) == 0.0
    assert unk_rate(tok, ["中😀"]) == 0.5 and unk_rate(tok, ["中鑫"]) == 0.5                          # the emoji is the one [UNK]
    assert unk_rate(tok, []) == 0.0
    assert cjk_share(["中文 ab"]) == 0.5 and cjk_share([""]) == 0.0


def test_parity_with_transformers_bert_tokenizer_fast(vocab_file):
    transformers = pytest.importorskip("transformers")
    import os
    theirs = transformers.BertTokenizerFast.from_pretrained(os.path.dirname(vocab_file))   # the folder's vocab.txt
    texts = ["１９９８年，ＷＴＯ和2008年的iPhone都很好😀！", "我爱北京天安门 hello world 123", "他說：這個價格還行。",
             "ＡＢＣ abc Ａｂｃ，。！？", "台湾的朋友说“谢谢”……"]
    for backend in ("python", "fast"):
        ours = BertTokenizer(vocab_file, backend=backend)
        for text in texts:
            assert ours.tokenize(text) == theirs.tokenize(text), (backend, text)
            assert ours(text)["input_ids"] == theirs(text)["input_ids"], (backend, text)
