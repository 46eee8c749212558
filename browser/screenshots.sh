#!/usr/bin/env bash
# The README's screenshots, taken from `commonpot demo` (browser/screenshots.mjs)
# in Debian's Chromium — installed here when missing, as browser/run.sh does;
# nothing downloads a browser of its own. PNGs go to docs/screenshots/,
# squeezed by pngquant (installed too when missing).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
  || ! command -v pngquant >/dev/null 2>&1; then
  echo "installing chromium, chromium-driver and pngquant"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver pngquant
fi
if ! command -v node >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
if [ ! -f node_modules/playwright-core/package.json ] || [ ! -f node_modules/axe-core/axe.min.js ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
# The binary, built as `cargo test` builds it (COMMONPOT_BIN picks another).
if [ -z "${COMMONPOT_BIN:-}" ]; then
  (cd .. && cargo build --quiet --bin commonpot)
fi
TEST_DATABASE_URL= node screenshots.mjs
for png in ../docs/screenshots/*.png; do
  pngquant --force --skip-if-larger --strip --quality 70-95 --output "$png" -- "$png" || true
done
ls -l ../docs/screenshots/
