"""Sentence classification data and scores: what `python -m bert.finetune` trains on and how it is scored.

    LabelledText          sentences and their integer labels (read_tsv: a TSV with a header, e.g. SST-2)
    ClassificationData    token ids of [CLS] sentence [SEP], truncated to max_length, and the labels
    classification_metrics  accuracy and F1 (binary: of class 1; more classes: macro) of predictions
    predict / evaluate_classifier  a classifier's logits, and its scores on a ClassificationData

Split out of bert/finetune.py (the CLI and the loop's use) so that the Chinese tasks (bert/chinese_tasks.py) can
build on the data without importing the CLI.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from .ner import f_score
from .training import pad_batch

SENTIMENT_NAMES = ["negative", "positive"]       # zh-sentiment's classes 0 and 1 (bert/chinese_tasks.py)

@dataclass
class LabelledText:
    """Sentences and their integer labels, as read from one TSV file."""
    sentences: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.labels)


def read_tsv(path: str | os.PathLike, text_column: str = "sentence", label_column: str = "label",
             limit: int | None = None, num_labels: int | None = None) -> LabelledText:
    """Read a GLUE-style TSV (header row; tab-separated; no quoting) into sentences and integer labels.

    UTF-8 with or without a byte-order mark. Errors name the file and line: a missing file or one that is not UTF-8
    (OSError), a header without the
    columns, a row with too few fields, a label that is not an integer or (with `num_labels`) not in
    [0, num_labels) (ValueError). Surrounding spaces of a sentence are stripped (SST-2
    keeps one before the tab)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OSError(f"TSV file not found: {path!r}")
    sentences, labels = [], []
    with open(path, encoding="utf-8-sig", newline="") as f:     # a byte-order mark (Windows editors) is dropped
        try:
            rows = f.read().splitlines()
        except UnicodeDecodeError as e:
            raise OSError(f"{path!r} is not UTF-8 text ({e.reason} at byte {e.start})") from None
        reader = csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE)
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
            if label < 0 or (num_labels is not None and label >= num_labels):
                allowed = f"in [0, {num_labels})" if num_labels is not None else "≥ 0"
                raise ValueError(f"{path!r} line {line_no}: label must be {allowed}, got {label}")
            sentences.append(row[ti].strip())
            labels.append(label)
            if limit is not None and len(labels) >= limit:
                break
    if not labels:
        raise ValueError(f"{path!r} has a header but no rows")
    return LabelledText(sentences, labels)


def encode(tokenizer, sentences: Sequence[str], max_length: int) -> tuple[list[list[int]], list[list[int]]]:
    """(input_ids, attention_mask) of each sentence as the tokenizer gives them: `[CLS] … [SEP]`, truncated to
    max_length, not padded (padding is per batch; pad_batch pads the mask with 0). A tokenizer that gives no mask
    gets one of ones: nothing is padded yet."""
    encoding = tokenizer(list(sentences), truncation=True, max_length=max_length)
    ids = list(encoding["input_ids"])
    masks = list(encoding["attention_mask"]) if "attention_mask" in encoding else [[1] * len(x) for x in ids]
    return ids, masks


class ClassificationData:
    """A labelled TSV in the shape the training loop reads (bert/training/batches.py `EpochData`): the same
    examples every epoch, in the order of the batch plan (shuffled, grouped by length). `collate` gives
    input_ids, attention_mask (B, T) — the tokenizer's, padded — and labels (B,)."""

    def __init__(self, table: LabelledText, tokenizer, max_length: int = 64):
        self.labels = table.labels
        self.ids, self.masks = encode(tokenizer, table.sentences, max_length)
        self.pad_id = tokenizer.pad_token_id
        self.num_labels = max(self.labels) + 1

    @classmethod
    def from_tsv(cls, path: str, tokenizer, max_length: int = 64, limit: int | None = None,
                 num_labels: int | None = None) -> "ClassificationData":
        return cls(read_tsv(path, limit=limit, num_labels=num_labels), tokenizer, max_length)

    def num_examples(self, epoch: int) -> int:
        return len(self.ids)

    def lengths(self, epoch: int) -> list[int]:
        return [len(x) for x in self.ids]

    def collate(self, epoch: int, indices: Sequence[int]) -> dict[str, Tensor]:
        return pad_batch([{"input_ids": self.ids[i], "attention_mask": self.masks[i], "labels": self.labels[i]}
                          for i in indices], self.pad_id)


# ----------------------------------------------------------------------------- metrics
def classification_metrics(predictions: Sequence[int] | Tensor, labels: Sequence[int] | Tensor,
                           num_labels: int | None = None) -> dict[str, float]:
    """Accuracy and F1.

        accuracy = (1/N) Σ [ŷ_i = y_i]
        F1_k     = 2·P_k·R_k / (P_k + R_k) = 2·TP_k / (2·TP_k + FP_k + FN_k)   (0 when TP_k = 0; `bert.ner.f_score`,
                   the one F1 of the library; P_k = TP_k / (TP_k + FP_k), R_k = TP_k / (TP_k + FN_k))

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
        f1.append(f_score(tp, tp + fp, tp + fn)["f1"])
    return {"accuracy": float((pred == gold).float().mean()),
            "f1": f1[1] if k == 2 else sum(f1) / k}


@torch.no_grad()
def predict(model: nn.Module, ids: Sequence[Sequence[int]], batch_size: int = 64, pad_id: int = 0,
            device: str | torch.device = "cpu", masks: Sequence[Sequence[int]] | None = None) -> Tensor:
    """Logits (N, K) of a classifier over id lists, in order, in eval mode (batches sorted by length for speed).
    masks: the tokenizer's attention_mask of each (None: 1 on every id)."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[Tensor] = [None] * len(ids)  # type: ignore[list-item]
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        examples = [{"input_ids": ids[i]} if masks is None else {"input_ids": ids[i], "attention_mask": masks[i]}
                    for i in rows]
        batch = {k: v.to(device) for k, v in pad_batch(examples, pad_id).items()}
        logits = model(**batch).logits.float().cpu()
        for i, row in enumerate(rows):
            out[row] = logits[i]
    model.train(was_training)
    return torch.stack(out)                                                     # N × (K,) -> (N, K)


def evaluate_classifier(model: nn.Module, data: ClassificationData, device: torch.device | str = "cpu") -> dict:
    """Accuracy and F1 (`classification_metrics`) of a classifier on `data`, e.g. the dev set."""
    logits = predict(model, data.ids, pad_id=data.pad_id, device=device, masks=data.masks)
    return classification_metrics(logits.argmax(-1), data.labels, max(data.num_labels, logits.shape[-1]))
