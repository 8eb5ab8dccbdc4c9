"""Tests for `python -m tokenization "text"`: every stage is printed, and the ids it ends with are the encoding's; a
bad argument or vocabulary exits with status 2 and one line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert main(["--vocab", str(minilm_dir / "vocab.txt"), "--cased", "Hello", "World"]) == 0
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


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (argv, what the one line must say)."""
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf[PAD]\n[UNK]\n")
    (tmp_path / "latin1.txt").write_bytes(b"[PAD]\ncaf\xe9\n")
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text('{"do_lower_case": "false"}', encoding="utf-8")
    return {
        "no text": ([], "the following arguments are required: text (see python -m tokenization --help)"),
        "unknown option": (["--lower", "x"], "unrecognized arguments: --lower"),
        "missing vocab": (["--vocab", str(tmp_path / "nope.txt"), "x"], f"no such file or folder "
                                                                         f"{str(tmp_path / 'nope.txt')!r}"),
        "BOM": (["--vocab", str(tmp_path / "bom.txt"), "x"], "starts with a UTF-8 byte order mark"),
        "not UTF-8": (["--vocab", str(tmp_path / "latin1.txt"), "x"], "latin1.txt' is not UTF-8 text"),
        "config type": (["--vocab", str(folder), "x"], "tokenizer_config.json': key 'do_lower_case': expected a "
                                                       "bool, got str 'false'"),
    }


@pytest.mark.parametrize("case", ["no text", "unknown option", "missing vocab", "BOM", "not UTF-8", "config type"])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, case):
    argv, expected = _bad_inputs(tmp_path)[case]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and expected in err, err
    assert err.startswith("python -m tokenization: error: ")


def test_help(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and out.startswith("usage: python -m tokenization") and "Exit status" in out


def test_module_entry_point_on_bad_input(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    argv, expected = _bad_inputs(tmp_path)["config type"]
    result = subprocess.run([sys.executable, "-m", "tokenization", *argv], capture_output=True, text=True, env=env,
                            timeout=120, cwd=REPO)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
