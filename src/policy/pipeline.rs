//! The decision pipeline for one action (DESIGN "The decision pipeline"):
//!
//! 1. managed command rules: `forbidden` → deny;
//! 2. profile command rules (strictest wins across every command a script or
//!    wrapper leads to); an `allow` pre-approves what the rule grants, only
//!    for fully understood, unwrapped commands;
//! 3. inside the sandbox and no `prompt` → run, no review;
//! 4. a boundary crossing gets a category; a category set to `false` →
//!    auto-reject;
//! 5. structured review rules (managed, then profile), then the reviewer:
//!    `auto_review` (LLM), `user` (escalates: nobody answers in CI) or
//!    `rules` (what no rule decides escalates).
//!
//! Steps 1–5 up to the LLM are synchronous and allocation-light
//! ([`Pipeline::prejudge`]); the LLM call, the only async step, is the
//! judge's (`judge::ask_reviewer`): this module never imports `review`.
//!
//! This file owns the [`Pipeline`] and its entry points; the steps live
//! next to it, one function per action kind and per step:
//! [`classify`] (steps 1–3 by action kind), [`exec`] (steps 1–3 of an
//! exec, with [`allow_grants`]), [`mcp`] (steps 1–3 of an MCP call) and
//! [`crossing`] (steps 4–5 up to the reviewer).
//! Every decision is made with [`Decision`]'s builder. May import `config`,
//! `action`, `decision` and the rest of `policy`.

mod allow_grants;
mod classify;
mod crossing;
mod exec;
mod mcp;

pub use mcp::mcp_tool_enabled;

use crate::action::Action;
use crate::config::Config;
use crate::decision::{Category, Decision, Grants, Layer, Source, StepResult, TraceStep};
use crate::policy::review_rules::{Facts, ReviewRules};

use self::classify::Classified;
use super::command_rules::RuleIndex;
use super::paths::{PathContext, PathPolicy, PathSet};
use super::preapproval::SearchPath;
use super::run_writes::RunWrites;

/// A configuration compiled for deciding actions.
pub struct Pipeline {
    config: Config,
    paths: PathPolicy,
    review_rules: ReviewRules,
    /// Command rules by program name.
    rule_index: RuleIndex,
    /// `grants.write` of each command rule, compiled (same order as rules).
    rule_write_grants: Vec<PathSet>,
    /// Where a bare program name could resolve to a replaceable file.
    search_path: SearchPath,
}

/// How the trace step of a withheld pre-approval begins.
const WITHHELD: &str = "pre-approval of the allow rule at ";

/// Whether `decision` is a crossing only because an allow rule's
/// pre-approval was withheld: its answer depends on what the run wrote,
/// so no verdict on it may be reused for a later identical action.
pub fn preapproval_withheld(decision: &Decision) -> bool {
    withheld_preapproval(decision).is_some()
}

/// The trace step saying why an allow rule's pre-approval was withheld,
/// when that is what made `decision` a crossing (shown to a reviewer).
pub fn withheld_preapproval(decision: &Decision) -> Option<&str> {
    decision
        .trace
        .iter()
        .find(|t| t.layer == Layer::Sandbox && t.detail.starts_with(WITHHELD))
        .map(|t| t.detail.as_str())
}

/// The result of the deterministic layers.
#[derive(Debug, Clone)]
pub enum Prejudged {
    /// Decided without the LLM.
    Final(Decision),
    /// A boundary crossing for the auto-reviewer; the decision so far
    /// (category, trace, requested grants) is carried along.
    NeedsReviewer(Decision),
}

impl Pipeline {
    pub fn new(config: &Config, ctx: PathContext) -> Result<Self, String> {
        let paths = PathPolicy::new(config, ctx)?;
        let review_rules = ReviewRules::new(&config.review_rules, &paths.ctx);
        let rule_write_grants = config
            .command_rules
            .iter()
            .map(|r| PathSet::new(&r.grants.write, &paths.ctx))
            .collect::<Result<_, _>>()?;
        Ok(Pipeline {
            search_path: SearchPath::new(&paths),
            config: config.clone(),
            paths,
            review_rules,
            rule_index: RuleIndex::new(&config.command_rules),
            rule_write_grants,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn path_policy(&self) -> &PathPolicy {
        &self.paths
    }

    /// Treat `path` as deny-read, as the sandbox does for paths warden adds
    /// itself (the run's audit log): an action naming it is a deny-read
    /// crossing, never routine.
    pub fn deny_read_also(&mut self, path: std::path::PathBuf) {
        self.paths.deny_read.add_path(path);
    }

    /// What `action` asks for beyond the sandbox (what an approval of it
    /// would grant). Used for human overrides of a kept denial.
    pub fn requested_grants(&self, action: &Action) -> Grants {
        let mut trace = Vec::new();
        let mut facts = Facts::default();
        match self.classify(action, &RunWrites::nothing(), &mut facts, &mut trace) {
            Classified::Crosses(c) => c.requested,
            Classified::Decided(d) => d.grants,
        }
    }

    /// The granular category of `action` if it crosses the sandbox
    /// boundary, `None` if steps 1–3 decide it (routine run, forbidden,
    /// pre-approved). `warden mcp list` uses it to tell a forbidden tool
    /// from one whose calls are adjudicated.
    pub fn crossing_category(&self, action: &Action) -> Option<Category> {
        let mut trace = Vec::new();
        let mut facts = Facts::default();
        match self.classify(action, &RunWrites::nothing(), &mut facts, &mut trace) {
            Classified::Crosses(c) => c.categories.first().copied(),
            Classified::Decided(_) => None,
        }
    }

    /// Every deterministic layer. Never blocks, never calls out.
    pub fn prejudge(&self, action: &Action) -> Prejudged {
        self.prejudge_in_run(action, &RunWrites::nothing())
    }

    /// [`Pipeline::prejudge`] within a run whose writes so far are `writes`.
    pub fn prejudge_in_run(&self, action: &Action, writes: &RunWrites) -> Prejudged {
        let mut trace = Vec::new();
        let mut facts = Facts::default();
        match self.classify(action, writes, &mut facts, &mut trace) {
            Classified::Decided(decision) => Prejudged::Final(*decision),
            Classified::Crosses(crossing) => {
                self.judge_crossing(action, crossing, &facts, &mut trace)
            }
        }
    }
}

/// The layer a rule decides in: a managed requirement's, or `layer`.
fn rule_layer(managed: bool, layer: Layer) -> Layer {
    if managed { Layer::Requirements } else { layer }
}

/// A trace step of a layer that did not decide (the deciding layer's step
/// is recorded by [`Decision`]'s builder).
fn step(layer: Layer, result: StepResult, source: Option<Source>, detail: String) -> TraceStep {
    TraceStep {
        layer,
        result,
        source,
        detail,
    }
}

#[cfg(test)]
mod tests;
