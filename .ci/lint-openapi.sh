#!/usr/bin/env bash
# Lint the committed OpenAPI document with Redocly CLI (pinned) and its
# recommended rules: 0 errors or the step fails. Installs the CLI into
# .tools/lint (ignored) from the npm registry; fails — never skips — when
# it cannot. Prints its duration.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
REDOCLY_VERSION=2.77.0
prefix=.tools/lint
if [ "$("$prefix/node_modules/.bin/redocly" --version 2>/dev/null | tail -1)" != "$REDOCLY_VERSION" ]; then
  npm install --prefix "$prefix" --no-audit --no-fund --silent "@redocly/cli@$REDOCLY_VERSION"
fi
# The deprecation banner for Node 20 goes to stderr; the findings to stdout.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  "$prefix/node_modules/.bin/redocly" lint openapi/openapi.json --config .ci/redocly.yaml --format=stylish
echo "redocly lint: $(( $(date +%s) - start )) s"
