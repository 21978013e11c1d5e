//! Errors of the sandbox layer and the exit status each maps to.
//!
//! A kernel that cannot enforce the requested sandbox is an infrastructure
//! failure (exit 5), never a silent downgrade; a profile whose paths or
//! globs make no sense is a configuration error (exit 2).

use crate::error::Error;

/// Why a sandboxed command could not be run (its own failure is not an
/// error: it is an [`super::ExecOutput`] with a non-zero exit code).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The kernel cannot enforce what the profile asks for and the profile
    /// does not allow a fallback. Names the missing kernel feature.
    #[error(
        "refusing to run `{command}`: {feature}\n  help: run on a kernel with Landlock enabled \
         (Linux 5.13+, `lsm=...,landlock` on the kernel command line), or set \
         `sandbox_fallback = \"warn\"` in the profile to run with a weaker sandbox (recorded)"
    )]
    Unsupported { command: String, feature: String },
    /// The profile's sandbox settings cannot be resolved (bad path or glob).
    #[error("sandbox configuration: {0}")]
    Config(String),
    /// The request itself is unusable (empty argv, missing cwd).
    #[error("{0}")]
    Request(String),
    /// Spawning or talking to the sandbox supervisor failed (nothing ran).
    #[error("sandbox helper: {0}")]
    Supervisor(String),
    /// `warden sandbox` got this termination signal: the command and
    /// everything it started were killed; the caller should die by it.
    #[error("interrupted by signal {signal}; the command and everything it started were killed")]
    Interrupted { signal: i32 },
    /// A guarded protected path (`.git/hooks`, a submodule's config…) was
    /// changed by the command and warden could not put it back: later,
    /// unsandboxed steps must not trust the checkout (exit 5).
    #[error(
        "the command changed protected paths that warden could not restore: {}; \
         do not run git or later steps on this checkout before checking them",
        list(changes)
    )]
    Unrestored {
        changes: Vec<super::ProtectedChange>,
    },
    /// An earlier warden was killed while a command ran in this workspace,
    /// and protected paths differ from what its journal recorded (exit 5):
    /// only the user can tell a plant from their own later edit.
    #[error(
        "an earlier warden was stopped while a command ran in {}, and protected paths differ from \
         what it recorded: {}; run `warden recover` to restore them, or `warden recover --discard` \
         to keep them as they are",
        workspace.display(),
        changes.iter().map(|c| format!("{} ({})", c.path.display(), c.change)).collect::<Vec<_>>().join(", ")
    )]
    Unverified {
        workspace: std::path::PathBuf,
        changes: Vec<super::ProtectedChange>,
    },
}

fn list(changes: &[super::ProtectedChange]) -> String {
    changes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<SandboxError> for Error {
    fn from(e: SandboxError) -> Self {
        match e {
            SandboxError::Config(_) | SandboxError::Request(_) => Error::Usage(e.to_string()),
            SandboxError::Unsupported { .. }
            | SandboxError::Supervisor(_)
            | SandboxError::Interrupted { .. }
            | SandboxError::Unrestored { .. }
            | SandboxError::Unverified { .. } => Error::Infrastructure(e.to_string()),
        }
    }
}
