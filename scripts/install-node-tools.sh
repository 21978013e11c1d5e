#!/usr/bin/env bash
# Node packages some tests use, installed locally (never globally) from the
# lockfile: the MCP reference server for tests/it/mcp_e2e.rs, into
# tests/node/node_modules (gitignored). Without npm: under CI=true an error
# (no test may pass by skipping in CI; .ci/run installs npm first),
# elsewhere a note, and the tests that need Node skip with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "install-node-tools: npm not found, and CI=true: the Node-based tests cannot run" >&2
    exit 1
  fi
  echo "install-node-tools: npm not found; Node-based tests will be skipped"
  exit 0
fi
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
