# Sourced by the CI steps that need a live server (.ci/fuzz/run.sh,
# .ci/clients/run.sh): `live_server sqlite|postgres` builds the binary,
# migrates a fresh database of that kind, serves it on a free port and sets
# BASE_URL, BINARY and WORK (a temporary folder); everything is stopped and
# dropped when the script exits. Fails — never skips — when it cannot.

live_server() {
  LIVE_BACKEND="$1"
  cargo build --quiet --bin commonpot
  BINARY=target/debug/commonpot
  WORK=$(mktemp -d)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  case "$LIVE_BACKEND" in
    sqlite) export DATABASE_URL="sqlite://$WORK/live.db" ;;
    postgres)
      LIVE_PG="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
      LIVE_DB="live_$$_$(date +%s)"
      psql "$LIVE_PG" -qAtc "create database $LIVE_DB" >/dev/null
      export DATABASE_URL="${LIVE_PG%/*}/$LIVE_DB"
      ;;
    *) echo "unknown backend $LIVE_BACKEND (sqlite or postgres)" >&2; return 2 ;;
  esac
  export COMMONPOT_KEY_FILE="$WORK/commonpot.key"
  export COMMONPOT_ACCESS_TOKEN_TTL_SECS=3600
  # Fuzzers and scenarios sign in often; no lock-out in the middle of a run.
  export COMMONPOT_LOGIN_MAX_FAILURES=1000000
  # No webhook delivery: a fuzzer may register an endpoint at any public
  # address, and nothing here may send traffic off this machine (#19).
  export COMMONPOT_WEBHOOKS_DELIVER=false
  export RUST_LOG="${RUST_LOG:-error}"
  LIVE_PID=
  trap live_server_stop EXIT
  trap "exit 143" TERM INT
  "$BINARY" migrate >/dev/null
  "$BINARY" serve --bind "127.0.0.1:$port" >"$WORK/server.log" 2>&1 &
  LIVE_PID=$!
  BASE_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 150); do
    curl -fsS "$BASE_URL/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the server did not come up on $BASE_URL:" >&2
  cat "$WORK/server.log" >&2
  return 1
}

live_server_stop() {
  if [ -n "${LIVE_PID:-}" ]; then kill "$LIVE_PID" 2>/dev/null && wait "$LIVE_PID" 2>/dev/null; fi
  if [ "${LIVE_BACKEND:-}" = postgres ] && [ -n "${LIVE_DB:-}" ]; then
    psql "$LIVE_PG" -qAtc "drop database if exists $LIVE_DB with (force)" >/dev/null || true
  fi
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
  return 0
}
