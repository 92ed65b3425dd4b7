# Shangjia — the two commands are `make demo` and `make test`; everything else is a helper.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE :=
ARGS ?=

.PHONY: setup browser-deps demo test test-fast bench mutate planted synth cdk lint docs clean up

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

## make demo: start the local cloud, run two merchants' sheets through the whole pipeline, print the summary
demo: setup
	$(BIN)/shangjia demo $(ARGS)

## make up: the local cloud alone, left running (Ctrl-C stops it)
up: setup
	$(BIN)/shangjia cloud up $(ARGS)

## make browser-deps: Debian's Chromium and a CJK font for the browser tests (nothing when present)
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium fonts-noto-cjk; \
	fi

## make test: lint, then every layer but perf (unit, integration, e2e, infra, browser)
test: setup lint browser-deps
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(ARGS)

test-fast: setup
	$(BIN)/python -m pytest -n 2 -m "not e2e and not infra" $(ARGS)

## make bench: throughput figures as ratios against baselines measured in the same run
bench: setup
	$(BIN)/python -m bench $(ARGS)

## make mutate: mutation score per pure-core module (mutmut; not part of make test). One module: make mutate ARGS=status
mutate: setup
	$(BIN)/python tools/mutate.py $(ARGS)

## make planted: the thirteen bugs that once survived the suite, planted one at a time: each must be caught
planted: setup
	$(BIN)/python tools/planted.py

## make synth: the CloudFormation template, from the same topology the local cloud uses
synth: setup
	$(BIN)/python infra/app.py

## make cdk ARGS="deploy": the CDK CLI (installed locally from npm on first use)
cdk: setup
	test -x .tools/node_modules/.bin/cdk || npm install --silent --prefix .tools aws-cdk@2
	PATH="$(CURDIR)/$(BIN):$$PATH" .tools/node_modules/.bin/cdk $(ARGS)

## make lint: unused imports and names, undefined names (ruff, pyflakes' rules)
lint: setup
	$(BIN)/ruff check --no-cache layers functions infra tests bench tools

docs: setup
	$(BIN)/shangjia codes > docs/error-codes.md
	$(BIN)/shangjia api openapi > docs/openapi.json

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .tools
