#!/usr/bin/env bash
# Fuzz the API with schemathesis against a live server on one database:
#   .ci/fuzz/run.sh sqlite|postgres
# Installs schemathesis (pinned, from PyPI) into .tools/fuzz, builds and
# starts the server on a fresh database, seeds one of everything
# (.ci/fuzz/seed.py), then runs schemathesis authenticated with ids that
# exist and the conformance checks. Fails — never skips — when anything is
# missing, or when the run (after the tools are installed) takes more than
# five minutes. Prints its duration.
set -euo pipefail
cd "$(dirname "$0")/../.."
backend="${1:?usage: run.sh sqlite|postgres}"
start=$(date +%s)
SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${FUZZ_EXAMPLES:-20}"
# CI runs the explicit examples and 20 generated cases per operation; the
# coverage phase (boundary values of every keyword, ~2,000 more cases) does
# not fit five minutes on a busy machine: FUZZ_PHASES=examples,coverage,fuzzing.
PHASES="${FUZZ_PHASES:-examples,fuzzing}"

# Schemathesis runs its workers as threads; CPython before 3.11.8 / 3.12.2
# can fail parsing in two threads at once ("AST constructor recursion depth
# mismatch"), so the tools get a Python with that fixed: FUZZ_PYTHON, else
# the first fit among python3 and the versions pyenv has.
fit() { "$1" -c 'import sys; v = sys.version_info[:3]; sys.exit(not ((3, 11, 8) <= v < (3, 12) or v >= (3, 12, 2)))' 2>/dev/null; }
python=
for candidate in ${FUZZ_PYTHON:-} python3 $(command -v pyenv >/dev/null && ls -d "$(pyenv root)"/versions/3.1[1-9]*/bin/python3 2>/dev/null | sort -rV); do
  if fit "$candidate"; then python=$candidate; break; fi
done
if [ -z "$python" ]; then
  echo "no Python >= 3.11.8 or >= 3.12.2 for schemathesis (set FUZZ_PYTHON): failing" >&2
  exit 1
fi
tools=.tools/fuzz
want="schemathesis==$SCHEMATHESIS_VERSION on $("$python" -c 'import platform; print(platform.python_version())')"
if [ "$(cat "$tools/.installed" 2>/dev/null)" != "$want" ]; then
  rm -rf "$tools"
  "$python" -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  echo "$want" > "$tools/.installed"
fi
# The binary is built by the steps before this one in CI (a no-op here).
cargo build --quiet --bin commonpot
ready=$(date +%s)
echo "fuzz ($backend): tools ($want) and binary ready in $(( ready - start )) s"
# The run itself (server, seed, schemathesis) has five minutes.
BUDGET="${FUZZ_BUDGET:-300}"

# shellcheck source=.ci/live-server.sh
. .ci/live-server.sh
live_server "$backend"
python3 .ci/fuzz/seed.py "$BASE_URL" "$BINARY" "$WORK/schemathesis.toml" >/dev/null

status=0
left=$(( BUDGET - ($(date +%s) - ready) ))
[ "$left" -gt 0 ] || { echo "no time left for schemathesis: failing" >&2; exit 1; }
timeout --kill-after=10 "$left" "$tools/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run openapi/openapi.json \
  --url "$BASE_URL" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples "$EXAMPLES" \
  --phases "$PHASES" \
  --seed 1 \
  --workers 2 \
  --no-color \
  "${@:2}" || status=$?
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "schemathesis on $backend did not finish within ${BUDGET} s: failing" >&2
elif [ "$status" != 0 ]; then
  echo "--- server log (last 40 lines)"; tail -40 "$WORK/server.log"
fi
echo "schemathesis on $backend: exit $status; run $(( $(date +%s) - ready )) s of ${BUDGET} s, $(( $(date +%s) - start )) s with tools"
exit "$status"
