"""Tests for bert/training/checkpoints.py: a checkpoint folder appears whole (its files and folder fsynced before
the rename that publishes it), `latest` names a complete one, a rerun of a step replaces its folder in one swap,
older checkpoints are retired without a half-deleted `step-` folder, and the leftovers of a killed save are
removed by the next one."""

from __future__ import annotations

import os

import torch
from torch import nn

import tokenization.files as files
from bert.training.checkpoints import (checkpoint_candidates, checkpoint_root, latest_checkpoint, load_checkpoint,
                                       save_checkpoint)


def _model(value: float) -> nn.Module:
    model = nn.Linear(3, 2)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
    return model


def test_save_publishes_a_whole_fsynced_folder_and_points_latest_at_it(tmp_path, monkeypatch):
    events = []
    fsync, rename = os.fsync, os.rename
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 fsync(fd)))
    monkeypatch.setattr(os, "rename", lambda a, b: (events.append(("rename", os.fspath(b))), rename(a, b))[1])
    path = save_checkpoint(str(tmp_path), 5, _model(1.0), {"step": 5})
    root = checkpoint_root(str(tmp_path))
    assert path == os.path.join(root, "step-0000005") and latest_checkpoint(str(tmp_path)) == path
    published = events.index(("rename", path))
    tmp = os.path.join(root, f".step-0000005.tmp-{os.getpid()}")
    synced = {p for kind, p in events[:published] if kind == "fsync"}
    assert {tmp, f"{tmp}/model.safetensors", f"{tmp}/trainer_state.pt"} <= synced
    assert ("fsync", root) in events[published:]               # the new name, and `latest`'s, made durable
    assert sorted(os.listdir(root)) == ["latest", "step-0000005"]


def test_rerun_of_a_step_replaces_it_and_only_the_newest_are_kept(tmp_path):
    out = str(tmp_path)
    for step in (1, 2, 3):
        save_checkpoint(out, step, _model(step), {"step": step})
    save_checkpoint(out, 3, _model(30.0), {"step": 3, "again": True})           # a resumed run reaching step 3
    assert sorted(os.listdir(checkpoint_root(out))) == ["latest", "step-0000002", "step-0000003"]
    model = _model(0.0)
    assert load_checkpoint(latest_checkpoint(out), model) == {"step": 3, "again": True}
    assert bool((model.weight == 30.0).all())


def test_leftovers_of_a_killed_save_are_removed_by_the_next_save(tmp_path):
    out = str(tmp_path)
    save_checkpoint(out, 1, _model(1.0), {"step": 1})
    root = checkpoint_root(out)
    for junk in (".step-0000002.tmp-999999", ".tmp-step-0000002-999998", ".step-0000000.old-999997"):
        os.makedirs(os.path.join(root, junk))                   # this layout's, the earlier layout's, a set-aside
    with open(os.path.join(root, "latest.tmp-999999"), "w") as f:
        f.write("step-00")                                      # `latest` being rewritten when the kill came
    assert latest_checkpoint(out) == os.path.join(root, "step-0000001")
    os.rename(os.path.join(root, ".step-0000000.old-999997"), os.path.join(root, ".step-0000001.old-999997"))
    save_checkpoint(out, 2, _model(2.0), {"step": 2})
    assert sorted(os.listdir(root)) == ["latest", "step-0000001", "step-0000002"]


def test_latest_reads_the_old_folder_while_a_fallback_swap_has_set_it_aside(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "exchange_paths", lambda a, b: False)
    out = str(tmp_path)
    save_checkpoint(out, 4, _model(4.0), {"step": 4})
    save_checkpoint(out, 4, _model(5.0), {"step": 4, "again": True})            # two renames instead of one swap
    root = checkpoint_root(out)
    assert sorted(os.listdir(root)) == ["latest", "step-0000004"]
    os.rename(os.path.join(root, "step-0000004"), os.path.join(root, ".step-0000004.old-999999"))
    assert load_checkpoint(latest_checkpoint(out), _model(0.0)) == {"step": 4, "again": True}
    save_checkpoint(out, 5, _model(6.0), {"step": 5})                          # puts it back, then goes on
    assert sorted(os.listdir(root)) == ["latest", "step-0000004", "step-0000005"]


def test_candidates_are_the_latest_then_the_others_newest_first(tmp_path):
    out = str(tmp_path)
    assert checkpoint_candidates(out) == []
    for step in (1, 2, 3):
        save_checkpoint(out, step, _model(step), {"step": step}, keep=3)
    root = checkpoint_root(out)
    files.write_text(os.path.join(root, "latest"), "step-0000002\n")
    assert checkpoint_candidates(out) == [os.path.join(root, d) for d in ("step-0000002", "step-0000003",
                                                                          "step-0000001")]
