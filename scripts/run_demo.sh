#!/usr/bin/env bash
# `make demo`: the portal with demo data on the embedded defaults (SQLite and Celery's
# filesystem transport under var/), with a real Celery worker and beat, and - when
# scim2-server is installed (requirements-dev.txt) - a local SCIM server registered as the
# downstream target "demo-scim", so a suspension shows as active: false there.
#
# The terminal stays calm: each process writes to its own log under var/log/, emails go to
# var/outbox/, and the logins and URLs are printed last, once the portal answers.
# Ctrl-C (or SIGTERM) stops every process this script started and exits 0.
#
#   DEMO_PORT       portal port (default 8000)
#   DEMO_SCIM_PORT  SCIM server port (default 8001); DEMO_SCIM=0 runs without it
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
PORT=${DEMO_PORT:-8000}
SCIM_PORT=${DEMO_SCIM_PORT:-8001}
VAR=${CLEARANCE_VAR_DIR:-var}
LOGS=$VAR/log
mkdir -p "$LOGS"

export SITE_URL=${SITE_URL:-http://127.0.0.1:$PORT}
export EMAIL_BACKEND=${EMAIL_BACKEND:-django.core.mail.backends.filebased.EmailBackend}
export EMAIL_FILE_PATH=${EMAIL_FILE_PATH:-$VAR/outbox}

pids=()
stopping=0
stop() {
    stopping=1
    trap - INT TERM
    if [ "${#pids[@]}" -gt 0 ]; then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        # A worker finishes its current task on TERM; give everything 15 s, then insist.
        for _ in $(seq 1 150); do
            alive=0
            for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
            [ "$alive" = 0 ] && break
            sleep 0.1
        done
        kill -KILL "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
}
on_signal() {
    echo
    echo "Stopping the demo (web, worker, beat${scim_pid:+, SCIM server})..."
    stop
    echo "Stopped."
    exit 0
}
fail() {
    echo "$1" >&2
    [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 20 "$2" >&2
    stop
    exit 1
}
trap on_signal INT TERM
trap 'if [ "$stopping" = 0 ]; then stop; fi' EXIT

port_free() {
    "$BIN/python" - "$1" <<'PY'
import socket, sys

with socket.socket() as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(1)
PY
}
wait_for() {  # URL, seconds, [bearer token]: 0 once it answers
    "$BIN/python" - "$@" <<'PY'
import sys, time, urllib.error, urllib.request

url, seconds = sys.argv[1], float(sys.argv[2])
headers = {"Authorization": f"Bearer {sys.argv[3]}"} if len(sys.argv) > 3 else {}
deadline = time.monotonic() + seconds
while True:
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2).read()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # it answers, whatever it says
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.2)
PY
}

port_free "$PORT" || fail "Port $PORT is taken: stop what uses it, or choose another with DEMO_PORT=8080 make demo."

scim_pid=""
if [ -x "$BIN/scim2-server" ] && [ "${DEMO_SCIM:-1}" != "0" ]; then
    if port_free "$SCIM_PORT"; then
        export DEMO_SCIM_URL="http://127.0.0.1:${SCIM_PORT}/v2"
        export DEMO_SCIM_TOKEN=${DEMO_SCIM_TOKEN:-$("$BIN/python" -c "import secrets; print(secrets.token_urlsafe(24))")}
        "$BIN/scim2-server" --hostname 127.0.0.1 --port "$SCIM_PORT" --bearer-token="$DEMO_SCIM_TOKEN" \
            >"$LOGS/scim.log" 2>&1 &
        scim_pid=$!
        pids+=("$scim_pid")
        if ! wait_for "$DEMO_SCIM_URL/ServiceProviderConfig" 20 "$DEMO_SCIM_TOKEN"; then
            echo "scim2-server did not start (see $LOGS/scim.log): the demo runs without a SCIM target." >&2
            kill "$scim_pid" 2>/dev/null || true
            wait "$scim_pid" 2>/dev/null || true
            pids=()
            scim_pid=""
            unset DEMO_SCIM_URL DEMO_SCIM_TOKEN
        fi
    else
        echo "Port $SCIM_PORT is taken: the demo runs without a SCIM target (choose one with DEMO_SCIM_PORT)." >&2
    fi
fi

echo "Preparing the demo database (log: $LOGS/setup.log) ..."
{
    "$BIN/python" manage.py migrate --no-input
    "$BIN/python" manage.py seed_demo --json >"$VAR/demo-logins.json"
    if [ -n "${DEMO_SCIM_URL:-}" ]; then "$BIN/python" manage.py deliver --until-idle; fi
} >>"$LOGS/setup.log" 2>&1 || fail "Preparing the database failed:" "$LOGS/setup.log"

"$BIN/celery" -A portal worker --loglevel=INFO --concurrency=2 --without-gossip --without-mingle \
    >"$LOGS/worker.log" 2>&1 &
pids+=($!)
"$BIN/celery" -A portal beat --loglevel=INFO --pidfile= >"$LOGS/beat.log" 2>&1 &
pids+=($!)
# The demo is the development server's purpose: its "not for production" banner is noise here.
DJANGO_RUNSERVER_HIDE_WARNING=true "$BIN/python" manage.py runserver "127.0.0.1:$PORT" --noreload \
    >"$LOGS/web.log" 2>&1 &
web_pid=$!
pids+=("$web_pid")

echo "Starting web, worker and beat ..."
wait_for "http://127.0.0.1:$PORT/healthz" 60 || fail "The portal did not answer on port $PORT:" "$LOGS/web.log"

"$BIN/python" - "$VAR/demo-logins.json" <<'PY'
import json, sys

rows = json.load(open(sys.argv[1]))
logins = [r for r in rows if "password" in r]
keys = [r for r in rows if "key" in r]
print()
print(f"Demo logins (password for all: {logins[0]['password']})")
print(f"  {'username':<18} {'role':<18} {'organisation':<20} TOTP secret (staff)")
for r in logins:
    print(f"  {r['username']:<18} {r['role']:<18} {r['organisation'] or '-':<20} {r['totp_secret'] or '-'}")
print("Staff sign in with a TOTP code from their secret (any authenticator app, or")
print("  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\").")
print(f"{len(keys)} demo API keys, with their owners: {sys.argv[1]}")
PY
echo
echo "Logs: $LOGS/ (web, worker, beat, setup${scim_pid:+, scim})   Emails: $EMAIL_FILE_PATH/"
[ -n "${DEMO_SCIM_URL:-}" ] && echo "SCIM target demo-scim: $DEMO_SCIM_URL"
echo "Health: http://127.0.0.1:$PORT/readyz"
echo "Clearance demo on http://127.0.0.1:$PORT/  (Ctrl-C stops everything)"

# Until Ctrl-C, or until one process ends on its own (then say which, and stop the rest).
while true; do
    wait -n "${pids[@]}" || true
    for pid in "${pids[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            [ "$pid" = "$web_pid" ] && fail "The web server stopped:" "$LOGS/web.log"
            fail "A demo process ($pid) stopped: see $LOGS/." ""
        fi
    done
done
