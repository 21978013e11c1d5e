#!/usr/bin/env bash
# Install the warden release build into ROOT/bin/warden: `cargo install
# --locked` from this checkout. On Linux with glibc the binary is linked
# static-pie (`-C target-feature=+crt-static`, built with `--target` so that
# build scripts and proc macros stay dynamic): no dynamic loader at each
# start (≈ 0.4 ms of every `warden sandbox`, see docs/benchmarks.md), and no
# LD_PRELOAD / LD_LIBRARY_PATH reaching the process that holds the model and
# GitHub tokens. Elsewhere it is an ordinary `cargo install`.
#
# The GitHub Action (scripts/action-install.sh) and scripts/bench-sandbox.sh
# both build this way, so the benchmark measures what the Action runs.
#
# Usage: scripts/install-release.sh ROOT   (CARGO_TARGET_DIR is honoured)
set -euo pipefail

root=${1:?usage: install-release.sh ROOT}
src="$(cd "$(dirname "$0")/.." && pwd)"
host=$(rustc -vV | sed -n 's/^host: //p')
args=(--locked --force --quiet --path "$src" --root "$root")
case $host in
*-linux-gnu*)
	args+=(--target "$host")
	export RUSTFLAGS="-C target-feature=+crt-static"
	;;
*) unset RUSTFLAGS ;;
esac
cargo install "${args[@]}"
