//! Reports: views of one run's audit log. Every run renderer is a pure
//! function of an [`AuditSummary`] (plus presentation options), so the PR
//! comment, check run, job summary, SARIF and JSON cannot disagree with the
//! log; the one view of something else, a resolved configuration
//! (`warden profiles show`), is likewise a pure function of it.
//!
//! - [`markdown`]: the comment / job summary / check-run text, with
//!   truncation to a size limit.
//! - [`annotations`]: where each denial points (touched file or the rule's
//!   `file:line`), shared by check runs, workflow commands and SARIF.
//! - [`sarif`]: SARIF 2.1.0.
//! - [`format`]: `--format markdown|json|sarif`, one renderer per format.
//! - [`workflow_commands`]: `::error file=…::` lines, GitHub-escaped.
//! - [`github`]: publishing to GitHub (comment, check run, job summary).
//! - [`profile`]: `warden profiles list|show`, a resolved configuration
//!   with where each value came from (a view of the config, not of a run).

pub mod annotations;
pub mod format;
pub mod github;
pub mod markdown;
pub mod profile;
pub mod sarif;
pub mod workflow_commands;

use crate::audit::AuditSummary;
use crate::config::{Conclusion, ReportConfig};

/// The `[report]` settings used when no configuration says otherwise: a
/// tripped breaker fails the check; denials and escalations are neutral
/// (the gate did its job; the comment says what a human should look at).
pub fn default_report_config() -> ReportConfig {
    ReportConfig {
        on_breaker: Conclusion::Failure,
        on_escalation: Conclusion::Neutral,
        on_denial: Conclusion::Neutral,
        annotate_approvals: false,
    }
}

/// The check-run conclusion for a run: the most severe of the configured
/// conclusions that apply. A run that did not finish (exit 1 or 5, or a log
/// without `run_finished`) is a failure whatever the configuration says.
pub fn conclusion(summary: &AuditSummary, config: &ReportConfig) -> Conclusion {
    let mut worst = Conclusion::Success;
    let mut raise = |c: Conclusion| {
        if severity(c) > severity(worst) {
            worst = c;
        }
    };
    if !summary.breaker_trips.is_empty() {
        raise(config.on_breaker);
    }
    if summary.pending_escalations().next().is_some() {
        raise(config.on_escalation);
    }
    if summary.counts.deny > 0 {
        raise(config.on_denial);
    }
    match &summary.finish {
        None => raise(Conclusion::Failure),
        Some(f) if !matches!(f.exit_code, 0 | 3 | 4) => raise(Conclusion::Failure),
        Some(_) => {}
    }
    worst
}

fn severity(c: Conclusion) -> u8 {
    match c {
        Conclusion::Success => 0,
        Conclusion::Neutral => 1,
        Conclusion::Failure => 2,
    }
}

pub fn conclusion_str(c: Conclusion) -> &'static str {
    match c {
        Conclusion::Success => "success",
        Conclusion::Neutral => "neutral",
        Conclusion::Failure => "failure",
    }
}

/// What the run's exit code means, in words.
pub fn outcome_text(summary: &AuditSummary) -> String {
    let Some(finish) = &summary.finish else {
        return format!(
            "interrupted: the log ends at record {} without a run end",
            summary.chain.records
        );
    };
    // The documented exit codes (see `crate::error::ExitStatus`).
    let meaning = match finish.exit_code {
        0 => "done",
        1 => "the agent did not finish",
        2 => "usage or configuration error",
        3 => "stopped by the circuit breaker",
        4 => "stopped for a human",
        5 => "infrastructure failure",
        _ => "unknown exit code",
    };
    format!("{meaning} (exit {})", finish.exit_code)
}

/// A one-line headline: `2 denied · 1 escalated · breaker tripped`.
pub fn headline(summary: &AuditSummary) -> String {
    let mut parts = Vec::new();
    if summary.counts.deny > 0 {
        parts.push(format!("{} denied", summary.counts.deny));
    }
    let pending = summary.pending_escalations().count();
    if pending > 0 {
        parts.push(format!("{pending} escalated"));
    }
    if !summary.breaker_trips.is_empty() {
        parts.push("breaker tripped".to_owned());
    }
    if summary.finish.is_none() {
        parts.push("run interrupted".to_owned());
    }
    if parts.is_empty() {
        parts.push(format!(
            "{} action{}, nothing denied",
            summary.actions_proposed,
            if summary.actions_proposed == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    parts.join(" · ")
}
