#!/usr/bin/env bash
# Start-up cost of the sandbox: `warden sandbox --profile ci -- /bin/true`
# against bare `/bin/true` and against bubblewrap, side by side in one
# hyperfine run, with the release build. Figures go to docs/benchmarks.md.
#
# Needs: hyperfine and (optionally) bubblewrap — on Debian/Ubuntu:
#   apt-get update && apt-get install -y hyperfine bubblewrap
# Usage: scripts/bench-sandbox.sh [--runs N] [--export FILE.md]
#        (WARDEN=path/to/warden to measure another build without building)
set -euo pipefail

runs=200
export_md=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --export) export_md="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
# The release build the GitHub Action installs (static-pie on glibc, see
# scripts/install-release.sh). WARDEN=path measures another build instead;
# copy it first (`install -m755`): a binary fresh from the linker sits in the
# page cache in small pieces and takes ≈ 50 more page faults per start.
if [ -z "${WARDEN:-}" ]; then
  "$root/scripts/install-release.sh" "$root/target/bench-release"
fi
warden=${WARDEN:-$root/target/bench-release/bin/warden}

# A small git workspace, like a checkout (the ci profile protects .git).
ws="$(mktemp -d)"
trap 'rm -rf "$ws"' EXIT
git -C "$ws" init -q
echo "bench" > "$ws/README.md"

echo "kernel: $(uname -r), cores: $(nproc), CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Landlock ABI: $("$warden" sandbox --profile ci --cwd "$ws" --show-enforcement -- /bin/true 2>&1 | sed -n 's/.*"landlock_abi": \([0-9]*\).*/\1/p')"

cmds=(
  -n "bare /bin/true" "/bin/true"
  -n "warden sandbox --profile ci" "$warden sandbox --profile ci --cwd $ws -- /bin/true"
  -n "warden --version (process start)" "$warden --version"
)
if command -v bwrap >/dev/null && bwrap --ro-bind / / --dev /dev --unshare-net /bin/true 2>/dev/null; then
  cmds+=(-n "bwrap --unshare-net" "bwrap --ro-bind / / --dev /dev --unshare-net /bin/true")
else
  echo "bwrap: not installed or cannot create namespaces here; compared without it" >&2
fi

args=(--warmup 20 --runs "$runs" -N)
[ -n "$export_md" ] && args+=(--export-markdown "$export_md")
hyperfine "${args[@]}" "${cmds[@]}"
