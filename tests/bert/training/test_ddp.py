"""Several processes: `torchrun --nproc_per_node=2 -m bert.pretrain` (gloo on the CPU, each rank its own shard of
every global batch) ends with the weights of one process running the same global batch as 2 accumulated
micro-batches."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[3]


def _corpus(tmp_path: Path) -> Path:
    """A small plain-text corpus: 300 stdlib docstrings, one sentence per line, blank lines between them."""
    from bert.pretraining.corpus import load_documents
    docs = [d for d in load_documents("stdlib") if len(d) >= 2][:300]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join("\n".join(d) for d in docs) + "\n", "utf-8")
    return path


def _run(cmd: list[str], tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    if shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists():
        pytest.skip("torchrun not found")
    corpus = _corpus(tmp_path)
    common = ["--preset", "tiny", "--corpus", str(corpus), "--vocab-size", "1000", "--seq-len", "48",
              "--dropout", "0", "--max-steps", "4", "--eval-every", "0", "--save-every", "0", "--no-progress",
              "--eval-examples", "16", "--batch-size", "6", "--lr", "1e-3", "--warmup", "0"]
    one = tmp_path / "one"
    _run([sys.executable, "-m", "bert.pretrain", *common, "--accumulation", "2", "--out", str(one)], tmp_path)
    two = tmp_path / "two"
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "bert.pretrain",
          *common, "--accumulation", "1", "--vocab", str(one / "vocab.txt"), "--out", str(two)], tmp_path)
    a, b = load_file(one / "model.safetensors"), load_file(two / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:   # the same up to the order of floating-point sums (gloo's all-reduce vs sequential accumulation)
        assert torch.allclose(a[k], b[k], atol=2e-5, rtol=1e-4), (k, (a[k] - b[k]).abs().max())
    from bert import BertConfig, BertForPreTraining
    from bert.checkpoint import to_hf_name
    torch.manual_seed(0)                                              # the CLI's initial weights (--seed 0)
    init = {to_hf_name(k): v for k, v in BertForPreTraining(BertConfig.load(one)).state_dict().items()}
    moved = max((a[k] - init[k]).abs().max().item() for k in a)
    assert moved > 1e-3                                               # 4 steps moved the weights 50× the tolerance
    train = [line for line in open(two / "metrics.jsonl") if '"train"' in line]
    assert len(train) == 1                                            # rank 0 alone wrote the metrics (step 4)
