"""The checks at the edge, in one place: a model's `forward` makes one call here, at its top, and a public formula
function gets its check from `@checked(...)` one line above its `def` — so models and formulas read as what they
compute, and a bad input still fails naming the argument, what was expected and what came.

Shapes and dtypes (metadata) are checked on every call. *Values* (ids in range, a 0/1 mask, labels) must be read back
to the host — on CUDA a device sync each — so they are checked only where `validates(t)` allows, by one process-wide
switch: `set_validation(None)` auto, the default (on for CPU tensors, off for CUDA ones), `True` always (e.g. to find
a bad batch in a GPU run), `False` never; never while `torch.compile` traces; `with validation(mode):` for a block.
It also decides the other data read of a forward: `bert.unpad.padding_mask` drops an all-ones mask where allowed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

_mode: bool | None = None  # None = auto (CPU on, CUDA off); True = always; False = never


def set_validation(mode: bool | None) -> None:
    """Value checks: None = auto (on for CPU tensors, off for CUDA ones), True = always, False = never."""
    global _mode
    if mode is not None and not isinstance(mode, bool):
        raise TypeError(f"validation mode must be True, False or None (auto), got {mode!r}")
    _mode = mode


def get_validation() -> bool | None:  # the current mode: None (auto), True or False
    return _mode


@contextlib.contextmanager
def validation(mode: bool | None) -> Iterator[None]:
    """`with validation(False): ...` — the switch set for the block, the previous mode restored after."""
    previous = _mode
    set_validation(mode)
    try:
        yield
    finally:
        set_validation(previous)


def validates(t: Tensor) -> bool:
    """May this call read `t`'s values back (to check them)? See the module docstring for the rule."""
    if torch.compiler.is_compiling():          # a data read would break the traced graph
        return False
    return t.device.type == "cpu" if _mode is None else _mode


def checked(check: Callable[..., None]) -> Callable[[Callable], Callable]:
    """`@checked(check_x)` above `def f(...)`: every call runs `check_x` with f's own arguments, then `f`, whose body
    can then start with its formula. The unchecked function stays reachable as `f.__wrapped__` (functools.wraps)."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def with_checks(*args, **kwargs):
            check(*args, **kwargs)
            return fn(*args, **kwargs)
        return with_checks
    return decorate


def is_integer(t: Tensor) -> bool:
    """An integer dtype (not float, complex or bool)."""
    return not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)


def _check_tensor(name: str, t: object, what: str = " or None") -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{what}, got {type(t).__name__}")

def _check_range(name: str, ids: Tensor, size_name: str, size: int) -> None:
    lo, hi = (int(v) for v in torch.aminmax(ids))                               # min and max in one pass
    if lo < 0 or hi >= size:
        raise ValueError(f"{name} must lie in [0, {size_name}={size}), got values in [{lo}, {hi}]")

def _check_ids_dtype(name: str, t: Tensor) -> None:
    if t.dtype not in (torch.int64, torch.int32):     # what an embedding takes; uint8/int8/int16: refused, not cast
        raise TypeError(f"{name} must be an int64 (torch.long) or int32 tensor of ids, got dtype {t.dtype}"
                        + (" (convert with .long())" if is_integer(t) else ""))


# ---------------------------------------------------------------- attention and the modules' arguments
def check_positive_ints(**values: int) -> None:
    """Each keyword's value must be an int ≥ 1 (a bool is not an int here)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_dropout(p: float, name: str = "dropout_p") -> None:
    """A dropout probability must lie in [0, 1)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {p!r}")


def check_choice(name: str, value: object, choices: tuple) -> None:
    """`value` must be one of `choices` (e.g. attn_implementation, activation)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_attention_mask(attn_mask: Tensor, target: tuple[int, ...]) -> None:
    """attn_mask must be a bool tensor that broadcasts to the scores' shape `target` = (*, Tq, Tk)."""
    if not isinstance(attn_mask, Tensor):
        raise TypeError(f"attn_mask must be a bool torch.Tensor or None, got {type(attn_mask).__name__}")
    if attn_mask.dtype != torch.bool:
        raise TypeError(f"attn_mask must be a bool tensor (True = may attend), got dtype {attn_mask.dtype}")
    try:
        ok = torch.broadcast_shapes(attn_mask.shape, target) == torch.Size(target)
    except RuntimeError:                                                  # not broadcastable at all
        ok = False
    if not ok:
        raise ValueError(f"attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to the scores' "
                         f"shape (*, Tq, Tk) = {tuple(target)}")


def check_attention_arguments(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                              dropout_p: float = 0.0, scale: float | None = None, block_size: int = 1) -> None:
    """bert.attention's public functions (block_size: tiled's): shapes and dtypes, before arithmetic broadcasts."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor(name, t, "")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (*, T, D) with at least 2 dims, got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if not (query.dim() == key.dim() == value.dim()):
        raise ValueError("query, key and value must have the same number of dims, got shapes "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if not (query.shape[:-2] == key.shape[:-2] == value.shape[:-2]):
        raise ValueError("query, key and value must share their leading (batch, head) dims, got shapes "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"query and key must have the same head dim d_k, got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"key and value must have the same number of tokens Tk, got {key.shape[-2]} and "
                         f"{value.shape[-2]}")
    if not (query.dtype == key.dtype == value.dtype):
        raise TypeError(f"query, key and value must share one dtype, got {query.dtype}, {key.dtype}, {value.dtype}")
    if attn_mask is not None:
        check_attention_mask(attn_mask, (*query.shape[:-1], key.shape[-2]))
    check_dropout(dropout_p)
    check_positive_ints(block_size=block_size)


def check_multi_head_arguments(hidden_size: int, num_heads: int, dropout: float, block_size: int) -> None:
    """MultiHeadAttention's constructor: positive sizes, C divisible by H, a dropout probability in [0, 1)."""
    check_positive_ints(hidden_size=hidden_size, num_heads=num_heads, block_size=block_size)
    if hidden_size % num_heads != 0:
        raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})")
    check_dropout(dropout)


def check_multi_head_input(hidden_states: Tensor, attn_mask: Tensor | None, num_heads: int, head_dim: int,
                           tokens=None) -> None:
    """MultiHeadAttention's input: hidden_states (B, T, C = H·D), or (N, C) re-padded to (B, T=L, C) by `tokens`
    (bert/unpad.py); attn_mask bool, broadcastable to (B, H, T, T)."""
    shape = tuple(hidden_states.shape) if tokens is None else tokens.padded_shape(hidden_states)
    if len(shape) != 3 or shape[-1] != num_heads * head_dim:
        raise ValueError(f"hidden_states must have shape ({'B, T' if tokens is None else len(tokens.indices)}, "
                         f"{num_heads * head_dim}), got {tuple(hidden_states.shape)}")
    if attn_mask is not None:
        check_attention_mask(attn_mask, (shape[0], num_heads, shape[1], shape[1]))


def check_block_arguments(hidden_dropout: float, layer_norm_eps: float) -> None:
    """EncoderBlock's own numbers (its attention and feed-forward check theirs)."""
    check_dropout(hidden_dropout, "hidden_dropout")
    if not layer_norm_eps > 0:
        raise ValueError(f"layer_norm_eps must be > 0, got {layer_norm_eps!r}")


def check_table_size(max_len: int, dim: int, *rest, **kw) -> None:
    """A position table's size (max_len, dim): both positive. (`rest`, `kw`: e.g. the sinusoids' base.)"""
    if max_len < 1 or dim < 1:
        raise ValueError(f"max_len and dim must be positive, got max_len={max_len}, dim={dim}")


def check_sin_cos_pairs(dim: int, *rest, **kw) -> None:
    """`relative_rotation` rotates (sin, cos) pairs, so its dim must be even."""
    if dim % 2:
        raise ValueError(f"relative_rotation needs an even dim (sin/cos pairs), got {dim}")


def check_position_ids(position_ids: Tensor, max_len: int) -> None:
    """Integer positions in [0, max_len); the range is a value check, run where `validates` allows the read."""
    _check_tensor("position_ids", position_ids, " of integer positions")
    if not is_integer(position_ids):
        raise TypeError(f"position_ids must be an integer tensor, got dtype {position_ids.dtype}")
    if position_ids.numel() and validates(position_ids):
        _check_range("position_ids", position_ids, "max_len", max_len)


# ---------------------------------------------------------------- model inputs, labels and losses
PAD_WITHOUT_MASK = ("input_ids contain the pad token id ({}) at their first or last position and no attention_mask "
                    "was given: the padding is attended to like text, and the outputs differ from those of the "
                    "unpadded sequences. Pass the tokenizer's attention_mask (as transformers warns, too).")


def check_config(config: object, expected: type, span_model: str | None = None) -> None:
    """A model is built from its own config class; a question-answering `span_model` needs num_labels = 2."""
    if not isinstance(config, expected):
        raise TypeError(f"config must be a {expected.__name__}, got {type(config).__name__}")
    if span_model is not None and config.num_labels != 2:
        raise ValueError(f"{span_model} scores a start and an end: config.num_labels must be 2, "
                         f"got {config.num_labels}")


def check_inputs(config, input_ids: Tensor | None, attention_mask: Tensor | None = None,
                 token_type_ids: Tensor | None = None, position_ids: Tensor | None = None,
                 inputs_embeds: Tensor | None = None) -> None:
    """The one call atop a model's forward: a bad batch fails here, naming the argument, what was expected and what
    came; then the pad warning. Exactly one of input_ids (B, T), inputs_embeds (B, T, C); ids int64 or int32 (not cast);
    batch ≥ 1. Types, shapes, dtypes: always; values (ids in range, a 0/1 mask): where `validates` allows the read."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("give exactly one of input_ids (B, T) and inputs_embeds (B, T, C), got "
                         + ("both" if input_ids is not None else "neither"))
    if inputs_embeds is not None:
        if not isinstance(inputs_embeds, Tensor) or not inputs_embeds.is_floating_point():
            raise TypeError("inputs_embeds must be a floating-point torch.Tensor (B, T, C), got " + (
                str(inputs_embeds.dtype) if isinstance(inputs_embeds, Tensor) else type(inputs_embeds).__name__))
        if inputs_embeds.dim() != 3 or 0 in inputs_embeds.shape[:2] or inputs_embeds.shape[2] != config.hidden_size:
            raise ValueError(f"inputs_embeds must have shape (batch, seq_len, hidden_size={config.hidden_size}) with "
                             f"batch, seq_len >= 1, got {tuple(inputs_embeds.shape)}")
        B, T = inputs_embeds.shape[:2]
    else:
        _check_tensor("input_ids", input_ids, " of token ids")
        _check_ids_dtype("input_ids", input_ids)
        if input_ids.dim() != 2 or 0 in input_ids.shape:
            raise ValueError("input_ids must have shape (batch, seq_len) with batch >= 1 and seq_len >= 1, got "
                             f"{tuple(input_ids.shape)}")
        B, T = input_ids.shape
    if T > config.max_position_embeddings:
        raise ValueError(f"the input has seq_len {T}, more than max_position_embeddings = "
                         f"{config.max_position_embeddings} (the position table's size); truncate the input")
    for name, t in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
        if t is not None:
            _check_tensor(name, t)
            if tuple(t.shape) != (B, T):
                source = "input_ids" if input_ids is not None else "inputs_embeds without its last dim"
                raise ValueError(f"{name} must have the shape of {source}, {(B, T)}, got {tuple(t.shape)}")
    if token_type_ids is not None:
        _check_ids_dtype("token_type_ids", token_type_ids)
    if position_ids is not None:
        _check_tensor("position_ids", position_ids)
        _check_ids_dtype("position_ids", position_ids)
        if position_ids.dim() != 2 or position_ids.shape[0] not in (1, B) or position_ids.shape[1] != T:
            raise ValueError(f"position_ids must have shape (batch, seq_len) = {(B, T)} or (1, {T}), got "
                             f"{tuple(position_ids.shape)}")  # its values are checked by the position table
    if validates(input_ids if input_ids is not None else inputs_embeds):        # the value checks: they read data
        for name, ids, size in (("input_ids", input_ids, "vocab_size"), ("token_type_ids", token_type_ids,
                                                                         "type_vocab_size")):
            if ids is not None:
                _check_range(name, ids, size, getattr(config, size))
        if attention_mask is not None and attention_mask.dtype != torch.bool and (attention_mask.is_complex() or bool(
                ((attention_mask != 0) & (attention_mask != 1)).any())):
            raise ValueError("attention_mask must be bool or hold only 0 (padding) and 1 (token), got values "
                             f"{torch.unique(attention_mask)[:8].tolist()}")
    warn_if_pad_and_no_mask(input_ids, attention_mask, getattr(config, "pad_token_id", None))


@functools.lru_cache(maxsize=None)
def warn_once(message: str) -> None:  # once per process, on the logger "bert.model"; `warn_once.cache_clear()` re-arms
    logging.getLogger("bert.model").warning(message)


def warn_if_pad_and_no_mask(input_ids: Tensor | None, attention_mask: Tensor | None, pad_token_id: int | None) -> None:
    """Warn once when `input_ids` hold `pad_token_id` in their first or last column and no attention_mask was given
    (transformers' `warn_if_padding_and_no_attention_mask`, the same columns); it reads values: where `validates`."""
    if attention_mask is not None or input_ids is None or pad_token_id is None or not validates(input_ids):
        return
    if bool((input_ids[:, [-1, 0]] == pad_token_id).any()):                  # (B, 2): last and first ids
        warn_once(PAD_WITHOUT_MASK.format(pad_token_id))


def check_choices(name: str, t: Tensor | None, trailing: int = 0) -> None:
    """A multiple-choice input: None, (B, N, T), or (B, N, T, C) for inputs_embeds (`trailing` = 1)."""
    if t is not None and (not isinstance(t, Tensor) or t.dim() != 3 + trailing):
        raise ValueError(f"{name} must have shape (batch, num_choices, seq_len{', hidden_size' if trailing else ''}) "
                         f"for multiple choice, got {tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")


def labels_shaped(name: str, labels: Tensor, shape: tuple[int, ...]) -> Tensor:
    """`labels` as `shape`, from the shapes transformers also takes (the shape, flat (B·T,), (B, 1) for (B,)); any
    other is a ValueError — a (T, B) tensor with the right number of elements would be wrong numbers, not a reshape."""
    _check_tensor(name, labels, "")
    accepted = [tuple(shape), (torch.Size(shape).numel(),)] + ([(shape[0], 1)] if len(shape) == 1 else [])
    if tuple(labels.shape) not in accepted:
        raise ValueError(f"{name} must have shape {' or '.join(map(str, dict.fromkeys(accepted)))}, "
                         f"got {tuple(labels.shape)}")
    return labels.reshape(shape)


def check_labels(name: str, labels: Tensor, shape: tuple[int, ...], num_classes: int | None,
                 ignore_index: int | None = -100, reshape: bool = False) -> Tensor:  # -100: bert.losses.IGNORE_INDEX
    """Labels' shape (with `reshape`: any that `labels_shaped` takes, returned as `shape`), integer dtype, and class
    ids in [0, num_classes) or ignore_index where `validates` allows the read (num_classes None: the shape only)."""
    if reshape:
        labels = labels_shaped(name, labels, shape)
    else:
        _check_tensor(name, labels, "")
        if tuple(labels.shape) != tuple(shape):
            raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(labels.shape)}")
    if num_classes is not None and not is_integer(labels):
        raise TypeError(f"{name} must be an integer tensor of class ids, got dtype {labels.dtype}")
    if num_classes is not None and validates(labels):
        bad = ((labels < 0) | (labels >= num_classes)) & (labels != ignore_index if ignore_index is not None else True)
        if bool(bad.any()):
            allowed = f"[0, {num_classes})" + (f" or {ignore_index}" if ignore_index is not None else "")
            raise ValueError(f"{name} must lie in {allowed}, got {labels[bad][:5].tolist()}")
    return labels


def check_mlm_loss(logits: Tensor, labels: Tensor) -> None:
    """mlm_loss's arguments: float logits (*, V), integer labels (*,) (metadata only: nothing is read back)."""
    for name, t, ok, kind in (("logits", logits, Tensor.is_floating_point, "a floating-point"),
                              ("labels", labels, is_integer, "an integer")):
        if not isinstance(t, Tensor) or not ok(t):
            raise TypeError(f"{name} must be {kind} tensor, got "
                            f"{t.dtype if isinstance(t, Tensor) else type(t).__name__}")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels must have the shape of logits without its last dim, {tuple(logits.shape[:-1])}, "
                         f"got {tuple(labels.shape)}")


def check_class_labels(logits: Tensor, labels: Tensor, name: str = "labels") -> None:
    """Labels of logits (*, K) for nsp_loss, token_classification_loss, choice_loss: class ids in [0, K) or −100."""
    check_labels(name, labels, tuple(logits.shape[:-1]), logits.shape[-1], reshape=True)


def check_span_loss(start_logits: Tensor, end_logits: Tensor, start_positions: Tensor, end_positions: Tensor) -> None:
    """span_loss's positions: (B,) or (B, 1) each (outside [0, T) is allowed: clamped, then ignored)."""
    labels_shaped("start_positions", start_positions, (len(start_logits),))
    labels_shaped("end_positions", end_positions, (len(start_logits),))


def check_sequence_classification_loss(logits: Tensor, labels: Tensor, problem_type: str | None = None) -> None:
    """sequence_classification_loss's labels, for the problem type it will use (the same rule as the loss's)."""
    B, K = logits.shape
    if problem_type == "regression" or problem_type is None and K == 1:
        labels_shaped("labels", labels, (B,) if K == 1 else (B, K))
    elif problem_type == "multi_label_classification" or problem_type is None and not is_integer(labels):
        check_labels("labels", labels, (B, K), None)
    else:
        check_labels("labels", labels, (B,), K, reshape=True)             # single-label classification

