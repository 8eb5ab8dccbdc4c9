"""The attention explorer's command line: one self-contained HTML page for a text (or a pair) through a model.

    python -m bert.explore --model DIR "The cat sat on the mat." [--pair "It was tired."] --out page.html

DIR: a folder `from_pretrained` reads (config.json, model.safetensors, vocab.txt) — BertModel or any BERT head class
(the one config.json's `architectures` names). A DistilBERT folder: `python -m distil.explore` (the same options;
`bert` does not import `distil`). The page needs no network and no server: open it from disk in any recent browser
(bert/tools/explore.py says what it holds; the head, model and formula views; SVG and PNG export). An existing
--out is refused unless --overwrite. Exit status: 0 when the page is written; 2, with one line on stderr, for a bad
argument, folder or text.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from torch import nn

from .config import read_config_json

PROG = "python -m bert.explore"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is in --help), like every other failure here."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    ap = _Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("text", help="the text (the first segment)")
    ap.add_argument("--model", required=True, help="a from_pretrained folder with its tokenizer files")
    ap.add_argument("--pair", help="a second text: the page marks [SEP] and the two segments")
    ap.add_argument("--out", required=True, help="the HTML file to write (refused if it exists, unless --overwrite)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    ap.add_argument("--title", help="the page's heading (default: the text)")
    ap.add_argument("--view", choices=("head", "model", "formula"), default="head", help="the view it opens on")
    ap.add_argument("--layer", type=int, default=0, help="the layer chosen when it opens (from 0)")
    ap.add_argument("--head", type=int, default=0, help="the head chosen in the formula view (from 0)")
    ap.add_argument("--query", type=int, default=0, help="the query token of the formula view (0 = [CLS])")
    return ap


def model_class(path: str, model_type: str, classes: dict[str, type], base: type) -> type:
    """The class to load `path` with: the one config.json's `architectures` names if it is in `classes`, else `base`.
    OSError without config.json; ValueError for another model_type."""
    config_file = os.path.join(path, "config.json")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"--model: no such folder {path!r}")
    if not os.path.isfile(config_file):
        raise FileNotFoundError(f"--model: no config.json in {path!r} (expected a from_pretrained folder)")
    config = read_config_json(config_file)
    found = config.get("model_type", model_type)
    if found != model_type:
        hint = " (a DistilBERT folder: use python -m distil.explore)" if found == "distilbert" else ""
        raise ValueError(f"{config_file}: model_type must be {model_type!r}, got {found!r}{hint}")
    names = config.get("architectures") or []
    return classes.get(names[0], base) if names and isinstance(names[0], str) else base


def load_bert(path: str) -> nn.Module:
    """A BERT folder as the class its config.json names (BertModel when it names none of ours)."""
    import bert

    classes = {name: getattr(bert, name) for name in bert.__all__ if name.startswith("Bert") and name != "BertConfig"}
    return model_class(path, "bert", classes, bert.BertModel).from_pretrained(path)


def run(args: argparse.Namespace, load: Callable[[str], nn.Module] = load_bert) -> str:
    """Write the page for parsed arguments; return the line to print."""
    from tokenization import BertTokenizer

    from .tools.explore import explore

    if os.path.isdir(args.out):
        raise IsADirectoryError(f"--out must be a file name, got the folder {args.out!r}")
    parent = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"--out {args.out!r}: its folder {parent!r} does not exist")
    if os.path.exists(args.out) and not args.overwrite:
        raise FileExistsError(f"--out {args.out!r} exists; choose a new name or give --overwrite to replace it")
    model = load(args.model)
    tokenizer = BertTokenizer.from_pretrained(args.model)
    page = explore(model, tokenizer, args.text, pair=args.pair, title=args.title, view=args.view, layer=args.layer,
                   head=args.head, query=args.query)
    page.save(args.out, overwrite=args.overwrite)
    size = os.path.getsize(args.out)
    return (f"wrote {args.out} ({size / 1e6:.2f} MB): {type(model).__name__}, {len(page.data['tokens'])} tokens, "
            f"{page.data['layers']} layers x {page.data['heads']} heads; open it in a browser (no network needed)")


def main(argv: list[str] | None = None, prog: str = PROG, load: Callable[[str], nn.Module] = load_bert) -> str:
    """The command line (`argv`, default sys.argv[1:]): write the page and print one line; on a bad argument,
    folder or text, print one line to stderr and exit with status 2 (SystemExit), never a traceback."""
    args = build_parser(prog).parse_args(argv)
    try:
        line = run(args, load)
    except (OSError, ValueError, TypeError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    print(line)
    return line


if __name__ == "__main__":
    main()
