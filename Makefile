# Lonewatch: `make run` for a demo on this machine, `make test` for the checks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_PY := $(VENV)/.installed
STAMP_JS := node_modules/.installed
STAMP_OS := var/.os-packages

.PHONY: setup run test lint bench lock clean

setup: $(STAMP_PY) $(STAMP_JS) $(STAMP_OS)

$(STAMP_PY): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e .
	touch $@

$(STAMP_JS): package.json package-lock.json scripts/build_assets.py
	npm ci --no-audit --no-fund --loglevel=error
	$(PYTHON) scripts/build_assets.py
	touch $@

# Debian packages the tests need: chromium for browser tests, poppler-utils to read PDFs.
$(STAMP_OS): scripts/install_os_packages.sh
	bash scripts/install_os_packages.sh
	mkdir -p var && touch $@

run: setup
	$(BIN)/lonewatch migrate --verbosity 0
	$(BIN)/lonewatch demo
	$(BIN)/lonewatch run --host 127.0.0.1 --port 8000

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: setup lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench

# Re-pin every Python dependency after changing pyproject.toml.
lock:
	rm -rf /tmp/lonewatch-lock && $(PYTHON) -m venv /tmp/lonewatch-lock
	/tmp/lonewatch-lock/bin/pip install --quiet -U 'setuptools>=75' wheel
	/tmp/lonewatch-lock/bin/pip install --quiet -e '.[dev]'
	/tmp/lonewatch-lock/bin/pip freeze --exclude-editable --all | grep -v '^pip==' > requirements.lock

clean:
	rm -rf $(VENV) node_modules lonewatch/static/vendor var/static
