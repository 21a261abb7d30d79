# Two commands on a fresh machine: `make tour` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOUR_OUT ?= tour

.PHONY: tour test bench lint venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@echo "installing torch 2.13.0: a large download, pip shows its progress"
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	-$(PY) -m pip install -q --no-deps $$($(PY) tools/no_deps.py)
	touch $(STAMP)

venv: $(STAMP)

tour: $(STAMP)
	$(VENV)/bin/tconv tour --out $(TOUR_OUT)

test: $(STAMP)
	@bash tools/ensure-chromium.sh
	$(PY) -m pytest -n 2 -q

bench: $(STAMP)
	$(PY) bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

clean:
	rm -rf $(VENV) $(TOUR_OUT) .pytest_cache .hypothesis
