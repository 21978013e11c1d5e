//! `warden sandbox`: run one command under a profile's sandbox, with
//! warden's stdin/stdout/stderr, and exit with the command's status. The
//! sandbox is the one every exec of `warden run` gets (same plan, same
//! [`crate::sandbox::launch`]); here warden supervises the command itself
//! ([`crate::sandbox::run_inherited`]), with no async runtime and no second
//! warden executable: the process forks once, and its parent stays as the
//! [`crate::sandbox::guardian`] that sweeps after a SIGKILL.
//!
//! Also the hidden `__sandbox-exec` entry: the per-run sandbox zygote
//! (`--zygote-fd`, [`crate::sandbox::zygote`]) and the one-command
//! supervisor of MCP servers (`--spec-fd/--status-fd`,
//! [`crate::sandbox::supervisor`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::GlobalArgs;
use crate::error::{Error, ExitStatus};
use crate::sandbox::{ExecRequest, SandboxError, SandboxPolicy};

const SANDBOX_HELP: &str = "\
The command runs with Landlock and seccomp applied (no privileges needed):
it reads everywhere except the profile's deny_read paths, writes only in the
workspace (workspace-write), extra writable_roots and a private TMPDIR. Under
sandbox.git = \"commit\" (the default) the whole workspace is writable, .git
included, so commits work; protected paths (.git's config, hooks, info,
modules and worktrees, the .git files of submodule checkouts, .warden,
.github/workflows, ...) are snapshotted and restored after the command, and
each restore is reported. Under \"read-only\" they are never writable. It has
no network
(nor connects to any unix socket) unless the profile says network = \"on\",
and gets a scrubbed environment
(credentials removed). It starts with stdin, stdout and stderr only: every
other descriptor warden inherited (`7<secret`, a make jobserver) is closed.
It holds no capability, even when warden runs as root, and cannot set a
setuid or setgid bit (chmod, open/mknod modes) or a file capability. Of
/dev it may open null, zero, full, random, urandom and ptmx, and the
terminal its stdin/stdout/stderr are (/dev/tty only when that is the
controlling terminal): never another session's terminal; a new
pseudo-terminal cannot be created inside (docs/threat-model.md,
\"Terminals\"). It is killed, with everything it started, after the
profile's sandbox.timeout (or --timeout), or when warden gets SIGINT,
SIGTERM, SIGHUP or SIGQUIT (warden then ends by that same signal). Nothing it
starts outlives it: background processes, `setsid`/`nohup` daemons and deep
chains of processes are killed when the command ends, and when warden itself
is killed, even with SIGKILL (warden runs as two processes for this; only
killing both at once, e.g. `kill -9` of warden's whole process group, leaves
nobody to do it). The command cannot change other processes' limits or
scheduling (prlimit/renice/ionice/taskset/chrt on another pid), use System V
IPC, or (with the network off) open unix datagram sockets.

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

/// Arguments of the hidden supervisor command (internal; warden passes them).
#[derive(Debug, Args)]
pub struct SandboxExecArgs {
    /// Inherited pipe with the length-prefixed JSON spec; stays open as the
    /// control channel (closed: kill the command).
    #[arg(long, requires = "status_fd", conflicts_with = "zygote_fd")]
    pub spec_fd: Option<i32>,
    /// Inherited pipe for the supervisor's JSON-line reports.
    #[arg(long, requires = "spec_fd")]
    pub status_fd: Option<i32>,
    /// Inherited Landlock rulesets built by warden (with --spec-fd).
    #[arg(long, requires = "spec_fd")]
    pub ruleset_fd: Vec<i32>,
    /// Inherited socket: serve as the sandbox zygote of the warden process
    /// on its other end.
    #[arg(long, required_unless_present = "spec_fd")]
    pub zygote_fd: Option<i32>,
}

pub fn exec_supervisor(args: SandboxExecArgs) -> Result<ExitStatus, Error> {
    let code = match (args.zygote_fd, args.spec_fd, args.status_fd) {
        (Some(sock), _, _) => crate::sandbox::zygote::main(sock),
        (None, Some(spec), Some(status)) => {
            crate::sandbox::supervisor::main(spec, status, &args.ruleset_fd)
        }
        _ => {
            return Err(Error::usage(
                "__sandbox-exec: internal command, started by warden",
            ));
        }
    };
    Ok(ExitStatus::Command(code))
}

pub fn run(global: &GlobalArgs, args: SandboxArgs) -> Result<ExitStatus, Error> {
    // A SIGKILL of this process or of the supervisor must still leave one
    // that sweeps what the command starts. Forked first, while the process
    // is small: what the supervisor allocates later is its own, so neither
    // copy-on-write faults nor page tables cost much.
    crate::sandbox::guardian::split().map_err(SandboxError::Supervisor)?;
    let workspace = match &global.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| Error::usage(format!("cannot read the current directory: {e}")))?,
    };
    let settings = crate::config::load_sandbox(&global.load_options(args.profile.as_deref()))?;
    for warning in &settings.diagnostics {
        eprintln!(
            "warden: warning: {}",
            crate::redact::redact(&warning.to_string())
        );
    }
    let policy =
        SandboxPolicy::from_sandbox_config(settings.sandbox_mode, &settings.sandbox, &workspace)?;
    if policy.is_full_access() {
        eprintln!(
            "warden: warning: sandbox_mode = \"danger-full-access\": no Landlock, no seccomp \
             (the environment is still scrubbed)"
        );
    } else if policy.network == crate::config::NetworkMode::On {
        eprintln!("warden: note: network is on for this profile (sandbox.network = \"on\")");
    }
    let req = ExecRequest {
        timeout: args.timeout,
        ..ExecRequest::new(args.command, PathBuf::from(&workspace))
    };
    let out = match crate::sandbox::run_inherited(&policy, &req) {
        Err(SandboxError::Interrupted { signal }) => {
            // Everything is killed and cleaned up: end the way the signal
            // would have ended warden.
            crate::sandbox::supervise::die_by(signal);
            return Ok(ExitStatus::Command(128 + signal));
        }
        other => other?,
    };
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
