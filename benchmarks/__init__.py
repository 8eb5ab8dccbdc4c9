"""Benchmarks behind `make bench`. Each module measures one thing and writes its own section of
docs/benchmarks.md (see `report.write_section`), so sections can be re-run one at a time."""
