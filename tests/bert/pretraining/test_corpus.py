"""Tests for bert/pretraining/corpus.py: the three readers, the embedded stdlib corpus, and clear errors."""

from __future__ import annotations

import ast
import json

import pytest

from bert.pretraining.corpus import (detect_format, docstring_sentences, iter_documents, load_documents,
                                     read_plain_text, read_wikitext, split_sentences, stdlib_docstrings)
from bert.pretraining.data import split_heldout


def test_split_sentences():
    assert split_sentences("One two. Three four! Is it (five)? \"Six.\" 7 is a number. e.g. not a break") == \
        ["One two.", "Three four!", "Is it (five)?", "\"Six.\"", "7 is a number. e.g. not a break"]
    assert split_sentences("  \n ") == []
    assert split_sentences("no   end\nmark") == ["no end mark"]


def test_plain_text_blank_lines_separate_documents(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("First sentence. Second one.\nA third line\n\n\nDoc two only.\n\n  \nDoc three.\nEnd.", "utf-8")
    assert list(read_plain_text(p)) == [["First sentence.", "Second one.", "A third line"], ["Doc two only."],
                                        ["Doc three.", "End."]]
    assert list(read_plain_text(p, split=False))[0] == ["First sentence. Second one.", "A third line"]
    assert detect_format(p) == "plain"


def test_wikitext_articles_split_at_titles(tmp_path):
    p = tmp_path / "w.raw"
    p.write_text(" \n = Alpha = \n \n Alpha is a letter . It comes first . \n \n = = History = = \n \n"
                 " It has a 1 @,@ 000 @-@ year history . \n = 2 x = \n \n = Beta = \n \n Beta is second . \n", "utf-8")
    docs = list(read_wikitext(p))
    assert docs == [["Alpha is a letter .", "It comes first .", "It has a 1,000-year history .", "= 2 x ="],
                    ["Beta is second ."]]
    assert detect_format(p) == "wikitext"
    assert list(iter_documents([str(p)])) == docs                   # auto-detected


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path):
    """A file saved "UTF-8 with BOM" (Windows editors) reads as the same file without one."""
    wiki, plain = " = Alpha = \n \n Alpha is a letter . \n", "Hello there. A second sentence.\n\nDoc two.\n"
    for name, text in (("w.raw", wiki), ("c.txt", plain)):
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.encode())
        (tmp_path / f"no-bom-{name}").write_text(text, "utf-8")
        assert detect_format(tmp_path / name) == detect_format(tmp_path / f"no-bom-{name}")
        assert load_documents(str(tmp_path / name)) == load_documents(str(tmp_path / f"no-bom-{name}"))
    assert load_documents(str(tmp_path / "w.raw")) == [["Alpha is a letter ."]]


def test_real_wikitext_test_split_has_one_document_per_article(shared_data):
    path = shared_data / "wikitext-2-raw" / "wiki.test.raw"
    lines = path.read_text("utf-8").split("\n")
    # an article title: " = … = " (not " = = … = = ") with blank lines before and after it
    titles = [line for i, line in enumerate(lines[1:-1], 1) if line.startswith(" = ") and line.endswith(" = ")
              and not line.startswith(" = = ") and not lines[i - 1].strip() and not lines[i + 1].strip()]
    docs = load_documents(str(path))
    assert len(docs) == len(titles) > 50
    assert any("1 henry and capacitance C =" in s for d in docs for s in d)   # title-like text is kept as text
    assert all(len(d) > 5 for d in docs)
    assert not any("@-@" in s or s.startswith(" = ") for d in docs for s in d)


def test_docstring_sentences_drops_doctests_and_code():
    doc = "Return the sum. Works for ints.\n\nExample:\n\n    x = add(1, 2)\n    print(x)\n\n>>> add(1, 2)\n3\n"
    assert docstring_sentences(doc) == ["Return the sum.", "Works for ints.", "Example:", "3"]


@pytest.fixture(scope="module")
def stdlib():
    return load_documents("stdlib")


def test_stdlib_corpus_is_every_docstring_deterministically(stdlib):
    assert len(stdlib) > 5000
    assert sum(len(s) for d in stdlib for s in d) > 1_000_000
    assert list(stdlib_docstrings()) == stdlib                      # same order, every time
    # an independent check on one module: json/__init__.py's docstrings, found with ast here
    import json as json_module
    tree = ast.parse(open(json_module.__file__, encoding="utf-8").read())
    expected = [docstring_sentences(ast.get_docstring(n)) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(n)]
    text = json.dumps(stdlib)
    for sentences in expected:
        assert json.dumps(sentences)[1:-1] in text


def test_missing_empty_and_binary_corpora_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file.*nope.txt"):
        load_documents(str(tmp_path / "nope.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n   \n", "utf-8")
    with pytest.raises(ValueError, match="empty.txt.*has no text"):
        load_documents(str(empty))
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81 not text")
    with pytest.raises(ValueError, match="blob.txt.*not UTF-8"):
        load_documents(str(binary))
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match="holds no .txt"):
        load_documents(str(folder))
    with pytest.raises(ValueError, match="no source"):
        load_documents([])
    with pytest.raises(ValueError, match="corpus format"):
        load_documents("stdlib", fmt="html")


def test_a_folder_reads_its_text_files_in_order(tmp_path):
    (tmp_path / "b.txt").write_text("Second file.\n", "utf-8")
    (tmp_path / "a.txt").write_text("First file.\n\nAnother doc.\n", "utf-8")
    (tmp_path / "skip.json").write_text("{}", "utf-8")
    assert load_documents(str(tmp_path)) == [["First file."], ["Another doc."], ["Second file."]]


def test_heldout_split_is_fixed_and_disjoint():
    docs = [[f"doc {i}."] for i in range(100)]
    train, held = split_heldout(docs, 0.1)
    assert len(held) == 10 and len(train) == 90
    assert sorted(map(tuple, train + held)) == sorted(map(tuple, docs))
    assert split_heldout(docs, 0.1) == (train, held)
    with pytest.raises(ValueError, match="corpus too small: 3 documents"):
        split_heldout(docs[:3], 0.1)
    with pytest.raises(ValueError, match="fraction"):
        split_heldout(docs, 1.5)
