//! The result of judging one action: outcome, category, the layer that
//! decided, where the deciding rule lives, and the trace of every layer the
//! action passed. Produced by [`crate::policy::pipeline`] (through the
//! [`DecisionBuilder`]), consumed by the executor, the audit log, the breaker
//! and every report. Imports nothing of warden but its own submodule: every
//! stage may use it.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod builder;
#[cfg(test)]
mod tests;

pub use builder::DecisionBuilder;

/// What happens to the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Inside the sandbox, no review needed: it runs sandboxed.
    Run,
    /// A boundary crossing that a rule, a reviewer or a human approved.
    Approve,
    /// Refused.
    Deny,
    /// Nobody could decide here; a human must (reached through the report).
    Escalate,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Run => "run",
            Outcome::Approve => "approve",
            Outcome::Deny => "deny",
            Outcome::Escalate => "escalate",
        }
    }

    /// Whether the action may go ahead.
    pub fn is_allowed(self) -> bool {
        matches!(self, Outcome::Run | Outcome::Approve)
    }

    /// Whether the circuit breaker counts it as a denial.
    pub fn counts_as_denial(self) -> bool {
        matches!(self, Outcome::Deny | Outcome::Escalate)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The granular approval category of a boundary crossing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Escalation out of the sandbox: write outside writable roots, blocked
    /// network, reading a deny-read path, an unsandboxed retry.
    SandboxApproval,
    /// A command rule says `prompt`.
    Rules,
    /// An MCP tool call with side effects, or any tool of an untrusted server.
    McpElicitations,
    /// A request for more permissions for the rest of the run.
    RequestPermissions,
    /// A skill script.
    SkillApproval,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::SandboxApproval,
        Category::Rules,
        Category::McpElicitations,
        Category::RequestPermissions,
        Category::SkillApproval,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::SandboxApproval => "sandbox_approval",
            Category::Rules => "rules",
            Category::McpElicitations => "mcp_elicitations",
            Category::RequestPermissions => "request_permissions",
            Category::SkillApproval => "skill_approval",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stage of the pipeline that produced the final outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// A managed requirement (command rule or review rule) decided.
    Requirements,
    /// A profile/project command rule decided (forbidden, or an allow that
    /// pre-approved what the command needs).
    CommandRules,
    /// The action stays inside the sandbox: runs without review.
    Sandbox,
    /// The action's category is `false`: rejected without review.
    AutoReject,
    /// A structured review rule decided.
    ReviewRules,
    /// The LLM auto-reviewer decided.
    AutoReview,
    /// The reviewer failed (timeout, error, malformed output): denied.
    ReviewerFailed,
    /// Reviewer `user`: nobody answers in CI, the request escalates.
    User,
    /// Reviewer `rules`: no rule decided, the request escalates.
    NoRule,
    /// The same action was decided earlier in this run.
    Cache,
    /// The same action was denied earlier in this run: denied again without
    /// asking the reviewer.
    RepeatedDenial,
    /// A human approved a kept denial (`--approve D2`).
    Override,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Requirements => "requirements",
            Layer::CommandRules => "command_rules",
            Layer::Sandbox => "sandbox",
            Layer::AutoReject => "auto_reject",
            Layer::ReviewRules => "review_rules",
            Layer::AutoReview => "auto_review",
            Layer::ReviewerFailed => "reviewer_failed",
            Layer::User => "user",
            Layer::NoRule => "no_rule",
            Layer::Cache => "cache",
            Layer::RepeatedDenial => "repeated_denial",
            Layer::Override => "override",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rule or setting was written: `file:line[:col]`. `file` is the
/// path as the user gave it, or `builtin:profiles/ci.toml` for embedded
/// profiles, or `-c` for command-line overrides.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Source {
    pub file: String,
    pub line: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "{}:{}:{}", self.file, self.line, c),
            None => write!(f, "{}:{}", self.file, self.line),
        }
    }
}

/// What an approval lets one command do beyond the sandbox. Recorded in the
/// audit log exactly as granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// Network access for this command (hosts named for the record; the
    /// sandbox enforces network on/off, see docs/threat-model.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<String>,
    /// Network on for any host (a rule said `network = true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any_network: bool,
    /// Extra writable paths for this command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<PathBuf>,
    /// No sandbox at all for this command.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsandboxed: bool,
    /// Missing directories inside the workspace that warden creates before
    /// the command (an allow rule's `grants.write` entry ending in `/`, such
    /// as `target/`), so that the write grant names an existing directory
    /// and stays exact instead of widening to its parent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_dirs: Vec<PathBuf>,
}

impl Grants {
    pub fn is_empty(&self) -> bool {
        self.network.is_empty()
            && !self.any_network
            && self.write.is_empty()
            && !self.unsandboxed
            && self.create_dirs.is_empty()
    }

    pub fn wants_network(&self) -> bool {
        self.any_network || !self.network.is_empty()
    }
}

/// What one layer concluded. Serialised as the words the audit log, the
/// JSON report and `--explain` have always shown (`"no match"`,
/// `"pre-approved"`, …), so logs written before this was a type still parse
/// and verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StepResult {
    /// The action runs inside the sandbox (or an outcome of `run`).
    #[serde(rename = "run")]
    Run,
    #[serde(rename = "approve")]
    Approve,
    #[serde(rename = "deny")]
    Deny,
    #[serde(rename = "escalate")]
    Escalate,
    /// A command rule (or an MCP tool setting) says `allow`.
    #[serde(rename = "allow")]
    Allow,
    /// A command rule (or an MCP tool setting) says `prompt`.
    #[serde(rename = "prompt")]
    Prompt,
    /// A command rule says `forbidden`.
    #[serde(rename = "forbidden")]
    Forbidden,
    /// The action crosses the sandbox boundary.
    #[serde(rename = "crossing")]
    Crossing,
    /// No review rule matched.
    #[serde(rename = "no match")]
    NoMatch,
    /// No command rule matched.
    #[serde(rename = "no rule")]
    NoRule,
    /// warden does not fully understand the command (its detail says why).
    #[serde(rename = "not fully understood")]
    NotFullyUnderstood,
    /// An allow rule grants what an escalation asks for.
    #[serde(rename = "pre-approved")]
    PreApproved,
}

impl StepResult {
    pub fn as_str(self) -> &'static str {
        match self {
            StepResult::Run => "run",
            StepResult::Approve => "approve",
            StepResult::Deny => "deny",
            StepResult::Escalate => "escalate",
            StepResult::Allow => "allow",
            StepResult::Prompt => "prompt",
            StepResult::Forbidden => "forbidden",
            StepResult::Crossing => "crossing",
            StepResult::NoMatch => "no match",
            StepResult::NoRule => "no rule",
            StepResult::NotFullyUnderstood => "not fully understood",
            StepResult::PreApproved => "pre-approved",
        }
    }
}

impl From<Outcome> for StepResult {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Run => StepResult::Run,
            Outcome::Approve => StepResult::Approve,
            Outcome::Deny => StepResult::Deny,
            Outcome::Escalate => StepResult::Escalate,
        }
    }
}

impl fmt::Display for StepResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One layer's contribution, for `--explain` and fixture mismatch output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceStep {
    pub layer: Layer,
    /// What this layer concluded.
    pub result: StepResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The LLM reviewer's structured answer, after warden applied the risk
/// tiers. Present only when the auto-reviewer was consulted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerVerdict {
    pub risk_level: String,
    pub user_authorization: String,
    /// What the model answered, before warden's risk tiers.
    pub model_outcome: String,
    pub rationale: String,
    /// Time the reviewer took, in milliseconds.
    pub latency_ms: u64,
}

/// The verdict on one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// Set for every boundary crossing; `None` for routine actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    pub layer: Layer,
    /// The rule (or setting) that decided, as `file:line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Why, in one sentence; shown to the agent on denial and in reports.
    pub reason: String,
    /// What an approval grants beyond the sandbox.
    #[serde(default, skip_serializing_if = "Grants::is_empty")]
    pub grants: Grants,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<ReviewerVerdict>,
    /// Every layer the action passed, in order.
    #[serde(default)]
    pub trace: Vec<TraceStep>,
}

impl Decision {
    /// Whether this decision adjudicated something beyond routine sandboxed
    /// work (approved, denied, escalated), i.e. whether the circuit breaker
    /// sees it.
    pub fn is_review(&self) -> bool {
        // An allow rule's pre-approval is routine work, not an adjudication:
        // it must not reset the breaker's count of consecutive denials.
        let preapproved = self.outcome == Outcome::Approve && self.layer == Layer::CommandRules;
        self.outcome != Outcome::Run && !preapproved
    }
}
