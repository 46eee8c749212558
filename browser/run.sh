#!/usr/bin/env bash
# The browser suite: the web app's flows in headless Chromium (Debian's
# `chromium`, driven by playwright-core from npm — never a browser of its
# own), on SQLite and then on PostgreSQL. Installs Chromium and the npm
# tooling when missing (into browser/node_modules, ignored by git); fails,
# never skips, when it cannot run.
set -euo pipefail
cd "$(dirname "$0")"
start=$(date +%s)
PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver (one apt call, matching versions)"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
fi
if ! command -v node >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
if [ ! -f node_modules/playwright-core/package.json ] || [ ! -f node_modules/axe-core/axe.min.js ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

# The binary under test, built as `cargo test` builds it.
(cd .. && cargo build --quiet --bin commonpot)

echo "--> browser suite on SQLite"
TEST_DATABASE_URL= node --test --test-concurrency=1 tests/
echo "--> browser suite on PostgreSQL ($PG_URL)"
TEST_DATABASE_URL="$PG_URL" node --test --test-concurrency=1 tests/
echo "browser suite took $(( $(date +%s) - start )) s"
