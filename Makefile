# vodai: the two commands are `make run` and `make test`.
PYTHON    ?= python3
VENV      ?= .venv
PY        := $(VENV)/bin/python
# The deployed code runs on FC's Python 3.12 (custom.debian12): tests run the handler under it too.
# The first python3.12 that runs: pyenv's install, else one on PATH (pyenv's shim may not run it).
PYTHON312 ?= $(shell for p in $(HOME)/.pyenv/versions/3.12*/bin/python3.12 $$(command -v python3.12); do \
                 "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo "$$p"; break; }; done)
VENV312   ?= .venv312

.PHONY: help install run lint test events soak demo-upload clean

help:
	@echo "make run    - set up .venv and run every sample in events/ through the handler on the built-in emulator"
	@echo "make lint   - ruff and mypy on shared/vodai (make test runs it first)"
	@echo "make test   - set up what the tests need and run them"
	@echo "make events - regenerate the sample events in events/"
	@echo "make package - build build/package and build/vodai.zip for deployment"
	@echo "make demo-upload - watch an upload become a job and its result, all local"
	@echo "make soak   - the long soak: 20,000 uploads through the pipeline with faults (SOAK_UPLOADS=N),"
	@echo "              then the crash soak: 500 uploads, 5 SIGKILLs, a Redis outage, on Redis and SQLite"
	@echo "make bench  - benchmarks against the official SDKs: bench/results/latest.{md,json}, README figures (BENCH_ARGS=...)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

# Runtime dependencies only, on Python 3.12, as deployed (skipped when no python3.12 is found;
# in CI, CI=true turns those skips into failures).
$(VENV312)/.installed: pyproject.toml
	@if [ -n "$(PYTHON312)" ]; then \
	  $(PYTHON312) -m venv $(VENV312) && \
	  $(VENV312)/bin/python -m pip install -q --disable-pip-version-check -e . && touch $@; \
	else echo "python3.12 not found: the Python 3.12 tests will skip"; fi

# The official SDKs on Python 3.12 (the 'baseline' extra; vodai and its dependencies come along,
# unused by the SDK handler): the baseline of the benchmarks' FC rows (make bench only).
$(VENV312)-sdk/.installed: pyproject.toml
	@if [ -z "$(PYTHON312)" ]; then echo "python3.12 not found: the benchmarks will have no Python 3.12 rows"; \
	elif $(PYTHON312) -m venv $(VENV312)-sdk && \
	     $(VENV312)-sdk/bin/python -m pip install -q --disable-pip-version-check -e '.[baseline]'; then touch $@; \
	else rm -rf $(VENV312)-sdk; echo "could not install the official SDKs on Python 3.12: the 3.12 rows will be compared with the SDKs on 3.11"; fi

install: $(VENV)/.installed

run: install
	$(VENV)/bin/vodai invoke --table events

# Style (ruff) and types (mypy) of shared/vodai, configured in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check shared/vodai
	$(VENV)/bin/mypy

test: lint $(VENV312)/.installed
	VODAI_TEST_PY312=$(if $(wildcard $(VENV312)/bin/python),$(abspath $(VENV312))/bin/python,) $(PY) -m pytest

# The long soak: 20,000 uploads with faults, duplicates and malformed events (SOAK_UPLOADS to change);
# then the crash mode: worker processes killed with SIGKILL at random moments and a real redis-server
# stopped mid-run, on Redis and on SQLite (CRASH_UPLOADS, CRASH_KILLS to change).
SOAK_UPLOADS ?= 20000
CRASH_UPLOADS ?= 500
CRASH_KILLS ?= 5
soak: install
	$(PY) tests/reliability/soak.py --uploads $(SOAK_UPLOADS)
	$(PY) tests/reliability/crash_soak.py --uploads $(CRASH_UPLOADS) --kills $(CRASH_KILLS)

# The local end-to-end demo: emulator + functions as servers, an upload becomes a job and its result.
demo-upload: install
	$(VENV)/bin/vodai demo-upload

events: install
	$(PY) -m vodai.events.samples events

clean:
	rm -rf $(VENV) $(VENV312) $(VENV312)-sdk build dist .pytest_cache

# The deployable code: build/package/ (bootstrap, functions/, vodai/, python/ deps for CPython 3.12
# manylinux2014_x86_64) and build/vodai.zip. Needs network access to PyPI and a python3.12.
.PHONY: package
package: install
	$(PY) -m vodai.packaging --out build

# The benchmark suite (bench/README.md): vodai against the official SDKs, alternated in one run.
# BENCH_ARGS passes options to bench/run.py, e.g. BENCH_ARGS="--benchmarks cold,warm --repeat 20".
.PHONY: bench
BENCH_ARGS ?=
bench: install $(VENV312)/.installed $(VENV312)-sdk/.installed
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/update_readme.py
