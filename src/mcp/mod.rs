//! MCP servers: their tools are offered to the model as `mcp__SERVER__TOOL`
//! and every call goes through the pipeline as an `mcp` action.
//!
//! Map of the module:
//! - [`servers`]: [`McpServers`], every configured server of a run, started
//!   together, implementing [`McpTools`] for the agent loop;
//! - [`connection`]: one server: sandboxed process, MCP handshake, tool
//!   list, calls with timeouts, crash detection, shutdown;
//! - [`launch`]: what a server is started with (argv, cwd, env, sandbox);
//! - [`wire`]: the server's stdout (malformed-message filter) and stderr
//!   (redacted log);
//! - [`content`]: a tool result as text for the model;
//! - [`classify`]: each tool's classification, as `warden mcp list` shows it.
//!
//! Docs: docs/mcp.md.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

pub mod classify;
pub mod connection;
pub mod content;
pub mod launch;
pub mod servers;
pub mod wire;

pub use servers::McpServers;

use crate::action::ToolAnnotations;
use crate::model::ToolSpec;

/// The model-facing name of an MCP tool.
pub fn tool_name(server: &str, tool: &str) -> String {
    format!("mcp__{server}__{tool}")
}

/// Split `mcp__SERVER__TOOL`; `None` for any other name.
pub fn parse_tool_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("mcp__")?;
    let (server, tool) = rest.split_once("__")?;
    (!server.is_empty() && !tool.is_empty()).then_some((server, tool))
}

/// Longest model-facing tool name the model APIs accept.
pub const MAX_TOOL_NAME: usize = 64;

/// Whether `name` can be offered to the model APIs as a tool name
/// (`^[A-Za-z0-9_-]{1,64}$`).
pub fn is_valid_model_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Why a configured server name cannot be used, if it cannot: tool names
/// are `mcp__SERVER__TOOL`, so a server name must survive that split.
pub fn server_name_problem(name: &str) -> Option<String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Some(format!(
            "MCP server name `{name}` may only contain letters, digits, `_` and `-`"
        ));
    }
    if name.contains("__") || name.ends_with('_') {
        return Some(format!(
            "MCP server name `{name}` may not contain `__` or end with `_` (tools are named mcp__SERVER__TOOL)"
        ));
    }
    None
}

/// Something that happened to a server, for the audit log
/// (`Event::McpServer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEvent {
    pub server: String,
    /// `started`, `failed_to_start`, `crashed`, `exited`, `tool_timeout`,
    /// `malformed_message`.
    pub status: String,
    pub detail: String,
}

/// Events waiting to be written to the audit log by the agent loop.
#[derive(Debug, Clone, Default)]
pub struct EventSink(Arc<Mutex<Vec<ServerEvent>>>);

impl EventSink {
    pub fn push(&self, event: ServerEvent) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event);
        }
    }

    pub fn take(&self) -> Vec<ServerEvent> {
        self.0
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }
}

pub type McpFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Running MCP servers, as the agent loop sees them.
pub trait McpTools: Send + Sync {
    /// Tool specs to offer the model (names from [`tool_name`]).
    fn specs(&self) -> Vec<ToolSpec>;
    /// The annotations the server declared for a tool (missing: worst case).
    fn annotations(&self, server: &str, tool: &str) -> ToolAnnotations;
    /// Call a tool; errors are given to the model as tool errors.
    fn call<'a>(
        &'a self,
        server: &'a str,
        tool: &'a str,
        arguments: serde_json::Value,
    ) -> McpFuture<'a>;
    /// Why `server/tool` cannot be called at all (server not configured,
    /// not running, or no such tool), if it cannot. Such a call is answered
    /// with a tool error before any decision: nothing would run, so there
    /// is nothing to adjudicate (the server's state is already an audit
    /// event).
    fn unavailable(&self, server: &str, tool: &str) -> Option<String>;
    /// Server events since the last call (started, crashed, …), for the
    /// audit log. The agent loop drains them after every tool call.
    fn take_events(&self) -> Vec<ServerEvent> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_roundtrip() {
        assert_eq!(
            parse_tool_name(&tool_name("gh", "list_issues")),
            Some(("gh", "list_issues"))
        );
        assert_eq!(parse_tool_name("mcp__x"), None);
        assert_eq!(parse_tool_name("shell"), None);
        assert_eq!(parse_tool_name("mcp____t"), None);
    }

    #[test]
    fn server_names_must_survive_the_tool_name_split() {
        for good in ["github", "my-server", "a_b", "_x", "X1"] {
            assert_eq!(server_name_problem(good), None, "{good}");
            let name = tool_name(good, "t__u");
            assert_eq!(parse_tool_name(&name), Some((good, "t__u")));
        }
        for bad in ["", "a__b", "a_", "a.b", "a b", "ü"] {
            assert!(server_name_problem(bad).is_some(), "{bad}");
        }
        assert!(is_valid_model_tool_name("mcp__gh__list_issues"));
        assert!(!is_valid_model_tool_name("mcp__gh__list.issues"));
        assert!(!is_valid_model_tool_name(&"x".repeat(65)));
    }
}
