"""A disk that fills up during a save: the error is an OSError naming the folder — which the CLIs print in one line,
exit status 2 (`bert.training.runs.run_cli`) — not safetensors' SafetensorError or torch.save's RuntimeError
("[enforce fail at inline_container.cc…]"), and the previous checkpoint is kept. The full disk is a file-size
limit (RLIMIT_FSIZE, with SIGXFSZ ignored): a write past it fails with EFBIG, as a write to a full disk fails with
ENOSPC, and no root is needed."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import pytest
import torch
from torch import nn

from bert import BertModel
from bert.training.checkpoints import checkpoint_root, latest_checkpoint, load_checkpoint, save_checkpoint
from bert.training.runs import run_cli
from tests.bert.tiny import tiny_config

resource = pytest.importorskip("resource")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")


@contextlib.contextmanager
def disk_full_after(nbytes: int):
    """Writes past `nbytes` of any file fail (EFBIG) inside the block; the limits are restored afterwards."""
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_a_full_disk_while_saving_a_model_is_an_oserror_naming_the_folder(tmp_path, capsys):
    folder = tmp_path / "model"
    torch.manual_seed(0)
    BertModel(tiny_config()).save_pretrained(folder)
    before = (folder / "model.safetensors").read_bytes()
    new = BertModel(tiny_config(initializer_range=0.5))
    with disk_full_after(4096), pytest.raises(OSError) as error:
        new.save_pretrained(folder)
    assert type(error.value) is OSError and str(folder) in str(error.value) and "File too large" in str(error.value)
    assert (folder / "model.safetensors").read_bytes() == before and os.listdir(tmp_path) == ["model"]
    with disk_full_after(4096), pytest.raises(SystemExit) as exit_:
        run_cli("bert.pretrain", lambda argv: new.save_pretrained(folder), None)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bert.pretrain: error: ") and str(folder) in err


def test_a_full_disk_while_writing_a_training_checkpoint_is_an_oserror_naming_it(tmp_path):
    out, model = str(tmp_path), nn.Linear(3, 2)                       # model.safetensors: a few hundred bytes
    save_checkpoint(out, 1, model, {"step": 1})
    with disk_full_after(4096), pytest.raises(OSError) as error:      # trainer_state.pt: 40 kB, through torch.save
        save_checkpoint(out, 2, model, {"step": 2, "moments": torch.zeros(10_000)})
    step2 = os.path.join(checkpoint_root(out), "step-0000002")
    assert type(error.value) is OSError and repr(step2) in str(error.value)
    assert load_checkpoint(latest_checkpoint(out), nn.Linear(3, 2)) == {"step": 1}
    assert sorted(os.listdir(checkpoint_root(out))) == ["latest", "step-0000001"]
