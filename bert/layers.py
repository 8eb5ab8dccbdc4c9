"""The Transformer encoder, block by block: FeedForward, EncoderBlock (post-LN as in BERT), Encoder (a stack).

One BERT layer (Devlin et al. 2019 §3, "a multi-layer bidirectional Transformer encoder based on the original
implementation described in Vaswani et al. 2017"; Vaswani et al. §3.1 and §5.4; article 001 §3 steps 2 and 4,
自注意力机制 and 残差连接) is *post-LN*: each sub-layer's output is dropped out, added to its input, and then
layer-normalised:

    x = LayerNorm(x + Dropout(MultiHead(x)))
    x = LayerNorm(x + Dropout(FFN(x)))

This replaces article 000 §4's `Output = Σ W^o·Tanh(W^v·X + W^k·K^T + b)` (articles README, erratum 2): there is no
tanh inside a layer (BERT's only tanh is the pooler, bert/model.py), and no convolution on the attention scores
either (erratum 3, article 001 §3).

`pre_layer_norm=True` gives the *pre-LN* wiring instead — NOT BERT, an option for experiments (Xiong et al. 2020,
"On Layer Normalization in the Transformer Architecture"; GPT-2 and most later models):

    x = x + Dropout(MultiHead(LayerNorm(x)))
    x = x + Dropout(FFN(LayerNorm(x)))            … and one final LayerNorm after the last block (Encoder).

Everything is built from plain arguments (hidden size, heads, …) so DistilBERT reuses these classes unchanged;
`from_config(config)` reads them from a BertConfig.

Dimension legend
    B  batch    T  tokens    C  channels (hidden_size)    I  FFN inner width (intermediate_size)    H  heads
"""

from __future__ import annotations

from torch import Tensor, nn

from .attention import MultiHeadAttention
from .validation import check_block_arguments, check_choice, check_positive_ints

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


def activation(name: str) -> nn.Module:
    """The FFN non-linearity, by its config.json name (HF's names).

    "gelu"  GELU(x) = x·Φ(x) = ½·x·(1 + erf(x/√2)), the exact form (Hendrycks & Gimpel 2016 §2; Devlin et al. 2019
            Appendix A.2: "a gelu activation … rather than the standard relu"). This is what HF's "gelu" and
            every released BERT config mean.
    "gelu_new", "gelu_pytorch_tanh"
            the tanh approximation ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (Hendrycks & Gimpel §2). It is what
            google-research/bert's TensorFlow `gelu` computes; the two differ by < 1e-3 (tests/bert/test_model.py).
    "relu"  max(0, x) (Vaswani et al. 2017 §3.3; DistilBERT can use it too).
    """
    check_choice("activation", name, ACTIVATIONS)
    if name == "gelu":
        return nn.GELU()                                   # erf form
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return nn.GELU(approximate="tanh")                 # tanh approximation
    return nn.ReLU()                                       # "relu"


class FeedForward(nn.Module):
    """FFN(x) = act(x W₁ + b₁) W₂ + b₂, applied to every token alone (position-wise).

    Vaswani et al. 2017 §3.3 (with ReLU there; BERT uses GELU, Devlin et al. Appendix A.2). The articles do not
    describe this sub-layer (article 001 §3's 全连接层 is the output layer).
    W₁: C → I (`linear1`, HF `intermediate.dense`), W₂: I → C (`linear2`, HF `output.dense`); BERT has I = 4C.
    """

    def __init__(self, hidden_size: int, intermediate_size: int, activation_name: str = "gelu"):
        super().__init__()
        check_positive_ints(hidden_size=hidden_size, intermediate_size=intermediate_size)
        self.linear1 = nn.Linear(hidden_size, intermediate_size)   # W₁, b₁
        self.act = activation(activation_name)
        self.linear2 = nn.Linear(intermediate_size, hidden_size)   # W₂, b₂

    def forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.act(self.linear1(x)))             # (B, T, C) -> (B, T, I) -> (B, T, C)


class EncoderBlock(nn.Module):
    """One Transformer encoder layer: multi-head self-attention and a feed-forward net, each wrapped in
    dropout + residual + LayerNorm. Post-LN (BERT) by default; `pre_layer_norm=True` is pre-LN (not BERT).
    See the module docstring for both formulas and their sources.

    Submodules: `attention` (MultiHeadAttention: query/key/value/output), `attention_layer_norm`,
    `feed_forward` (FeedForward: linear1/linear2), `output_layer_norm`, `dropout` (used after both sub-layers).
    """

    def __init__(self, hidden_size: int, num_heads: int, intermediate_size: int, hidden_dropout: float = 0.1,
                 attention_dropout: float = 0.1, activation_name: str = "gelu", layer_norm_eps: float = 1e-12,
                 attn_implementation: str = "auto", pre_layer_norm: bool = False):
        super().__init__()
        check_block_arguments(hidden_dropout, layer_norm_eps)
        self.pre_layer_norm = bool(pre_layer_norm)
        self.attention = MultiHeadAttention(hidden_size, num_heads, dropout=attention_dropout,
                                            attn_implementation=attn_implementation)
        self.attention_layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.feed_forward = FeedForward(hidden_size, intermediate_size, activation_name)
        self.output_layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(hidden_dropout)

    @classmethod
    def from_config(cls, config) -> "EncoderBlock":
        """Build from a BertConfig (or anything with the same field names)."""
        return cls(**block_arguments(config))

    def forward(self, x: Tensor, attn_mask: Tensor | None = None, output_attentions: bool = False,
                tokens=None) -> tuple[Tensor, Tensor | None]:
        """x (B, T, C); attn_mask bool, True = may attend, broadcastable to (B, H, T, T) — e.g. (B, 1, 1, T).
        Unpadded (bert/unpad.py): x (N, C), the real tokens, and `tokens` (a RaggedBatch) for the attention; every
        other step works on each token alone, so the same lines run on (N, C).

        Returns (x (B, T, C) or (N, C), attention weights (B, H, T, T) or None).
        """
        if self.pre_layer_norm:  # pre-LN: NOT BERT (see module docstring)
            a, weights = self.attention(self.attention_layer_norm(x), attn_mask, output_attentions, tokens)
            x = x + self.dropout(a)
            x = x + self.dropout(self.feed_forward(self.output_layer_norm(x)))
            return x, weights
        a, weights = self.attention(x, attn_mask, output_attentions, tokens)
        x = self.attention_layer_norm(x + self.dropout(a))                      # LN(x + Dropout(MHA(x)))
        x = self.output_layer_norm(x + self.dropout(self.feed_forward(x)))      # LN(x + Dropout(FFN(x)))
        return x, weights


def block_arguments(config) -> dict:
    """EncoderBlock's keyword arguments from a config with BertConfig's field names."""
    return dict(hidden_size=config.hidden_size, num_heads=config.num_attention_heads,
                intermediate_size=config.intermediate_size, hidden_dropout=config.hidden_dropout_prob,
                attention_dropout=config.attention_probs_dropout_prob, activation_name=config.hidden_act,
                layer_norm_eps=config.layer_norm_eps, attn_implementation=config.attn_implementation,
                pre_layer_norm=config.pre_layer_norm)


class Encoder(nn.Module):
    """A stack of `num_layers` identical EncoderBlocks (Devlin et al. §3: L layers; BERT-base L = 12).

    With pre-LN blocks the stack ends with one more LayerNorm (`final_layer_norm`), as pre-LN models do; post-LN
    (BERT) has none — each block already ends in a LayerNorm.
    `forward` returns (last hidden state, all hidden states or None, all attention weights or None); the
    hidden states are (input, after block 1, …, after block L) — L + 1 tensors, as HF returns them.
    """

    def __init__(self, num_layers: int, **block_kwargs):
        super().__init__()
        check_positive_ints(num_layers=num_layers)
        self.layers = nn.ModuleList(EncoderBlock(**block_kwargs) for _ in range(num_layers))
        first = self.layers[0]
        self.final_layer_norm = None
        if first.pre_layer_norm:  # pre-LN only (not BERT)
            self.final_layer_norm = nn.LayerNorm(first.output_layer_norm.normalized_shape,
                                                 eps=first.output_layer_norm.eps)

    @classmethod
    def from_config(cls, config) -> "Encoder":
        return cls(config.num_hidden_layers, **block_arguments(config))

    def forward(self, x: Tensor, attn_mask: Tensor | None = None, output_hidden_states: bool = False,
                output_attentions: bool = False,
                tokens=None) -> tuple[Tensor, tuple[Tensor, ...] | None, tuple[Tensor, ...] | None]:
        """x (B, T, C), or (N, C) with `tokens` (unpadded: bert/unpad.py, which scatters the results back)."""
        hidden_states = [x] if output_hidden_states else None
        attentions = [] if output_attentions else None
        rest = (output_attentions,) if tokens is None else (output_attentions, tokens)  # padded: the 3 arguments
        for block in self.layers:                                           # a block of exercise post_ln takes
            x, weights = block(x, attn_mask, *rest)                             # (B, T, C) or (N, C)
            if output_hidden_states:
                hidden_states.append(x)
            if output_attentions:
                attentions.append(weights)
        if self.final_layer_norm is not None:
            x = self.final_layer_norm(x)
            if output_hidden_states:
                hidden_states[-1] = x
        return (x, tuple(hidden_states) if output_hidden_states else None,
                tuple(attentions) if output_attentions else None)


__all__ = ["ACTIVATIONS", "activation", "FeedForward", "EncoderBlock", "Encoder", "block_arguments"]
