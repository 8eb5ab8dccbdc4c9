"""Predict one text: the label of a fine-tuned classifier with its probability, or the entities a fine-tuned tagger
finds — what `python -m bert.finetune` (e.g. `--task zh-sentiment`, `--task zh-ner`) leaves in its --out folder.

    python -m bert.tools.predict --model runs/zh-sentiment "这家酒店的服务很好，房间也很干净。"
    python -m bert.tools.predict --model runs/zh-ner "李明昨天从北京到上海参加了复旦大学的会议。"

    classify(model, tokenizer, text) -> {"label", "score", "probabilities", "truncated", "unknown", "chinese"}
    tag(model, tokenizer, text, labels) -> {"entities": [{"text", "type", "start", "end"}, …], "tags": […]}
    predict(model, tokenizer, text, labels) -> whichever of the two the model is

A classifier's probabilities are the softmax of its logits, p_k = exp(z_k) / Σ_j exp(z_j) (Bridle 1990; the
distribution cross-entropy trained), for the one text alone. A tagger tags every character: a text longer than the
model's window is cut into overlapping windows and each character is tagged where it has the most context, the
text read whole as the most probable tag sequence that BIO allows (`bert.chinese_tasks.tag_characters`,
bert/viterbi.py; a tagger with a CRF, as the best sequence under its learned transitions, bert/crf.py); entities
are read from the tags as conlleval reads them (`bert.ner.entity_spans`), with character offsets, end exclusive.

At the edges: an empty text (or only spaces) is a ValueError; so is a text of which the classifier knows no
character (only emoji: every token [UNK]) — there is nothing to judge. A text without Chinese characters (only
Latin letters) gets an answer, and the result says so (`chinese` = 0.0, and the CLI prints a note: a model trained
on Chinese reviews is guessing there). A classifier reads the first max_length − 2 tokens (default 256: the
fine-tuning length of zh-sentiment) and says how many it cut (`truncated`); full-width and half-width punctuation are both in the
vocabulary and read as they are.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from collections.abc import Sequence

import torch
from torch import nn

from bert.chinese_tasks import check_text, entities, tag_characters
from bert.ner import check_tag
from bert.tools.fill_mask import text_parser
from bert.training.evaluate import model_inputs
from bert.training.runs import run_cli
from tokenization import BertTokenizer
from tokenization.chinese import cjk_share

DEFAULT_LENGTH = 256        # a classifier's default: bert.finetune's --max-length of zh-sentiment
# config.json's architecture -> (module, class); looked up by name at run time: `bert` never imports `distil`
CLASSES = {"BertForSequenceClassification": ("bert", "BertForSequenceClassification"),
           "BertForTokenClassification": ("bert", "BertForTokenClassification"),
           "BertCrfForTokenClassification": ("bert", "BertCrfForTokenClassification"),
           "DistilBertForSequenceClassification": ("distil", "DistilBertForSequenceClassification"),
           "DistilBertForTokenClassification": ("distil", "DistilBertForTokenClassification")}


def is_tagger(model: nn.Module) -> bool:
    """Whether `model` is a token classifier (a tagger) rather than a sequence classifier."""
    return type(model).__name__.endswith("ForTokenClassification")


def label_names(model: nn.Module, labels: Sequence[str] | None = None) -> list[str]:
    """The class names: `labels` if given, else the model's config.id2label in class order."""
    k = model.config.num_labels
    names = list(labels) if labels is not None else [model.config.id2label[i] for i in range(k)]
    if len(names) != k:
        raise ValueError(f"labels: expected {k} names (the model's num_labels), got {len(names)}: {names}")
    return names


def check_length(model: nn.Module, max_length: int) -> int:
    """max_length as an int from 3 to the model's positions; a longer one is cut to the positions."""
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 3:
        raise ValueError(f"max_length: expected an int ≥ 3 ([CLS], one token, [SEP]), got {max_length!r}")
    return min(max_length, model.config.max_position_embeddings)


@torch.no_grad()
def classify(model: nn.Module, tokenizer, text: str, labels: Sequence[str] | None = None,
             max_length: int = DEFAULT_LENGTH) -> dict:
    """The label of one text with its probability p = softmax(logits) (module docstring), in eval mode:
    {"label": name, "score": p[label], "probabilities": {name: p}, "truncated": tokens cut beyond max_length,
    "unknown": share of the text's tokens that are [UNK], "chinese": share of CJK characters (`cjk_share`)}."""
    check_text(text)
    names = label_names(model, labels)
    length = check_length(model, max_length)
    tokens = tokenizer.tokenize(text)
    unknown = sum(t == tokenizer.unk_token for t in tokens)
    if not tokens or unknown == len(tokens):
        raise ValueError(f"text: the model's vocabulary knows none of its characters (every token is "
                         f"{tokenizer.unk_token}): nothing to classify in {text[:40]!r}")
    enc = tokenizer(text, truncation=True, max_length=length, return_tensors="pt")
    was_training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        logits = model(**model_inputs(model, dict(enc), device)).logits[0].float()        # (K,)
    finally:
        model.train(was_training)
    p = logits.softmax(-1)                                                               # p_k = e^z_k / Σ e^z_j
    best = int(p.argmax())
    return {"label": names[best], "score": float(p[best]), "probabilities": dict(zip(names, p.tolist())),
            "truncated": max(0, len(tokens) - (length - 2)), "unknown": unknown / len(tokens),
            "chinese": cjk_share([text])}


def tag(model: nn.Module, tokenizer, text: str, labels: Sequence[str] | None = None,
        max_length: int | None = None) -> dict:
    """The entities of one text: {"entities": [{"text", "type", "start", "end"}] (character offsets, end
    exclusive), "tags": one tag per character}. Any length: windows of max_length − 2 characters (default: the
    model's positions), every character tagged (`bert.chinese_tasks.tag_characters`)."""
    check_text(text)
    names = label_names(model, labels)
    for name in names:                           # config.json's defaults LABEL_0 … name no tag: labels.json does
        check_tag(name, "labels (the tagger's classes; python -m bert.finetune writes them to labels.json): ")
    device = next(model.parameters()).device
    tags = tag_characters(model, tokenizer, text, names, max_length, device=device)
    return {"entities": entities(text, tags), "tags": tags}


def predict(model: nn.Module, tokenizer, text: str, labels: Sequence[str] | None = None,
            max_length: int | None = None) -> dict:
    """`tag` for a token classifier, `classify` for a sequence classifier."""
    if is_tagger(model):
        return tag(model, tokenizer, text, labels, max_length)
    return classify(model, tokenizer, text, labels, DEFAULT_LENGTH if max_length is None else max_length)


# ---------------------------------------------------------------------------------------------------------- CLI
def load(folder: str) -> tuple[nn.Module, BertTokenizer, list[str]]:
    """(model, tokenizer, class names) of a fine-tuned folder: config.json's architecture picks the class
    (`CLASSES`); the names come from labels.json when there is one (a tagger's tags), else config.id2label."""
    if not os.path.isdir(folder):
        raise OSError(f"--model: {folder!r} is not a folder (expected one written by python -m bert.finetune --out)")
    for name in ("config.json", "vocab.txt"):
        if not os.path.isfile(os.path.join(folder, name)):
            raise OSError(f"--model: {folder!r} has no {name}; is it a folder written by python -m bert.finetune?")
    with open(os.path.join(folder, "config.json"), encoding="utf-8-sig") as f:
        architectures = json.load(f).get("architectures") or [None]
    if architectures[0] not in CLASSES:
        raise ValueError(f"--model: {folder!r} holds a {architectures[0]}, not a fine-tuned classifier or tagger "
                         f"(expected one of {sorted(CLASSES)}; fine-tune it first: python -m bert.finetune)")
    module, cls = CLASSES[architectures[0]]
    model = getattr(importlib.import_module(module), cls).from_pretrained(folder)
    labels_file = os.path.join(folder, "labels.json")
    if os.path.isfile(labels_file):
        with open(labels_file, encoding="utf-8-sig") as f:
            labels = json.load(f)
    else:
        labels = label_names(model)
    return model, BertTokenizer.from_pretrained(folder), label_names(model, labels)


def report(text: str, result: dict) -> list[str]:
    """The lines printed for one text."""
    lines = [text]
    if "entities" in result:
        lines += [f"  {e['text']}  {e['type']}  [{e['start']}, {e['end']})" for e in result["entities"]]
        return lines + ([] if result["entities"] else ["  (no entities)"])
    others = ", ".join(f"{k} {v:.4f}" for k, v in result["probabilities"].items() if k != result["label"])
    lines.append(f"  {result['label']}  {result['score']:.4f}  ({others})")
    if result["truncated"]:
        lines.append(f"  note: only the first tokens were read; {result['truncated']} tokens beyond --max-length")
    if result["chinese"] == 0:
        lines.append("  note: no Chinese characters in the text; a model fine-tuned on Chinese is guessing here")
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = text_parser("predict", "Predict one text: a classifier's label with its probability, or a tagger's "
                         "entities.", 'runs/zh-sentiment "这家酒店的服务很好"', "one or more texts",
                         "a fine-tuned folder (python -m bert.finetune --out), BERT or DistilBERT")
    parser.add_argument("--max-length", type=int, metavar="N",
                        help=f"tokens per window, [CLS] and [SEP] included (default {DEFAULT_LENGTH} for a "
                             "classifier, the model's positions for a tagger)")
    return parser


def run(argv: list[str] | None = None) -> list[dict]:
    """Parse, load, predict every text and print; returns the results (one per text)."""
    args = build_parser().parse_args(argv)
    model, tokenizer, labels = load(args.model)
    results = [predict(model, tokenizer, text, labels, args.max_length) for text in args.texts]   # checked first
    for text, result in zip(args.texts, results):
        print("\n".join(report(text, result)))
    return results


def main(argv: list[str] | None = None) -> list[dict]:
    """The CLI: a bad argument, folder or text exits with status 2 and a one-line message (`run_cli`)."""
    return run_cli("bert.tools.predict", run, argv, resumable=False)


if __name__ == "__main__":
    main()
