# Two commands on a fresh machine (Python 3.11 and internet access for the first set-up):
#   make run    set up .venv and start the app on the shipped demo model (http://127.0.0.1:7860)
#   make test   set up .venv with the test tools and run the tests
# ARGS passes options on: make run ARGS="--preset default --port 8080", make test ARGS="tests/ingest"
PYTHON ?= python3.11
VENV ?= .venv
ARGS ?=

.PHONY: run test lint check-install clean

$(VENV)/.run: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -e .
	touch $@

$(VENV)/.test: $(VENV)/.run requirements-dev.txt
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.run
	$(VENV)/bin/cdir app --preset demo $(ARGS)

test: $(VENV)/.test
	$(VENV)/bin/python -m pytest $(ARGS)

lint: $(VENV)/.test
	$(VENV)/bin/ruff check .

check-install: $(VENV)/.test
	.ci/check_install $(VENV)/bin/python

clean:
	rm -rf $(VENV)
