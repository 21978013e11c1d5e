#!/usr/bin/env bash
# The build steps of the warden GitHub Action (action.yml): warden is built
# from the action's own source (the commit the workflow pinned), never
# downloaded.
#
#   action-install.sh key     checks INPUT_MODE and writes `key`, `root` and
#                             `installed` to GITHUB_OUTPUT: the cache key (OS,
#                             architecture, C library, a hash of the sources),
#                             the install root, and whether this job already
#                             built or restored that very key (a workflow that
#                             uses the action twice builds once)
#   action-install.sh build   scripts/install-release.sh into WARDEN_ROOT
#                             (static-pie on glibc) and record WARDEN_KEY
#                             next to it
#
# action.yml restores the cache before `build` and saves it right after,
# before the agent runs, so nothing the job does later can end up in it.
set -euo pipefail

src=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: run this from action.yml}
root_default="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/warden-action"

case ${1:-} in
key)
	case ${INPUT_MODE:-run} in
	run | install) ;;
	*)
		echo "warden action: mode must be run or install" >&2
		exit 2
		;;
	esac
	cd -- "$src"
	hash=$(
		{
			find Cargo.toml Cargo.lock src profiles scripts/install-release.sh -type f -print0 |
				LC_ALL=C sort -z | xargs -0 sha256sum
		} | sha256sum | cut -c1-32
	)
	libc=$(getconf GNU_LIBC_VERSION 2>/dev/null | tr ' ' '-' || echo unknown)
	key="warden-${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}-${ImageOS:-any}-${libc}-${hash}"
	installed=false
	if [[ -x $root_default/bin/warden && -f $root_default/.key && $(<"$root_default/.key") == "$key" ]]; then
		installed=true
	fi
	{
		echo "key=$key"
		echo "root=$root_default"
		echo "installed=$installed"
	} >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"
	;;
build)
	root=${WARDEN_ROOT:-$root_default}
	if ! command -v cargo >/dev/null 2>&1; then
		echo "warden action: cargo not found; install a Rust toolchain (1.85 or newer) before this action" >&2
		exit 2
	fi
	CARGO_TARGET_DIR="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/warden-build" \
		"$src/scripts/install-release.sh" "$root"
	"$root/bin/warden" --version
	printf '%s' "${WARDEN_KEY:?WARDEN_KEY is not set}" >"$root/.key"
	;;
*)
	echo "usage: action-install.sh key|build" >&2
	exit 2
	;;
esac
