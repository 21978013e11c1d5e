//! What an MCP server is started with.
//!
//! - argv: `command` then `args`; a bare command name is looked up on the
//!   sandbox's `PATH`; `~` expands against `$HOME`.
//! - cwd: `cwd` relative to the workspace (default: the workspace).
//! - environment: the sandbox's scrubbed environment (allow-list, no
//!   credentials), `[sandbox.env] set`, then the server's own `env`, which
//!   is passed as written: the operator named those variables for it.
//!   warden's own environment is never passed wholesale.
//! - sandbox: the profile's filesystem rules (writable roots, deny-read,
//!   protected paths), and network only when the server's `network = true`,
//!   whatever the profile's `sandbox.network` says.

use std::path::PathBuf;

use crate::config::{McpServerConfig, NetworkMode};
use crate::sandbox::resolve::expand_tilde;
use crate::sandbox::stdio::StdioRequest;
use crate::sandbox::{SandboxPolicy, SandboxRuntime};

/// What every server of a run is started against.
#[derive(Debug, Clone)]
pub struct LaunchContext {
    /// The warden executable (the sandbox helper).
    pub runtime: SandboxRuntime,
    /// The profile's sandbox for this workspace.
    pub policy: SandboxPolicy,
    pub workspace: PathBuf,
}

/// The sandboxed start request and the sandbox for server `cfg`.
pub fn plan(
    cfg: &McpServerConfig,
    ctx: &LaunchContext,
) -> Result<(StdioRequest, SandboxPolicy), String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let expand = |raw: &str, what: &str| {
        expand_tilde(raw, home.as_deref())
            .ok_or_else(|| format!("{what} `{raw}` starts with `~` but HOME is not set"))
    };
    let command = expand(&cfg.command, "command")?;
    let cwd = match &cfg.cwd {
        Some(dir) => ctx.workspace.join(expand(&dir.to_string_lossy(), "cwd")?),
        None => ctx.workspace.clone(),
    };
    if !cwd.is_dir() {
        return Err(format!(
            "working directory `{}` (cwd) is not an existing directory",
            cwd.display()
        ));
    }
    let mut argv = vec![command.to_string_lossy().into_owned()];
    argv.extend(cfg.args.iter().cloned());
    let mut policy = ctx.policy.clone();
    policy.network = if cfg.network {
        NetworkMode::On
    } else {
        NetworkMode::Off
    };
    Ok((
        StdioRequest {
            argv,
            cwd,
            grants: Default::default(),
            env: cfg.env.clone(),
        },
        policy,
    ))
}

/// "workspace-write, network off" for events and `warden mcp list`.
pub fn describe_sandbox(policy: &SandboxPolicy, sandboxed: bool) -> String {
    let mode = if sandboxed {
        policy.mode.as_str()
    } else {
        "unsandboxed"
    };
    let net = if policy.network == NetworkMode::On || !sandboxed {
        "network on"
    } else {
        "network off"
    };
    format!("{mode}, {net}")
}
