//! How each MCP tool is classified, for `warden mcp list`.
//!
//! The answer comes from the decision pipeline itself (an `mcp` action per
//! tool, with the server's annotations, through [`Pipeline::prejudge`]), so
//! what `list` prints is what a run decides. Arguments are empty: a review
//! rule that matches on `mcp_arguments` only decides real calls.

use serde::Serialize;

use crate::action::{Action, ToolAnnotations};
use crate::config::McpServerConfig;
use crate::decision::{Layer, Outcome, Source};
use crate::policy::pipeline::{Pipeline, Prejudged, mcp_tool_enabled};

/// The class of a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolClass {
    /// Runs without review (a read-only tool of a trusted server, or
    /// `decision = "allow"`).
    Routine,
    /// Every call is a boundary crossing in category `mcp_elicitations`.
    McpElicitations,
    /// Every call is denied (`decision = "forbidden"`, a deny review rule).
    Forbidden,
    /// Not offered to the model (`enabled_tools` / `disabled_tools`).
    Disabled,
}

impl ToolClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolClass::Routine => "routine",
            ToolClass::McpElicitations => "mcp_elicitations",
            ToolClass::Forbidden => "forbidden",
            ToolClass::Disabled => "disabled",
        }
    }
}

/// A tool's class, what then happens to a call, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    pub class: ToolClass,
    /// What a call gets: `run`, `approve`, `deny`, `escalate`; `None` when
    /// the LLM auto-reviewer decides each call.
    pub outcome: Option<Outcome>,
    /// The layer that decides (`sandbox`, `auto_reject`, `review_rules`, …).
    pub layer: Option<Layer>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// Classify tool `tool` of server `server` with the server's annotations.
pub fn classify(
    pipeline: &Pipeline,
    cfg: &McpServerConfig,
    server: &str,
    tool: &str,
    annotations: &ToolAnnotations,
) -> Classification {
    if !mcp_tool_enabled(cfg, tool) {
        let why = if cfg.disabled_tools.iter().any(|t| t == tool) {
            "listed in disabled_tools"
        } else {
            "not listed in enabled_tools"
        };
        return Classification {
            class: ToolClass::Disabled,
            outcome: Some(Outcome::Deny),
            layer: Some(Layer::CommandRules),
            reason: format!("{why}: not offered to the model"),
            source: Some(cfg.source.clone()),
        };
    }
    let action = Action::Mcp {
        server: server.to_owned(),
        tool: tool.to_owned(),
        arguments: serde_json::Value::Object(Default::default()),
        annotations: annotations.clone(),
    };
    let crossing = pipeline.crossing_category(&action);
    match pipeline.prejudge(&action) {
        Prejudged::Final(d) => {
            let class = match (crossing, d.outcome) {
                (Some(_), _) => ToolClass::McpElicitations,
                (None, Outcome::Run | Outcome::Approve) => ToolClass::Routine,
                (None, _) => ToolClass::Forbidden,
            };
            Classification {
                class,
                outcome: Some(d.outcome),
                layer: Some(d.layer),
                reason: d.reason,
                source: d.source,
            }
        }
        Prejudged::NeedsReviewer(_) => Classification {
            class: ToolClass::McpElicitations,
            outcome: None,
            layer: Some(Layer::AutoReview),
            reason: "each call is decided by the auto-reviewer (LLM)".into(),
            source: None,
        },
    }
}
