//! Step 5b of the pipeline, the only asynchronous one: a crossing that no
//! rule decided under `approvals_reviewer = "auto_review"` is put to the
//! reviewer. The deterministic layers are `policy`'s ([`Pipeline`]); this
//! file joins their answer to the reviewer's, so `policy` never imports
//! `review`. It may import `policy` and `review`.

use crate::action::Action;
use crate::decision::{Decision, Grants, Outcome, StepResult, TraceStep};
use crate::policy::pipeline::{Pipeline, Prejudged, withheld_preapproval};
use crate::policy::run_writes::RunWrites;
use crate::review::{ReviewAnswer, ReviewContext, ReviewRequest, Reviewer};

/// Decide `action` outside a run (nothing was written by the agent): every
/// deterministic layer, then `reviewer` when the profile says
/// `auto_review` and no rule decided. Without a reviewer such a crossing is
/// denied as `reviewer_failed` (fail closed). No memory, no audit record:
/// a what-if answer (`warden check`, benchmarks).
pub async fn decide_once(
    pipeline: &Pipeline,
    action: &Action,
    reviewer: Option<&dyn Reviewer>,
    context: &ReviewContext,
) -> Decision {
    ask_reviewer(pipeline, action, &RunWrites::nothing(), reviewer, context).await
}

/// [`decide_once`] within a run whose writes so far are `writes` (an allow
/// rule's pre-approval does not cover a lockfile or configuration file the
/// agent wrote).
pub async fn ask_reviewer(
    pipeline: &Pipeline,
    action: &Action,
    writes: &RunWrites,
    reviewer: Option<&dyn Reviewer>,
    context: &ReviewContext,
) -> Decision {
    match pipeline.prejudge_in_run(action, writes) {
        Prejudged::Final(d) => d,
        Prejudged::NeedsReviewer(mut d) => {
            let category = d.category.expect("a crossing always has a category");
            let withheld = withheld_preapproval(&d).map(str::to_owned);
            let answer = match reviewer {
                Some(r) => {
                    r.review(ReviewRequest {
                        action,
                        category,
                        context,
                        withheld: withheld.as_deref(),
                    })
                    .await
                }
                None => ReviewAnswer::failed(
                    "approvals_reviewer = \"auto_review\" but no reviewer is configured",
                ),
            };
            d.trace.push(TraceStep {
                layer: answer.layer,
                result: StepResult::from(answer.outcome),
                source: None,
                detail: answer.reason.clone(),
            });
            d.outcome = match answer.outcome {
                Outcome::Run | Outcome::Approve => Outcome::Approve,
                other => other,
            };
            if d.outcome != Outcome::Approve {
                d.grants = Grants::default();
            }
            d.layer = answer.layer;
            d.reason = answer.reason;
            d.reviewer = answer.verdict;
            d
        }
    }
}
