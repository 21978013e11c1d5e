//! One MCP server: its sandboxed process, the MCP handshake over stdio
//! (rmcp client), its tool list, calls bounded by `tool_timeout`, crash
//! detection and shutdown.
//!
//! Failure handling, so a server can never hang or crash a run:
//! - start: spawn + `initialize` + every page of `tools/list` must finish
//!   within `startup_timeout`; a server that exits, hangs or writes garbage
//!   instead is stopped and reported with its exit status, the malformed
//!   output seen and the last lines of its stderr;
//! - call: bounded by `tool_timeout` (the request is then cancelled); a
//!   server that exits mid-call fails the call at once; after a crash every
//!   later call fails fast: a crashed server is not restarted;
//! - warden answers no server-initiated requests (elicitation, sampling,
//!   roots): a call that needs input fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, Implementation, Tool,
};
use rmcp::service::{Peer, RunningService, ServiceError};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use super::launch::{self, LaunchContext};
use super::wire::{self, StderrTail, WireStats};
use super::{EventSink, ServerEvent, content};
use crate::action::ToolAnnotations;
use crate::config::McpServerConfig;
use crate::redact::Redactor;
use crate::sandbox::Enforcement;
use crate::sandbox::stdio::{ProcessEnd, StdioProcess, spawn_stdio};

/// How long a server gets to exit by itself once its stdin is closed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for a process's exit status after its connection broke.
const EXIT_STATUS_WAIT: Duration = Duration::from_secs(2);
/// Longest tool description offered to the model.
const MAX_DESCRIPTION: usize = 2000;

/// One tool as the server declared it.
#[derive(Debug, Clone)]
pub struct ToolInfo {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    /// As declared; a missing hint is the worst case.
    pub annotations: ToolAnnotations,
}

/// A running server.
pub struct Connection {
    pub name: String,
    pub tools: Vec<ToolInfo>,
    pub enforcement: Enforcement,
    /// "workspace-write, network off".
    pub sandbox: String,
    tool_timeout: Duration,
    peer: Peer<RoleClient>,
    service: Mutex<Option<RunningService<RoleClient, ClientConfig>>>,
    process: Mutex<StdioProcess>,
    ended: watch::Receiver<Option<ProcessEnd>>,
    wire: Arc<WireStats>,
    stderr: Arc<StderrTail>,
    redactor: Arc<Redactor>,
    events: EventSink,
    end_reported: AtomicBool,
    shutting_down: AtomicBool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("name", &self.name)
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

fn client_config() -> ClientConfig {
    // No sampling, roots or elicitation capability: warden answers nothing
    // a server asks for.
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("warden", env!("CARGO_PKG_VERSION")),
    )
}

/// Convert rmcp's annotations (all hints optional) into the action model's.
pub fn annotations_of(tool: &Tool) -> ToolAnnotations {
    let Some(a) = &tool.annotations else {
        return ToolAnnotations::default();
    };
    ToolAnnotations {
        read_only_hint: a.read_only_hint,
        destructive_hint: a.destructive_hint,
        idempotent_hint: a.idempotent_hint,
        open_world_hint: a.open_world_hint,
    }
}

fn tool_info(tool: &Tool) -> ToolInfo {
    let mut description: String = tool
        .description
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(MAX_DESCRIPTION)
        .collect();
    if description.is_empty() {
        description = tool.title.clone().unwrap_or_default();
    }
    ToolInfo {
        name: tool.name.to_string(),
        description,
        input_schema: Value::Object((*tool.input_schema).clone()),
        annotations: annotations_of(tool),
    }
}

/// Text for a start failure: what happened, the exit status if the process
/// ended, malformed output and the last stderr lines.
fn start_failure(
    what: String,
    end: Option<ProcessEnd>,
    wire: &WireStats,
    stderr: &StderrTail,
) -> String {
    let mut parts = vec![];
    match end {
        Some(ProcessEnd {
            exec_error: Some(e),
            ..
        }) => parts.push(format!(
            "{e} (is it installed, and on the PATH the sandbox passes?)"
        )),
        Some(end) => parts.push(format!("the server {} during start-up", end.describe())),
        None => parts.push(what),
    }
    if let Some(m) = wire.describe_since(0) {
        parts.push(m);
    }
    if let Some(s) = stderr.describe() {
        parts.push(format!("its stderr ended with: {s}"));
    }
    parts.join("; ")
}

impl Connection {
    /// Start server `name`, complete the handshake and list its tools, all
    /// within its `startup_timeout`.
    pub async fn start(
        name: &str,
        cfg: &McpServerConfig,
        ctx: &LaunchContext,
        events: EventSink,
    ) -> Result<Connection, String> {
        if let Some(problem) = super::server_name_problem(name) {
            return Err(problem);
        }
        let deadline = Instant::now() + cfg.startup_timeout;
        let timeout_text = || {
            format!(
                "no answer within {} (startup_timeout)",
                humantime::format_duration(cfg.startup_timeout)
            )
        };
        let (request, policy) = launch::plan(cfg, ctx)?;
        let mut process =
            tokio::time::timeout_at(deadline, spawn_stdio(&ctx.runtime, &policy, &request))
                .await
                .map_err(|_| format!("the sandbox did not start: {}", timeout_text()))?
                .map_err(|e| format!("cannot start `{}` in the sandbox: {e}", cfg.command))?;
        let sandbox = launch::describe_sandbox(&policy, process.enforcement.sandboxed);

        let redactor = Arc::new(Redactor::new(cfg.env.iter()));
        let wire = Arc::new(WireStats::default());
        let stderr = Arc::new(StderrTail::default());
        if let Some(err) = process.stderr.take() {
            wire::log_stderr(name.to_owned(), err, stderr.clone(), redactor.clone());
        }
        let (Some(stdout), Some(stdin)) = (process.stdout.take(), process.stdin.take()) else {
            return Err("internal: the server's stdio pipes are missing".into());
        };
        let reader = wire::filter_stdout(
            name.to_owned(),
            stdout,
            wire.clone(),
            redactor.clone(),
            events.clone(),
        );
        let ended = process.end_watch();

        let handshake = async {
            let service = client_config()
                .serve((reader, stdin))
                .await
                .map_err(|e| format!("MCP handshake failed: {}", short(&e.to_string())))?;
            let tools = service
                .peer()
                .list_all_tools()
                .await
                .map_err(|e| format!("tools/list failed: {}", short(&e.to_string())))?;
            Ok::<_, String>((service, tools))
        };
        let mut ended_rx = ended.clone();
        let outcome = tokio::select! {
            r = tokio::time::timeout_at(deadline, handshake) => match r {
                Ok(r) => r,
                Err(_) => Err(timeout_text()),
            },
            _ = ended_rx.wait_for(|e| e.is_some()) => Err("the server exited during start-up".into()),
        };
        match outcome {
            Ok((service, tools)) => Ok(Connection {
                name: name.to_owned(),
                tools: tools.iter().map(tool_info).collect(),
                enforcement: process.enforcement.clone(),
                sandbox,
                tool_timeout: cfg.tool_timeout,
                peer: service.peer().clone(),
                service: Mutex::new(Some(service)),
                process: Mutex::new(process),
                ended,
                wire,
                stderr,
                redactor,
                events,
                end_reported: AtomicBool::new(false),
                shutting_down: AtomicBool::new(false),
            }),
            Err(what) => {
                // Give a dying process a moment to report why.
                let end = process.wait_for_end(Duration::from_millis(300)).await;
                let end = match end {
                    Some(end) => Some(end),
                    None => {
                        process.terminate(Duration::ZERO).await;
                        None
                    }
                };
                stderr.wait_closed(EXIT_STATUS_WAIT).await;
                Err(start_failure(what, end, &wire, &stderr))
            }
        }
    }

    /// The tool named `tool`, if the server listed it.
    pub fn tool(&self, tool: &str) -> Option<&ToolInfo> {
        self.tools.iter().find(|t| t.name == tool)
    }

    /// Whether the process has ended (crashed or exited).
    pub fn has_ended(&self) -> Option<ProcessEnd> {
        self.ended.borrow().clone()
    }

    /// Record the end of the process in the audit events, once.
    pub fn report_end(&self) {
        let Some(end) = self.has_ended() else { return };
        if self.shutting_down.load(Ordering::SeqCst)
            || self.end_reported.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let status = if end.code == Some(0) {
            "exited"
        } else {
            "crashed"
        };
        self.events.push(ServerEvent {
            server: self.name.clone(),
            status: status.into(),
            detail: self.ended_text(&end),
        });
    }

    fn ended_text(&self, end: &ProcessEnd) -> String {
        let mut text = format!("the server {}", end.describe());
        if let Some(m) = self.wire.describe_since(0) {
            text.push_str(&format!("; {m}"));
        }
        if let Some(s) = self.stderr.describe() {
            text.push_str(&format!("; its stderr ended with: {s}"));
        }
        text
    }

    /// Why `tool` cannot be called (the server ended, or has no such
    /// tool), if it cannot.
    pub fn unavailable(&self, tool: &str) -> Option<String> {
        let name = &self.name;
        if let Some(end) = self.has_ended() {
            self.report_end();
            return Some(format!(
                "MCP server `{name}` is no longer running ({}); its tools are unavailable for the rest of this run",
                self.ended_text(&end)
            ));
        }
        if self.tool(tool).is_none() {
            return Some(format!("MCP server `{name}` has no tool `{tool}`"));
        }
        None
    }

    /// Call `tool` with `arguments` (a JSON object or null). The answer,
    /// either way, has the server's own secrets (its configured `env`
    /// values) redacted: neither the model nor the audit log needs them.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<String, String> {
        let redact = |t: String| self.redactor.redact(&t).into_owned();
        self.call_unredacted(tool, arguments)
            .await
            .map(redact)
            .map_err(redact)
    }

    async fn call_unredacted(&self, tool: &str, arguments: Value) -> Result<String, String> {
        let name = &self.name;
        if let Some(why) = self.unavailable(tool) {
            return Err(why);
        }
        let mut params = CallToolRequestParams::new(tool.to_owned());
        match arguments {
            Value::Object(map) => params = params.with_arguments(map),
            Value::Null => {}
            other => {
                return Err(format!(
                    "the arguments of an MCP tool must be a JSON object, not `{other}`"
                ));
            }
        }
        let malformed_before = self.wire.malformed();
        let mut ended = self.ended.clone();
        let answer = tokio::select! {
            r = tokio::time::timeout(self.tool_timeout, self.peer.call_tool_once(params)) => r,
            _ = ended.wait_for(|e| e.is_some()) => Ok(Err(ServiceError::TransportClosed)),
        };
        match answer {
            Ok(Ok(CallToolResponse::Complete(result))) => {
                let text = content::render(&result);
                if result.is_error == Some(true) {
                    Err(format!("the tool reported an error: {text}"))
                } else {
                    Ok(text)
                }
            }
            Ok(Ok(CallToolResponse::InputRequired(_))) => Err(
                "the server asked for more input (an elicitation); warden answers no server requests in a headless run"
                    .into(),
            ),
            Ok(Ok(CallToolResponse::Task(_))) => Err(
                "the server answered with a long-running task; warden does not poll MCP tasks"
                    .into(),
            ),
            Ok(Ok(_)) => Err("the server answered with an unknown kind of result".into()),
            Ok(Err(ServiceError::McpError(e))) => Err(format!(
                "the server answered with error {}: {}",
                e.code.0,
                short(&e.message)
            )),
            Ok(Err(e)) => {
                // The connection broke: most likely the process died.
                match self.wait_end().await {
                    Some(end) => {
                        self.report_end();
                        Err(format!(
                            "MCP server `{name}` stopped during the call: {}",
                            self.ended_text(&end)
                        ))
                    }
                    None => Err(format!(
                        "the connection to MCP server `{name}` failed: {}",
                        short(&e.to_string())
                    )),
                }
            }
            Err(_) => {
                let mut why = format!(
                    "no answer within {} (tool_timeout); the call was cancelled",
                    humantime::format_duration(self.tool_timeout)
                );
                if let Some(m) = self.wire.describe_since(malformed_before) {
                    why.push_str(&format!("; {m}"));
                }
                self.events.push(ServerEvent {
                    server: name.clone(),
                    status: "tool_timeout".into(),
                    detail: format!("{tool}: {why}"),
                });
                Err(why)
            }
        }
    }

    /// Wait briefly for the process to end, and then for its last stderr
    /// lines, after the connection broke.
    async fn wait_end(&self) -> Option<ProcessEnd> {
        let mut rx = self.ended.clone();
        let end = tokio::time::timeout(EXIT_STATUS_WAIT, async {
            rx.wait_for(|e| e.is_some())
                .await
                .ok()
                .and_then(|e| e.clone())
        })
        .await
        .ok()
        .flatten();
        if end.is_some() {
            self.stderr.wait_closed(EXIT_STATUS_WAIT).await;
        }
        end
    }

    /// Close the connection (the server sees EOF on stdin), give the server
    /// a moment to exit, then have the sandbox kill it.
    pub async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        if let Some(service) = self.service.lock().await.take() {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, service.cancel()).await;
        }
        self.process.lock().await.terminate(SHUTDOWN_GRACE).await;
    }
}

/// An error text from a server or rmcp, shortened and redacted (it may
/// quote a whole message).
fn short(text: &str) -> String {
    let text = crate::redact::redact(text);
    let mut out: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}
