"""`python -m distil.explore`: `python -m bert.explore` for BERT *and* DistilBERT folders (the same options, see
`--help`). A "distilbert" config.json loads the DistilBERT class its `architectures` names (DistilBertModel when it
names none of ours); anything else goes to bert.explore's loader. It lives here, not in `bert`, because the
dependencies point one way: `bert` knows nothing of `distil` (as distil/finetune.py)."""

from __future__ import annotations

import os
import sys

from torch import nn

from bert.config import read_config_json
from bert.explore import load_bert, main as bert_main, model_class

PROG = "python -m distil.explore"


def load_any(path: str) -> nn.Module:
    """A BERT or DistilBERT folder, by config.json's model_type."""
    import distil

    config_file = os.path.join(path, "config.json")
    if not (os.path.isfile(config_file) and read_config_json(config_file).get("model_type") == "distilbert"):
        return load_bert(path)
    classes = {name: getattr(distil, name) for name in distil.__all__ if name.startswith("DistilBert")
               and name != "DistilBertConfig"}
    return model_class(path, "distilbert", classes, distil.DistilBertModel).from_pretrained(path)


def main(argv: list[str] | None = None) -> str:
    return bert_main(argv, prog=PROG, load=load_any)


if __name__ == "__main__":
    main(sys.argv[1:])
