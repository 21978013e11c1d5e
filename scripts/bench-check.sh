#!/usr/bin/env bash
# Whole-process time of one decision: `warden check` against `codex
# execpolicy check` on the same rule file (benches/check/common.rules,
# warden's shared command rules written as Codex `prefix_rule`s), side by
# side in one hyperfine run per round, rounds alternating. What a
# pre-commit or agent-hook user pays per call. Figures go to
# docs/benchmarks.md.
#
# Needs: hyperfine, npm (Codex CLI, pinned below, installed locally into
# target/bench-node, never globally).
# Usage: scripts/bench-check.sh [--runs N] [--rounds N]
#   WARDEN=path/to/warden   measure another build (default: the release
#                           build of scripts/install-release.sh)
#   BASELINE=path/to/warden also measure an older build, in the same runs
#   CODEX=path/to/codex     use this Codex binary instead of installing it
set -euo pipefail

codex_version=0.169.0 # the Codex CLI version the agent integration was checked with
runs=100
rounds=2
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${WARDEN:-}" ]; then
  "$root/scripts/install-release.sh" "$root/target/bench-release"
fi
warden=${WARDEN:-$root/target/bench-release/bin/warden}

if [ -z "${CODEX:-}" ]; then
  command -v npm >/dev/null || { echo "npm is not installed: give CODEX=path/to/codex" >&2; exit 2; }
  node_dir="$root/target/bench-node"
  if [ ! -x "$node_dir/node_modules/.bin/codex" ]; then
    npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error "@openai/codex@$codex_version"
  fi
  # The native binary inside the npm package: the `codex` wrapper script
  # would add a Node start-up (≈ 40 ms) to every call.
  CODEX=$(find "$node_dir/node_modules/@openai" -path '*/vendor/*/bin/codex' -type f | head -n1)
fi
[ -x "$CODEX" ] || { echo "no Codex binary found" >&2; exit 2; }

rules="$root/benches/check/common.rules"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ws="$work/ws"
mkdir -p "$ws" "$work/codex-home"
git -C "$ws" init -q
echo "bench" > "$ws/README.md"
# warden reads the same .rules file through a --config layer, above its
# built-in ci profile (which it loads in full, as every `warden check` does).
printf 'rules_files = ["%s"]\n' "$rules" > "$work/rules.toml"
export CODEX_HOME="$work/codex-home"

echo "kernel: $(uname -r), cores: $(nproc), CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "warden: $warden ($("$warden" --version)); codex: $CODEX ($("$CODEX" --version))"

# A forbidden command, an allowed one, and one no rule names.
commands=("git push --force origin main" "cargo test" "ls -la src")
cmds=()
for c in "${commands[@]}"; do
  cmds+=(-n "codex execpolicy check: $c" "$CODEX execpolicy check --rules $rules $c")
  cmds+=(-n "warden check: $c" "$warden --cwd $ws --config $work/rules.toml check --profile ci -- $c")
  if [ -n "${BASELINE:-}" ]; then
    cmds+=(-n "baseline warden check: $c" "$BASELINE --cwd $ws --config $work/rules.toml check --profile ci -- $c")
  fi
done

# warden exits 1 for a denial: -i keeps hyperfine from stopping there.
for ((r = 1; r <= rounds; r++)); do
  echo "== round $r of $rounds"
  hyperfine -N -i --warmup 10 --runs "$runs" "${cmds[@]}"
done
