"""The fast path: the same pipeline run by the Rust `tokenizers` library, for data pipelines.

`BertTokenizer(..., backend="fast")` builds one of these at construction and sends every encode through it;
the outputs (ids, token types, offsets, errors) are the from-scratch ones, which tests check. The pieces map
one to one onto ours:

    special tokens in the text  -> AddedToken(normalized=False)      (tokenizer.py step 1)
    BasicTokenizer stages 1-3   -> normalizers.BertNormalizer         (basic.py)
    BasicTokenizer stage 4      -> pre_tokenizers.BertPreTokenizer    (basic.py)
    WordpieceTokenizer          -> models.WordPiece                   (wordpiece.py)
    [CLS] A [SEP] B [SEP]       -> processors.TemplateProcessing      (encoding.py)

Two differences of the library are evened out here: it does not isolate the 256 CJK ideographs U+2B820-U+2B91F
(see chars.CJK_RANGE_MISSING_IN_TOKENIZERS), so a Split pre-tokenizer does; and it cannot take strings with lone
surrogates (which Python allows), so those become NUL, which both paths drop (same length, so offsets hold).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from .chars import CJK_RANGE_MISSING_IN_TOKENIZERS
from .encoding import kept_lengths

_SURROGATE = re.compile("[\ud800-\udfff]")


class FastBackend:
    """A `tokenizers.Tokenizer` configured with a BertTokenizer's vocabulary and options.

    `specials` maps BertTokenizer's argument names to the special tokens ({"unk_token": "[UNK]", "cls_token":
    "[CLS]", ...}); the other arguments are BertTokenizer's of the same names."""

    def __init__(self, vocab: Mapping[str, int], specials: Mapping[str, str], *, do_lower_case: bool,
                 strip_accents: bool | None, tokenize_chinese_chars: bool, never_split: Collection[str],
                 max_input_chars_per_word: int):
        from tokenizers import AddedToken, Regex, Tokenizer, normalizers, pre_tokenizers, processors
        from tokenizers.models import WordPiece

        if never_split:
            raise ValueError("backend='fast' does not support never_split; use backend='python'")
        t = Tokenizer(WordPiece(dict(vocab), unk_token=specials["unk_token"],
                                max_input_chars_per_word=max_input_chars_per_word))
        t.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=tokenize_chinese_chars,
                                                  strip_accents=strip_accents, lowercase=do_lower_case)
        steps = [pre_tokenizers.BertPreTokenizer()]
        if tokenize_chinese_chars:
            lo, hi = CJK_RANGE_MISSING_IN_TOKENIZERS
            steps.insert(0, pre_tokenizers.Split(Regex(f"[{chr(lo)}-{chr(hi)}]"), behavior="isolated"))
        t.pre_tokenizer = pre_tokenizers.Sequence(steps)
        t.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in dict.fromkeys(specials.values())])
        cls, sep = specials["cls_token"], specials["sep_token"]
        t.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])])
        self.tokenizer = t

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer.encode(_safe(text), add_special_tokens=False).tokens

    def encode(self, texts: list[str], pairs: list[str] | None, add_special_tokens: bool, strategy: str | None,
               budget: int | None, with_offsets: bool) -> list[tuple]:
        """Like BertTokenizer._encode_example on each example: rows of (ids, type ids, attention mask, offsets)."""
        t = self.tokenizer
        texts = [_safe(x) for x in texts]
        inputs = texts if pairs is None else list(zip(texts, (_safe(x) for x in pairs)))
        if budget is None:
            t.no_truncation()
        else:
            n_special = (2 if pairs is None else 3) if add_special_tokens else 0
            t.enable_truncation(budget + n_special, strategy=strategy)
        t.no_padding()
        try:
            encodings = t.encode_batch(inputs, add_special_tokens=add_special_tokens)
        except Exception as error:
            if "Truncation error" not in str(error):
                raise
            raise self._truncation_error(inputs, pairs is not None, strategy, budget) from None
        if with_offsets:
            return [(e.ids, e.type_ids, e.attention_mask, e.offsets) for e in encodings]
        return [(e.ids, e.type_ids, e.attention_mask, None) for e in encodings]

    def _truncation_error(self, inputs: list, is_pair: bool, strategy: str, budget: int) -> ValueError:
        """The library refused to truncate: find the example, and return the from-scratch path's ValueError."""
        self.tokenizer.no_truncation()
        for x in inputs:
            a, b = x if is_pair else (x, None)
            n1 = len(self.tokenizer.encode(a, add_special_tokens=False).ids)
            n2 = None if b is None else len(self.tokenizer.encode(b, add_special_tokens=False).ids)
            try:
                kept_lengths(n1, n2, budget, strategy)
            except ValueError as error:  # the first example that cannot fit
                return error
        return ValueError(f"truncation={strategy!r} failed in the tokenizers library")


def _safe(text: str) -> str:
    """Lone surrogates (which the library cannot take) -> NUL, which the cleaning stage drops anyway."""
    return text if text.isascii() else _SURROGATE.sub("\x00", text)
