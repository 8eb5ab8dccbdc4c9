"""What `BertTokenizer.__call__` returns, and the rules it follows for truncation and padding.

BERT's input for one sequence A or a pair (A, B) (Devlin et al. 2019 §3, Figure 2):

    [CLS] A [SEP]              token_type_ids 0 ... 0
    [CLS] A [SEP] B [SEP]      token_type_ids 0 for [CLS] A [SEP], 1 for B [SEP]

One text with an empty second text (`tok(a, "")`) is encoded as no pair, [CLS] A [SEP], as transformers'
BertTokenizerFast does; in a batch (`tok([a], [""])`) it stays a pair, [CLS] A [SEP] [SEP], as there too.

Truncation happens before the special tokens are added, so the content may use max_length - 2 (one sequence) or
max_length - 3 (a pair) tokens. The strategies are those of Hugging Face (and their exact arithmetic is that of
the `tokenizers` library, so the ids agree):

    longest_first  one sequence: keep the first `budget` tokens. A pair of lengths n1 <= n2: if the shorter fits in
                   half the budget it is kept whole and the longer gets the rest (budget - n1); otherwise both are
                   cut, the first gets budget // 2 and the second budget - budget // 2 (if the first was the
                   longer one, they swap: the longer keeps the extra token).
    only_first     remove the excess from A only (error if A is not longer than the excess).
    only_second    remove the excess from B only (error if there is no B, or B is too short).

Padding appends [PAD] (id 0, token type 0, attention 0, offsets (0, 0)) on the right, up to the longest sequence of
the batch ("longest" / True) or to max_length ("max_length"); a sequence already longer is left as it is.
"""

from __future__ import annotations

from typing import Any

STRATEGIES = ("longest_first", "only_first", "only_second")


class BatchEncoding(dict):
    """input_ids, token_type_ids, attention_mask (and offset_mapping when asked): a dict, so `model(**enc)` works,
    that also reads as attributes (`enc.input_ids`) and moves its tensors with `enc.to(device)`."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no field {name!r}; it has {sorted(self)}") from None

    def to(self, device: Any) -> "BatchEncoding":
        """A copy whose tensors are on `device` (a torch.device or "cuda", "cpu", ...); lists are left as they are."""
        return BatchEncoding({k: v.to(device) if hasattr(v, "to") else v for k, v in self.items()})


def resolve_options(padding: Any, truncation: Any, max_length: Any,
                    model_max_length: int | None) -> tuple[str | None, str | None, int | None]:
    """Hugging Face's argument rules -> (padding mode or None, truncation strategy or None, max_length).

    padding: False/None/"do_not_pad" | True/"longest" | "max_length".
    truncation: None | False/"do_not_truncate" | True (= "longest_first") | one of STRATEGIES. As in Hugging Face,
    truncation=None with a max_length and no padding means "longest_first". A missing max_length falls back to
    model_max_length (the checkpoint's limit, 512 for BERT) when truncating or padding to max_length.
    """
    if padding in (False, None, "do_not_pad"):
        pad = None
    elif padding is True or padding == "longest":
        pad = "longest"
    elif padding == "max_length":
        pad = "max_length"
    else:
        raise ValueError(f"padding: expected True, False, 'longest', 'max_length' or 'do_not_pad', got {padding!r}")
    if truncation is None:
        strategy = "longest_first" if max_length is not None and pad is None else None
    elif truncation is False or truncation == "do_not_truncate":
        strategy = None
    elif truncation is True:
        strategy = "longest_first"
    elif truncation in STRATEGIES:
        strategy = truncation
    else:
        raise ValueError(f"truncation: expected True, False or one of {STRATEGIES}, got {truncation!r}")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 0):
        raise ValueError(f"max_length: expected a non-negative int or None, got {max_length!r}")
    if max_length is None and (strategy is not None or pad == "max_length"):
        max_length = model_max_length
        if max_length is None and pad == "max_length":
            raise ValueError("padding='max_length' needs max_length (this tokenizer has no model_max_length)")
    return pad, strategy, max_length


def kept_lengths(n1: int, n2: int | None, budget: int, strategy: str) -> tuple[int, int | None]:
    """How many tokens of A (n1 long) and B (n2 long, None for no pair) to keep so that they fit `budget`
    (max_length minus the special tokens). Raises ValueError where the strategy cannot make them fit."""
    total = n1 + (n2 or 0)
    if budget == 0:                       # nothing fits: every strategy empties both (as the reference does)
        return 0, None if n2 is None else 0
    if total <= budget:
        return n1, n2
    excess = total - budget
    if strategy == "longest_first":
        if n2 is None:
            return budget, None
        short = min(n1, n2)
        if short <= budget - short:       # the shorter fits in half: keep it, the longer gets the rest
            keep_short, keep_long = short, budget - short
        else:                             # both longer than half: halve, the extra token to the longer one
            keep_short, keep_long = budget // 2, budget - budget // 2
        return (keep_short, keep_long) if n1 <= n2 else (keep_long, keep_short)
    if strategy == "only_second" and n2 is None:
        raise ValueError(f"truncation='only_second' needs a text_pair (\"\" is none): a single sequence of {n1} "
                         f"tokens does not fit max_length (room for {budget} after the special tokens)")
    target = n1 if strategy == "only_first" else n2
    if target <= excess:
        which = "first" if strategy == "only_first" else "second"
        raise ValueError(f"truncation={strategy!r}: the {which} sequence has {target} tokens but {excess} must go "
                         f"to fit max_length (room for {budget} after the special tokens); use 'longest_first' "
                         f"or a larger max_length")
    return (n1 - excess, n2) if strategy == "only_first" else (n1, n2 - excess)


def pad_row(row: tuple, length: int, pad_id: int) -> tuple:
    """(ids, token types, attention mask, offsets or None) -> the same padded on the right to `length`."""
    ids, types, mask, spans = row
    n = length - len(ids)
    if n <= 0:
        return row
    return (ids + [pad_id] * n, types + [0] * n, mask + [0] * n, None if spans is None else spans + [(0, 0)] * n)


def check_text(text: Any, name: str) -> None:
    """TypeError naming the argument unless `text` is a str."""
    if not isinstance(text, str):
        raise TypeError(f"{name}: expected a str, got {type(text).__name__}")


def check_inputs(text: Any, text_pair: Any) -> tuple[list[str], list[str] | None]:
    """Validate __call__'s inputs -> (texts, pairs or None) as lists. One text with text_pair="" is no pair
    ([CLS] A [SEP]), as transformers' BertTokenizerFast has it; in a batch an empty second text stays a pair."""
    if isinstance(text, str):
        if text_pair is not None and not isinstance(text_pair, str):
            raise TypeError(f"text_pair: expected a str (text is a str), got {type(text_pair).__name__}")
        return [text], [text_pair] if text_pair else None
    if not isinstance(text, (list, tuple)):
        raise TypeError(f"text: expected a str or a list of str, got {type(text).__name__}")
    for i, t in enumerate(text):
        check_text(t, f"text[{i}]")
    if text_pair is None:
        return list(text), None
    if not isinstance(text_pair, (list, tuple)) or len(text_pair) != len(text):
        got = f"{type(text_pair).__name__} of length {len(text_pair)}" if isinstance(text_pair, (list, tuple)) \
            else type(text_pair).__name__
        raise TypeError(f"text_pair: expected a list of {len(text)} str (one per text), got {got}")
    for i, t in enumerate(text_pair):
        check_text(t, f"text_pair[{i}]")
    return list(text), list(text_pair)


TENSOR_TYPES = (None, "pt", "np")  # return_tensors: lists, torch tensors, numpy arrays (transformers' names)


def check_return_tensors(return_tensors: Any) -> None:
    """ValueError unless `return_tensors` is one of TENSOR_TYPES (transformers also knows "mlx"; not here)."""
    if return_tensors not in TENSOR_TYPES:
        raise ValueError(f"return_tensors: expected None, 'pt' (torch) or 'np' (numpy), got {return_tensors!r}")


def to_tensors(enc: BatchEncoding, return_tensors: str = "pt") -> BatchEncoding:
    """Lists of equal-length rows -> int64 arrays (B, T) (offsets: (B, T, 2)): torch tensors for "pt", numpy
    arrays for "np" (the dtype transformers gives both); ragged rows -> ValueError."""
    lengths = {len(row) for row in enc["input_ids"]}
    if len(lengths) > 1:
        raise ValueError(f"return_tensors={return_tensors!r} needs sequences of one length, got lengths "
                         f"{sorted(lengths)}; use padding=True (and truncation=True)")
    if return_tensors == "np":
        import numpy as np

        return BatchEncoding({k: np.array(v, dtype=np.int64) for k, v in enc.items()})
    import torch

    return BatchEncoding({k: torch.tensor(v, dtype=torch.long) for k, v in enc.items()})
