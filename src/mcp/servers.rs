//! [`McpServers`]: every configured MCP server of a run, started together
//! (each bounded by its own `startup_timeout`), offered to the agent loop
//! through [`McpTools`], and stopped together at the end.
//!
//! A server that fails to start does not stop the run: its tools are not
//! offered, a call to one of them is a tool error, and the failure is an
//! audit event (`mcp_server`, status `failed_to_start`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::connection::Connection;
use super::launch::LaunchContext;
use super::{EventSink, McpFuture, McpTools, ServerEvent, is_valid_model_tool_name, tool_name};
use crate::action::ToolAnnotations;
use crate::config::McpServerConfig;
use crate::model::ToolSpec;
use crate::policy::pipeline::mcp_tool_enabled;

/// One configured server.
#[derive(Debug)]
pub enum ServerState {
    Running(Arc<Connection>),
    /// It could not be started (why).
    Failed(String),
}

/// The MCP servers of one run.
#[derive(Debug, Default)]
pub struct McpServers {
    configs: BTreeMap<String, McpServerConfig>,
    states: BTreeMap<String, ServerState>,
    events: EventSink,
}

impl McpServers {
    /// Start every server in `configs` concurrently. Never fails as a whole:
    /// each server ends up running or failed (with an event either way).
    pub async fn start(configs: &BTreeMap<String, McpServerConfig>, ctx: &LaunchContext) -> Self {
        let events = EventSink::default();
        let mut tasks = tokio::task::JoinSet::new();
        for (name, cfg) in configs {
            let (name, cfg, ctx, events) = (name.clone(), cfg.clone(), ctx.clone(), events.clone());
            tasks.spawn(async move {
                let r = Connection::start(&name, &cfg, &ctx, events).await;
                (name, r)
            });
        }
        let mut states = BTreeMap::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((name, result)) = joined else {
                continue; // a panicked start: reported below as missing
            };
            let state = match result {
                Ok(conn) => ServerState::Running(Arc::new(conn)),
                Err(why) => ServerState::Failed(why),
            };
            states.insert(name, state);
        }
        for name in configs.keys() {
            states
                .entry(name.clone())
                .or_insert_with(|| ServerState::Failed("internal: the start task failed".into()));
        }
        let servers = McpServers {
            configs: configs.clone(),
            states,
            events,
        };
        for (name, state) in &servers.states {
            let (status, detail) = match state {
                ServerState::Running(conn) => ("started", servers.started_detail(conn)),
                ServerState::Failed(why) => ("failed_to_start", why.clone()),
            };
            match state {
                ServerState::Running(_) => {
                    tracing::info!(target: "warden::mcp", server = %name, "{detail}")
                }
                ServerState::Failed(_) => {
                    tracing::warn!(target: "warden::mcp", server = %name, "failed to start: {detail}")
                }
            }
            servers.events.push(ServerEvent {
                server: name.clone(),
                status: status.into(),
                detail,
            });
        }
        servers
    }

    fn started_detail(&self, conn: &Connection) -> String {
        let cfg = &self.configs[&conn.name];
        let disabled = conn
            .tools
            .iter()
            .filter(|t| !mcp_tool_enabled(cfg, &t.name))
            .count();
        let unusable: Vec<&str> = conn
            .tools
            .iter()
            .filter(|t| !is_valid_model_tool_name(&tool_name(&conn.name, &t.name)))
            .map(|t| t.name.as_str())
            .collect();
        let mut detail = format!(
            "{} tools, {} offered; sandbox: {}",
            conn.tools.len(),
            self.offered(conn).count(),
            conn.sandbox
        );
        if disabled > 0 {
            detail.push_str(&format!("; {disabled} disabled by configuration"));
        }
        // Names in the config that the server does not have: usually a typo
        // that silently disables or fails to override a tool.
        let mut unknown: Vec<&str> = cfg
            .enabled_tools
            .iter()
            .flatten()
            .chain(&cfg.disabled_tools)
            .chain(cfg.tools.keys())
            .map(String::as_str)
            .filter(|name| conn.tool(name).is_none())
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if !unknown.is_empty() {
            detail.push_str(&format!(
                "; configured tools the server does not have: {}",
                unknown.join(", ")
            ));
        }
        if !unusable.is_empty() {
            detail.push_str(&format!(
                "; not offered (name not usable as a model tool name): {}",
                unusable.join(", ")
            ));
        }
        detail
    }

    /// The tools of `conn` offered to the model.
    fn offered<'a>(
        &'a self,
        conn: &'a Connection,
    ) -> impl Iterator<Item = &'a super::connection::ToolInfo> + 'a {
        let cfg = &self.configs[&conn.name];
        conn.tools.iter().filter(move |t| {
            mcp_tool_enabled(cfg, &t.name)
                && is_valid_model_tool_name(&tool_name(&conn.name, &t.name))
        })
    }

    /// Every configured server and its state, by name.
    pub fn states(&self) -> &BTreeMap<String, ServerState> {
        &self.states
    }

    /// The configuration of server `name`.
    pub fn config(&self, name: &str) -> Option<&McpServerConfig> {
        self.configs.get(name)
    }

    /// Stop every running server.
    pub async fn shutdown(&self) {
        let mut tasks = tokio::task::JoinSet::new();
        for state in self.states.values() {
            if let ServerState::Running(conn) = state {
                let conn = conn.clone();
                tasks.spawn(async move { conn.shutdown().await });
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn call_inner(
        &self,
        server: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<String, String> {
        match self.states.get(server) {
            None => Err(format!("MCP server `{server}` is not configured")),
            Some(ServerState::Failed(why)) => Err(format!(
                "MCP server `{server}` is not running: it failed to start ({why})"
            )),
            Some(ServerState::Running(conn)) => conn.call(tool, arguments).await,
        }
    }
}

impl McpTools for McpServers {
    fn specs(&self) -> Vec<ToolSpec> {
        let mut specs = Vec::new();
        for state in self.states.values() {
            let ServerState::Running(conn) = state else {
                continue;
            };
            for tool in self.offered(conn) {
                specs.push(ToolSpec {
                    name: tool_name(&conn.name, &tool.name),
                    description: format!("(MCP server `{}`) {}", conn.name, tool.description),
                    parameters: tool.input_schema.clone(),
                });
            }
        }
        specs
    }

    fn annotations(&self, server: &str, tool: &str) -> ToolAnnotations {
        match self.states.get(server) {
            Some(ServerState::Running(conn)) => conn
                .tool(tool)
                .map(|t| t.annotations.clone())
                .unwrap_or_default(),
            _ => ToolAnnotations::default(),
        }
    }

    fn call<'a>(&'a self, server: &'a str, tool: &'a str, arguments: Value) -> McpFuture<'a> {
        Box::pin(self.call_inner(server, tool, arguments))
    }

    fn unavailable(&self, server: &str, tool: &str) -> Option<String> {
        match self.states.get(server) {
            None => Some(format!("MCP server `{server}` is not configured")),
            Some(ServerState::Failed(why)) => Some(format!(
                "MCP server `{server}` is not running: it failed to start ({why})"
            )),
            Some(ServerState::Running(conn)) => conn.unavailable(tool),
        }
    }

    fn take_events(&self) -> Vec<ServerEvent> {
        for state in self.states.values() {
            if let ServerState::Running(conn) = state {
                conn.report_end();
            }
        }
        self.events.take()
    }
}
