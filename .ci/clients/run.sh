#!/usr/bin/env bash
# Generated clients against a live server on one database:
#   .ci/clients/run.sh sqlite|postgres
# 1. Installs the pinned tools into ignored folders: .tools/clients (a Python
#    venv from .ci/clients/requirements.txt) and examples/typescript/node_modules
#    (npm ci from its package-lock.json).
# 2. Generates the Python client (openapi-python-client) and the TypeScript
#    types (openapi-typescript) from the committed openapi/openapi.json into
#    ignored folders, and type-checks the partner scenarios under examples/:
#    mypy --strict, tsc --noEmit --strict.
# 3. Runs both scenarios end to end, and a generic OAuth 2.0 library (Authlib,
#    default configuration), against a live server.
# Fails — never skips — when anything is missing. Prints how long each part took.
set -euo pipefail
cd "$(dirname "$0")/../.."
backend="${1:?usage: run.sh sqlite|postgres}"
start=$(date +%s)
lap=$start
took() { local now; now=$(date +%s); echo "clients ($backend): $1 in $(( now - lap )) s"; lap=$now; }

venv=.tools/clients
stamp="$venv/.requirements"
if ! cmp -s .ci/clients/requirements.txt "$stamp"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r .ci/clients/requirements.txt
  cp .ci/clients/requirements.txt "$stamp"
fi
ts=examples/typescript
if ! cmp -s "$ts/package-lock.json" "$ts/node_modules/.installed-lock.json"; then
  (cd "$ts" && npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.installed-lock.json)
fi
took "tools"

py=examples/python
rm -rf "$py/commonpot_client" "$ts/generated" "$ts/dist"
PATH="$PWD/$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate \
  --path openapi/openapi.json --output-path "$py/commonpot_client" --meta none >/dev/null
(cd "$ts" && node_modules/.bin/openapi-typescript ../../openapi/openapi.json -o generated/commonpot.d.ts >/dev/null)
took "generate"

(cd "$py" && "../../$venv/bin/mypy" --config-file mypy.ini --cache-dir ../../.tools/mypy-cache partner_quickstart.py)
(cd "$ts" && node_modules/.bin/tsc --noEmit --strict -p . && node_modules/.bin/tsc --strict -p . --outDir dist)
took "mypy --strict, tsc --strict"

# shellcheck source=.ci/live-server.sh
. .ci/live-server.sh
live_server "$backend"
export COMMONPOT_URL="$BASE_URL" COMMONPOT_EMAIL=ada@example.org
COMMONPOT_PASSWORD="quickstart $(date +%s%N)"
export COMMONPOT_PASSWORD
COMMONPOT_COLLECTIVE_ID=$(COMMONPOT_BOOTSTRAP_PASSWORD="$COMMONPOT_PASSWORD" "$BINARY" admin bootstrap \
  --email "$COMMONPOT_EMAIL" --name Ada --collective "Quickstart" --time-zone Europe/Berlin |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["collective"]["id"])')
export COMMONPOT_COLLECTIVE_ID
took "server on $backend"

(cd "$py" && "../../$venv/bin/python" partner_quickstart.py)
(cd "$ts" && node dist/partner-quickstart.js)
"$venv/bin/python" "$py/oauth_library.py"
took "scenarios (Python, TypeScript, Authlib)"
echo "generated clients on $backend: passed in $(( $(date +%s) - start )) s"
