//! Process exit codes and the top-level error type that maps to them.
//!
//! Exit codes (also in the README and `warden --help`):
//! 0 done · 1 the agent did not finish · 2 usage or configuration error ·
//! 3 circuit breaker tripped · 4 stopped for a human · 5 infrastructure.
//! `warden check` uses 0 allowed, 1 denied, 4 escalated.

use std::fmt;

/// A documented process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done (or, for `check`, allowed).
    Success,
    /// 1: the agent did not finish (budget, task error); `check`: denied;
    /// `policy test`: a fixture mismatched; `audit verify`: broken chain.
    Failure,
    /// 2: usage or configuration error.
    Usage,
    /// 3: the circuit breaker tripped.
    Breaker,
    /// 4: stopped for a human (escalation pending).
    Human,
    /// 5: infrastructure: model API, GitHub API when required, kernel
    /// without the sandbox features the profile needs.
    Infrastructure,
    /// `warden sandbox`: the sandboxed command's own exit status (a signal
    /// is reported as 128 + its number, like a shell).
    Command(i32),
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Breaker => 3,
            ExitStatus::Human => 4,
            ExitStatus::Infrastructure => 5,
            ExitStatus::Command(code) => code,
        }
    }
}

/// An error that ends a warden command, with the exit status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags, bad input files (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Bad configuration: every error of the load, each formatted with
    /// file:line:col and its excerpt (exit 2).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// An outside service or the kernel failed us (exit 5).
    #[error("{0}")]
    Infrastructure(String),
    /// Anything else is a bug or an I/O failure: report it as infrastructure.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    pub fn usage(msg: impl fmt::Display) -> Self {
        Error::Usage(msg.to_string())
    }

    pub fn infra(msg: impl fmt::Display) -> Self {
        Error::Infrastructure(msg.to_string())
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Usage(_) | Error::Config(_) => ExitStatus::Usage,
            Error::Infrastructure(_) | Error::Other(_) => ExitStatus::Infrastructure,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
