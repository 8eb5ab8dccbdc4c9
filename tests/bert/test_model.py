"""Tests for bert/layers.py, bert/embeddings.py and bert/model.py: each formula against a float64 computation written
here from the formula (GELU, FFN, the post-LN and pre-LN blocks, the embedding sum, the pooler), the attention paths
against each other through the whole model, the input checks, the weight initialisation and the parameter count."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from bert import BertConfig, BertModel, count_parameters
from bert.embeddings import BertEmbeddings
from bert.layers import Encoder, EncoderBlock, FeedForward, activation
from bert.model import BertPooler, padding_mask
from bert.validation import check_inputs
from bert.outputs import BaseModelOutputWithPooling
from tests.bert.tiny import B, T, V, random_batch, tiny_config

FEW = settings(max_examples=20, deadline=None)


# ------------------------------------------------------------------ float64 references written from the formulas
def gelu_erf(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))                     # x·Φ(x)


def gelu_tanh(x: float) -> float:
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def ref_linear(x, lin):
    return x @ lin.weight.double().T + lin.bias.double()


def ref_layer_norm(x, ln):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)                              # biased variance, as LayerNorm
    return (x - mu) / torch.sqrt(var + ln.eps) * ln.weight.double() + ln.bias.double()


def ref_attention(x, mha, keep):
    """MultiHead(x) = Concat(softmax(Q_h K_hᵀ/√D) V_h) W^O, masked keys weight 0 (float64, head by head)."""
    H, D = mha.num_heads, mha.head_dim
    q, k, v = (ref_linear(x, lin) for lin in (mha.query, mha.key, mha.value))
    heads = []
    for h in range(H):
        s = q[..., h * D:(h + 1) * D] @ k[..., h * D:(h + 1) * D].transpose(-1, -2) / math.sqrt(D)
        if keep is not None:                                                  # (B, 1, 1, T): drop the head dim
            s = s.masked_fill(~keep[:, 0], float("-inf"))
        heads.append(torch.softmax(s, -1) @ v[..., h * D:(h + 1) * D])
    return ref_linear(torch.cat(heads, -1), mha.output)


def ref_ffn(x, ffn, act):
    return ref_linear(act(ref_linear(x, ffn.linear1)), ffn.linear2)


# ------------------------------------------------------------------ GELU and the feed-forward net
@FEW
@given(st.lists(st.floats(-8, 8, allow_nan=False), min_size=1, max_size=30))
def test_gelu_is_x_times_normal_cdf_and_gelu_new_is_the_tanh_form(xs):
    x = torch.tensor(xs, dtype=torch.float64)
    assert torch.allclose(activation("gelu")(x), torch.tensor([gelu_erf(v) for v in xs], dtype=torch.float64),
                          atol=1e-12)
    for name in ("gelu_new", "gelu_pytorch_tanh"):
        assert torch.allclose(activation(name)(x), torch.tensor([gelu_tanh(v) for v in xs], dtype=torch.float64),
                              atol=1e-12)
    assert torch.equal(activation("relu")(x), x.clamp_min(0))


def test_gelu_forms_differ_by_less_than_1e_3():
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    gap = (activation("gelu")(x) - activation("gelu_new")(x)).abs().max().item()
    assert 1e-5 < gap < 1e-3                                                   # close, but not the same function


def test_activation_rejects_unknown_names():
    with pytest.raises(ValueError, match="activation must be one of .*'swish'"):
        activation("swish")


def test_feed_forward_is_act_x_w1_w2():
    torch.manual_seed(0)
    ffn = FeedForward(32, 37).double()
    x = torch.randn(3, 5, 32, dtype=torch.float64)
    assert torch.allclose(ffn(x), ref_ffn(x, ffn, lambda t: t.detach().apply_(gelu_erf)), atol=1e-12)


# ------------------------------------------------------------------ encoder blocks: post-LN (BERT) and pre-LN
def _block_and_input(pre_ln: bool, seed: int = 0):
    torch.manual_seed(seed)
    block = EncoderBlock(32, 4, 37, hidden_dropout=0.1, attention_dropout=0.1, layer_norm_eps=1e-6,
                         attn_implementation="reference", pre_layer_norm=pre_ln).double().eval()
    for p in block.parameters():  # non-trivial LayerNorm γ, β as well
        p.data.normal_(0, 0.3)
    x = torch.randn(B, T, 32, dtype=torch.float64)
    keep = padding_mask(random_batch(seed)["attention_mask"])
    return block, x, keep


def test_post_ln_block_is_ln_x_plus_mha_then_ln_x_plus_ffn():
    block, x, keep = _block_and_input(pre_ln=False)
    gelu = lambda t: 0.5 * t * (1 + torch.erf(t / math.sqrt(2)))
    h = ref_layer_norm(x + ref_attention(x, block.attention, keep), block.attention_layer_norm)
    h = ref_layer_norm(h + ref_ffn(h, block.feed_forward, gelu), block.output_layer_norm)
    out, weights = block(x, keep)
    assert weights is None
    assert torch.allclose(out, h, atol=1e-10)


def test_pre_ln_block_is_x_plus_mha_ln_x_then_x_plus_ffn_ln_x():
    block, x, keep = _block_and_input(pre_ln=True)
    gelu = lambda t: 0.5 * t * (1 + torch.erf(t / math.sqrt(2)))
    h = x + ref_attention(ref_layer_norm(x, block.attention_layer_norm), block.attention, keep)
    h = h + ref_ffn(ref_layer_norm(h, block.output_layer_norm), block.feed_forward, gelu)
    assert torch.allclose(block(x, keep)[0], h, atol=1e-10)
    post = EncoderBlock(32, 4, 37, attn_implementation="reference").double().eval()
    post.load_state_dict(block.state_dict())
    assert not torch.allclose(post(x, keep)[0], h, atol=1e-3)                 # the two wirings really differ


@settings(max_examples=8, deadline=None)
@given(st.permutations(range(T)), st.integers(0, 10))
def test_block_is_permutation_equivariant_over_tokens(perm, seed):
    """Without position embeddings, self-attention + FFN treat tokens as a set: permuting the tokens (and the
    mask) permutes the outputs."""
    block, x, _ = _block_and_input(pre_ln=False, seed=seed)
    keep = torch.rand(B, T, generator=torch.Generator().manual_seed(seed)) < 0.7
    keep[:, 0] = True
    perm = torch.tensor(perm)
    out = block(x, keep[:, None, None, :])[0]
    out_p = block(x[:, perm], keep[:, perm][:, None, None, :])[0]
    assert torch.allclose(out_p, out[:, perm], atol=1e-10)


def test_block_from_config_and_plain_arguments_agree():
    cfg = tiny_config(hidden_act="relu", layer_norm_eps=1e-7, pre_layer_norm=True, attn_implementation="tiled")
    block = EncoderBlock.from_config(cfg)
    assert block.pre_layer_norm and block.attention.implementation == "tiled"
    assert isinstance(block.feed_forward.act, torch.nn.ReLU) and block.output_layer_norm.eps == 1e-7
    assert block.feed_forward.linear1.out_features == 37 and block.attention.num_heads == 4
    with pytest.raises(ValueError, match="hidden_dropout must be in"):
        EncoderBlock(32, 4, 37, hidden_dropout=1.5)
    with pytest.raises(ValueError, match="intermediate_size must be a positive int, got 0"):
        EncoderBlock(32, 4, 0)


def test_encoder_returns_every_hidden_state_and_attention_map():
    torch.manual_seed(0)
    enc = Encoder.from_config(tiny_config(num_hidden_layers=3)).eval()
    x = torch.randn(B, T, 32)
    batch = random_batch()
    keep = padding_mask(batch["attention_mask"])
    last, hidden, attn = enc(x, keep, output_hidden_states=True, output_attentions=True)
    assert len(hidden) == 4 and hidden[0] is x and hidden[-1] is last
    assert len(attn) == 3 and all(a.shape == (B, 4, T, T) for a in attn)
    for a in attn:
        assert torch.allclose(a.sum(-1), torch.ones(B, 4, T), atol=1e-6)     # softmax rows sum to 1
        assert (a.masked_select(~keep.expand_as(a)) == 0).all()               # padded keys get weight 0
    assert enc(x, keep)[1:] == (None, None)
    assert enc.final_layer_norm is None
    assert Encoder.from_config(tiny_config(pre_layer_norm=True)).final_layer_norm is not None


# ------------------------------------------------------------------ embeddings and pooler
def test_embeddings_are_layernorm_of_token_plus_segment_plus_position():
    torch.manual_seed(0)
    emb = BertEmbeddings.from_config(tiny_config()).double().eval()
    for p in emb.parameters():
        p.data.normal_(0, 0.5)
    batch = random_batch()
    ids, types = batch["input_ids"], batch["token_type_ids"]
    positions = torch.arange(T)
    expect = (emb.word_embeddings.weight.double()[ids] + emb.token_type_embeddings.weight[types]
              + emb.position_embeddings.weight[positions])
    expect = ref_layer_norm(expect, emb.layer_norm)
    assert torch.allclose(emb(ids, types), expect, atol=1e-12)
    assert torch.allclose(emb(ids, types, positions[None].expand(B, T)), expect, atol=1e-12)
    zeros = torch.zeros_like(ids)
    assert torch.allclose(emb(ids), emb(ids, zeros), atol=1e-12)               # default segment: 0
    shifted = (positions + 3)[None]                                           # explicit positions are used
    assert not torch.allclose(emb(ids, types, shifted), expect)


def test_padding_row_starts_at_zero_and_gets_no_gradient():
    model = BertModel(tiny_config(pad_token_id=5))
    row = model.embeddings.word_embeddings.weight[5]
    assert torch.equal(row, torch.zeros(32))
    ids = torch.full((2, 4), 5)
    model(ids).last_hidden_state.sum().backward()
    assert torch.equal(model.embeddings.word_embeddings.weight.grad[5], torch.zeros(32))


def test_distilbert_style_embeddings_without_segments_with_sinusoids():
    emb = BertEmbeddings(V, 32, 19, type_vocab_size=0, sinusoidal_positions=True).eval()
    assert emb.token_type_embeddings is None
    ids = random_batch()["input_ids"]
    expect = F.layer_norm(emb.word_embeddings(ids) + emb.position_embeddings.table[:T], (32,), eps=1e-12)
    assert torch.allclose(emb(ids), expect, atol=1e-6)


def test_pooler_is_tanh_of_dense_cls():
    torch.manual_seed(0)
    pooler = BertPooler(32).double()
    h = torch.randn(B, T, 32, dtype=torch.float64)
    assert torch.allclose(pooler(h), torch.tanh(ref_linear(h[:, 0], pooler.dense)), atol=1e-12)


# ------------------------------------------------------------------ the whole model
def _outputs_and_grads(model, batch):
    model.zero_grad()
    out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    (out.last_hidden_state.square().mean() + out.pooler_output.sum()).backward()
    return out, {n: p.grad.clone() for n, p in model.named_parameters()}


def test_every_attention_path_gives_the_same_model_output_and_gradients():
    batch = random_batch(3)
    torch.manual_seed(0)
    ref = BertModel(tiny_config(attn_implementation="reference")).eval()
    out_ref, grads_ref = _outputs_and_grads(ref, batch)
    for impl in ("tiled", "fused"):
        model = BertModel(tiny_config(attn_implementation=impl)).eval()
        model.load_state_dict(ref.state_dict())
        assert all(layer.attention.implementation == impl for layer in model.encoder.layers)
        out, grads = _outputs_and_grads(model, batch)
        torch.testing.assert_close(out.last_hidden_state, out_ref.last_hidden_state, atol=2e-5, rtol=1e-5)
        torch.testing.assert_close(out.pooler_output, out_ref.pooler_output, atol=2e-5, rtol=1e-5)
        for name, g in grads.items():
            torch.testing.assert_close(g, grads_ref[name], atol=2e-5, rtol=1e-4, msg=f"{impl}: grad of {name}")


def test_asking_for_attentions_falls_back_to_the_reference_path_and_says_why():
    model = BertModel(tiny_config(attn_implementation="fused")).eval()
    batch = random_batch()
    out = model(batch["input_ids"], batch["attention_mask"], output_attentions=True, output_hidden_states=True)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (B, 4, T, T)
    assert len(out.hidden_states) == 3 and out.hidden_states[-1] is out.last_hidden_state
    assert "attention weights were requested" in model.encoder.layers[0].attention.fallback_reason


def test_mask_forms_agree_and_a_fully_padded_row_stays_finite():
    model = BertModel(tiny_config()).eval()
    batch = random_batch()
    ids, mask = batch["input_ids"], batch["attention_mask"]
    a = model(ids, mask).last_hidden_state
    assert torch.equal(a, model(ids, mask.bool()).last_hidden_state)
    assert torch.equal(a, model(ids, mask.float()).last_hidden_state)
    assert torch.equal(model(ids).last_hidden_state, model(ids, torch.ones_like(mask)).last_hidden_state)
    mask = mask.clone()
    mask[2] = 0
    assert torch.isfinite(model(ids, mask).last_hidden_state).all()
    # padding really is ignored: changing padded tokens leaves the real tokens' states unchanged
    ids2 = torch.where(batch["attention_mask"].bool(), ids, (ids + 1) % V)
    b = model(ids2, batch["attention_mask"]).last_hidden_state
    keep = batch["attention_mask"].bool()
    torch.testing.assert_close(a[keep], b[keep], atol=1e-5, rtol=1e-5)


def test_dropout_is_active_in_training_only():
    model = BertModel(tiny_config(hidden_dropout_prob=0.3))
    ids = random_batch()["input_ids"]
    model.train()
    assert not torch.equal(model(ids).last_hidden_state, model(ids).last_hidden_state)
    model.eval()
    assert torch.equal(model(ids).last_hidden_state, model(ids).last_hidden_state)


def test_output_object_reads_like_hf_model_output():
    out = BertModel(tiny_config(), add_pooling_layer=False)(random_batch()["input_ids"])
    assert isinstance(out, BaseModelOutputWithPooling) and out.pooler_output is None
    assert out[0] is out["last_hidden_state"] is out.last_hidden_state
    assert out.keys() == ["last_hidden_state"] and len(out.to_tuple()) == 1 and "pooler_output" not in out
    with pytest.raises(KeyError, match="pooler_output"):
        out["pooler_output"]


# ------------------------------------------------------------------ input checks at the boundary
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(input_ids=torch.rand(2, 5)), TypeError, r"input_ids must be an int64 \(torch.long\) or int32 tensor of ids, got dtype torch.float32$"),
    (dict(input_ids=torch.ones(0, 5, dtype=torch.long)), ValueError, r"input_ids must have shape \(batch, seq_len\) with batch >= 1 .* got \(0, 5\)"),
    (dict(input_ids=[[1, 2]]), TypeError, "input_ids must be a torch.Tensor of token ids, got list"),
    (dict(input_ids=torch.tensor([1, 2, 3])), ValueError, r"input_ids must have shape \(batch, seq_len\).* got \(3,\)"),
    (dict(input_ids=torch.tensor([[1, V]])), ValueError, rf"input_ids must lie in \[0, vocab_size={V}\), got values in \[1, {V}\]"),
    (dict(input_ids=torch.tensor([[-1, 2]])), ValueError, r"input_ids must lie in \[0, vocab_size=99\), got values in \[-1, 2\]"),
    (dict(input_ids=torch.ones(1, 20, dtype=torch.long)), ValueError, "seq_len 20, more than max_position_embeddings = 19"),
    (dict(attention_mask=torch.ones(2, 4)), ValueError, r"attention_mask must have the shape of input_ids, \(2, 5\), got \(2, 4\)"),
    (dict(attention_mask=torch.full((2, 5), 2)), ValueError, r"attention_mask must be bool or hold only 0 .* got values \[2\]"),
    (dict(token_type_ids=torch.zeros(5, 2, dtype=torch.long)), ValueError, r"token_type_ids must have the shape of input_ids, \(2, 5\), got \(5, 2\)"),
    (dict(token_type_ids=torch.full((2, 5), 3)), ValueError, r"token_type_ids must lie in \[0, type_vocab_size=3\), got values in \[3, 3\]"),
    (dict(token_type_ids=torch.zeros(2, 5)), TypeError, "token_type_ids must be an int64 .* got dtype torch.float32"),
    (dict(position_ids=torch.arange(4)[None]), ValueError, r"position_ids must have shape \(batch, seq_len\) = \(2, 5\) or \(1, 5\), got \(1, 4\)"),
    (dict(position_ids=torch.arange(15, 20)[None]), ValueError, r"position_ids must lie in \[0, max_len=19\), got values in \[15, 19\]"),
])
def test_bad_inputs_give_clear_errors(kwargs, error, match):
    model = BertModel(tiny_config())
    args = dict(input_ids=torch.ones(2, 5, dtype=torch.long))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        model(**args)


def test_model_needs_a_bert_config():
    with pytest.raises(TypeError, match="config must be a BertConfig, got dict"):
        BertModel({"hidden_size": 32})
    check_inputs(tiny_config(), *[torch.ones(2, 5, dtype=torch.int32)] * 3, torch.arange(5, dtype=torch.int32)[None])


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.bool])
@pytest.mark.parametrize("name", ["input_ids", "token_type_ids", "position_ids"])
def test_ids_of_other_integer_dtypes_are_refused_naming_the_dtype(name, dtype):
    with pytest.raises(TypeError, match=rf"{name} must be an int64 \(torch.long\) or int32 .* got dtype {dtype}"):
        BertModel(tiny_config())(**{"input_ids": torch.ones(2, 5, dtype=torch.long), name: torch.ones(2, 5, dtype=dtype)})


# ------------------------------------------------------------------ initialisation and size
def test_init_weights_normal_std_zero_bias_unit_layernorm():
    cfg = tiny_config(hidden_size=128, intermediate_size=256, initializer_range=0.05, vocab_size=500)
    model = BertModel(cfg)
    for name, p in model.named_parameters():
        if "layer_norm" in name:
            expect = torch.ones_like(p) if name.endswith("weight") else torch.zeros_like(p)
            assert torch.equal(p, expect), name
        elif name.endswith("bias"):
            assert torch.equal(p, torch.zeros_like(p)), name
        else:
            values = p[1:] if "word_embeddings" in name else p                # row 0 = [PAD] is zero
            assert abs(values.mean().item()) < 0.01 and abs(values.std().item() - 0.05) < 0.005, name
    assert torch.equal(model.embeddings.word_embeddings.weight[0], torch.zeros(128))


@pytest.mark.parametrize("preset", ["tiny", "mini", "base"])
def test_parameter_count_matches_count_parameters(preset):
    cfg = BertConfig.preset(preset)
    with torch.device("meta"):                                                 # shapes only: base builds in ms
        model = BertModel(cfg)
        headless = BertModel(cfg, add_pooling_layer=False)
    assert sum(p.numel() for p in model.parameters()) == count_parameters(cfg)
    assert sum(p.numel() for p in headless.parameters()) == count_parameters(cfg, pooler=False)
    if preset == "base":
        assert count_parameters(cfg) == 109_482_240


def test_tiny_preset_builds_for_real_and_runs():
    model = BertModel(BertConfig.preset("tiny")).eval()
    assert sum(p.numel() for p in model.parameters()) == count_parameters(BertConfig.preset("tiny"))
    out = model(torch.randint(0, 30522, (2, 9)))
    assert out.last_hidden_state.shape == (2, 9, 128) and out.pooler_output.shape == (2, 128)
