"""Tests for benchmarks/unpad_model.py: the swept batches have the padding share they claim, the CLI name maps to the
module, and the report states each floor with its value (no timing here)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.__main__ import BENCHES
from benchmarks.unpad_model import floors, padding_share, report, swept_batch


@settings(max_examples=30, deadline=None)
@given(share=st.sampled_from([0.0, 0.25, 0.5, 0.75]), B=st.integers(2, 32), T=st.sampled_from([16, 64, 128]))
def test_swept_batch_has_the_padding_share_it_claims(share, B, T):
    batch = swept_batch(share, B, T)
    mask = batch["attention_mask"]
    assert mask.shape == (B, T) and mask[0].all()                            # one full row: T is the longest
    assert abs(padding_share([batch]) - share) <= 1 / B + 1 / T               # rows of whole tokens
    assert not batch["input_ids"][mask == 0].any()                            # [PAD] (id 0) where padded


def _result(forward: float, train: float, zero: float) -> dict:
    def s(share, vs_hf, vs_padded):
        p = {"ms": {"unpadded": 1.0, "padded": 2.0, "transformers": 2.0},
             "vs_transformers": {"unpadded": vs_hf, "padded": 1.0, "transformers": 1.0},
             "unpadded_vs_padded": vs_padded}
        return {"share": share, "batches": 3, "max_diff": 0.0, "forward": p, "train": p}
    sets = {"SST-2 dev": s(0.48, forward, forward), "sweep 0%": s(0.0, 1.0, zero)}
    sets["SST-2 dev"]["train"] = dict(sets["SST-2 dev"]["train"], vs_transformers={"unpadded": train, "padded": 1.0})
    return {"command": "python -m benchmarks --only unpad-model", "machine": "m", "device": "cpu", "quick": False,
            "shapes": {"MiniLM": sets}}


@pytest.mark.parametrize("forward, train, zero, missed", [(0.55, 0.65, 1.0, 0), (0.61, 0.65, 1.0, 1),
                                                          (0.55, 0.71, 1.03, 3)])
def test_the_report_states_every_floor_and_whether_it_holds(forward, train, zero, missed):
    r = _result(forward, train, zero)
    lines = floors(r)
    assert len(lines) == 4 and sum("MISSED" in line for line in lines) == missed
    assert f"{forward:.3f}×" in report(r) and "unpad-model" in BENCHES
