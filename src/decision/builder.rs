//! The one way a [`Decision`] is made: `Decision::deny(layer)` and its
//! siblings start a [`DecisionBuilder`], which names each field it sets
//! (`.category(c).source(s).reason(r)`) and records the deciding layer's own
//! trace step, so a decision and its last trace step cannot disagree.
//! Imports only [`super`].

use super::{Category, Decision, Grants, Layer, Outcome, Source, StepResult, TraceStep};

impl Decision {
    /// A decision of `outcome` by `layer`; see [`DecisionBuilder`].
    pub fn with_outcome(outcome: Outcome, layer: Layer) -> DecisionBuilder {
        DecisionBuilder {
            decision: Decision {
                outcome,
                category: None,
                layer,
                source: None,
                reason: String::new(),
                grants: Grants::default(),
                reviewer: None,
                trace: Vec::new(),
            },
            step: None,
        }
    }

    /// The action runs inside the sandbox, decided by `layer`.
    pub fn run(layer: Layer) -> DecisionBuilder {
        Decision::with_outcome(Outcome::Run, layer)
    }

    /// `layer` approved a boundary crossing.
    pub fn approve(layer: Layer) -> DecisionBuilder {
        Decision::with_outcome(Outcome::Approve, layer)
    }

    /// `layer` refused the action.
    pub fn deny(layer: Layer) -> DecisionBuilder {
        Decision::with_outcome(Outcome::Deny, layer)
    }

    /// `layer` could not decide: a human must.
    pub fn escalate(layer: Layer) -> DecisionBuilder {
        Decision::with_outcome(Outcome::Escalate, layer)
    }
}

/// The trace step a decision records for its own layer.
struct OwnStep {
    detail: String,
    /// Whether the step names the decision's source (a step can conclude
    /// without pointing at the rule the decision cites).
    with_source: bool,
}

/// A [`Decision`] being made. Grants stay empty unless set: only an
/// approval grants anything, and [`DecisionBuilder::grants`] keeps it so.
#[must_use = "a decision is made by `.after(trace)` or `.build()`"]
pub struct DecisionBuilder {
    decision: Decision,
    step: Option<OwnStep>,
}

impl DecisionBuilder {
    /// The approval category (`None` for routine actions).
    pub fn category(mut self, category: impl Into<Option<Category>>) -> Self {
        self.decision.category = category.into();
        self
    }

    /// The rule or setting that decided.
    pub fn source(mut self, source: impl Into<Option<Source>>) -> Self {
        self.decision.source = source.into();
        self
    }

    /// Why, in one sentence.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.decision.reason = reason.into();
        self
    }

    /// What the decision grants beyond the sandbox. Ignored unless the
    /// outcome is an approval, so a refusal can never carry grants.
    pub fn grants(mut self, grants: Grants) -> Self {
        if self.decision.outcome == Outcome::Approve {
            self.decision.grants = grants;
        }
        self
    }

    /// What a decision still pending review would grant if the reviewer
    /// approves; [`crate::policy::pipeline`] clears them on any other answer.
    pub fn pending_grants(mut self, grants: Grants) -> Self {
        self.decision.grants = grants;
        self
    }

    /// Record the deciding layer's trace step: its result is the outcome,
    /// its source the decision's, with `detail`.
    pub fn step(mut self, detail: impl Into<String>) -> Self {
        self.step = Some(OwnStep {
            detail: detail.into(),
            with_source: true,
        });
        self
    }

    /// Like [`DecisionBuilder::step`], without the decision's source (the
    /// layer concluded from a setting, not from the rule the decision cites).
    pub fn step_without_source(mut self, detail: impl Into<String>) -> Self {
        self.step = Some(OwnStep {
            detail: detail.into(),
            with_source: false,
        });
        self
    }

    /// The decision, its trace being every step in `trace` (taken) and then
    /// its own.
    pub fn after(mut self, trace: &mut Vec<TraceStep>) -> Decision {
        self.decision.trace = std::mem::take(trace);
        self.build()
    }

    /// The decision, its trace being only its own step (a decision that did
    /// not pass the pipeline: an override, a repeated denial).
    pub fn build(mut self) -> Decision {
        if let Some(own) = self.step.take() {
            let d = &mut self.decision;
            d.trace.push(TraceStep {
                layer: d.layer,
                result: StepResult::from(d.outcome),
                source: if own.with_source {
                    d.source.clone()
                } else {
                    None
                },
                detail: own.detail,
            });
        }
        self.decision
    }
}
