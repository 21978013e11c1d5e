#!/usr/bin/env bash
# The whole test suite, as CI runs it (README: "Run the tests").
# Formatting, lints, policy fixtures against every built-in profile,
# workflow lints, then every Rust test with cargo-nextest (last, so its
# summary line closes the output).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

echo "== policy fixtures against every built-in profile"
cargo build --locked --quiet
for profile in ci dev review nightly; do
  target/debug/warden policy test tests/fixtures/policy/*.yaml --profile "$profile" --reviewer rules
  target/debug/warden --config tests/fixtures/policy/mcp/servers.toml \
    policy test tests/fixtures/policy/mcp/*.yaml --profile "$profile" --reviewer rules
done

if [ -x scripts/lint-workflows.sh ]; then
  echo "== workflow lints (actionlint, zizmor)"
  scripts/lint-workflows.sh
fi

echo "== cargo nextest"
cargo nextest run --locked --no-fail-fast
