//! What a run remembers between decisions: the decision cache, the
//! repeated-denial short-circuit and the human overrides to honour.
//!
//! - An action identical (normalised key) to one already denied in this run
//!   is denied again without asking the reviewer ([`Layer::RepeatedDenial`]);
//!   it still counts for the breaker.
//! - A reviewer's verdict is reused for an identical action ([`Layer::Cache`],
//!   recorded as a cache hit).
//! - An overridden kept denial (`--approve D2`) admits its exact action once
//!   ([`Layer::Override`]) — unless a managed requirement now denies it:
//!   nothing, not even a human override, weakens a managed deny.
//!
//! - The run's writes: at its first decision (before anything it decides
//!   runs) the run snapshots the workspace files that pre-approval inputs
//!   name ([`RunWrites`]), so a lockfile or configuration file the agent
//!   changes later voids an allow rule's pre-approval.
//!
//!   A turn's calls are all decided before any of them runs, so once an
//!   allowed action that may write the workspace is decided, later
//!   decisions of the turn treat those inputs as unknown, until
//!   [`RunMemory::begin_turn`] says everything decided before has run.
//!   A reviewer's verdict on such a command is not cached: it judged the
//!   files as they were.
//!
//! A repeated denial quotes the *first* refusal's reason once, however
//! often the action is repeated: the first denial stays the one remembered.
//!
//! Order for one action: override, repeated denial, cache, then the
//! pipeline (and its reviewer).
//!
//! Part of the judge; it may import `action`, `decision`, `policy` and
//! `review`.

use std::collections::HashMap;

use crate::action::Action;
use crate::decision::{Decision, Layer, Outcome, TraceStep};
use crate::policy::pipeline::{Pipeline, Prejudged, preapproval_withheld};
use crate::policy::run_writes::RunWrites;

use crate::review::{ReviewContext, Reviewer};

use super::ask::ask_reviewer;
use super::denials::KeptDenial;

/// A decision plus how it was reached.
#[derive(Debug, Clone)]
pub struct Remembered {
    pub decision: Decision,
    pub cache_hit: bool,
    /// The kept denial id this decision overrides.
    pub override_of: Option<String>,
}

#[derive(Debug, Default)]
pub struct RunMemory {
    /// key → the earlier denial's id (if kept) and decision.
    denied: HashMap<String, (Option<String>, Decision)>,
    /// key → a reviewer's earlier verdict.
    reviewed: HashMap<String, Decision>,
    /// key → an override not used yet in this run.
    overrides: HashMap<String, KeptDenial>,
    /// The workspace as the run found it (taken at the first decision).
    writes: Option<RunWrites>,
    /// Reviewer calls made (for stats and benchmarks).
    pub reviewer_calls: u64,
}

impl RunMemory {
    pub fn new(overrides: Vec<KeptDenial>) -> Self {
        RunMemory {
            overrides: overrides.into_iter().map(|d| (d.key.clone(), d)).collect(),
            ..RunMemory::default()
        }
    }

    /// Overrides not used by the end of the run.
    pub fn unused_overrides(&self) -> Vec<&KeptDenial> {
        let mut v: Vec<&KeptDenial> = self.overrides.values().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// A new turn's calls are about to be decided: every call decided
    /// before has run (or the run ended).
    pub fn begin_turn(&mut self) {
        if let Some(w) = &mut self.writes {
            w.set_pending(None);
        }
    }

    pub async fn decide(
        &mut self,
        pipeline: &Pipeline,
        action: &Action,
        reviewer: Option<&dyn Reviewer>,
        context: &ReviewContext,
    ) -> Remembered {
        let remembered = self.decide_now(pipeline, action, reviewer, context).await;
        let may_write = matches!(
            action,
            Action::Exec { .. } | Action::Write { .. } | Action::Mcp { .. }
        );
        if may_write
            && remembered.decision.outcome.is_allowed()
            && let Some(w) = &mut self.writes
        {
            w.set_pending(Some(action.summary()));
        }
        remembered
    }

    async fn decide_now(
        &mut self,
        pipeline: &Pipeline,
        action: &Action,
        reviewer: Option<&dyn Reviewer>,
        context: &ReviewContext,
    ) -> Remembered {
        let workspace = &pipeline.path_policy().ctx.workspace;
        let writes = self
            .writes
            .get_or_insert_with(|| RunWrites::at_start(workspace));
        let key = action.normalized_key();
        if self.overrides.contains_key(&key)
            && let Prejudged::Final(managed) = pipeline.prejudge_in_run(action, writes)
            && managed.layer == Layer::Requirements
            && managed.outcome.counts_as_denial()
        {
            // The override stays unused (and is reported as such).
            return Remembered {
                decision: managed,
                cache_hit: false,
                override_of: None,
            };
        }
        if let Some(kept) = self.overrides.remove(&key) {
            let decision = Decision::approve(Layer::Override)
                .category(kept.category)
                .reason(format!(
                    "a human approved kept denial {} (was: {})",
                    kept.id, kept.reason
                ))
                .grants(pipeline.requested_grants(action))
                .step(format!("--approve {}", kept.id))
                .build();
            return Remembered {
                decision,
                cache_hit: false,
                override_of: Some(kept.id),
            };
        }
        if let Some((id, earlier)) = self.denied.get(&key) {
            let label = id.clone().unwrap_or_else(|| "earlier".into());
            let what = match earlier.outcome {
                Outcome::Escalate => "escalated to a human",
                _ => "refused",
            };
            // The earlier outcome stands: a repeated escalation is still the
            // same pending question for a human, not a new denial.
            let decision = Decision::with_outcome(earlier.outcome, Layer::RepeatedDenial)
                .category(earlier.category)
                .source(earlier.source.clone())
                .reason(format!(
                    "the same action was already {what} in this run ({label}: {}); asking again does not change the answer",
                    earlier.reason
                ))
                .step(format!("first refused by {}", earlier.layer))
                .build();
            return Remembered {
                decision,
                cache_hit: true,
                override_of: None,
            };
        }
        if let Some(earlier) = self.reviewed.get(&key) {
            let mut decision = earlier.clone();
            decision.trace.push(TraceStep {
                layer: Layer::Cache,
                result: decision.outcome.into(),
                source: None,
                detail: format!(
                    "verdict reused from an identical action ({})",
                    earlier.layer
                ),
            });
            decision.layer = Layer::Cache;
            return Remembered {
                decision,
                cache_hit: true,
                override_of: None,
            };
        }
        let decision = ask_reviewer(pipeline, action, writes, reviewer, context).await;
        if matches!(decision.layer, Layer::AutoReview | Layer::ReviewerFailed) {
            if reviewer.is_some() {
                self.reviewer_calls += 1;
            }
            // A verdict on a withheld pre-approval judged the files as they
            // were: the same command after another rewrite is a new question.
            if !preapproval_withheld(&decision) {
                self.reviewed.insert(key, decision.clone());
            }
        }
        Remembered {
            decision,
            cache_hit: false,
            override_of: None,
        }
    }

    /// Remember a denial (after it got its kept id, if any). The first
    /// denial of an action stays the one remembered: a repeat, which quotes
    /// it, never replaces it (else each repeat would quote the last one).
    pub fn remember_denial(&mut self, action: &Action, id: Option<String>, decision: &Decision) {
        if decision.outcome.counts_as_denial() && decision.layer != Layer::RepeatedDenial {
            self.denied
                .entry(action.normalized_key())
                .or_insert_with(|| (id, decision.clone()));
        }
    }
}
