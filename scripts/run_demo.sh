#!/usr/bin/env bash
# Serve the demo: Django on http://127.0.0.1:8000 plus a real Celery worker and beat,
# all on the embedded defaults (SQLite, Celery's filesystem transport under var/).
#
# When scim2-server is installed (requirements-dev.txt), a local SCIM server is started too
# (http://127.0.0.1:${DEMO_SCIM_PORT:-8001}/v2) and registered as the downstream target
# "demo-scim": the demo keys become SCIM users, and a suspension shows as active: false
# there and on the provisioning page. Without it the demo runs as before, with no target.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
mkdir -p var/broker/queue var/broker/control var/broker/processed

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ -x "$BIN/scim2-server" ] && [ "${DEMO_SCIM:-1}" != "0" ]; then
    port=${DEMO_SCIM_PORT:-8001}
    export DEMO_SCIM_URL="http://127.0.0.1:${port}/v2"
    export DEMO_SCIM_TOKEN=${DEMO_SCIM_TOKEN:-$("$BIN/python" -c "import secrets; print(secrets.token_urlsafe(24))")}
    "$BIN/scim2-server" --hostname 127.0.0.1 --port "$port" --bearer-token "$DEMO_SCIM_TOKEN" \
        >var/demo-scim.log 2>&1 &
    pids+=($!)
    # Wait until it answers (at most 20 s), then register it and push the demo keys to it.
    if "$BIN/python" - "$DEMO_SCIM_URL" "$DEMO_SCIM_TOKEN" <<'PY'
import sys, time, urllib.request

url, token = sys.argv[1], sys.argv[2]
request = urllib.request.Request(f"{url}/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"})
deadline = time.monotonic() + 20
while True:
    try:
        urllib.request.urlopen(request, timeout=1).read()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.1)
PY
    then
        "$BIN/python" manage.py seed_demo >/dev/null
        "$BIN/python" manage.py deliver --until-idle
        echo "Demo SCIM server on $DEMO_SCIM_URL (target demo-scim; log in var/demo-scim.log)"
    else
        echo "scim2-server did not start (see var/demo-scim.log): the demo runs without a SCIM target" >&2
        unset DEMO_SCIM_URL DEMO_SCIM_TOKEN
    fi
fi

"$BIN/celery" -A portal worker --loglevel=INFO --concurrency=2 --without-gossip --without-mingle &
pids+=($!)
"$BIN/celery" -A portal beat --loglevel=INFO --pidfile= &
pids+=($!)
echo "Clearance demo on http://127.0.0.1:8000 (Ctrl-C stops web, worker, beat and the SCIM server)"
"$BIN/python" manage.py runserver 127.0.0.1:8000 --noreload
