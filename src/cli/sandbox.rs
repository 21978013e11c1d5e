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
  warden sandbox -c sandbox.network='\"on\"' -- cargo fetch
  warden sandbox --show-enforcement -- /bin/true";

/// Run a command under a profile's sandbox; exit status is the command's.
#[derive(Debug, Args)]
#[command(after_help = SANDBOX_HELP)]
pub struct SandboxArgs {
    /// Built-in profile at the bottom of the config stack (ci, dev, review,
    /// nightly; default dev).
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
    let (mode, sandbox) = interim::sandbox_config(global, args.profile.as_deref())?;
    let policy = SandboxPolicy::from_sandbox_config(mode, &sandbox, &workspace)?;
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

/// INTERIM, until `crate::config::load` lands from the `config` branch:
/// built-in sandbox defaults per profile name plus the `-c` keys of the
/// sandbox. Anything it cannot honour (`--config`, other keys) is an error,
/// never silently ignored. `.warden/config.toml` is not read yet.
mod interim {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::GlobalArgs;
    use crate::config::{NetworkMode, SandboxConfig, SandboxFallback, SandboxMode};
    use crate::error::Error;

    const DENY_READ: &[&str] = &[
        "~/.ssh",
        "~/.aws",
        "~/.gnupg",
        "~/.config/gh",
        "~/.docker/config.json",
        "~/.netrc",
        "~/.git-credentials",
        "~/.kube",
        "**/.env",
    ];

    pub fn sandbox_config(
        global: &GlobalArgs,
        profile: Option<&str>,
    ) -> Result<(SandboxMode, SandboxConfig), Error> {
        if !global.config.is_empty() {
            return Err(Error::usage(
                "`warden sandbox --config` needs the config loader, which is not merged yet",
            ));
        }
        let mut mode = match profile.unwrap_or("dev") {
            "ci" | "dev" | "nightly" => SandboxMode::WorkspaceWrite,
            "review" => SandboxMode::ReadOnly,
            other => {
                return Err(Error::usage(format!(
                    "unknown profile `{other}` (built-in: ci, dev, review, nightly)"
                )));
            }
        };
        let mut sb = SandboxConfig {
            writable_roots: vec![],
            deny_read: DENY_READ.iter().map(|s| s.to_string()).collect(),
            protected: vec![],
            network: NetworkMode::Off,
            fallback: SandboxFallback::Refuse,
            timeout: Duration::from_secs(600),
            output_limit: 1 << 20,
            env_pass: vec![],
            env_set: BTreeMap::new(),
        };
        for o in &global.overrides {
            let (key, raw) = o
                .split_once('=')
                .ok_or_else(|| Error::usage(format!("-c `{o}`: expected key=value")))?;
            let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(raw.to_string()));
            let bad = || Error::usage(format!("-c {key}: unsupported value `{raw}`"));
            let string = || value.as_str().map(str::to_string).ok_or_else(bad);
            let list = || -> Result<Vec<String>, Error> {
                match &value {
                    toml::Value::Array(a) => a
                        .iter()
                        .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                        .collect(),
                    toml::Value::String(s) => Ok(vec![s.clone()]),
                    _ => Err(bad()),
                }
            };
            match key.trim() {
                "sandbox_mode" => {
                    mode = match string()?.as_str() {
                        "read-only" => SandboxMode::ReadOnly,
                        "workspace-write" => SandboxMode::WorkspaceWrite,
                        "danger-full-access" => SandboxMode::DangerFullAccess,
                        _ => return Err(bad()),
                    }
                }
                "sandbox_fallback" => {
                    sb.fallback = match string()?.as_str() {
                        "refuse" => SandboxFallback::Refuse,
                        "warn" => SandboxFallback::Warn,
                        _ => return Err(bad()),
                    }
                }
                "sandbox.network" => {
                    sb.network = match string()?.as_str() {
                        "on" => NetworkMode::On,
                        "off" => NetworkMode::Off,
                        _ => return Err(bad()),
                    }
                }
                "sandbox.timeout" => {
                    sb.timeout = humantime::parse_duration(&string()?).map_err(|_| bad())?
                }
                "sandbox.output_limit" => {
                    sb.output_limit = value
                        .as_integer()
                        .and_then(|i| usize::try_from(i).ok())
                        .ok_or_else(bad)?
                }
                "sandbox.writable_roots" => sb.writable_roots.extend(list()?),
                "sandbox.deny_read" => sb.deny_read.extend(list()?),
                "sandbox.protected" => sb.protected.extend(list()?),
                "sandbox.env.pass" => sb.env_pass.extend(list()?),
                other => {
                    return Err(Error::usage(format!(
                        "-c {other}: not supported by `warden sandbox` until the config loader \
                         is merged"
                    )));
                }
            }
        }
        Ok((mode, sb))
    }
}
