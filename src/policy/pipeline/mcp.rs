//! Steps 1–3 of an MCP tool call: the server's configuration (configured,
//! tool enabled, per-tool `decision`, trust and read-only hints) and the
//! `deny` review rules that no lower layer's trust may weaken. Imports what
//! [`super`] does.

use crate::action::Action;
use crate::config::{McpServerConfig, ReviewDecision, RuleDecision, Trust};
use crate::decision::{Category, Decision, DecisionBuilder, Grants, Layer, StepResult, TraceStep};
use crate::policy::review_rules::Facts;

use super::classify::{Classified, Crossing, decided, run_inside};
use super::{Pipeline, rule_layer, step};

/// Whether a tool passes `enabled_tools` / `disabled_tools`.
pub fn mcp_tool_enabled(cfg: &McpServerConfig, tool: &str) -> bool {
    if cfg.disabled_tools.iter().any(|t| t == tool) {
        return false;
    }
    cfg.enabled_tools
        .as_ref()
        .is_none_or(|list| list.iter().any(|t| t == tool))
}

/// A denial of an MCP call by `layer`.
fn mcp_denied(layer: Layer) -> DecisionBuilder {
    Decision::deny(layer).category(Category::McpElicitations)
}

impl Pipeline {
    pub(super) fn classify_mcp(
        &self,
        action: &Action,
        server: &str,
        tool: &str,
        hinted_read_only: bool,
        trace: &mut Vec<TraceStep>,
    ) -> Classified {
        let Some(cfg) = self.config.mcp_servers.get(server) else {
            return decided(
                mcp_denied(Layer::CommandRules)
                    .reason(format!("MCP server `{server}` is not configured"))
                    .after(trace),
            );
        };
        let source = Some(cfg.source.clone());
        if !mcp_tool_enabled(cfg, tool) {
            return decided(
                mcp_denied(Layer::CommandRules)
                    .source(source)
                    .reason(format!(
                        "MCP tool `{server}/{tool}` is not enabled for this server"
                    ))
                    .after(trace),
            );
        }
        if let Some(denied) = self.mcp_deny_rule(action, server, tool, trace) {
            return decided(denied);
        }
        let overrides = cfg.tools.get(tool);
        match overrides.and_then(|o| o.decision) {
            Some(RuleDecision::Forbidden) => {
                return decided(
                    mcp_denied(Layer::CommandRules)
                        .source(source)
                        .reason(format!(
                            "MCP tool `{server}/{tool}` is forbidden by configuration"
                        ))
                        .after(trace),
                );
            }
            Some(RuleDecision::Allow) => {
                trace.push(step(
                    Layer::CommandRules,
                    StepResult::Allow,
                    source,
                    "tool decision = allow".into(),
                ));
                return decided(run_inside(trace, "MCP tool allowed by configuration"));
            }
            Some(RuleDecision::Prompt) => {
                trace.push(step(
                    Layer::CommandRules,
                    StepResult::Prompt,
                    source,
                    "tool decision = prompt".into(),
                ));
                return Classified::Crosses(Crossing::one(
                    Category::McpElicitations,
                    Grants::default(),
                ));
            }
            None => {}
        }
        let read_only = overrides
            .and_then(|o| o.read_only)
            .unwrap_or(hinted_read_only);
        if cfg.trust == Trust::Trusted && read_only {
            return decided(run_inside(trace, "read-only tool of a trusted MCP server"));
        }
        let why = if cfg.trust == Trust::Untrusted {
            "tool of an untrusted MCP server (its hints are not trusted)"
        } else {
            "MCP tool with side effects"
        };
        trace.push(step(Layer::Sandbox, StepResult::Crossing, None, why.into()));
        Classified::Crosses(Crossing::one(Category::McpElicitations, Grants::default()))
    }

    /// A `deny` review rule naming this tool wins over everything that
    /// would let it run without review (trust, read-only hints, a tool
    /// `decision = "allow"`): MCP tools have no command rules, so review
    /// rules are their structured rules, and a managed deny must never be
    /// weakened by a lower layer's trust settings.
    fn mcp_deny_rule(
        &self,
        action: &Action,
        server: &str,
        tool: &str,
        trace: &mut Vec<TraceStep>,
    ) -> Option<Decision> {
        let rule = self
            .review_rules
            .decide(action, Category::McpElicitations, &Facts::default())
            .filter(|r| r.decision == ReviewDecision::Deny)?;
        let layer = rule_layer(rule.managed, Layer::ReviewRules);
        let reason = if rule.reason.is_empty() {
            format!(
                "MCP tool `{server}/{tool}` is denied by the review rule at {}",
                rule.source
            )
        } else {
            rule.reason.clone()
        };
        Some(
            mcp_denied(layer)
                .source(rule.source.clone())
                .reason(reason)
                .step(rule.reason.clone())
                .after(trace),
        )
    }
}
