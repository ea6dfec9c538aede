# Two set-up commands on a fresh machine: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test lint bench clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install -r requirements-dev.txt
	touch $@

## run: the bot (the console chat when no messaging account is configured)
run: $(VENV)/.runtime
	$(PY) -m bot run

## test: ruff, mypy and the whole test suite
test: $(VENV)/.dev lint
	$(PY) -m pytest

## bench: the benchmarks (2–3 minutes): a table, bench/results.json and the README's Benchmarks table
bench: $(VENV)/.dev
	$(PY) -m bench

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
