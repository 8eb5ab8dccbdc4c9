"""benchmarks/report.py: a section is replaced in place, others are kept, a GPU run gets its own section, and a
quick (smoke) run writes its own file, never the recorded docs/benchmarks.md."""

import benchmarks.report as report
from benchmarks.report import HEADER, QUICK_HEADER, write_section


def test_sections_are_replaced_in_place_and_kept_per_device(tmp_path):
    doc = tmp_path / "benchmarks.md"
    write_section("attention", "cpu v1", doc=str(doc))
    write_section("model", "model v1", doc=str(doc))
    write_section("attention", "cpu v2", doc=str(doc))
    write_section("attention", "gpu v1", device="cuda:0", doc=str(doc))
    text = doc.read_text(encoding="utf-8")
    assert text.startswith(HEADER)
    assert "cpu v1" not in text and text.count("cpu v2") == 1 and "model v1" in text
    assert "<!-- begin attention-cuda -->\ngpu v1\n<!-- end attention-cuda -->" in text
    assert text.index("<!-- begin attention -->") < text.index("<!-- begin model -->")   # replaced where it stood
    assert [p.name for p in tmp_path.iterdir()] == ["benchmarks.md"]                   # no temporary file left


def test_a_quick_run_writes_its_own_files(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "DOCS", str(tmp_path))
    write_section("attention", "smoke", quick=True)
    assert [p.name for p in tmp_path.iterdir()] == ["benchmarks-quick.md"]
    assert (tmp_path / "benchmarks-quick.md").read_text(encoding="utf-8").startswith(QUICK_HEADER)
    assert report.doc_path("pretraining_curve.png", quick=True) == str(tmp_path / "pretraining_curve-quick.png")
    assert report.doc_path("benchmarks.md") == str(tmp_path / "benchmarks.md")
