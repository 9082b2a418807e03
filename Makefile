# Living Profile - build, test and deploy.
#
# `sam build` runs `make build-<LogicalId>` from this file (BuildMethod: makefile)
# with ARTIFACTS_DIR set, so the binaries SAM packages are built exactly like
# `make build` builds them into .build/<LogicalId>/bootstrap.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-builtin-rules --no-print-directory --warn-undefined-variables
.DELETE_ON_ERROR:
.SUFFIXES:

GO ?= go
PYTHON ?= python3
ENV ?= dev
AWS_REGION ?= eu-central-1

# ---------------------------------------------------------------- tools
# aws-sam-cli and cfn-lint live in a private virtualenv (gitignored). The
# versions are pinned; aws-sam-cli 1.170.0 requires cfn-lint >=1.52,<1.59.
SAM_CLI_VERSION := 1.170.0
CFN_LINT_VERSION := 1.58.0
# schemathesis generates the contract tests from docs/openapi.yaml (infra/contract).
SCHEMATHESIS_VERSION := 4.32.5
TOOLS_DIR := .tools
VENV := $(TOOLS_DIR)/venv
SAM = $(VENV)/bin/sam
CFN_LINT = $(VENV)/bin/cfn-lint
TOOLS_STAMP := $(VENV)/.stamp-sam-$(SAM_CLI_VERSION)-cfn-lint-$(CFN_LINT_VERSION)-st-$(SCHEMATHESIS_VERSION)
# moto's server, a second AWS emulator the portability tests run against (infra/moto), in a
# virtualenv of its own: its dependencies need not agree with SAM CLI's.
MOTO_VERSION := 5.2.5
MOTO_VENV := $(TOOLS_DIR)/moto
MOTO_STAMP := $(MOTO_VENV)/.stamp-moto-$(MOTO_VERSION)

# No telemetry prompt or upload from SAM CLI; sam validate needs a region even
# though nothing here talks to AWS.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$(AWS_REGION) AWS_REGION=$(AWS_REGION)

# ---------------------------------------------------------------- functions
# template.yaml says which functions exist; nothing here lists them. A function's directory
# under functions/ is its LogicalId in kebab case (CreatePortalLink -> create-portal-link),
# the rule the layout test checks, so `build-%` builds any of them.
BUILD_DIR := .build
GO_BUILD_ENV := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
GO_BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
# The largest stripped binary any function may be (9 MiB); check-sizes enforces it.
MAX_BINARY_BYTES := 9437184

fn_dir = $(shell printf '%s' '$(1)' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr '[:upper:]' '[:lower:]')
FUNCTION_IDS := $(shell for d in functions/*/; do basename "$$d" | sed -E 's/(^|-)([a-z])/\U\2/g'; done)

# build-<LogicalId>: the target SAM calls, with ARTIFACTS_DIR set; by hand it builds into
# .build/<LogicalId>.
ARTIFACTS_DIR ?=
build-%:
	mkdir -p "$(or $(ARTIFACTS_DIR),$(BUILD_DIR)/$*)"
	$(GO_BUILD_ENV) $(GO) build $(GO_BUILD_FLAGS) -o "$(or $(ARTIFACTS_DIR),$(BUILD_DIR)/$*)/bootstrap" ./functions/$(call fn_dir,$*)

# ---------------------------------------------------------------- targets
.PHONY: help tools browser-deps compile build check-sizes sam-build fmt-check vet go-test test validate lint bench dev deploy clean distclean

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

tools: $(TOOLS_STAMP) $(MOTO_STAMP) ## create .tools/venv (pinned aws-sam-cli, cfn-lint, schemathesis) and .tools/moto (moto server)

$(MOTO_STAMP):
	rm -rf "$(MOTO_VENV)"
	$(PYTHON) -m venv "$(MOTO_VENV)"
	"$(MOTO_VENV)/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$(MOTO_VERSION)"
	"$(MOTO_VENV)/bin/moto_server" --help >/dev/null
	touch "$@"

$(TOOLS_STAMP):
	rm -rf "$(VENV)"
	$(PYTHON) -m venv "$(VENV)"
	"$(VENV)/bin/python" -m pip install --quiet --disable-pip-version-check \
		"aws-sam-cli==$(SAM_CLI_VERSION)" "cfn-lint==$(CFN_LINT_VERSION)" \
		"schemathesis==$(SCHEMATHESIS_VERSION)"
	"$(SAM)" --version
	"$(CFN_LINT)" --version
	touch "$@"

# One go build over all functions compiles each shared package once; the
# per-function builds that follow (12 in parallel under sam build) then only
# link. Without it a cold cache makes every function compile the SDK itself.
compile: ## compile all function packages for linux/arm64 (warms the Go build cache)
	$(GO_BUILD_ENV) $(GO) build $(GO_BUILD_FLAGS) ./functions/...

build: compile ## build every function into .build/<LogicalId>/bootstrap
	$(MAKE) $(addprefix build-,$(FUNCTION_IDS))

# Sizes are deterministic, so the budget is a test, not a figure: every stripped binary
# that sam build made must be at most MAX_BINARY_BYTES, and there must be one per function.
check-sizes: ## fail if any function's binary in .aws-sam/build is over 9 MiB
	@n=0; bad=0; for f in .aws-sam/build/*/bootstrap; do \
		n=$$((n+1)); size=$$(stat -c %s "$$f"); \
		if [[ $$size -gt $(MAX_BINARY_BYTES) ]]; then echo "$$f: $$size bytes, over the $(MAX_BINARY_BYTES)-byte budget"; bad=1; fi; \
	done; \
	want=$(words $(FUNCTION_IDS)); \
	if [[ $$n -ne $$want ]]; then echo "found $$n binaries in .aws-sam/build, want $$want"; exit 1; fi; \
	if [[ $$bad -ne 0 ]]; then exit 1; fi; \
	echo "all $$n binaries within budget: $(MAX_BINARY_BYTES) bytes"; \
	stat -c '%s %n' .aws-sam/build/*/bootstrap | sort -n | tail -n 5

sam-build: tools compile ## sam build into .aws-sam/ (no Docker, no AWS credentials)
	$(SAM_ENV) $(SAM) build --template template.yaml --build-in-source --parallel

fmt-check: ## fail if gofmt would change a file
	@files="$$(git ls-files --cached --others --exclude-standard -- '*.go' 2>/dev/null)" || \
		files="$$(find . -name '*.go' -not -path './.*')"; \
	if [[ -z "$$files" ]]; then exit 0; fi; \
	bad="$$(gofmt -l $$files)"; \
	if [[ -n "$$bad" ]]; then echo "gofmt needed on:"; echo "$$bad"; exit 1; fi

vet: ## go vet ./...
	$(GO) vet ./...

# The browser tests (infra/browser) inject axe-core, pinned in infra/browser/package.json,
# into every portal page. npm ci installs it (no browser download: the tests drive Debian's
# chromium). Without npm nothing is installed; the browser tests then fail with a hint when
# they find Chromium, and skip (outside CI) when they do not.
BROWSER_DIR := infra/browser
AXE := $(BROWSER_DIR)/node_modules/axe-core/axe.min.js

browser-deps: $(AXE) ## npm ci in infra/browser (axe-core for the portal's accessibility check)

$(AXE): $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		echo "npm ci (infra/browser: axe-core)"; \
		cd "$(BROWSER_DIR)" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else \
		echo "warning: npm not found; the browser tests need axe-core (apt-get install npm, then make browser-deps)" >&2; \
	fi
	@touch -c "$@"

go-test: browser-deps ## go test ./... (after browser-deps)
	MOTO_SERVER="$(CURDIR)/$(MOTO_VENV)/bin/moto_server" $(GO) test -count=1 -timeout 15m ./...

test: tools ## fmt-check, vet, go test, validate, sam-build, check-sizes
	$(MAKE) fmt-check
	$(MAKE) vet
	$(MAKE) go-test
	$(MAKE) validate
	$(MAKE) sam-build
	$(MAKE) check-sizes

validate: tools ## sam validate --lint and cfn-lint on template.yaml
	$(SAM_ENV) $(SAM) validate --lint --template template.yaml
	$(CFN_LINT) template.yaml

lint: tools ## fmt-check, vet, validate
	$(MAKE) fmt-check
	$(MAKE) vet
	$(MAKE) validate

bench: ## run the benchmark harness against the local stack
	$(GO) run ./infra/cmd/bench

dev: ## run the whole stack locally (no Docker, no AWS account); data persists in .local/data
	LP_DATA_DIR=.local/data $(GO) run ./infra/cmd/dev

deploy: tools compile ## sam build && sam deploy --config-env $(ENV) (needs AWS credentials)
	SAM_CLI_TELEMETRY=0 $(SAM) build --config-env $(ENV) && SAM_CLI_TELEMETRY=0 $(SAM) deploy --config-env $(ENV)

clean: ## remove build outputs
	rm -rf $(BUILD_DIR) .aws-sam

distclean: clean ## also remove the tool virtualenv and the browser tests' node_modules
	rm -rf $(TOOLS_DIR) $(BROWSER_DIR)/node_modules
