//! GitHub, as warden meets it in a workflow job: the job's environment
//! ([`env`]: the variables warden reads, as a map the caller passes, and
//! [`GithubEnv`]), the event payload those variables point to ([`event`]:
//! read once, bounded by GitHub's 25 MB payload limit, an oversized or
//! malformed file an error), logins ([`login`]: GitHub's own rule, the one
//! check before a login reaches an API path or a report) and the REST
//! client ([`client`]: bounded retry, redacted errors).
//!
//! Used by [`crate::report::github`] (what a run publishes) and
//! [`crate::gh`] (the `warden gh` workflow helpers). May import
//! [`crate::redact`] only: nothing here decides, runs or reports.

pub mod client;
pub mod env;
pub mod event;
pub mod login;

pub use env::{GithubEnv, Token};
pub use event::EnvMap;
