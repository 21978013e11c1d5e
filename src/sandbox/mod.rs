//! The sandbox: every command warden runs goes through [`execute`] (the
//! agent's tools), [`stdio::spawn_stdio`] (MCP servers) or
//! [`run_inherited`] (`warden sandbox`). All three start the command with
//! [`launch`]: warden builds the Landlock ruleset (filesystem, TCP, signal
//! scoping) and the seccomp program (non-unix sockets, io_uring, ptrace…)
//! beforehand; the command's process, created like `posix_spawn` creates
//! one, applies them, drops capabilities and `execve`s, making only system
//! calls in between. The process that starts it stays as its supervisor
//! (timeout, descendant sweep): warden itself for `warden sandbox`
//! ([`run_inherited`](mod@run_inherited)), a fork of the per-process [`zygote`] for `warden run`, a
//! fresh `__sandbox-exec` process for MCP servers ([`supervisor`]).
//!
//! Between the commands of one `warden run`, deny-read expansion, plan and
//! ruleset are reused while inotify shows nothing they depend on changed
//! ([`deny`], [`plan_cache`], [`prepare`]).
//!
//! Unprivileged by design: no user namespaces, no setuid, nothing a hosted
//! runner or a container does not allow. Fail closed: a kernel that cannot
//! enforce the requested features is a refusal ([`SandboxError::Unsupported`],
//! exit 5) unless the profile says `sandbox_fallback = "warn"`.
//!
//! Map of the module:
//! - [`resolve`]: profile settings resolved against a workspace into absolute paths ([`SandboxPolicy`]);
//! - [`prepare`] and [`plan`]: one command's writable set and Landlock rules;
//!   [`devices`]: the device nodes (and terminals) a command may open;
//! - [`deny`]: deny-read globs expanded (cached, kept exact with inotify);
//! - [`plan_cache`], [`inotify`]: reuse between commands; [`tmp`]: private
//!   temp dirs;
//! - [`env`](mod@env): the scrubbed child environment;
//! - [`launch`], [`landlock_apply`], [`seccomp`] (with `seccomp_prefix`, `seccomp_cross`,
//!   written with the classic-BPF assembler `bpf`), [`caps`]: applying it;
//! - [`supervise`]: waiting, timeouts, the descendant sweep;
//! - [`run_inherited`](mod@run_inherited): `warden sandbox`, with its [`guardian`]; [`zygote`], [`supervisor`], [`spec`]: the
//!   supervisor process of `warden run` and MCP servers;
//! - [`exec`], [`output`]: warden's side (timeout, capture);
//! - [`enforcement`]: what was enforced and the fail-closed verdict;
//! - [`refusal`]: escalation detection, and [`write_scope`]: why a write is
//!   refused and whether escalating can help (the hint the agent gets);
//!   [`guard`]: protected-path snapshots
//!   (`guard_scope`: what a snapshot of a git directory covers);
//! - [`git_credentials`]: tokens a checkout left readable in git's config;
//!   `git_links`: the `.git` files of submodule and worktree checkouts;
//!   [`git_commits`] (with `git_ref_state`): commits, branches, stashes and
//!   staged entries of protected paths, put back after each command;
//!   `git_cmd`: the one hardened way warden runs git itself.
//!
//! What it stops and what it does not: docs/threat-model.md.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod account_home;
mod bpf;
pub mod caps;
pub mod child_report;
mod commit_guard;
pub mod deny;
pub mod deny_links;
pub mod deny_match;
pub mod devices;
pub mod enforcement;
pub mod env;
mod error;
pub mod exec;
mod git_cmd;
pub mod git_commits;
pub mod git_config;
pub mod git_credentials;
mod git_links;
mod git_nested;
mod git_ref_state;
mod grant_paths;
pub mod guard;
mod guard_cache;
mod guard_scope;
mod guard_swap;
pub mod guardian;
pub mod inotify;
pub mod journal;
pub mod landlock_apply;
pub mod launch;
mod listing;
pub mod network;
pub mod output;
pub mod plan;
pub mod plan_cache;
pub mod prepare;
pub mod refusal;
pub mod resolve;
pub mod run_inherited;
pub mod seccomp;
mod seccomp_cross;
mod seccomp_prefix;
pub mod spec;
pub mod stdio;
pub mod supervise;
pub mod supervisor;
pub mod tmp;
pub mod tracked;
pub mod write_scope;
pub mod zygote;

pub use enforcement::{Enforcement, LandlockState};
pub use error::SandboxError;
pub use exec::execute;
pub use guard::ProtectedChange;
pub use refusal::{Refusal, RefusalKind};
pub use resolve::SandboxPolicy;
pub use run_inherited::run_inherited;

/// Where the warden executable is (the zygote and the MCP servers'
/// supervisors are warden itself). Library tests point this at
/// `env!("CARGO_BIN_EXE_warden")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxRuntime {
    pub warden_exe: PathBuf,
}

impl SandboxRuntime {
    /// The running executable.
    pub fn current() -> Result<Self, SandboxError> {
        let warden_exe = std::env::current_exe().map_err(|e| {
            SandboxError::Supervisor(format!("cannot find the warden executable: {e}"))
        })?;
        Ok(SandboxRuntime { warden_exe })
    }
}

/// One command to run sandboxed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// What an approval or allow rule grants this one command.
    pub grants: crate::decision::Grants,
    /// Overrides the profile's `sandbox.timeout`.
    pub timeout: Option<Duration>,
    /// Bytes for stdin; `None` gives the command `/dev/null`.
    pub stdin: Option<Vec<u8>>,
}

impl ExecRequest {
    /// A request with no grants, no stdin and the profile's timeout.
    pub fn new(argv: Vec<String>, cwd: impl Into<PathBuf>) -> Self {
        ExecRequest {
            argv,
            cwd: cwd.into(),
            grants: Default::default(),
            timeout: None,
            stdin: None,
        }
    }
}

/// What happened, for the agent and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    /// The command's exit code (`None` when a signal ended it).
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Output went over `sandbox.output_limit` and was cut (marker added).
    pub truncated: bool,
    /// The timeout fired; the command and everything it started were killed.
    pub timed_out: bool,
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    /// Accesses the sandbox refused, as far as the output shows: each is a
    /// candidate `sandbox_approval` boundary crossing.
    pub refusals: Vec<Refusal>,
    /// What the kernel enforced (and any degradation), for the audit log.
    pub enforcement: Enforcement,
    /// Guarded protected paths the command changed (all restored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_changes: Vec<ProtectedChange>,
}

impl ExecOutput {
    /// Exit status the way a shell reports it (128 + signal).
    pub fn shell_status(&self) -> i32 {
        match (self.exit_code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 1,
        }
    }

    /// Whether the command succeeded.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
