# mlic: the two commands. `make demo` trains a model, `make test` checks everything CI checks.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED := $(abspath ../shared)
# The ImageNet MobileNetV2 in ../shared when there is one; else torchvision's download (online) or none (offline).
export MLIC_WEIGHTS ?= $(if $(wildcard $(SHARED)/weights),$(SHARED)/weights,)
RUN ?= runs/demo

.PHONY: demo test test-noweights install clean-nbs export readme docs outputs

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/mlic-demo --out $(RUN)

# Tests read only the bundled samples (MLIC_DATA=data: no data set is ever downloaded); weights as above.
test: $(VENV)/.installed
	MLIC_DATA="$(CURDIR)/data" PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) .ci/test_all.py

# What a fresh clone gets offline with nothing beside it: no pretrained weights, no ../shared (CI runs it too).
test-noweights: $(VENV)/.installed
	MLIC_WEIGHTS= MLIC_SHARED=/nonexistent MLIC_OFFLINE=1 MLIC_DATA="$(CURDIR)/data" PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) .ci/test_all.py --no-weights

export: $(VENV)/.installed
	$(VENV)/bin/nbdev-export

clean-nbs: $(VENV)/.installed
	$(VENV)/bin/nbdev-clean

readme: $(VENV)/.installed
	$(PY) .ci/readme.py

# The course as a static site in _site/, offline (nbdev's processing, then nbconvert: no quarto).
docs: $(VENV)/.installed
	MLIC_OFFLINE=1 $(PY) .ci/docs.py --out _site

# Run every notebook top to bottom and keep its outputs (figures, tables, printed metrics), as a reader sees them.
outputs: $(VENV)/.installed
	MLIC_DATA="$(CURDIR)/data" PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) .ci/outputs.py
