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
use crate::decision::Outcome;
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
    let rows = listed(summary, opts).len();
    let full = render_rows(summary, config, opts, rows);
    if full.len() <= opts.limit {
        return full;
    }
    // Largest number of rows that fits: rendering is monotonic in rows.
    let (mut fits, mut too_many) = (0usize, rows);
    while too_many - fits > 1 {
        let mid = fits + (too_many - fits) / 2;
        if render_rows(summary, config, opts, mid).len() <= opts.limit {
            fits = mid;
        } else {
            too_many = mid;
        }
    }
    let out = render_rows(summary, config, opts, fits);
    if out.len() <= opts.limit {
        return out;
    }
    hard_truncate(&out, opts)
}

fn listed<'a>(summary: &'a AuditSummary, opts: &MarkdownOptions) -> Vec<&'a ReviewedAction> {
    let mut rows: Vec<&ReviewedAction> = summary.denials().collect();
    if opts.include_approvals {
        rows.extend(
            summary
                .decisions
                .iter()
                .filter(|d| d.outcome == Outcome::Approve),
        );
    }
    rows
}

fn render_rows(
    summary: &AuditSummary,
    config: &ReportConfig,
    opts: &MarkdownOptions,
    max_rows: usize,
) -> String {
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
        " · {} action{} in {} turn{}\n",
        summary.actions_proposed,
        plural(summary.actions_proposed),
        summary.turns,
        plural(u64::from(summary.turns))
    );
    counts_table(&mut out, summary);

    let all = listed(summary, opts);
    let shown = &all[..max_rows.min(all.len())];
    let denials: Vec<_> = shown.iter().filter(|d| d.is_denial()).collect();
    if summary.denials().next().is_some() {
        let _ = writeln!(out, "#### Denials and escalations\n");
        decisions_table(&mut out, &denials, true);
        let pending: Vec<&str> = summary
            .denials()
            .filter(|d| d.overridden_by.is_none())
            .filter_map(|d| d.denial_id.as_deref())
            .collect();
        if let Some(example) = pending.last() {
            let _ = writeln!(
                out,
                "To approve one, comment `/warden approve {example}` on this pull request, or re-run with `warden run --approve {example}`. An approval grants exactly that action, once.\n"
            );
        }
    }
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
    let approvals: Vec<_> = shown.iter().filter(|d| !d.is_denial()).collect();
    if opts.include_approvals && summary.counts.approve > 0 {
        let _ = writeln!(out, "#### Approved boundary crossings\n");
        decisions_table(&mut out, &approvals, false);
    }
    let omitted = all.len() - shown.len();
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
    let integrity = if summary.chain.torn_tail {
        " · last write torn (crash or kill)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<sub>Audit log: {} records · chain head `{}` · check it with `warden audit verify --head {}`{integrity}</sub>",
        summary.chain.records,
        short(&summary.chain.head),
        short(&summary.chain.head)
    );
    redact(&out)
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

fn decisions_table(out: &mut String, rows: &[&&ReviewedAction], denials: bool) {
    if rows.is_empty() {
        return;
    }
    let first = if denials { "id" } else { "action id" };
    let _ = writeln!(
        out,
        "| {first} | decision | action | category | decided by | reason |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for d in rows {
        let id = d.denial_id.as_deref().unwrap_or(&d.action_id);
        let mut decision = d.outcome.to_string();
        if let Some(by) = &d.overridden_by {
            decision.push_str(&format!(" (approved by {})", cell_code(by)));
        }
        if d.cache_hit {
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
        let _ = writeln!(
            out,
            "| {} | {decision} | {} | {} | {decided_by} | {} |",
            cell_code(id),
            cell_code(&clip(&d.summary)),
            d.category.map_or("-", |c| c.as_str()),
            escape_text(&clip(&reason)),
        );
    }
    out.push('\n');
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
