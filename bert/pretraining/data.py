"""The pre-training data pipeline: documents → token ids → examples per epoch → masked, padded batches.

    docs = load_documents("stdlib")                         # corpus.py: lists of sentences
    train_docs, heldout_docs = split_heldout(docs)          # whole documents held out for evaluation
    ids = tokenize_documents(train_docs, tokenizer)         # the tokenizer's fast path, in large batches
    data = PretrainingData(ids, MaskingSpec.from_tokenizer(tokenizer), pad_id=0, seq_len=128, seed=0)
    batch = data.collate(epoch=0, indices=[0, 1, 2])        # dict of tensors for BertForPreTraining

Determinism: the examples of epoch e come from Random("examples:{seed}:{e}") and the mask of example i in epoch e
from Random("mask:{seed}:{e}:{i}") — each a function of its own key only, so an example gets the same mask whichever
process, batch or step reads it (what makes resuming and several processes give the same numbers).
`dynamic=True` (the default) builds fresh A/B pairs and fresh masks every epoch (RoBERTa's "dynamic masking",
Liu et al. 2019 §4.1; google's code gets some of the same effect by writing `dupe_factor` = 10 copies of the data);
`dynamic=False` reuses epoch 0's examples and masks for ever (static, as one pass of google's script).

The held-out evaluation set (`heldout_batches`) and the data of general distillation (`mlm_data`: the same pipeline,
with the teacher's vocabulary, for `python -m distil.train mlm`) are built here too, so that a teacher pre-trained
by `python -m bert.pretrain` and its distilled student are scored on the very same batches.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from torch import Tensor

from bert.training.collate import pad_batch
from tokenization.chars import is_chinese_char
from .corpus import Document, load_documents
from .examples import PretrainingExample, create_examples
from .masking import MaskingSpec, mask_tokens


def split_heldout(documents: Sequence[Document], fraction: float = 0.05, min_documents: int = 2,
                  max_documents: int | None = None, key: str = "heldout") -> tuple[list[Document], list[Document]]:
    """Split whole documents into (train, held-out), the same way on every run (a fixed shuffle, independent of
    the training seed, so runs with different seeds are scored on the same text). Held out:
    max(min_documents, round(fraction · n)) documents, capped by max_documents; both sides keep >= 2 documents."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"held-out fraction must be in (0, 1), got {fraction!r}")
    n = len(documents)
    k = max(min_documents, round(fraction * n))
    if max_documents is not None:
        k = min(k, max_documents)
    if n - k < 2 or k < 2:
        raise ValueError(f"corpus too small: {n} documents cannot give >= 2 training and >= 2 held-out documents "
                         f"(held out {k}); add text or lower the held-out fraction")
    order = list(range(n))
    random.Random(key).shuffle(order)
    held = set(order[:k])
    return ([d for i, d in enumerate(documents) if i not in held], [d for i, d in enumerate(documents) if i in held])


def tokenize_documents(documents: Sequence[Document], tokenizer, chunk: int = 20000,
                       word_boundaries: bool = False) -> list[list[list]]:
    """Every sentence → its token ids (no special tokens), sentences tokenized in chunks through the tokenizer's
    batch call (the Rust fast path when the tokenizer has one). Sentences without tokens and documents without
    sentences are dropped. With `word_boundaries` (whole-word masking), a token is (id, continues_word) instead:
    see `word_continues`."""
    flat = [s for doc in documents for s in doc]
    ids: list[list] = []
    for start in range(0, len(flat), chunk):
        enc = tokenizer(flat[start:start + chunk], add_special_tokens=False, return_offsets_mapping=word_boundaries)
        if not word_boundaries:
            ids.extend(enc["input_ids"])
            continue
        for text, row, offsets in zip(flat[start:start + chunk], enc["input_ids"], enc["offset_mapping"]):
            pieces = tokenizer.convert_ids_to_tokens(row)
            ids.append(list(zip(row, word_continues(text, pieces, offsets))))
    out, k = [], 0
    for doc in documents:
        segments = [seg for seg in ids[k:k + len(doc)] if seg]
        k += len(doc)
        if segments:
            out.append(segments)
    return out


def word_continues(text: str, tokens: Sequence[str], offsets: Sequence[tuple[int, int]]) -> list[bool]:
    """Whether each token continues the word of the token before it — the word boundaries of whole-word masking:
    a "##" piece does (English and Chinese alike), and so does a token that touches the one before it in `text`
    (no space between) when either of the two is a CJK character — in segmented Chinese text ("中共中央 总书记",
    chinese.py), the characters of one word. Latin words and punctuation that touch ("word,") stay apart, as with
    "##" alone. tokens/offsets: the tokenizer's pieces and their character spans in `text`."""
    flags = []
    for i, (token, (start, _)) in enumerate(zip(tokens, offsets)):
        touches = i > 0 and offsets[i - 1][1] == start
        cjk = touches and (is_chinese_char(text[start]) or is_chinese_char(text[offsets[i - 1][1] - 1]))
        flags.append(token.startswith("##") or cjk)
    return flags


class PretrainingData:
    """Examples of one epoch at a time (see the module docstring), their lengths, and masked padded batches.

    documents: tokenized documents (lists of id lists); spec: masking settings and vocabulary facts; pad_id, cls_id,
    sep_id: the special ids; seq_len: the longest example (T); short_seq_prob: chance of a shorter target length."""

    def __init__(self, documents: Sequence[Sequence[Sequence[int]]], spec: MaskingSpec, *, pad_id: int,
                 cls_id: int, sep_id: int, seq_len: int = 128, seed: int = 0, short_seq_prob: float = 0.1,
                 dynamic: bool = True, pad_to_multiple_of: int | None = None):
        self.documents = documents
        self.spec = spec
        self.pad_id, self.cls_id, self.sep_id = pad_id, cls_id, sep_id
        self.seq_len = seq_len
        self.seed = seed
        self.short_seq_prob = short_seq_prob
        self.dynamic = dynamic
        self.pad_to_multiple_of = pad_to_multiple_of
        self._cached: tuple[int, list[PretrainingExample]] | None = None
        if not self.examples(0):
            raise ValueError("the corpus gives no examples: every document has a single sentence "
                             "(NSP needs documents of two sentences or more)")

    def _key(self, epoch: int) -> int:
        return epoch if self.dynamic else 0

    def examples(self, epoch: int) -> list[PretrainingExample]:
        """The (unmasked) examples of `epoch`, in document order; the last epoch asked for is kept in memory."""
        key = self._key(epoch)
        if self._cached is None or self._cached[0] != key:
            examples = create_examples(self.documents, self.seq_len, f"{self.seed}:{key}", self.short_seq_prob,
                                       self.cls_id, self.sep_id)
            self._cached = (key, examples)
        return self._cached[1]

    def num_examples(self, epoch: int) -> int:
        return len(self.examples(epoch))

    def lengths(self, epoch: int) -> list[int]:
        return [len(ex) for ex in self.examples(epoch)]

    def masked(self, epoch: int, index: int):
        """Example `index` of `epoch` with its masks (a MaskedExample) — the same every time it is asked for."""
        ex = self.examples(epoch)[index]
        rng = random.Random(f"mask:{self.seed}:{self._key(epoch)}:{index}")
        return mask_tokens(ex.input_ids, self.spec, rng, ex.word_continues)

    def collate(self, epoch: int, indices: Sequence[int]) -> dict[str, Tensor]:
        """The batch of these examples: input_ids, token_type_ids, attention_mask, labels (B, T) and
        next_sentence_label (B,), padded to the longest example."""
        examples = self.examples(epoch)
        rows = []
        for i in indices:
            m = self.masked(epoch, i)
            rows.append({"input_ids": m.input_ids, "token_type_ids": examples[i].token_type_ids,
                         "labels": m.labels, "next_sentence_label": examples[i].next_sentence_label})
        return pad_batch(rows, self.pad_id, self.pad_to_multiple_of)


# ----------------------------------------------------------------------------- evaluation and distillation data
def heldout_batches(heldout: PretrainingData, n_examples: int, batch_size: int = 64) -> list:
    """The fixed evaluation set: n_examples held-out examples, masked once. When the held-out documents give fewer
    examples, their "epochs" 1, 2, … (other A/B pairs and masks of the same text) fill it up, to at most 5 passes."""
    batches, total = [], 0
    for epoch in range(5):
        n = min(heldout.num_examples(epoch), n_examples - total)
        batches += [heldout.collate(epoch, list(range(s, min(s + batch_size, n)))) for s in range(0, n, batch_size)]
        total += n
        if total >= n_examples:
            break
    return batches


def mlm_data(corpus: Sequence[str], tokenizer, seq_len: int = 128, seed: int = 0, heldout_fraction: float = 0.05,
             eval_examples: int = 1000, eval_batch_size: int = 64,
             short_seq_prob: float = 0.1) -> tuple[PretrainingData, list[dict[str, Tensor]], dict[str, int]]:
    """(training data, held-out batches, stats) for MLM distillation, built as `python -m bert.pretrain` builds
    them: corpus → held-out documents → WordPiece ids → `[CLS] A [SEP] B [SEP]` examples → 80/10/10 masks, with the
    *teacher's* vocabulary. The same held-out split of whole documents (a teacher pre-trained there is scored on
    text it never saw) and, with the teacher's vocabulary and the same seq_len, the very same evaluation batches.
    (Task-specific distillation reads a labelled TSV instead: `bert.finetune.ClassificationData`.)"""
    documents = load_documents(list(corpus))
    train_docs, heldout_docs = split_heldout(documents, heldout_fraction)
    spec = MaskingSpec.from_tokenizer(tokenizer, max_predictions=-(-seq_len * 15 // 100))
    ids = dict(pad_id=tokenizer.pad_token_id, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id)
    train = PretrainingData(tokenize_documents(train_docs, tokenizer), spec, seq_len=seq_len, seed=seed,
                            short_seq_prob=short_seq_prob, **ids)
    heldout = PretrainingData(tokenize_documents(heldout_docs, tokenizer), spec, seq_len=seq_len, seed=0,
                              short_seq_prob=short_seq_prob, dynamic=True, **ids)
    batches = heldout_batches(heldout, eval_examples, eval_batch_size)       # the evaluation set of bert.pretrain
    stats = {"train_documents": len(train_docs), "heldout_documents": len(heldout_docs),
             "train_examples_epoch0": train.num_examples(0),
             "heldout_examples": sum(len(b["input_ids"]) for b in batches)}
    return train, batches, stats
