# The README's two commands: `make lab` (set up, open the course) and `make test` (set up, run every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cnnlab-installed

.PHONY: lab test setup

# Your own copies of the lessons, in work/ (cnnlab never overwrites them); see `cnnlab lab --help`.
lab: $(STAMP)
	$(BIN)/cnnlab lab

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

setup: $(STAMP)

# Re-installs when pyproject.toml changes; the editable install picks up code edits by itself.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)
