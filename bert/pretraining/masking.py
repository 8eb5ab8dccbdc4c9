"""Masked-LM inputs: choose 15% of the tokens to predict, and hide them 80% / 10% / 10%.

Devlin et al. 2019 §3.1 Task #1 and Appendix A.1: "we mask 15% of all WordPiece tokens in each sequence at random
… If the i-th token is chosen, we replace the i-th token with (1) the [MASK] token 80% of the time (2) a random
token 10% of the time (3) the unchanged i-th token 10% of the time. Then, T_i will be used to predict the original
token with cross entropy loss." google-research/bert `create_masked_lm_predictions`. Articles 000 §2, 003 §3.1 and
004 §3.2.1 describe MLM in words; the loss is taken at the chosen positions only (erratum 8):

    n_predict = min(max_predictions_per_seq, max(1, round(0.15 · n)))      n = tokens that may be chosen
    L_MLM     = −(1/|M|) Σ_{i∈M} log p(x_i | x̃)                     M = the chosen positions (label ≠ −100)

The [MASK] share trains the prediction; the unchanged 10% tells the model that a visible token may also be asked
about (so it keeps a good representation of every token, not only of [MASK]); the random 10% keeps it from trusting
the visible token blindly — and [MASK] never appears at fine-tuning time, so not every chosen token is hidden.

Choices, as google's code makes them unless said otherwise:
- Special tokens ([CLS], [SEP], [PAD], [UNK], [MASK]) are never chosen; n counts only the other tokens (google
  counts [CLS] and [SEP] in n, a difference of ~0.3 of a token per sequence).
- Whole-word masking (google's `do_whole_word_mask`, released with BERT-Large WWM): a word's "##" pieces are chosen
  together with it; a word that would overshoot n_predict is skipped. Each piece still gets its own 80/10/10 draw.
  Chinese has no "##" pieces — every character is a token — so Chinese whole-word masking (Cui et al. 2019 §3,
  Chinese-BERT-wwm; transformers' `run_chinese_ref.py` marks a segmented word's non-initial characters for its
  collator) needs the word boundaries of the text: `word_continues[i]` (per position, from data.py) says that
  token i belongs to the word of token i − 1. Then every character of a chosen word is predicted (Cui et al.'s
  example: 模型 → [MASK][MASK], never [MASK]型), and 80/10/10 is drawn per character, as transformers does.
- The random token is drawn uniformly from the non-special vocabulary (google draws from the whole vocabulary,
  special tokens included).
- round() is half-up (google's Python 2 `round`), not Python 3's half-to-even.
Given the same `random.Random` state the result is the same; the data pipeline seeds one per (seed, epoch, example).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from bert.losses import IGNORE_INDEX  # label of a position that is not predicted (-100)
MASK, RANDOM, KEEP = "[MASK]", "random", "keep"  # what happened to a chosen position


@dataclass(frozen=True)
class MaskingSpec:
    """The vocabulary facts and settings masking needs.

    mask_id: id of [MASK]; special_ids: ids never chosen; vocab_size: V; is_continuation: for whole-word masking,
    is_continuation[id] is True for "##" pieces; mask_prob (0.15), max_predictions (per sequence),
    mask_token_prob (0.8) and random_token_prob (0.1; the rest is kept unchanged)."""
    mask_id: int
    special_ids: frozenset[int]
    vocab_size: int
    mask_prob: float = 0.15
    max_predictions: int = 20
    whole_word: bool = False
    is_continuation: tuple[bool, ...] | None = None
    mask_token_prob: float = 0.8
    random_token_prob: float = 0.1
    random_ids: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"mask_prob must be in (0, 1), got {self.mask_prob!r}")
        if not isinstance(self.max_predictions, int) or self.max_predictions < 1:
            raise ValueError(f"max_predictions must be a positive int, got {self.max_predictions!r}")
        if self.mask_token_prob < 0 or self.random_token_prob < 0 or self.mask_token_prob + self.random_token_prob > 1:
            raise ValueError("mask_token_prob and random_token_prob must be >= 0 with a sum <= 1, got "
                             f"{self.mask_token_prob!r} and {self.random_token_prob!r}")
        if self.whole_word and (self.is_continuation is None or len(self.is_continuation) != self.vocab_size):
            got = None if self.is_continuation is None else len(self.is_continuation)
            raise ValueError(f"whole_word=True needs is_continuation, one flag per vocabulary id ({self.vocab_size}), "
                             f"got {got}")
        object.__setattr__(self, "random_ids", tuple(i for i in range(self.vocab_size) if i not in self.special_ids))

    @classmethod
    def from_tokenizer(cls, tokenizer, **settings) -> "MaskingSpec":
        """From a BertTokenizer (ours or transformers'): [MASK], the special ids and the "##" flags."""
        vocab = tokenizer.get_vocab()
        flags = [False] * len(vocab)
        for token, i in vocab.items():
            flags[i] = token.startswith("##")
        return cls(mask_id=tokenizer.mask_token_id, special_ids=frozenset(tokenizer.all_special_ids),
                   vocab_size=len(vocab), is_continuation=tuple(flags), **settings)


@dataclass(frozen=True)
class MaskedExample:
    """input_ids with the chosen positions replaced; labels: the original id at the chosen positions, −100
    elsewhere; positions (sorted) and actions ([MASK] / random / keep), for display and tests."""
    input_ids: list[int]
    labels: list[int]
    positions: list[int]
    actions: list[str]


def num_to_predict(n_candidates: int, spec: MaskingSpec) -> int:
    """min(max_predictions, max(1, round_half_up(mask_prob · n))); 0 when there is nothing to choose."""
    if n_candidates == 0:
        return 0
    return min(spec.max_predictions, max(1, math.floor(n_candidates * spec.mask_prob + 0.5)))


def candidate_groups(ids: Sequence[int], spec: MaskingSpec,
                     word_continues: Sequence[bool] | None = None) -> list[list[int]]:
    """Positions that may be chosen, grouped: one position per group, or (whole-word) a word with its "##" pieces —
    or, given `word_continues` (one flag per position), with the positions flagged as continuing it."""
    if word_continues is not None and len(word_continues) != len(ids):
        raise ValueError(f"word_continues: expected one flag per token ({len(ids)}), got {len(word_continues)}")
    groups: list[list[int]] = []
    previous_ok = False
    for i, t in enumerate(ids):
        if t in spec.special_ids:
            previous_ok = False
            continue
        if spec.whole_word and previous_ok and (word_continues[i] if word_continues is not None
                                                else spec.is_continuation[t]):
            groups[-1].append(i)
        else:
            groups.append([i])
        previous_ok = True
    return groups


def mask_tokens(ids: Sequence[int], spec: MaskingSpec, rng: random.Random,
                word_continues: Sequence[bool] | None = None) -> MaskedExample:
    """Choose the positions to predict and replace them 80% [MASK] / 10% random / 10% unchanged (module docstring);
    `word_continues`: the word boundaries of whole-word masking where "##" does not give them (Chinese)."""
    groups = candidate_groups(ids, spec, word_continues)
    n_predict = num_to_predict(sum(len(g) for g in groups), spec)
    rng.shuffle(groups)
    inputs, labels = list(ids), [IGNORE_INDEX] * len(ids)
    chosen: dict[int, str] = {}
    for group in groups:
        if len(chosen) >= n_predict:
            break
        if len(chosen) + len(group) > n_predict:
            continue                                        # a whole word that would overshoot: skip it
        for i in group:
            r = rng.random()
            if r < spec.mask_token_prob:
                inputs[i], chosen[i] = spec.mask_id, MASK
            elif r < spec.mask_token_prob + spec.random_token_prob:
                inputs[i], chosen[i] = spec.random_ids[rng.randrange(len(spec.random_ids))], RANDOM
            else:
                chosen[i] = KEEP
            labels[i] = ids[i]
    positions = sorted(chosen)
    return MaskedExample(inputs, labels, positions, [chosen[i] for i in positions])
