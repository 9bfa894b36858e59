#!/usr/bin/env bash
# Instruction count of one `siem forward` run over 100,000 events (Splunk), whole process,
# under valgrind's callgrind: repeatable to the instruction, where timings on a shared host
# vary by a third.
#
#   xtask/scripts/callgrind.sh BINARY OUT.callgrind [on|off]
#   callgrind_annotate --inclusive=yes OUT.callgrind | head -60
#
# Needs one `cargo xtask bench` run first (bench-out/) and valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=$1 output=$2 gzip=${3:-off}
port=35067
token=bench-token-0123456789abcdef
out=bench-out
input=$out/events-100000.ndjson
[ -f "$input" ] || head -n 100000 "$out/events-1000000.ndjson" >"$input"
config=$out/callgrind-splunk-gzip-$gzip.toml
sed "s/127\.0\.0\.1:[0-9]*/127.0.0.1:$port/g" "$out/forward-throughput-splunk-gzip-$gzip.toml" >"$config"
target/release/siem emulate --platform splunk --count-only --port "$port" --token "$token" \
  --ca-file "$out/ca-splunk.pem" >"$out/callgrind-emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null' EXIT
sleep 1
SIEM_BENCH_TOKEN=$token valgrind --tool=callgrind --callgrind-out-file="$output" \
  "$binary" forward --config "$config" --json <"$input" >/dev/null 2>"$out/callgrind.err"
grep "refs" "$out/callgrind.err"
