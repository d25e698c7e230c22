# mlic: the two commands. `make demo` trains a model, `make test` checks everything CI checks.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED := $(abspath ../shared)
# Offline defaults: the ImageNet MobileNetV2 in ../shared when there is one; never probe the network in tests.
export MLIC_WEIGHTS ?= $(if $(wildcard $(SHARED)/weights),$(SHARED)/weights,)
RUN ?= runs/demo

.PHONY: demo test install clean-nbs export readme

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/mlic-demo --out $(RUN)

test: $(VENV)/.installed
	MLIC_OFFLINE=1 PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) .ci/test_all.py

export: $(VENV)/.installed
	$(VENV)/bin/nbdev-export

clean-nbs: $(VENV)/.installed
	$(VENV)/bin/nbdev-clean

readme: $(VENV)/.installed
	$(PY) .ci/readme.py
