"""python -m distil.finetune: bert.finetune's CLI on BERT and DistilBERT directories alike."""

import json

import pytest

from distil import DistilBertForSequenceClassification, student_from_teacher
from distil.finetune import load_any_classifier, main
from tests.bert.test_finetune import tiny_checkpoint


def test_distilbert_directory_fine_tunes(tmp_path):
    from bert import BertModel
    d = tiny_checkpoint(tmp_path)
    student = student_from_teacher(BertModel.from_pretrained(d / "model"))       # a DistilBertModel directory
    student.save_pretrained(d / "student")
    (d / "student" / "vocab.txt").write_text((d / "model" / "vocab.txt").read_text())
    final = main(["--model", str(d / "student"), "--train", str(d / "train.tsv"), "--dev", str(d / "dev.tsv"),
                  "--out", str(d / "out"), "--max-steps", "100", "--batch-size", "16", "--lr", "3e-3",
                  "--no-progress"])  # 60 steps sit on the ln 2 plateau for some batch orders
    assert final["dev_accuracy"] > 0.9
    assert json.loads((d / "out" / "config.json").read_text())["model_type"] == "distilbert"
    assert isinstance(load_any_classifier(str(d / "out"), None), DistilBertForSequenceClassification)


def test_model_type_dispatch_and_errors(tmp_path):
    from bert import BertForSequenceClassification
    d = tiny_checkpoint(tmp_path)
    assert isinstance(load_any_classifier(str(d / "model"), 2), BertForSequenceClassification)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ValueError, match="model_type"):
        load_any_classifier(str(tmp_path / "odd"), 2)
    with pytest.raises(OSError, match="config.json"):
        load_any_classifier(str(tmp_path / "nothing"), 2)
    bert = load_any_classifier(str(d / "model"), 2, dropout=0.25)                       # --dropout, both kinds
    assert bert.config.hidden_dropout_prob == bert.config.attention_probs_dropout_prob == 0.25
    student = student_from_teacher(bert.bert)
    student.save_pretrained(tmp_path / "student")
    distil = load_any_classifier(str(tmp_path / "student"), 2, dropout=0.25)
    assert distil.config.dropout == distil.config.attention_dropout == 0.25


# ----------------------------------------------------------------------------- NER: DistilBERT token classifiers
def test_distilbert_directory_fine_tunes_for_ner(tmp_path):
    from bert import BertModel
    from distil import DistilBertForTokenClassification
    from tests.bert.test_ner import tiny_ner
    d = tiny_ner(tmp_path)
    student_from_teacher(BertModel.from_pretrained(d / "model")).save_pretrained(d / "student")
    (d / "student" / "vocab.txt").write_text((d / "model" / "vocab.txt").read_text())
    final = main(["--task", "ner", "--model", str(d / "student"), "--train", str(d / "train.txt"), "--dev",
                  str(d / "dev.txt"), "--out", str(d / "out"), "--max-steps", "80", "--batch-size", "16",
                  "--lr", "5e-3", "--no-progress"])
    assert final["dev_f1"] > 0.9
    assert isinstance(load_any_classifier(str(d / "out"), None, "ner"), DistilBertForTokenClassification)


def test_token_student_from_teacher_with_every_layer_is_the_teacher_and_distils(tmp_path):
    """benchmarks/ner.py's student, `student_from_teacher` on a token classifier: the encoder's layers, the classifier
    copied. With all the
    teacher's layers it computes the teacher's token logits (single-segment input); the distillation step runs on
    (B, T, K) logits and its soft-target and cosine parts are then 0."""
    import torch

    from bert import BertForTokenClassification
    from distil import student_from_teacher as token_student
    from distil.distiller import Distiller
    from distil.step import DistillationStep
    from tests.bert.test_ner import tiny_ner
    d = tiny_ner(tmp_path)
    torch.manual_seed(0)
    teacher = BertForTokenClassification.from_pretrained(d / "model", num_labels=5).eval()
    student = token_student(teacher, layers=[0, 1]).eval()
    ids = torch.tensor([[2, 5, 8, 11, 3], [2, 6, 9, 3, 0]])
    mask = (ids != 0).long()
    labels = torch.tensor([[-100, 3, 1, 0, -100], [-100, 3, 0, -100, -100]])
    with torch.no_grad():
        t, s = teacher(ids, mask).logits, student(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(t[mask.bool()], s[mask.bool()], atol=1e-5)
    assert token_student(teacher).config.n_layers == 1 and token_student(teacher).teacher_layers == [0]
    loss, parts = DistillationStep(teacher, Distiller(5.0, 2.0, 1.0, 2.0))(
        student, {"input_ids": ids, "attention_mask": mask, "labels": labels})
    assert torch.isfinite(loss) and float(parts["ce_loss"]) < 1e-5 and float(parts["cos_loss"]) < 1e-5


def test_ner_benchmark_runs_and_reports_on_a_tiny_model(tmp_path):
    import shutil

    from benchmarks.ner import NerBudget, run_conll, section
    from tests.bert.test_ner import tiny_ner
    d = tiny_ner(tmp_path)
    (d / "data" / "conll2003").mkdir(parents=True)
    for src, dst in (("train", "train"), ("dev", "valid"), ("dev", "test")):
        shutil.copy(d / f"{src}.txt", d / "data" / "conll2003" / f"{dst}.txt")
    budget = NerBudget(teacher_steps=60, student_steps=10, batch_size=16, teacher_lr=5e-3, student_lr=5e-3,
                       timing_batches=1, timing_rounds=1)
    r = run_conll(str(d / "data"), budget, model_dir=str(d / "model"), log=lambda s: None)
    assert r["teacher"]["dev_f1"] > 0.9 and r["teacher"]["test_f1"] == r["teacher"]["dev_f1"]
    assert r["student"]["layers"] == 1 and r["student"]["parameters"] < r["teacher"]["parameters"]
    assert not any(str(v).startswith("/") for v in (r["teacher_model"],))        # never a machine's absolute path
    assert json.loads(json.dumps(r)) == r
    text = "\n".join(section(r, "how it ran"))
    assert "| student, distilled | 1 |" in text and "time ratio" in text and "Floors:" in text
