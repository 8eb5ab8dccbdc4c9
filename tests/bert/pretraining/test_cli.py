"""The command line, for real: `python -m bert.pretrain` on the built-in stdlib corpus for a few steps, its output
folder loaded by our from_pretrained and by transformers', --resume, --help, and clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bert import BertForPreTraining
from bert.pretraining.cli import build_parser, main, pretrain
from bert.training.metrics import read_metrics

REPO = Path(__file__).resolve().parents[3]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHORT = ["--preset", "tiny", "--corpus", "stdlib", "--vocab-size", "2000", "--seq-len", "64", "--batch-size", "16",
         "--eval-examples", "64", "--eval-every", "10", "--save-every", "10", "--log-every", "5", "--no-progress"]


@pytest.mark.slow
def test_a_short_real_run_writes_a_model_both_libraries_load(tmp_path):
    out = tmp_path / "run"
    summary = pretrain(SHORT + ["--max-steps", "20", "--out", str(out)])
    assert summary["step"] == 20
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "metrics.jsonl",
                 "metrics.png", "run.json"):
        assert (out / name).is_file(), name
    evals = read_metrics(str(out / "metrics.jsonl"), "eval")
    assert [r["step"] for r in evals] == [0, 10, 20]
    assert evals[-1]["mlm_loss"] < evals[0]["mlm_loss"] - 0.3                # 20 steps already lower the loss

    from tokenization import BertTokenizer
    from transformers import BertForPreTraining as HFBertForPreTraining
    from transformers import BertTokenizerFast as HFTokenizer

    ours, hf = BertForPreTraining.from_pretrained(out).eval(), HFBertForPreTraining.from_pretrained(out).eval()
    tok, hf_tok = BertTokenizer.from_pretrained(out), HFTokenizer.from_pretrained(out)
    text = ["Return the number of items in the [MASK].", "Close the file."]
    enc = tok(text[0], text[1], return_tensors="pt")
    assert enc["input_ids"].tolist() == hf_tok(text[0], text[1], return_tensors="pt")["input_ids"].tolist()
    with torch.no_grad():
        a, b = ours(**enc), hf(**enc)
    assert torch.allclose(a.prediction_logits, b.prediction_logits, atol=1e-4)
    assert torch.allclose(a.seq_relationship_logits, b.seq_relationship_logits, atol=1e-5)

    # --resume continues the run: 5 more steps, the records of steps 1-20 kept as they were; --no-plot: no figure
    before = read_metrics(str(out / "metrics.jsonl"), "train")
    (out / "metrics.png").unlink()
    summary = pretrain(SHORT + ["--max-steps", "25", "--out", str(out), "--resume", "--no-plot"])
    after = read_metrics(str(out / "metrics.jsonl"), "train")
    assert summary["step"] == 25 and after[:len(before)] == before and after[-1]["step"] == 25
    assert not (out / "metrics.png").exists()
    with pytest.raises(ValueError, match="--seq-len: 64 then, 32 now"):
        pretrain([a if a != "64" else "32" for a in SHORT] + ["--max-steps", "30", "--out", str(out), "--resume"])


def test_help_documents_every_option():
    text = build_parser().format_help()
    for option in ("--preset", "--config", "--corpus", "--vocab", "--max-steps", "--minutes", "--batch-size",
                   "--seq-len", "--lr", "--out", "--resume", "--seed", "--eval-every", "--whole-word-mask",
                   "--static-masking", "--precision", "torchrun"):
        assert option in text, option
    for action in build_parser()._actions:
        assert action.help, action.dest


def test_bad_corpus_path_exits_with_a_clear_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--corpus", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o"), "--max-steps", "1"])
    assert e.value.code == 2
    assert "no such file" in capsys.readouterr().err and "missing.txt" in str(tmp_path / "missing.txt")
    with pytest.raises(SystemExit):
        main(["--preset", "tiny", "--config", "c.json", "--out", str(tmp_path / "o")])
    assert "--preset or --config, not both" in capsys.readouterr().err


def test_a_vocab_without_mask_is_refused_naming_the_file(tmp_path, capsys):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n.\n")
    (tmp_path / "corpus.txt").write_text("the .\n\n" * 50)
    with pytest.raises(SystemExit) as e:
        main(["--vocab", str(tmp_path / "vocab.txt"), "--corpus", str(tmp_path / "corpus.txt"), "--seq-len", "16",
              "--out", str(tmp_path / "o"), "--max-steps", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "vocab.txt" in err and "[MASK]" in err and len(err.strip().splitlines()) == 1


def test_python_dash_m_entry_point_prints_help():
    run = subprocess.run([sys.executable, "-m", "bert.pretrain", "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and "--corpus" in run.stdout and "MLM + NSP" in run.stdout


def test_default_prediction_cap_follows_the_masking_rate():
    from bert.pretraining.cli import max_predictions
    assert max_predictions(0.15, 128) == 20          # google's max_predictions_per_seq for 15% of 128 (19.2 → 20)
    assert max_predictions(0.15, 512) == 77          # 76.8 → 77
    assert max_predictions(0.4, 128) == 52           # 51.2 → 52: the cap no longer holds a 40% rate down to 15%
    assert max_predictions(0.25, 32) == 8            # exactly 8.0 stays 8 (no float round-up)


@pytest.mark.slow
def test_training_mask_rate_leaves_the_heldout_evaluation_at_15_percent(tmp_path):
    """--mask-prob changes what training predicts; the held-out set keeps --eval-mask-prob (15%), so accuracies of
    runs with different training rates are measured on the same masked tokens."""
    base = SHORT[:SHORT.index("--eval-every")] + ["--save-every", "0", "--max-steps", "1", "--eval-every", "1",
                                                  "--no-progress"]
    first = pretrain(base + ["--out", str(tmp_path / "a")])
    more = pretrain(base + ["--mask-prob", "0.4", "--vocab", str(tmp_path / "a"), "--out", str(tmp_path / "b")])
    e0 = [read_metrics(str(tmp_path / d / "metrics.jsonl"), "eval")[0] for d in ("a", "b")]
    assert e0[0]["step"] == e0[1]["step"] == 0
    assert e0[0]["masked"] == e0[1]["masked"] and e0[0]["mlm_loss"] == pytest.approx(e0[1]["mlm_loss"], abs=1e-6)
    assert first["step"] == more["step"] == 1


@pytest.mark.slow
def test_init_from_starts_a_second_phase_from_the_first_runs_weights(tmp_path, capsys):
    """BERT's two phases (§A.2): a run at 32 tokens, then --init-from it at 64. The second phase starts from the
    first one's weights (after its one step of Adam, no weight is more than ~lr away from them) and vocabulary."""
    base = SHORT[:SHORT.index("--eval-examples")] + ["--eval-examples", "32", "--save-every", "0", "--no-progress"]
    short = [a if a != "64" else "32" for a in base]                          # --seq-len 32
    pretrain(short + ["--max-steps", "5", "--lr", "1e-2", "--eval-every", "0", "--out", str(tmp_path / "one")])
    pretrain(base[2:] + ["--init-from", str(tmp_path / "one"), "--max-steps", "1", "--eval-every", "0",
                         "--lr", "1e-3", "--out", str(tmp_path / "two")])
    one, two = (BertForPreTraining.from_pretrained(tmp_path / d).state_dict() for d in ("one", "two"))
    assert set(one) == set(two)
    assert max((one[k] - two[k]).abs().max().item() for k in one) < 2.5e-3      # one Adam step of lr 1e-3
    fresh = BertForPreTraining(BertForPreTraining.from_pretrained(tmp_path / "one").config).state_dict()
    assert max((one[k] - fresh[k]).abs().max().item() for k in one) > 0.02      # (the first phase moved them)
    assert (tmp_path / "two" / "vocab.txt").read_text() == (tmp_path / "one" / "vocab.txt").read_text()

    # it brings its own config and vocabulary; a folder that is not a model is named; it is never written over
    for extra, message in ((["--preset", "tiny"], "drop --preset"),
                           (["--vocab", str(tmp_path / "one")], "drop --vocab")):
        with pytest.raises(SystemExit):
            main(base[2:] + ["--init-from", str(tmp_path / "one"), *extra, "--out", str(tmp_path / "x")])
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(base[2:] + ["--init-from", str(tmp_path / "missing"), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--init-from" in err and "missing" in err and "no config.json" in err
    with pytest.raises(SystemExit):
        main(base[2:] + ["--init-from", str(tmp_path / "one"), "--out", str(tmp_path / "one"), "--overwrite"])
    assert "write over its own input" in capsys.readouterr().err
    assert (tmp_path / "one" / "model.safetensors").is_file()
