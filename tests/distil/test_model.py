"""DistilBERT against Hugging Face transformers: the same weights give the same numbers, both load directions.

Tiny odd config (batch 13, seq 7, vocab 99, dim 32, 4 heads, hidden_dim 37, 3 layers, 3 labels) with random
padding, learned and sinusoidal positions: outputs, hidden states, attention maps, losses and the gradient of
every parameter; ours saved → transformers loads, transformers saved → ours loads. fp32, atol 2e-5."""

from __future__ import annotations

import dataclasses
import math
import os

import pytest
import torch

from bert.heads import MaskedLMHead
from distil import (DistilBertConfig, DistilBertForMaskedLM, DistilBertForSequenceClassification, DistilBertModel,
                    count_parameters)
from distil.checkpoint import from_hf_name, to_hf_name
from tests.bert.tiny import V, random_batch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

ATOL = 2e-5
OURS_FOR_HF = {"eager": "reference", "sdpa": "fused"}
CLASSES = [DistilBertModel, DistilBertForMaskedLM, DistilBertForSequenceClassification]
FIELDS = {DistilBertModel: ("last_hidden_state",), DistilBertForMaskedLM: ("loss", "logits"),
          DistilBertForSequenceClassification: ("loss", "logits")}


def tiny(**overrides) -> DistilBertConfig:
    kw = dict(vocab_size=V, dim=32, n_heads=4, n_layers=3, hidden_dim=37, max_position_embeddings=19, num_labels=3,
              initializer_range=0.2, unpad="never")              # the padded path: every position compared
    kw.update(overrides)
    return DistilBertConfig(**kw)


def _labels(cls, batch):
    if cls is DistilBertForMaskedLM:
        return dict(labels=batch["labels"])
    if cls is DistilBertForSequenceClassification:
        return dict(labels=batch["class_labels"])
    return {}


def _pair(cls, direction, hf_impl, tmp_path, config):
    config = dataclasses.replace(config, attn_implementation=OURS_FOR_HF[hf_impl])
    torch.manual_seed(1)
    hf_cls = getattr(transformers, cls.__name__)
    if direction == "ours_to_hf":
        ours = cls(config).eval()
        ours.save_pretrained(tmp_path)
        hf, info = hf_cls.from_pretrained(tmp_path, attn_implementation=hf_impl, output_loading_info=True)
        assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    else:
        hf_config = transformers.DistilBertConfig(**{k: v for k, v in config.to_dict().items() if k != "architectures"})
        hf = hf_cls(hf_config)
        hf.save_pretrained(tmp_path)
        ours = cls.from_pretrained(tmp_path, attn_implementation=OURS_FOR_HF[hf_impl]).eval()
        assert ours.loading_info == {"newly_initialized": [], "unused": [], "mismatched": []}
        hf = hf_cls.from_pretrained(tmp_path, attn_implementation=hf_impl)
    return ours, hf.eval()


def _run(model, cls, batch, **kw):
    model.zero_grad()
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **_labels(cls, batch), **kw)
    (out.loss if cls is not DistilBertModel else out.last_hidden_state.square().mean()).backward()
    return out


@pytest.mark.parametrize("sinusoidal", [False, True], ids=["learned", "sinusoidal"])
@pytest.mark.parametrize("hf_impl", ["eager", "sdpa"])
@pytest.mark.parametrize("direction", ["ours_to_hf", "hf_to_ours"])
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_outputs_losses_and_gradients_match_transformers(cls, direction, hf_impl, sinusoidal, tmp_path):
    ours, hf = _pair(cls, direction, hf_impl, tmp_path, tiny(sinusoidal_pos_embds=sinusoidal))
    batch = random_batch(seed=7)
    want_attn = hf_impl == "eager"
    a = _run(ours, cls, batch, output_hidden_states=True, output_attentions=want_attn)
    b = _run(hf, cls, batch, output_hidden_states=True, output_attentions=want_attn)
    for field in FIELDS[cls]:
        torch.testing.assert_close(a[field], b[field], atol=ATOL, rtol=0, msg=lambda m: f"{field}: {m}")
    assert len(a.hidden_states) == len(b.hidden_states) == 4
    for x, y in zip(a.hidden_states, b.hidden_states):
        torch.testing.assert_close(x, y, atol=ATOL, rtol=0)
    if want_attn:
        for x, y in zip(a.attentions, b.attentions):
            torch.testing.assert_close(x, y, atol=ATOL, rtol=0)
    hf_params = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, hf_params[to_hf_name(name)].grad, atol=ATOL, rtol=0,
                                   msg=lambda m: f"grad of {name}: {m}")


@pytest.mark.parametrize("variant", ["regression", "multi_label", "relu_pad3"])
def test_classifier_variants_match_transformers(variant, tmp_path):
    cls = DistilBertForSequenceClassification
    config = {"regression": tiny(num_labels=1), "multi_label": tiny(),
              "relu_pad3": tiny(activation="relu", pad_token_id=3)}[variant]
    ours, hf = _pair(cls, "hf_to_ours", "eager", tmp_path, config)
    batch = random_batch(seed=11)
    if variant == "regression":
        batch["class_labels"] = torch.randn(13)
    if variant == "multi_label":
        batch["class_labels"] = (torch.rand(13, 3) < 0.5).float()
        hf.config.problem_type = "multi_label_classification"
    a, b = _run(ours, cls, batch), _run(hf, cls, batch)
    torch.testing.assert_close(a.loss, b.loss, atol=ATOL, rtol=0)
    torch.testing.assert_close(a.logits, b.logits, atol=ATOL, rtol=0)


def test_bare_checkpoint_loads_into_task_model_and_task_checkpoint_into_bare(tmp_path):
    torch.manual_seed(0)
    hf = transformers.DistilBertForMaskedLM(transformers.DistilBertConfig(
        **{k: v for k, v in tiny().to_dict().items() if k != "architectures"}))
    hf.save_pretrained(tmp_path / "mlm")
    bare, info = DistilBertModel.from_pretrained(tmp_path / "mlm", output_loading_info=True)
    assert info["newly_initialized"] == [] and set(info["unused"]) == {
        "mlm_head.dense.weight", "mlm_head.dense.bias", "mlm_head.layer_norm.weight", "mlm_head.layer_norm.bias",
        "mlm_head.bias"}
    bare.save_pretrained(tmp_path / "bare")
    clf, info = DistilBertForSequenceClassification.from_pretrained(tmp_path / "bare", output_loading_info=True)
    assert sorted(info["newly_initialized"]) == ["classifier.bias", "classifier.weight", "pre_classifier.bias",
                                                 "pre_classifier.weight"]
    torch.testing.assert_close(clf.distilbert.embeddings.word_embeddings.weight,
                               hf.distilbert.embeddings.word_embeddings.weight)


def test_name_map_round_trips_and_uses_hf_names():
    model = DistilBertForMaskedLM(tiny())
    names = list(model.state_dict())
    hf_names = {to_hf_name(n) for n in names}
    assert {"distilbert.transformer.layer.2.attention.q_lin.weight",
            "distilbert.transformer.layer.0.sa_layer_norm.bias",
            "distilbert.transformer.layer.1.ffn.lin1.weight", "distilbert.transformer.layer.1.ffn.lin2.bias",
            "distilbert.transformer.layer.0.output_layer_norm.weight", "distilbert.embeddings.LayerNorm.weight",
            "vocab_transform.weight", "vocab_layer_norm.bias", "vocab_projector.bias"} <= hf_names
    assert all(from_hf_name(to_hf_name(n)) == n for n in names)
    assert from_hf_name("bert.encoder.layer.0.attention.self.query.weight") is None


def test_checkpoint_errors(tmp_path):
    with pytest.raises(OSError, match="not a directory"):
        DistilBertModel.from_pretrained(tmp_path / "missing")
    DistilBertModel(tiny()).save_pretrained(tmp_path / "a")
    with pytest.raises(ValueError, match=r"from_pretrained\(dim=36\), but .* which says dim = \d+"):
        DistilBertModel.from_pretrained(tmp_path / "a", dim=36)
    (tmp_path / "a" / "model.safetensors").write_bytes((tmp_path / "a" / "model.safetensors").read_bytes()[:100])
    with pytest.raises(OSError, match="truncated"):
        DistilBertModel.from_pretrained(tmp_path / "a")


def test_mlm_head_is_berts_tied_to_word_embeddings_and_parameter_count():
    model = DistilBertForMaskedLM(tiny())
    assert isinstance(model.mlm_head, MaskedLMHead)
    C = 32
    assert sum(p.numel() for p in model.distilbert.parameters()) == count_parameters(tiny())
    assert sum(p.numel() for p in model.parameters()) == count_parameters(tiny()) + C * C + C + 2 * C + V
    assert sum(p.numel() for p in DistilBertModel(tiny(sinusoidal_pos_embds=True)).parameters()) == \
        count_parameters(tiny(sinusoidal_pos_embds=True))
    with pytest.raises(ValueError, match="tie_word_embeddings"):
        DistilBertForMaskedLM(tiny(tie_word_embeddings=False))


def test_distilbert_base_size_is_66m_not_article_000s_17m():
    """Article 000 §2 claims a halved hidden size and 34M → 17M; the real shape (the HF defaults) counts 66.4M."""
    hf = transformers.DistilBertModel(transformers.DistilBertConfig())
    assert sum(p.numel() for p in hf.parameters()) == count_parameters(DistilBertConfig()) == 66_362_880


def test_no_token_types_and_input_checks():
    model = DistilBertModel(tiny()).eval()
    batch = random_batch()
    with pytest.raises(ValueError, match="token_type_ids must be all 0"):               # no segment embeddings
        model(batch["input_ids"], token_type_ids=batch["token_type_ids"])
    with pytest.raises(ValueError, match="vocab_size"):
        model(batch["input_ids"] + V)
    with pytest.raises(ValueError, match="attention_mask"):
        model(batch["input_ids"], attention_mask=batch["attention_mask"][:, :3])
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(torch.zeros(1, 20, dtype=torch.long))
    with pytest.raises(ValueError, match=r"batch >= 1 .* got \(0, 7\)"):                  # an empty batch
        model(torch.zeros(0, 7, dtype=torch.long))
    for dtype in (torch.uint8, torch.int16):
        with pytest.raises(TypeError, match=f"input_ids must be an int64 .* got dtype {dtype}"):
            model(batch["input_ids"].to(dtype))
    torch.testing.assert_close(model(batch["input_ids"].int())[0], model(batch["input_ids"])[0], atol=0, rtol=0)
    mlm = DistilBertForMaskedLM(tiny())
    loss = mlm(batch["input_ids"], labels=torch.full_like(batch["input_ids"], -100)).loss   # nothing to predict
    assert loss.item() == 0.0                                                   # (transformers: NaN)


def test_save_keeps_the_folders_other_files_and_drops_stale_weight_files(tmp_path):
    DistilBertModel(tiny()).save_pretrained(tmp_path)
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    (tmp_path / "pytorch_model.bin").write_bytes(b"stale")
    model = DistilBertForSequenceClassification(tiny(sinusoidal_pos_embds=True))
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors", "vocab.txt"]
    assert (tmp_path / "vocab.txt").read_text() == "[PAD]\n"
    loaded = DistilBertForSequenceClassification.from_pretrained(tmp_path)
    assert torch.equal(loaded.classifier.weight, model.classifier.weight)


def test_sinusoidal_positions_are_the_transformer_formula():
    model = DistilBertModel(tiny(sinusoidal_pos_embds=True))
    table = model.embeddings.position_embeddings(torch.arange(19))
    for pos in (0, 5, 18):
        for i in (0, 7, 30, 31):
            f = math.sin if i % 2 == 0 else math.cos
            assert table[pos, i].item() == pytest.approx(f(pos / 10000 ** ((i - i % 2) / 32)), abs=1e-6)


def test_masked_only_decodes_the_masked_positions_with_the_same_loss():
    model = DistilBertForMaskedLM(tiny()).eval()
    batch = random_batch(seed=2)
    full = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"])
    assert model.masked_only is False
    model.masked_only = True
    part = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"])
    where = batch["labels"] != -100
    torch.testing.assert_close(part.logits, full.logits[where])
    torch.testing.assert_close(part.loss, full.loss)
    assert model(batch["input_ids"]).logits.shape == full.logits.shape       # no labels: every position
