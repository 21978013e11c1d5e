//! The resolved configuration: what every later stage reads.
//!
//! These types are the *result* of layering (built-in profile → project
//! `.warden/config.toml` → `--config` → `-c`, with managed requirements on
//! top); see [`super::load`] for how they are produced and where each value
//! came from. Invalid combinations are rejected while loading, so a `Config`
//! in hand is always one warden is willing to run with.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::action::ActionKind;
use crate::decision::{Category, Source};

/// Everything warden needs to decide and run actions.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Name of the built-in profile at the bottom of the stack.
    pub profile: String,
    pub approval_policy: Granular,
    pub approvals_reviewer: ReviewerKind,
    pub sandbox_mode: SandboxMode,
    pub sandbox: SandboxConfig,
    /// Managed rules first, then profile and project rules in layer order.
    pub command_rules: Vec<CommandRule>,
    /// Managed rules first, then profile and project rules in layer order.
    pub review_rules: Vec<ReviewRule>,
    pub auto_review: AutoReviewConfig,
    pub agent: AgentConfig,
    pub report: ReportConfig,
    pub mcp_servers: BTreeMap<String, McpServerConfig>,
    pub skills: SkillsConfig,
}

/// Granular approval categories: `true` lets a boundary crossing of that
/// category reach the reviewer, `false` rejects it without review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Granular {
    pub sandbox_approval: bool,
    pub rules: bool,
    pub mcp_elicitations: bool,
    pub request_permissions: bool,
    pub skill_approval: bool,
}

impl Granular {
    /// `approval_policy = "never"`: nothing escalates.
    pub const NEVER: Granular = Granular {
        sandbox_approval: false,
        rules: false,
        mcp_elicitations: false,
        request_permissions: false,
        skill_approval: false,
    };
    /// `approval_policy = "on-request"`: every category may be reviewed.
    pub const ON_REQUEST: Granular = Granular {
        sandbox_approval: true,
        rules: true,
        mcp_elicitations: true,
        request_permissions: true,
        skill_approval: true,
    };

    pub fn allows(&self, category: Category) -> bool {
        match category {
            Category::SandboxApproval => self.sandbox_approval,
            Category::Rules => self.rules,
            Category::McpElicitations => self.mcp_elicitations,
            Category::RequestPermissions => self.request_permissions,
            Category::SkillApproval => self.skill_approval,
        }
    }
}

/// Who adjudicates a boundary crossing once no structured rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewerKind {
    /// Nobody answers in CI: the request escalates to a human via the report.
    User,
    /// The LLM auto-reviewer.
    AutoReview,
    /// Offline: what no rule decides escalates.
    Rules,
}

impl ReviewerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewerKind::User => "user",
            ReviewerKind::AutoReview => "auto_review",
            ReviewerKind::Rules => "rules",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
}

impl SandboxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::ReadOnly => "read-only",
            SandboxMode::WorkspaceWrite => "workspace-write",
            SandboxMode::DangerFullAccess => "danger-full-access",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// No network at all (no socket but `AF_UNIX`, no connect).
    Off,
    /// Only warden's egress proxy is reachable; each host is decided by
    /// the proxy (see `sandbox::network`).
    Proxy,
    /// Unrestricted network.
    On,
}

/// What a `workspace-write` command may do to the workspace's git directory
/// (`sandbox.git`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GitMode {
    /// The whole workspace is writable, `.git` included, so commands can
    /// commit; what a later git would execute or trust, and every other
    /// protected path, is snapshotted and restored after each command, and
    /// commits of protected paths are undone (docs/threat-model.md,
    /// "Workspace writes and commits").
    Commit,
    /// Protected paths stay out of the writable set: no commits, and the
    /// workspace root takes no new entries (the plan before `commit`).
    ReadOnly,
}

/// What to do when the kernel cannot enforce the requested sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxFallback {
    /// Refuse to run (exit 5). The default.
    Refuse,
    /// Run with what the kernel offers, warn, and record it.
    Warn,
}

/// `[sandbox]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxConfig {
    /// Extra writable roots besides the workspace (may start with `~`).
    pub writable_roots: Vec<String>,
    /// Paths and globs nothing in the sandbox may read (`~/.ssh`, `**/.env`).
    pub deny_read: Vec<String>,
    /// Paths inside writable roots that stay read-only, relative to the
    /// workspace (`.git`, `.warden`, `.github/workflows`) or absolute.
    pub protected: Vec<String>,
    pub network: NetworkMode,
    pub git: GitMode,
    pub fallback: SandboxFallback,
    /// Wall-clock limit per command; the whole process group is killed.
    pub timeout: Duration,
    /// Bytes of stdout+stderr kept per command before truncation.
    pub output_limit: usize,
    /// Extra environment variable names passed to children (credentials are
    /// still removed).
    pub env_pass: Vec<String>,
    /// Variables set in every child.
    pub env_set: BTreeMap<String, String>,
}

/// Decision of a command rule, strictest last so `max()` is strictest-wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleDecision {
    Allow,
    Prompt,
    Forbidden,
}

impl RuleDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleDecision::Allow => "allow",
            RuleDecision::Prompt => "prompt",
            RuleDecision::Forbidden => "forbidden",
        }
    }
}

/// One element of a prefix pattern: a word, or a set of alternatives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PatternToken {
    Word(String),
    AnyOf(Vec<String>),
}

impl PatternToken {
    pub fn matches(&self, word: &str) -> bool {
        match self {
            PatternToken::Word(w) => w == word,
            PatternToken::AnyOf(ws) => ws.iter().any(|w| w == word),
        }
    }
}

/// What an `allow` rule pre-approves beyond the sandbox for a matching
/// command (never applied to wrappers or scripts warden cannot split).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGrants {
    /// The command may use the network.
    #[serde(default)]
    pub network: bool,
    /// Extra writable paths (may start with `~`).
    #[serde(default)]
    pub write: Vec<String>,
}

/// A command prefix rule (Codex `prefix_rule` semantics, plus warden's
/// `any_arg` and `piped` refinements).
#[derive(Debug, Clone, Serialize)]
pub struct CommandRule {
    /// Prefix of argv, word by word; argv[0] is compared by basename too.
    pub pattern: Vec<PatternToken>,
    /// When non-empty, at least one argument after the prefix must match one
    /// of these (`*` wildcards allowed, e.g. `--upload-file`, `-T*`).
    pub any_arg: Vec<String>,
    /// Only match a command that reads a pipe (`curl … | sh`).
    pub piped: bool,
    pub decision: RuleDecision,
    pub justification: Option<String>,
    pub grants: RuleGrants,
    /// Examples that must match / must not match (checked at load).
    pub examples_match: Vec<Vec<String>>,
    pub examples_not_match: Vec<Vec<String>>,
    pub source: Source,
    /// From managed requirements: cannot be weakened by any layer.
    pub managed: bool,
}

/// What a structured review rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approve,
    Escalate,
    Deny,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approve => "approve",
            ReviewDecision::Escalate => "escalate",
            ReviewDecision::Deny => "deny",
        }
    }
}

/// A structured auto-review rule: every condition given must hold; within a
/// condition any listed value may match. Strictest matching rule wins
/// (deny > escalate > approve); managed rules are checked first and a
/// managed deny can never be overridden.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewRule {
    pub decision: ReviewDecision,
    /// Action kinds the rule applies to (empty: any).
    pub kinds: Vec<ActionKind>,
    /// Categories the rule applies to (empty: any).
    pub categories: Vec<Category>,
    /// Command prefix (for exec; checked against every split command).
    pub command: Option<Vec<PatternToken>>,
    /// Path globs (read/write paths, exec arguments that look like paths,
    /// escalation write paths, requested writable roots).
    pub path: Vec<String>,
    /// Host globs (network actions, URLs in exec arguments, requested hosts).
    pub host: Vec<String>,
    /// MCP server and tool name globs.
    pub mcp_server: Vec<String>,
    pub mcp_tool: Vec<String>,
    /// MCP argument globs by top-level argument name.
    pub mcp_arguments: BTreeMap<String, String>,
    pub reason: String,
    pub source: Source,
    pub managed: bool,
}

/// Model API flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    Script,
}

/// The reviewer policy text and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyText {
    pub text: String,
    /// `requirements guardian_policy_config (FILE:LINE)`, `[auto_review].policy
    /// (FILE:LINE)`, `policy_file PATH`, or `builtin:profiles/policy/default.md`.
    pub origin: String,
}

/// `[auto_review.circuit_breaker]`: never off; limits must be ≥ 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Trip after this many denials in a row (default 3).
    pub consecutive: u32,
    /// Size of the rolling window of reviews (default 50).
    pub window: u32,
    /// Trip after this many denials within the window (default 10).
    pub max_in_window: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            consecutive: 3,
            window: 50,
            max_in_window: 10,
        }
    }
}

/// `[auto_review]`.
#[derive(Debug, Clone, Serialize)]
pub struct AutoReviewConfig {
    pub provider: ProviderKind,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub timeout: Duration,
    pub max_attempts: u32,
    /// The effective policy (managed > local > default).
    pub policy: PolicyText,
    /// Appended to the effective policy (not to a managed one's meaning:
    /// managed text always comes first).
    pub extra_policy: Option<String>,
    /// Characters of recent transcript sent to the reviewer.
    pub transcript_budget: usize,
    pub circuit_breaker: BreakerConfig,
}

/// `[agent]`: the main model.
#[derive(Debug, Clone, Serialize)]
pub struct AgentConfig {
    pub provider: ProviderKind,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub max_turns: u32,
    pub timeout: Duration,
    pub token_budget: Option<u64>,
    /// Bytes of a tool result given back to the model before truncation.
    pub tool_output_limit: usize,
    pub request_timeout: Duration,
    pub max_attempts: u32,
}

/// Check-run conclusion for a run's worst event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Neutral,
    Failure,
}

/// `[report]`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportConfig {
    pub on_breaker: Conclusion,
    pub on_escalation: Conclusion,
    pub on_denial: Conclusion,
    /// Also annotate approvals (as notices).
    pub annotate_approvals: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    Trusted,
    Untrusted,
}

/// Per-tool override in `[mcp_servers.NAME.tools.TOOL]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpToolOverride {
    pub read_only: Option<bool>,
    pub decision: Option<RuleDecision>,
}

/// `[mcp_servers.NAME]`.
#[derive(Debug, Clone, Serialize)]
pub struct McpServerConfig {
    pub command: String,
    pub args: Vec<String>,
    /// Passed explicitly; the server never inherits warden's environment
    /// beyond the sandbox allow-list.
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    pub trust: Trust,
    pub enabled_tools: Option<Vec<String>>,
    pub disabled_tools: Vec<String>,
    pub tools: BTreeMap<String, McpToolOverride>,
    /// Whether the server process gets network access.
    pub network: bool,
    pub startup_timeout: Duration,
    pub tool_timeout: Duration,
    pub source: Source,
}

/// `[skills]`.
#[derive(Debug, Clone, Serialize)]
pub struct SkillsConfig {
    /// Directories (relative to the workspace) holding `NAME/…` skill scripts.
    pub dirs: Vec<PathBuf>,
}
