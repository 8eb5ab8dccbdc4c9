"""The SST-2 experiment (distil/sentiment.py) and `python -m distil.demo`, end to end on tiny stand-ins: a tiny
checkpoint and a TSV with the SST-2 layout, a small word corpus. (The real runs: benchmarks/distil.py, make demo.)"""

from __future__ import annotations

import json
import random
import shutil

import pytest

from distil import DistilBertForMaskedLM
from bert.training import read_metrics
from distil.sentiment import Budget, markdown, run_sst2
from tests.bert.test_finetune import tiny_checkpoint
from tokenization import BertTokenizer


@pytest.mark.slow
def test_sst2_experiment_runs_and_reports(tmp_path):
    d = tiny_checkpoint(tmp_path)
    (d / "data" / "sst2").mkdir(parents=True)
    shutil.copy(d / "train.tsv", d / "data" / "sst2" / "train.tsv")
    shutil.copy(d / "dev.tsv", d / "data" / "sst2" / "dev.tsv")
    budget = Budget(teacher_steps=100, student_steps=10, batch_size=16, teacher_lr=3e-3, student_lr=3e-3,
                    timing_batches=2, timing_rounds=1, teacher_eval_every=40, student_eval_every=5)
    r = run_sst2(str(d / "data"), budget, model_dir=str(d / "model"), log=lambda s: None)
    # the teacher's dev curve: step 0 (the new classifier: a guess), every 40 steps, and the end = its final score
    assert [c["step"] for c in r["teacher_curve"]] == [0, 40, 80, 100]
    assert r["teacher_curve"][-1]["accuracy"] == r["teacher"]["accuracy"] and "curve" not in r["teacher"]
    for name, row in (("distilled", "student_distilled"), ("hard", "student_hard")):   # the students' curves too
        assert [c["step"] for c in r["student_curves"][name]] == [0, 5, 10]
        assert r["student_curves"][name][-1]["accuracy"] == r[row]["accuracy"] and "curve" not in r[row]
    assert r["teacher"]["layers"] == 2 and r["student_distilled"]["layers"] == 1
    assert r["student_distilled"]["teacher_layers"] == [0]
    assert r["student_hard"]["parameters"] == r["student_distilled"]["parameters"] < r["teacher"]["parameters"]
    assert r["teacher"]["accuracy"] > 0.9                     # the one-word rule of the tiny data
    assert set(r["floors"]) == {"teacher_accuracy>=0.90", "student/teacher>=0.97", "teacher_minutes<=30",
                              "time_ratio<=0.55"}
    table = markdown(r)
    assert "| student, distilled | 1 |" in table and "time ratio" in table
    from benchmarks.distil import section                     # the docs section, and its raw JSON, from these results
    text = "\n".join(section(r, "how it ran"))
    assert json.loads(json.dumps(r)) == r and table in text and "The students' dev accuracy" in text
    with pytest.raises(OSError, match="no SST-2"):
        run_sst2(str(tmp_path / "nothing"), budget)


def test_sst2_experiment_distils_on_augmented_copies(tmp_path):
    """Budget.augment_copies: the distilled student trains on batches with augmented copies (distil/augment.py;
    its own tests check the copies), and the run says so and records it."""
    d = tiny_checkpoint(tmp_path)
    (d / "data" / "sst2").mkdir(parents=True)
    shutil.copy(d / "train.tsv", d / "data" / "sst2" / "train.tsv")
    shutil.copy(d / "dev.tsv", d / "data" / "sst2" / "dev.tsv")
    budget = Budget(teacher_steps=20, student_steps=4, batch_size=16, teacher_lr=3e-3, student_lr=3e-3,
                    alpha_ce=1.0, alpha_mlm=0.0, alpha_cos=0.0, augment_copies=2, augment_p=0.5, augment_k=3,
                    timing_batches=1, timing_rounds=1, progress=False)
    lines = []
    r = run_sst2(str(d / "data"), budget, model_dir=str(d / "model"), log=lines.append)
    assert "  with 2 augmented copies of each batch (p=0.5, 3 embedding neighbours)" in lines
    assert r["budget"]["augment_copies"] == 2 and 0 <= r["student_distilled"]["accuracy"] <= 1
    from benchmarks.distil import section                     # the docs section says what the student was given
    assert "plus 2 augmented copies of each (every one-piece word replaced with probability 0.5 by one of its 3" \
        in "\n".join(section(r, "how it ran"))


def _word_corpus(path):
    rng = random.Random(0)
    words = [f"word{i}" for i in range(200)]
    docs = ["\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(5, 14))) + " ."
                      for _ in range(rng.randint(2, 6))) for _ in range(150)]
    path.write_text("\n\n".join(docs) + "\n")
    return str(path)


SMALL_DEMO = ["--teacher-steps", "12", "--student-steps", "6", "--seq-len", "32", "--batch-size", "8",
              "--vocab-size", "300", "--eval-examples", "40", "--threads", "1", "--no-progress"]


@pytest.mark.slow
def test_demo_runs_three_models_with_a_fixed_budget_and_reruns_identically(tmp_path, capsys):
    from distil.demo import MARKER, NAMES, main
    corpus, out = _word_corpus(tmp_path / "corpus.txt"), tmp_path / "demo"
    report = main(["--corpus", corpus, "--out", str(out), *SMALL_DEMO, "--data", str(tmp_path / "no-data")])
    printed = capsys.readouterr().out
    assert "about" in printed.splitlines()[0] and "minutes on a quiet 2-core CPU" in printed.splitlines()[0]
    for i, name in enumerate(NAMES.values(), 1):
        assert f"[{i}/4] {name}" in printed and f"| {name} |" in report
    assert "sentiment experiment is skipped" in report and "Fill in the [MASK]" in report
    assert (out / "demo.png").is_file() and (out / "report.md").read_text() == report and (out / MARKER).is_file()
    first = json.loads((out / "results.json").read_text())
    assert {"teacher", "student", "student_without_teacher", "minutes", "ratios", "time_ratios"} <= set(first)
    assert [first[k]["steps"] for k in NAMES] == [12, 6, 6]
    assert first["student"]["parameters"] == first["student_without_teacher"]["parameters"] \
        < first["teacher"]["parameters"]
    for m in NAMES:
        assert 0 <= first[m]["mlm_acc"] <= 1
        assert first[m]["masked_tokens"] == first["heldout"]["masked_tokens"] > 0 and first[m]["mlm_acc_se"] >= 0
    baseline = first["unigram_baseline"]                                    # always the most frequent token
    assert 0 <= baseline["mlm_acc"] <= 1 and baseline["masked_tokens"] == first["heldout"]["masked_tokens"]
    assert baseline["token"] in {"word" + str(i) for i in range(200)} | {"."} or baseline["token"].startswith("##")
    assert "unigram baseline: always guess" in report and "How to read it:" in report
    student = DistilBertForMaskedLM.from_pretrained(out / "student")
    assert student.config.n_layers == 2
    train = read_metrics(str(out / "student_without_teacher" / "metrics.jsonl"), "train")
    assert set(train[-1]) >= {"mlm_loss"} and "ce_loss" not in train[-1]          # the control: no teacher
    # a rerun into the demo's own folder replaces it (no --overwrite) and gives the same numbers: fixed steps
    main(["--corpus", corpus, "--out", str(out), *SMALL_DEMO])
    again = json.loads((out / "results.json").read_text())
    for m in NAMES:
        assert again[m]["mlm_acc"] == first[m]["mlm_acc"] and again[m]["mlm_loss"] == first[m]["mlm_loss"]
    assert again["fill_mask"] == first["fill_mask"]


def test_the_control_and_the_student_see_the_same_batches_from_the_same_start(tmp_path):
    """--without-teacher changes the loss only: same initial weights, same batches (the first step's MLM loss is
    equal in both runs)."""
    from bert.pretraining.cli import pretrain
    from distil.train import distil
    corpus = _word_corpus(tmp_path / "corpus.txt")
    common = ["--corpus", corpus, "--seq-len", "32", "--batch-size", "8", "--eval-examples", "16", "--max-steps", "2",
              "--log-every", "1", "--no-progress", "--save-every", "0", "--dropout", "0"]
    pretrain(["--preset", "tiny", "--vocab-size", "300", *common, "--out", str(tmp_path / "t")])
    for name, extra in (("s", ["--ce-positions", "masked"]), ("c", ["--without-teacher"])):
        distil(["mlm", "--teacher", str(tmp_path / "t"), *extra, *common, "--out", str(tmp_path / name)])
    s = read_metrics(str(tmp_path / "s" / "metrics.jsonl"), "train")
    c = read_metrics(str(tmp_path / "c" / "metrics.jsonl"), "train")
    assert s[0]["mlm_loss"] == pytest.approx(c[0]["mlm_loss"], abs=1e-6) and s[0]["ce_loss"] > 0
    assert c[0]["loss"] == pytest.approx(c[0]["mlm_loss"], abs=1e-6)
    ev = read_metrics(str(tmp_path / "c" / "metrics.jsonl"), "eval")
    assert ev[0] == {**read_metrics(str(tmp_path / "s" / "metrics.jsonl"), "eval")[0], "time": ev[0]["time"]}


def test_demo_standard_error_and_unigram_baseline_by_hand():
    """The numbers beside the demo's accuracies: the standard error sqrt(p(1-p)/n), the most frequent training
    token, the accuracy of always guessing it at the masked positions, and the printed block."""
    import torch

    from distil.demo import NAMES, accuracy_block, most_frequent_token, standard_error, unigram_baseline
    assert standard_error(0.2, 400) == pytest.approx(0.02)             # sqrt(0.2 · 0.8 / 400) = sqrt(0.0004)
    assert standard_error(0.5, 100) == pytest.approx(0.05) and standard_error(0.0, 10) == 0.0
    assert most_frequent_token([[[5, 7, 7], [7, 9]], [[9, 9, 7]]]) == 7  # 7 four times, 9 three times
    assert most_frequent_token([[[3, 2, 2, 3]]]) == 2                    # a tie: the smaller id
    batches = [{"labels": torch.tensor([[-100, 7, -100, 9], [7, -100, -100, -100]])},
               {"labels": torch.tensor([[-100, 4, 7, -100]])}]           # masked: 7, 9, 7 | 4, 7 → 3 of 5 are 7
    assert unigram_baseline(batches, 7) == (0.6, 5) and unigram_baseline(batches, 8) == (0.0, 5)
    block = accuracy_block({"teacher": (0.2, 400), "student": (0.19, 400), "student_without_teacher": (0.15, 400)},
                           {"mlm_acc": 0.05, "token": "the"}, NAMES)
    print(block)
    lines = block.splitlines()
    assert lines[0] == ("Held-out MLM accuracy on the same 400 masked tokens (± one standard error, "
                        "sqrt(p(1-p)/n)):")
    assert lines[2:6] == ["- unigram baseline: always guess 'the', the training text's most frequent token: "
                          "5.00% ± 1.09",                                 # sqrt(0.05 · 0.95 / 400) = 1.09%
                          "- teacher (BERT): 20.00% ± 2.00",
                          "- student (DistilBERT, half the layers), distilled: 19.00% ± 1.96",
                          "- control: the same student, MLM loss only: 15.00% ± 1.79"]
    assert lines[7] == "How to read it:" and [line[:3] for line in lines[8:]] == ["1. ", "2. ", "3. "]
    assert "above 5.00%" in lines[8] and "(here 4.00 points)" in lines[9] and "accuracy (1.00 points behind)" in lines[10] and "(no teacher, +4.00)" in lines[10]
    zh = {"head": "留出集上的 MLM 准确率（{n} 个被遮掩的词元）：", "baseline": "一元基线：总猜 {token}", "how": "怎么读：",
          "read": ["基线 {b:.1f}%", "两个标准误 {two_se:.1f}", "差距 {ts:+.1f}、{sc:+.1f}"]}
    other = accuracy_block({"a": (0.2, 400), "b": (0.19, 400), "c": (0.15, 400)}, {"mlm_acc": 0.05, "token": "的"},
                           {"a": "老师", "b": "学生", "c": "对照"}, zh)      # the same shape in another language
    assert other.splitlines()[2:4] == ["- 一元基线：总猜 的: 5.00% ± 1.09", "- 老师: 20.00% ± 2.00"]
    assert other.splitlines()[-1] == "3. 差距 +1.0、+4.0"


def test_demo_help():
    from distil.demo import build_parser
    text = build_parser().format_help()
    for flag in ("--data", "--out", "--overwrite", "--teacher-steps", "--student-steps", "--threads"):
        assert flag in text


def _chinese_corpus(path):
    """Documents of random sentences made of a few Chinese words (our own, not from any corpus)."""
    rng = random.Random(0)
    words = ["经济", "发展", "人民", "国家", "北京", "记者", "今天", "会议", "农民", "工厂", "学校", "春节", "新年"]
    docs = ["\n".join("".join(rng.choice(words) for _ in range(rng.randint(3, 8))) + "。"
                      for _ in range(rng.randint(2, 6))) for _ in range(120)]
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_the_chinese_demo_reads_chinese_and_writes_the_same_schema(tmp_path, capsys):
    from distil.demo import LANGUAGES, NAMES, ZH_SENTENCES, build_parser, main
    out = tmp_path / "demo-zh"
    report = main(["--lang", "zh", "--corpus", _chinese_corpus(tmp_path / "zh.txt"), "--out", str(out), *SMALL_DEMO])
    assert capsys.readouterr().out.startswith("make demo-zh: teacher 12 steps")
    assert "怎么读" in report and "一元基线" in report and "sentences of our own" in report
    first = json.loads((out / "results.json").read_text())
    assert {"teacher", "student", "student_without_teacher", "minutes"} <= set(first)
    assert all(0 <= first[k]["mlm_acc"] <= 1 for k in NAMES)
    assert [ex["text"] for ex in first["fill_mask"]] == [t for t, _ in ZH_SENTENCES[:4]]
    assert all(len(ex["teacher"]) == 5 for ex in first["fill_mask"])
    tok = BertTokenizer.from_pretrained(out / "teacher")                     # the teacher with its tokenizer
    assert tok.tokenize("经济") == ["经", "济"] and "ａ" in tok.get_vocab() and "##2" in tok.get_vocab()
    defaults = build_parser().parse_args(["--lang", "zh"])
    assert defaults.out is None and defaults.teacher_mask_prob is None            # filled in per language by demo()
    assert LANGUAGES["zh"]["out"] == "runs/demo-zh" and LANGUAGES["en"]["teacher_mask_prob"] == 0.4
