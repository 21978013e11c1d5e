#!/usr/bin/env bash
# The final `if: always()` step of the warden GitHub Action (action.yml):
# after a cancelled job or a warden killed while a command ran, restore the
# protected paths it left unverified (`warden recover --help`) before any
# later step of the job trusts the checkout. Nothing to do (no build, no
# journal) is success; a change warden cannot put back fails the step
# (exit 5).
set -euo pipefail

bin=${WARDEN_BIN:-warden}
if ! command -v -- "$bin" >/dev/null 2>&1; then
	exit 0 # warden was never installed: it cannot have run
fi
exec "$bin" --cwd "${INPUT_WORKING_DIRECTORY:-.}" recover
