"""bert/pretraining/classroom.py: the shared small model (trained once, cached, reused) and the Chinese vocabulary."""

from __future__ import annotations

import os

import pytest

from bert.pretraining import classroom
from bert.pretraining.classroom import INFO_FILE, gb2312_characters, recipe_key, small_model, with_chinese


def test_gb2312_characters_are_its_7445_assigned_codes_6763_of_them_hanzi() -> None:
    chars = gb2312_characters()
    assert len(chars) == len(set(chars)) == 7445                   # GB/T 2312-1980: 682 symbols + 6,763 hanzi
    hanzi = [c for c in chars if "\u4e00" <= c <= "\u9fff"]
    assert len(hanzi) == 6763
    assert all(len(c.encode("gb2312")) == 2 for c in chars)        # each one a two-byte code of the codec
    assert hanzi[0] == "啊" and "的" in hanzi and "龟" in hanzi      # row 16 starts with 啊 (0xB0A1)


def test_with_chinese_keeps_every_id_and_removes_every_unk_from_chinese_text() -> None:
    from tokenization import BertTokenizer

    english = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "model", "##s", "。", "的"]
    tokens = with_chinese(english)
    assert tokens[:len(english)] == english                         # the old ids are unchanged
    assert len(tokens) == len(set(tokens))                          # nothing added twice ("。", "的" were there)
    assert with_chinese({t: i for i, t in enumerate(english)}) == tokens   # a mapping gives the same list
    before = BertTokenizer(vocab=english).tokenize("预训练的语言模型，一词多义。")
    after = BertTokenizer(vocab=tokens).tokenize("预训练的语言模型，一词多义。")
    assert before.count("[UNK]") == 12 and "[UNK]" not in after
    assert after == list("预训练的语言模型，一词多义。")          # one token per character, BERT's convention


def test_with_chinese_adds_characters_in_the_form_the_tokenizer_produces() -> None:
    tokens = with_chinese(["[UNK]"], characters=["Ａ", "Ω", "é", "字"])
    assert tokens == ["[UNK]", "ａ", "ω", "e", "字"]                # lower-cased, accents stripped: reachable


def test_with_chinese_refuses_a_string() -> None:
    with pytest.raises(TypeError, match="vocab"):
        with_chinese("the")


def test_small_model_rejects_a_bad_cache_dir(tmp_path) -> None:
    with pytest.raises(TypeError, match="cache_dir"):
        small_model(cache_dir=3)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="cache_dir"):
        small_model(cache_dir=tmp_path / "file")


def test_a_cache_folder_counts_only_with_the_recipes_key_and_every_file(tmp_path) -> None:
    from tokenization.files import write_json

    key = recipe_key()
    assert classroom._valid(str(tmp_path), key) is None             # empty folder
    for name in ("config.json", "model.safetensors", "vocab.txt", "metrics.jsonl"):
        (tmp_path / name).write_text("{}")
    write_json(tmp_path / INFO_FILE, {"key": "another recipe"})
    assert classroom._valid(str(tmp_path), key) is None             # made by another recipe
    write_json(tmp_path / INFO_FILE, {"key": key})
    assert classroom._valid(str(tmp_path), key) == {"key": key}
    os.remove(tmp_path / "vocab.txt")
    assert classroom._valid(str(tmp_path), key) is None             # a file missing
    assert recipe_key({**classroom.RECIPE, "max_steps": 1}) != key  # the recipe decides the key


def test_default_cache_dir_is_the_environment_variable_else_runs_classroom_in_a_checkout(monkeypatch) -> None:
    monkeypatch.setenv("BERT_CLASSROOM_DIR", "/somewhere/else")
    assert classroom.default_cache_dir() == "/somewhere/else"
    monkeypatch.delenv("BERT_CLASSROOM_DIR")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert classroom.default_cache_dir() == os.path.join(repo, "runs", "classroom")


@pytest.mark.slow
def test_small_model_is_trained_once_then_reused_and_has_learned() -> None:
    """The first call anywhere (a notebook, this test) trains it; afterwards it is loaded. It learned: held-out MLM
    accuracy well above its start (0) and NSP above chance is not asked of a minute's training."""
    from bert import BertForMaskedLM
    from bert.training import read_metrics

    model, tokenizer, info = small_model()
    again_model, _, again = small_model()
    assert again["cached"] and again["path"] == info["path"] and again["key"] == recipe_key()
    assert not model.training and len(tokenizer.get_vocab()) == model.config.vocab_size
    assert info["steps"] == classroom.RECIPE["max_steps"]
    evals = read_metrics(info["metrics"], "eval")
    assert evals[0]["step"] == 0 and evals[-1]["step"] == info["steps"]
    assert evals[-1]["mlm_loss"] < evals[0]["mlm_loss"] - 1.0 and evals[-1]["mlm_acc"] > 0.05
    mlm = BertForMaskedLM.from_pretrained(info["path"])               # the folder loads as other classes too
    assert mlm.config.hidden_size == classroom.RECIPE["hidden_size"]

    # It uses the sentence: the top guess for [MASK] differs from sentence to sentence (a model that learned only
    # the word frequencies — the recipe before 40% masking — guessed "the" for all six).
    import torch
    sentences = ["Return the [MASK] of the file.", "If the argument is [MASK], raise a ValueError.",
                 "Return true if the object is a [MASK].", "This function is [MASK] by the module.",
                 "Close the [MASK] and release its resources.", "Create a new [MASK] object."]
    top = set()
    for text in sentences:
        enc = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            logits = model(**enc).prediction_logits[0]
        where = int((enc["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0])
        top.add(int(logits[where].argmax()))
    assert len(top) >= 3, tokenizer.convert_ids_to_tokens(sorted(top))


def test_train_recipe_refuses_a_folder_with_files_and_an_incomplete_recipe(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("a user's file")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        classroom.train_recipe(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "a user's file"
    with pytest.raises(ValueError, match=r"lacks \['batch_size'\]"):
        classroom.train_recipe(tmp_path / "new", {k: v for k, v in classroom.RECIPE.items() if k != "batch_size"})
