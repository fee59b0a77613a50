# Two commands on a fresh machine (see README):
#   make run    install into .venv and start the service (SQLite feedback store, bundled demo fixtures)
#   make test   install (incl. the Node FHIR server for the integration tests) and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install install-test fhir-server smart-app run test bench clean

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

# The SMART app (#20): the test-side SMART EHR (oauth2-mock-server + FHIR proxy), LHC-Forms (copied into the
# package's static/vendor so `make run` serves it), playwright-core, and Debian's chromium for the e2e test.
LFORMS := integration/smart-auth/node_modules/lforms/dist/lforms
SMART_VENDOR := cds_service/smart/static/vendor/lforms
smart-app:
	npm ci --prefix integration/smart-auth --no-audit --no-fund --loglevel=error
	rm -rf $(SMART_VENDOR) && mkdir -p $(SMART_VENDOR)/webcomponent/assets/lib $(SMART_VENDOR)/fhir/R4
	cp $(LFORMS)/webcomponent/lhc-forms.js $(LFORMS)/webcomponent/styles.css $(LFORMS)/webcomponent/*.png $(SMART_VENDOR)/webcomponent/
	cp $(LFORMS)/webcomponent/assets/lib/zone.min.js $(SMART_VENDOR)/webcomponent/assets/lib/
	cp $(LFORMS)/fhir/R4/lformsFHIR.min.js $(SMART_VENDOR)/fhir/R4/
	cp $(LFORMS)/LICENSE.md $(SMART_VENDOR)/
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

run: install
	$(BIN)/cds-service serve --host $(HOST) --port $(PORT)

test: smart-app install-test fhir-server
	cd tests && ../$(BIN)/python -m pytest -p no:cacheprovider

bench: install-test
	$(BIN)/python benchmarks/bench_hook.py
	$(BIN)/python benchmarks/bench_extract.py

clean:
	rm -rf $(VENV) build *.egg-info integration/fhir-server/node_modules integration/smart-auth/node_modules $(SMART_VENDOR)
