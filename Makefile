# KalaKrut Creative. Two commands do everything on a fresh machine:
#   make dev    run the platform locally (every function, Hosting, the stand-ins, demo data)
#   make test   pass every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
TOOLS := .venv-tools
STAMP_TOOLS := $(TOOLS)/.installed
# Each function's own venv, as its bundle installs (cached in ~/.cache/kalakrut/venvs).
STAMP_FUNCTIONS := $(VENV)/.function-venvs
FUNCTION_REQUIREMENTS := $(wildcard functions/*/requirements.txt)
# The web app (web/, React + Vite) builds into Hosting's public directory.
WEB_BUILD := public/index.html
WEB_SOURCES := $(shell find web -type f 2>/dev/null)

.PHONY: dev test install web seed openapi lint bench lock reset help deploy config fuzz

help:
	@echo "make dev     run the platform on loopback (Ctrl-C stops everything)"
	@echo "make test    install what is needed and run every test"
	@echo "make seed    load the demo data into a running 'make dev' stack"
	@echo "make openapi regenerate public/openapi.json from the routes"
	@echo "make web     rebuild the web app (web/ -> public/)"
	@echo "make bench   run the benchmarks (bench/; BENCH_ARGS=--quick for a short run)"
	@echo "make lint    the lint rules of ruff.toml over the whole tree"
	@echo "make fuzz    fuzz the published OpenAPI through Hosting with schemathesis, on a stack of its own (FUZZ_ARGS=--max-examples 10)"
	@echo "make reset   forget local state (.local/: database, emulator accounts, logs)"
	@echo "make config  refresh infra/deployed/{dev,prod}.json from functions.yaml (Terraform reads them)"
	@echo "make deploy ENV=dev PROJECT=<id> [DEPLOY_ARGS=--dry-run]   deploy an environment (docs/deploy.md)"

install: $(STAMP_PY) $(STAMP_NODE) $(STAMP_TOOLS) $(STAMP_FUNCTIONS) $(WEB_BUILD)

# The local stack and the tests run each function in a venv of only its own requirements
# (decision 0021): built here, once, so that no test waits for pip.
$(STAMP_FUNCTIONS): $(STAMP_PY) $(FUNCTION_REQUIREMENTS) constraints.txt
	$(PY) -m infra.bundle --venvs --out build/bundles
	touch $@

$(STAMP_PY): requirements.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

# checkov and check-jsonschema: their own environment (see infra/tools-requirements.txt).
$(STAMP_TOOLS): infra/tools-requirements.txt infra/tools-constraints.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r infra/tools-requirements.txt -c infra/tools-constraints.txt
	touch $@

# npm install, not npm ci: the lock pins every version, but npm ci refuses a lock that
# omits other platforms' optional packages (anvil ships one binary package per platform).
$(STAMP_NODE): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_BUILD): $(STAMP_NODE) $(WEB_SOURCES)
	npm run --silent build:web

web: $(STAMP_NODE)
	npm run --silent build:web

dev: install
	$(PY) -m local.stack

test: install
	$(PY) -m ruff check .
	node --test web/test/
	$(PY) -m pytest

seed: install
	$(PY) -m local.seed

config: install
	$(PY) -m infra.deployed_config --write

deploy: install
	@test -n "$(ENV)" -a -n "$(PROJECT)" || { echo "usage: make deploy ENV=dev|prod PROJECT=<gcp project id> [DEPLOY_ARGS=--dry-run]"; exit 2; }
	$(PY) -m infra.deploy --env $(ENV) --project $(PROJECT) $(DEPLOY_ARGS)

openapi: install
	$(PY) -m infra.openapi

bench: install
	$(PY) bench/cold_start.py $(BENCH_ARGS)
	$(PY) bench/outbox_relay.py $(BENCH_ARGS)
	$(PY) bench/images.py $(BENCH_ARGS)
	$(PY) bench/indexer.py $(BENCH_ARGS)
	$(PY) bench/graph_etl.py $(BENCH_ARGS)
	$(PY) bench/search.py $(BENCH_ARGS)
	$(PY) bench/migrate.py $(BENCH_ARGS)

# Not part of make test: schemathesis against Hosting's /api/openapi.json, signed in and anonymous (infra/fuzz.py).
fuzz: install
	$(PY) -m infra.fuzz $(FUZZ_ARGS)

# The lint rules (ruff.toml) only: the code's layout is kept by hand (aligned continuation
# lines), which ruff's formatter would rewrite in 300 files.
lint: install
	$(PY) -m ruff check .

lock: install
	{ echo "# Full transitive pins, used with -c by make install (regenerate: make lock)."; \
	  $(PY) -m pip freeze | grep -viE '^(pip|setuptools|wheel)=='; } > constraints.txt
	{ echo "# Full transitive pins of .venv-tools (regenerate: make lock)."; \
	  $(TOOLS)/bin/python -m pip freeze | grep -viE '^(pip|setuptools|wheel)=='; } > infra/tools-constraints.txt

reset:
	rm -rf .local
