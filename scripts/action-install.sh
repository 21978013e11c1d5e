#!/usr/bin/env bash
# The build steps of the warden GitHub Action (action.yml): warden is built
# from the action's own source (the commit the workflow pinned), never
# downloaded.
#
#   action-install.sh key     writes `key` and `root` to GITHUB_OUTPUT: the
#                             cache key (OS, architecture, C library and a
#                             hash of the sources) and the install root
#   action-install.sh build   cargo install --locked into WARDEN_ROOT
#
# action.yml restores the cache before `build` and saves it right after,
# before the agent runs, so nothing the job does later can end up in it.
set -euo pipefail

src=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: run this from action.yml}
root_default="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/warden-action"

case ${1:-} in
key)
	cd -- "$src"
	hash=$(
		{
			find Cargo.toml Cargo.lock src profiles -type f -print0 |
				LC_ALL=C sort -z | xargs -0 sha256sum
		} | sha256sum | cut -c1-32
	)
	libc=$(getconf GNU_LIBC_VERSION 2>/dev/null | tr ' ' '-' || echo unknown)
	{
		echo "key=warden-${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}-${ImageOS:-any}-${libc}-${hash}"
		echo "root=$root_default"
	} >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
	;;
build)
	root=${WARDEN_ROOT:-$root_default}
	if ! command -v cargo >/dev/null 2>&1; then
		echo "warden action: cargo not found; install a Rust toolchain (1.85 or newer) before this action" >&2
		exit 2
	fi
	CARGO_TARGET_DIR="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/warden-build" \
		cargo install --locked --force --path "$src" --root "$root"
	"$root/bin/warden" --version
	;;
*)
	echo "usage: action-install.sh key|build" >&2
	exit 2
	;;
esac
