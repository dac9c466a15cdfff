# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

TS := clients/typescript
TS_MODULES := $(TS)/node_modules/.package-lock.json
# The web console, bundled into the folder the server's HTTP port serves.
CONSOLE := server/droidft_server/transport/http/static/console.js
CONSOLE_SOURCES := $(wildcard $(TS)/console/src/*.ts $(TS)/console/src/*/*.ts $(TS)/src/*.ts $(TS)/src/gen/*/*/*.ts) \
	$(TS)/console/index.html $(TS)/console/build.mjs

.PHONY: setup demo test lint format proto proto-check ts-proto contract-check bench clean chromium

setup: $(STAMP) $(CONSOLE) chromium

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./clients/python -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/droidft-server demo

$(TS_MODULES): $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund

$(CONSOLE): $(TS_MODULES) $(CONSOLE_SOURCES)
	cd $(TS) && npm run build:console

# The console's browser tests drive Debian's chromium package (Playwright's own browser builds are not used).
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; \
	  else echo "install Chromium (chromium on PATH) for the console's browser tests"; fi; }

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
	rm -rf $(VENV) var $(dir $(CONSOLE))
