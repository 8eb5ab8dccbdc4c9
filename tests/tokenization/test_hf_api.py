"""The tokenizer's Hugging Face surface (issue 10, item 2), each checked against transformers on MiniLM's real
30,522-token vocabulary: DistilBertTokenizer (no token_type_ids) beside BertTokenizer (which keeps them, also from
a DistilBERT folder); return_tensors "pt" / "np" / None; folders holding only tokenizer.json + tokenizer_config.json
(what transformers 5 saves), whose vocabulary and normaliser settings are read from tokenizer.json (checked
against the `tokenizers` library reading the same file); and save_pretrained folders that both libraries load."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tokenization.test_parity import ENGLISH, HARD
from tokenization import BertTokenizer, DistilBertTokenizer

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
pytestmark = pytest.mark.filterwarnings("ignore:`max_length` is ignored:UserWarning")

TEXTS = ENGLISH[:4] + ["Héllo, WORLD! Café 中文 [MASK] unaffable", "ΟΔΟΣ x\u200by \x01ctrl"]
PAIRS = (TEXTS[:3], TEXTS[3:])


@pytest.fixture(scope="session")
def hf_saved(minilm_dir, tmp_path_factory):
    """MiniLM's tokenizer saved by transformers' own BertTokenizer: tokenizer.json + tokenizer_config.json only."""
    folder = tmp_path_factory.mktemp("hf_saved")
    transformers.BertTokenizer.from_pretrained(str(minilm_dir)).save_pretrained(str(folder))
    return folder


def encodings_equal(ours, theirs):
    """Same keys, same values, same container types (list / torch.Tensor / np.ndarray) and dtypes and shapes."""
    assert list(ours) == list(theirs)
    for key in theirs:
        a, b = ours[key], theirs[key]
        assert type(a) is type(b), key
        if isinstance(b, (torch.Tensor, np.ndarray)):
            assert a.dtype == b.dtype and a.shape == b.shape and (a == b).all(), key
        else:
            assert a == b, key


# ---------------------------------------------------------------- DistilBertTokenizer and model_input_names
def test_distilbert_tokenizer_returns_what_transformers_distilbert_tokenizer_returns(minilm_dir):
    ours, theirs = DistilBertTokenizer.from_pretrained(minilm_dir), transformers.DistilBertTokenizer.from_pretrained(
        str(minilm_dir))
    assert ours.model_input_names == theirs.model_input_names == ["input_ids", "attention_mask"]
    for kwargs in ({}, dict(padding=True, return_tensors="pt"), dict(return_token_type_ids=True),
                   dict(return_attention_mask=False, padding=True, return_tensors="np")):
        encodings_equal(ours(TEXTS[0], **kwargs), theirs(TEXTS[0], **kwargs))
        encodings_equal(ours(TEXTS, **kwargs), theirs(TEXTS, **kwargs))
        encodings_equal(ours(*PAIRS, **kwargs), theirs(*PAIRS, **kwargs))
    assert "token_type_ids" not in ours(TEXTS) and isinstance(ours, BertTokenizer)


def test_bert_tokenizer_keeps_token_types_also_from_a_distilbert_folder(minilm_dir, tmp_path):
    """Article 000 loads BertTokenizer from a DistilBERT checkpoint: transformers gives token_type_ids, so do we."""
    transformers.DistilBertTokenizer.from_pretrained(str(minilm_dir)).save_pretrained(str(tmp_path))
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["tokenizer_class"] == "DistilBertTokenizer"
    ours, theirs = BertTokenizer.from_pretrained(tmp_path), transformers.BertTokenizer.from_pretrained(str(tmp_path))
    assert ours.model_input_names == theirs.model_input_names == ["input_ids", "token_type_ids", "attention_mask"]
    encodings_equal(ours(*PAIRS, padding=True, return_tensors="pt"), theirs(*PAIRS, padding=True, return_tensors="pt"))
    encodings_equal(ours(TEXTS, return_token_type_ids=False), theirs(TEXTS, return_token_type_ids=False))


# ---------------------------------------------------------------- return_tensors
@pytest.mark.parametrize("return_tensors", [None, "pt", "np"])
def test_return_tensors_types_dtypes_shapes_and_values_match_transformers(ours, hf_fast, return_tensors):
    kw = dict(return_tensors=return_tensors, return_offsets_mapping=True)
    encodings_equal(ours(TEXTS[0], **kw), hf_fast(TEXTS[0], **kw))                      # one text: (1, T)
    encodings_equal(ours(TEXTS, padding=True, **kw), hf_fast(TEXTS, padding=True, **kw))
    encodings_equal(ours(*PAIRS, padding="max_length", max_length=24, truncation=True, **kw),
                    hf_fast(*PAIRS, padding="max_length", max_length=24, truncation=True, **kw))


def test_other_return_tensors_are_refused_by_name(ours):
    for value in ("tf", "jax", "torch", True):
        with pytest.raises(ValueError, match=re.escape(f"return_tensors: expected None, 'pt' (torch) or 'np' "
                                                       f"(numpy), got {value!r}")):
            ours("a", return_tensors=value)
    with pytest.raises(ValueError, match="return_tensors='np' needs sequences of one length"):
        ours(["a", "a b"], return_tensors="np")


# ---------------------------------------------------------------- tokenizer.json-only folders (transformers 5)
def test_folder_saved_by_transformers_5_has_no_vocab_txt_and_loads_with_the_same_ids(hf_saved, hf_fast):
    assert sorted(p.name for p in hf_saved.iterdir()) == ["tokenizer.json", "tokenizer_config.json"]
    texts = HARD + ENGLISH
    for backend in ("python", "fast"):
        tok = BertTokenizer.from_pretrained(hf_saved, backend=backend)
        assert tok.vocab == hf_fast.get_vocab() and tok.model_max_length == 512 and tok.do_lower_case is True
        ref = hf_fast(texts, padding=True)
        encodings_equal(tok(texts, padding=True), ref)


def _with_normalizer(src, dst, config_keys_removed=(), **normalizer):
    """Copy a tokenizer.json-only folder, changing tokenizer.json's normaliser and dropping config keys."""
    shutil.copytree(src, dst)
    data = json.loads((dst / "tokenizer.json").read_text(encoding="utf-8"))
    data["normalizer"].update(normalizer)
    (dst / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    config = json.loads((dst / "tokenizer_config.json").read_text(encoding="utf-8"))
    for key in config_keys_removed:
        config.pop(key, None)
    (dst / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return dst


NORMALISER_KEYS = ("do_lower_case", "strip_accents", "tokenize_chinese_chars")


@pytest.mark.parametrize("normalizer", [dict(lowercase=False), dict(lowercase=False, strip_accents=True),
                                        dict(lowercase=True, strip_accents=False), dict(handle_chinese_chars=False)])
def test_normaliser_settings_are_read_from_tokenizer_json_as_the_tokenizers_library_reads_them(
        hf_saved, tmp_path, normalizer):
    """A tokenizer.json whose config gives no normaliser keys: the `tokenizers` library reading the same file is the
    reference (transformers 5.24 would ignore the file's normaliser and lower-case anyway: pretrained.py)."""
    folder = _with_normalizer(hf_saved, tmp_path / "f", NORMALISER_KEYS, **normalizer)
    library = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    library.no_padding()
    library.no_truncation()                    # transformers saved its last call's padding and truncation there
    ours = BertTokenizer.from_pretrained(folder)
    expected = (normalizer.get("lowercase", True), normalizer.get("strip_accents"),
                normalizer.get("handle_chinese_chars", True))
    assert (ours.do_lower_case, ours.strip_accents, ours.tokenize_chinese_chars) == expected
    texts = HARD + ENGLISH
    assert [e.ids for e in library.encode_batch(texts)] == ours(texts)["input_ids"]


def test_tokenizer_config_keys_win_over_tokenizer_json_as_in_transformers(hf_saved, tmp_path):
    folder = _with_normalizer(hf_saved, tmp_path / "f", lowercase=False, handle_chinese_chars=False)  # config: True
    ours, theirs = BertTokenizer.from_pretrained(folder), transformers.BertTokenizer.from_pretrained(str(folder))
    assert ours.do_lower_case is True and ours.tokenize_chinese_chars is True
    assert ours(HARD)["input_ids"] == theirs(HARD)["input_ids"]
    assert BertTokenizer.from_pretrained(folder, do_lower_case=False).do_lower_case is False   # keywords win


@pytest.mark.parametrize("change, key, expected", [
    (lambda d: d["normalizer"].update(clean_text=False), "normalizer.clean_text", "expected true"),
    (lambda d: d["model"].update(type="BPE"), "model", 'expected {"type": "WordPiece", ...}'),
    (lambda d: d.update(normalizer=None), "normalizer", 'expected {"type": "BertNormalizer", ...}'),
    (lambda d: d.update(pre_tokenizer={"type": "Whitespace"}), "pre_tokenizer", "got type 'Whitespace'"),
    (lambda d: d["model"].update(continuing_subword_prefix="@@"), "model.continuing_subword_prefix", "'##'"),
    (lambda d: d["model"]["vocab"].update({"extra": 5}), "model.vocab", "each once"),
    (lambda d: d["added_tokens"].append({"id": 7592, "content": "hello", "special": False}), "added_tokens[5]",
     "expected a special token"),
    (lambda d: d["normalizer"].update(lowercase="yes"), "normalizer.lowercase", "expected a bool, got str 'yes'"),
    (lambda d: d["model"].update(unk_token=None), "model.unk_token", "expected a str, got NoneType None"),
    (lambda d: d["model"].update(max_input_chars_per_word=0), "model.max_input_chars_per_word", "expected an int >= 1"),
])
def test_a_tokenizer_json_this_package_would_read_differently_is_refused_by_file_and_key(
        hf_saved, tmp_path, change, key, expected):
    folder = shutil.copytree(hf_saved, tmp_path / "f")
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    change(data)
    (folder / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{str(folder / 'tokenizer.json')!r}: key '{key}': ") + ".*"
                       + re.escape(expected)):
        BertTokenizer.from_pretrained(folder)


def test_vocab_txt_and_tokenizer_json_must_agree(hf_saved, minilm_dir, tmp_path):
    folder = shutil.copytree(hf_saved, tmp_path / "f")
    tokens = (minilm_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    assert BertTokenizer.from_pretrained(folder).vocab_size == 30522                      # the same: fine
    tokens[7592], tokens[2088] = tokens[2088], tokens[7592]
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"hold different vocabularies \(id 2088: 'hello' vs 'world'\)"):
        BertTokenizer.from_pretrained(folder)
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.txt").unlink()
    with pytest.raises(OSError, match="no vocab.txt or tokenizer.json"):
        BertTokenizer.from_pretrained(folder)


# ---------------------------------------------------------------- save_pretrained: both libraries load it
@pytest.mark.parametrize("cls, hf_name", [(BertTokenizer, "BertTokenizer"), (DistilBertTokenizer,
                                                                           "DistilBertTokenizer")])
def test_saved_folder_loads_in_transformers_and_tokenizers_with_the_same_ids(minilm_dir, tmp_path, cls, hf_name):
    ours = cls.from_pretrained(minilm_dir)
    ours.save_pretrained(tmp_path)
    texts = HARD + ENGLISH
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    assert type(theirs).__name__ == hf_name and theirs.model_input_names == ours.model_input_names
    encodings_equal(ours(texts, padding=True, return_tensors="np"), theirs(texts, padding=True, return_tensors="np"))
    library = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert [e.ids for e in library.encode_batch(list(zip(*PAIRS)))] == ours(*PAIRS)["input_ids"]
    ids = ours("Héllo, WORLD! It's [MASK] unaffable 中文")["input_ids"]
    assert theirs.decode(ids) == ours.decode(ids) and theirs.decode(ids, skip_special_tokens=True) == ours.decode(
        ids, skip_special_tokens=True)
    again = cls.from_pretrained(tmp_path)
    assert type(again) is cls and again.vocab == ours.vocab and again(texts) == ours(texts)


def test_a_cased_tokenizer_round_trips_through_both_libraries(minilm_dir, tmp_path):
    cased = BertTokenizer.from_pretrained(minilm_dir, do_lower_case=False, strip_accents=True,
                                          tokenize_chinese_chars=False)
    cased.save_pretrained(tmp_path / "ours")
    theirs = transformers.BertTokenizer.from_pretrained(str(tmp_path / "ours"))
    assert theirs(HARD)["input_ids"] == cased(HARD)["input_ids"] != BertTokenizer.from_pretrained(minilm_dir)(
        HARD)["input_ids"]
    theirs.save_pretrained(str(tmp_path / "theirs"))                    # transformers 5: tokenizer.json only
    back = BertTokenizer.from_pretrained(tmp_path / "theirs")
    assert (back.do_lower_case, back.strip_accents, back.tokenize_chinese_chars) == (False, True, False)
    assert back(HARD)["input_ids"] == cased(HARD)["input_ids"]


def test_saving_replaces_a_stale_tokenizer_json(hf_saved, tmp_path):
    folder = shutil.copytree(hf_saved, tmp_path / "f")
    small = BertTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"])
    small.save_pretrained(folder)
    assert BertTokenizer.from_pretrained(folder).vocab == small.vocab
    assert transformers.BertTokenizer.from_pretrained(str(folder))("hello world")["input_ids"] == [2, 5, 1, 3]


WORDS = ["the", "cat", "sat", "##s", "##at", "c", "##a", "##t", "s", "a", "café", "caf", "##é", "!", ",", "中", "文",
         "Cat", "##S", "e"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=12, unique=True),
       lower=st.booleans(), accents=st.sampled_from([None, True, False]), chinese=st.booleans(),
       texts=st.lists(st.text(alphabet="thecasÉéCAT中文!, \t", max_size=24), min_size=1, max_size=4))
def test_any_saved_vocabulary_and_options_read_the_same_in_all_three_libraries(
        tmp_path_factory, words, lower, accents, chinese, texts):
    """Property: for any vocabulary and normaliser options, the folder save_pretrained writes gives our ids in the
    `tokenizers` library (reading tokenizer.json), in transformers, and here again."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    ours = BertTokenizer(vocab=vocab, do_lower_case=lower, strip_accents=accents, tokenize_chinese_chars=chinese)
    folder = tmp_path_factory.mktemp("any")
    ours.save_pretrained(folder)
    expected = ours(texts)["input_ids"]
    library = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert [e.ids for e in library.encode_batch(texts)] == expected
    assert transformers.BertTokenizer.from_pretrained(str(folder))(texts)["input_ids"] == expected
    assert BertTokenizer.from_pretrained(folder)(texts)["input_ids"] == expected
