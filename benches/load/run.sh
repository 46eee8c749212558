#!/usr/bin/env bash
# The load benchmark (issue #23; docs/performance.md): contributions over
# HTTP with wrk against the real `commonpot serve` on SQLite and on
# PostgreSQL, the exactly-once check and `commonpot verify` afterwards, and
# the raw SQL ceiling for the same minimal write, all in one run.
#
#   bash benches/load/run.sh                      # both databases
#   bash benches/load/run.sh --databases sqlite   # options: benches/load/load.py --help
#
# PostgreSQL: a fresh database is created (and dropped) on the server that
# LOAD_PG_URL names (default postgres://postgres@127.0.0.1:5432/postgres);
# nothing else there is touched. Needs wrk (installed with apt-get when
# missing), psql and pgbench (postgresql-client), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v wrk >/dev/null; then
  echo "[load] wrk is missing: installing the Debian package" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null \
    || { echo "[load] could not install wrk (apt-get install wrk)" >&2; exit 1; }
fi
if [[ " $* " != *" --databases sqlite "* ]]; then
  for tool in psql pgbench; do
    command -v $tool >/dev/null || { echo "[load] $tool is missing (apt-get install postgresql-client)" >&2; exit 1; }
  done
fi
command -v python3 >/dev/null || { echo "[load] python3 is missing" >&2; exit 1; }

export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
echo "[load] building the release binary and the SQLite ceiling bench" >&2
cargo build --release --quiet --bin commonpot
CEILING=$(cargo bench --quiet --no-run --bench load_sqlite_ceiling --message-format=json \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "load_sqlite_ceiling" and m.get("executable"):
        print(m["executable"])')
exec python3 benches/load/load.py --binary target/release/commonpot --sqlite-ceiling "$CEILING" "$@"
