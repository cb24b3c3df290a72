# The two commands a newcomer runs are `make sandbox` and `make test`; both set up what they need.
SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON       ?= python3
# VENV can point at an existing environment (the pipeline tests run jobs in a clean copy with the
# checkout's .venv rather than building a second one).
VENV         ?= .venv
CHECKOV_VENV := .venv-checkov
PY           := $(VENV)/bin/python
ENV          ?= sandbox
PYTEST_ARGS  ?=
# Test files run side by side under pytest-xdist, each file on one worker (`--dist loadfile`: its module
# fixtures are built once), in the order tests/conftest.py gives (the `slow` files first): most of the
# suite waits on Terraform, the AWS provider and the emulator rather than computing, so four workers fit
# two cores.
TEST_WORKERS ?= 4

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1
export CKV_SKIP_PACKAGE_UPDATE_CHECK := true
export CHECKOV_BIN := $(CURDIR)/$(CHECKOV_VENV)/bin/checkov
# The Go-built tools (helm, terraform-docs, tflint; harness/tools.py, pinned in tools/*/go.mod) live in a
# cache outside the clone; .cache/tools-bin links to them, first on PATH for every target and test.
TOOLS_BIN    := $(CURDIR)/.cache/tools-bin
export PATH  := $(TOOLS_BIN):$(PATH)
export TFLINT_PLUGIN_DIR := $(shell $(PYTHON) -m harness.tools plugin-dir)
GO_TOOLS      = $(PYTHON) -m harness.tools build
# A long step says what it does: a line at its start, one every 10 s, and what it took (harness/steps.py).
STEP          = $(PYTHON) -m harness.steps

.PHONY: help sandbox test e2e bench docs fmt lint tools clean cluster cluster-down
.PHONY: image-push lint-python lint-terraform lint-tflint lint-docker lint-yaml lint-shell plan apply release changelog commits
.PHONY: minikube-start minikube-deploy minikube-url minikube-logs minikube-destroy

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

ifeq ($(VENV),.venv)
$(VENV)/.installed: app/requirements.txt requirements/dev.txt requirements/pipeline.txt pyproject.toml app/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (found " + sys.version.split()[0] + "); set PYTHON=python3.11 or newer")'
	@command -v terraform >/dev/null || { echo "Terraform >= 1.10 is required on PATH: https://developer.hashicorp.com/terraform/install" >&2; exit 1; }
	@$(STEP) "$(VENV): Python packages pinned in requirements/dev.txt, the harness and the service (editable)" -- \
	  bash -c '$(PYTHON) -m venv $(VENV) && $(PY) -m pip install --requirement requirements/dev.txt && $(PY) -m pip install --no-deps --editable . --editable app'
	@touch $@
else
# An environment named by VENV (tests run make in clean copies with the checkout's .venv) is used as it is:
# installing into it from a copy would point its editable packages at that copy.
$(VENV)/.installed:
	@test -f $@ || { echo "VENV=$(VENV) has no $@: run make tools in the checkout that owns it" >&2; exit 1; }
endif

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	@$(STEP) "$(CHECKOV_VENV): checkov pinned in requirements/checkov.txt" -- \
	  bash -c '$(PYTHON) -m venv $(CHECKOV_VENV) && $(CHECKOV_VENV)/bin/pip install --requirement requirements/checkov.txt'
	@touch $@

tools: ## build the Go tools into the cache outside the clone (README: cold figures), then both virtual environments
	@$(GO_TOOLS)
	@$(MAKE) --no-print-directory -j2 $(VENV)/.installed $(CHECKOV_VENV)/.installed

sandbox: $(VENV)/.installed ## run the service locally against an S3 emulator (PORT, SANDBOX_S3_PORT, UPLOAD_TOKEN)
	$(PY) -m harness.sandbox

test: tools ## the whole offline suite (unit, integration, Terraform on the emulator, chart, sandbox e2e)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# A throwaway single-node Kubernetes cluster (harness/cluster.py) from the binaries `make tools` built; state,
# logs and its kubeconfig in .cluster/ (KUBECONFIG=.cluster/kubeconfig). `cluster` clears what a killed run
# left first; `cluster-down` leaves no process, mount, link, iptables chain or cgroup of ours.
cluster: $(VENV)/.installed ## start the single-node cluster (root; make tools builds its binaries once)
	$(PY) -m harness.cluster up

cluster-down: $(VENV)/.installed ## stop the single-node cluster and remove every trace of it
	$(PY) -m harness.cluster down

e2e: $(VENV)/.installed ## plan, apply, call and destroy one environment: make e2e ENV=sandbox|local|aws
	E2E_ENVIRONMENTS=$(ENV) $(PY) -m pytest tests/e2e -m e2e -k "$(ENV)" -p no:cacheprovider $(PYTEST_ARGS)

# e2e timeouts: the Minikube and EKS tests carry their own (3 h, tests/e2e/test_kubernetes_environments.py),
# above a real apply + destroy; Terraform is stopped with SIGINT, never killed, so no state lock is left held.

bench: $(VENV)/.installed ## /api/mirror next to the bare-WSGI ceiling, its instructions per request (installs wrk, valgrind); s3-staging apply + destroy on moto
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	@command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
	$(PY) -m bench.mirror
	$(PY) -m bench.slow_clients
	$(PY) -m bench.terraform_apply
	$(PY) -m bench.sandbox_start
	$(PY) -m bench.capacity

.PHONY: image
image: ## build app/Dockerfile with docker or podman (BASE_IMAGE, IMAGE, APP_VERSION; see bench/README.md)
	$(PYTHON) -m harness.container build

.PHONY: validate
validate: $(VENV)/.installed ## terraform init + validate of every root, example and module (offline: helm/kubernetes built from tools/)
	$(PY) -m harness.validate

docs: $(VENV)/.installed ## regenerate the inputs/outputs tables (terraform-docs) and the chart's parameter table
	@$(GO_TOOLS) terraform-docs
	$(PY) -m harness.terraform_docs --write
	$(PY) -m harness.chart_readme --write

fmt: ## format all Terraform
	terraform fmt -recursive

# --- lint: real linters that fail on findings (pre-commit and the pipeline's lint job call these) ---
SHELL_SCRIPTS := $(shell git ls-files -- .ci/run '*.sh' 2>/dev/null)
DOCKERFILES   := $(shell git ls-files -- '*Dockerfile' 2>/dev/null)

lint: lint-python lint-terraform lint-tflint lint-docker lint-yaml lint-shell ## ruff, terraform fmt -check, tflint, hadolint, yamllint, shellcheck

lint-python: $(VENV)/.installed
	$(VENV)/bin/ruff check .

lint-terraform:
	terraform fmt -check -recursive -diff

# Every directory holding Terraform under modules/ and envs/ (modules, roots, examples; the tests' partial
# fixtures are not modules), with the terraform and AWS rulesets (.tflint.hcl).
lint-tflint:
	@$(GO_TOOLS) tflint tflint-ruleset-aws >/dev/null
	@for tree in modules envs; do echo "tflint --recursive $$tree/"; (cd $$tree && tflint --recursive --config "$(CURDIR)/.tflint.hcl" --format compact) || exit 1; done

lint-docker: $(VENV)/.installed
	$(VENV)/bin/hadolint $(DOCKERFILES)

lint-yaml: $(VENV)/.installed
	$(VENV)/bin/yamllint --strict .

lint-shell: $(VENV)/.installed
	$(VENV)/bin/shellcheck $(SHELL_SCRIPTS)

# --- the pipeline's plan and apply jobs (harness/ci_plan.py; README "The GitLab pipeline") ---
# The sandbox plans against a moto server of its own unless TF_VAR_emulator_endpoint names one.
PLAN_FLAGS_sandbox := --emulator

plan: $(VENV)/.installed ## plan an environment as the pipeline does: make plan ENV=aws|sandbox (report, readable plan, encrypted plan file)
	$(PY) -m harness.ci_plan plan envs/$(ENV) $(PLAN_FLAGS_$(ENV))

apply: $(VENV)/.installed ## apply exactly the plan `make plan` left for this commit: make apply ENV=aws
	$(PY) -m harness.ci_plan apply envs/$(ENV)

# --- releases: repo-wide semantic-version tags vMAJOR.MINOR.PATCH, CHANGELOG.md by git-cliff ---
changelog: $(VENV)/.installed ## regenerate CHANGELOG.md from the commits (git-cliff, cliff.toml)
	$(VENV)/bin/git-cliff --output CHANGELOG.md

# One commit, `chore(release): vX.Y.Z`: Chart.yaml's version/appVersion, every README's ?ref= pin and the
# CHANGELOG (git-cliff) name the version (harness/release.py checks they agree), then the annotated tag.
release: $(VENV)/.installed ## release: make release VERSION=vX.Y.Z (chart version, README pins, CHANGELOG; one commit + annotated tag; push them yourself)
	@[[ "$(VERSION)" =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$$ ]] || { echo "VERSION must be a semantic version tag such as v1.2.0 (got '$(VERSION)')" >&2; exit 1; }
	@git diff --quiet HEAD -- || { echo "commit or stash your changes first: a release tags a clean tree" >&2; exit 1; }
	@! git rev-parse -q --verify "refs/tags/$(VERSION)" >/dev/null || { echo "$(VERSION) already exists: releases are immutable, pick the next version" >&2; exit 1; }
	$(PY) -m harness.release bump $(VERSION)
	$(VENV)/bin/git-cliff --tag $(VERSION) --output CHANGELOG.md
	$(PY) -m harness.release check
	git add --update
	git commit -q -m "chore(release): $(VERSION)"
	git tag -a $(VERSION) -m "Release $(VERSION)"
	@echo "tagged $(VERSION); publish with: git push origin HEAD $(VERSION)"

# Every commit a merge request adds is a Conventional Commit (harness/commits.py; the pipeline's `commits`
# job). Standard library only: it runs before any virtual environment exists.
commits: ## check commit messages: make commits RANGE=origin/main..HEAD (the merge request's commits in CI)
	$(PYTHON) -m harness.commits range "$(or $(RANGE),$${CI_MERGE_REQUEST_DIFF_BASE_SHA:?set RANGE=base..HEAD}..HEAD)"

image-push: ## build and push the image as the pipeline's build job does (BuildKit rootless, CI_REGISTRY_* set)
	.ci/push-image.sh

# --- Minikube lifecycle (envs/local): start, deploy, url, logs, destroy ---
MINIKUBE_PROFILE ?= minikube
LOCAL_TF         := terraform -chdir=envs/local

define require-tools
@for tool in $(1); do command -v $$tool >/dev/null || { echo "make $@ needs $$tool on PATH, which is missing: install it (https://minikube.sigs.k8s.io/docs/start/, https://kubernetes.io/docs/tasks/tools/)" >&2; exit 1; }; done
endef

# Calico: Minikube's default network accepts the chart's NetworkPolicy objects and enforces none of them.
minikube-start: ## start Minikube with a CNI that enforces NetworkPolicy (calico; profile MINIKUBE_PROFILE, kube context `minikube`)
	$(call require-tools,minikube)
	minikube start --profile $(MINIKUBE_PROFILE) --cni=calico

# The S3 emulator envs/local's bucket and pods use, on 0.0.0.0:EMULATOR_PORT (pods: host.minikube.internal),
# started in the background unless something answers there already; minikube-destroy stops the one it started.
EMULATOR_PORT ?= 4566
EMULATOR_PID  := .cache/minikube-emulator.pid
port-answers   = $(PY) -c 'import socket; socket.create_connection(("127.0.0.1", $(EMULATOR_PORT)), 1)' 2>/dev/null

minikube-deploy: ## start the S3 emulator on :EMULATOR_PORT (4566) unless one answers, build the image inside Minikube, apply envs/local (TF_VAR_upload_token set)
	$(call require-tools,minikube terraform)
	@[[ -n "$${TF_VAR_upload_token:-}" ]] || { echo 'export TF_VAR_upload_token first, e.g. export TF_VAR_upload_token="$$(python3 -c "import secrets; print(secrets.token_urlsafe(24))")"' >&2; exit 1; }
	@$(MAKE) --no-print-directory $(VENV)/.installed
	@if $(port-answers); then echo "S3 emulator: something already answers on :$(EMULATOR_PORT); using it"; else 	  mkdir -p .cache; nohup $(PY) -m harness.moto_server -H 0.0.0.0 -p $(EMULATOR_PORT) >.cache/minikube-emulator.log 2>&1 & 	  echo $$! > $(EMULATOR_PID); 	  for _ in $$(seq 100); do $(port-answers) && break; sleep 0.2; done; 	  $(port-answers) || { echo "the S3 emulator did not start: .cache/minikube-emulator.log" >&2; exit 1; }; 	  echo "S3 emulator started on :$(EMULATOR_PORT) (pid $$(cat $(EMULATOR_PID)); log .cache/minikube-emulator.log)"; fi
	minikube --profile $(MINIKUBE_PROFILE) image build -t mirror-service:dev app/
	$(LOCAL_TF) init -input=false
	$(LOCAL_TF) apply -input=false -auto-approve -var emulator_endpoint=http://127.0.0.1:$(EMULATOR_PORT) \
	  -var emulator_endpoint_in_cluster=http://host.minikube.internal:$(EMULATOR_PORT)

minikube-url: ## the port-forward to run and the curl calls for the release on Minikube
	$(call require-tools,minikube kubectl terraform)
	@$(LOCAL_TF) output -raw port_forward_command; echo
	@$(LOCAL_TF) output curl_commands

minikube-logs: ## follow the service's logs on Minikube
	$(call require-tools,minikube kubectl terraform)
	kubectl --context $(MINIKUBE_PROFILE) logs --namespace "$$($(LOCAL_TF) output -raw namespace)" --follow --all-containers "deployment/$$($(LOCAL_TF) output -raw deployment_name)"

minikube-destroy: ## destroy envs/local's release and bucket, delete the Minikube cluster, stop the emulator minikube-deploy started
	$(call require-tools,minikube terraform)
	$(LOCAL_TF) destroy -input=false -auto-approve -var emulator_endpoint=http://127.0.0.1:$(EMULATOR_PORT) \
	  -var emulator_endpoint_in_cluster=http://host.minikube.internal:$(EMULATOR_PORT)
	minikube delete --profile $(MINIKUBE_PROFILE)
	@if [[ -f $(EMULATOR_PID) ]]; then kill "$$(cat $(EMULATOR_PID))" 2>/dev/null || true; rm -f $(EMULATOR_PID); \
	  echo "S3 emulator stopped"; fi

clean: ## remove virtual environments, caches and run output
	rm -rf $(VENV) $(CHECKOV_VENV) .cache .sandbox bench/results .pytest_cache
