#!/usr/bin/env bash
# Side-by-side CPU comparison of `siem` builds: runs each binary in turn (round after round,
# so that a change in the shared host's load hits every build alike) over the same
# 1 M-event file against one `siem emulate` process, and prints each run and the medians.
#
#   xtask/scripts/ab.sh PLATFORM on|off RUNS BINARY...
#   e.g. cp target/release/siem /tmp/siem-before; (change, build); \
#        xtask/scripts/ab.sh splunk off 7 /tmp/siem-before target/release/siem
#
# Needs one `cargo xtask bench` run first (the input file, the CA and the configurations
# in bench-out/); platforms: splunk, datadog (sentinel's token flow is not set up here).
set -euo pipefail
cd "$(dirname "$0")/../.."
platform=$1 gzip=$2 runs=$3
shift 3
port=35067
token=bench-token-0123456789abcdef
out=bench-out
input=$out/events-1000000.ndjson
config=$out/ab-$platform-gzip-$gzip.toml
sed "s/127\.0\.0\.1:[0-9]*/127.0.0.1:$port/g" "$out/forward-throughput-$platform-gzip-$gzip.toml" >"$config"
target/release/siem emulate --platform "$platform" --count-only --port "$port" --token "$token" \
  --ca-file "$out/ca-$platform.pem" >"$out/ab-emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null' EXIT
sleep 1
results=$(mktemp)
for run in $(seq "$runs"); do
  for binary in "$@"; do
    SIEM_BENCH_TOKEN=$token /usr/bin/time -f "%U %S %e %M" -o "$out/ab-time.txt" \
      "$binary" forward --config "$config" --json <"$input" >/dev/null 2>"$out/ab-forward.err"
    read -r user sys wall rss <"$out/ab-time.txt"
    cpu=$(echo "$user + $sys" | bc)
    echo "$binary run $run: cpu $cpu s (user $user, sys $sys), wall $wall s, peak RSS $((rss / 1024)) MiB"
    echo "$binary $cpu $wall" >>"$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    binary, cpu, wall = line.split()
    runs.setdefault(binary, []).append((float(cpu), float(wall)))
for binary, values in runs.items():
    cpu = sorted(v[0] for v in values)
    wall = [v[1] for v in values]
    print(f"{binary}: CPU s median {statistics.median(cpu):.3f} (min {cpu[0]:.2f}, max {cpu[-1]:.2f}), "
          f"wall s median {statistics.median(wall):.2f}, {len(cpu)} runs")
PY
rm -f "$results"
