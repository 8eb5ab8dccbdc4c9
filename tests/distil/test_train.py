"""Distillation on the one training loop and `python -m distil.train`: resume bit for bit, both modes end to end,
the outputs both libraries load, and the settings checks."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bert import BertConfig, BertForPreTraining, BertForSequenceClassification
from bert.pretraining import PretrainingData
from bert.training import ShardedBatches, Trainer, TrainingArguments, evaluate_mlm
from bert.training.metrics import read_metrics
from distil import DistilBertForMaskedLM, DistilBertForSequenceClassification, student_from_teacher
from distil.distiller import Distiller
from distil.step import DistillationStep
from distil.train import distil, main
from tests.bert.pretraining.helpers import CLS, PAD, SEP, random_token_documents, small_vocab_spec, tiny_bert_config

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class Stop(Exception):
    pass


def _distil_trainer(out, callbacks=(), student_seed=0):
    torch.manual_seed(0)
    teacher = BertForPreTraining(tiny_bert_config(num_hidden_layers=4, hidden_dropout_prob=0.2))
    torch.manual_seed(student_seed)
    student = student_from_teacher(teacher)
    if student_seed:                                          # other weights, to be overwritten by the checkpoint
        with torch.no_grad():
            for p in student.parameters():
                p.normal_()
    data = PretrainingData(random_token_documents(), small_vocab_spec(), pad_id=PAD, cls_id=CLS, sep_id=SEP,
                           seq_len=32)
    heldout = [data.collate(0, list(range(8)))]
    args = TrainingArguments(out=str(out), max_steps=8, eval_every=3, save_every=2, log_every=2, progress=False)
    return Trainer(student, ShardedBatches(data, batch_size=4), args,
                   compute_loss=DistillationStep(teacher, Distiller()),
                   evaluate=lambda m: evaluate_mlm(m, heldout), callbacks=list(callbacks))


@pytest.mark.slow
def test_distillation_stop_and_resume_is_bitwise_the_uninterrupted_run(tmp_path):
    straight = _distil_trainer(tmp_path / "a")
    straight.train()

    def kill_at_4(trainer, record):
        if trainer.global_step == 4:
            raise Stop
    with pytest.raises(Stop):
        _distil_trainer(tmp_path / "b", callbacks=[kill_at_4]).train()
    resumed = _distil_trainer(tmp_path / "b", student_seed=123)
    resumed.train(resume=True)
    for kind, key in (("train", "loss"), ("train", "ce_loss"), ("train", "cos_loss"), ("eval", "mlm_acc")):
        a = [r[key] for r in read_metrics(tmp_path / "a" / "metrics.jsonl", kind)]
        b = [r[key] for r in read_metrics(tmp_path / "b" / "metrics.jsonl", kind)]
        assert a == b and len(a) >= 3, (kind, key)
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name
    student_keys = set(student_from_teacher(BertForPreTraining(tiny_bert_config(num_hidden_layers=4))).state_dict())
    assert set(straight.model.state_dict()) == student_keys                       # checkpoints hold the student only


# ----------------------------------------------------------------------------- the CLI on tiny models
WORDS = [f"w{i}" for i in range(60)]


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    """A word corpus; an MLM teacher (BertForPreTraining, 4 layers) and an SST-like classifier teacher, each saved
    with a vocab.txt; train/dev TSVs."""
    root = tmp_path_factory.mktemp("distil_cli")
    rng = random.Random(0)
    docs = ["\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) + " ."
                      for _ in range(rng.randint(2, 5))) for _ in range(80)]
    (root / "corpus.txt").write_text("\n\n".join(docs) + "\n")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."] + WORDS
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=37, max_position_embeddings=64)
    torch.manual_seed(0)
    for name, cls in (("mlm_teacher", BertForPreTraining), ("task_teacher", BertForSequenceClassification)):
        cls(config).save_pretrained(root / name)
        (root / name / "vocab.txt").write_text("\n".join(vocab) + "\n")
    for name, n in (("train", 64), ("dev", 24)):
        rows = ["sentence\tlabel"] + [f"{rng.choice(WORDS[:30] if i % 2 else WORDS[30:])} w1 w2 .\t{i % 2}"
                                      for i in range(n)]
        (root / f"{name}.tsv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.slow
def test_mlm_mode_end_to_end(tiny_dirs, tmp_path):
    transformers = pytest.importorskip("transformers")
    out = tmp_path / "student"
    summary = distil(["mlm", "--teacher", str(tiny_dirs / "mlm_teacher"), "--corpus", str(tiny_dirs / "corpus.txt"),
                      "--seq-len", "32", "--max-steps", "6", "--eval-every", "3", "--save-every", "3",
                      "--log-every", "2", "--batch-size", "8", "--out", str(out), "--no-progress",
                      "--ce-positions", "masked"])
    assert summary["step"] == 6 and 0 <= summary["eval"]["mlm_acc"] <= 1 and "mlm_acc" in summary["teacher_eval"]
    student = DistilBertForMaskedLM.from_pretrained(out)
    assert student.config.n_layers == 2 and student.loading_info["newly_initialized"] == []
    transformers.DistilBertForMaskedLM.from_pretrained(out)
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["copied_layers"] == [0, 3] and run["summary"]["step"] == 6
    parts = read_metrics(str(out / "metrics.jsonl"), "train")
    assert [r["step"] for r in parts] == [2, 4, 6] and all(r["ce_loss"] >= 0 for r in parts)
    assert [r["step"] for r in read_metrics(str(out / "metrics.jsonl"), "eval")] == [0, 3, 6]
    assert (out / "metrics.png").is_file() and (out / "vocab.txt").is_file()
    # resume continues from the checkpoint; changing a setting that shapes the run is refused
    more = distil(["mlm", "--teacher", str(tiny_dirs / "mlm_teacher"), "--corpus", str(tiny_dirs / "corpus.txt"),
                   "--seq-len", "32", "--max-steps", "8", "--eval-every", "3", "--save-every", "3",
                   "--log-every", "2", "--batch-size", "8", "--out", str(out), "--no-progress", "--resume",
                   "--ce-positions", "masked"])
    assert more["step"] == 8
    with pytest.raises(ValueError, match="--temperature"):
        distil(["mlm", "--teacher", str(tiny_dirs / "mlm_teacher"), "--corpus", str(tiny_dirs / "corpus.txt"),
                "--seq-len", "32", "--max-steps", "9", "--batch-size", "8", "--out", str(out), "--resume",
                "--ce-positions", "masked", "--temperature", "4"])


@pytest.mark.slow
def test_task_mode_end_to_end(tiny_dirs, tmp_path):
    out = tmp_path / "task"
    summary = distil(["task", "--teacher", str(tiny_dirs / "task_teacher"), "--train", str(tiny_dirs / "train.tsv"),
                      "--dev", str(tiny_dirs / "dev.tsv"), "--layers", "1", "3", "--max-steps", "4",
                      "--eval-every", "0", "--batch-size", "8", "--out", str(out), "--no-progress"])
    assert summary["step"] == 4 and set(summary["eval"]) >= {"accuracy", "f1"}
    student = DistilBertForSequenceClassification.from_pretrained(out)
    assert student.config.n_layers == 2 and student.config.num_labels == 2
    assert json.loads((out / "run.json").read_text())["data"]["copied_layers"] == [1, 3]


def test_cli_errors_exit_with_a_message(tiny_dirs, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["task", "--teacher", str(tiny_dirs / "task_teacher"), "--train", str(tmp_path / "missing.tsv"),
              "--out", str(tmp_path / "x"), "--no-progress", "--max-steps", "1"])
    assert e.value.code == 2 and "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["mlm", "--teacher", str(tmp_path / "nope"), "--out", str(tmp_path / "y"), "--max-steps", "1"])
    assert e.value.code == 2 and "not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["task", "--teacher", str(tiny_dirs / "task_teacher"), "--train", str(tiny_dirs / "train.tsv"),
              "--layers", "0", "0", "--out", str(tmp_path / "z"), "--no-progress", "--max-steps", "1"])
    assert e.value.code == 2 and "increasing" in capsys.readouterr().err


def test_options_the_models_cannot_take_are_refused_before_the_first_step(tiny_dirs, tmp_path, capsys):
    """Issue 30: a --max-length beyond the teacher's 64 positions, a --layers index it lacks and an MLM teacher
    whose vocabulary has no [MASK] are one-line errors naming the option or file; nothing is written."""
    import shutil
    no_mask = tmp_path / "no_mask"
    shutil.copytree(tiny_dirs / "mlm_teacher", no_mask)
    (no_mask / "vocab.txt").write_text((no_mask / "vocab.txt").read_text().replace("[MASK]\n", "[MASKED]\n"))
    task = ["task", "--teacher", str(tiny_dirs / "task_teacher"), "--train", str(tiny_dirs / "train.tsv")]
    for argv, words in ((task + ["--max-length", "100"], ["--max-length 100", "64"]),
                        (task + ["--layers", "0", "7"], ["--layers 0 7", "4 layers"]),
                        (["mlm", "--teacher", str(no_mask), "--corpus", str(tiny_dirs / "corpus.txt"), "--seq-len",
                          "32"], [str(no_mask), "[MASK]"])):
        with pytest.raises(SystemExit) as e:
            main(argv + ["--max-steps", "1", "--batch-size", "8", "--out", str(tmp_path / "out"), "--no-progress"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and all(w in err for w in words), err
        assert not (tmp_path / "out").exists()


def test_help_documents_both_modes_and_the_loss_weights(capsys):
    from distil.train import build_parser
    with pytest.raises(SystemExit):
        build_parser().parse_args(["mlm", "--help"])
    text = capsys.readouterr().out
    for flag in ("--teacher", "--alpha-ce", "--alpha-mlm", "--alpha-cos", "--temperature", "--resume", "--corpus",
                 "--ce-positions", "--layers"):
        assert flag in text, flag
    top = subprocess.run([sys.executable, "-m", "distil.train", "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert top.returncode == 0 and "torchrun" in top.stdout and "task" in top.stdout


@pytest.mark.slow
def test_two_processes_equal_one_process_with_the_same_global_batch(tiny_dirs, tmp_path):
    """`torchrun --nproc_per_node=2 -m distil.train` (gloo on the CPU) ends with the student one process gets from
    the same global batches as 2 accumulated micro-batches."""
    from safetensors.torch import load_file
    common = ["mlm", "--teacher", str(tiny_dirs / "mlm_teacher"), "--corpus", str(tiny_dirs / "corpus.txt"),
              "--seq-len", "32", "--max-steps", "3", "--eval-every", "0", "--save-every", "0", "--no-progress",
              "--batch-size", "4", "--dropout", "0", "--warmup", "0", "--lr", "1e-3"]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")

    def run(cmd):
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]

    run([sys.executable, "-m", "distil.train", *common, "--accumulation", "2", "--out", str(tmp_path / "one")])
    run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "distil.train",
         *common, "--accumulation", "1", "--out", str(tmp_path / "two")])
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=2e-5, rtol=1e-4), (k, (a[k] - b[k]).abs().max())
    teacher_word = load_file(tiny_dirs / "mlm_teacher" / "model.safetensors")["bert.embeddings.word_embeddings.weight"]
    assert (a["distilbert.embeddings.word_embeddings.weight"] - teacher_word).abs().max() > 1e-4   # it trained
