"""BERT's input representation: token + position + segment embeddings, then LayerNorm and dropout.

    E = Dropout(LayerNorm(E_token[input_ids] + E_segment[token_type_ids] + E_position[position_ids]))

Devlin et al. 2019 §3.2 and Figure 2 ("the input embeddings are the sum of the token embeddings, the segmentation
embeddings and the position embeddings"); google-research/bert `modeling.py` `embedding_lookup` +
`embedding_postprocessor` (which adds LayerNorm and dropout). Article 001 §4 writes this step as
`H = Embedding(L_input)`: the lookup is by token *ids*, not by the sequence length, and BERT adds the position
and segment embeddings before LayerNorm and dropout (articles README, erratum 5). The positions are BERT's
*learned* table (`LearnedPositionEmbedding`), not the Transformer's sinusoids (erratum 4).

`type_vocab_size=0` leaves out the segment embeddings and `sinusoidal_positions=True` swaps in the fixed
sinusoids: DistilBERT's embeddings are this same module with those two choices.

Dimension legend
    B  batch    T  tokens    C  channels (hidden_size)    V  vocab_size    P  max_position_embeddings
"""

from __future__ import annotations

from torch import Tensor, nn

from .position import LearnedPositionEmbedding, SinusoidalPositionEncoding


class BertEmbeddings(nn.Module):
    """Token + position + segment embeddings → LayerNorm → dropout (formula and sources in the module docstring).

    Submodules: `word_embeddings` (V×C; the [PAD] row starts at zero and gets no gradient, like HF's
    `padding_idx`), `position_embeddings` (P×C, `.weight`), `token_type_embeddings` (S×C, or None),
    `layer_norm`, `dropout`. Inputs are assumed checked by the model (`bert.validation.check_inputs`).
    """

    def __init__(self, vocab_size: int, hidden_size: int, max_position_embeddings: int = 512,
                 type_vocab_size: int = 2, pad_token_id: int = 0, layer_norm_eps: float = 1e-12,
                 dropout: float = 0.1, sinusoidal_positions: bool = False):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size, padding_idx=pad_token_id)
        if sinusoidal_positions:  # the Transformer's fixed table (DistilBERT option), not BERT's
            self.position_embeddings = SinusoidalPositionEncoding(hidden_size, max_position_embeddings)
        else:
            self.position_embeddings = LearnedPositionEmbedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size) if type_vocab_size > 0 else None
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.max_position_embeddings = max_position_embeddings

    @classmethod
    def from_config(cls, config) -> "BertEmbeddings":
        return cls(config.vocab_size, config.hidden_size, config.max_position_embeddings, config.type_vocab_size,
                   config.pad_token_id, config.layer_norm_eps, config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor | None, token_type_ids: Tensor | None = None,
                position_ids: Tensor | None = None, inputs_embeds: Tensor | None = None) -> Tensor:
        """input_ids (B, T) → embeddings (B, T, C). Missing token_type_ids mean segment 0 everywhere; missing
        position_ids mean 0, 1, …, T−1. `inputs_embeds` (B, T, C), given in place of input_ids, replaces the
        token lookup E_token[input_ids] (as in transformers: positions, segments, LayerNorm and dropout follow)."""
        if inputs_embeds is None:
            x = self.word_embeddings(input_ids)                               # E_token: (B, T) -> (B, T, C)
        else:
            x = inputs_embeds                                                 # (B, T, C), given
        T = x.shape[1]
        if self.token_type_embeddings is not None:
            if token_type_ids is None:                                        # all segment A: row 0, broadcast
                x = x + self.token_type_embeddings.weight[0]                  # (C,) over (B, T, C)
            else:
                x = x + self.token_type_embeddings(token_type_ids)            # E_segment: (B, T) -> (B, T, C)
        if position_ids is None:
            x = x + self._default_positions(T, x)                             # (T, C) over (B, T, C)
        else:
            x = x + self.position_embeddings(position_ids)                    # E_position: (B|1, T) -> (B|1, T, C)
        return self.dropout(self.layer_norm(x))

    def _default_positions(self, T: int, like: Tensor) -> Tensor:
        """Rows 0 … T−1 of the position table, (T, C): positions 0, 1, …, T−1 without building an index tensor."""
        if isinstance(self.position_embeddings, LearnedPositionEmbedding):
            return self.position_embeddings.weight[:T]                        # (P, C) -> (T, C)
        return self.position_embeddings.table[:T].to(like.dtype)             # fixed sinusoids (P, C) -> (T, C)


__all__ = ["BertEmbeddings"]
