#!/usr/bin/env bash
# CI: a regulator's view. Install verifier/ alone into a clean venv, start the portal, run an
# emergency suspension, download its evidence bundle over HTTP with an API token, and check it
# with clearance-verify; then check that the log's newer checkpoint extends an older one,
# with the proof fetched from the portal. Usage: scripts/ci_verify_bundle.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
PORT=${VERIFY_PORT:-8765}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet ./verifier
# Only the package and what it needs: cryptography (and its cffi).
"$WORK/venv/bin/python" -c "import django" 2>/dev/null && { echo "django leaked in" >&2; exit 1; }

"$PY" manage.py migrate --no-input >/dev/null
"$PY" manage.py seed_demo --allow-production >/dev/null
"$PY" manage.py audit_checkpoint >"$WORK/old.txt"
"$PY" manage.py shell -c "
from provisioning.bulk.services import bulk_execute, bulk_plan
from provisioning.catalog.models import CoveredModel
from portal.accounts.models import User
ops = User.objects.get(username='ops1')
model = CoveredModel.objects.order_by('id').first()
action = bulk_plan(kind='suspend', filters={'covered_model': model.pk}, reason='CI verify',
                   actor=ops, emergency=True)
action = bulk_execute(action=action, actor=ops, run_now=True)
print(action.pk)
" >"$WORK/action"
ACTION=$(tail -1 "$WORK/action")
TOKEN=$("$PY" manage.py issue_token --user ops1 --name "CI verify" --expires-in 1)
KEY=$("$PY" manage.py audit_public_key)

"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 60); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/audit/checkpoint" 2>/dev/null && break; sleep 1; done

curl -fsS -H "Authorization: Bearer $TOKEN" -H "Accept: application/zip" \
  -o "$WORK/bundle.zip" "http://127.0.0.1:$PORT/api/v1/bulk-actions/$ACTION/evidence/"
"$WORK/venv/bin/clearance-verify" bundle "$WORK/bundle.zip" --key "$KEY" --seen "$WORK/old.txt"
"$WORK/venv/bin/clearance-verify" consistency "$WORK/old.txt" \
  "http://127.0.0.1:$PORT/audit/checkpoint" --key "$KEY"

# And it fails, naming the problem, when one byte of the bundle changes.
"$WORK/venv/bin/python" - "$WORK/bundle.zip" "$WORK/tampered.zip" <<'PYEOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as src, zipfile.ZipFile(sys.argv[2], "w") as dst:
    for name in src.namelist():
        data = src.read(name)
        if name == "data/grants.csv":
            data = data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]
        dst.writestr(name, data)
PYEOF
if "$WORK/venv/bin/clearance-verify" bundle "$WORK/tampered.zip" --key "$KEY"; then
  echo "a tampered bundle verified" >&2
  exit 1
fi
echo "clearance-verify: the bundle downloaded over HTTP verifies; a tampered copy does not."
