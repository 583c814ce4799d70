# Clearance — the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint format typecheck bench check-deploy clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## Run the portal with demo data on SQLite and the filesystem broker: web, worker and beat.
demo: $(STAMP)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	bash scripts/run_demo.sh

## The full test suite. Uses PostgreSQL / Redis when DATABASE_URL / CELERY_BROKER_URL point at them.
test: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy portal provisioning

check-deploy: $(STAMP)
	DEBUG=0 SECRET_KEY=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))") \
	ALLOWED_HOSTS=clearance.example $(BIN)/python manage.py check --deploy --fail-level WARNING

## Every benchmark of DESIGN.md §7 in one table (PostgreSQL; the web area needs Debian's wrk).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
PEER_VENV ?= .venv-bench-peer
$(PEER_VENV)/.installed: bench/requirements-peer.txt
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet -r bench/requirements-peer.txt
	touch $@

bench: $(STAMP) $(PEER_VENV)/.installed
	@command -v wrk >/dev/null || { echo "Installing Debian's wrk for the web area"; \
	  (apt-get install -y -q wrk >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null)) \
	  || echo "wrk could not be installed: the web area will be skipped"; }
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DATABASE_URL)} $(BIN)/python -m bench

clean:
	rm -rf var staticfiles
