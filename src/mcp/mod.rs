//! MCP servers: their tools are offered to the model as `mcp__SERVER__TOOL`
//! and every call goes through the pipeline as an `mcp` action.

use std::future::Future;
use std::pin::Pin;

use crate::action::ToolAnnotations;
use crate::agent::provider::ToolSpec;

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
}
