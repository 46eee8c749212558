#!/usr/bin/env bash
# A round's .pb export tallies the same in pabutools: installs pabutools
# (pinned, .ci/pabutools-requirements.txt) into .tools/pabutools (ignored by
# git) from PyPI and runs the test that has pabutools read the exports.
# Fails — never skips — when it cannot install or run it. Prints its
# duration.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
venv=.tools/pabutools
wanted=$(grep -vE '^(#|$)' .ci/pabutools-requirements.txt | sort)
installed=$("$venv/bin/pip" freeze --disable-pip-version-check 2>/dev/null | sort || true)
if [ "$wanted" != "$installed" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r .ci/pabutools-requirements.txt
fi
"$venv/bin/python" -c 'import pabutools.rules, pabutools.election' # fails here if the install is broken
echo "pabutools $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pabutools"))') installed: $(( $(date +%s) - start )) s"
# On SQLite, then on PostgreSQL (as the rest of the database suite).
export PABUTOOLS_PYTHON="$PWD/$venv/bin/python"
test_name=pabutools::a_rounds_export_tallies_the_same_in_pabutools
env -u TEST_DATABASE_URL cargo test -p commonpot --test api -- --ignored --exact "$test_name"
TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" \
  cargo test -p commonpot --test api -- --ignored --exact "$test_name"
echo "pabutools step: $(( $(date +%s) - start )) s"
