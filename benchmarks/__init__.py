"""Benchmarks behind `make bench`. Each module measures one thing and writes its own section of
docs/benchmarks.md (see `report.write_section`; a --quick run writes docs/benchmarks-quick.md), so sections can be
re-run one at a time. They time with bert/tools/timing.py; unpad.py is the varlen attention that padding.py measures."""
