"""Named-entity recognition (article 003 §5, 序列标注): CoNLL-2003 files, word-piece labels, entity-level F1.

    python -m bert.finetune --task ner --model DIR --train train.txt --dev valid.txt [--test test.txt] --out OUT

What is NER's own lives here; the CLI, the loop and saving are bert/finetune.py's (`--task ner`):

- `read_conll`: the 4-column CoNLL format (`token POS chunk NER`; `-DOCSTART-` lines between documents, blank lines
  between sentences) → words and tags per sentence;
- `align_labels`: the tags of words → labels of word pieces. BERT tags the *first* piece of each word and ignores
  the rest (−100), as Devlin et al. 2019 §5.3 do ("we use the representation of the first sub-token as the input to
  the token-level classifier"); `word_log_probs` reads the predictions back at those first pieces;
- `entity_spans` / `entity_scores`: entity-level precision, recall and F1 with exact span match — the CoNLL
  shared task's definition (Tjong Kim Sang & De Meulder 2003 §4; its `conlleval` script);
- `TokenClassificationData` (the data in the shape the training loop reads), `predict_tags` and `evaluate_tagger`:
  each word its most probable tag (`decode="argmax"`, as transformers' pipeline), or the most probable tag sequence
  that BIO allows (`decode="bio"`, bert/viterbi.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .losses import IGNORE_INDEX
from .training import pad_batch
from .viterbi import bio_viterbi

OUTSIDE = "O"                    # the tag of a word outside every entity


# ----------------------------------------------------------------------------- the CoNLL file
@dataclass
class TaggedSentences:
    """Sentences as lists of words, each word with its tag ("O", "B-PER", "I-PER", …)."""
    words: list[list[str]]
    tags: list[list[str]]
    path: str | None = None      # the file they were read from (errors name it)

    def __len__(self) -> int:
        return len(self.words)


def check_tag(tag: str, where: str = "") -> None:
    """A tag is "O" or "B-TYPE" / "I-TYPE" with a non-empty TYPE; anything else is a ValueError naming it."""
    prefix, dash, kind = tag.partition("-")
    if tag != OUTSIDE and not (prefix in ("B", "I") and dash and kind):
        raise ValueError(f"{where}tag must be 'O', 'B-TYPE' or 'I-TYPE', got {tag!r}")


def read_conll(path: str | os.PathLike, limit: int | None = None) -> TaggedSentences:
    """Read a CoNLL-2003 file: one word per line, space-separated columns, the word first and its NER tag last
    (`EU NNP B-NP B-ORG`); a blank line ends a sentence; a `-DOCSTART-` line starts a document (it is no word).

    UTF-8 with or without a byte-order mark (a Windows editor's U+FEFF is no word). Every word line must have the
    same number of columns (≥ 2) as the file's first one. Errors name the file and
    line: a missing or non-UTF-8 file (OSError), a line with another number of columns, a malformed tag, a file with
    no sentence (ValueError). `limit`: stop after that many sentences."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OSError(f"CoNLL file not found: {path!r}")
    words: list[list[str]] = []
    tags: list[list[str]] = []
    sentence: list[tuple[str, str]] = []
    columns = None

    def end_sentence() -> None:
        if sentence:
            words.append([w for w, _ in sentence])
            tags.append([t for _, t in sentence])
            sentence.clear()

    with open(path, encoding="utf-8-sig", newline="") as f:
        try:
            lines = f.read().splitlines()
        except UnicodeDecodeError as e:
            raise OSError(f"{path!r} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    for line_no, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            end_sentence()
            if limit is not None and len(words) >= limit:
                break
            continue
        columns = columns or len(fields)
        if len(fields) != columns or columns < 2:
            raise ValueError(f"{path!r} line {line_no}: expected {max(columns, 2)} space-separated columns "
                             f"(word … tag), got {len(fields)}: {line!r}")
        check_tag(fields[-1], f"{path!r} line {line_no}: ")
        sentence.append((fields[0], fields[-1]))
    end_sentence()
    if not words:
        raise ValueError(f"{path!r} holds no sentence (expected lines 'word POS chunk TAG', blank between sentences)")
    return TaggedSentences(words[:limit] if limit else words, tags[:limit] if limit else tags, path)


def label_list(tags: Sequence[Sequence[str]]) -> list[str]:
    """The label set of a corpus, in a fixed order: "O", then for each entity type (sorted) its B- and I- tags.
    Both tags of a type are listed once the type occurs, so a model can predict an I- it never saw in training."""
    kinds = sorted({t[2:] for sentence in tags for t in sentence if t != OUTSIDE})
    return [OUTSIDE] + [f"{p}-{k}" for k in kinds for p in ("B", "I")]


# ----------------------------------------------------------------------------- entity-level scores
def entity_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of one tagged sentence as (type, start, end) word spans, end exclusive, read as conlleval does.

    An entity starts at B-X, and also at an I-X that does not continue an entity of type X (after O, or after an
    entity of another type): IOB1-style stray I- tags open an entity instead of being dropped — conlleval's
    `startOfChunk` and seqeval's default mode. It ends before O, before any B-, and before an I- of another type.
    So `I-PER I-PER` is one PER entity, `B-PER I-ORG` a PER and an ORG entity of one word each."""
    spans: list[tuple[str, int, int]] = []
    start, kind = 0, None
    for i, tag in enumerate([*tags, OUTSIDE]):                       # the sentinel O closes the last entity
        check_tag(tag)
        prefix, _, t = tag.partition("-")
        if kind is not None and (prefix != "I" or t != kind):        # the open entity ends before this word
            spans.append((kind, start, i))
            kind = None
        if prefix == "B" or (prefix == "I" and kind is None):        # a B-, or a stray I-, opens one
            start, kind = i, t
    return spans


def f_score(correct: int, predicted: int, gold: int) -> dict[str, float]:
    """P = correct / predicted, R = correct / gold, F1 = 2PR / (P + R) (each 0 when its denominator is 0) — the
    F-measure with β = 1 (van Rijsbergen 1979, ch. 7); the one F1 of the library (`classification_metrics` too)."""
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """Entity-level precision, recall and F1 over a corpus (the CoNLL-2003 definition: Tjong Kim Sang & De Meulder
    2003 §4, `conlleval`), micro-averaged over entities and also per type:

        G = the gold entities, P = the predicted ones, each a (sentence, type, start, end) span (`entity_spans`)
        precision = |P ∩ G| / |P|,   recall = |P ∩ G| / |G|,   F1 = 2·precision·recall / (precision + recall)

    An entity counts as correct only with the exact span *and* type; a half-found name counts as one false positive
    and one false negative. Returns {"precision", "recall", "f1", "correct", "predicted", "gold", "per_type": {type:
    {"precision", "recall", "f1", "support" (= gold count)}}}; scores are fractions (conlleval prints percentages)."""
    if len(gold) != len(predicted):
        raise ValueError(f"gold and predicted must hold the same number of sentences, got {len(gold)} and "
                         f"{len(predicted)}")
    g_all: set = set()
    p_all: set = set()
    for n, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sentence {n}: {len(g)} gold tags but {len(p)} predicted tags")
        g_all.update((n, *s) for s in entity_spans(g))
        p_all.update((n, *s) for s in entity_spans(p))
    scores = {**f_score(len(g_all & p_all), len(p_all), len(g_all)),
              "correct": len(g_all & p_all), "predicted": len(p_all), "gold": len(g_all), "per_type": {}}
    for kind in sorted({s[1] for s in g_all | p_all}):
        g = {s for s in g_all if s[1] == kind}
        p = {s for s in p_all if s[1] == kind}
        scores["per_type"][kind] = {**f_score(len(g & p), len(p), len(g)), "support": len(g)}
    return scores


# ----------------------------------------------------------------------------- word pieces
def align_labels(pieces: Sequence[Sequence[int]], labels: Sequence[int] | None, cls_id: int, sep_id: int,
                 unk_id: int, max_length: int) -> tuple[list[int], list[int], list[int]]:
    """One sentence's words (their word-piece ids) → (input_ids, labels, starts) for a token classifier:

        input_ids = [CLS] pieces(w_1) … pieces(w_n) [SEP], cut to max_length (the cut keeps [SEP])
        labels    = −100 on [CLS], [SEP] and every piece but a word's first, which gets the word's label
        starts    = the position of each kept word's first piece (a word cut off entirely has none)

    A word with no piece (only characters the tokenizer drops) becomes [UNK], so every word keeps a prediction.
    `labels` None (prediction only): every label is −100."""
    if max_length < 3:
        raise ValueError(f"max_length must be ≥ 3 ([CLS], one piece, [SEP]), got {max_length}")
    ids, out, starts = [cls_id], [IGNORE_INDEX], []
    for w, word in enumerate(pieces):
        word = list(word) or [unk_id]
        if len(ids) >= max_length - 1:
            break
        starts.append(len(ids))
        ids += word
        out += [IGNORE_INDEX if labels is None else labels[w]] + [IGNORE_INDEX] * (len(word) - 1)
    ids, out = ids[:max_length - 1] + [sep_id], out[:max_length - 1] + [IGNORE_INDEX]
    return ids, out, starts


class TokenClassificationData:
    """Tagged sentences in the shape the training loop reads (bert/training/batches.py `EpochData`): `collate`
    gives input_ids, attention_mask and labels (B, T), labels −100 where nothing is predicted; each sentence keeps
    its attention_mask (`masks`: 1 on each of its pieces, made with its ids) for pad_batch to pad.

    Words are split into pieces one by one (the tokenizer on each distinct word, without special tokens), so a
    piece never straddles two words: the word boundaries of the file are kept exactly."""

    def __init__(self, table: TaggedSentences, tokenizer, labels: Sequence[str], max_length: int = 128):
        self.table, self.labels = table, list(labels)
        index = {t: i for i, t in enumerate(self.labels)}
        unknown = sorted({t for s in table.tags for t in s} - set(index))
        if unknown:
            where = f"{table.path!r}: " if table.path else ""
            raise ValueError(f"{where}tags {unknown} are not in the label set {self.labels}")
        vocab = sorted({w for s in table.words for w in s})
        pieces = dict(zip(vocab, tokenizer(vocab, add_special_tokens=False)["input_ids"]))
        self.pad_id = tokenizer.pad_token_id
        self.ids, self.masks, self.targets, self.starts = [], [], [], []
        for words, tags in zip(table.words, table.tags):
            ids, targets, starts = align_labels([pieces[w] for w in words], [index[t] for t in tags],
                                                tokenizer.cls_token_id, tokenizer.sep_token_id,
                                                tokenizer.unk_token_id, max_length)
            self.ids.append(ids)
            self.masks.append([1] * len(ids))                   # every piece is real until the batch pads it
            self.targets.append(targets)
            self.starts.append(starts)
        self.cut_words = sum(len(w) - len(s) for w, s in zip(table.words, self.starts))   # beyond max_length

    @classmethod
    def from_conll(cls, path: str, tokenizer, labels: Sequence[str] | None = None, max_length: int = 128,
                   limit: int | None = None) -> "TokenClassificationData":
        table = read_conll(path, limit)
        return cls(table, tokenizer, labels or label_list(table.tags), max_length)

    def num_examples(self, epoch: int) -> int:
        return len(self.ids)

    def lengths(self, epoch: int) -> list[int]:
        return [len(x) for x in self.ids]

    def collate(self, epoch: int, indices: Sequence[int]) -> dict[str, Tensor]:
        return pad_batch([{"input_ids": self.ids[i], "attention_mask": self.masks[i], "labels": self.targets[i]}
                          for i in indices], self.pad_id)


def conll_data(train: str, others: dict[str, str | None], tokenizer, max_length: int = 128,
               limit: int | None = None, eval_limit: int | None = None
               ) -> tuple[TokenClassificationData, dict[str, TokenClassificationData]]:
    """The training file's data over its own tags (`label_list`), and each other file given ({"dev": path, …}) over
    the same tags; a tag the training file lacks is a ValueError naming both files (a model trained on the
    training tags could never predict it). `limit`: sentences of the training file; `eval_limit`: of each other."""
    table = read_conll(train, limit)
    tags = label_list(table.tags)
    sets = {}
    for name, path in others.items():
        if path:
            other = read_conll(path, eval_limit)
            unknown = sorted({t for s in other.tags for t in s} - set(tags))
            if unknown:
                raise ValueError(f"the {name} file {path!r} has tags {unknown} that the training file {train!r} "
                                 f"lacks (its tags: {tags})")
            sets[name] = TokenClassificationData(other, tokenizer, tags, max_length)
    return TokenClassificationData(table, tokenizer, tags, max_length), sets


@torch.no_grad()
def word_log_probs(model: nn.Module, data: TokenClassificationData, batch_size: int = 64,
                   device: str | torch.device = "cpu") -> list[Tensor]:
    """log p(tag) at the first piece of every kept word of every sentence of `data` (log_softmax of the logits,
    one (kept words, K) tensor per sentence, in order), in eval mode, in batches of similar lengths."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(data.ids)), key=lambda i: len(data.ids[i]))      # similar lengths: little padding
    out: list[Tensor] = [torch.zeros(0, len(data.labels)) for _ in data.ids]
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = pad_batch([{"input_ids": data.ids[i], "attention_mask": data.masks[i]} for i in rows], data.pad_id)
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits          # (B, T, K)
        log_probs = logits.float().log_softmax(-1).cpu()
        for b, i in enumerate(rows):
            out[i] = log_probs[b, data.starts[i]]
    model.train(was_training)
    return out


DECODINGS = ("argmax", "bio", "crf")


def check_decode(decode: object) -> str:
    """`decode` if it is one of DECODINGS (ValueError naming it otherwise)."""
    if decode not in DECODINGS:
        raise ValueError(f"decode: expected one of {DECODINGS}, got {decode!r}")
    return decode


def decode_tags(log_probs: Tensor, labels: Sequence[str], decode: str = "argmax", crf: nn.Module | None = None
                ) -> list[str]:
    """Tags from per-word log-probabilities (T, K): "argmax" gives each word its most probable tag (what
    transformers' token-classification pipeline does); "bio" the most probable sequence that BIO allows
    (`bert.viterbi.bio_viterbi`); "crf" the best sequence under the tagger's learned transitions (`crf`, a
    `bert.crf.CRF`: the per-word log-softmax shifts every sequence's score by the same amount, so decoding the
    log-probabilities is decoding the logits)."""
    if check_decode(decode) == "argmax":
        return [labels[j] for j in log_probs.argmax(-1).tolist()]
    if decode == "crf":
        return check_crf(crf).decode(log_probs)
    return bio_viterbi(log_probs, labels)


def check_crf(crf: object) -> nn.Module:
    """`crf` if it is a CRF (a `BertCrfForTokenClassification`'s `.crf`); else ValueError: decode="crf" needs one."""
    if crf is None or not hasattr(crf, "decode"):
        raise ValueError("decode='crf' reads tags with a tagger's learned transitions: it needs a "
                         "BertCrfForTokenClassification (python -m bert.finetune --crf); use 'bio' or 'argmax'")
    return crf


def predict_tags(model: nn.Module, data: TokenClassificationData, batch_size: int = 64,
                 device: str | torch.device = "cpu", decode: str = "argmax") -> list[list[str]]:
    """The tag of every word of `data`, in order (`decode_tags` of `word_log_probs`); words cut off by max_length
    get "O" (they are then missed entities, not silently dropped from the score)."""
    crf = check_crf(getattr(model, "crf", None)) if check_decode(decode) == "crf" else None   # before the model runs
    return [decode_tags(lp, data.labels, decode, crf) + [OUTSIDE] * (len(words) - len(lp))
            for lp, words in zip(word_log_probs(model, data, batch_size, device), data.table.words)]


def evaluate_tagger(model: nn.Module, data: TokenClassificationData, device: str | torch.device = "cpu",
                    decode: str = "argmax") -> dict:
    """Entity-level precision, recall and F1 (`entity_scores`) of a token classifier on `data`, e.g. the dev set."""
    s = entity_scores(data.table.tags, predict_tags(model, data, device=device, decode=decode))
    return {k: s[k] for k in ("precision", "recall", "f1")}


__all__ = ["TaggedSentences", "read_conll", "check_tag", "label_list", "entity_spans", "f_score", "entity_scores",
           "align_labels", "TokenClassificationData", "conll_data", "word_log_probs", "DECODINGS", "check_decode",
           "decode_tags", "check_crf",
           "predict_tags", "evaluate_tagger"]
