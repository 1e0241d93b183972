# The two commands: `make run` (embedded default, 2024 plan loaded) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test install install-dev migrate seed bench lint lock clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs come from the locks: every direct and transitive dependency pinned, each file checked against its hash.
$(VENV)/.installed: requirements.lock | $(BIN)/activate
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock $(VENV)/.installed
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	mkdir -p instance
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask plan import data/plans/nanxian_2024.yaml
	for f in data/calendars/*.yaml; do $(BIN)/flask calendar load $$f || exit 1; done
	$(BIN)/flask dev seed

run: seed
	PORT=$(PORT) $(BIN)/flask dev serve --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .

# After editing requirements.txt or requirements-dev.txt (the direct dependencies, pinned): both locks again.
# pip-compile keeps every pin it can, so only what the edit needs moves.
PIP_COMPILE := $(BIN)/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links
lock: install-dev
	$(PIP_COMPILE) -o requirements.lock requirements.txt
	$(PIP_COMPILE) -o requirements-dev.lock requirements-dev.txt

bench: install-dev
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) instance .pytest_cache
