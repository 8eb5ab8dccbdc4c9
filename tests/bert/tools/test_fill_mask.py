"""bert/tools/fill_mask.py: the same results as transformers' fill-mask pipeline on the same weights (tokens, order,
scores, token_str, sequence; English and Chinese, one and two [MASK]s, a list of texts; BERT and DistilBERT), the
short form `top_k`, the model left as it was, clear errors, and the CLI (in-process, plus one --help subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bert import BertForMaskedLM, BertForPreTraining, BertModel
from bert.tools.fill_mask import fill_mask, main, top_k, width
from distil import DistilBertConfig, DistilBertForMaskedLM
from tests.bert.tiny import tiny_config
from tokenization import BertTokenizer

pytestmark = pytest.mark.usefixtures("one_thread")
transformers = pytest.importorskip("transformers")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "the", "cat", "sat", "on", "mat", "a", "dog", "is",
         "##s", "run", "##ning", "中", "国", "的", "首", "都", "是", "北", "京", "南", "。", "人", "民", "上", "海", "##京"]
TEXTS = ["the cat [MASK] on the mat.", "the [MASK] sat on the [MASK].", "中国的首都是[MASK]京。", "[MASK]国的首都是[MASK]京。"]
POSITIONS = 24
REPO = Path(__file__).resolve().parents[3]


def save(model, folder) -> str:
    """`model` saved with a tokenizer of VOCAB into `folder` (config.json, model.safetensors, vocab.txt, ...)."""
    os.makedirs(folder, exist_ok=True)
    vocab = os.path.join(folder, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as f:
        f.write("\n".join(VOCAB) + "\n")
    model.save_pretrained(folder)
    BertTokenizer(vocab).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, str]:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("fill_mask")
    bert = BertForMaskedLM(tiny_config(vocab_size=len(VOCAB), max_position_embeddings=POSITIONS, pad_token_id=0))
    distil = DistilBertForMaskedLM(DistilBertConfig(vocab_size=len(VOCAB), dim=32, n_layers=2, n_heads=4,
                                                    hidden_dim=37, max_position_embeddings=POSITIONS))
    pretraining = BertForPreTraining(tiny_config(vocab_size=len(VOCAB), max_position_embeddings=POSITIONS))
    encoder = BertModel(tiny_config(vocab_size=len(VOCAB), max_position_embeddings=POSITIONS))
    return {name: save(m, root / name) for name, m in [("bert", bert), ("distilbert", distil),
                                                      ("pretraining", pretraining), ("encoder", encoder)]}


@pytest.fixture(scope="module")
def ours(folders):
    return BertForMaskedLM.from_pretrained(folders["bert"]), BertTokenizer.from_pretrained(folders["bert"])


def pipeline(folder: str, cls):
    return transformers.pipeline("fill-mask", model=cls.from_pretrained(folder),
                                 tokenizer=transformers.BertTokenizerFast.from_pretrained(folder))


def assert_same(mine, theirs):
    """Same tokens, token_str and sequences in the same order, scores to 1e-5; lists of lists alike."""
    assert type(mine) is list and len(mine) == len(theirs)
    if theirs and isinstance(theirs[0], list):
        for m, t in zip(mine, theirs):
            assert_same(m, t)
        return
    assert [(r["token"], r["token_str"], r["sequence"]) for r in mine] == \
           [(r["token"], r["token_str"], r["sequence"]) for r in theirs]
    assert [r["score"] for r in mine] == pytest.approx([r["score"] for r in theirs], abs=1e-5)
    assert all(type(r["score"]) is float and type(r["token"]) is int and set(r) == set(theirs[0]) for r in mine)


@pytest.mark.parametrize("text", TEXTS)
def test_the_same_as_transformers_fill_mask_pipeline(folders, ours, text):
    theirs = pipeline(folders["bert"], transformers.BertForMaskedLM)
    mine = fill_mask(*ours, text, top_k=10)
    assert_same(mine, theirs(text, top_k=10))
    masks = text.count("[MASK]")
    assert len(mine) == (10 if masks == 1 else masks)


def test_a_list_of_texts_and_every_token_str_as_the_pipeline(folders, ours):
    theirs = pipeline(folders["bert"], transformers.BertForMaskedLM)
    assert_same(fill_mask(*ours, TEXTS, top_k=3), theirs(TEXTS, top_k=3))
    assert_same(fill_mask(*ours, TEXTS[2:3]), theirs(TEXTS[2:3]))           # a list of one: that text's result
    everything = fill_mask(*ours, TEXTS[0], top_k=len(VOCAB))               # the whole ranking: every token_str
    assert_same(everything, theirs(TEXTS[0], top_k=len(VOCAB)))
    assert sum(r["score"] for r in everything) == pytest.approx(1.0, abs=1e-5)   # p = softmax: sums to 1


def test_chinese_sequences_read_with_a_space_between_characters_as_transformers(ours):
    first = fill_mask(*ours, "中国的首都是[MASK]京。")[0]
    assert first["sequence"] == " ".join("中国的首都是" + first["token_str"] + "京。")
    several = fill_mask(*ours, "[MASK]国的首都是[MASK]京。")
    assert several[1][0]["sequence"].startswith("[CLS] [MASK] 国 的") and several[1][0]["sequence"].endswith("[SEP]")


def test_distilbert_as_the_pipeline(folders):
    model, tokenizer = DistilBertForMaskedLM.from_pretrained(folders["distilbert"]), BertTokenizer.from_pretrained(
        folders["distilbert"])
    theirs = pipeline(folders["distilbert"], transformers.DistilBertForMaskedLM)
    for text in (TEXTS[1], TEXTS[2]):
        assert_same(fill_mask(model, tokenizer, text, top_k=6), theirs(text, top_k=6))


def test_bert_for_pretraining_uses_its_mlm_logits_and_the_cli_class_loads_its_head(folders):
    tokenizer = BertTokenizer.from_pretrained(folders["pretraining"])
    both = [cls.from_pretrained(folders["pretraining"]) for cls in (BertForPreTraining, BertForMaskedLM)]
    assert fill_mask(both[0], tokenizer, TEXTS[3]) == fill_mask(both[1], tokenizer, TEXTS[3])


def test_the_model_is_left_as_it_was_and_top_k_is_the_short_form(ours):
    model, tokenizer = ours
    expected = fill_mask(model, tokenizer, TEXTS[0], top_k=3)
    model.train()
    model.masked_only = True
    try:
        assert fill_mask(model, tokenizer, TEXTS[0], top_k=3) == expected        # eval mode inside: no dropout
        assert model.training and model.masked_only
        assert top_k(model, tokenizer, TEXTS[1], 2) == [(tokenizer.convert_ids_to_tokens(r["token"]), r["score"])
                                                        for r in fill_mask(model, tokenizer, TEXTS[1], top_k=2)[0]]
    finally:
        model.eval()
        model.masked_only = False


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(text="the cat sat."), ValueError, ["text", "[MASK]", "the cat sat."]),
    (dict(text="the " * 30 + "[MASK]."), ValueError, ["34 tokens", f"{POSITIONS} positions"]),
    (dict(text=3), TypeError, ["text", "str", "int"]),
    (dict(text=TEXTS[0], top_k=0), ValueError, ["top_k", "from 1", "got 0"]),
    (dict(text=TEXTS[0], top_k=len(VOCAB) + 1), ValueError, ["top_k", f"vocabulary size {len(VOCAB)}"]),
    (dict(text=TEXTS[0], top_k=2.0), TypeError, ["top_k", "int", "float"]),
    (dict(text=TEXTS[0], top_k=True), TypeError, ["top_k", "int", "bool"]),
])
def test_clear_errors(ours, kwargs, error, words):
    with pytest.raises(error) as e:
        fill_mask(*ours, **kwargs)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_a_model_without_an_mlm_head_is_refused(folders, ours):
    with pytest.raises(TypeError, match=r"model: expected a model with an MLM head .*got BertModel"):
        fill_mask(BertModel.from_pretrained(folders["encoder"]), ours[1], TEXTS[0])


def test_the_cli_prints_each_masks_top_k_aligned(folders, capsys):
    results = main(["--model", folders["bert"], TEXTS[2], TEXTS[3], "--top-k", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == (1 + 1 + 3) + (1 + 2 * (1 + 3)) and lines[0] == TEXTS[2] and lines[5] == TEXTS[3]
    assert lines[1] == "  [MASK]:" and lines[6] == "  [MASK] 1 of 2:" and lines[10] == "  [MASK] 2 of 2:"
    for group, row in ((lines[2:5], results[0]), (lines[11:14], results[1][1])):
        assert [line.split()[1] for line in group] == [r["token_str"] for r in row]
        assert [float(line.split()[-1]) for line in group] == pytest.approx([r["score"] for r in row], abs=1e-4)
        assert len({width(line) for line in group}) == 1                  # the probabilities line up
    main(["--model", folders["distilbert"], TEXTS[0], "--top-k", "2"])     # model_type distilbert
    assert len(capsys.readouterr().out.splitlines()) == 4


@pytest.mark.parametrize("argv, words", [
    (["--model", "no/such/folder", TEXTS[0]], ["not a folder", "no/such/folder"]),
    (["--model", "{empty}", TEXTS[0]], ["has no config.json"]),
    (["--model", "{bert}", "the cat sat."], ["[MASK]"]),
    (["--model", "{bert}", TEXTS[0], "--top-k", "0"], ["--top-k", "got 0"]),
    (["--model", "{encoder}", TEXTS[0]], ["no MLM head"]),
])
def test_the_cli_exits_2_with_one_line(folders, tmp_path, capsys, argv, words):
    argv = [a.format(empty=tmp_path, **folders) for a in argv]
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and all(w in err for w in words), err


def test_the_cli_help_in_a_subprocess():
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "bert.tools.fill_mask", "--help"], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": path})
    assert done.returncode == 0 and "--model" in done.stdout and "--top-k" in done.stdout
