# make demo: install, make weights from a shipped spec, print their stats.
# make test: install, run the test suite (and every doctest in initgen/).
# make lint: ruff (lint and format) and mypy, as CI runs them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench fuzz interop clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(BIN)/initgen make specs/mlp-mnist.yaml -o out/mlp-mnist.safetensors --force
	$(BIN)/initgen stats out/mlp-mnist.safetensors

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check initgen tests bench scripts
	$(BIN)/ruff format --check initgen tests bench scripts
	$(BIN)/mypy initgen

# make fuzz: the spec and file fuzzers with many examples (make test runs them bounded).
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	INITGEN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -n 2 tests/test_fuzz_spec.py tests/test_fuzz_files.py

# make bench: stats throughput per dtype vs a read floor and a naive script, and llama made
# in float32/bfloat16/float16 (bench/bench_stats.py; BENCH_STATS="--gb 0.5" sizes its files),
# then generation vs zero-write, sampling floor and a naive script (bench/run.py).
BENCH_STATS ?=
bench: $(STAMP)
	$(BIN)/python bench/bench_stats.py $(BENCH_STATS)
	$(BIN)/python bench/run.py

# make interop: a separate venv with torch, torchvision, Transformers, timm and Keras (not needed
# by `make test`); records tests/data/reference/*.json from the real frameworks, then
# loads every shipped spec's file into its framework model and runs a forward pass.
INTEROP := .venv-interop
$(INTEROP)/.installed: pyproject.toml
	test -x $(INTEROP)/bin/python || $(PYTHON) -m venv $(INTEROP)
	$(INTEROP)/bin/python -m pip install -q torch torchvision transformers timm keras safetensors
	$(INTEROP)/bin/python -m pip install -q -e .
	touch $@

interop: $(INTEROP)/.installed
	$(INTEROP)/bin/python scripts/record_reference.py
	$(INTEROP)/bin/python scripts/interop.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache bench/out
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
