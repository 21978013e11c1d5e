//! The human-readable form of [`AuditStats`] (`warden audit stats`), next
//! to the statistics it renders. It imports only the rest of `audit`.

use std::fmt::Write as _;

use super::stats::AuditStats;

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// The human-readable form of the statistics.
pub fn format_stats(s: &AuditStats) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "runs: {} ({} interrupted) · actions: {} · decisions: {} · reviews: {}",
        s.runs, s.incomplete_runs, s.actions, s.decisions, s.reviews
    );
    let _ = writeln!(
        o,
        "rejection rate: {} ({} denied, {} escalated of {} reviews) · override rate: {} ({} overrides)",
        percent(s.rejection_rate),
        s.denials,
        s.escalations,
        s.reviews,
        percent(s.override_rate),
        s.overrides
    );
    let _ = writeln!(
        o,
        "denied by: auto-reject {} · rules {} · reviewer {} · reviewer failed {} · repeated {}",
        s.auto_rejected, s.rule_denied, s.reviewer_denied, s.reviewer_failed, s.repeated_denied
    );
    let l = &s.reviewer_latency_ms;
    let ms = |v: Option<u64>| v.map_or("-".to_owned(), |v| format!("{v} ms"));
    let _ = writeln!(
        o,
        "reviewer latency: p50 {} · p95 {} · max {} ({} calls) · cache hits: {} ({})",
        ms(l.p50),
        ms(l.p95),
        ms(l.max),
        l.count,
        s.cache_hits,
        percent(s.cache_hit_rate)
    );
    let _ = writeln!(
        o,
        "breaker trips: {} (in {} runs) · escalations per run: {:.2} mean, {} max",
        s.breaker_trips,
        s.runs_with_breaker_trip,
        s.escalations_per_run.mean,
        s.escalations_per_run.max
    );
    let section = |o: &mut String, title: &str, rows: Vec<(String, u64)>| {
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(o, "\n{title}:");
        for (key, count) in rows {
            let _ = writeln!(o, "  {count:>6}  {key}");
        }
    };
    section(
        &mut o,
        "rejections by category",
        s.rejections_by_category
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
    );
    section(
        &mut o,
        "rejections by layer",
        s.rejections_by_layer
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
    );
    section(
        &mut o,
        "rejections by rule",
        s.rejections_by_rule
            .iter()
            .map(|c| (c.key.clone(), c.count))
            .collect(),
    );
    section(
        &mut o,
        "most repeated rejected actions",
        s.repeated_rejected_actions
            .iter()
            .map(|r| (format!("{} ({} runs)", r.action, r.runs), r.count))
            .collect(),
    );
    if !s.approved_prefixes.is_empty() {
        let _ = writeln!(o, "\nmost approved command prefixes:");
        for p in &s.approved_prefixes {
            let _ = writeln!(
                o,
                "  {:>6}  {} ({} runs)",
                p.count,
                p.prefix.join(" "),
                p.runs
            );
            match &p.suggestion {
                Some(snippet) => {
                    for line in snippet.lines() {
                        let _ = writeln!(o, "          {line}");
                    }
                }
                None => {
                    let _ = writeln!(
                        o,
                        "          (no suggestion: a prefix rule on a shell or wrapper would allow anything it runs)"
                    );
                }
            }
        }
    }
    o
}
