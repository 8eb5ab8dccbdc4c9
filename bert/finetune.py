"""Fine-tune a pretrained model for sequence classification on a GLUE-style TSV: `python -m bert.finetune`.

    python -m bert.finetune --model DIR --train train.tsv --dev dev.tsv --out OUT [--max-steps N | --epochs E]

The TSV has a header naming a `sentence` column and a `label` column (integer classes 0..K-1), as GLUE's SST-2
(`../shared/data/sst2/`). `--model` is any `from_pretrained` directory: a pretrained `BertModel` (its new
classifier is initialised and reported), a `BertForPreTraining` written by `python -m bert.pretrain`, or an
already fine-tuned classifier. The fine-tuned model is saved to `--out` with `save_pretrained` (transformers
loads it too) together with the tokenizer's vocab and a metrics.json; the dev set is scored after training
(and every `--eval-every` steps) with accuracy and F1.

The recipe is BERT's (Devlin et al. 2019 §4.1 and Appendix A.3): the final hidden state of [CLS], through the
pooler, into a linear classifier; AdamW (Loshchilov & Hutter 2019) with linear warmup then linear decay;
a few thousand steps are enough. Article 000 §5 (项目实践) shows the same loop with transformers — its `AdamW`
import no longer exists there (erratum 9): here it is `torch.optim.AdamW`.

The loop itself (`train_classifier`) works for any model whose `forward(input_ids, attention_mask, labels)`
returns `.loss` and `.logits`, so DistilBERT uses it too (`python -m distil.finetune`, and task-specific
distillation in `distil.trainer`).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn

from .pretraining.schedule import build_optimizer, step_factor, warmup_steps


# ----------------------------------------------------------------------------- data
@dataclass
class LabelledText:
    """Sentences and their integer labels, as read from one TSV file."""
    sentences: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.labels)


def read_tsv(path: str | os.PathLike, text_column: str = "sentence", label_column: str = "label",
             limit: int | None = None) -> LabelledText:
    """Read a GLUE-style TSV (header row; tab-separated; no quoting) into sentences and integer labels.

    Errors name the file and line: a missing file (OSError), a header without the columns, a row with too few
    fields or a label that is not an integer (ValueError). Surrounding spaces of a sentence are stripped (SST-2
    keeps one before the tab)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OSError(f"TSV file not found: {path!r}")
    sentences, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path!r} is empty; expected a header with columns {text_column!r} and {label_column!r}")
        header = [h.strip() for h in header]
        for column in (text_column, label_column):
            if column not in header:
                raise ValueError(f"{path!r}: header {header} has no column {column!r}")
        ti, li = header.index(text_column), header.index(label_column)
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) <= max(ti, li):
                raise ValueError(f"{path!r} line {line_no}: expected {len(header)} tab-separated fields, "
                                 f"got {len(row)}")
            try:
                label = int(row[li])
            except ValueError:
                raise ValueError(f"{path!r} line {line_no}: label must be an integer, got {row[li]!r}") from None
            if label < 0:
                raise ValueError(f"{path!r} line {line_no}: label must be ≥ 0, got {label}")
            sentences.append(row[ti].strip())
            labels.append(label)
            if limit is not None and len(labels) >= limit:
                break
    if not labels:
        raise ValueError(f"{path!r} has a header but no rows")
    return LabelledText(sentences, labels)


def encode(tokenizer, sentences: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids of each sentence, `[CLS] … [SEP]`, truncated to max_length, not padded (padding is per batch)."""
    return list(tokenizer(list(sentences), truncation=True, max_length=max_length)["input_ids"])


def length_grouped_batches(lengths: Sequence[int], batch_size: int, generator: random.Random,
                           group: int = 50) -> list[list[int]]:
    """One epoch of batches of indices: shuffled, then sorted by length within windows of `group` batches, so a
    batch holds sentences of similar length and pads little (the batches themselves are shuffled again).

    Every index appears exactly once; batches have `batch_size` items except possibly the last of a window."""
    if batch_size < 1 or group < 1:
        raise ValueError(f"batch_size and group must be ≥ 1, got {batch_size} and {group}")
    order = list(range(len(lengths)))
    generator.shuffle(order)
    window = batch_size * group
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    generator.shuffle(batches)
    return batches


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int = 0) -> dict[str, Tensor]:
    """Right-pad id lists to the longest one: input_ids (B, T) and attention_mask (B, T), 1 = real token."""
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)       # (B, T)
    attention_mask = torch.zeros(len(ids), width, dtype=torch.long)            # (B, T)
    for row, x in enumerate(ids):
        input_ids[row, :len(x)] = torch.tensor(x, dtype=torch.long)
        attention_mask[row, :len(x)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def training_batches(ids: Sequence[Sequence[int]], labels: Sequence[int], batch_size: int, seed: int,
                     pad_id: int = 0) -> Iterator[dict[str, Tensor]]:
    """Endless length-grouped batches (epoch after epoch, reshuffled), each with input_ids, attention_mask,
    labels and `index` (the examples' row numbers, so a caller can look up per-example data such as the
    teacher's logits)."""
    rng = random.Random(seed)
    lengths = [len(x) for x in ids]
    while True:
        for batch in length_grouped_batches(lengths, batch_size, rng):
            out = pad_batch([ids[i] for i in batch], pad_id)
            out["labels"] = torch.tensor([labels[i] for i in batch], dtype=torch.long)
            out["index"] = torch.tensor(batch, dtype=torch.long)
            yield out


# ----------------------------------------------------------------------------- metrics
def classification_metrics(predictions: Sequence[int] | Tensor, labels: Sequence[int] | Tensor,
                           num_labels: int | None = None) -> dict[str, float]:
    """Accuracy and F1.

        accuracy = (1/N) Σ [ŷ_i = y_i]
        F1_k     = 2·TP_k / (2·TP_k + FP_k + FN_k)    (= 2PR/(P+R); 0 when the class never occurs nor is predicted)

    For two classes `f1` is the F1 of class 1 (GLUE's convention for the positive class); for more classes it is
    the macro average over classes. Van Rijsbergen 1979 (F-measure); Wang et al. 2018 (GLUE) §3."""
    pred = torch.as_tensor(predictions).long().flatten()
    gold = torch.as_tensor(labels).long().flatten()
    if pred.shape != gold.shape or pred.numel() == 0:
        raise ValueError(f"predictions and labels must be non-empty and of equal length, got {pred.numel()} and "
                         f"{gold.numel()}")
    k = num_labels or int(max(pred.max(), gold.max())) + 1
    f1 = []
    for c in range(k):
        tp = int(((pred == c) & (gold == c)).sum())
        fp = int(((pred == c) & (gold != c)).sum())
        fn = int(((pred != c) & (gold == c)).sum())
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {"accuracy": float((pred == gold).float().mean()),
            "f1": f1[1] if k == 2 else sum(f1) / k}


@torch.no_grad()
def predict(model: nn.Module, ids: Sequence[Sequence[int]], batch_size: int = 64, pad_id: int = 0,
            device: str | torch.device = "cpu") -> Tensor:
    """Logits (N, K) of a classifier over id lists, in order, in eval mode (batches sorted by length for speed)."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[Tensor] = [None] * len(ids)  # type: ignore[list-item]
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = {k: v.to(device) for k, v in pad_batch([ids[i] for i in rows], pad_id).items()}
        logits = model(**batch).logits.float().cpu()
        for i, row in enumerate(rows):
            out[row] = logits[i]
    model.train(was_training)
    return torch.stack(out)                                                     # N × (K,) -> (N, K)


# ----------------------------------------------------------------------------- optimisation
# AdamW without decay on biases/LayerNorm, linear warmup then linear decay: the pre-training code's own functions
# (bert/pretraining/schedule.py, Devlin et al. 2019 Appendix A.2), so fine-tuning and pre-training share one recipe.


LossFn = Callable[[nn.Module, dict], Tensor]


def train_classifier(model: nn.Module, batches: Iterator[dict[str, Tensor]], max_steps: int, lr: float,
                     loss_fn: LossFn | None = None, warmup_ratio: float = 0.1, weight_decay: float = 0.01,
                     max_grad_norm: float = 1.0, evaluate: Callable[[int], dict] | None = None,
                     eval_every: int = 0, log: Callable[[dict], None] | None = None,
                     max_seconds: float | None = None, device: str | torch.device = "cpu") -> dict:
    """The fine-tuning loop: AdamW (no decay on biases/LayerNorm), linear warmup then decay, gradient clipping.

    `loss_fn(model, batch)` returns the loss (default: the model's own loss on `labels`); the task-specific
    distillation in `distil.trainer` passes its own. `evaluate(step)` is called every `eval_every` steps and at
    the end; `log(record)` receives each record. `max_seconds` stops early (the schedule still spans max_steps).
    Returns the last record with `steps` and `seconds`."""
    if max_steps < 1:
        raise ValueError(f"max_steps must be ≥ 1, got {max_steps}")
    loss_fn = loss_fn or (lambda m, b: m(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                                         labels=b["labels"]).loss)
    opt = build_optimizer(model, lr, weight_decay)
    warmup = warmup_steps(max_steps, warmup_ratio)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: step_factor(s, max_steps, warmup))
    model.train()
    start, running, record = time.perf_counter(), [], {}
    step = 0
    for step in range(1, max_steps + 1):
        batch = {k: v.to(device) for k, v in next(batches).items()}
        loss = loss_fn(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at step {step}; stopping (lower --lr?)")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        running.append(loss.item())
        elapsed = time.perf_counter() - start
        done = step == max_steps or (max_seconds is not None and elapsed >= max_seconds)
        if (eval_every and step % eval_every == 0) or done or step % 50 == 0:
            record = {"step": step, "seconds": round(elapsed, 1), "loss": sum(running) / len(running),
                      "lr": sched.get_last_lr()[0]}
            running = []
            if evaluate is not None and ((eval_every and step % eval_every == 0) or done):
                record.update(evaluate(step))
                model.train()
            if log:
                log(record)
        if done:
            break
    return {**record, "steps": step, "seconds": round(time.perf_counter() - start, 1)}


# ----------------------------------------------------------------------------- CLI
def build_parser(prog: str = "python -m bert.finetune") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a from_pretrained directory (config.json + weights + vocab.txt)")
    ap.add_argument("--train", required=True, help="training TSV with a header: sentence<TAB>label")
    ap.add_argument("--dev", help="dev TSV, scored with accuracy and F1 (optional)")
    ap.add_argument("--out", help="directory to save the fine-tuned model, vocab and metrics.json (optional)")
    ap.add_argument("--num-labels", type=int, help="number of classes (default: from the training labels)")
    ap.add_argument("--max-steps", type=int, help="optimizer steps (default: one epoch)")
    ap.add_argument("--epochs", type=float, default=1.0, help="epochs, when --max-steps is not given (default 1)")
    ap.add_argument("--minutes", type=float, help="stop after this many minutes (the schedule keeps its length)")
    ap.add_argument("--train-limit", type=int, help="use only the first N training rows")
    ap.add_argument("--batch-size", type=int, default=32, help="sentences per step (default 32)")
    ap.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default 1e-4)")
    ap.add_argument("--warmup-ratio", type=float, default=0.1, help="share of steps with linear warmup (default 0.1)")
    ap.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay (default 0.01)")
    ap.add_argument("--max-length", type=int, default=64, help="truncate sentences to this many tokens (default 64)")
    ap.add_argument("--eval-every", type=int, default=0, help="score the dev set every N steps (default: at the end)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda")
    return ap


def load_classifier(path: str, num_labels: int | None) -> nn.Module:
    """BertForSequenceClassification from any BERT `from_pretrained` directory."""
    from bert import BertForSequenceClassification
    overrides = {} if num_labels is None else {"num_labels": num_labels}
    return BertForSequenceClassification.from_pretrained(path, **overrides)


def run(args: argparse.Namespace, load: Callable[[str, int | None], nn.Module] = load_classifier) -> dict:
    """Fine-tune as the parsed command line says; returns the final metrics. `load(path, num_labels)` builds the
    model (distil.finetune passes one that also takes DistilBERT directories)."""
    from tokenization import BertTokenizer

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    train = read_tsv(args.train, limit=args.train_limit)
    dev = read_tsv(args.dev) if args.dev else None
    num_labels = args.num_labels or max(train.labels + (dev.labels if dev else [])) + 1
    tokenizer = BertTokenizer.from_pretrained(args.model, backend="fast")  # same ids as the reference, faster
    model = load(args.model, num_labels).to(args.device)
    pad_id = tokenizer.pad_token_id
    train_ids = encode(tokenizer, train.sentences, args.max_length)
    dev_ids = encode(tokenizer, dev.sentences, args.max_length) if dev else None
    max_steps = args.max_steps or max(1, math.ceil(args.epochs * len(train) / args.batch_size))
    print(f"fine-tuning {type(model).__name__} ({sum(p.numel() for p in model.parameters()):,} parameters) on "
          f"{len(train):,} sentences, {num_labels} labels, {max_steps} steps of {args.batch_size}", flush=True)

    def evaluate(step: int) -> dict:
        logits = predict(model, dev_ids, pad_id=pad_id, device=args.device)
        return {f"dev_{k}": v for k, v in classification_metrics(logits.argmax(-1), dev.labels, num_labels).items()}

    def log(record: dict) -> None:
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()), flush=True)

    final = train_classifier(model, training_batches(train_ids, train.labels, args.batch_size, args.seed, pad_id),
                             max_steps=max_steps, lr=args.lr, warmup_ratio=args.warmup_ratio,
                             weight_decay=args.weight_decay, evaluate=evaluate if dev else None,
                             eval_every=args.eval_every, log=log,
                             max_seconds=args.minutes * 60 if args.minutes else None, device=args.device)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        model.save_pretrained(args.out)
        tokenizer.save_pretrained(args.out)
        tmp = os.path.join(args.out, f"metrics.json.tmp-{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({**final, "model": args.model, "train": args.train, "dev": args.dev}, f, indent=2)
        os.replace(tmp, os.path.join(args.out, "metrics.json"))
        print(f"saved to {args.out}", flush=True)
    return final


def main(argv: list[str] | None = None) -> dict:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
