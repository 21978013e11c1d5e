//! Review: who decides a boundary crossing once the sandbox, command rules
//! and structured review rules (`policy::review_rules`) have had their say.
//!
//! - The [`Reviewer`] trait: the pluggable reviewer consulted when no rule
//!   decided and `approvals_reviewer = "auto_review"` (the LLM reviewer
//!   implements it). `user` and `rules` reviewers need no implementation:
//!   they escalate, which the pipeline does itself.
//! - [`llm`]: the LLM auto-reviewer.
//!
//! It may import `config`, `action`, `decision`, `policy` and the model
//! client (`model`); never `judge` or `agent`. The `judge` puts crossings to
//! a reviewer and owns the run's memory of its verdicts.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::decision::{Category, Layer, Outcome, ReviewerVerdict};

pub mod llm;

/// One message of the recent transcript shown to a reviewer as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// `user`, `assistant`, `tool`.
    pub role: String,
    pub content: String,
}

/// What the reviewer may see besides the action: all of it untrusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewContext {
    /// The user's original request (the task given to `warden run`).
    pub user_request: String,
    /// Recent transcript, oldest first.
    pub transcript: Vec<TranscriptEntry>,
}

/// A boundary crossing put to a reviewer.
#[derive(Debug, Clone, Copy)]
pub struct ReviewRequest<'a> {
    pub action: &'a Action,
    pub category: Category,
    pub context: &'a ReviewContext,
    /// Why an allow rule's pre-approval was withheld, when that is what
    /// made this a crossing (`--config` …, a lockfile written this run).
    /// It quotes agent-chosen input, so the reviewer sees it fenced.
    pub withheld: Option<&'a str>,
}

/// A reviewer's answer. Only `Approve`, `Deny` and `Escalate` are valid
/// outcomes; `layer` is [`Layer::AutoReview`] or [`Layer::ReviewerFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewAnswer {
    pub outcome: Outcome,
    pub layer: Layer,
    pub reason: String,
    pub verdict: Option<ReviewerVerdict>,
}

impl ReviewAnswer {
    /// A failed review: always a denial.
    pub fn failed(reason: impl Into<String>) -> Self {
        ReviewAnswer {
            outcome: Outcome::Deny,
            layer: Layer::ReviewerFailed,
            reason: reason.into(),
            verdict: None,
        }
    }
}

/// A boxed future, so reviewers can be used as trait objects.
pub type ReviewFuture<'a> = Pin<Box<dyn Future<Output = ReviewAnswer> + Send + 'a>>;

/// A reviewer consulted for boundary crossings no rule decided. It must
/// never fail open: any error is a [`ReviewAnswer::failed`] denial.
pub trait Reviewer: Send + Sync {
    fn review<'a>(&'a self, request: ReviewRequest<'a>) -> ReviewFuture<'a>;
}
