//! The Markdown report: outcome, counts by decision and category, the
//! denials and escalations with their ids and reasons, how to override one,
//! breaker trips and overrides, a link to the run, and the chain head.
//! Used for the sticky PR comment, the job summary, the check-run summary
//! and `warden report --format markdown`.
//!
//! Text that came from the agent or the reviewer is untrusted: it is put in
//! code spans or backslash-escaped, on one line, so it cannot add links,
//! HTML, mentions, headings or a fake warden marker. Output longer than the
//! limit drops table rows (never the header) and says where the full record
//! is.

use std::fmt::Write as _;

use super::{conclusion, conclusion_str, headline, outcome_text};
use crate::audit::AuditSummary;
use crate::audit::summary::ReviewedAction;
use crate::config::ReportConfig;
use crate::decision::{Layer, Outcome};
use crate::redact::redact;

/// Bytes of an action summary or reason shown in a table cell.
const CELL_MAX: usize = 300;

#[derive(Debug, Clone)]
pub struct MarkdownOptions {
    /// Hidden first line (`<!-- warden:{workflow}:{job} -->`) of a sticky
    /// comment.
    pub marker: Option<String>,
    /// Link to the workflow run.
    pub run_url: Option<String>,
    /// Maximum size in bytes.
    pub limit: usize,
    /// Also list approvals (job summary, `warden report`).
    pub include_approvals: bool,
    /// Where the complete record is, for the truncation note.
    pub full_record_hint: String,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            marker: None,
            run_url: None,
            limit: usize::MAX,
            include_approvals: true,
            full_record_hint: "the audit log (kept as this run's artifact)".to_owned(),
        }
    }
}

/// Render the report within `opts.limit` bytes.
pub fn render(summary: &AuditSummary, config: &ReportConfig, opts: &MarkdownOptions) -> String {
    let parts = Parts::new(summary, config, opts);
    let rows = parts.row_count();
    let full = parts.assemble(rows, opts);
    if full.len() <= opts.limit {
        return full;
    }
    // Largest number of rows that fits: the length grows with the rows.
    let (mut fits, mut too_many) = (0usize, rows);
    while too_many - fits > 1 {
        let mid = fits + (too_many - fits) / 2;
        if parts.assemble(mid, opts).len() <= opts.limit {
            fits = mid;
        } else {
            too_many = mid;
        }
    }
    let out = parts.assemble(fits, opts);
    if out.len() <= opts.limit {
        return out;
    }
    hard_truncate(&out, opts)
}

/// The report in pieces, each already redacted, so truncation can drop
/// table rows without rendering (or redacting) again.
struct Parts {
    head: String,
    denial_rows: Vec<String>,
    /// How to approve, after the denials table.
    denial_hint: String,
    /// Breaker trips and overrides.
    middle: String,
    approval_rows: Vec<String>,
    footer: String,
}

const TABLE_HEADER: &str =
    "| decision | action | category | decided by | reason |\n|---|---|---|---|---|---|\n";

impl Parts {
    fn new(summary: &AuditSummary, config: &ReportConfig, opts: &MarkdownOptions) -> Parts {
        let denial_rows: Vec<String> = summary.denials().map(|d| redact(&row(d))).collect();
        let approval_rows: Vec<String> = if opts.include_approvals {
            summary
                .decisions
                .iter()
                .filter(|d| d.outcome == Outcome::Approve)
                .map(|d| redact(&row(d)))
                .collect()
        } else {
            Vec::new()
        };
        let pending = summary
            .denials()
            .filter(|d| d.overridden_by.is_none())
            .filter_map(|d| d.denial_id.as_deref())
            .last();
        let denial_hint = pending.map_or(String::new(), |id| {
            format!(
                "To approve one, comment `/warden approve {id}` on this pull request, or re-run with `warden run --approve {id}`. An approval grants exactly that action, once.\n\n"
            )
        });
        Parts {
            head: redact(&head(summary, config, opts)),
            denial_rows,
            denial_hint,
            middle: redact(&middle(summary)),
            approval_rows,
            footer: footer(summary),
        }
    }

    fn row_count(&self) -> usize {
        self.denial_rows.len() + self.approval_rows.len()
    }

    /// The report with the first `rows` table rows (denials first).
    fn assemble(&self, rows: usize, opts: &MarkdownOptions) -> String {
        let denials = rows.min(self.denial_rows.len());
        let approvals = (rows - denials).min(self.approval_rows.len());
        let mut out = self.head.clone();
        if !self.denial_rows.is_empty() {
            out.push_str("#### Denials and escalations\n\n");
            table(&mut out, "id", &self.denial_rows[..denials]);
            out.push_str(&self.denial_hint);
        }
        out.push_str(&self.middle);
        if !self.approval_rows.is_empty() {
            out.push_str("#### Approved boundary crossings\n\n");
            table(&mut out, "action id", &self.approval_rows[..approvals]);
        }
        let omitted = self.row_count() - denials - approvals;
        if omitted > 0 {
            let link = opts
                .run_url
                .as_deref()
                .map_or(String::new(), |u| format!(" of [this run]({u})"));
            let _ = writeln!(
                out,
                "> **Truncated:** {omitted} more decision{} not shown here. The complete record is {}{link}.\n",
                plural(omitted as u64),
                opts.full_record_hint
            );
        }
        out.push_str(&self.footer);
        out
    }
}

fn table(out: &mut String, first_column: &str, rows: &[String]) {
    if rows.is_empty() {
        return;
    }
    let _ = write!(out, "| {first_column} {TABLE_HEADER}");
    for r in rows {
        out.push_str(r);
    }
    out.push('\n');
}

fn head(summary: &AuditSummary, config: &ReportConfig, opts: &MarkdownOptions) -> String {
    let mut out = String::new();
    if let Some(marker) = &opts.marker {
        let _ = writeln!(out, "{marker}");
    }
    let _ = writeln!(out, "### warden: {}\n", escape_text(&headline(summary)));
    let _ = writeln!(
        out,
        "**Outcome:** {} · **check:** {}  ",
        escape_text(&outcome_text(summary)),
        conclusion_str(conclusion(summary, config))
    );
    let run = match &opts.run_url {
        Some(url) => format!("[{}]({url})", escape_text(&summary.run_id)),
        None => code_span(&summary.run_id),
    };
    let _ = write!(out, "**Run:** {run}");
    if let Some(profile) = &summary.profile {
        let _ = write!(out, " · profile {}", code_span(profile));
    }
    if let Some(version) = &summary.warden_version {
        let _ = write!(out, " · warden {}", escape_text(version));
    }
    let _ = writeln!(
        out,
        " · {} action{} in {} turn{}  ",
        summary.actions_proposed,
        plural(summary.actions_proposed),
        summary.turns,
        plural(u64::from(summary.turns))
    );
    let e = summary.executed;
    let _ = writeln!(
        out,
        "**Executed:** {} ({} failed, {} timed out, {} sandbox refusal{})\n",
        e.count,
        e.failed,
        e.timed_out,
        e.refusals,
        plural(e.refusals)
    );
    counts_table(&mut out, summary);
    out
}

fn middle(summary: &AuditSummary) -> String {
    let mut out = String::new();
    if !summary.breaker_trips.is_empty() {
        let _ = writeln!(out, "#### Circuit breaker\n");
        for trip in &summary.breaker_trips {
            let turn = trip.turn.map_or(String::new(), |t| format!("turn {t}: "));
            let _ = writeln!(
                out,
                "- {turn}tripped after {} denials in a row, {} in the last {} reviews: {}",
                trip.consecutive,
                trip.in_window,
                trip.window,
                escape_text(&trip.reason)
            );
        }
        out.push('\n');
    }
    if !summary.protected_changes.is_empty() {
        let _ = writeln!(out, "#### Protected paths changed by commands\n");
        for c in &summary.protected_changes {
            let outcome = if c.restored {
                "restored"
            } else {
                "**not restored**"
            };
            let _ = writeln!(
                out,
                "- {} {}, {outcome}",
                code_span(&c.path.display().to_string()),
                escape_text(&c.change)
            );
        }
        out.push('\n');
    }
    let mcp_trouble: Vec<_> = summary
        .mcp_events
        .iter()
        .filter(|m| !matches!(m.status.as_str(), "started" | "stopped"))
        .collect();
    if !mcp_trouble.is_empty() {
        let _ = writeln!(out, "#### MCP servers\n");
        for m in mcp_trouble {
            let _ = writeln!(
                out,
                "- {} {}: {}",
                code_span(&m.server),
                escape_text(&m.status),
                escape_text(&m.detail)
            );
        }
        out.push('\n');
    }
    if !summary.overrides.is_empty() {
        let _ = writeln!(out, "#### Overrides\n");
        for o in &summary.overrides {
            let _ = writeln!(
                out,
                "- {} ({}) approved by {}",
                code_span(&o.denial_id),
                code_span(&o.action_id),
                code_span(&o.by)
            );
        }
        out.push('\n');
    }
    out
}

fn footer(summary: &AuditSummary) -> String {
    let integrity = if summary.chain.torn_tail {
        " · last write torn (crash or kill)"
    } else {
        ""
    };
    let head = short(&summary.chain.head);
    format!(
        "<sub>Audit log: {} records · chain head `{head}` · check it with `warden audit verify --head {head}`{integrity}</sub>\n",
        summary.chain.records,
    )
}

fn counts_table(out: &mut String, summary: &AuditSummary) {
    let _ = writeln!(out, "| | run | approve | deny | escalate |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let c = summary.counts;
    let _ = writeln!(
        out,
        "| **all** | {} | {} | {} | {} |",
        c.run, c.approve, c.deny, c.escalate
    );
    for (category, c) in &summary.by_category {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            category, c.run, c.approve, c.deny, c.escalate
        );
    }
    out.push('\n');
}

/// One table row (with its newline). A repeated denial keeps the first
/// denial's id, so its row says it is a repeat (`D5` (repeat)) rather than
/// showing the same id again as if it were a new denial.
fn row(d: &ReviewedAction) -> String {
    let id = d.denial_id.as_deref().unwrap_or(&d.action_id);
    let id_cell = if d.layer == Layer::RepeatedDenial {
        format!("{} (repeat)", cell_code(id))
    } else {
        cell_code(id)
    };
    let mut decision = d.outcome.to_string();
    if let Some(by) = &d.overridden_by {
        decision.push_str(&format!(" (approved by {})", cell_code(by)));
    }
    if d.cache_hit && d.layer != Layer::RepeatedDenial {
        decision.push_str(" (cached)");
    }
    let decided_by = match &d.source {
        Some(source) => format!("{} {}", d.layer, cell_code(&source.to_string())),
        None => d.layer.to_string(),
    };
    let mut reason = d.reason.clone();
    if let Some(r) = &d.reviewer {
        reason.push_str(&format!(" (risk {}: {})", r.risk_level, r.rationale));
    }
    format!(
        "| {id_cell} | {decision} | {} | {} | {decided_by} | {} |\n",
        cell_code(&clip(&d.summary)),
        d.category.map_or("-", |c| c.as_str()),
        escape_text(&clip(&reason)),
    )
}

/// Last resort when even the header does not fit: cut on a character
/// boundary and say so.
fn hard_truncate(text: &str, opts: &MarkdownOptions) -> String {
    let note = format!(
        "\n\n> **Truncated.** The complete record is {}.\n",
        opts.full_record_hint
    );
    let mut cut = opts.limit.saturating_sub(note.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{note}", &text[..cut])
}

fn clip(text: &str) -> String {
    super::annotations::clip(text, CELL_MAX)
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(16)]
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Untrusted text as Markdown text: one line, every ASCII punctuation that
/// Markdown could act on backslash-escaped, and `@` broken with a zero-width
/// space so it cannot mention anyone.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in one_line(text).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' | '!' | '(' | ')'
            | '{' | '}' | '&' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("@\u{200B}"),
            c => out.push(c),
        }
    }
    out
}

/// Untrusted text as an inline code span (no links, HTML or mentions are
/// rendered inside one).
pub fn code_span(text: &str) -> String {
    let text = one_line(text);
    let longest_run = text
        .split(|c| c != '`')
        .map(|run| run.len())
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A code span inside a table cell: GitHub splits cells on `|` before it
/// sees code spans, so pipes are escaped there too.
fn cell_code(text: &str) -> String {
    code_span(text).replace('|', "\\|")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markdown() {
        let out = escape_text("see [x](https://evil) <!-- warden:a:b --> @alice\n# head");
        assert!(!out.contains("<!--"));
        assert!(out.contains("\\[x\\]\\(https://evil\\)"));
        assert!(out.contains("@\u{200B}alice"));
        assert!(!out.contains('\n'));
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x`"), "`` `x` ``");
        assert_eq!(cell_code("a|b"), "`a\\|b`");
    }
}
