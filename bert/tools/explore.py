"""The attention explorer: one self-contained HTML page that shows what every head of a model attends to.

    page = explore(model, tokenizer, "The cat sat on the mat.", pair=None)   # any BERT / DistilBERT class
    page.save("page.html")          # or show `page` in Jupyter (`_repr_html_`: the same page, in an iframe)

Views (drawn by explorer.js, beside this file, with explorer.css): the head view (tokens on both sides, a line per
query → key weighted by attention, one colour per head), the model view (every layer × head as a thumbnail; a click
opens it in the head view) and the formula view — for one layer, head and query token, each step of

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V        (Vaswani et al. 2017 §3.2.1; bert/attention.py `attention`)

with its numbers: q and k as colour strips, every q·k, the scale 1/√d_k, the softmax and the weighted sum of v.

What the page holds, and why: the weights of a 512-token MiniLM page would be 6·12·512² floats (75 MB), so the page
holds q and k (and v) per layer and head and computes the weights itself, in float64. q and k are rounded to their
top `KEY_BYTES` bytes (16 mantissa bits), v to its top `VALUE_BYTES` (8 mantissa bits: v is shown to 3 digits);
each tensor's bytes are stored plane by plane (all first bytes, then all second bytes — similar bytes side by side
deflate better), deflated (zlib) and base64-encoded; the browser inflates them with its DecompressionStream. Before
the page is written, the weights it will compute are computed here from the rounded numbers and compared with the
model's own `output_attentions`: over `TOLERANCE`, q and k are shipped unrounded (4 bytes). The page shows the
difference it reached. No request of any kind leaves the page: everything is inline (no CDN, no font download).

q, k and v are read with forward hooks on the query / key / value projections of each `MultiHeadAttention`
(bert/attention.py; DistilBERT's blocks are the same module): the model's code is not changed. Padding is dropped:
only positions with attention_mask 1 are shown.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import zlib
from importlib import resources

import numpy as np
import torch
from torch import nn

from tokenization.files import write_text

from ..attention import MultiHeadAttention

KEY_BYTES = 3          # q and k: the top 3 bytes of each float32 (sign, exponent, 15 of 23 mantissa bits)
VALUE_BYTES = 2        # v: the top 2 bytes (bfloat16's precision: shown to 3 digits in the formula view)
TOLERANCE = 1e-4       # the page's weights vs output_attentions, at most
IFRAME_HEIGHT = 640    # pixels, for Jupyter
TITLE_CHARS = 120      # a longer title is cut (the tokens show the whole text)


def attention_modules(model: nn.Module) -> list[MultiHeadAttention]:
    """The model's MultiHeadAttention modules, first layer first; TypeError when it has none."""
    blocks = [m for m in model.modules() if isinstance(m, MultiHeadAttention)] if isinstance(model, nn.Module) else []
    if not blocks:
        raise TypeError(f"model must contain bert.attention.MultiHeadAttention modules, got {type(model).__name__}")
    return blocks


def capture_qkv(model: nn.Module, inputs: dict) -> tuple[list[dict], object]:
    """Run `model(**inputs, output_attentions=True)` with forward hooks on every MultiHeadAttention's query, key and
    value projections; return ([{"query": (B, T, C), "key": …, "value": …} per layer], the model's output)."""
    blocks = attention_modules(model)
    captured: list[dict] = [{} for _ in blocks]
    handles = []
    for layer, block in enumerate(blocks):
        for name in ("query", "key", "value"):
            def hook(module, args, output, layer=layer, name=name):
                captured[layer][name] = output.detach()
            handles.append(getattr(block, name).register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()                                            # no dropout: the weights a reader sees are the model's
        with torch.no_grad():
            output = model(**inputs, output_attentions=True)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return captured, output


def round_top_bytes(x: np.ndarray, nbytes: int) -> np.ndarray:
    """float32 values kept to their top `nbytes` bytes, rounded to nearest (as uint32 bit patterns)."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    drop = 8 * (4 - nbytes)
    if drop:
        bits = ((bits + (1 << (drop - 1))) >> drop) << drop       # round half up on the bit pattern
    return bits.astype(np.uint32)


def encode(x: np.ndarray, nbytes: int) -> dict:
    """A float32 array as {"bytes", "shape", "data"}: its top `nbytes` bytes, plane by plane, deflated, base64."""
    bits = round_top_bytes(x, nbytes).ravel()
    planes = b"".join(((bits >> (24 - 8 * s)) & 0xFF).astype(np.uint8).tobytes() for s in range(nbytes))
    data = base64.b64encode(zlib.compress(planes, 9)).decode("ascii")
    return {"bytes": nbytes, "shape": list(x.shape), "data": data}


def decoded(x: np.ndarray, nbytes: int) -> np.ndarray:
    """What the page reads back from `encode(x, nbytes)`: the rounded float32 values."""
    return round_top_bytes(x, nbytes).view(np.float32).reshape(x.shape)


def page_weights(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """softmax(q kᵀ / √d_k) in float64, as explorer.js computes it: q, k (L, H, T, D) → (L, H, T, T)."""
    scores = np.einsum("lhid,lhjd->lhij", q.astype(np.float64), k.astype(np.float64)) / math.sqrt(q.shape[-1])
    scores -= scores.max(axis=-1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=-1, keepdims=True)


def page_error(q: np.ndarray, k: np.ndarray, model_weights: torch.Tensor, keep: np.ndarray) -> float:
    """max |page_weights(q, k) − the model's weights (H, T, T) at the real tokens `keep`|, one layer."""
    expected = model_weights.double().cpu().numpy()[:, keep][:, :, keep]
    return float(np.abs(page_weights(q, k)[0] - expected).max())


def attention_data(model: nn.Module, tokenizer, text: str, pair: str | None = None, title: str | None = None) -> dict:
    """Everything the page shows, as a JSON-ready dict (see the module docstring for the encoding)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    if pair is not None and (not isinstance(pair, str) or not pair.strip()):
        raise ValueError(f"pair must be None or a non-empty string, got {pair!r}")
    blocks = attention_modules(model)
    config = model.config
    max_length = getattr(config, "max_position_embeddings", 512)
    enc = tokenizer(text, text_pair=pair, truncation=True, max_length=max_length, return_tensors="pt",
                    return_token_type_ids=True, return_attention_mask=True)
    device = next(model.parameters()).device
    inputs = {"input_ids": enc["input_ids"].to(device), "attention_mask": enc["attention_mask"].to(device)}
    if getattr(config, "type_vocab_size", 0):                   # BERT has segments; DistilBERT has none
        inputs["token_type_ids"] = enc["token_type_ids"].to(device)
    captured, output = capture_qkv(model, inputs)
    keep = enc["attention_mask"][0].bool().cpu().numpy()        # padding is never shown
    H, D = blocks[0].num_heads, blocks[0].head_dim

    def heads(name: str) -> np.ndarray:                         # (L, H, T, D), real tokens only
        x = torch.stack([c[name] for c in captured]).float().cpu().numpy()
        # (L, B, T, C) from the padded path; (L, N, C) from the unpadded one (bert/unpad.py), which holds the real
        # tokens of our one text already, in order
        x = x[:, 0][:, keep] if x.ndim == 4 else x                                        # (L, T, C)
        return x.reshape(x.shape[0], x.shape[1], H, D).transpose(0, 2, 1, 3).copy()

    q, k, v = heads("query"), heads("key"), heads("value")
    key_bytes, error = KEY_BYTES, 0.0
    for key_bytes in (KEY_BYTES, 4):
        error = max(page_error(decoded(q[l:l + 1], key_bytes), decoded(k[l:l + 1], key_bytes), attentions[0], keep)
                    for l, attentions in enumerate(output.attentions))                # a layer at a time: less memory
        if error <= TOLERANCE:
            break
    ids = enc["input_ids"][0][torch.from_numpy(keep)].tolist()
    segments = enc["token_type_ids"][0][torch.from_numpy(keep)].tolist()
    title = title or (text if pair is None else f"{text} / {pair}")
    return {"title": title if len(title) <= TITLE_CHARS else title[:TITLE_CHARS - 1] + "…",
            "model": type(model).__name__, "tokens": tokenizer.convert_ids_to_tokens(ids), "segments": segments,
            "special": [i in (tokenizer.cls_token_id, tokenizer.sep_token_id) for i in ids],
            "layers": q.shape[0], "heads": H, "headDim": D, "maxError": error,
            "q": encode(q, key_bytes), "k": encode(k, key_bytes), "v": encode(v, VALUE_BYTES)}


def asset(name: str) -> str:
    """A file shipped beside this module (explorer.js, explorer.css), as text."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def page_html(data: dict) -> str:
    """The whole page: explorer.css, the data as JSON and explorer.js, inline."""
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")   # no "</script>" inside the script
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; script-src \'unsafe-inline\'; '
            f'style-src \'unsafe-inline\'; img-src data: blob:">\n'
            f"<title>Attention: {html.escape(data['title'][:80])}</title>\n<style>\n{asset('explorer.css')}</style>\n"
            f'</head><body>\n<div id="app"></div>\n<script id="data" type="application/json">{payload}</script>\n'
            f"<script>\n{asset('explorer.js')}</script>\n</body></html>\n")


class AttentionPage:
    """A built page: `.html` (the text), `.data` (what it holds), `save(path)`, and `_repr_html_` for Jupyter."""

    def __init__(self, data: dict):
        self.data = data
        self.html = page_html(data)

    def __repr__(self) -> str:
        d = self.data
        return (f"AttentionPage({d['model']}, {len(d['tokens'])} tokens, {d['layers']} layers x {d['heads']} heads, "
                f"{len(self.html) / 1e6:.2f} MB)")

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> str:
        """Write the page to `path` (atomically: a temporary file, then a rename); an existing file is refused
        unless `overwrite`. Returns the path."""
        path = os.fspath(path)
        if os.path.isdir(path):
            raise IsADirectoryError(f"path must be a file name, got the folder {path!r}")
        if os.path.exists(path) and not overwrite:
            raise FileExistsError(f"path {path!r} exists; choose a new name or give overwrite=True (--overwrite)")
        write_text(path, self.html)
        return path

    def _repr_html_(self) -> str:
        """The same page in an iframe (its own ids and styles, so several pages fit in one notebook)."""
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;height:{IFRAME_HEIGHT}px;'
                f'border:1px solid #ddd"></iframe>')


VIEWS = ("head", "model", "formula")


def explore(model: nn.Module, tokenizer, text: str, pair: str | None = None, title: str | None = None, *,
            view: str = "head", layer: int = 0, head: int = 0, query: int = 0) -> AttentionPage:
    """The explorer page for `text` (and `pair`) through `model` (any class holding MultiHeadAttention modules),
    opening on `view` ("head", "model" or "formula") with `layer`, `head` and the `query` token chosen."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    data = attention_data(model, tokenizer, text, pair, title)
    for name, value, n in (("layer", layer, data["layers"]), ("head", head, data["heads"]),
                           ("query", query, len(data["tokens"]))):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise ValueError(f"{name} must be an int in [0, {n}), got {value!r}")
    data["start"] = {"view": view, "layer": layer, "head": head, "query": query}
    return AttentionPage(data)


__all__ = ["explore", "AttentionPage", "attention_data", "capture_qkv", "encode", "decoded", "page_weights"]
