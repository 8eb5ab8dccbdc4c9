"""`make demo` (`python -m distil.demo`): the whole recipe on this machine, in about 10 minutes, with no download.

1. pre-train a small BERT teacher (4 layers, width 128) with MLM + NSP on the standard library's docstrings
   (`python -m bert.pretrain`, issue 5's pipeline and Trainer);
2. build a half-depth DistilBERT student from it (`student_from_teacher`: embeddings, layers [0, 3], MLM head) and
   distil it on the same corpus (`python -m distil.train mlm`: α_ce·L_ce + α_mlm·L_mlm + α_cos·L_cos);
3. report parameters, inference time (interleaved runs) and held-out MLM accuracy of the teacher, the student
   before distillation and the student after it, with a plot (OUT/demo.png);
4. with `--data DIR` holding sst2/, also the sentiment experiment of `distil/sentiment.py` (a fine-tuned MiniLM-L6
   teacher, its distilled 3-layer student, and the same student on hard labels alone) with a small budget.

    python -m distil.demo                      # steps 1-3 (default budget: 4.5 + 3 minutes of training)
    python -m distil.demo --data ../shared/data   # and step 4

Everything it writes goes to --out (default runs/demo): teacher/, student/ (from_pretrained folders that
transformers loads too), demo.png, report.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from bert import BertForMaskedLM
from bert.pretraining.cli import pretrain
from bert.timing import interleaved_times
from bert.training import evaluate_mlm, read_metrics
from bert.training.metrics import figure, save_figure
from bert.training.runs import POSITIVE, POSITIVE_INT, check_out, number, run_cli
from tokenization import BertTokenizer
from tokenization.files import write_text

from .model import DistilBertForMaskedLM
from .tasks import mlm_data
from .train import distil

MARKER = ".made-by-distil-demo"   # in --out: this folder is the demo's own, a rerun may replace what is in it
TEACHER = {"vocab_size": 8192, "hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 2,
           "intermediate_size": 512, "max_position_embeddings": 128}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m distil.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="a folder holding sst2/ (train.tsv, dev.tsv): also run the "
                                                 "sentiment experiment (skipped with a message when absent)")
    ap.add_argument("--out", default="runs/demo",
                    help="output folder (default runs/demo); the demo replaces its own earlier results there, and "
                         "refuses a non-empty folder it did not make unless --overwrite")
    ap.add_argument("--overwrite", action="store_true", help="write into a non-empty --out the demo did not make")
    ap.add_argument("--corpus", nargs="+", default=["stdlib"], help="pre-training corpus (default: stdlib)")
    ap.add_argument("--teacher-minutes", type=POSITIVE, default=4.5, help="teacher pre-training budget (4.5)")
    ap.add_argument("--student-minutes", type=POSITIVE, default=3.0, help="student distillation budget (3.0)")
    ap.add_argument("--seq-len", type=number(int, 8), default=128, help="example length in tokens (128)")
    ap.add_argument("--sst2-steps", type=POSITIVE_INT, default=300, help="steps of each SST-2 run with --data (300)")
    ap.add_argument("--threads", type=POSITIVE_INT, default=None, help="torch CPU threads (default: torch's choice)")
    return ap


def plot(teacher_metrics: str, student_metrics: str, ratios: dict[str, float], png: str) -> str:
    """Left: held-out MLM accuracy against wall time (teacher pre-training, then student distillation). Right: the
    student's parameters, inference times and accuracy as fractions of the teacher's."""
    t_eval, s_eval = read_metrics(teacher_metrics, "eval"), read_metrics(student_metrics, "eval")
    t_end = t_eval[-1]["time"] / 60 if t_eval else 0.0
    fig, (ax, ax_bar) = figure(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    ax.plot([r["time"] / 60 for r in t_eval], [r["mlm_acc"] for r in t_eval], "o-", ms=3,
            label="teacher (4 layers), pre-training")
    ax.plot([t_end + r["time"] / 60 for r in s_eval], [r["mlm_acc"] for r in s_eval], "s-", ms=3,
            label="student (2 layers), distillation")
    ax.set_xlabel("wall time (minutes)")
    ax.set_ylabel("held-out MLM accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    bars = ax_bar.bar(range(len(ratios)), list(ratios.values()), color=[f"C{i + 2}" for i in range(len(ratios))])
    ax_bar.bar_label(bars, fmt="%.2f", fontsize=8)
    ax_bar.axhline(1.0, ls="--", lw=1, color="gray")
    ax_bar.set_xticks(range(len(ratios)), list(ratios), fontsize=7)
    ax_bar.set_ylabel("student / teacher")
    return save_figure(fig, png, "make demo: a half-depth DistilBERT student distilled from a small BERT teacher")


def stdlib_part(args: argparse.Namespace) -> str:
    teacher_dir, student_dir = os.path.join(args.out, "teacher"), os.path.join(args.out, "student")
    config = os.path.join(args.out, "teacher_config.json")
    write_text(config, json.dumps({**TEACHER, "max_position_embeddings": max(TEACHER["max_position_embeddings"],
                                                                          args.seq_len)}))
    print(f"[1/3] pre-training a 4-layer BERT teacher on {' '.join(args.corpus)} for {args.teacher_minutes} min",
          flush=True)
    pretrain(["--config", config, "--corpus", *args.corpus, "--minutes", str(args.teacher_minutes),
              "--seq-len", str(args.seq_len), "--batch-size", "32", "--lr", "1e-3", "--dropout", "0",
              "--eval-every", "100", "--save-every", "0", "--out", teacher_dir, "--overwrite"])
    print(f"[2/3] distilling a 2-layer student from it for {args.student_minutes} min", flush=True)
    distil(["mlm", "--teacher", teacher_dir, "--corpus", *args.corpus, "--minutes", str(args.student_minutes),
            "--seq-len", str(args.seq_len), "--batch-size", "32", "--lr", "1e-3", "--dropout", "0",
            "--ce-positions", "masked", "--eval-every", "100", "--save-every", "0", "--out", student_dir,
            "--overwrite"])

    print("[3/3] measuring: held-out MLM accuracy, parameters, inference time", flush=True)
    tokenizer = BertTokenizer.from_pretrained(teacher_dir, backend="fast")
    _, heldout, _ = mlm_data(args.corpus, tokenizer, args.seq_len)
    teacher = BertForMaskedLM.from_pretrained(teacher_dir).eval()
    student = DistilBertForMaskedLM.from_pretrained(student_dir).eval()
    t_acc = evaluate_mlm(teacher, heldout)["mlm_acc"]
    s_acc = evaluate_mlm(student, heldout)["mlm_acc"]
    s_init = read_metrics(os.path.join(student_dir, "metrics.jsonl"), "eval")[0]["mlm_acc"]   # step 0
    encoder_inputs = [{"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]} for b in heldout[:4]]
    fill_inputs = [{**x, "labels": b["labels"]} for x, b in zip(encoder_inputs, heldout)]
    teacher.masked_only = student.masked_only = True             # fill the [MASK]s: decode only there
    fill = interleaved_times({"teacher": teacher, "student": student}, fill_inputs, rounds=3)
    bare = interleaved_times({"teacher": teacher.bert, "student": student.distilbert}, encoder_inputs, rounds=3)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    ratios = {"parameters": count(student) / count(teacher), "time (encoder)": bare["student"]["ratio"],
              "time (fill the\n[MASK]s)": fill["student"]["ratio"],
              "held-out MLM\naccuracy": s_acc / t_acc if t_acc else float("nan")}
    png = plot(os.path.join(teacher_dir, "metrics.jsonl"), os.path.join(student_dir, "metrics.jsonl"), ratios,
               os.path.join(args.out, "demo.png"))
    lines = ["## Teacher and student on the standard library's docstrings", "",
             f"Held-out: {sum(int((b['labels'] != -100).sum()) for b in heldout):,} masked tokens in "
             f"{sum(len(b['input_ids']) for b in heldout)} examples from documents neither model trained on. "
             f"Inference time: batches of {len(encoder_inputs[0]['input_ids'])} held-out examples, median of "
             f"{len(encoder_inputs)} batches × 3 interleaved rounds; \"fill the [MASK]s\" = encoder + MLM head at the "
             "masked positions.", "",
             "| model | parameters | encoder parameters | encoder ms / batch | fill the [MASK]s ms / batch | "
             "held-out MLM accuracy |", "|---|---:|---:|---:|---:|---:|"]
    for name, key, model, enc, acc in (("teacher (BERT, 4 layers)", "teacher", teacher, teacher.bert, t_acc),
                                       ("student (DistilBERT, 2 layers)", "student", student, student.distilbert,
                                        s_acc)):
        lines.append(f"| {name} | {count(model):,} | {count(enc):,} | {1e3 * bare[key]['median_s']:.1f} | "
                     f"{1e3 * fill[key]['median_s']:.1f} | {100 * acc:.1f}% |")
    lines += [f"| student before distillation (teacher layers 0 and 3) | {count(student):,} | "
              f"{count(student.distilbert):,} | | | {100 * s_init:.1f}% |", "",
              "Student / teacher: " + ", ".join(f"{k.replace(chr(10), ' ')} {v:.2f}×" for k, v in ratios.items())
              + ".", ""]
    if s_acc > t_acc:
        lines += ["The student ends above its teacher: it keeps learning from the same corpus for its own minutes after "
                  "the teacher stopped, and a teacher pre-trained this briefly is still far from converged (see the "
                  "plot). With a converged teacher the student stays below it.", ""]
    lines += [f"Plot: {png}"]
    return "\n".join(lines)


def sst2_part(args: argparse.Namespace) -> str:
    from .sentiment import Budget, markdown, run_sst2
    if not os.path.isfile(os.path.join(args.data, "sst2", "train.tsv")):
        msg = f"(no sst2/train.tsv under {args.data!r}: the sentiment experiment is skipped)"
        print(msg, flush=True)
        return msg
    print(f"[SST-2] fine-tuning MiniLM-L6 and distilling it ({args.sst2_steps} steps each)", flush=True)
    budget = Budget(teacher_steps=args.sst2_steps, student_steps=args.sst2_steps, timing_batches=6, timing_rounds=2)
    r = run_sst2(args.data, budget, log=lambda s: print(s, flush=True))
    return ("## Sentiment (SST-2), small budget\n\n" + f"{args.sst2_steps} steps × 32 sentences for the teacher and "
            "for each student (the full experiment: `python -m benchmarks --only distil`).\n\n" + markdown(r))


def demo(argv: list[str] | None = None) -> str:
    """Run the demo with `argv`; returns the report."""
    args = build_parser().parse_args(argv)
    own = os.path.isfile(os.path.join(args.out, MARKER))
    check_out(args.out, resume=False, overwrite=args.overwrite or own)      # the demo's own folder: replace it
    os.makedirs(args.out, exist_ok=True)
    write_text(os.path.join(args.out, MARKER), "written by python -m distil.demo; a rerun replaces this folder's "
                                               "teacher/, student/, report.md and demo.png\n")
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    parts = [stdlib_part(args)]
    if args.data:
        parts.append(sst2_part(args))
    report = "# make demo\n\n" + "\n\n".join(parts) + f"\n\nTotal time: {(time.perf_counter() - start) / 60:.1f} min.\n"
    write_text(os.path.join(args.out, "report.md"), report)
    print("\n" + report, flush=True)
    return report


def main(argv: list[str] | None = None) -> str:
    return run_cli("distil.demo", demo, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
