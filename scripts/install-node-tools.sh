#!/usr/bin/env bash
# Node packages some tests use, installed locally (never globally) from the
# lockfile: the MCP reference server for tests/mcp_e2e.rs, into
# tests/node/node_modules (gitignored). Skipped when Node.js is absent; the
# tests that need it then skip with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "install-node-tools: npm not found; Node-based tests will be skipped"
  exit 0
fi
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
