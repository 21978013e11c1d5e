//! Annotations: one per denial or escalation (and per approval when
//! `annotate_approvals` is set), placed on the file the action touched, or
//! else on the line of the rule that decided it, or else on a fallback file
//! (the workflow that ran warden). Check runs, workflow commands and SARIF
//! all use this one list, so they point at the same places.

use crate::audit::AuditSummary;
use crate::audit::summary::{ReviewedAction, workspace_relative};
use crate::config::ReportConfig;
use crate::decision::Outcome;
use crate::redact::redact;

/// Longest annotation title GitHub accepts.
pub const MAX_TITLE: usize = 255;
/// Bound on a message (GitHub allows 64 KiB; a denial needs far less).
pub const MAX_MESSAGE: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Notice,
    Warning,
    Failure,
}

impl Level {
    /// The check-run `annotation_level`.
    pub fn as_check_run(self) -> &'static str {
        match self {
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Failure => "failure",
        }
    }

    /// The workflow command name.
    pub fn as_workflow_command(self) -> &'static str {
        match self {
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Failure => "error",
        }
    }

    /// The SARIF result level.
    pub fn as_sarif(self) -> &'static str {
        match self {
            Level::Notice => "note",
            Level::Warning => "warning",
            Level::Failure => "error",
        }
    }
}

/// A place in the repository: workspace-relative path and lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    /// Only set when `start_line == end_line` (GitHub rejects columns on
    /// multi-line annotations).
    pub start_column: Option<u32>,
    pub end_column: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// `None` when neither the action nor the rule points into the
    /// repository and there is no fallback: workflow commands can still show
    /// it; a check run cannot.
    pub location: Option<Location>,
    pub level: Level,
    pub title: String,
    pub message: String,
    /// `layer` or `layer/file:line`: the SARIF rule id.
    pub rule_id: String,
    pub action_id: String,
    pub denial_id: Option<String>,
}

/// The annotations of a run, in decision order.
pub fn annotations(
    summary: &AuditSummary,
    config: &ReportConfig,
    fallback_path: Option<&str>,
) -> Vec<Annotation> {
    summary
        .decisions
        .iter()
        .filter(|d| d.is_denial() || (config.annotate_approvals && d.outcome == Outcome::Approve))
        .map(|d| annotation(summary, d, fallback_path))
        .collect()
}

fn annotation(summary: &AuditSummary, d: &ReviewedAction, fallback: Option<&str>) -> Annotation {
    let level = match (d.outcome, &d.overridden_by) {
        (_, Some(_)) | (Outcome::Approve | Outcome::Run, _) => Level::Notice,
        (Outcome::Deny, None) => Level::Failure,
        (Outcome::Escalate, None) => Level::Warning,
    };
    let verb = match d.outcome {
        Outcome::Deny => "denied",
        Outcome::Escalate => "escalated",
        Outcome::Approve => "approved",
        Outcome::Run => "ran",
    };
    let id = d.denial_id.as_deref().unwrap_or(&d.action_id);
    // A repeat keeps the first denial's id: say so, as the table does.
    let repeat = if d.layer == crate::decision::Layer::RepeatedDenial {
        " (repeat)"
    } else {
        ""
    };
    let title = clip(
        &redact(&format!("warden {verb} {id}{repeat}: {}", d.summary)),
        MAX_TITLE,
    );
    Annotation {
        location: location(summary, d, fallback),
        level,
        title,
        message: clip(&redact(&message(d)), MAX_MESSAGE),
        rule_id: rule_id(d),
        action_id: d.action_id.clone(),
        denial_id: d.denial_id.clone(),
    }
}

/// Plain-text explanation of one decision.
pub fn message(d: &ReviewedAction) -> String {
    let mut m = format!("{}\n{}: {}", d.summary, d.outcome, d.reason);
    m.push_str(&format!("\nDecided by {}", d.layer));
    if let Some(source) = &d.source {
        m.push_str(&format!(" ({source})"));
    }
    if let Some(category) = d.category {
        m.push_str(&format!(", category {category}"));
    }
    if d.cache_hit {
        m.push_str(", reused from an identical earlier action");
    }
    if let Some(r) = &d.reviewer {
        m.push_str(&format!(
            "\nReviewer: risk {}, authorization {}: {}",
            r.risk_level, r.user_authorization, r.rationale
        ));
    }
    match (&d.overridden_by, &d.denial_id) {
        (Some(by), Some(id)) => m.push_str(&format!("\n{id} was approved by {by}.")),
        (None, Some(id)) if d.is_denial() => m.push_str(&format!(
            "\nTo approve it: comment `/warden approve {id}` on the pull request, or re-run with `warden run --approve {id}`."
        )),
        _ => {}
    }
    m
}

/// The SARIF rule id: the deciding layer, and the rule's `file:line`.
pub fn rule_id(d: &ReviewedAction) -> String {
    match &d.source {
        Some(source) => format!("{}/{}:{}", d.layer, source.file, source.line),
        None => d.layer.to_string(),
    }
}

fn location(
    summary: &AuditSummary,
    d: &ReviewedAction,
    fallback: Option<&str>,
) -> Option<Location> {
    let whole_file = |path: &str| Location {
        path: path.to_owned(),
        start_line: 1,
        end_line: 1,
        start_column: None,
        end_column: None,
    };
    if let Some(path) = d.paths.first() {
        return Some(whole_file(path));
    }
    if let Some(source) = &d.source
        && let Some(path) = rule_file(&source.file, summary.workspace.as_deref())
    {
        let line = source.line.max(1);
        return Some(Location {
            path,
            start_line: line,
            end_line: line,
            start_column: source.column,
            end_column: source.column,
        });
    }
    fallback.map(whole_file)
}

/// A rule's file as a repository path; embedded profiles (`builtin:…`) and
/// `-c` overrides are not files.
fn rule_file(file: &str, workspace: Option<&str>) -> Option<String> {
    if file.starts_with("builtin:") || file == "-c" || file.is_empty() {
        return None;
    }
    workspace_relative(
        std::path::Path::new(file),
        workspace.map(std::path::Path::new),
    )
}

/// Cut to at most `max` bytes on a character boundary, marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}
