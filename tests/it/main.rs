//! The integration tests, in one binary (like zizmor's): one module per
//! area of warden (`action_*`, `audit_*`, `config_*`, `gh_*`, `mcp_*`,
//! `policy_*`, `provider_*`, `report_*`, `review_*`, `run_*`), with the mocks
//! and fixtures they share as modules of this binary. One binary links once
//! (41 test crates each linked the whole of warden and its dependencies:
//! docs/benchmarks.md, "Test binaries"); nextest still runs each test in a
//! process of its own. The sandbox's escape tests are the other binary,
//! `tests/sandbox/`, so the release phase of `scripts/test.sh` can run them
//! again against the release build (`binary(sandbox)`).
//!
//! What it may import: `warden`'s public API, the dev-dependencies, and
//! the shared fixtures in `tests/support/`.

// Shared with the other test binary (`tests/it/` or `tests/sandbox/`).
#[path = "../support/github.rs"]
mod github_mock;
#[path = "../support/run.rs"]
mod run_support;
#[path = "../support/sandbox.rs"]
mod sandbox_support;
#[path = "../support/workspace.rs"]
mod workspace_support;

mod audit_support;
mod mcp_support;
mod provider_mock;

mod action_examples;
mod action_inputs;
mod action_run;
mod action_workflows;
mod audit_crash;
mod audit_location;
mod audit_log;
mod audit_stats;
mod config_errors;
mod config_layers;
mod config_profiles;
mod config_proptest;
mod gh_approve;
mod gh_authorize;
mod gh_find_audit;
mod github_mock_checks;
mod install_targets;
mod mcp_e2e;
mod mcp_policy;
mod mcp_servers;
mod policy_cli;
mod policy_fixtures;
mod provider_anthropic;
mod provider_openai;
mod provider_script;
mod report_github;
mod report_github_fallback;
mod report_render;
mod review_check_cli;
mod review_llm;
mod review_memory;
mod review_run_e2e;
mod run_checkout_credentials;
mod run_guard;
mod run_killed;
mod run_models;
mod run_routine_ci;
mod run_scenarios;
mod run_tracked_secrets;
mod run_workspace_writes;
