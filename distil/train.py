"""`python -m distil.train`: distil a BERT teacher into a DistilBERT student, on one process or under torchrun.

General (MLM) distillation, on a corpus (Sanh et al. 2019 §3: the student learns the teacher's whole output
distribution at every token while it learns the masked-language-model task):

    python -m distil.train mlm --teacher runs/teacher --corpus stdlib --minutes 5 --out runs/student

The control experiment — the same student, the same initialisation, batches and steps, its own MLM loss only:

    python -m distil.train mlm --teacher runs/teacher --without-teacher --max-steps 500 --out runs/control

Task-specific distillation from a teacher fine-tuned on a GLUE-style TSV (its class logits are the soft targets,
and the true labels take the place of the MLM loss):

    python -m distil.train task --teacher runs/sst2-teacher --train sst2/train.tsv --dev sst2/dev.tsv \\
        --max-steps 1600 --out runs/sst2-student

The student is `student_from_teacher(teacher, layers)` — the teacher's embeddings (segment 0 folded into the
positions), every other layer by default, and its head — unless `--student DIR` names a DistilBERT to continue.
The loss is α_ce·L_ce + α_mlm·L_mlm + α_cos·L_cos with the published defaults 5.0 / 2.0 / 1.0 and temperature 2.0
(distil/losses.py, distil/distiller.py; the step: distil/step.py). The loop is the one training loop
(bert/training/loop.py): --resume, metrics.jsonl + metrics.png, a progress bar, atomic checkpoints, and
`torchrun --nproc_per_node=N -m distil.train …` for several processes. OUT/ ends up a `from_pretrained` DistilBERT
folder (transformers loads it too) with vocab.txt, run.json (settings, data, the teacher's and the student's
scores), metrics.jsonl and metrics.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import torch

from bert import BertForMaskedLM, BertForSequenceClassification
from bert.finetune import ClassificationData, evaluate_classifier
from bert.pretraining.corpus import STDLIB
from bert.pretraining.data import mlm_data
from bert.training import ShardedBatches, Trainer, TrainingArguments, evaluate_mlm
from bert.training.distributed import PRECISIONS, init_distributed, shutdown
from bert.training.metrics import plot_distillation
from bert.training.runs import (COUNT, FRACTION, NON_NEGATIVE, POSITIVE, POSITIVE_INT, add_output_options, check_device,
                                check_out, check_precision, check_resume, fit_length, model_folder,
                                named, number, run_cli, start_run, write_run)
from tokenization import BertTokenizer

from .distiller import Distiller
from .heads import DistilBertForMaskedLM
from .step import DistillationStep, student_only_step
from .student import student_from_teacher
from .tasks import DistilBertForSequenceClassification

# settings that decide the data, the models or the batches: a resumed run must keep them
RESUME_KEYS = ("mode", "teacher", "student", "layers", "corpus", "seq_len", "train", "max_length", "seed", "lr",
               "batch_size", "accumulation", "heldout_fraction", "eval_examples", "dropout", "alpha_ce", "alpha_mlm",
               "alpha_cos", "temperature", "ce_positions", "without_teacher")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m distil.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("models")
    g.add_argument("--teacher", required=True, help="the teacher's from_pretrained folder (with vocab.txt)")
    g.add_argument("--student", default=None, help="a DistilBERT folder to start from (default: built from the "
                                                   "teacher by student_from_teacher)")
    g.add_argument("--layers", type=COUNT, nargs="+", default=None, metavar="I",
                   help="teacher layers the student copies (default: every other one, first and last kept; "
                        "12 layers → 0 2 4 7 9 11)")
    g.add_argument("--dropout", type=FRACTION, default=None, help="the student's dropout (default: the teacher's)")
    g = common.add_argument_group("loss")
    g.add_argument("--alpha-ce", type=NON_NEGATIVE, default=5.0, help="weight of the soft-target loss L_ce (5.0)")
    g.add_argument("--alpha-mlm", type=NON_NEGATIVE, default=2.0, help="weight of the true-label loss L_mlm (2.0)")
    g.add_argument("--alpha-cos", type=NON_NEGATIVE, default=1.0, help="weight of the hidden-state cosine loss (1.0)")
    g.add_argument("--temperature", type=POSITIVE, default=2.0, help="softmax temperature T of the soft targets (2.0)")
    g = common.add_argument_group("training")
    g.add_argument("--max-steps", type=POSITIVE_INT, default=None, help="optimizer steps (default 2000 unless --minutes)")
    g.add_argument("--minutes", type=POSITIVE, default=None, help="wall-clock budget (with --max-steps: first reached)")
    g.add_argument("--batch-size", type=POSITIVE_INT, default=32, help="examples per micro-batch per process (32)")
    g.add_argument("--accumulation", type=POSITIVE_INT, default=1, help="micro-batches per optimizer step (1)")
    g.add_argument("--lr", type=POSITIVE, default=5e-4, help="peak learning rate (5e-4, DistilBERT's)")
    g.add_argument("--warmup", type=FRACTION, default=0.05, help="fraction of the run spent warming up (0.05)")
    g.add_argument("--weight-decay", type=NON_NEGATIVE, default=0.01, help="AdamW decay, not on biases/LayerNorm (0.01)")
    g.add_argument("--grad-clip", type=NON_NEGATIVE, default=1.0, help="max gradient norm, 0 = off (1.0)")
    g.add_argument("--precision", default="auto", choices=PRECISIONS, help="autocast on CUDA (auto: bf16 if possible)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda (under torchrun: cuda:LOCAL_RANK)")
    g.add_argument("--seed", type=int, default=0, help="seed of the data order, masks and dropout (0)")
    add_output_options(common, "output folder (student, vocab, run.json, metrics, checkpoints/)")
    sub = ap.add_subparsers(dest="mode", required=True)
    mlm = sub.add_parser("mlm", parents=[common], help="general distillation with MLM on a corpus",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mlm.add_argument("--corpus", nargs="+", default=[STDLIB], metavar="stdlib|PATH",
                     help="'stdlib' (the standard library's docstrings; default) and/or text files/folders")
    mlm.add_argument("--seq-len", type=number(int, 8), default=128, help="longest example in tokens (128)")
    mlm.add_argument("--ce-positions", default="tokens", choices=["tokens", "masked"],
                     help="soft targets at every non-pad token (the published default) or at the masked ones only "
                          "(both models then decode only there: much faster when the vocabulary is large); "
                          "default tokens")
    mlm.add_argument("--without-teacher", action="store_true",
                     help="the control: the same student (same initialisation from the teacher, same batches and "
                          "steps) trained on its own MLM loss alone; the teacher only gives the initial weights "
                          "and a reference score")
    mlm.add_argument("--heldout-fraction", type=number(float, 0, 1, low_open=True, high_open=True), default=0.05, help="share of documents held out (0.05)")
    mlm.add_argument("--eval-examples", type=POSITIVE_INT, default=1000, help="held-out examples per evaluation (1000)")
    task = sub.add_parser("task", parents=[common], help="task-specific distillation on a labelled TSV",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    task.add_argument("--train", required=True, help="training TSV with a header: sentence<TAB>label")
    task.add_argument("--dev", default=None, help="dev TSV scored with accuracy and F1")
    task.add_argument("--train-limit", type=POSITIVE_INT, default=None, help="use only the first N training rows")
    task.add_argument("--max-length", type=number(int, 2), default=None,
                      help="truncate sentences to this many tokens (default 64, or fewer when the models have fewer "
                           "positions)")
    return ap


def build_models(args: argparse.Namespace) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(teacher, student) for the mode: BERT MLM teacher → DistilBertForMaskedLM student; fine-tuned BERT
    classifier → DistilBertForSequenceClassification student."""
    teacher_cls, student_cls = ((BertForMaskedLM, DistilBertForMaskedLM) if args.mode == "mlm"
                                else (BertForSequenceClassification, DistilBertForSequenceClassification))
    teacher = teacher_cls.from_pretrained(args.teacher).eval()
    overrides = {} if args.dropout is None else {"dropout": args.dropout, "attention_dropout": args.dropout}
    if args.student:
        if args.layers:
            raise ValueError("give --student or --layers, not both (--layers builds a student from the teacher)")
        return teacher, student_cls.from_pretrained(args.student, **overrides)
    layers = teacher.config.num_hidden_layers
    if args.layers and not all(i < layers for i in args.layers):
        raise ValueError(f"--layers {' '.join(map(str, args.layers))}: the teacher {args.teacher!r} has {layers} "
                         f"layers, numbered 0 to {layers - 1}")
    return teacher, student_from_teacher(teacher, layers=args.layers, **overrides)


def check_models(args: argparse.Namespace, teacher: torch.nn.Module, student: torch.nn.Module) -> int:
    """Refuse, before the first step and naming the option, what cannot work with these models: a --seq-len or
    --max-length beyond their positions, and a --student whose vocabulary, classes or (for L_cos) width differ from
    the teacher's. Returns the length of an example: --seq-len, --max-length, or by default 64 or the models'
    positions when they have fewer."""
    flag, length = ("--seq-len", args.seq_len) if args.mode == "mlm" else ("--max-length", args.max_length)
    length = length or min(64, teacher.config.max_position_embeddings, student.config.max_position_embeddings)
    for who, path, model in (("teacher", args.teacher, teacher), ("student", args.student, student)):
        fit_length(flag, length, 64, model.config.max_position_embeddings,
                   f"the {who} {path!r}" if path else f"the {who} (built from the teacher)")
    pairs = [("vocabulary size", teacher.config.vocab_size, student.config.vocab_size)]
    if args.mode == "task":
        pairs.append(("number of classes", teacher.config.num_labels, student.config.num_labels))
    if args.alpha_cos > 0 and not getattr(args, "without_teacher", False):
        pairs.append(("hidden size (L_cos compares hidden states; --alpha-cos 0 leaves it out)",
                      teacher.config.hidden_size, student.config.dim))
    for name, t, s in pairs if args.student else ():
        if t != s:
            raise ValueError(f"--student {args.student!r}: its {name} is {s}, the teacher's {t}; they must be equal")
    return length


def distil(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the CLI with `argv`; returns {"step", "elapsed", "eval", "checkpoint", "teacher_eval", "out"}."""
    args = build_parser().parse_args(argv)
    if args.max_steps is None and args.minutes is None:
        args.max_steps = 2000
    if args.resume and args.overwrite:
        raise ValueError("give --resume (continue the run in --out) or --overwrite (replace it), not both")
    check_device(args.device)
    check_precision(args.precision, args.device)
    if args.resume:
        check_resume(args, RESUME_KEYS)
    ctx = init_distributed(args.device)
    try:
        check_out(args.out, resume=args.resume, overwrite=args.overwrite,
                  inputs={"--teacher": args.teacher, "--student": args.student})
        ctx.barrier()                                     # every process has checked before anything is written
        tokenizer = named("--teacher", args.teacher,                 # a special token missing: name the file
                          lambda: BertTokenizer.from_pretrained(args.teacher, backend="fast"))
        torch.manual_seed(args.seed)
        teacher, student = build_models(args)
        length = check_models(args, teacher, student)
        if ctx.is_main and not args.resume:
            start_run(args.out, args)                     # run.json first: the folder is a run of ours from now on
        without_teacher = getattr(args, "without_teacher", False)
        if args.mode == "mlm":   # soft targets at the masked positions only: both models decode only there
            teacher.masked_only = student.masked_only = args.ce_positions == "masked" or without_teacher
        compute_loss = (student_only_step if without_teacher else
                        DistillationStep(teacher.to(ctx.device),
                                         Distiller(args.alpha_ce, args.alpha_mlm, args.alpha_cos, args.temperature)))
        if args.mode == "mlm":
            train, eval_batches, stats = mlm_data(args.corpus, tokenizer, args.seq_len, args.seed,
                                                  args.heldout_fraction, args.eval_examples)
            evaluate = lambda m: evaluate_mlm(m, eval_batches, ctx.device)  # noqa: E731
            score = "mlm_acc"
        else:
            k = teacher.config.num_labels                 # the teacher's classes: every label must be one of them
            train = ClassificationData.from_tsv(args.train, tokenizer, length, args.train_limit, k)
            dev = ClassificationData.from_tsv(args.dev, tokenizer, length, num_labels=k) if args.dev else None
            stats = {"train_examples": train.num_examples(0), "dev_examples": dev.num_examples(0) if dev else 0,
                     "max_length": length}
            evaluate = (lambda m: evaluate_classifier(m, dev, ctx.device)) if dev else None  # noqa: E731
            score = "accuracy"
        batches = ShardedBatches(train, args.batch_size, args.accumulation, ctx.world_size, ctx.rank, args.seed,
                                 group_by_length=50)
        targs = TrainingArguments(out=args.out, max_steps=args.max_steps, minutes=args.minutes, lr=args.lr,
                                  warmup=args.warmup, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
                                  precision=args.precision, log_every=args.log_every, eval_every=args.eval_every,
                                  save_every=args.save_every, seed=args.seed, progress=not args.no_progress,
                                  desc="student without teacher (MLM only)" if without_teacher
                                  else f"distillation ({args.mode})")
        metrics = os.path.join(args.out, "metrics.jsonl")
        trainer = Trainer(student, batches, targs, compute_loss=compute_loss, evaluate=evaluate, ctx=ctx)
        teacher_eval: dict[str, float] = {}
        if ctx.is_main:
            os.makedirs(args.out, exist_ok=True)
            if evaluate is not None:
                teacher_eval = (evaluate_mlm(teacher, eval_batches, ctx.device) if args.mode == "mlm"
                                else evaluate_classifier(teacher, dev, ctx.device))
            stats.update(teacher_layers=teacher.config.num_hidden_layers, student_layers=student.config.n_layers,
                         copied_layers=getattr(student, "teacher_layers", None),
                         teacher_parameters=teacher.num_parameters(),
                         student_parameters=student.num_parameters(), processes=ctx.world_size)
            write_run(args.out, new=True, args=vars(args), data=stats, teacher_eval=teacher_eval)
            if not args.no_progress:
                print(f"distil.train: {json.dumps(stats)}; teacher: {json.dumps(teacher_eval)}", file=sys.stderr)
        summary = trainer.train(resume=args.resume)
        if ctx.is_main:
            with model_folder(args.out) as tmp:          # the student and its vocabulary, swapped in together
                student.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
            if evaluate is not None and not args.no_plot:
                plot_distillation(metrics, os.path.join(args.out, "metrics.png"), score,
                                  {f"teacher ({score})": teacher_eval[score]} if teacher_eval else None,
                                  title=f"distil.train {args.mode}: {stats['teacher_layers']}-layer teacher → "
                                        f"{stats['student_layers']}-layer student")
            write_run(args.out, summary=summary)
        ctx.barrier()
        return {**summary, "teacher_eval": teacher_eval, "out": args.out}
    finally:
        shutdown(ctx)


def main(argv: list[str] | None = None) -> None:
    summary = run_cli("distil.train", distil, argv)
    if summary["eval"]:
        print(f"step {summary['step']} ({summary['elapsed'] / 60:.1f} min): student "
              + ", ".join(f"{k} {v:.4f}" for k, v in summary["eval"].items() if isinstance(v, float))
              + "; teacher " + ", ".join(f"{k} {v:.4f}" for k, v in summary["teacher_eval"].items()
                                         if isinstance(v, float)))


if __name__ == "__main__":
    main(sys.argv[1:])
