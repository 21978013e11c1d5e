//! Steps 4–5 for a boundary crossing: a category set to `false` is
//! auto-rejected (step 4), then structured review rules decide (step 5a),
//! then the configured reviewer (step 5b): `user` and `rules` escalate,
//! `auto_review` is handed to [`super::Pipeline::decide_in_run`]. Imports
//! what [`super`] does.

use crate::action::Action;
use crate::config::{ReviewDecision, ReviewerKind};
use crate::decision::{Category, Decision, Grants, Layer, Outcome, Source, StepResult, TraceStep};
use crate::policy::review_rules::Facts;

use super::classify::Crossing;
use super::{Pipeline, Prejudged, rule_layer, step};

impl Pipeline {
    /// Steps 4–5 up to the LLM.
    pub(super) fn judge_crossing(
        &self,
        action: &Action,
        crossing: Crossing,
        facts: &Facts,
        trace: &mut Vec<TraceStep>,
    ) -> Prejudged {
        let Crossing {
            categories,
            requested,
            withheld,
        } = crossing;
        let Some(&category) = categories.first() else {
            unreachable!("classify decides routine actions")
        };
        if let Some(rejected) = self.auto_reject(&categories, trace) {
            return Prejudged::Final(rejected);
        }
        if let Some(ruled) = self.review_rule(action, category, facts, &requested, trace) {
            return Prejudged::Final(ruled);
        }
        self.reviewer_step(category, requested, withheld, trace)
    }

    /// Step 4: the first category this profile sets to `false` rejects the
    /// action without review.
    fn auto_reject(&self, categories: &[Category], trace: &mut Vec<TraceStep>) -> Option<Decision> {
        let &off = categories
            .iter()
            .find(|c| !self.config.approval_policy.allows(**c))?;
        let (why, source) = crossing_cause(trace, off);
        Some(
            Decision::deny(Layer::AutoReject)
                .category(off)
                .source(source)
                .reason(format!(
                    "{why}; approval category `{off}` is false in this profile, so it is rejected without review"
                ))
                .step_without_source(format!("{off} = false"))
                .after(trace),
        )
    }

    /// Step 5a: structured review rules (managed first).
    fn review_rule(
        &self,
        action: &Action,
        category: Category,
        facts: &Facts,
        requested: &Grants,
        trace: &mut Vec<TraceStep>,
    ) -> Option<Decision> {
        let Some(rule) = self.review_rules.decide(action, category, facts) else {
            trace.push(step(
                Layer::ReviewRules,
                StepResult::NoMatch,
                None,
                String::new(),
            ));
            return None;
        };
        let layer = rule_layer(rule.managed, Layer::ReviewRules);
        let outcome = match rule.decision {
            ReviewDecision::Approve => Outcome::Approve,
            ReviewDecision::Deny => Outcome::Deny,
            ReviewDecision::Escalate => Outcome::Escalate,
        };
        let reason = if rule.reason.is_empty() {
            format!(
                "review rule at {} says {}",
                rule.source,
                rule.decision.as_str()
            )
        } else {
            rule.reason.clone()
        };
        Some(
            Decision::with_outcome(outcome, layer)
                .category(category)
                .source(rule.source.clone())
                .reason(reason)
                .grants(requested.clone())
                .step(rule.reason.clone())
                .after(trace),
        )
    }

    /// Step 5b: the reviewer. `auto_review` leaves the decision pending.
    fn reviewer_step(
        &self,
        category: Category,
        requested: Grants,
        withheld: Option<String>,
        trace: &mut Vec<TraceStep>,
    ) -> Prejudged {
        let (outcome, layer, reason) = match self.config.approvals_reviewer {
            ReviewerKind::User => (
                Outcome::Escalate,
                Layer::User,
                "approvals_reviewer = \"user\": a human must decide, and nobody answers in CI; the request is reported and not executed",
            ),
            ReviewerKind::Rules => (
                Outcome::Escalate,
                Layer::NoRule,
                "no review rule decides this request (approvals_reviewer = \"rules\"); it escalates to a human",
            ),
            ReviewerKind::AutoReview => {
                return Prejudged::NeedsReviewer(
                    Decision::escalate(Layer::AutoReview)
                        .category(category)
                        .reason("pending auto-review")
                        .pending_grants(requested)
                        .after(trace),
                );
            }
        };
        // Say why a command its allow rule would have pre-approved is here.
        let reason = match withheld {
            Some(why) => format!("{why}; {reason}"),
            None => reason.to_owned(),
        };
        Prejudged::Final(
            Decision::with_outcome(outcome, layer)
                .category(category)
                .reason(reason.clone())
                .step(reason)
                .after(trace),
        )
    }
}

/// What made the action a crossing of `category`, from the trace: the
/// `prompt` rule (with its source) for `rules`, the sandbox's finding
/// otherwise.
fn crossing_cause(trace: &[TraceStep], category: Category) -> (String, Option<Source>) {
    let wanted = |t: &&TraceStep| match category {
        Category::Rules => t.result == StepResult::Prompt,
        _ => t.result == StepResult::Crossing,
    };
    match trace.iter().rev().find(wanted) {
        Some(t) if category == Category::Rules => {
            let at = t
                .source
                .as_ref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            let what = if t.detail.is_empty() {
                "a command rule says `prompt`".to_owned()
            } else {
                t.detail.trim_end_matches('.').to_owned()
            };
            (format!("{what}{at}"), t.source.clone())
        }
        Some(t) => (t.detail.clone(), None),
        None => (format!("a {category} boundary crossing"), None),
    }
}
