//! GitHub workflow helpers behind `warden gh`, used by the composite action
//! (`action.yml`) and the example workflows:
//!
//! - [`authorize`]: refuse unless the actor who triggered the run may write
//!   to the repository (asked of the API; an API error is a refusal).
//! - [`approve`]: the `/warden approve D2` PR comment command, parsed
//!   strictly so an id never reaches a shell unchecked.
//! - [`outputs`]: the action's step outputs, computed from the audit log,
//!   and whether the step fails (`fail-on`).
//! - [`find_audit`]: the newest audit artifact of a pull request's thread
//!   (from this repository's own runs only), to restore its kept denials.
//! - [`step_output`]: writing `GITHUB_OUTPUT` safely.
//!
//! Like [`crate::github::GithubEnv`], everything here reads the
//! environment from a map the caller passes ([`crate::github::EnvMap`]),
//! and the event through [`crate::github::event`], so tests run the
//! real code in-process with their own environment.

pub mod approve;
pub mod authorize;
pub mod find_audit;
pub mod outputs;
pub mod step_output;
