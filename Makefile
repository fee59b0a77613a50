# Two commands on a fresh machine (see README):
#   make run    install into .venv and start the service (SQLite feedback store, bundled demo fixtures)
#   make test   install (incl. the Node FHIR server for the integration tests) and run every test
# HOST and PORT choose where `make run` listens: make run PORT=9000 (or PORT=9000 in the environment).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check

# What the installed package is built from: reinstall only when one of these changed (the folders
# too, so a deleted file counts as a change).
SOURCES := pyproject.toml LICENSE README.md $(shell find cds_service mappings cards fixtures \
	\( -name __pycache__ -o -path fixtures/gen \) -prune -o \
	\( -type d -o -name '*.py' -o -name '*.yaml' -o -name '*.json' \) -print)
INSTALLED := $(VENV)/.installed
INSTALLED_TEST := $(VENV)/.installed-test
NODE_MODULES := integration/fhir-server/node_modules/.package-lock.json
SMART_NODE := integration/smart-auth/node_modules/.package-lock.json
LFORMS := integration/smart-auth/node_modules/lforms/dist/lforms
SMART_VENDOR := cds_service/smart/static/vendor/lforms
SMART_STAMP := $(SMART_VENDOR)/LICENSE.md

.PHONY: install install-test fhir-server smart-app chromium run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip

# A plain (non-editable) install: the tests run against the wheel, so package data must be complete.
# pip builds in ./build, where setuptools never deletes a file: clear it so removed files cannot linger.
$(INSTALLED): $(BIN)/python $(SOURCES) $(SMART_STAMP)
	@rm -rf build
	$(PIP) .
	@touch $@

$(INSTALLED_TEST): $(BIN)/python $(SOURCES) $(SMART_STAMP)
	@rm -rf build
	$(PIP) '.[test]'
	@touch $@ $(INSTALLED)

install: $(INSTALLED)

install-test: $(INSTALLED_TEST)

$(NODE_MODULES): integration/fhir-server/package-lock.json
	npm ci --prefix integration/fhir-server --no-audit --no-fund --loglevel=error

fhir-server: $(NODE_MODULES)

# The SMART app (#20): LHC-Forms from the npm registry, copied into the package's static/vendor so the
# installed service serves it; the same npm package holds the test-side SMART EHR (oauth2-mock-server +
# FHIR proxy) and playwright-core. Debian's chromium drives the end-to-end test.

$(SMART_NODE): integration/smart-auth/package-lock.json
	npm ci --prefix integration/smart-auth --no-audit --no-fund --loglevel=error

$(SMART_STAMP): $(SMART_NODE)
	rm -rf $(SMART_VENDOR) && mkdir -p $(SMART_VENDOR)/webcomponent/assets/lib $(SMART_VENDOR)/fhir/R4
	cp $(LFORMS)/webcomponent/lhc-forms.js $(LFORMS)/webcomponent/styles.css $(LFORMS)/webcomponent/*.png $(SMART_VENDOR)/webcomponent/
	cp $(LFORMS)/webcomponent/assets/lib/zone.min.js $(SMART_VENDOR)/webcomponent/assets/lib/
	cp $(LFORMS)/fhir/R4/lformsFHIR.min.js $(SMART_VENDOR)/fhir/R4/
	cp $(LFORMS)/LICENSE.md $(SMART_VENDOR)/

smart-app: $(SMART_STAMP)

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

run: install
	$(BIN)/cds-service serve --host $(HOST) --port $(PORT)

test: install-test fhir-server chromium
	cd tests && ../$(BIN)/python -m pytest -p no:cacheprovider

# A few minutes: gunicorn service vs parse-only baseline, with and without prefetch (Node FHIR server).
bench: install-test fhir-server
	$(BIN)/python benchmarks/bench_hook.py --stages
	$(BIN)/python benchmarks/bench_extract.py

clean:
	rm -rf $(VENV) build *.egg-info integration/fhir-server/node_modules integration/smart-auth/node_modules $(SMART_VENDOR)
