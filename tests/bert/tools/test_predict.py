"""bert.tools.predict: one text's label and probability, or its entities; Chinese input at the edges; the CLI.
Tiny untrained models (the numbers mean nothing, the shapes and the rules do); sentences written for these tests."""

import json
import os
import subprocess
import sys

import pytest
import torch

from bert import BertConfig, BertForSequenceClassification, BertForTokenClassification
from bert.tools.predict import classify, label_names, load, main, predict, tag
from tokenization import BertTokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

CHARS = "这家酒店的服务很好房间也干净太差了李明在北京上海参加复旦大学会议，。！？"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(CHARS), *"abcdefghijklmnopqrstuvwxyz",
         *[f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"], ",", ".", "!", "?"]   # letters as the Chinese vocab has them
TAGS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def config(num_labels: int, positions: int = 16) -> BertConfig:
    return BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=20, max_position_embeddings=positions, num_labels=num_labels)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("predict")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    out = {}
    classifier = BertForSequenceClassification(config(2))
    classifier.config.id2label = {0: "negative", 1: "positive"}
    tagger = BertForTokenClassification(config(len(TAGS)))
    for name, model in (("classifier", classifier), ("tagger", tagger)):
        folder = root / name
        model.save_pretrained(str(folder))
        BertTokenizer(str(vocab)).save_pretrained(str(folder))
        out[name] = str(folder)
    (root / "tagger" / "labels.json").write_text(json.dumps(TAGS), encoding="utf-8")
    return out


def test_classify_gives_the_softmax_of_the_logits(folders):
    model, tok, labels = load(folders["classifier"])
    assert labels == ["negative", "positive"] and not model.training
    r = classify(model, tok, "这家酒店的服务很好。")
    with torch.no_grad():
        z = model(**tok("这家酒店的服务很好。", return_tensors="pt")).logits[0]
    p = torch.exp(z) / torch.exp(z).sum()                                    # p_k = e^z_k / Σ_j e^z_j
    assert r["probabilities"] == pytest.approx(dict(zip(labels, p.tolist())), abs=1e-6)
    assert r["label"] == labels[int(p.argmax())] and r["score"] == pytest.approx(float(p.max()), abs=1e-6)
    assert r["truncated"] == 0 and r["unknown"] == 0 and r["chinese"] == pytest.approx(9 / 10)
    assert predict(model, tok, "太差了").keys() == r.keys()


def test_tag_gives_entities_with_character_offsets(folders):
    model, tok, labels = load(folders["tagger"])
    assert labels == TAGS
    r = tag(model, tok, "李明在北京", labels)
    assert len(r["tags"]) == 5 and set(r["tags"]) <= set(TAGS)
    for e in r["entities"]:
        assert "李明在北京"[e["start"]:e["end"]] == e["text"] and e["type"] in ("LOC", "PER")
    assert predict(model, tok, "李明在北京", labels) == r
    with pytest.raises(ValueError, match="labels .*got 'LABEL_0'"):
        tag(model, tok, "李明在北京")                                      # config.json's default names are no tags


# ----------------------------------------------------------------------------- Chinese input at the edges
@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_an_empty_review_is_a_clear_error(folders, text):
    for name in ("classifier", "tagger"):
        model, tok, labels = load(folders[name])
        with pytest.raises(ValueError, match="text: expected a text with at least one character"):
            predict(model, tok, text, labels)


def test_a_review_of_only_emoji_is_a_clear_error_and_only_latin_gets_an_answer_that_says_so(folders):
    model, tok, labels = load(folders["classifier"])
    with pytest.raises(ValueError, match="knows none of its characters"):
        classify(model, tok, "😀😀👍")
    r = classify(model, tok, "good hotel")
    assert r["chinese"] == 0.0 and r["label"] in labels
    tagger, ttok, tags = load(folders["tagger"])
    assert len(tag(tagger, ttok, "😀👍", tags)["tags"]) == 2                  # a tagger answers: a tag per character


def test_full_width_and_half_width_punctuation_are_both_read(folders):
    model, tok, labels = load(folders["classifier"])
    for text in ("服务很好，房间也干净！", "服务很好,房间也干净!", "服务很好，房间也干净!?"):
        r = classify(model, tok, text)
        assert r["unknown"] == 0 and abs(sum(r["probabilities"].values()) - 1) < 1e-6


def test_a_10000_character_review_is_truncated_and_says_so_and_a_tagger_tags_every_character(folders):
    model, tok, labels = load(folders["classifier"])
    text = ("这家酒店的服务很好，" * 1000)[:10_000]
    r = classify(model, tok, text)                                          # 16 positions: 14 characters read
    assert r["truncated"] == 10_000 - 14
    tagger, ttok, tags = load(folders["tagger"])
    assert len(tag(tagger, ttok, text, tags)["tags"]) == 10_000


def test_label_names_and_lengths_are_checked(folders):
    model, tok, labels = load(folders["classifier"])
    with pytest.raises(ValueError, match="expected 2 names"):
        label_names(model, ["a"])
    with pytest.raises(ValueError, match="max_length: expected an int ≥ 3"):
        classify(model, tok, "很好", max_length=2)
    with pytest.raises(TypeError, match="text: expected a str"):
        classify(model, tok, ["很好"])


# ----------------------------------------------------------------------------- the CLI
def test_the_cli_prints_the_label_or_the_entities(folders, capsys):
    results = main(["--model", folders["classifier"], "服务很好", "good"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "服务很好" and out[1].split()[0] in ("negative", "positive") and len(results) == 2
    assert "no Chinese characters" in out[-1]
    main(["--model", folders["tagger"], "李明在北京"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "李明在北京" and len(out) >= 2


@pytest.mark.parametrize("argv, words", [
    (["--model", "MISSING", "好"], "is not a folder"),
    (["--model", "CLASSIFIER", ""], "at least one character"),
    (["--model", "VOCABLESS", "好"], "has no config.json"),
])
def test_the_cli_exits_2_with_one_line(folders, tmp_path, capsys, argv, words):
    argv = [{"MISSING": str(tmp_path / "nope"), "CLASSIFIER": folders["classifier"],
             "VOCABLESS": str(tmp_path)}.get(a, a) for a in argv]
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_a_model_that_is_not_fine_tuned_is_refused(tmp_path, folders):
    from bert import BertForMaskedLM
    BertForMaskedLM(config(2)).save_pretrained(str(tmp_path))
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB), encoding="utf-8")
    with pytest.raises(ValueError, match="not a fine-tuned classifier or tagger"):
        load(str(tmp_path))


def test_the_cli_in_a_subprocess(folders):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "bert.tools.predict", "--model", folders["classifier"], "这家酒店很好"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("这家酒店很好\n"), r.stderr
