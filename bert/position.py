"""Position encodings: the Transformer's fixed sinusoids and BERT's learned table — siblings, one interface.

Both are called the same way, `module(position_ids) -> (..., dim)`, so a model can take either.

- `LearnedPositionEmbedding(max_len, dim)`: what BERT uses (Devlin et al. 2019 §3.2, Figure 2; google-research/bert
  `embedding_postprocessor`, "position_embeddings" trained from N(0, 0.02)). Articles 001 §4 and 004 §3.3.2
  present the sinusoidal formula as BERT's — that is the erratum corrected here (articles README, erratum 4).
- `SinusoidalPositionEncoding(dim, max_len)`: the original Transformer's (Vaswani et al. 2017 §3.5), kept as an
  option by DistilBERT (`sinusoidal_pos_embds`):
      PE(pos, 2i)   = sin(pos / 10000^(2i/d))
      PE(pos, 2i+1) = cos(pos / 10000^(2i/d))
  (article 004 §3.3.2). For an odd `dim` the last column is the sine of the unpaired index 2i = d − 1.

Positions must lie in [0, max_len): a position outside the table is a ValueError naming it, never a silent
wrap-around or an index error deep inside `F.embedding` — checked (`bert.validation.check_position_ids`) where
values may be read back (`validates`: by default on CPU; on CUDA the embedding kernel's own index assert remains).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .validation import check_position_ids, check_sin_cos_pairs, check_table_size, checked


@checked(check_table_size)
def sinusoidal_table(max_len: int, dim: int, base: float = 10000.0) -> Tensor:
    """The (max_len, dim) table PE(pos, 2i) = sin(pos/base^(2i/d)), PE(pos, 2i+1) = cos(pos/base^(2i/d)).

    Vaswani et al. 2017 §3.5; article 004 §3.3.2. Computed in float64, returned as float32.
    """
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]              # (max_len, 1)
    two_i = torch.arange(0, dim, 2, dtype=torch.float64)                   # 2i = 0, 2, 4, …  (ceil(dim/2),)
    angle = pos / base ** (two_i / dim)                                    # pos / 10000^(2i/d)  (max_len, ceil(d/2))
    table = torch.empty(max_len, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)                                      # even columns: sin
    table[:, 1::2] = torch.cos(angle[:, : dim // 2])                       # odd columns: cos (one fewer if d odd)
    return table.float()


class SinusoidalPositionEncoding(nn.Module):
    """Fixed sin/cos position encodings (Vaswani et al. 2017 §3.5; article 004 §3.3.2). No trainable weights.

    `forward(position_ids)` looks rows up in a precomputed (max_len, dim) table (a non-persistent buffer, so it
    moves with `.to(device)` and is never saved as a weight).
    """

    def __init__(self, dim: int, max_len: int = 512, base: float = 10000.0):
        super().__init__()
        self.dim, self.max_len, self.base = dim, max_len, base
        self.register_buffer("table", sinusoidal_table(max_len, dim, base), persistent=False)

    def forward(self, position_ids: Tensor) -> Tensor:
        check_position_ids(position_ids, self.max_len)
        return F.embedding(position_ids, self.table)                       # (...) -> (..., dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_len={self.max_len}, base={self.base:g}"


class LearnedPositionEmbedding(nn.Module):
    """BERT's learned absolute position embeddings: a trainable (max_len, dim) table, one row per position.

    Devlin et al. 2019 §3.2; google-research/bert `modeling.py` `embedding_postprocessor`. Initialised N(0, 0.02)
    as BERT does (the model's `_init_weights` re-applies its own `initializer_range`).
    """

    def __init__(self, max_len: int, dim: int, init_std: float = 0.02):
        super().__init__()
        check_table_size(max_len, dim)
        self.dim, self.max_len = dim, max_len
        self.weight = nn.Parameter(torch.empty(max_len, dim))
        nn.init.normal_(self.weight, mean=0.0, std=init_std)

    def forward(self, position_ids: Tensor) -> Tensor:
        check_position_ids(position_ids, self.max_len)
        return F.embedding(position_ids, self.weight)                      # (...) -> (..., dim)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, dim={self.dim}"


@checked(check_sin_cos_pairs)
def relative_rotation(dim: int, k: int, base: float = 10000.0) -> Tensor:
    """The fixed linear map M_k with PE(pos + k) = M_k · PE(pos) for every pos (Vaswani et al. 2017 §3.5: "for any
    fixed offset k, PE_{pos+k} can be represented as a linear function of PE_pos").

    Each (sin, cos) pair with frequency ω_i = 1/base^(2i/d) is rotated by the angle k·ω_i:
        sin(a + b) = sin a cos b + cos a sin b,   cos(a + b) = cos a cos b − sin a sin b.
    Returned as a (dim, dim) float64 block-diagonal matrix; for an odd dim the unpaired last sine column has no
    partner, so only even dims are accepted.
    """
    m = torch.zeros(dim, dim, dtype=torch.float64)
    for i in range(dim // 2):
        b = k / base ** (2 * i / dim)
        c, s = math.cos(b), math.sin(b)
        m[2 * i, 2 * i], m[2 * i, 2 * i + 1] = c, s          # sin(a+b) =  cos b · sin a + sin b · cos a
        m[2 * i + 1, 2 * i], m[2 * i + 1, 2 * i + 1] = -s, c  # cos(a+b) = −sin b · sin a + cos b · cos a
    return m
