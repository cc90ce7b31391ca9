# Two commands a newcomer needs:  `make demo`  and  `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install services lint typecheck pytest browser-deps

$(STAMP): pyproject.toml package.json
	bash .ci/system-deps.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	npm install --no-audit --no-fund --silent
	touch $(STAMP)

install: $(STAMP)

# `make demo PBX=asterisk`: the demo on the real Asterisk of asterisk-dev (needs root) instead of the simulator
PBX ?= simulator
demo: install
	$(BIN)/callcenter demo --pbx $(PBX)

services:
	bash .ci/services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

typecheck: install
	$(BIN)/mypy

pytest: install services
	$(BIN)/pytest -q -p no:cacheprovider

# the `asterisk` tests run on the real Asterisk 22 of asterisk-dev/rootfs.sh (started and stopped here)
test: install services
	$(BIN)/ruff check .
	$(BIN)/mypy
	bash asterisk-dev/with-pbx.sh $(BIN)/pytest -q --durations=25
