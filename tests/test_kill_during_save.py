"""Checkpoint folders change atomically as a whole (tokenization/files.py `atomic_folder`, used by
`save_pretrained`): a real ~50 MB save killed with SIGKILL at seeded random moments always leaves a folder that
loads as one complete version, with the folder's other files intact; then the folder-level rules one by one —
files carried over as hard links, stale weight files dropped, leftovers of killed saves ignored by loading and
removed by the next save, the two-rename fallback and its loader-side recovery, a save that swaps the folder while
it is being read, a symlinked folder, a process whose working directory is the folder; and two writers at once: a
running writer's temporary folder is left alone, and two saves of one folder at once both finish."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import bert.checkpoint as ckpt
import tokenization.files as files
from bert import BertConfig, BertModel
from tests.bert.tiny import tiny_config

REPO = Path(__file__).resolve().parents[1]
BIG = dict(vocab_size=8000, hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=1024)
CHILD = """
import dataclasses, sys, torch
torch.set_num_threads(1)
from bert import BertConfig, BertModel
model = BertModel(BertConfig(**eval(sys.argv[2])))
print("ready", flush=True)
version = 0
while True:                                   # versions 1, 2, 1, 2, …: every weight = version, config says which
    version = version % 2 + 1
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(version)
    model.config = dataclasses.replace(model.config, initializer_range=(version + 1) / 100)  # > 0: a valid std
    model.save_pretrained(sys.argv[1])
"""


def versioned(model: BertModel, version: int) -> BertModel:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(version)
    model.config = dataclasses.replace(model.config, initializer_range=(version + 1) / 100)  # > 0: a valid std
    return model


def loaded_version(folder: Path) -> int:
    """The one version `folder` holds, asserting config and every weight agree."""
    model = BertModel.from_pretrained(folder)
    version = round(model.config.initializer_range * 100) - 1
    assert all(bool((p == version).all()) for p in model.parameters()), f"weights are not all {version}"
    return version


def leftovers(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder.parent) if n.startswith(f".{folder.name}."))


def test_a_save_killed_at_random_moments_leaves_one_complete_version(tmp_path):
    folder = tmp_path / "run"
    versioned(BertModel(BertConfig(**BIG)), 0).save_pretrained(folder)
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "latest").write_text("step-0000010\n")
    rng, seen, killed_mid_save = random.Random(11), set(), 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.monotonic()
    for _ in range(10):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), repr(BIG)], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "ready\n", child.stderr.read()
        time.sleep(rng.uniform(0.0, 0.8))               # a save takes ~0.1–0.3 s: most kills land inside one
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close(), child.stderr.close()
        killed_mid_save += bool(leftovers(folder))
        seen.add(loaded_version(folder))
        assert (folder / "vocab.txt").read_text() == "[PAD]\n[UNK]\n"
        assert (folder / "checkpoints" / "latest").read_text() == "step-0000010\n"
    assert killed_mid_save >= 1 and seen <= {0, 1, 2}  # some kills did interrupt a save (it left its temp folder)
    versioned(BertModel(tiny_config()), 3).save_pretrained(folder)  # the next save cleans up
    assert leftovers(folder) == [] and loaded_version(folder) == 3
    assert sorted(os.listdir(folder)) == ["checkpoints", "config.json", "model.safetensors", "vocab.txt"]
    assert time.monotonic() - start < 60


# ------------------------------------------------------------------ the folder-level rules, on a tiny model
def test_other_files_are_carried_over_as_hard_links_and_stale_weight_files_dropped(tmp_path):
    versioned(BertModel(tiny_config()), 1).save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "vocab.txt").write_text("[PAD]\n")
    (tmp_path / "m" / "checkpoints" / "step-0000001").mkdir(parents=True)
    (tmp_path / "m" / "checkpoints" / "step-0000001" / "trainer_state.pt").write_bytes(b"state")
    os.symlink("vocab.txt", tmp_path / "m" / "link.txt")
    for stale in ("pytorch_model.bin", "model.safetensors.index.json", "model-00001-of-00002.safetensors"):
        (tmp_path / "m" / stale).write_bytes(b"old weights")
    inode = os.stat(tmp_path / "m" / "checkpoints" / "step-0000001" / "trainer_state.pt").st_ino
    versioned(BertModel(tiny_config()), 2).save_pretrained(tmp_path / "m")
    assert sorted(os.listdir(tmp_path / "m")) == ["checkpoints", "config.json", "link.txt", "model.safetensors",
                                                  "vocab.txt"]
    state = tmp_path / "m" / "checkpoints" / "step-0000001" / "trainer_state.pt"
    assert state.read_bytes() == b"state" and os.stat(state).st_ino == inode      # linked, not copied
    assert os.readlink(tmp_path / "m" / "link.txt") == "vocab.txt" and loaded_version(tmp_path / "m") == 2


def test_leftovers_of_killed_saves_are_ignored_by_loading_and_removed_by_the_next_save(tmp_path):
    folder = tmp_path / "m"
    versioned(BertModel(tiny_config()), 1).save_pretrained(folder)
    for junk in (".m.tmp-999999", ".m.old-999998"):          # a half-built new folder; an old one set aside
        (tmp_path / junk).mkdir()
        (tmp_path / junk / "model.safetensors").write_bytes(b"partial")
    (tmp_path / ".other.tmp-999997").mkdir()                 # another folder's: not ours to touch
    assert loaded_version(folder) == 1
    versioned(BertModel(tiny_config()), 2).save_pretrained(folder)
    assert leftovers(folder) == [] and (tmp_path / ".other.tmp-999997").is_dir() and loaded_version(folder) == 2


def test_a_failed_save_leaves_no_temporary_folder(tmp_path, monkeypatch):
    versioned(BertModel(tiny_config()), 1).save_pretrained(tmp_path / "m")
    monkeypatch.setattr(ckpt, "save_file", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        versioned(BertModel(tiny_config()), 2).save_pretrained(tmp_path / "m")
    assert leftovers(tmp_path / "m") == [] and loaded_version(tmp_path / "m") == 1


def test_without_rename_exchange_two_renames_and_the_loader_reads_the_old_folder_in_between(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "exchange_paths", lambda a, b: False)
    folder = tmp_path / "m"
    versioned(BertModel(tiny_config()), 1).save_pretrained(folder)
    (folder / "vocab.txt").write_text("[PAD]\n")
    versioned(BertModel(tiny_config()), 2).save_pretrained(folder)
    assert loaded_version(folder) == 2 and (folder / "vocab.txt").exists() and leftovers(folder) == []
    os.rename(folder, tmp_path / ".m.old-999999")            # killed between the fallback's two renames
    (tmp_path / ".m.tmp-999999").mkdir()
    assert loaded_version(folder) == 2                       # read from the old folder set aside
    versioned(BertModel(tiny_config()), 3).save_pretrained(folder)   # puts it back first: vocab.txt survives
    assert loaded_version(folder) == 3 and (folder / "vocab.txt").read_text() == "[PAD]\n"
    assert leftovers(folder) == []


def test_a_swap_while_loading_is_noticed_and_the_folder_read_again(tmp_path, monkeypatch):
    folder = tmp_path / "m"
    versioned(BertModel(tiny_config()), 1).save_pretrained(folder)
    read, calls = ckpt.read_state_dict, []

    def read_during_a_save(directory):
        calls.append(directory)
        if len(calls) == 1:                                  # config (version 1) already read: a save swaps in 2
            versioned(BertModel(tiny_config()), 2).save_pretrained(folder)
        return read(directory)

    monkeypatch.setattr(ckpt, "read_state_dict", read_during_a_save)
    assert loaded_version(folder) == 2 and len(calls) == 2


def test_symlinked_folder_and_working_directory_inside_the_folder(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    versioned(BertModel(tiny_config()), 1).save_pretrained(tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and loaded_version(tmp_path / "real") == 1
    monkeypatch.chdir(tmp_path / "real")
    versioned(BertModel(tiny_config()), 2).save_pretrained(".")
    assert os.path.samefile(os.getcwd(), tmp_path / "real") and loaded_version(Path(".")) == 2


def test_files_and_folders_are_fsynced_before_the_swap(tmp_path, monkeypatch):
    events = []
    fsync, exchange = os.fsync, files.exchange_paths
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 fsync(fd)))
    monkeypatch.setattr(files, "exchange_paths", lambda a, b: (events.append(("swap", a)), exchange(a, b))[1])
    versioned(BertModel(tiny_config()), 1).save_pretrained(tmp_path / "m")
    versioned(BertModel(tiny_config()), 2).save_pretrained(tmp_path / "m")
    swap = events.index(("swap", str(tmp_path / f".m.tmp-{os.getpid()}")))
    synced = {path for kind, path in events[:swap] if kind == "fsync"}
    tmp = str(tmp_path / f".m.tmp-{os.getpid()}")
    assert {tmp, f"{tmp}/config.json", f"{tmp}/model.safetensors"} <= synced
    assert ("fsync", str(tmp_path)) in events[swap:]          # the parent, after the swap


def test_a_mount_point_is_updated_in_place_file_by_file_with_a_warning(tmp_path, monkeypatch):
    folder = tmp_path / "volume"
    versioned(BertModel(tiny_config()), 1).save_pretrained(folder)
    (folder / "vocab.txt").write_text("[PAD]\n")
    (folder / "pytorch_model.bin").write_bytes(b"stale")
    monkeypatch.setattr(os.path, "ismount", lambda p: os.fspath(p) == str(folder))
    with pytest.warns(RuntimeWarning, match="mount point .* replaced one by one"):
        versioned(BertModel(tiny_config()), 2).save_pretrained(folder)
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors", "vocab.txt"]
    assert loaded_version(folder) == 2 and leftovers(folder) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_rename_exchange_swaps_two_folders_in_one_step(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_text("a"), (tmp_path / "b" / "x").write_text("b")
    assert files.exchange_paths(str(tmp_path / "a"), str(tmp_path / "b"))    # True: no fallback on this machine
    assert (tmp_path / "a" / "x").read_text() == "b" and (tmp_path / "b" / "x").read_text() == "a"


# ------------------------------------------------------------------ two writers: temporary folders have owners
def test_a_live_processs_temporary_folder_is_left_alone_and_a_dead_ones_removed(tmp_path):
    folder = tmp_path / "m"
    versioned(BertModel(tiny_config()), 1).save_pretrained(folder)
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = os.getppid()                                      # our parent: running while this test runs
    for pid in (live, dead.pid):
        (tmp_path / f".m.tmp-{pid}").mkdir()
        (tmp_path / f".m.tmp-{pid}" / "model.safetensors").write_bytes(b"being written")
    versioned(BertModel(tiny_config()), 2).save_pretrained(folder)
    assert leftovers(folder) == [f".m.tmp-{live}"] and loaded_version(folder) == 2
    assert (tmp_path / f".m.tmp-{live}" / "model.safetensors").read_bytes() == b"being written"


def test_two_writers_saving_one_folder_at_once_both_finish_and_the_folder_is_one_version(tmp_path, monkeypatch):
    """Writer B is stopped inside its save (weights written, config.json not yet) while writer A saves the same
    folder from start to end; then B goes on. Before, A's save removed B's temporary folder (the same
    `.m.tmp-<pid>` name, and every such folder was removed), and B failed with "No such file or directory"."""
    folder = tmp_path / "m"
    versioned(BertModel(tiny_config()), 1).save_pretrained(folder)
    inside, a_done, errors = threading.Event(), threading.Event(), []
    real_save_file = ckpt.save_file

    def save_file(tensors, path, metadata=None):
        real_save_file(tensors, path, metadata=metadata)
        if threading.current_thread().name == "B":           # the barrier: B waits here until A has saved
            inside.set()
            assert a_done.wait(60)

    def writer_b():
        try:
            versioned(BertModel(tiny_config()), 3).save_pretrained(folder)
        except BaseException as e:                           # noqa: BLE001 - reported by the main thread
            errors.append(e)
            inside.set()

    monkeypatch.setattr(ckpt, "save_file", save_file)
    b = threading.Thread(target=writer_b, name="B")
    b.start()
    assert inside.wait(60)
    versioned(BertModel(tiny_config()), 2).save_pretrained(folder)       # writer A, all the way through
    assert loaded_version(folder) == 2
    a_done.set()
    b.join(60)
    assert errors == [] and loaded_version(folder) == 3 and leftovers(folder) == []
