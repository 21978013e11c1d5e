//! The sandbox's tests, in one binary: every escape class, each test
//! first proving its attempt works without the sandbox and then that it
//! fails inside (docs/threat-model.md names them by module: `escape_read`
//! is `tests/sandbox/escape_read.rs`), plus routine work that must still
//! succeed inside. They run the real `warden` binary: this build's, or the
//! one `WARDEN_TEST_EXE` names (`scripts/test.sh` runs this binary again
//! against the static-pie release build: `binary(sandbox)`).
//!
//! What it may import: `warden`'s public API, the dev-dependencies, and
//! the shared fixtures in `tests/support/`.

// The escape tests make the system calls an attacker would (raw `clone`,
// `kill`, descriptors…): `unsafe` is allowed here as in `warden::sandbox`.
#![allow(unsafe_code)]

// Shared with the other test binary (`tests/it/` or `tests/sandbox/`).
#[path = "../support/run.rs"]
mod run_support;
#[path = "../support/sandbox.rs"]
mod sandbox_support;
#[path = "../support/workspace.rs"]
mod workspace_support;

mod audit_reach;
mod commit_revert;
mod crash_recovery;
mod deny_links;
mod descriptors;
mod escape_kernel;
mod escape_network;
mod escape_process;
mod escape_read;
mod escape_write;
mod git_guard;
mod launch_no_alloc;
mod lifecycle;
mod nested_repos;
mod redteam;
mod refusal_hints;
mod reuse;
mod root;
mod root_work;
mod routine;
mod routine_ci;
mod routine_defaults;
mod run_inherited;
mod secrets;
mod terminals;
mod tmp_siblings;
mod zygote;
