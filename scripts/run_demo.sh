#!/usr/bin/env bash
# Serve the demo: Django on http://127.0.0.1:8000 plus a real Celery worker and beat,
# all on the embedded defaults (SQLite, Celery's filesystem transport under var/).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
mkdir -p var/broker/queue var/broker/control var/broker/processed

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$BIN/celery" -A portal worker --loglevel=INFO --concurrency=2 --without-gossip --without-mingle &
pids+=($!)
"$BIN/celery" -A portal beat --loglevel=INFO --pidfile= &
pids+=($!)
echo "Clearance demo on http://127.0.0.1:8000 (Ctrl-C stops web, worker and beat)"
"$BIN/python" manage.py runserver 127.0.0.1:8000 --noreload
