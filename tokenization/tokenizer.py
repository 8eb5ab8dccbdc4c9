"""BertTokenizer: text -> ids for BERT, with the Hugging Face calling convention.

    tok = BertTokenizer.from_pretrained("path/to/checkpoint")        # vocab.txt or tokenizer.json (+ configs)
    enc = tok(["a sentence", "another"], padding=True, truncation=True, max_length=128, return_tensors="pt")
    enc.input_ids, enc.token_type_ids, enc.attention_mask            # also enc["input_ids"], model(**enc)
    tok.decode(enc.input_ids[0], skip_special_tokens=True)

The pipeline for one text (each step in its own module):

    1. special tokens written in the text ("[MASK]", "[SEP]", ...) are cut out first and kept whole, exactly as
       written (case-sensitive), as Hugging Face does;
    2. BasicTokenizer (basic.py): clean, isolate CJK ideographs, strip accents + lower-case, split punctuation;
    3. WordpieceTokenizer (wordpiece.py): each word -> greedy longest-match-first pieces, [UNK] if none;
    4. ids from vocab.txt; truncation, [CLS]/[SEP], token types and padding (encoding.py).

Steps 2-3 are remembered per whitespace-separated chunk of cleaned text (chunk -> its ids), so a corpus pays for
each distinct word about once; the memo is bounded (cache.py: at most 65,536 chunks of at most 32 characters, the
least recently used dropped first), so a long input cannot grow it without limit. `backend="fast"` computes the
same ids with the Rust `tokenizers` library (fast.py); the from-scratch path is the default and the reference.
Ids -> text is decoding.py; the checkpoint folder is pretrained.py (tokenizer.json: tokenizer_json.py); the options'
types are checked by options.py; DistilBertTokenizer (distilbert.py) is this class without token_type_ids.

Offsets (return_offsets_mapping) are character spans of the input, (0, 0) for [CLS], [SEP] and [PAD]; they equal
the reference's everywhere except inside a run of combining marks that NFD puts in a new order, where the
reference's byte-level bookkeeping credits the reordered marks its own way (the ids are the same).
"""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .basic import BasicTokenizer
from .cache import BoundedCache
from .decoding import as_id_list, clean_up_tokenization, join_tokens
from .encoding import (BatchEncoding, check_inputs, check_return_tensors, check_text, kept_lengths, pad_row,
                       resolve_options, to_tensors)
from .fast import FastBackend
from .options import SPECIAL_NAMES, check_arguments
from .pretrained import read_pretrained, write_pretrained
from .vocab import load_vocab
from .wordpiece import WordpieceTokenizer

_NON_SPACE = re.compile(r"[^ ]+")


class BertTokenizer:
    """WordPiece tokenizer for BERT, written from scratch; same tokens, ids and offsets as Hugging Face's.

    Args:
        vocab_file: path of vocab.txt (or give `vocab`, a {token: id} dict or a list of tokens in id order).
        do_lower_case: lower-case (and, unless strip_accents says otherwise, strip accents): uncased checkpoints.
        unk_token, sep_token, pad_token, cls_token, mask_token: the special tokens; they must be in the vocabulary.
        tokenize_chinese_chars: make each CJK ideograph a word of its own.
        strip_accents: None = follow do_lower_case (BERT's rule); True/False to force.
        never_split: chunks the BasicTokenizer keeps whole (a list, tuple or set of str).
        model_max_length: default max_length for truncation / padding="max_length" (512 for BERT checkpoints).
        max_input_chars_per_word: longer words become [UNK].
        clean_up_tokenization_spaces: default of decode's option of that name.
        backend: "python" (from scratch, the default) or "fast" (the Rust `tokenizers` library; same outputs).

    Each argument's type is checked (options.py): `do_lower_case="false"` is a TypeError, not a true value.
    `model_input_names` are the fields a call returns by default (transformers' attribute of that name;
    DistilBertTokenizer leaves out token_type_ids).
    """

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(self, vocab_file: str | os.PathLike | None = None, do_lower_case: bool = True,
                 unk_token: str = "[UNK]", sep_token: str = "[SEP]", pad_token: str = "[PAD]",
                 cls_token: str = "[CLS]", mask_token: str = "[MASK]", tokenize_chinese_chars: bool = True,
                 strip_accents: bool | None = None, never_split: Iterable[str] | None = None,
                 model_max_length: int | None = None, max_input_chars_per_word: int = 100,
                 clean_up_tokenization_spaces: bool = False, backend: str = "python",
                 vocab: dict[str, int] | Sequence[str] | None = None):
        if (vocab_file is None) == (vocab is None):
            raise ValueError("BertTokenizer: give exactly one of vocab_file (path of vocab.txt) and vocab")
        check_arguments(dict(do_lower_case=do_lower_case, unk_token=unk_token, sep_token=sep_token,
                             pad_token=pad_token, cls_token=cls_token, mask_token=mask_token,
                             tokenize_chinese_chars=tokenize_chinese_chars, strip_accents=strip_accents,
                             never_split=never_split, model_max_length=model_max_length,
                             max_input_chars_per_word=max_input_chars_per_word,
                             clean_up_tokenization_spaces=clean_up_tokenization_spaces))
        if vocab_file is not None:
            vocab = load_vocab(vocab_file)
        elif not isinstance(vocab, dict):
            vocab = {token: i for i, token in enumerate(vocab)}
        if backend not in ("python", "fast"):
            raise ValueError(f"backend: expected 'python' or 'fast', got {backend!r}")
        self.vocab: dict[str, int] = vocab
        self.ids_to_tokens: dict[int, str] = {i: t for t, i in vocab.items()}
        if sorted(self.ids_to_tokens) != list(range(len(vocab))):
            raise ValueError(f"vocab: ids must be 0..{len(vocab) - 1}, each once")
        specials = dict(zip(SPECIAL_NAMES, (unk_token, sep_token, pad_token, cls_token, mask_token)))
        for name, token in specials.items():
            if token not in vocab:
                raise ValueError(f"{name}: {token!r} is not in the vocabulary ({len(vocab)} tokens)")
            setattr(self, name, token)
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents
        self.model_max_length = model_max_length
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.backend = backend
        self.basic_tokenizer = BasicTokenizer(do_lower_case, never_split, tokenize_chinese_chars, strip_accents)
        self.wordpiece_tokenizer = WordpieceTokenizer(vocab, unk_token, max_input_chars_per_word)
        self.all_special_tokens = list(dict.fromkeys(specials.values()))
        self.all_special_ids = [vocab[t] for t in self.all_special_tokens]
        # special tokens written in the text: longest first, so that the regex finds the longest match
        self._special_re = re.compile("|".join(map(re.escape, sorted(self.all_special_tokens, key=len, reverse=True))))
        self._cache: BoundedCache[tuple[tuple[int, ...], tuple[tuple[int, int], ...]]] = BoundedCache()
        self._fast = None
        if backend == "fast":  # chosen once, here
            self._fast = FastBackend(vocab, specials, do_lower_case=do_lower_case, strip_accents=strip_accents,
                                     tokenize_chinese_chars=tokenize_chinese_chars,
                                     never_split=self.basic_tokenizer.never_split,
                                     max_input_chars_per_word=max_input_chars_per_word)

    # ---------------------------------------------------------------- loading and saving (pretrained.py)
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs: Any) -> "BertTokenizer":
        """Load from a checkpoint directory: vocab.txt or tokenizer.json (what transformers 5 saves), with options
        from tokenizer.json's normaliser, tokenizer_config.json and special_tokens_map.json (pretrained.py has the
        precedence). Keyword arguments override them (e.g. backend="fast")."""
        vocab, options = read_pretrained(path)
        return cls(vocab=vocab, **{**options, **kwargs})

    def save_pretrained(self, path: str | os.PathLike) -> tuple[str, ...]:
        """Write vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json into `path` (the folder
        changes as a whole, atomically; its other files are kept); it loads back here and in transformers."""
        options = {"do_lower_case": self.do_lower_case, "tokenize_chinese_chars": self.tokenize_chinese_chars,
                   "strip_accents": self.strip_accents, "never_split": sorted(self.basic_tokenizer.never_split) or None,
                   "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
                   "model_max_length": self.model_max_length,
                   "max_input_chars_per_word": self.wordpiece_tokenizer.max_input_chars_per_word,
                   **{name: getattr(self, name) for name in SPECIAL_NAMES}}
        return write_pretrained(path, self.vocab, options, type(self).__name__)

    # ---------------------------------------------------------------- vocabulary
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    @property
    def unk_token_id(self) -> int:
        return self.vocab[self.unk_token]

    @property
    def sep_token_id(self) -> int:
        return self.vocab[self.sep_token]

    @property
    def pad_token_id(self) -> int:
        return self.vocab[self.pad_token]

    @property
    def cls_token_id(self) -> int:
        return self.vocab[self.cls_token]

    @property
    def mask_token_id(self) -> int:
        return self.vocab[self.mask_token]

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        """Token(s) -> id(s); a token not in the vocabulary -> unk_token_id."""
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int], skip_special_tokens: bool = False) -> str | list[str]:
        """Id(s) -> token(s). Raises ValueError for an id outside 0..vocab_size-1."""
        if isinstance(ids, numbers.Integral) and not isinstance(ids, bool):
            return self._id_to_token(int(ids))
        ids = as_id_list(ids, "ids")
        special = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._id_to_token(i) for i in ids if i not in special]

    def _id_to_token(self, i: int) -> str:
        token = self.ids_to_tokens.get(i)
        if token is None:
            raise ValueError(f"token id {i!r} is outside the vocabulary (0..{len(self.vocab) - 1})")
        return token

    # ---------------------------------------------------------------- text -> tokens / ids
    def tokenize(self, text: str) -> list[str]:
        """Text -> WordPiece tokens (no [CLS]/[SEP]). Special tokens written in the text stay whole."""
        check_text(text, "text")
        if self._fast is not None:
            return self._fast.tokenize(text)
        return [self.ids_to_tokens[i] for i in self._encode_text(text, False)[0]]

    def split_on_special_tokens(self, text: str) -> Iterable[tuple[int, int, int | None]]:
        """Step 1: cut out the special tokens written in the text (exactly as written, longest first):
        (start, end, id) for each of them, (start, end, None) for the text between them."""
        start = 0
        for m in self._special_re.finditer(text):
            if m.start() > start:
                yield start, m.start(), None
            yield m.start(), m.end(), self.vocab[m.group()]
            start = m.end()
        if start < len(text):
            yield start, len(text), None

    def _encode_text(self, text: str, with_offsets: bool) -> tuple[list[int], list[tuple[int, int]] | None]:
        """One text -> its ids (and the (start, end) character span of the input each id came from)."""
        ids: list[int] = []
        spans: list[tuple[int, int]] | None = [] if with_offsets else None
        for start, end, special_id in self.split_on_special_tokens(text):
            if special_id is not None:
                ids.append(special_id)
                if spans is not None:
                    spans.append((start, end))
                continue
            cleaned, origins = self.basic_tokenizer.clean_and_split_chinese(text[start:end])
            if spans is None:
                for chunk in cleaned.split():
                    ids.extend(self._chunk(chunk)[0])
                continue
            for m in _NON_SPACE.finditer(cleaned):
                chunk_ids, chunk_spans = self._chunk(m.group())
                ids.extend(chunk_ids)
                where = origins[m.start():m.end()]  # chunk position -> position in text[start:end]
                spans.extend((start + where[s], start + where[e - 1] + 1) for s, e in chunk_spans)
        return ids, spans

    def _chunk(self, chunk: str) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...]]:
        """A whitespace-free chunk of cleaned text -> (ids, spans within the chunk), memoised (cache.py)."""
        hit = self._cache.get(chunk)
        if hit is None:
            ids, spans = [], []
            for word, where in self.basic_tokenizer.words(chunk):
                for piece, start, end in self.wordpiece_tokenizer.split(word):
                    ids.append(self.vocab[piece])
                    spans.append((where[start], where[end - 1] + 1))
            hit = self._cache.put(chunk, (tuple(ids), tuple(spans)))
        return hit

    # ---------------------------------------------------------------- special tokens
    def build_inputs_with_special_tokens(self, ids_a: list[int], ids_b: list[int] | None = None) -> list[int]:
        """[CLS] A [SEP] or [CLS] A [SEP] B [SEP]."""
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        return cls + ids_a + sep if ids_b is None else cls + ids_a + sep + ids_b + sep

    def get_special_tokens_mask(self, ids: Sequence[int], already_has_special_tokens: bool = True) -> list[int]:
        """1 where ids[i] is a special token ([CLS], [SEP], [PAD], ...), else 0 (e.g. to exclude them from MLM)."""
        if not already_has_special_tokens:
            raise ValueError("get_special_tokens_mask: only already_has_special_tokens=True is supported")
        special = set(self.all_special_ids)
        return [int(i in special) for i in ids]

    # ---------------------------------------------------------------- the Hugging Face call
    def __call__(self, text: str | Sequence[str], text_pair: str | Sequence[str] | None = None,
                 add_special_tokens: bool = True, padding: bool | str = False, truncation: bool | str | None = None,
                 max_length: int | None = None, return_tensors: str | None = None,
                 return_token_type_ids: bool | None = None, return_attention_mask: bool | None = None,
                 return_offsets_mapping: bool = False) -> BatchEncoding:
        """Encode one text (lists of ints) or a batch (lists of lists), with an optional second text per example
        (text_pair); return_tensors="pt" / "np" gives (B, T) int64 torch tensors / numpy arrays, also for one text.
        Truncation and padding as in Hugging Face: see encoding.py. Returns a BatchEncoding with input_ids,
        token_type_ids and attention_mask (by default those of model_input_names; True/False forces a field) and
        offset_mapping if asked."""
        batched = not isinstance(text, str)
        texts, pairs = check_inputs(text, text_pair)
        pad, strategy, max_length = resolve_options(padding, truncation, max_length, self.model_max_length)
        check_return_tensors(return_tensors)
        n_special = (2 if pairs is None else 3) if add_special_tokens else 0
        if strategy is not None and max_length is not None and max_length < n_special:
            raise ValueError(f"max_length={max_length} is too small: {n_special} special tokens ([CLS], [SEP]) "
                             f"are added to {'each pair' if pairs else 'each sequence'}; use max_length >= {n_special}"
                             f" (or add_special_tokens=False)")
        budget = None if strategy is None or max_length is None else max_length - n_special
        if self._fast is not None:
            rows = self._fast.encode(texts, pairs, add_special_tokens, strategy, budget, return_offsets_mapping)
        else:
            rows = [self._encode_example(a, None if pairs is None else pairs[i], add_special_tokens, strategy,
                                         budget, return_offsets_mapping) for i, a in enumerate(texts)]
        if pad is not None and rows:
            target = max(len(r[0]) for r in rows) if pad == "longest" else max_length
            rows = [pad_row(row, target, self.pad_token_id) for row in rows]
        names = ["input_ids", "token_type_ids", "attention_mask", "offset_mapping"]
        wanted = [True, "token_type_ids" in self.model_input_names if return_token_type_ids is None
                  else return_token_type_ids, return_attention_mask is not False, return_offsets_mapping]
        enc = BatchEncoding({n: [r[k] for r in rows] for k, n in enumerate(names) if wanted[k]})
        if return_tensors is not None:
            return to_tensors(enc, return_tensors)
        return enc if batched else BatchEncoding({k: v[0] for k, v in enc.items()})

    def _encode_example(self, a: str, b: str | None, add_special_tokens: bool, strategy: str | None,
                        budget: int | None, with_offsets: bool) -> tuple[list, list, list, list | None]:
        ids_a, spans_a = self._encode_text(a, with_offsets)
        ids_b, spans_b = self._encode_text(b, with_offsets) if b is not None else (None, None)
        if budget is not None:
            keep_a, keep_b = kept_lengths(len(ids_a), None if ids_b is None else len(ids_b), budget, strategy)
            ids_a, spans_a = ids_a[:keep_a], spans_a and spans_a[:keep_a]
            if ids_b is not None:
                ids_b, spans_b = ids_b[:keep_b], spans_b and spans_b[:keep_b]
        if add_special_tokens:
            ids = self.build_inputs_with_special_tokens(ids_a, ids_b)
            types = [0] * (len(ids_a) + 2) + ([] if ids_b is None else [1] * (len(ids_b) + 1))
            if with_offsets:
                spans = [(0, 0)] + spans_a + [(0, 0)] + ([] if ids_b is None else spans_b + [(0, 0)])
        else:
            ids = ids_a + (ids_b or [])
            types = [0] * len(ids_a) + [1] * len(ids_b or [])
            if with_offsets:
                spans = spans_a + (spans_b or [])
        return ids, types, [1] * len(ids), spans if with_offsets else None

    def encode(self, text: str, text_pair: str | None = None, add_special_tokens: bool = True,
               padding: bool | str = False, truncation: bool | str | None = None,
               max_length: int | None = None) -> list[int]:
        """One text (and optional pair) -> list of ids, [CLS] ... [SEP] included by default."""
        check_text(text, "text")
        if text_pair is not None:
            check_text(text_pair, "text_pair")
        return self(text, text_pair, add_special_tokens, padding, truncation, max_length)["input_ids"]

    # ---------------------------------------------------------------- ids -> text
    def decode(self, ids: Sequence[int] | Any, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None) -> str:
        """Ids -> text, as the reference WordPiece decoder does: tokens joined by spaces, except that a "##" piece
        is glued to the previous token, and a space before "." "?" "!" "," tokens is removed. With
        clean_up_tokenization_spaces (default: the tokenizer's setting), Hugging Face's extra clean-up on the whole
        string follows (" 's" -> "'s", " n't" -> "n't", ...)."""
        tokens = self.convert_ids_to_tokens(as_id_list(ids, "ids"), skip_special_tokens=skip_special_tokens)
        text = join_tokens(tokens)
        if self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces:
            text = clean_up_tokenization(text)
        return text

    def batch_decode(self, sequences: Sequence[Sequence[int]] | Any, **kwargs: Any) -> list[str]:
        """decode() for each sequence of a batch (a list of lists or a 2-D tensor)."""
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return [self.decode(ids, **kwargs) for ids in sequences]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(vocab_size={self.vocab_size}, do_lower_case={self.do_lower_case}, "
                f"strip_accents={self.strip_accents}, tokenize_chinese_chars={self.tokenize_chinese_chars}, "
                f"model_max_length={self.model_max_length}, backend={self.backend!r})")
