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

# (loadgroup: the Dask tests share one cluster on one xdist worker)
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

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
# then generation vs zero-write, sampling floor and a naive script (bench/run.py), then
# Llama-3.1-8B bfloat16 made from its config.json vs the zero-write floor (bench/bench_config.py),
# then upload to a local S3 server vs s3fs put, and a Dask run vs a local one (bench/bench_cloud.py).
BENCH_STATS ?=
bench: $(STAMP)
	$(BIN)/python bench/bench_stats.py $(BENCH_STATS)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/bench_config.py
	$(BIN)/python bench/bench_cloud.py

# make interop: a separate venv with torch, torchvision, Transformers, timm, Keras, JAX and Flax
# (not needed by `make test`); records tests/data/reference/*.json from the real frameworks
# (the shipped specs' tensor lists, and each framework's own init for the presets), loads
# every shipped spec's file into its framework model and runs a forward pass, then loads
# the preset files (Keras: .weights.h5 with load_weights) and compares them with each
# framework's own init; then records what save_pretrained writes for a tiny config of every
# supported model family (tests/data/reference/configs) and loads initgen's model
# directories with from_pretrained.
INTEROP := .venv-interop
$(INTEROP)/.installed: pyproject.toml
	test -x $(INTEROP)/bin/python || $(PYTHON) -m venv $(INTEROP)
	$(INTEROP)/bin/python -m pip install -q torch torchvision transformers timm keras jax flax safetensors
	$(INTEROP)/bin/python -m pip install -q -e .
	touch $@

interop: $(INTEROP)/.installed
	$(INTEROP)/bin/python scripts/record_reference.py
	$(INTEROP)/bin/python scripts/interop.py
	$(INTEROP)/bin/python scripts/record_presets.py
	KERAS_BACKEND=torch $(INTEROP)/bin/python scripts/interop_presets.py
	$(INTEROP)/bin/python scripts/record_configs.py
	$(INTEROP)/bin/python scripts/interop_configs.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache bench/out
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
