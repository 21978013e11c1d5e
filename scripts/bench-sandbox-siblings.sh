#!/usr/bin/env bash
# How `warden sandbox --profile ci -- /bin/true` start-up grows with
# unrelated directory entries, side by side with bubblewrap, in one
# hyperfine run per size. A directory `crowd` gets N entries (half files,
# half directories) and, in turn:
#   - is the system temp dir (TMPDIR=crowd): the per-command temp dir is
#     made there;
#   - holds HOME (HOME=crowd/home, with ~/.ssh): deny-read splits HOME's
#     ancestors, so crowd is split;
#   - holds the workspace (crowd/ws, with a .env file): the deny-read glob
#     `**/.env` matches, so the workspace's ancestors are split.
# Every command runs under `env` (bwrap too), so each pays the same extra
# exec. Figures go to docs/benchmarks.md ("Start-up and directory size").
#
# Needs hyperfine and bubblewrap (apt-get install -y hyperfine bubblewrap).
# Usage: scripts/bench-sandbox-siblings.sh [--runs N] [SIZES...]
#        (default sizes 100 1000 10000; WARDEN=path measures another build)
set -euo pipefail

runs=100
sizes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) sizes+=("$1"); shift ;;
  esac
done
[ ${#sizes[@]} -gt 0 ] || sizes=(100 1000 10000)

command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${WARDEN:-}" ]; then
  "$root/scripts/install-release.sh" "$root/target/bench-release"
fi
warden=${WARDEN:-$root/target/bench-release/bin/warden}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A workspace and a HOME outside the crowded directory (the baseline).
git -C "$work" init -q ws && echo bench >"$work/ws/README.md"
mkdir -p "$work/home/.ssh"

for n in "${sizes[@]}"; do
  crowd="$work/crowd-$n"
  mkdir "$crowd"
  for ((i = 0; i < n; i += 2)); do
    : >"$crowd/f$i"
    mkdir "$crowd/d$i"
  done
  mkdir -p "$crowd/home/.ssh"
  git -C "$crowd" init -q ws && echo bench >"$crowd/ws/README.md" && : >"$crowd/ws/.env"
  echo "== $n entries"
  hyperfine -N --warmup 10 --runs "$runs" \
    -n "bwrap --unshare-net" "env HOME=$work/home bwrap --ro-bind / / --dev /dev --unshare-net /bin/true" \
    -n "warden, nothing crowded" "env HOME=$work/home $warden sandbox --profile ci --cwd $work/ws -- /bin/true" \
    -n "warden, TMPDIR crowded" "env HOME=$work/home TMPDIR=$crowd $warden sandbox --profile ci --cwd $work/ws -- /bin/true" \
    -n "warden, HOME's parent crowded" "env HOME=$crowd/home $warden sandbox --profile ci --cwd $work/ws -- /bin/true" \
    -n "warden, workspace's parent crowded (.env)" "env HOME=$work/home $warden sandbox --profile ci --cwd $crowd/ws -- /bin/true"
  rm -rf "$crowd"
done
