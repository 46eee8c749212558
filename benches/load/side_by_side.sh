#!/usr/bin/env bash
# Builds measured side by side (docs/performance.md): the same load.py run on
# each given release binary in turn, database by database, for several
# rounds, so every build meets the same machine load as the others.
#
#   bash benches/load/side_by_side.sh NAME=path/to/commonpot NAME=… [-- load.py options]
#   ROUNDS=2 DURATION=10 DATABASES="sqlite postgres"   (the defaults)
#
# Each run's table goes to target/load/side-by-side-<time>/<round>-<db>-<name>/,
# and one line per case to summary.txt there.
set -euo pipefail
cd "$(dirname "$0")/../.."
builds=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do builds+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#builds[@]} -ge 1 ] || { echo "usage: $0 NAME=BINARY… [-- load.py options]" >&2; exit 2; }
out=target/load/side-by-side-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$out"
for round in $(seq 1 "${ROUNDS:-2}"); do
  for db in ${DATABASES:-sqlite postgres}; do
    for build in "${builds[@]}"; do
      name=${build%%=*}; binary=${build#*=}
      echo "== round $round, $db, $name; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/summary.txt"
      python3 benches/load/load.py --binary "$binary" --commit "$name" --databases "$db" \
        --duration "${DURATION:-10}" --warmup 2 --ceiling 0 --out "$out/$round-$db-$name" "$@" \
        > "$out/$round-$db-$name.log" 2>&1 || echo "   FAILED (see $out/$round-$db-$name.log)" | tee -a "$out/summary.txt"
      grep -E '^\[load\] (64-pools|one-hot-pool)|exactly once|verify passed' "$out/$round-$db-$name.log" \
        | cut -c1-110 | tee -a "$out/summary.txt"
    done
  done
done
echo "written to $out" | tee -a "$out/summary.txt"
