"""Tests for tokenization/tokenizer.py and encoding.py: the BertTokenizer surface on a tiny vocabulary with its
special tokens at odd ids (so nothing may assume [PAD] = 0 or [CLS] = 101), worked out by hand; clear errors."""

from __future__ import annotations

import json
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenization import BatchEncoding, BertTokenizer
from tokenization.encoding import kept_lengths

TOKENS = ["hello", "[UNK]", "world", "[SEP]", "[PAD]", "[CLS]", "x", "##x", "[MASK]", "a", "b", "c", ",", ".",
          "!", "'", "s", "##s", "un", "##aff", "##able", "the", "cat"]
ID = {t: i for i, t in enumerate(TOKENS)}
CLS, SEP, PAD, UNK, MASK = ID["[CLS]"], ID["[SEP]"], ID["[PAD]"], ID["[UNK]"], ID["[MASK]"]


@pytest.fixture(params=["python", "fast"])
def tok(request):
    return BertTokenizer(vocab=TOKENS, backend=request.param)


def ids(*tokens):
    return [ID[t] for t in tokens]


def test_properties(tok):
    assert tok.vocab_size == len(tok) == 23 and tok.vocab == ID and tok.get_vocab() == ID
    assert (tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id, tok.mask_token_id) == \
        (CLS, SEP, PAD, UNK, MASK)
    assert tok.all_special_tokens == ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]   # Hugging Face's order
    assert tok.all_special_ids == [UNK, SEP, PAD, CLS, MASK]
    assert tok.convert_tokens_to_ids(["cat", "dog"]) == [ID["cat"], UNK] and tok.convert_tokens_to_ids("a") == 9
    assert tok.convert_ids_to_tokens([5, 0, 3]) == ["[CLS]", "hello", "[SEP]"]
    assert tok.convert_ids_to_tokens([5, 0, 3], skip_special_tokens=True) == ["hello"]


def test_one_text_and_a_batch(tok):
    enc = tok("Hello, world!")
    assert isinstance(enc, BatchEncoding)
    assert enc == {"input_ids": ids("[CLS]", "hello", ",", "world", "!", "[SEP]"), "token_type_ids": [0] * 6,
                   "attention_mask": [1] * 6}
    assert enc.input_ids is enc["input_ids"]
    batch = tok(["Hello, world!", "unaffable cats"])
    assert batch["input_ids"] == [ids("[CLS]", "hello", ",", "world", "!", "[SEP]"),
                                  ids("[CLS]", "un", "##aff", "##able", "cat", "##s", "[SEP]")]
    assert tok.encode("the cat") == ids("[CLS]", "the", "cat", "[SEP]")
    assert tok("the cat", add_special_tokens=False)["input_ids"] == ids("the", "cat")
    assert tok.tokenize("the dog's") == ["the", "[UNK]", "'", "s"]


def test_special_tokens_written_in_the_text(tok):
    assert tok.tokenize("x[MASK]x [SEP]") == ["x", "[MASK]", "x", "[SEP]"]
    assert tok.tokenize("[mask] [MASK ]") == ["[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]"]  # not special


def test_pair_layout_and_token_types(tok):
    enc = tok("the cat", "hello x")
    assert enc["input_ids"] == ids("[CLS]", "the", "cat", "[SEP]", "hello", "x", "[SEP]")
    assert enc["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    assert tok(["a", "b"], ["c", "a b"])["token_type_ids"] == [[0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1]]


@pytest.mark.parametrize("n1,n2,budget,expected", [
    (2, 4, 7, (2, 4)),        # fits: nothing cut
    (2, 8, 7, (2, 5)),        # the shorter fits in half the room: kept whole, the longer gets the rest
    (8, 2, 7, (5, 2)),
    (4, 4, 7, (3, 4)),        # both over half: 7 // 2 = 3 for the first, the extra token to the second
    (8, 4, 7, (4, 3)),        # ... to the longer one when the first is longer
    (8, 8, 6, (3, 3)),
    (0, 8, 7, (0, 7)),
    (5, 5, 0, (0, 0)),        # no room at all
    (9, None, 4, (4, None)),  # one sequence: keep the first `budget` tokens
])
def test_longest_first_by_hand(n1, n2, budget, expected):
    assert kept_lengths(n1, n2, budget, "longest_first") == expected


def test_only_first_and_only_second_by_hand():
    assert kept_lengths(10, 3, 8, "only_first") == (5, 3)
    assert kept_lengths(3, 10, 8, "only_second") == (3, 5)
    assert kept_lengths(10, None, 12, "only_second") == (10, None)   # nothing to cut, no second sequence needed
    with pytest.raises(ValueError, match="the first sequence has 4 tokens but 6 must go"):
        kept_lengths(4, 10, 8, "only_first")
    with pytest.raises(ValueError, match="needs a text_pair"):
        kept_lengths(10, None, 8, "only_second")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.one_of(st.none(), st.integers(0, 40)), st.integers(0, 50))
def test_longest_first_properties(n1, n2, budget):
    k1, k2 = kept_lengths(n1, n2, budget, "longest_first")
    assert 0 <= k1 <= n1 and (k2 is None) == (n2 is None) and (k2 is None or 0 <= k2 <= n2)
    assert k1 + (k2 or 0) == min(n1 + (n2 or 0), budget)          # uses all the room it may, never more
    if n2 is not None and k1 < n1 and k2 < n2:
        assert abs(k1 - k2) <= 1                                   # both cut: they end up (nearly) equal


def test_truncation_through_the_call(tok):
    a, b = "a b c a b c a b", "x x x"
    assert tok(a, b, truncation=True, max_length=9)["input_ids"] == ids(
        "[CLS]", "a", "b", "c", "[SEP]", "x", "x", "x", "[SEP]")
    assert tok(a, b, truncation="only_second", max_length=12)["input_ids"] == ids(
        "[CLS]", "a", "b", "c", "a", "b", "c", "a", "b", "[SEP]", "x", "[SEP]")
    assert tok(a, max_length=4)["input_ids"] == ids("[CLS]", "a", "b", "[SEP]")   # max_length alone truncates
    assert len(tok(a, padding=True, max_length=4)["input_ids"]) == 10             # ... but not with padding


def test_padding(tok):
    enc = tok(["a", "a b c"], padding=True)
    assert enc["input_ids"] == [ids("[CLS]", "a", "[SEP]", "[PAD]", "[PAD]"), ids("[CLS]", "a", "b", "c", "[SEP]")]
    assert enc["attention_mask"] == [[1, 1, 1, 0, 0], [1] * 5] and enc["token_type_ids"] == [[0] * 5] * 2
    enc = tok(["a", "a b c"], padding="max_length", max_length=6, return_offsets_mapping=True)
    assert [len(r) for r in enc["input_ids"]] == [6, 6] and enc["offset_mapping"][0][-1] == (0, 0)
    assert [len(r) for r in tok(["a", "a b c a b"], padding="max_length", max_length=4)["input_ids"]] == [4, 7]
    with pytest.raises(ValueError, match="needs max_length"):
        tok(["a"], padding="max_length")


def test_tensors_and_batch_encoding(tok):
    enc = tok(["a", "a b c"], ["x", "x"], padding=True, return_tensors="pt", return_offsets_mapping=True)
    assert enc.input_ids.shape == (2, 7) and enc.input_ids.dtype == torch.long
    assert enc["offset_mapping"].shape == (2, 7, 2)
    assert tok("a b", return_tensors="pt").input_ids.tolist() == [ids("[CLS]", "a", "b", "[SEP]")]
    moved = enc.to("cpu")
    assert isinstance(moved, BatchEncoding) and set(moved) == set(enc) and moved.attention_mask.device.type == "cpu"
    with pytest.raises(AttributeError, match="no field 'labels'"):
        enc.labels
    with pytest.raises(ValueError, match="padding=True"):
        tok(["a", "a b"], return_tensors="pt")
    no_types = tok("a", return_token_type_ids=False, return_attention_mask=False)
    assert set(no_types) == {"input_ids"}


def test_offsets(tok):
    enc = tok("Hello, unaffable!", "the x", return_offsets_mapping=True)
    assert enc["offset_mapping"] == [(0, 0), (0, 5), (5, 6), (7, 9), (9, 12), (12, 16), (16, 17), (0, 0),
                                     (0, 3), (4, 5), (0, 0)]


def test_decode(tok):
    seq = ids("[CLS]", "un", "##aff", "##able", ",", "the", "cat", "'", "s", "!", "[SEP]", "[PAD]")
    assert tok.decode(seq) == "[CLS] unaffable, the cat ' s! [SEP] [PAD]"
    assert tok.decode(seq, skip_special_tokens=True) == "unaffable, the cat ' s!"
    assert tok.decode(seq, skip_special_tokens=True, clean_up_tokenization_spaces=True) == "unaffable, the cat's!"
    assert tok.decode(torch.tensor(seq)) == tok.decode(seq)
    assert tok.decode(ids("##x", "x", "##x")) == "##x xx"   # a leading "##" piece stays as it is
    assert tok.batch_decode(torch.tensor([ids("a", "b"), ids("c", ".")])) == ["a b", "c."]


def test_get_special_tokens_mask(tok):
    seq = tok("a b", "c")["input_ids"]
    assert tok.get_special_tokens_mask(seq) == [1, 0, 0, 1, 0, 1]
    assert tok.build_inputs_with_special_tokens([9], [10]) == [CLS, 9, SEP, 10, SEP]


def test_bad_input_gives_clear_errors(tok, tmp_path):
    for bad, message in [(None, "text: expected a str or a list of str, got NoneType"),
                         (3, "got int"), (b"x", "got bytes"), (["a", 3], r"text\[1\]: expected a str, got int")]:
        with pytest.raises(TypeError, match=message):
            tok(bad)
    with pytest.raises(TypeError, match=r"text_pair: expected a list of 2 str \(one per text\), got list of length 1"):
        tok(["a", "b"], ["c"])
    with pytest.raises(TypeError, match="text_pair: expected a str"):
        tok("a", ["b"])
    with pytest.raises(TypeError, match="text: expected a str, got list"):
        tok.encode(["a"])
    with pytest.raises(ValueError, match=r"max_length=2 is too small: 3 special tokens"):
        tok("a", "b", truncation=True, max_length=2)
    with pytest.raises(ValueError, match=r"max_length=1 is too small: 2 special tokens"):
        tok("a", truncation=True, max_length=1)
    assert tok("a b", truncation=True, max_length=1, add_special_tokens=False)["input_ids"] == ids("a")
    for kwargs, message in [(dict(max_length=-1), "max_length: expected a non-negative int"),
                            (dict(padding="yes"), "padding: expected"),
                            (dict(truncation="sometimes"), "truncation: expected"),
                            (dict(return_tensors="tf"), "return_tensors: expected")]:
        with pytest.raises(ValueError, match=message):
            tok("a", **kwargs)
    with pytest.raises(ValueError, match="the first sequence has 3 tokens but 3 must go"):
        tok(["a", "a b c"], ["x", "x x x x"], truncation="only_first", max_length=7)
    with pytest.raises(ValueError, match="needs a text_pair"):
        tok("a b c", truncation="only_second", max_length=3)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([0, 23])
    with pytest.raises(TypeError, match="sequence of ints"):
        tok.decode(["a"])


def test_construction_errors(tmp_path):
    with pytest.raises(OSError, match="no such file"):
        BertTokenizer(tmp_path / "vocab.txt")
    with pytest.raises(OSError, match="not a directory"):
        BertTokenizer.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(OSError, match="no vocab.txt"):
        BertTokenizer.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="mask_token: '<mask>' is not in the vocabulary"):
        BertTokenizer(vocab=TOKENS, mask_token="<mask>")
    with pytest.raises(ValueError, match="exactly one of"):
        BertTokenizer()
    with pytest.raises(ValueError, match="backend"):
        BertTokenizer(vocab=TOKENS, backend="rust")
    with pytest.raises(ValueError, match="never_split"):
        BertTokenizer(vocab=TOKENS, never_split=["[FOO]"], backend="fast")


def test_save_and_load(tmp_path):
    tok = BertTokenizer(vocab=TOKENS, do_lower_case=False, model_max_length=7)
    written = tok.save_pretrained(tmp_path / "tok")
    assert sorted(os.path.basename(p) for p in written) == sorted(os.listdir(tmp_path / "tok")) == \
        ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]  # nothing temporary left
    again = BertTokenizer.from_pretrained(tmp_path / "tok")
    assert again.vocab == tok.vocab and again.do_lower_case is False and again.model_max_length == 7
    assert again("Hello a b c d e f", truncation=True)["input_ids"] == tok("Hello a b c d e f", max_length=7)[
        "input_ids"] == ids("[CLS]", "[UNK]", "a", "b", "c", "[UNK]", "[SEP]")
    assert json.loads((tmp_path / "tok" / "special_tokens_map.json").read_text())["cls_token"] == "[CLS]"


def test_saved_folder_loads_in_transformers(tmp_path, minilm_dir, hf_fast):
    transformers = pytest.importorskip("transformers")
    BertTokenizer.from_pretrained(minilm_dir).save_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    texts = ["Hello, World! Ünïcödé 中文 [MASK] unaffable", "ΟΔΟΣ x\u200by"]
    assert theirs(texts)["input_ids"] == hf_fast(texts)["input_ids"]


def test_from_pretrained_reads_the_config(minilm_dir):
    transformers = pytest.importorskip("transformers")
    tok = BertTokenizer.from_pretrained(minilm_dir)
    assert tok.do_lower_case is True and tok.model_max_length == 512 and tok.vocab_size == 30522
    cased = BertTokenizer.from_pretrained(minilm_dir, do_lower_case=False)   # keyword arguments override
    reference = transformers.BertTokenizerFast(vocab=str(minilm_dir / "vocab.txt"), do_lower_case=False)
    text = "Hello Café WORLD"
    assert cased.tokenize(text) == reference.tokenize(text) != tok.tokenize(text) == ["hello", "cafe", "world"]
