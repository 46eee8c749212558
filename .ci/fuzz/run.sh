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

# shellcheck source=.ci/live-server.sh
. .ci/live-server.sh
live_server "$backend"
python3 .ci/fuzz/seed.py "$BASE_URL" "$BINARY" "$WORK/schemathesis.toml" >/dev/null

status=0
"$tools/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run openapi/openapi.json \
  --url "$BASE_URL" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "$EXAMPLES" \
  --phases examples,coverage,fuzzing \
  --seed 1 \
  --workers 2 \
  --no-color \
  "${@:2}" || status=$?
if [ "$status" != 0 ]; then
  echo "--- server log (last 40 lines)"; tail -40 "$WORK/server.log"
fi
echo "schemathesis on $backend: exit $status in $(( $(date +%s) - start )) s"
exit "$status"
