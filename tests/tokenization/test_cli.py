"""Tests for `python -m tokenization "text"`: every stage is printed, and the ids it ends with are the encoding's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tokenization.__main__ import main, show

REPO = Path(__file__).resolve().parents[2]


def test_show_prints_every_stage(ours):
    lines: list[str] = []
    text = "Héllo,\u200b 世界! unaffable [MASK]"
    ids = show(ours, text, lines.append)
    assert ids == ours.encode(text)
    stages = dict(line.split(maxsplit=2)[1:] if line[0].isdigit() else (line.split()[0], line) for line in lines)
    assert stages["special"].startswith("['[MASK]']")
    assert stages["clean"].startswith("'Héllo, 世界! unaffable [MASK]'")
    assert stages["CJK"].startswith("'Héllo,  世  界 ! unaffable [MASK]'")
    assert stages["normalise"].startswith("'hello,  世  界 ! unaffable [MASK]'")
    assert stages["words"] == "hello | , | 世 | 界 | ! | unaffable | [MASK]"
    assert stages["wordpiece"] == "hello | , | 世 | [UNK] | ! | una ##ffa ##ble | [MASK]"
    assert stages["ids"] == " ".join(f"{t}={i}" for t, i in zip(ours.convert_ids_to_tokens(ids), ids))


def test_main_with_a_vocab_file(minilm_dir, capsys):
    main(["--vocab", str(minilm_dir / "vocab.txt"), "--cased", "Hello", "World"])
    out = capsys.readouterr().out
    assert "do_lower_case=False" in out and "'Hello World'" in out and "4 words      Hello | World" in out


def test_module_entry_point(minilm_dir, hf_fast):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    result = subprocess.run([sys.executable, "-m", "tokenization", "--vocab", str(minilm_dir), "Hi there!"],
                            capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    ids = hf_fast("Hi there!")["input_ids"]                    # the reference's ids for the same text
    expected = " ".join(f"{t}={i}" for t, i in zip(hf_fast.convert_ids_to_tokens(ids), ids))
    assert f"6 ids        {expected}" in result.stdout
