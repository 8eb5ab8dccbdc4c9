"""--overwrite removes only what an earlier run of ours wrote (issue 30): a folder without our run.json is refused
with or without --overwrite, a user's own files survive, and a pre-training run started with --overwrite keeps the
old model paired with its own vocabulary until the new model is saved. CLIs run in-process through main(argv)."""

from __future__ import annotations

import json
import random

import pytest

from bert.training.runs import check_out, clear_run_outputs


def _user_files(folder):
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "epoch1.pt").write_bytes(b"a user's own checkpoint")
    (folder / "metrics.png").write_bytes(b"a user's own figure")


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_that_is_not_a_run_of_ours_is_refused_with_or_without_overwrite(tmp_path, overwrite):
    _user_files(tmp_path)
    with pytest.raises(FileExistsError, match=r"no run\.json.*--overwrite replaces only an earlier run"):
        check_out(str(tmp_path), resume=False, overwrite=overwrite)
    (tmp_path / "run.json").write_text("not json at all")                   # a run.json that is not ours either
    with pytest.raises(FileExistsError, match="no run.json"):
        check_out(str(tmp_path), resume=False, overwrite=overwrite)


def test_the_clis_refuse_it_too_and_touch_nothing(tmp_path, capsys):
    from bert.finetune import main as finetune
    from bert.pretraining.cli import main as pretrain
    from distil.train import main as distil
    _user_files(tmp_path / "out")
    before = _listing(tmp_path / "out")
    for cli, argv in ((pretrain, ["--max-steps", "1"]),
                      (distil, ["mlm", "--teacher", str(tmp_path / "t"), "--max-steps", "1"]),
                      (finetune, ["--model", str(tmp_path / "m"), "--train", str(tmp_path / "x.tsv")])):
        with pytest.raises(SystemExit) as e:
            cli([*argv, "--out", str(tmp_path / "out"), "--overwrite", "--no-progress"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and "no run.json" in err and len(err.strip().splitlines()) == 1, err
    assert _listing(tmp_path / "out") == before


def test_overwrite_of_our_run_removes_our_outputs_only(tmp_path):
    _user_files(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "run.json").write_text(json.dumps({"args": {"lr": 0.001}}))
    for name in ("metrics.jsonl", "metrics.json", "config.json", "model.safetensors", "vocab.txt"):
        (tmp_path / name).write_text("x")
    for step in ("step-0000002", "step-0000004", ".step-0000006.tmp-99"):
        (tmp_path / "checkpoints" / step).mkdir()
    (tmp_path / "checkpoints" / "latest").write_text("step-0000004\n")
    (tmp_path / "checkpoints" / "vocab.txt").write_text("[PAD]\n")
    check_out(str(tmp_path), resume=False, overwrite=True)
    with pytest.raises(FileExistsError, match=r"earlier run.*--resume.*--overwrite"):
        check_out(str(tmp_path), resume=False, overwrite=False)
    clear_run_outputs(str(tmp_path))
    # the model and tokenizer files stay until the new run saves its own (an interrupted run keeps the old model)
    assert _listing(tmp_path) == ["checkpoints", "checkpoints/epoch1.pt", "config.json", "model.safetensors",
                                  "notes.txt", "vocab.txt"]


def test_an_input_lying_in_out_does_not_make_it_foreign(tmp_path):
    (tmp_path / "my_config.json").write_text("{}")                          # bert.pretraining.classroom does this
    check_out(str(tmp_path), resume=False, overwrite=False, inputs={"--config": str(tmp_path / "my_config.json")})
    with pytest.raises(FileExistsError, match="not empty"):
        check_out(str(tmp_path), resume=False, overwrite=True)


def _corpus(path):
    rng = random.Random(0)
    words = "the cat dog runs sleeps eats a big small red blue house tree river walks jumps over under".split()
    docs = ["\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(5, 12))) + " ." for _ in range(6))
            for _ in range(40)]
    path.write_text("\n\n".join(docs) + "\n")
    return str(path)


def test_pretrain_overwrite_killed_early_leaves_the_old_model_with_its_own_vocabulary(tmp_path, monkeypatch):
    from bert import BertForPreTraining
    from bert.pretraining import cli
    from bert.training import Trainer
    from tokenization import BertTokenizer
    out = tmp_path / "run"
    common = ["--preset", "tiny", "--corpus", _corpus(tmp_path / "corpus.txt"), "--seq-len", "16", "--batch-size", "4",
              "--eval-examples", "8", "--eval-every", "0", "--save-every", "1", "--no-progress", "--no-plot",
              "--out", str(out)]
    cli.pretrain(common + ["--vocab-size", "60", "--max-steps", "2"])
    old = {name: (out / name).read_bytes() for name in ("vocab.txt", "tokenizer.json", "model.safetensors")}

    class Killed(Exception):
        pass

    def kill_at_2(trainer, record):
        if trainer.global_step == 2:
            raise Killed

    monkeypatch.setattr(cli, "Trainer", lambda *a, **k: Trainer(*a, callbacks=[kill_at_2], **k))
    with pytest.raises(Killed):
        cli.pretrain(common + ["--vocab-size", "50", "--max-steps", "4", "--overwrite"])
    assert {name: (out / name).read_bytes() for name in old} == old         # the old model, with its old vocab
    assert BertTokenizer.from_pretrained(out).vocab_size == BertForPreTraining.from_pretrained(out).config.vocab_size
    monkeypatch.undo()
    summary = cli.pretrain(common + ["--vocab-size", "50", "--max-steps", "4", "--resume"])   # the new run goes on
    assert summary["step"] == 4
    assert BertTokenizer.from_pretrained(out).vocab_size == BertForPreTraining.from_pretrained(out).config.vocab_size
    assert (out / "vocab.txt").read_bytes() != old["vocab.txt"]


def test_demo_refuses_a_folder_it_did_not_make_even_with_overwrite(tmp_path, capsys):
    from distil.demo import main
    _user_files(tmp_path)
    small = ["--corpus", _corpus(tmp_path.parent / "corpus.txt"), "--teacher-steps", "1", "--student-steps", "1",
             "--seq-len", "16", "--vocab-size", "60", "--eval-examples", "4", "--fill-mask", "0", "--no-progress"]
    with pytest.raises(SystemExit) as e:                                     # (it trained here before issue 30)
        main(["--out", str(tmp_path), "--overwrite", *small])
    assert e.value.code == 2 and "not empty" in capsys.readouterr().err
    assert _listing(tmp_path) == ["checkpoints", "checkpoints/epoch1.pt", "metrics.png"]
