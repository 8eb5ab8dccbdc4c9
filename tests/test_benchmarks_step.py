"""The model-FLOPs formula of benchmarks/step.py (used for MFU), checked against PyTorch's own FLOP counter
(torch.utils.flop_counter.FlopCounterMode, which counts every matmul of forward and backward) on a tiny, odd
BERT running one pre-training step with the MLM decoder at the masked positions only."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.step import make_batches, model_flops
from bert import BertConfig, BertForPreTraining


def test_model_flops_formula_matches_the_flop_counter():
    L, C, H, I, V, B, T = 2, 36, 4, 37, 1099, 3, 20
    cfg = BertConfig(vocab_size=V, hidden_size=C, num_hidden_layers=L, num_attention_heads=H, intermediate_size=I,
                     attn_implementation="reference")        # plain matmuls, which the counter knows
    torch.manual_seed(0)
    model = BertForPreTraining(cfg)
    batch = make_batches(B, T, 1, "cpu")[0]
    batch["input_ids"] = batch["input_ids"] % V                # the helper draws BERT-base ids; fold into this vocab
    N = int((batch["labels"] != -100).sum())
    batch["labels"] = torch.where(batch["labels"] == -100, batch["labels"], batch["labels"] % V)
    assert N == B * round(0.15 * T)                            # the same number of predictions in every sequence
    model.masked_only = True
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    assert counter.get_total_flops() == model_flops(B, T, L, N, C=C, I=I, V=V)
