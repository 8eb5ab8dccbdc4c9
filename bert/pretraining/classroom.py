"""The classroom's shared small models (English, and Chinese: `small_chinese_model`), and a vocabulary that covers
Chinese.

`small_model()` gives the notebooks (04 pre-training, 05 distillation) and the tests one small BERT that has
actually learned something: pre-trained with MLM + NSP by `python -m bert.pretrain` (the same pipeline as
everywhere else: corpus → WordPiece vocabulary → `[CLS] A [SEP] B [SEP]` examples → 80/10/10 masks → the one
training loop) on the embedded corpus (the standard library's docstrings), for a FIXED number of steps with fixed
seeds — under a minute on 2 CPU cores, once. That buys guesses that depend on the sentence ("none", "true",
"false" for "If the argument is [MASK], …"; about 17% held-out MLM accuracy at 15% masking), still with low
probabilities (docs/benchmarks.md's 10-minute run reaches 36%). The result is a `from_pretrained` folder kept in
a cache:

    model, tokenizer, info = small_model()          # trains on the first call (< 1 min), loads afterwards (~0.1 s)
    info["path"]                                     # the folder: BertForMaskedLM.from_pretrained(info["path"]) too

Where the cache is: `cache_dir`, else $BERT_CLASSROOM_DIR, else `<repository>/runs/classroom` when the package runs
from a source checkout (git-ignored), else `$XDG_CACHE_HOME/bert-from-scratch/classroom` (or ~/.cache/…). The folder
holds `classroom.json` with the recipe and a key (the recipe, this module's `VERSION` and the Python version — the
corpus is the docstrings of *this* Python). A folder whose key matches is reused; anything else (another recipe,
a missing or unreadable file) is rebuilt. It is written with `tokenization.files.atomic_folder`, so a reader never
sees a half-written model, and a lock file keeps two processes (a notebook and a test) from training it twice.

`with_chinese(vocab)` (tokenization/chinese.py, re-exported here) adds every character of GB2312 (the 6,763 hanzi
of simplified Chinese and its punctuation) to a vocabulary — BERT's own convention for Chinese is one token per CJK character (the basic tokenizer puts spaces
around each; Devlin et al. 2019, google-research/bert's README "Chinese" model and `tokenization.py`
`_tokenize_chinese_chars`), so a character-level entry is all a hanzi needs to stop being `[UNK]`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

from tokenization.chinese import gb2312_characters, with_chinese  # noqa: F401  (their home before; notebook 03)
from tokenization.files import atomic_folder, read_json, write_json, write_text

VERSION = 4  # bump when the meaning of RECIPE changes (a cached model of an older version is rebuilt)
# The recipe: as many updates as under a minute on 2 cores allows (2,000 steps of 32 examples of 32 tokens).
# What it rests on (held-out MLM accuracy at 15% masking; accuracies of different vocabularies are not comparable):
# - Width 128 with 2 layers (the "tiny" preset) and 64-token examples reached 13.7% in 1,200 steps of 16 and did
#   not use the context at all (the same five guesses for every [MASK]); width 64 with 32-token examples, 16%,
#   still "the", "a" almost everywhere. Training at 40% masking (`mask_prob`; the evaluation stays at 15%) is what
#   makes the guesses depend on the sentence (30%: fewer of them do). No dropout and a high learning rate: a short
#   run under-fits, it does not over-fit (3e-3 at width 128 stalled at 5.8%; 4e-3 here guesses worse).
# - Updates count more than tokens: 1,250 batches of 64 (the same tokens as 2,500 of 32) guess "is", "if", ","
#   for most gaps, and batches of 28 guess worse than batches of 32.
# - The MLM decoder (every masked position scored against the whole vocabulary, forward and backward) was a third
#   of a step with 4,096 pieces: 2,048 pieces cut a step from 31 to 22 ms (a small model on 32 × 32 tokens, timed
#   alone) and guess as well (3,072 pieces with 2,000 steps guessed worse); a 192-wide feed-forward layer instead of
#   256 costs less again with the same guesses. The recipe of VERSION 3 (4,096 pieces, a 256-wide feed-forward
#   layer, 2,500 steps: 22.25%) took 64 s on a quiet day.
# - 2,000 steps (17.3%) guess as sensibly as 2,250 (16.6%) and 2,500 (18.3%): the differences are a seed's.
# The price (`python -m benchmarks --only classroom`, docs/benchmarks.md: both recipes built from scratch, rounds
# interleaved, on the 2-core Intel Xeon machine on a slow day): 55.4-56.4 s a build, against 82.3-90.8 s for the
# recipe of VERSION 3 (× 0.66; it had taken 64 s on a quiet day). Of a build, about 84% is the model's steps
# (forward, backward, clipping, AdamW), the rest the masked batches (~2 ms a step, plain Python), the vocabulary,
# the examples and the evaluations.
RECIPE: dict[str, Any] = {
    "corpus": "stdlib", "vocab_size": 2048, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 192, "max_position_embeddings": 128, "seq_len": 32, "batch_size": 32, "max_steps": 2000,
    "lr": 3e-3, "warmup": 0.05, "mask_prob": 0.4, "dropout": 0.0, "seed": 0, "eval_every": 500, "eval_examples": 500,
}
# The Chinese classroom model (`small_chinese_model`, notebook 10 and the Chinese tests): the same recipe on
# People's Daily (`--corpus peoples-daily`: one token per character, bert/pretraining/chinese.py), with its
# character vocabulary of 5,761 tokens (tokenization/chinese.py), 64-character examples masked at 40%. "zh": this
# recipe's own version (2: the vocabulary without GB2312 and Big5). A Chinese model this small, trained this briefly,
# guesses frequent characters (the zh-pretraining benchmark needs ~3,500 updates to leave that plateau).
ZH_RECIPE: dict[str, Any] = {**RECIPE, "corpus": "peoples-daily", "vocab_size": 8192, "seq_len": 64,
                             "max_steps": 1000, "eval_every": 250, "zh": 2}
INFO_FILE = "classroom.json"
ENV_DIR = "BERT_CLASSROOM_DIR"


def recipe_key(recipe: Mapping[str, Any] = RECIPE) -> str:
    """What decides the cached model: the recipe, VERSION and the Python version (whose stdlib is the corpus)."""
    blob = json.dumps({"recipe": dict(recipe), "version": VERSION, "python": sys.version_info[:2]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_cache_dir() -> str:
    """$BERT_CLASSROOM_DIR, else <repository>/runs/classroom in a source checkout, else the user's cache folder."""
    if os.environ.get(ENV_DIR):
        return os.environ[ENV_DIR]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(repo, "setup.cfg")) and os.path.isdir(os.path.join(repo, "bert")):
        return os.path.join(repo, "runs", "classroom")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bert-from-scratch", "classroom")


def _valid(path: str, key: str) -> dict[str, Any] | None:
    """The cached folder's info when it was made by this recipe and holds every file, else None."""
    try:
        info = read_json(os.path.join(path, INFO_FILE))
    except (OSError, ValueError):
        return None
    needed = ("config.json", "model.safetensors", "vocab.txt", "metrics.jsonl")
    if not isinstance(info, dict) or info.get("key") != key or not all(
            os.path.isfile(os.path.join(path, name)) for name in needed):
        return None
    return info


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` + '.lock' (POSIX; elsewhere no lock) while the block runs."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        import fcntl
    except ImportError:                                        # pragma: no cover - not POSIX
        yield
        return
    with open(path + ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def train_recipe(folder: str | os.PathLike, recipe: Mapping[str, Any] = RECIPE) -> dict[str, Any]:
    """Pre-train the model of `recipe` (RECIPE's keys) into `folder`, as `small_model()`'s first call does but with
    no cache: a `from_pretrained` folder and its metrics. Quiet: the run's own output goes to FOLDER/train.log.
    Returns {"steps", "seconds" (the training run, wall clock), "eval" (the last held-out evaluation)}."""
    folder = os.fspath(folder)
    missing = sorted(set(RECIPE) - set(recipe))
    if missing:
        raise ValueError(f"train_recipe: recipe lacks {missing} (expected every key of RECIPE)")
    if os.path.exists(folder) and (not os.path.isdir(folder) or os.listdir(folder)):
        raise FileExistsError(f"train_recipe: folder {folder!r} exists and is not an empty folder (expected a new "
                              "or empty one: nothing is overwritten)")
    from .cli import pretrain

    config = {k: recipe[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                     "intermediate_size", "max_position_embeddings")}
    config_path = os.path.join(folder, "classroom_config.json")
    write_json(config_path, config)
    argv = ["--config", config_path, "--corpus", recipe["corpus"], "--vocab-size", str(recipe["vocab_size"]),
            "--seq-len", str(recipe["seq_len"]), "--batch-size", str(recipe["batch_size"]),
            "--max-steps", str(recipe["max_steps"]), "--lr", str(recipe["lr"]), "--warmup", str(recipe["warmup"]),
            "--mask-prob", str(recipe["mask_prob"]), "--dropout", str(recipe["dropout"]), "--seed", str(recipe["seed"]),
            "--eval-every", str(recipe["eval_every"]), "--eval-examples", str(recipe["eval_examples"]),
            "--save-every", "0", "--no-progress", "--no-plot", "--overwrite", "--out", folder]
    log = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        summary = pretrain(argv)
    seconds = time.perf_counter() - start
    write_text(os.path.join(folder, "train.log"), log.getvalue())
    return {"steps": summary["step"], "seconds": round(seconds, 1), "eval": summary["eval"]}


def small_chinese_model(cache_dir: str | os.PathLike | None = None, *, rebuild: bool = False):
    """The Chinese classroom model: `small_model` with ZH_RECIPE, cached in `cache_dir`, else
    $BERT_CLASSROOM_DIR/../classroom-zh when that is set, else runs/classroom-zh beside runs/classroom."""
    folder = cache_dir if cache_dir is not None else os.path.join(os.path.dirname(default_cache_dir()), "classroom-zh")
    return small_model(folder, rebuild=rebuild, recipe=ZH_RECIPE)


def small_model(cache_dir: str | os.PathLike | None = None, *, rebuild: bool = False,
                recipe: Mapping[str, Any] = RECIPE):
    """The classroom's small pre-trained BERT: `(model, tokenizer, info)`.

    model: `bert.BertForPreTraining` in eval mode; tokenizer: its `tokenization.BertTokenizer` (a WordPiece
    vocabulary trained on the corpus); info: {"path": the from_pretrained folder, "metrics": its metrics.jsonl
    (read with `bert.training.read_metrics`), "steps", "seconds" (training time when built), "eval" (the last
    held-out evaluation: mlm_acc, nsp_acc, losses), "recipe", "key", "cached" (False when this call trained it)}.
    Trained once per cache folder (see the module docstring); `rebuild=True` trains it again."""
    from bert import BertForPreTraining
    from tokenization import BertTokenizer

    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"small_model: cache_dir must be a path or None, got {type(cache_dir).__name__}")
    path = os.path.abspath(os.fspath(cache_dir) if cache_dir is not None else default_cache_dir())
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"small_model: cache_dir {path!r} exists and is not a folder")
    key = recipe_key(recipe)
    info = None if rebuild else _valid(path, key)
    cached = info is not None
    if info is None:
        with _locked(path):
            info = None if rebuild else _valid(path, key)      # another process may have built it meanwhile
            cached = info is not None
            if info is None:
                with atomic_folder(path, carry_over=lambda name: False) as tmp:
                    info = {"key": key, "version": VERSION, "recipe": dict(recipe), **train_recipe(tmp, recipe)}
                    write_json(os.path.join(tmp, INFO_FILE), info)
    model = BertForPreTraining.from_pretrained(path).eval()
    tokenizer = BertTokenizer.from_pretrained(path)
    return model, tokenizer, {**info, "path": path, "metrics": os.path.join(path, "metrics.jsonl"),
                              "cached": cached}


__all__ = ["small_model", "small_chinese_model", "default_cache_dir", "recipe_key", "RECIPE", "ZH_RECIPE", "VERSION",
           "gb2312_characters", "with_chinese"]
