# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

TS := clients/typescript
TS_MODULES := $(TS)/node_modules/.package-lock.json

.PHONY: setup demo test lint format proto proto-check ts-proto contract-check bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./clients/python -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/droidft-server demo

$(TS_MODULES): $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund

test: setup lint proto-check $(TS_MODULES)
	$(PY) -m pytest -q
	cd $(TS) && npm test

# ruff's linter and formatter, configured in pyproject.toml; `make format` applies both.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

ts-proto: setup $(TS_MODULES)
	$(PY) tools/tsgen.py

contract-check: setup
	$(PY) tools/buf_check.py lint
	$(PY) tools/buf_check.py breaking

proto: setup
	$(PY) tools/protogen.py

proto-check: setup
	$(PY) tools/protogen.py --check

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
