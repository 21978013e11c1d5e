#!/usr/bin/env bash
# The whole test suite, as CI runs it (README: "Run the tests").
# Formatting, lints, policy fixtures against every built-in profile,
# workflow lints, every Rust test with cargo-nextest, then the sandbox tests
# and the demo again against the release build the GitHub Action installs
# (static-pie on glibc, scripts/install-release.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

echo "== policy fixtures against every built-in profile"
# Build warden with the test targets, not with a plain `cargo build`: the
# dev-dependencies change the features of a few shared crates (serde_core,
# serde_json, hyper, tower…), so a plain build compiles them, and every
# crate above them, a second time (docs/benchmarks.md, "CI build time").
# target/debug/warden is the binary the tests below run.
cargo nextest run --locked --no-run --cargo-quiet
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

echo "== the release build (static-pie): sandbox tests and the demo again"
scripts/install-release.sh target/release-install
release="$PWD/target/release-install/bin/warden"
WARDEN_TEST_EXE="$release" cargo nextest run --locked --no-fail-fast -E 'binary(sandbox)'
status=0
"$release" run --demo >target/release-demo.log 2>&1 || status=$?
if [ "$status" -ne 3 ]; then
  cat target/release-demo.log >&2
  echo "warden run --demo with the release build exited $status, expected 3 (the breaker trips)" >&2
  exit 1
fi
echo "release demo: exit 3 as expected"
