# The two commands a newcomer runs are `make sandbox` and `make test`; both set up what they need.
SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON       ?= python3
VENV         := .venv
CHECKOV_VENV := .venv-checkov
PY           := $(VENV)/bin/python
ENV          ?= sandbox
PYTEST_ARGS  ?=
# Test directories run side by side (pytest-xdist, one directory per worker): most of the suite waits on
# Terraform and the AWS provider rather than computing, so three workers fit two cores.
TEST_WORKERS ?= 3

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1
export CKV_SKIP_PACKAGE_UPDATE_CHECK := true
export CHECKOV_BIN := $(CURDIR)/$(CHECKOV_VENV)/bin/checkov

.PHONY: help sandbox test e2e bench docs fmt lint tools clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: app/requirements.txt requirements/dev.txt pyproject.toml app/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (found " + sys.version.split()[0] + "); set PYTHON=python3.11 or newer")'
	@command -v terraform >/dev/null || { echo "Terraform >= 1.10 is required on PATH: https://developer.hashicorp.com/terraform/install" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --requirement requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps --editable . --editable app  # the harness and the service, importable everywhere
	@touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --requirement requirements/checkov.txt
	@touch $@

tools: ## create both virtual environments (in parallel: each takes about a minute on first use)
	@$(MAKE) --no-print-directory -j2 $(VENV)/.installed $(CHECKOV_VENV)/.installed

sandbox: $(VENV)/.installed ## run the service locally against an S3 emulator (PORT, SANDBOX_S3_PORT, UPLOAD_TOKEN)
	$(PY) -m harness.sandbox

test: tools ## the whole offline suite (unit, integration, Terraform on the emulator, chart, sandbox e2e)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

e2e: $(VENV)/.installed ## plan, apply, call and destroy one environment: make e2e ENV=sandbox|local|aws
	E2E_ENVIRONMENTS=$(ENV) $(PY) -m pytest tests/e2e -m e2e -k "$(ENV)" -p no:cacheprovider $(PYTEST_ARGS)

bench: $(VENV)/.installed ## /api/mirror next to the bare-WSGI ceiling (installs wrk); s3-staging apply + destroy on moto
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) -m bench.mirror
	$(PY) -m bench.slow_clients
	$(PY) -m bench.terraform_apply
	$(PY) -m bench.capacity

.PHONY: image
image: ## build app/Dockerfile with docker or podman (BASE_IMAGE, IMAGE, APP_VERSION; see bench/README.md)
	$(PYTHON) -m harness.container build

.PHONY: validate
validate: $(VENV)/.installed ## terraform init + validate of every root, example and module (offline: helm stand-in)
	$(PY) -m harness.validate

docs: $(VENV)/.installed ## regenerate the inputs/outputs tables in module READMEs and the chart's parameter table
	$(PY) -m harness.tfdocs --write
	$(PY) -m tests.modules.kubernetes_app.chart_readme --write

fmt: ## format all Terraform
	terraform fmt -recursive

clean: ## remove virtual environments, caches and run output
	rm -rf $(VENV) $(CHECKOV_VENV) .cache .sandbox bench/results .pytest_cache
