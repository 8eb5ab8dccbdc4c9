"""End to end: our tokenizer + our BertModel on the real MiniLM checkpoint give the same sentence embeddings as
transformers' tokenizer + model (all-MiniLM-L6-v2's recipe: mean of the last hidden states over the attention
mask, then L2 normalisation; sentence-transformers' Pooling + Normalize modules), to 1e-5."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays an instrument on stage!",
    "The new movie is awesome, don't miss it.",
    "Café naïve résumé: ÜNÏCÖDÉ text with accents",
    "BERT是Google在2018年提出的一种新型预训练语言理解模型。",
    "emoji 😀 and zero\u200bwidth and [MASK] tokens",
    "",
    " ".join(["a long sentence that goes on and on"] * 30),   # > 128 tokens: truncated
]


def mean_pool_normalise(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """e = normalize(Σ_t m_t h_t / max(Σ_t m_t, 1e-9)): (B, T, C), (B, T) -> (B, C)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)                                  # (B, T, 1)
    summed = (hidden * m).sum(dim=1)                                         # (B, C)
    return F.normalize(summed / m.sum(dim=1).clamp(min=1e-9), p=2, dim=1)    # (B, C)


@pytest.mark.slow
def test_same_sentence_embeddings_as_transformers(minilm_dir, ours, hf_fast):
    pytest.importorskip("bert.model", reason="bert/model.py (issue #3, BertModel) has not landed yet")
    transformers = pytest.importorskip("transformers")
    from bert import BertModel

    kwargs = dict(padding=True, truncation=True, max_length=128, return_tensors="pt")
    enc, ref_enc = ours(SENTENCES, **kwargs), hf_fast(SENTENCES, **kwargs)
    assert set(enc) == set(ref_enc)
    for key in enc:
        assert torch.equal(enc[key], ref_enc[key]), key
    assert enc["input_ids"].shape == (len(SENTENCES), 128)

    model = BertModel.from_pretrained(minilm_dir).eval()
    reference = transformers.BertModel.from_pretrained(str(minilm_dir)).eval()
    with torch.no_grad():
        ours_emb = mean_pool_normalise(model(**enc).last_hidden_state, enc["attention_mask"])
        ref_emb = mean_pool_normalise(reference(**ref_enc).last_hidden_state, ref_enc["attention_mask"])
    torch.testing.assert_close(ours_emb, ref_emb, rtol=0, atol=1e-5)
    # and they mean something: the two guitar sentences are closer to each other than to the film review
    similarity = ours_emb @ ours_emb.T
    assert similarity[0, 1] > similarity[0, 2] and similarity[0, 1] > similarity[1, 2]
