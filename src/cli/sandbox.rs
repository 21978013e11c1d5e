//! `warden sandbox`: run one command under a profile's sandbox, with
//! warden's stdin/stdout/stderr, and exit with the command's status. Same
//! code path as every exec of `warden run` ([`crate::sandbox::run_inherited`]
//! shares everything with [`crate::sandbox::execute`] but the capture).
//!
//! Also the hidden `__sandbox-exec` helper that applies the sandbox in a
//! fresh process (see [`crate::sandbox::helper`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::GlobalArgs;
use crate::config::LoadOptions;
use crate::error::{Error, ExitStatus};
use crate::sandbox::{ExecRequest, SandboxPolicy, SandboxRuntime};

const SANDBOX_HELP: &str = "\
The command runs with Landlock and seccomp applied (no privileges needed):
it reads everywhere except the profile's deny_read paths, writes only in the
workspace (workspace-write), extra writable_roots and a private TMPDIR, never
in protected paths (.git, .warden, .github/workflows, ...), has no network
unless the profile says network = \"on\", and gets a scrubbed environment
(credentials removed). It is killed, with everything it started, after the
profile's sandbox.timeout (or --timeout).

Exit status: the command's own (128 + N when signal N ended it); 127 when it
cannot be found; 2 for a usage or configuration error; 5 when the kernel
cannot enforce the sandbox (no Landlock) and the profile does not set
sandbox_fallback = \"warn\".

Examples:
  warden sandbox --profile ci -- cargo build --offline
  warden sandbox --profile review --cwd repo -- git status
  warden sandbox -c 'sandbox.network=\"on\"' -- cargo fetch
  warden sandbox --show-enforcement -- /bin/true";

/// Run a command under a profile's sandbox; exit status is the command's.
#[derive(Debug, Args)]
#[command(after_help = SANDBOX_HELP)]
pub struct SandboxArgs {
    /// Built-in profile at the bottom of the config stack (`warden profiles
    /// list`; default dev). The project's `.warden/config.toml`, `--config`
    /// and `-c` layer above it, managed requirements on top.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Timeout for this command instead of the profile's sandbox.timeout
    /// ("30s", "10m").
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// After the command, print what the kernel enforced (JSON) on stderr.
    #[arg(long)]
    pub show_enforcement: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Arguments of the hidden helper (internal; warden passes them).
#[derive(Debug, Args)]
pub struct SandboxExecArgs {
    /// Inherited pipe with the length-prefixed JSON spec; stays open as the
    /// control channel (closed: kill the command).
    #[arg(long)]
    pub spec_fd: i32,
    /// Inherited pipe for the helper's JSON-line reports.
    #[arg(long)]
    pub status_fd: i32,
}

pub fn exec_helper(args: SandboxExecArgs) -> Result<ExitStatus, Error> {
    Ok(ExitStatus::Command(crate::sandbox::helper::main(
        args.spec_fd,
        args.status_fd,
    )))
}

pub fn run(global: &GlobalArgs, args: SandboxArgs) -> Result<ExitStatus, Error> {
    let workspace = match &global.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| Error::usage(format!("cannot read the current directory: {e}")))?,
    };
    let loaded = crate::config::load(&LoadOptions::from_global(global, args.profile.as_deref()))?;
    for warning in &loaded.warnings {
        eprintln!("warden: warning: {}", crate::redact::redact(warning));
    }
    let policy = SandboxPolicy::from_config(&loaded.config, &workspace)?;
    if policy.is_full_access() {
        eprintln!(
            "warden: warning: sandbox_mode = \"danger-full-access\": no Landlock, no seccomp \
             (the environment is still scrubbed)"
        );
    } else if policy.network {
        eprintln!("warden: note: network is on for this profile (sandbox.network = \"on\")");
    }
    let rt = SandboxRuntime::current()?;
    let req = ExecRequest {
        timeout: args.timeout,
        ..ExecRequest::new(args.command, PathBuf::from(&workspace))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::infra(format!("cannot start the async runtime: {e}")))?;
    let out = runtime.block_on(crate::sandbox::run_inherited(&rt, &policy, &req))?;
    for why in &out.enforcement.degraded {
        eprintln!("warden: warning: sandbox degraded (sandbox_fallback = \"warn\"): {why}");
    }
    if out.timed_out {
        eprintln!(
            "warden: `{}` timed out after {}; it and everything it started were killed",
            req.argv[0],
            humantime::format_duration(req.timeout.unwrap_or(policy.timeout))
        );
    }
    for change in &out.protected_changes {
        eprintln!(
            "warden: protected path {} was {} by the command and restored",
            change.path.display(),
            change.change
        );
    }
    if args.show_enforcement {
        let json = serde_json::to_string_pretty(&out.enforcement).map_err(anyhow::Error::from)?;
        eprintln!("{}", crate::redact::redact(&json));
    }
    Ok(ExitStatus::Command(out.shell_status()))
}
