//! `warden mcp list`: start the configured MCP servers (sandboxed, exactly
//! as a run does) and print each tool with its classification and why.

use clap::Subcommand;
use serde::Serialize;
use serde_json::json;

use super::GlobalArgs;
use super::session::{Session, runtime};
use crate::action::ToolAnnotations;
use crate::config::Trust;
use crate::error::{Error, ExitStatus};
use crate::mcp::classify::{Classification, classify};
use crate::mcp::launch::LaunchContext;
use crate::mcp::servers::ServerState;
use crate::mcp::{McpServers, tool_name};
use crate::sandbox::{SandboxPolicy, SandboxRuntime};

const LIST_EXAMPLES: &str = "\
Examples:
  warden mcp list
  warden mcp list --profile ci
  warden mcp list --config team.toml --json

Classes: routine (runs without review: a read-only tool of a trusted server,
or `decision = \"allow\"`); mcp_elicitations (every call is a boundary
crossing: auto-rejected when the profile's `mcp_elicitations` is false,
otherwise reviewed); forbidden (every call is denied); disabled (not offered
to the model). Annotations of untrusted servers are never trusted.

Exit codes: 0 every server started; 5 a server failed to start (the others
are still listed); 2 usage or configuration error.";

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Start the configured MCP servers and list each tool with its
    /// classification (routine, mcp_elicitations, forbidden, disabled).
    #[command(after_help = LIST_EXAMPLES)]
    List {
        /// Built-in profile at the bottom of the config stack (default: dev).
        #[arg(long, value_name = "P")]
        profile: Option<String>,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: McpCommand) -> Result<ExitStatus, Error> {
    match cmd {
        McpCommand::List { profile, json } => list(global, profile.as_deref(), json),
    }
}

#[derive(Debug, Serialize)]
struct ToolRow {
    name: String,
    model_name: String,
    #[serde(flatten)]
    classification: Classification,
    annotations: ToolAnnotations,
    description: String,
}

#[derive(Debug, Serialize)]
struct ServerRow {
    name: String,
    trust: Trust,
    network: bool,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox: Option<String>,
    tools: Vec<ToolRow>,
}

fn list(global: &GlobalArgs, profile: Option<&str>, json: bool) -> Result<ExitStatus, Error> {
    let session = Session::open(global, profile, &[])?;
    let config = &session.loaded.config;
    if config.mcp_servers.is_empty() {
        if json {
            println!("{}", json!({"profile": config.profile, "servers": []}));
        } else {
            println!(
                "no MCP servers configured (profile `{}`); add [mcp_servers.NAME] to a config file",
                config.profile
            );
        }
        return Ok(ExitStatus::Success);
    }
    let ctx = LaunchContext {
        runtime: SandboxRuntime::current().map_err(|e| Error::infra(format!("sandbox: {e}")))?,
        policy: SandboxPolicy::from_config(config, &session.workspace)?,
        workspace: session.workspace.clone(),
    };
    let rt = runtime()?;
    let servers = rt.block_on(McpServers::start(&config.mcp_servers, &ctx));
    let mut rows = Vec::new();
    for (name, state) in servers.states() {
        let cfg = &config.mcp_servers[name];
        let mut row = ServerRow {
            name: name.clone(),
            trust: cfg.trust,
            network: cfg.network,
            status: "running",
            error: None,
            sandbox: None,
            tools: Vec::new(),
        };
        match state {
            ServerState::Failed(why) => {
                row.status = "failed";
                row.error = Some(crate::redact::redact(why));
            }
            ServerState::Running(conn) => {
                row.sandbox = Some(conn.sandbox.clone());
                for tool in &conn.tools {
                    row.tools.push(ToolRow {
                        name: tool.name.clone(),
                        model_name: tool_name(name, &tool.name),
                        classification: classify(
                            &session.pipeline,
                            cfg,
                            name,
                            &tool.name,
                            &tool.annotations,
                        ),
                        annotations: tool.annotations.clone(),
                        description: tool.description.clone(),
                    });
                }
            }
        }
        rows.push(row);
    }
    rt.block_on(servers.shutdown());
    let failed = rows.iter().any(|r| r.status == "failed");
    if json {
        let mut value = json!({"profile": config.profile, "servers": rows});
        crate::redact::redact_json(&mut value);
        println!("{value}");
    } else {
        print!("{}", crate::redact::redact(&render(&config.profile, &rows)));
    }
    Ok(if failed {
        ExitStatus::Infrastructure
    } else {
        ExitStatus::Success
    })
}

/// `read-only`, `destructive`, `open-world`, or `no hints`.
fn hints(a: &ToolAnnotations) -> String {
    let mut out = Vec::new();
    match a.read_only_hint {
        Some(true) => out.push("read-only"),
        Some(false) => out.push("writes"),
        None => {}
    }
    if a.destructive_hint == Some(true) {
        out.push("destructive");
    }
    if a.open_world_hint == Some(true) {
        out.push("open-world");
    }
    if out.is_empty() {
        "no hints".into()
    } else {
        out.join(", ")
    }
}

fn render(profile: &str, rows: &[ServerRow]) -> String {
    let mut out = format!("MCP servers under profile `{profile}`:\n");
    for row in rows {
        let trust = match row.trust {
            Trust::Trusted => "trusted",
            Trust::Untrusted => "untrusted: its annotations are not trusted",
        };
        out.push_str(&format!("\n{} ({trust})", row.name));
        match (&row.error, &row.sandbox) {
            (Some(e), _) => {
                out.push_str(&format!("\n  FAILED TO START: {e}\n"));
                continue;
            }
            (None, Some(sb)) => {
                out.push_str(&format!(": {} tools; sandbox {sb}\n", row.tools.len()))
            }
            (None, None) => out.push('\n'),
        }
        let width = row.tools.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for t in &row.tools {
            let c = &t.classification;
            let then = match (c.class, c.outcome) {
                (crate::mcp::classify::ToolClass::McpElicitations, Some(o)) => {
                    format!(" → {o} ({})", c.layer.map(|l| l.as_str()).unwrap_or("?"))
                }
                (crate::mcp::classify::ToolClass::McpElicitations, None) => " → auto-review".into(),
                _ => String::new(),
            };
            let source = c
                .source
                .as_ref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:width$}  {:17}{then}  ({}) {}{source}\n",
                t.name,
                c.class.as_str(),
                hints(&t.annotations),
                c.reason,
            ));
        }
    }
    out
}
