#!/usr/bin/env bash
# Fuzz the API with schemathesis against a live server on one database:
#   .ci/fuzz/run.sh sqlite|postgres
# Installs schemathesis (pinned, from PyPI) into .tools/fuzz, builds and
# starts the server on a fresh database, seeds one of everything
# (.ci/fuzz/seed.py), then runs schemathesis authenticated with ids that
# exist and the conformance checks. Fails — never skips — when anything is
# missing. Prints its duration.
set -euo pipefail
cd "$(dirname "$0")/../.."
backend="${1:?usage: run.sh sqlite|postgres}"
start=$(date +%s)
SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${FUZZ_EXAMPLES:-20}"

tools=.tools/fuzz
if ! "$tools/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --bin commonpot
binary=target/debug/commonpot
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
case "$backend" in
  sqlite) export DATABASE_URL="sqlite://$work/fuzz.db" ;;
  postgres)
    pg="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
    db="fuzz_$$_$(date +%s)"
    psql "$pg" -qAtc "create database $db" >/dev/null
    export DATABASE_URL="${pg%/*}/$db"
    ;;
  *) echo "unknown backend $backend" >&2; exit 2 ;;
esac
export COMMONPOT_KEY_FILE="$work/commonpot.key"
export COMMONPOT_ACCESS_TOKEN_TTL_SECS=3600
# The fuzzer signs in often; no lock-out in the middle of a run.
export COMMONPOT_LOGIN_MAX_FAILURES=1000000
export RUST_LOG="${RUST_LOG:-error}"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ "$backend" = postgres ]; then psql "$pg" -qAtc "drop database if exists $db with (force)" >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$binary" migrate >/dev/null
"$binary" serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
python3 .ci/fuzz/seed.py "http://127.0.0.1:$port" "$binary" "$work/schemathesis.toml" >/dev/null

status=0
"$tools/bin/schemathesis" --config-file "$work/schemathesis.toml" run openapi/openapi.json \
  --url "http://127.0.0.1:$port" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "$EXAMPLES" \
  --phases examples,coverage,fuzzing \
  --seed 1 \
  --workers 2 \
  --no-color \
  "${@:2}" || status=$?
if [ "$status" != 0 ]; then
  echo "--- server log (last 40 lines)"; tail -40 "$work/server.log"
fi
echo "schemathesis on $backend: exit $status in $(( $(date +%s) - start )) s"
exit "$status"
