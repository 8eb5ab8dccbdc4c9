"""Pre-training examples for MLM + NSP: documents of tokenized sentences → `[CLS] A [SEP] B [SEP]` pairs.

The procedure of google-research/bert `create_pretraining_data.py` (`create_instances_from_document`,
`truncate_seq_pair`), which the paper describes in §3.1 Task #2 and Appendix A.1 ("50% of the time B is the actual
next sentence that follows A (labeled as IsNext), and 50% of the time it is a random sentence from the corpus
(labeled as NotNext)"); articles 003 §3.1 and 004 §3.2.1 (预训练) name the two tasks.

For each document, segments (sentences) are gathered into a *chunk* until it reaches a target length — the
sequence budget T − 3 (room for [CLS] and two [SEP]), or, with probability `short_seq_prob`, a random length in
[2, T − 3] so the model also sees short inputs. The chunk is cut at a random segment boundary: A = the first part.
With probability ½ B is the rest of the chunk (IsNext, label 0); otherwise B is taken from a random *other*
document, starting at a random segment, until it fills the target (NotNext, label 1), and the chunk's unused
segments go back to be read again. Then `truncate_seq_pair` trims the longer of A and B, one token at a time from
its front or its back at random, until the pair fits.

Where this departs from google's code, and why:
- The random document is drawn among the *other* documents, so B is never from A's document. google's code tries
  ten times to draw a different document and may still use the same one.
- A chunk is closed only once it holds two segments (or its document ends), and a last lone segment of a document
  joins the chunk before it. A chunk of one segment (a one-sentence document) makes no example but still serves as
  random B material: it cannot have a true next sentence, and google's code turns every such chunk into a NotNext
  example — on the standard-library docstrings (half of them one sentence long) the labels would then be far from
  50/50, and "A is short and alone" would give NSP away. Here the label is a fair coin, drawn for every example.

Everything is drawn from one `random.Random`, so the examples are a function of the documents and the seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

Token = int | tuple[int, bool]    # an id, or (id, continues_word) where the text marks words (Chinese wwm, data.py)
Segment = Sequence[Token]         # the tokens of one sentence
TokenizedDocument = Sequence[Segment]

IS_NEXT, NOT_NEXT = 0, 1          # NSP labels, as HF and google: 0 = B follows A, 1 = B is random


@dataclass(frozen=True)
class PretrainingExample:
    """One `[CLS] A [SEP] B [SEP]` pair, before masking.

    input_ids: the ids; token_type_ids: 0 for [CLS] A [SEP], 1 for B [SEP]; next_sentence_label: 0 = IsNext,
    1 = NotNext; a_document / b_document: where A and B came from (equal iff IsNext); word_continues: per position,
    whether the token continues the word before it, when the segments' tokens carry it (else None)."""
    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...]
    next_sentence_label: int
    a_document: int
    b_document: int
    word_continues: tuple[bool, ...] | None = None

    def __len__(self) -> int:
        return len(self.input_ids)


def truncate_seq_pair(tokens_a: list[int], tokens_b: list[int], max_num_tokens: int, rng: random.Random) -> None:
    """Trim A and B in place until len(A) + len(B) ≤ max_num_tokens: each time the longer one (B on a tie) loses
    one token, from its front or its back with probability ½ each (google's `truncate_seq_pair`: trimming both
    ends avoids always cutting the sentence end, a bias the model could learn)."""
    if max_num_tokens < 2:
        raise ValueError(f"max_num_tokens must be >= 2 (one token each for A and B), got {max_num_tokens}")
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        trunc = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del trunc[0]
        else:
            trunc.pop()


def pack_pair(tokens_a: Sequence[int], tokens_b: Sequence[int], cls_id: int, sep_id: int
              ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """`[CLS] A [SEP] B [SEP]` and its token types (segment ids): 0 up to the first [SEP], 1 after it."""
    ids = (cls_id, *tokens_a, sep_id, *tokens_b, sep_id)
    types = (0,) * (len(tokens_a) + 2) + (1,) * (len(tokens_b) + 1)
    return ids, types


def split_tokens(tokens: Sequence[Token]) -> tuple[list[int], list[bool] | None]:
    """Tokens → (ids, word_continues flags, or None when the tokens are plain ids)."""
    if tokens and isinstance(tokens[0], tuple):
        return [t[0] for t in tokens], [t[1] for t in tokens]
    return list(tokens), None


def _other_document(n_docs: int, doc_index: int, rng: random.Random) -> int:
    """A uniformly random document index ≠ doc_index."""
    j = rng.randrange(n_docs - 1)
    return j + 1 if j >= doc_index else j


def create_examples_from_document(documents: Sequence[TokenizedDocument], doc_index: int, max_seq_length: int,
                                  short_seq_prob: float, rng: random.Random, cls_id: int, sep_id: int
                                  ) -> list[PretrainingExample]:
    """The examples of document `doc_index` (the procedure in the module docstring)."""
    document = documents[doc_index]
    max_num_tokens = max_seq_length - 3                              # room for [CLS], [SEP], [SEP]
    target = max_num_tokens
    if rng.random() < short_seq_prob:
        target = rng.randint(2, max_num_tokens)
    examples: list[PretrainingExample] = []
    chunk: list[Segment] = []
    length = 0
    i = 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        remaining = len(document) - 1 - i                            # segments after this one
        if remaining == 0 or (length >= target and len(chunk) >= 2 and remaining != 1):
            if len(chunk) >= 2:
                a_end = rng.randint(1, len(chunk) - 1)               # A = chunk[:a_end], at least one segment
                tokens_a = [t for seg in chunk[:a_end] for t in seg]
                if rng.random() < 0.5:                               # NotNext: B from another document
                    b_doc = _other_document(len(documents), doc_index, rng)
                    random_document = documents[b_doc]
                    target_b = target - len(tokens_a)
                    tokens_b: list[int] = []
                    for seg in random_document[rng.randint(0, len(random_document) - 1):]:
                        tokens_b.extend(seg)
                        if len(tokens_b) >= target_b:
                            break
                    i -= len(chunk) - a_end                          # the unused segments are read again
                    label = NOT_NEXT
                else:                                                # IsNext: B = the rest of the chunk
                    b_doc = doc_index
                    tokens_b = [t for seg in chunk[a_end:] for t in seg]
                    label = IS_NEXT
                truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
                (a_ids, a_flags), (b_ids, b_flags) = split_tokens(tokens_a), split_tokens(tokens_b)
                ids, types = pack_pair(a_ids, b_ids, cls_id, sep_id)
                flags = None if a_flags is None or b_flags is None else (False, *a_flags, False, *b_flags, False)
                examples.append(PretrainingExample(ids, types, label, doc_index, b_doc, flags))
            chunk, length = [], 0
        i += 1
    return examples


def create_examples(documents: Sequence[TokenizedDocument], max_seq_length: int, seed: int | str,
                    short_seq_prob: float = 0.1, cls_id: int = 2, sep_id: int = 3) -> list[PretrainingExample]:
    """Examples of every document, in document order (the trainer shuffles), drawn from Random(seed).

    documents: each a sequence of segments (token-id lists, no special tokens); empty segments and documents are
    not allowed. Raises ValueError for fewer than two documents (NotNext needs another document)."""
    if not isinstance(max_seq_length, int) or max_seq_length < 5:
        raise ValueError(f"max_seq_length must be an int >= 5 ([CLS] A [SEP] B [SEP]), got {max_seq_length!r}")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"short_seq_prob must be in [0, 1], got {short_seq_prob!r}")
    if len(documents) < 2:
        raise ValueError(f"need at least 2 documents (NotNext takes B from another document), got {len(documents)}")
    for d, doc in enumerate(documents):
        if not doc or any(len(seg) == 0 for seg in doc):
            raise ValueError(f"document {d} is empty or has an empty segment; drop those before building examples")
    rng = random.Random(f"examples:{seed}")
    return [ex for d in range(len(documents))
            for ex in create_examples_from_document(documents, d, max_seq_length, short_seq_prob, rng, cls_id, sep_id)]
