#!/usr/bin/env bash
# warden's added time per tool call: a scripted scenario of N `shell` calls
# of `true` through `warden run` (pipeline + sandbox + audit with fsync),
# against the same N commands in a plain shell loop, side by side.
#
#   scripts/bench-run.sh [N [WORKSPACE]]
#
# N defaults to 1000; WORKSPACE defaults to an empty directory (pass a real
# checkout to see what its size costs: the commands only run `true`).
# Needs a release build. Prints the per-call figures; docs/benchmarks.md
# records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
workspace=${2:-}
per_turn=10
# WARDEN=path compares another build (e.g. an older one) without building.
if [ -z "${WARDEN:-}" ]; then
  cargo build --release --locked --quiet
fi
warden=${WARDEN:-target/release/warden}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ws" "$work/home"
ws="$work/ws"
[ -n "$workspace" ] && ws="$(cd "$workspace" && pwd)"

{
  echo "prompt: run true many times"
  echo "turns:"
  for ((t = 0; t < n / per_turn; t++)); do
    echo "  - tool_calls:"
    for ((c = 0; c < per_turn; c++)); do
      echo "      - { name: shell, arguments: { command: [\"true\"] } }"
    done
  done
  echo "  - text: done"
} > "$work/scenario.yaml"

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

runs=3
warden_ns=()
loop_ns=()
for ((r = 0; r < runs; r++)); do
  rm -rf "$work/audit"
  t0=$(now)
  HOME="$work/home" "$warden" --cwd "$ws" run --profile ci --provider script \
    --scenario "$work/scenario.yaml" --max-turns $((n / per_turn + 5)) \
    --audit "$work/audit/run.jsonl" --json > /dev/null
  t1=$(now)
  warden_ns+=($((t1 - t0)))
  t0=$(now)
  for ((i = 0; i < n; i++)); do /bin/true; done
  t1=$(now)
  loop_ns+=($((t1 - t0)))
done
w=$(printf '%s\n' "${warden_ns[@]}" | median)
l=$(printf '%s\n' "${loop_ns[@]}" | median)
echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "calls: $n (median of $runs runs), workspace: ${workspace:-empty}"
awk -v w="$w" -v l="$l" -v n="$n" 'BEGIN {
  printf "warden run:      %8.1f ms total, %6.3f ms per call\n", w/1e6, w/1e6/n;
  printf "plain loop:      %8.1f ms total, %6.3f ms per call\n", l/1e6, l/1e6/n;
  printf "added by warden: %6.3f ms per call (pipeline + sandbox + audit fsync)\n", (w-l)/1e6/n;
}'
