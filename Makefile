# lifecircle_geo: `make demo` and `make test` set everything up on a machine with Python >= 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# what the editable install's metadata is made from: reinstall when one of them changes
META   := pyproject.toml setup.py lifecircle_geo/_version.py

.PHONY: demo test lint format bench sample clean notebook

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the runtime only (no test extra: no pandana, dask, pytest...)
$(VENV)/.runtime: $(META) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# runtime + test extra
$(VENV)/.installed: $(META) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.runtime

# runtime + notebook extra (JupyterLab, widgets for the progress bars, the Dask dashboard)
$(VENV)/.notebook: $(META) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[notebook]"
	touch $@ $(VENV)/.runtime

# JupyterLab on notebooks/ (01_quickstart, 02_my_jiezhen, 03_city_batch); outputs go to out/
notebook: $(VENV)/.notebook
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks

demo: $(VENV)/.runtime
	$(BIN)/lifecircle demo --out out/demo

# lint first: CI (.ci/run) runs `make test`, so formatting and docstring rules are checked there
test: lint
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/network.py

sample: $(VENV)/.runtime
	$(BIN)/python data/sample/make_sample.py

clean:
	rm -rf out .pytest_cache build dist
