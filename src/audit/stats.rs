//! `warden audit stats`: policy health across many runs: how often boundary
//! crossings are rejected and overridden, who rejects them (auto-reject,
//! rules, the reviewer, a failing reviewer), which rules and categories
//! deny most, which actions keep coming back, which approved commands could
//! become rules, reviewer latency, cache hits, breaker trips.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::summary::AuditSummary;
use crate::action::Action;
use crate::decision::{Layer, Outcome};

/// Rows kept in each "top" list.
pub const DEFAULT_TOP: usize = 10;

/// Statistics over a set of runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditStats {
    pub runs: u64,
    /// Runs whose log ends without `run_finished`.
    pub incomplete_runs: u64,
    pub actions: u64,
    pub decisions: u64,
    /// Boundary crossings that were adjudicated (approve, deny, escalate).
    pub reviews: u64,
    pub approvals: u64,
    pub denials: u64,
    pub escalations: u64,
    /// (denials + escalations) / reviews.
    pub rejection_rate: f64,
    pub overrides: u64,
    /// overrides / (denials + escalations).
    pub override_rate: f64,
    /// Category `false`: rejected without review.
    pub auto_rejected: u64,
    /// Denied by a managed, command or review rule.
    pub rule_denied: u64,
    /// Denied by the LLM reviewer's verdict.
    pub reviewer_denied: u64,
    /// Denied because the reviewer failed (timeout, error, bad output);
    /// kept apart from real denials.
    pub reviewer_failed: u64,
    /// Denied again without review because the same action was denied before.
    pub repeated_denied: u64,
    /// Denials and escalations by the layer that decided them.
    pub rejections_by_layer: BTreeMap<String, u64>,
    pub rejections_by_category: BTreeMap<String, u64>,
    /// Rejections by deciding rule (`file:line`), most first.
    pub rejections_by_rule: Vec<Counted>,
    /// Denied actions seen more than once, most first.
    pub repeated_rejected_actions: Vec<RepeatedAction>,
    /// Approved command prefixes, most first, with a rule to stop asking.
    pub approved_prefixes: Vec<ApprovedPrefix>,
    pub reviewer_latency_ms: Latency,
    pub cache_hits: u64,
    /// cache hits / reviews.
    pub cache_hit_rate: f64,
    pub breaker_trips: u64,
    pub runs_with_breaker_trip: u64,
    pub escalations_per_run: PerRun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counted {
    pub key: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepeatedAction {
    pub action: String,
    pub count: u64,
    pub runs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovedPrefix {
    pub prefix: Vec<String>,
    pub count: u64,
    pub runs: u64,
    /// A `[[command_rules]]` TOML snippet, or `None` for shells and wrappers
    /// (a prefix rule on `bash` would allow anything).
    pub suggestion: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub max: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PerRun {
    pub mean: f64,
    pub max: u64,
}

/// Programs whose prefix says nothing about what they run: never suggested.
const NO_PREFIX_RULE: &[&str] = &[
    "bash", "sh", "zsh", "dash", "fish", "ksh", "env", "sudo", "doas", "su", "xargs", "timeout",
    "nice", "nohup", "stdbuf", "time", "exec", "eval", "command", "busybox", "python", "python3",
    "node", "perl", "ruby", "npx", "uvx",
];

/// Accumulates runs one by one, so many logs need not be held at once.
#[derive(Default)]
pub struct StatsBuilder {
    stats: AuditStats,
    latencies: Vec<u64>,
    by_rule: HashMap<String, u64>,
    repeated: HashMap<String, (String, u64, BTreeSet<String>)>,
    prefixes: HashMap<Vec<String>, PrefixAcc>,
    escalations_per_run: Vec<u64>,
}

#[derive(Default)]
struct PrefixAcc {
    count: u64,
    runs: BTreeSet<String>,
    example: Vec<String>,
    network: bool,
    write: bool,
}

impl StatsBuilder {
    pub fn add_run(&mut self, run: &AuditSummary) {
        let s = &mut self.stats;
        s.runs += 1;
        s.incomplete_runs += u64::from(run.finish.is_none());
        s.actions += run.actions_proposed;
        s.decisions += run.counts.total();
        s.approvals += run.counts.approve;
        s.denials += run.counts.deny;
        s.escalations += run.counts.escalate;
        s.reviews += run.counts.approve + run.counts.deny + run.counts.escalate;
        s.overrides += run.overrides.len() as u64;
        s.cache_hits += run.cache_hits;
        s.breaker_trips += run.breaker_trips.len() as u64;
        s.runs_with_breaker_trip += u64::from(!run.breaker_trips.is_empty());
        self.escalations_per_run.push(run.counts.escalate);

        for d in &run.decisions {
            if matches!(d.layer, Layer::AutoReview | Layer::ReviewerFailed) && !d.cache_hit {
                let ms = d.reviewer.as_ref().map_or(d.latency_ms, |r| r.latency_ms);
                self.latencies.push(ms);
            }
            if d.outcome == Outcome::Approve {
                let needs = (d.grants.wants_network(), !d.grants.write.is_empty());
                self.add_approval(&run.run_id, d.action.as_ref(), needs);
                continue;
            }
            let s = &mut self.stats;
            if d.outcome == Outcome::Deny {
                match d.layer {
                    Layer::AutoReject => s.auto_rejected += 1,
                    Layer::Requirements | Layer::CommandRules | Layer::ReviewRules => {
                        s.rule_denied += 1
                    }
                    Layer::AutoReview => s.reviewer_denied += 1,
                    Layer::ReviewerFailed => s.reviewer_failed += 1,
                    Layer::RepeatedDenial => s.repeated_denied += 1,
                    _ => {}
                }
            }
            *s.rejections_by_layer
                .entry(d.layer.as_str().to_owned())
                .or_default() += 1;
            let category = d.category.map_or("none", |c| c.as_str());
            *s.rejections_by_category
                .entry(category.to_owned())
                .or_default() += 1;
            if let Some(source) = &d.source {
                *self.by_rule.entry(source.to_string()).or_default() += 1;
            }
            let key = d
                .action
                .as_ref()
                .map_or_else(|| d.summary.clone(), Action::normalized_key);
            let entry = self
                .repeated
                .entry(key)
                .or_insert_with(|| (d.summary.clone(), 0, BTreeSet::new()));
            entry.1 += 1;
            entry.2.insert(run.run_id.clone());
        }
    }

    fn add_approval(&mut self, run_id: &str, action: Option<&Action>, grants: (bool, bool)) {
        let Some(Action::Exec { command, .. }) = action else {
            return;
        };
        let prefix = command_prefix(command);
        if prefix.is_empty() {
            return;
        }
        let acc = self.prefixes.entry(prefix).or_default();
        acc.count += 1;
        acc.runs.insert(run_id.to_owned());
        if acc.example.is_empty() {
            acc.example = command.clone();
        }
        acc.network |= grants.0;
        acc.write |= grants.1;
    }

    pub fn finish(mut self, top: usize) -> AuditStats {
        let s = &mut self.stats;
        let rejected = s.denials + s.escalations;
        s.rejection_rate = ratio(rejected, s.reviews);
        s.override_rate = ratio(s.overrides, rejected);
        s.cache_hit_rate = ratio(s.cache_hits, s.reviews);
        s.reviewer_latency_ms = latency(&mut self.latencies);
        s.escalations_per_run = PerRun {
            mean: ratio(self.escalations_per_run.iter().sum(), s.runs),
            max: self.escalations_per_run.iter().copied().max().unwrap_or(0),
        };
        s.rejections_by_rule = top_counted(self.by_rule.into_iter(), top);
        let mut repeated: Vec<RepeatedAction> = self
            .repeated
            .into_values()
            .filter(|(_, count, _)| *count > 1)
            .map(|(action, count, runs)| RepeatedAction {
                action,
                count,
                runs: runs.len() as u64,
            })
            .collect();
        repeated.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.action.cmp(&b.action)));
        repeated.truncate(top);
        s.repeated_rejected_actions = repeated;
        let mut prefixes: Vec<ApprovedPrefix> = self
            .prefixes
            .into_iter()
            .map(|(prefix, acc)| ApprovedPrefix {
                suggestion: suggest_rule(&prefix, &acc),
                prefix,
                count: acc.count,
                runs: acc.runs.len() as u64,
            })
            .collect();
        prefixes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.prefix.cmp(&b.prefix)));
        prefixes.truncate(top);
        s.approved_prefixes = prefixes;
        self.stats
    }
}

/// Statistics over `runs`.
pub fn compute<'a>(runs: impl IntoIterator<Item = &'a AuditSummary>, top: usize) -> AuditStats {
    let mut builder = StatsBuilder::default();
    for run in runs {
        builder.add_run(run);
    }
    builder.finish(top)
}

/// Program (by basename) and at most one subcommand word: `cargo fetch`,
/// `npm ci`, `curl`. Flags, paths, URLs and assignments end the prefix.
pub fn command_prefix(command: &[String]) -> Vec<String> {
    let Some(program) = command.first() else {
        return Vec::new();
    };
    let program = program.rsplit('/').next().unwrap_or(program).to_owned();
    if program.is_empty() {
        return Vec::new();
    }
    let mut prefix = vec![program];
    if let Some(word) = command.get(1)
        && !word.is_empty()
        && !word.starts_with('-')
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        prefix.push(word.clone());
    }
    prefix
}

fn suggest_rule(prefix: &[String], acc: &PrefixAcc) -> Option<String> {
    if NO_PREFIX_RULE.contains(&prefix[0].as_str()) {
        return None;
    }
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let list = |words: &[String]| {
        let quoted: Vec<String> = words.iter().map(|w| quote(w)).collect();
        format!("[{}]", quoted.join(", "))
    };
    let runs = acc.runs.len();
    let mut out = String::from("[[command_rules]]\n");
    out.push_str(&format!("pattern = {}\n", list(prefix)));
    out.push_str("decision = \"allow\"\n");
    out.push_str(&format!(
        "justification = {}\n",
        quote(&format!(
            "approved {} time{} in {runs} run{} (warden audit stats)",
            acc.count,
            plural(acc.count),
            plural(runs as u64)
        ))
    ));
    out.push_str(&format!("match = [{}]\n", list(&acc.example)));
    if acc.network || acc.write {
        let needs: Vec<&str> = [(acc.network, "network"), (acc.write, "extra writes")]
            .into_iter()
            .filter_map(|(on, what)| on.then_some(what))
            .collect();
        out.push_str(&format!(
            "# the approved runs needed {}: grant it in the rule if it should be pre-approved\n",
            needs.join(" and ")
        ));
    }
    Some(out)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Nearest-rank percentiles.
fn latency(samples: &mut [u64]) -> Latency {
    if samples.is_empty() {
        return Latency::default();
    }
    samples.sort_unstable();
    let rank = |p: f64| {
        let n = samples.len();
        let index = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        samples[index]
    };
    Latency {
        count: samples.len() as u64,
        p50: Some(rank(0.50)),
        p95: Some(rank(0.95)),
        max: samples.last().copied(),
    }
}

fn top_counted(items: impl Iterator<Item = (String, u64)>, top: usize) -> Vec<Counted> {
    let mut v: Vec<Counted> = items.map(|(key, count)| Counted { key, count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v.truncate(top);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn prefixes_stop_at_flags_paths_and_urls() {
        assert_eq!(
            command_prefix(&words(&["/usr/bin/cargo", "fetch", "--locked"])),
            words(&["cargo", "fetch"])
        );
        assert_eq!(
            command_prefix(&words(&["curl", "https://x.example"])),
            words(&["curl"])
        );
        assert_eq!(
            command_prefix(&words(&["npm", "--prefix", "x"])),
            words(&["npm"])
        );
        assert!(command_prefix(&[]).is_empty());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<u64> = (1..=100).collect();
        let l = latency(&mut v);
        assert_eq!((l.p50, l.p95, l.max), (Some(50), Some(95), Some(100)));
        assert_eq!(latency(&mut []).p50, None);
    }

    #[test]
    fn suggestions_are_valid_toml_and_skip_wrappers() {
        let acc = PrefixAcc {
            count: 3,
            runs: ["r1".to_string()].into(),
            example: words(&["cargo", "fetch", "--locked \"x\""]),
            network: true,
            write: false,
        };
        let snippet = suggest_rule(&words(&["cargo", "fetch"]), &acc).unwrap();
        let parsed: toml::Value = toml::from_str(&snippet).unwrap();
        let rule = &parsed["command_rules"][0];
        assert_eq!(rule["decision"].as_str(), Some("allow"));
        assert_eq!(rule["match"][0][2].as_str(), Some("--locked \"x\""));
        assert!(snippet.contains("needed network"));
        assert!(suggest_rule(&words(&["bash"]), &acc).is_none());
    }
}
