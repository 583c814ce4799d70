# Clearance — the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lock lint format typecheck bench check-deploy clean

# Installs exactly the lock (every version and hash); refuses a lock older than requirements*.txt.
$(STAMP): requirements.txt requirements-dev.txt requirements.lock requirements-dev.lock
	$(PYTHON) scripts/lock.py --check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)

install: $(STAMP)

## Refresh requirements.lock and requirements-dev.lock from requirements*.txt (uv, a few seconds).
lock:
	@test -x $(BIN)/uv || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/pip install --quiet "$$(grep -E '^uv==' requirements-dev.txt)"; }
	$(BIN)/python scripts/lock.py

## Run the portal with demo data on SQLite and the filesystem broker: web, worker and beat.
## DEMO_PORT (8000) and DEMO_SCIM_PORT (8001) choose the ports; logs go to var/log/.
# In a terminal the script runs as a job of its own (bash -m gives it the terminal), so Ctrl-C
# reaches the demo alone: it stops every process and exits 0, and make does not report an
# interruption.
demo: $(STAMP)
	@if [ -t 0 ]; then VENV=$(VENV) bash -mc 'bash scripts/run_demo.sh; exit $$?'; \
	else VENV=$(VENV) bash scripts/run_demo.sh; fi

## The full test suite. Uses PostgreSQL / Redis when DATABASE_URL / CELERY_BROKER_URL point at them.
## TEST_WORKERS (2) pytest-xdist processes share it; TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider --durations=15 -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy portal provisioning foundation
	$(BIN)/lint-imports

## Production settings: AUDIT_SIGNING_KEY and FIELD_ENCRYPTION_KEYS come from your environment
## (a throw-away key pair is made when they are unset, so the other checks can be read).
check-deploy: $(STAMP)
	@keys=$$(mktemp -d); \
	test -n "$$AUDIT_SIGNING_KEY" || { $(BIN)/python manage.py audit_public_key --generate clearance.example/audit \
	  --out $$keys/audit-signing.key >/dev/null && export AUDIT_SIGNING_KEY=$$keys/audit-signing.key; }; \
	test -n "$$FIELD_ENCRYPTION_KEYS" || export FIELD_ENCRYPTION_KEYS=$$($(BIN)/python -c \
	  "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"); \
	DEBUG=0 SECRET_KEY=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))") \
	ALLOWED_HOSTS=clearance.example $(BIN)/python manage.py check --deploy --fail-level WARNING; \
	status=$$?; rm -rf $$keys; exit $$status

## Every benchmark of docs/benchmarks.md in one table; BENCH_WRITE=1 writes it there (PostgreSQL; the web area needs Debian's wrk).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
BENCH_WRITE ?=
PEER_VENV ?= .venv-bench-peer
$(PEER_VENV)/.installed: bench/requirements-peer.txt
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet -r bench/requirements-peer.txt
	touch $@

bench: $(STAMP) $(PEER_VENV)/.installed
	@command -v wrk >/dev/null || { echo "Installing Debian's wrk for the web area"; \
	  (apt-get install -y -q wrk >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null)) \
	  || echo "wrk could not be installed: the web area will be skipped"; }
	BENCH_WRITE=$(BENCH_WRITE) DATABASE_URL=$${DATABASE_URL:-$(BENCH_DATABASE_URL)} $(BIN)/python -m bench

clean:
	rm -rf var staticfiles
