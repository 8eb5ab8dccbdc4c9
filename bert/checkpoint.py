"""Checkpoints in Hugging Face's directory format: `config.json` + `model.safetensors` (or `pytorch_model.bin`).

`from_pretrained(dir, **config_overrides)` and `save_pretrained(dir)` on every model class (CheckpointMixin), so a
directory written by transformers loads here and ours loads there. Our module names differ from HF's (we name
things after the formula: `attention_layer_norm`, `feed_forward.linear1`, `mlm_head`); the tables below are the
whole translation, one readable line per tensor group.

Loading rules (what transformers does, made explicit):
- A bare-encoder checkpoint (keys `embeddings.…`, `encoder.…`, `pooler.…`; e.g. all-MiniLM-L6-v2) and a task
  checkpoint (the same keys under `bert.`, plus `cls.…`, `classifier.…`, `qa_outputs.…`) both load into every class.
- Head weights the checkpoint lacks (a new classifier, or the pooler) keep their fresh `_init_weights` values and
  are reported as `newly_initialized`; head weights the model lacks (the pre-training heads when fine-tuning) are
  dropped and reported as `unused`. Both are logged and kept in `model.loading_info`.
- Anything else missing or unexpected, or a shape that differs from the config, is a ValueError listing them;
  the config's sizes (blocks, widths, vocabulary, positions) are compared with the weights' shapes before the model
  is built, and a config that asks for more memory than the machine has is refused when read (bert/safeguards.py).
- Ignored: the `position_ids` / `token_type_ids` buffers some checkpoints carry, and the MLM decoder's weight
  `cls.predictions.decoder.weight` — it is the word-embedding table (weights tied); `cls.predictions.decoder.bias`
  is read as `cls.predictions.bias` when that key is absent. Old TensorFlow-converted `gamma`/`beta` LayerNorm
  names are read as `weight`/`bias`.
- `pytorch_model.bin` is read with `torch.load(weights_only=True)`: no pickled code ever runs.
- Weights must be floating point: an integer or bool tensor (other than the ignored buffers) is a ValueError naming
  the file and the tensor — copied into a float parameter it would load silently as wrong numbers. A sharded
  index's file names must stay inside the folder (no `../x`, no absolute paths). A config.json or index that is
  not UTF-8 or not JSON is a ValueError naming it.

Saving changes the folder as a whole, atomically (tokenization/files.py `atomic_folder`): config.json and
model.safetensors are written into a new folder beside the old one, `.NAME.tmp-<pid>`; every other entry of the old
folder (vocab.txt, metrics.jsonl, run.json, a checkpoints/ subfolder, …) is carried over as hard links — except
weight files of another layout (a pytorch_model.bin, shards and their index), which would be stale next to the new
weights; everything is fsynced; then the two folders swap in one step (Linux renameat2 RENAME_EXCHANGE) and the old
one is deleted. A kill at any instant leaves the complete old checkpoint or the complete new one, never new weights
with an old config; the hidden leftover of a killed save is ignored by loading and removed by the next save. Where
RENAME_EXCHANGE is unavailable a two-rename fallback is used and the loader reads the old folder in the gap
(`folder_to_read`). A failed write (a full disk) is an OSError naming the folder. `from_pretrained` also checks
that the folder it read is still the same folder (its inode) after reading config and weights, and reads again if
a save swapped it in between.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from tokenization.files import atomic_folder, atomic_path, folder_to_read, read_json

from .safeguards import check_config_against_weights, save_errors, weights_file

logger = logging.getLogger(__name__)

CONFIG_NAME, SAFE_WEIGHTS_NAME, PT_WEIGHTS_NAME = "config.json", "model.safetensors", "pytorch_model.bin"
SAFE_INDEX_NAME = "model.safetensors.index.json"

# ---------------------------------------------------------------- the name map: ours → HF (prefix → prefix)
BASE_NAMES = {  # inside BertModel
    "embeddings.word_embeddings": "embeddings.word_embeddings",
    "embeddings.position_embeddings": "embeddings.position_embeddings",
    "embeddings.token_type_embeddings": "embeddings.token_type_embeddings",
    "embeddings.layer_norm": "embeddings.LayerNorm",
    "pooler.dense": "pooler.dense",
    "encoder.final_layer_norm": "encoder.final_layer_norm",  # pre-LN only; transformers has no such module
}
LAYER_NAMES = {  # inside encoder block i: ours "encoder.layers.{i}.", HF "encoder.layer.{i}."
    "attention.query": "attention.self.query",
    "attention.key": "attention.self.key",
    "attention.value": "attention.self.value",
    "attention.output": "attention.output.dense",
    "attention_layer_norm": "attention.output.LayerNorm",
    "feed_forward.linear1": "intermediate.dense",
    "feed_forward.linear2": "output.dense",
    "output_layer_norm": "output.LayerNorm",
}
HEAD_NAMES = {  # on the task models, next to `bert.`
    "mlm_head.dense": "cls.predictions.transform.dense",
    "mlm_head.layer_norm": "cls.predictions.transform.LayerNorm",
    "mlm_head.bias": "cls.predictions.bias",
    "nsp_head.linear": "cls.seq_relationship",
    "classifier": "classifier",                   # sequence / token classification, multiple choice
    "qa_outputs": "qa_outputs",
    "crf": "crf",                                 # BertCrfForTokenClassification's transitions (bert/crf.py)
}
HEAD_PREFIXES = ("pooler.", "mlm_head.", "nsp_head.", "classifier.", "qa_outputs.", "crf.")  # may be new / unused
IGNORED_HF_KEYS = re.compile(r"(^|\.)embeddings\.(position_ids|token_type_ids)$|^cls\.predictions\.decoder\.weight$")
_OUR_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.(.+)$")
_HF_LAYER = re.compile(r"^encoder\.layer\.(\d+)\.(.+)$")
# weight files of every layout: a save writes model.safetensors and does not carry the others over (stale weights)
WEIGHT_FILES = re.compile(r"^(model|pytorch_model)(-\d+-of-\d+)?\.(safetensors|bin)(\.index\.json)?$")


def swap_prefix(name: str, table: dict[str, str]) -> str | None:
    """Replace the longest key of `table` that is `name` or a dotted prefix of it; None if none is."""
    for src in sorted(table, key=len, reverse=True):
        if name == src or name.startswith(src + "."):
            return table[src] + name[len(src):]
    return None


def _base_to_hf(name: str) -> str | None:
    m = _OUR_LAYER.match(name)
    if m:
        rest = swap_prefix(m.group(2), LAYER_NAMES)
        return None if rest is None else f"encoder.layer.{m.group(1)}.{rest}"
    return swap_prefix(name, BASE_NAMES)


def _base_from_hf(name: str) -> str | None:
    m = _HF_LAYER.match(name)
    if m:
        rest = swap_prefix(m.group(2), {v: k for k, v in LAYER_NAMES.items()})
        return None if rest is None else f"encoder.layers.{m.group(1)}.{rest}"
    return swap_prefix(name, {v: k for k, v in BASE_NAMES.items()})


def to_hf_name(name: str) -> str:
    """Our state-dict name → HF's, e.g. `bert.encoder.layers.3.feed_forward.linear1.weight` →
    `bert.encoder.layer.3.intermediate.dense.weight`, `mlm_head.bias` → `cls.predictions.bias`."""
    if name.startswith("bert."):
        hf = _base_to_hf(name[len("bert."):])
        hf = None if hf is None else "bert." + hf
    else:
        hf = _base_to_hf(name) or swap_prefix(name, HEAD_NAMES)
    if hf is None:
        raise KeyError(f"no Hugging Face name for our parameter {name!r} (see bert/checkpoint.py's tables)")
    return hf


def from_hf_name(name: str) -> str | None:
    """HF's name → ours (with `bert.` kept where HF has it); None when the name is not a BERT weight we know."""
    if name.startswith("bert."):
        ours = _base_from_hf(name[len("bert."):])
        return None if ours is None else "bert." + ours
    return _base_from_hf(name) or swap_prefix(name, {v: k for k, v in HEAD_NAMES.items()})


def is_head_name(name: str) -> bool:
    """Is this (our) name part of a head or the pooler — something a checkpoint may lack or carry extra?"""
    return name.removeprefix("bert.").startswith(HEAD_PREFIXES)


# ---------------------------------------------------------------- reading and writing files
def read_state_dict(directory: str | os.PathLike) -> dict[str, Tensor]:
    """The tensors of `directory`'s model.safetensors (or its sharded index, or pytorch_model.bin), HF names;
    every weight checked to be floating point (`_check_dtypes`)."""
    directory = os.fspath(directory)
    safe, index, pt = (os.path.join(directory, n) for n in (SAFE_WEIGHTS_NAME, SAFE_INDEX_NAME, PT_WEIGHTS_NAME))
    if os.path.isfile(safe):
        return _check_dtypes(_read_safetensors(safe), safe)
    if os.path.isfile(index):
        state: dict[str, Tensor] = {}
        for shard in _index_shards(index):
            state.update(_check_dtypes(_read_safetensors(shard), shard))
        return state
    if os.path.isfile(pt):
        try:
            state = torch.load(pt, map_location="cpu", weights_only=True)  # never runs pickled code
        except Exception as e:  # truncated zip, or a pickle that needs more than plain tensors
            raise OSError(f"could not read {pt!r} with torch.load(weights_only=True) (truncated, corrupt, or "
                          f"holding more than tensors): {e}") from None
        if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
            raise OSError(f"{pt!r} does not hold a dict of tensors (got {type(state).__name__})")
        return _check_dtypes(state, pt)
    raise OSError(f"no weights in {directory!r}: expected {SAFE_WEIGHTS_NAME}, {SAFE_INDEX_NAME} or {PT_WEIGHTS_NAME}")


def _read_safetensors(path: str) -> dict[str, Tensor]:
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        size = os.path.getsize(path) if os.path.exists(path) else 0
        raise OSError(f"could not read {path!r} ({size} bytes) as safetensors — truncated or corrupt? {e}") from None


def _index_shards(index: str) -> list[str]:
    """The shard files a model.safetensors.index.json names (`weight_map`: tensor → file), each checked to be a
    file inside the index's folder: an absolute path or `../x` would read outside it. The check is on the names,
    not on where symlinks point (the Hugging Face cache links each file to a blob outside the folder)."""
    content = read_json(index)
    weight_map = content.get("weight_map") if isinstance(content, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise ValueError(f"{index!r} must hold a \"weight_map\" object of tensor name -> shard file name")
    folder = os.path.abspath(os.path.dirname(index))
    shards = []
    for name in sorted(set(weight_map.values())):
        path = os.path.normpath(os.path.join(folder, name))
        if os.path.isabs(name) or os.path.commonpath([folder, path]) != folder:
            raise ValueError(f"{index!r} names the shard {name!r}, outside the checkpoint folder {folder!r}: "
                             "shard names must be file names inside it")
        shards.append(path)
    return shards


def _check_dtypes(state: dict[str, Tensor], path: str) -> dict[str, Tensor]:
    """Every weight must be floating point: an integer or bool tensor copied into a float parameter would load
    silently as wrong numbers. The integer buffers some checkpoints carry (IGNORED_HF_KEYS) are allowed."""
    for name, t in state.items():
        if not t.is_floating_point() and not IGNORED_HF_KEYS.search(name):
            raise ValueError(f"{path!r}: tensor {name!r} has dtype {t.dtype}; weights must be floating point "
                             "(float32, float16, bfloat16, …)")
    return state


def write_safetensors(tensors: dict[str, Tensor], path: str) -> None:
    """Write `tensors` to `path` as safetensors (metadata format "pt", as transformers writes), atomically
    (tokenization/files.py `atomic_path`: a temporary file beside it, then a rename)."""
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata={"format": "pt"})


def _identity(directory: str) -> tuple[int, int]:
    st = os.stat(directory)
    return st.st_dev, st.st_ino


# ---------------------------------------------------------------- the mixin
class CheckpointMixin:
    """`from_pretrained` / `save_pretrained` for a model class with `config_class`, `hf_architecture` and a
    `config` attribute. Subclasses with other names (DistilBERT) override `base_model_prefix`, `to_hf_name`,
    `from_hf_name` and `is_head_name`."""

    config_class: Any
    hf_architecture: str
    base_model_prefix = "bert"  # the task models' encoder attribute, and HF's key prefix for it
    to_hf_name = staticmethod(to_hf_name)
    from_hf_name = staticmethod(from_hf_name)
    is_head_name = staticmethod(is_head_name)

    def hf_state_dict(self) -> dict[str, Tensor]:
        """The tensors save_pretrained writes: our state dict with HF names, on the CPU, contiguous."""
        return {self.to_hf_name(k): v.detach().to("cpu").contiguous() for k, v in self.state_dict().items()}

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write config.json (with `architectures`) and model.safetensors (HF names), the folder changing as a
        whole, atomically; its other files are kept (the module docstring)."""
        directory = os.fspath(directory)
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise OSError(f"save_pretrained: {directory!r} exists and is not a directory")
        if getattr(self.config, "pre_layer_norm", False):
            logger.warning("saving a pre-LN model: transformers has no pre-LN BERT and would run it as post-LN")
        tensors = self.hf_state_dict()
        config = dataclasses.replace(self.config, architectures=[self.hf_architecture])
        with save_errors(directory), atomic_folder(directory, carry_over=lambda n: not WEIGHT_FILES.match(n)) as tmp:
            write_safetensors(tensors, os.path.join(tmp, SAFE_WEIGHTS_NAME))
            config.save(os.path.join(tmp, CONFIG_NAME))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, *, output_loading_info: bool = False,
                        ignore_mismatched_sizes: bool = False, **config_overrides: Any):
        """Build `cls` from `directory`'s config.json (with `config_overrides`: any config field, e.g.
        num_labels=3, id2label=…, problem_type=…, output_hidden_states=True, attn_implementation="sdpa") and load
        its weights (rules in the module docstring). The model is returned in eval mode (dropout off), as
        transformers returns it: call `model.train()` to fine-tune.

        Returns the model, or (model, info) with output_loading_info=True; info (also `model.loading_info`) has
        `newly_initialized`, `unused`, and `mismatched` (re-initialised because ignore_mismatched_sizes=True).
        """
        directory = folder_to_read(directory)  # itself, or the old folder while a fallback save swaps it
        if not os.path.isdir(directory):
            raise OSError(f"from_pretrained: {directory!r} is not a directory (expected an HF-format folder with "
                          f"{CONFIG_NAME} and {SAFE_WEIGHTS_NAME})")
        for _ in range(3):                     # a save may swap the folder between reading config and weights
            before = _identity(directory)
            config = cls.config_class.load(directory, **config_overrides)
            state = read_state_dict(directory)
            if _identity(directory) == before:
                break
        else:
            raise OSError(f"from_pretrained: {directory!r} was replaced while it was read, three times running")
        check_config_against_weights(config, {k: v.shape for k, v in state.items()}, cls.base_model_prefix + ".",
                                     os.path.join(directory, CONFIG_NAME), weights_file(directory), config_overrides,
                                     f"{cls.__name__}.from_pretrained", sizes=not ignore_mismatched_sizes)
        model = cls(config)
        info = model.load_hf_state_dict(state, ignore_mismatched_sizes)
        model.eval()
        return (model, info) if output_loading_info else model

    def load_hf_state_dict(self, hf_state: dict[str, Tensor], ignore_mismatched_sizes: bool = False) -> dict:
        """Copy HF-named tensors into this model (rules in the module docstring); returns the loading info."""
        ours = self.state_dict()
        prefix = self.base_model_prefix + "."
        is_task_model = any(k.startswith(prefix) for k in ours)
        prefixed = any(k.startswith(prefix) for k in hf_state)
        state, unknown = {}, []
        hf_state = dict(hf_state)
        decoder_bias = hf_state.pop("cls.predictions.decoder.bias", None)
        if decoder_bias is not None and "cls.predictions.bias" not in hf_state:
            hf_state["cls.predictions.bias"] = decoder_bias  # older checkpoints: the bias under the decoder
        for hf_name, tensor in hf_state.items():
            if IGNORED_HF_KEYS.search(hf_name):
                continue
            hf_name = re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", hf_name))  # TF-converted names
            if is_task_model and not prefixed and self.from_hf_name(prefix + hf_name) is not None:
                hf_name = prefix + hf_name                         # bare-encoder checkpoint into a task model
            elif not is_task_model and hf_name.startswith(prefix):
                hf_name = hf_name[len(prefix):]                    # task checkpoint into a bare encoder
            name = self.from_hf_name(hf_name)
            if name is None:
                unknown.append(hf_name)
                continue
            state[name] = tensor
        unexpected = sorted(set(state) - set(ours))
        unused = [k for k in unexpected if self.is_head_name(k)]
        missing = sorted(set(ours) - set(state))
        new = [k for k in missing if self.is_head_name(k)]
        mismatched = sorted((k, tuple(state[k].shape), tuple(ours[k].shape)) for k in set(state) & set(ours)
                            if state[k].shape != ours[k].shape)
        errors = []
        if unknown:
            errors.append(f"keys that are not BERT weights: {unknown}")
        if set(unexpected) - set(unused):
            errors.append(f"unexpected keys (the model has no such weights): {sorted(set(unexpected) - set(unused))}")
        if set(missing) - set(new):
            errors.append(f"missing keys (the checkpoint lacks them): {sorted(set(missing) - set(new))}")
        if mismatched and not ignore_mismatched_sizes:
            errors.append("shape mismatches (name, checkpoint shape, model shape from config.json): "
                          f"{mismatched} — check the config, or pass ignore_mismatched_sizes=True to re-initialise")
        if errors:
            raise ValueError(f"cannot load this checkpoint into {type(self).__name__}:\n  " + "\n  ".join(errors))
        load = {k: v for k, v in state.items() if k in ours and state[k].shape == ours[k].shape}
        self.load_state_dict(load, strict=False)
        info = {"newly_initialized": new, "unused": unused, "mismatched": mismatched}
        if new or mismatched:
            logger.warning("%s: newly initialised (not in the checkpoint%s): %s — train them before use",
                           type(self).__name__, ", or of another shape" if mismatched else "",
                           new + [m[0] for m in mismatched])
        if unused:
            logger.info("%s: checkpoint weights not used by this model: %s", type(self).__name__, unused)
        self.loading_info = info
        return info


__all__ = ["CheckpointMixin", "to_hf_name", "from_hf_name", "is_head_name", "read_state_dict", "write_safetensors"]
