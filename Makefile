# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test setup lint typecheck bench infra-tools clean eval-agent browser faults

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

# The dashboard's browser tests drive Debian's chromium through Playwright (`playwright install` cannot download
# here). Installed when missing and we are root (CI); otherwise those tests skip and say why.
browser:
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 && apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } || \
	  echo "chromium is not installed and cannot be installed here: the dashboard browser tests will skip"

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

test: setup infra-tools browser
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
	$(PY) -m tools.bench all

# The agent's evaluation cases: a real model when OPENAI_* / AZURE_OPENAI_* is set, else the scripted local one.
eval-agent: setup
	$(PY) -m tools.eval_agent --model auto

clean:
	rm -rf $(VENV) .venv-bicep .venv-checkov node_modules .azurite .pytest_cache .mypy_cache .ruff_cache
