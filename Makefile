# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test proto proto-check bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./clients/python -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(PY) -m droidft_server.demo

test: setup proto-check
	$(PY) -m pytest -q

proto: setup
	$(PY) tools/protogen.py

proto-check: setup
	$(PY) tools/protogen.py --check

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
