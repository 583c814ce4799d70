#!/usr/bin/env bash
# Start Debian's PgBouncer in transaction pooling mode in front of a local PostgreSQL:
#   scripts/pgbouncer.sh [LISTEN_PORT] [PG_HOST] [PG_PORT]
# Every database of the server is reachable through it (trust auth, as the CI server).
# Used by .ci/run's pooled job; docker-compose runs the same pooling mode.
set -euo pipefail
listen_port=${1:-6432}
pg_host=${2:-127.0.0.1}
pg_port=${3:-5432}
if pg_isready -h 127.0.0.1 -p "$listen_port" -q; then
  echo "A pooler already answers on 127.0.0.1:$listen_port: using it"
  exit 0
fi
dir=$(mktemp -d /tmp/clearance-pgbouncer.XXXXXX)
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$pg_host port=$pg_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $listen_port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
echo '"postgres" ""' >"$dir/users.txt"
chmod -R a+rX "$dir"
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$dir"
  pgbouncer -d -u postgres "$dir/pgbouncer.ini"
else
  pgbouncer -d "$dir/pgbouncer.ini"
fi
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p "$listen_port" -q && break; sleep 0.2; done
pg_isready -h 127.0.0.1 -p "$listen_port"
echo "PgBouncer (transaction pooling) on 127.0.0.1:$listen_port, log $dir/pgbouncer.log"
