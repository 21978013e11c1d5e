//! warden: run a coding agent headless in CI under a fail-closed permission
//! profile.
//!
//! The modules follow the flow of one action (see `docs/architecture.md`):
//!
//! 1. [`config`]: layered TOML profiles, managed requirements, diagnostics.
//! 2. [`action`]: what the agent asks for.
//! 3. [`policy`]: command rules, shell splitting, categories, the pipeline.
//! 4. [`review`]: the reviewer interface and the LLM reviewer.
//! 5. [`judge`]: one action decided (pipeline, reviewer, run memory,
//!    breaker, kept denials, overrides) and its records written.
//! 6. [`sandbox`]: Landlock + seccomp execution with a scrubbed environment.
//! 7. [`audit`]: the hash-chained write-ahead log, verification, stats.
//! 8. [`report`]: Markdown/JSON/SARIF and the GitHub views of the log.
//!
//! [`model`] is the model client the agent and the reviewer share. [`agent`]
//! drives the flow from a model's tool calls; [`run`] is one run's lifecycle
//! (audit log, kept denials, executor, MCP servers, reporting); [`mcp`]
//! brings MCP servers' tools into it; [`cli`] is the command line; [`gh`]
//! holds the GitHub workflow helpers (`warden gh`) the GitHub Action uses.

pub mod action;
pub mod agent;
pub mod audit;
pub mod cli;
pub mod config;
pub mod decision;
pub mod error;
pub mod gh;
pub mod github;
pub mod judge;
pub mod mcp;
pub mod model;
pub mod policy;
pub mod redact;
pub mod report;
pub mod review;
pub mod run;
// The one module that may use `unsafe` (system calls the kernel sandbox
// needs); `[lints]` in Cargo.toml denies it everywhere else.
#[allow(unsafe_code)]
pub mod sandbox;
