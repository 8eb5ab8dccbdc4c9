"""benchmarks/optimizer.py on a tiny BERT: the three AdamW variants take the same update (fused differs only by
rounding), and the table reports every variant."""

from __future__ import annotations

from benchmarks.optimizer import VARIANTS, measure


def test_the_three_variants_take_the_same_steps():
    r = measure(dict(vocab_size=97, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=24), repeats=2)
    per_tensor, foreach, fused = VARIANTS
    assert set(r["ms"]) == set(r["ratio"]) == set(VARIANTS) and r["steps"] == 3
    assert r["ratio"][per_tensor] == 1.0 and r["max_diff"][per_tensor] == 0.0
    assert r["max_diff"][foreach] < 1e-6 and r["max_diff"][fused] < 1e-6     # the same update, up to rounding
    assert r["parameters"] > 0 and all(ms > 0 for ms in r["ms"].values())
