"""`python -m distil.finetune`: `python -m bert.finetune` for BERT *and* DistilBERT directories.

Same options as bert.finetune (see `--help`), `--task ner` included. The model class follows the directory's
config.json `model_type` and the task: "distilbert" → DistilBertForSequenceClassification (with `--task ner`:
DistilBertForTokenClassification), "bert" → BertForSequenceClassification (BertForTokenClassification). (It lives here, not in
`bert`, because the dependencies point one way: `bert` knows nothing of `distil`.)
"""

from __future__ import annotations

import os
import sys

from torch import nn

from bert.config import read_config_json
from bert.finetune import TAGGING_TASKS, build_parser, load_classifier, run
from bert.training.runs import run_cli

from .tasks import DistilBertForSequenceClassification, DistilBertForTokenClassification


def load_any_classifier(path: str, num_labels: int | None, task: str = "classification",
                        ignore_mismatched_sizes: bool = False, dropout: float | None = None,
                        crf_tags: list[str] | None = None, attention_dropout: float | None = None) -> nn.Module:
    """A sequence classifier (task "ner" or "zh-ner": a token classifier) from a BERT or DistilBERT
    `from_pretrained` directory, by config.json's model_type; `dropout` (when given) replaces its hidden and
    attention dropout (DistilBERT's `dropout` and `attention_dropout`), `attention_dropout` the attention's alone;
    `crf_tags` (--crf): a BERT tagger with a CRF (BertCrfForTokenClassification; there is no DistilBERT one)."""
    config_file = os.path.join(path, "config.json")
    if not os.path.isfile(config_file):
        raise OSError(f"no config.json in {path!r}")
    model_type = read_config_json(config_file).get("model_type", "bert")
    if model_type == "distilbert":
        if crf_tags:
            raise ValueError(f"--crf: the CRF tagger is BERT's (BertCrfForTokenClassification); {path!r} is a "
                             "DistilBERT: leave out --crf")
        overrides = {} if num_labels is None else {"num_labels": num_labels}
        if dropout is not None:
            overrides.update(dropout=dropout, attention_dropout=dropout)
        if attention_dropout is not None:
            overrides.update(attention_dropout=attention_dropout)
        cls = DistilBertForTokenClassification if task in TAGGING_TASKS else DistilBertForSequenceClassification
        return cls.from_pretrained(path, ignore_mismatched_sizes=ignore_mismatched_sizes, **overrides)
    if model_type == "bert":
        return load_classifier(path, num_labels, task, ignore_mismatched_sizes, dropout, crf_tags, attention_dropout)
    raise ValueError(f"{config_file}: model_type must be 'bert' or 'distilbert', got {model_type!r}")


def main(argv: list[str] | None = None) -> dict:
    return run_cli("distil.finetune",
                   lambda a: run(build_parser("python -m distil.finetune").parse_args(a), load=load_any_classifier), argv)


if __name__ == "__main__":
    main(sys.argv[1:])
