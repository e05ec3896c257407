# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test setup lint typecheck bench infra-tools clean faults

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# Bicep checking tools, each in its own venv (checkov pins an older pycep-parser).
.venv-bicep/.installed:
	@test -x .venv-bicep/bin/python || $(PYTHON) -m venv .venv-bicep
	.venv-bicep/bin/pip install --disable-pip-version-check -q pycep-parser==0.7.1
	@touch $@

.venv-checkov/.installed:
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --disable-pip-version-check -q checkov==3.3.30
	@touch $@

setup: $(VENV)/.installed node_modules/.installed

infra-tools: .venv-bicep/.installed .venv-checkov/.installed

run: setup
	$(PY) -m tools.run

test: setup infra-tools
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .

typecheck: setup
	$(PY) -m mypy

# Fault and fuzz suite (issue 9): storage / host faults under load, 10,000 fuzzed requests, adversarial texts.
faults: setup
	$(PY) -m tools.faults

bench: setup
	$(PY) -m tools.bench ingest

clean:
	rm -rf $(VENV) .venv-bicep .venv-checkov node_modules .azurite .pytest_cache .mypy_cache .ruff_cache
