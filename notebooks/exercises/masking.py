"""练习 masking — 80/10/10 掩码 / choosing the MLM positions and hiding them 80% / 10% / 10%.

Of the tokens that may be chosen (never [CLS], [SEP], [PAD], [UNK], [MASK]), choose
n_predict = min(max_predictions, max(1, round(0.15 · n))) positions at random; each chosen position becomes
[MASK] with probability 0.8, a random ordinary token with probability 0.1, and stays unchanged otherwise. Its label
is the original token; every other position is labelled −100.

文章 / articles: 000 "核心概念与联系", 003 §3.1, 004 §3.2.1 (预训练) describe MLM in words.
论文 / paper: Devlin et al. 2019 §3.1 Task #1, Appendix A.1; google-research/bert create_masked_lm_predictions.
Ours / 参考实现: bert/pretraining/masking.py `mask_tokens`.

Edit your copy in notebooks/exercises/work/, then run:   make check EX=masking
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from bert.pretraining.masking import (IGNORE_INDEX, KEEP, MASK, RANDOM, MaskedExample, MaskingSpec,  # noqa: F401
                                      candidate_groups, num_to_predict)


def mask_tokens(ids: Sequence[int], spec: MaskingSpec, rng: random.Random,
                word_continues: Sequence[bool] | None = None) -> MaskedExample:
    """Return MaskedExample(input_ids, labels, positions, actions) for the token ids `ids`.

    Use these helpers (they are not the exercise):
        groups = candidate_groups(ids, spec, word_continues)
                                               positions that may be chosen, in groups (a group is one position, or
                                               with spec.whole_word a whole word with its "##" pieces — or, for
                                               Chinese, its characters, as `word_continues` marks them)
        num_to_predict(n, spec)                how many positions to choose, n = number of candidate positions
    The exercise: shuffle the groups with `rng`, take groups until n_predict positions are chosen (skip a group
    that would overshoot), and for each chosen position draw r = rng.random() once:
        r < spec.mask_token_prob (0.8)                              → spec.mask_id                 action MASK
        r < spec.mask_token_prob + spec.random_token_prob (0.9)     → a token from spec.random_ids  action RANDOM
        otherwise                                                   → unchanged                    action KEEP
    labels[i] = ids[i] at a chosen position, IGNORE_INDEX (−100) elsewhere. positions: the chosen positions in
    increasing order; actions: one per position, in the same order. Use only `rng` (never the global random).
    """
    raise NotImplementedError("练习 masking: 请实现 / write this function")
