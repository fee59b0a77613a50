# Two commands on a fresh machine (see README):
#   make run    install into .venv and start the service (SQLite feedback store, bundled demo fixtures)
#   make test   install (incl. the Node FHIR server for the integration tests) and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install install-test fhir-server run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# A plain (non-editable) install: the tests run against the wheel, so package data must be complete.
install: $(BIN)/python
	$(BIN)/python -m pip install -q .

install-test: $(BIN)/python
	$(BIN)/python -m pip install -q '.[test]'

fhir-server:
	npm ci --prefix integration/fhir-server --no-audit --no-fund --loglevel=error

run: install
	$(BIN)/cds-service serve --host $(HOST) --port $(PORT)

test: install-test fhir-server
	cd tests && ../$(BIN)/python -m pytest -p no:cacheprovider

# A few minutes: gunicorn service vs parse-only baseline, with and without prefetch (Node FHIR server).
bench: install-test fhir-server
	$(BIN)/python benchmarks/bench_hook.py --stages
	$(BIN)/python benchmarks/bench_extract.py

clean:
	rm -rf $(VENV) build *.egg-info integration/fhir-server/node_modules
