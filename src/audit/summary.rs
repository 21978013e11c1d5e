//! [`AuditSummary`]: what one run did, computed from its verified records.
//! Every report format (Markdown, JSON, SARIF, the GitHub views) is a pure
//! function of this summary, so they cannot disagree with the log.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path};

use serde::Serialize;

use super::event::{Event, Record};
use super::verify::{AuditReadError, Verified, verify_file};
use crate::action::Action;
use crate::decision::{Category, Grants, Layer, Outcome, ReviewerVerdict, Source};

/// One run, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSummary {
    pub run_id: String,
    pub profile: Option<String>,
    pub warden_version: Option<String>,
    pub config_digest: Option<String>,
    pub workspace: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// `None` when the log ends without `run_finished` (interrupted run).
    pub finish: Option<RunFinish>,
    pub chain: ChainInfo,
    pub turns: u32,
    pub actions_proposed: u64,
    pub counts: OutcomeCounts,
    pub by_category: BTreeMap<Category, OutcomeCounts>,
    pub by_layer: BTreeMap<Layer, u64>,
    pub cache_hits: u64,
    pub executed: ExecCounts,
    /// Every decision other than `run` (approve, deny, escalate), in order.
    pub decisions: Vec<ReviewedAction>,
    pub breaker_trips: Vec<BreakerTrip>,
    pub overrides: Vec<OverrideEntry>,
    pub mcp_events: Vec<McpEntry>,
    /// Guarded protected paths commands changed (restored, or the run
    /// stopped), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protected_changes: Vec<crate::sandbox::ProtectedChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunFinish {
    pub exit_code: i32,
    pub reason: String,
}

/// The integrity facts a report shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainInfo {
    pub records: u64,
    /// SHA-256 of the last record: compare with `warden audit verify --head`.
    pub head: String,
    /// The last write was cut short (crash or kill).
    pub torn_tail: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    pub run: u64,
    pub approve: u64,
    pub deny: u64,
    pub escalate: u64,
}

impl OutcomeCounts {
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Run => self.run += 1,
            Outcome::Approve => self.approve += 1,
            Outcome::Deny => self.deny += 1,
            Outcome::Escalate => self.escalate += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.run + self.approve + self.deny + self.escalate
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExecCounts {
    pub count: u64,
    /// Non-zero exit or no exit code (killed).
    pub failed: u64,
    pub timed_out: u64,
    /// Operations the sandbox refused.
    pub refusals: u64,
}

/// A boundary crossing and how it was decided.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewedAction {
    pub action_id: String,
    pub denial_id: Option<String>,
    pub turn: Option<u32>,
    pub tool: Option<String>,
    /// One line (`exec curl https://x.example`), already redacted.
    pub summary: String,
    /// Workspace-relative files the action touches (for annotations).
    pub paths: Vec<String>,
    pub outcome: Outcome,
    pub category: Option<Category>,
    pub layer: Layer,
    pub source: Option<Source>,
    pub reason: String,
    /// What an approval let the command do beyond the sandbox.
    #[serde(skip_serializing_if = "Grants::is_empty")]
    pub grants: Grants,
    pub reviewer: Option<ReviewerVerdict>,
    pub cache_hit: bool,
    pub latency_ms: u64,
    /// Who approved this denial afterwards, if anyone did.
    pub overridden_by: Option<String>,
    #[serde(skip)]
    pub action: Option<Action>,
}

impl ReviewedAction {
    /// Deny or escalate.
    pub fn is_denial(&self) -> bool {
        self.outcome.counts_as_denial()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerTrip {
    pub turn: Option<u32>,
    pub consecutive: u32,
    pub in_window: u32,
    pub window: u32,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideEntry {
    pub denial_id: String,
    pub action_id: String,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McpEntry {
    pub server: String,
    pub status: String,
    pub detail: String,
}

impl AuditSummary {
    /// Verify the log at `path` and summarise it.
    pub fn load(path: &Path) -> Result<AuditSummary, AuditReadError> {
        Ok(Self::from_verified(&verify_file(path)?))
    }

    pub fn from_verified(verified: &Verified) -> AuditSummary {
        Self::from_records(
            &verified.records,
            ChainInfo {
                records: verified.records.len() as u64,
                head: verified.head.clone(),
                torn_tail: verified.torn_tail.is_some(),
            },
        )
    }

    /// Summarise records already read (and verified by the caller).
    pub fn from_records(records: &[Record], chain: ChainInfo) -> AuditSummary {
        let mut s = AuditSummary {
            run_id: records
                .first()
                .map(|r| r.run_id.clone())
                .unwrap_or_default(),
            profile: None,
            warden_version: None,
            config_digest: None,
            workspace: None,
            started_at: records.first().map(|r| r.ts.clone()),
            finished_at: None,
            finish: None,
            chain,
            turns: 0,
            actions_proposed: 0,
            counts: OutcomeCounts::default(),
            by_category: BTreeMap::new(),
            by_layer: BTreeMap::new(),
            cache_hits: 0,
            executed: ExecCounts::default(),
            decisions: Vec::new(),
            breaker_trips: Vec::new(),
            overrides: Vec::new(),
            mcp_events: Vec::new(),
            protected_changes: Vec::new(),
        };
        let mut proposed: HashMap<&str, (&str, &Action)> = HashMap::new();
        for record in records {
            match &record.event {
                Event::RunStarted {
                    profile,
                    config_digest,
                    workspace,
                    warden_version,
                    ..
                } => {
                    s.profile = Some(profile.clone());
                    s.config_digest = Some(config_digest.clone());
                    s.workspace = Some(workspace.clone());
                    s.warden_version = Some(warden_version.clone());
                }
                Event::TurnStarted { number } => s.turns = s.turns.max(*number),
                Event::ActionProposed {
                    action_id,
                    tool,
                    action,
                } => {
                    s.actions_proposed += 1;
                    proposed.insert(action_id, (tool, action));
                }
                Event::Decided {
                    action_id,
                    decision,
                    denial_id,
                    cache_hit,
                    latency_ms,
                } => {
                    s.counts.add(decision.outcome);
                    if let Some(category) = decision.category {
                        s.by_category
                            .entry(category)
                            .or_default()
                            .add(decision.outcome);
                    }
                    *s.by_layer.entry(decision.layer).or_default() += 1;
                    s.cache_hits += u64::from(*cache_hit);
                    if decision.outcome == Outcome::Run {
                        continue;
                    }
                    let found = proposed.get(action_id.as_str());
                    let workspace = s.workspace.as_deref().map(Path::new);
                    s.decisions.push(ReviewedAction {
                        action_id: action_id.clone(),
                        denial_id: denial_id.clone(),
                        turn: record.turn,
                        tool: found.map(|(tool, _)| tool.to_string()),
                        summary: found.map_or_else(
                            || format!("(action {action_id} not recorded)"),
                            |(_, a)| a.summary(),
                        ),
                        paths: found
                            .map(|(_, a)| touched_paths(a, workspace))
                            .unwrap_or_default(),
                        outcome: decision.outcome,
                        category: decision.category,
                        layer: decision.layer,
                        source: decision.source.clone(),
                        reason: decision.reason.clone(),
                        grants: decision.grants.clone(),
                        reviewer: decision.reviewer.clone(),
                        cache_hit: *cache_hit,
                        latency_ms: *latency_ms,
                        overridden_by: None,
                        action: found.map(|(_, a)| (*a).clone()),
                    });
                }
                Event::Executed {
                    exit_code,
                    timed_out,
                    refusals,
                    protected_changes,
                    ..
                } => {
                    s.protected_changes
                        .extend(protected_changes.iter().cloned());
                    s.executed.count += 1;
                    s.executed.failed += u64::from(*exit_code != Some(0));
                    s.executed.timed_out += u64::from(*timed_out);
                    s.executed.refusals += refusals.len() as u64;
                }
                Event::BreakerTripped {
                    consecutive,
                    in_window,
                    window,
                    reason,
                } => s.breaker_trips.push(BreakerTrip {
                    turn: record.turn,
                    consecutive: *consecutive,
                    in_window: *in_window,
                    window: *window,
                    reason: reason.clone(),
                }),
                Event::Overridden {
                    denial_id,
                    action_id,
                    by,
                } => {
                    s.overrides.push(OverrideEntry {
                        denial_id: denial_id.clone(),
                        action_id: action_id.clone(),
                        by: by.clone(),
                    });
                    if let Some(d) = s
                        .decisions
                        .iter_mut()
                        .rev()
                        .find(|d| d.denial_id.as_deref() == Some(denial_id))
                    {
                        d.overridden_by = Some(by.clone());
                    }
                }
                Event::McpServer {
                    server,
                    status,
                    detail,
                } => s.mcp_events.push(McpEntry {
                    server: server.clone(),
                    status: status.clone(),
                    detail: detail.clone(),
                }),
                // Printed at start; the report does not repeat it.
                Event::DenyReadTracked { .. } => {}
                Event::RunFinished {
                    exit_code, reason, ..
                } => {
                    s.finish = Some(RunFinish {
                        exit_code: *exit_code,
                        reason: reason.clone(),
                    });
                    s.finished_at = Some(record.ts.clone());
                }
            }
        }
        s
    }

    /// Denials and escalations, in order.
    pub fn denials(&self) -> impl Iterator<Item = &ReviewedAction> {
        self.decisions.iter().filter(|d| d.is_denial())
    }

    /// Escalations nobody has overridden: a human still has to decide.
    pub fn pending_escalations(&self) -> impl Iterator<Item = &ReviewedAction> {
        self.decisions
            .iter()
            .filter(|d| d.outcome == Outcome::Escalate && d.overridden_by.is_none())
    }
}

/// The files an action touches, relative to the workspace; paths outside it
/// are left out (they cannot be annotated).
pub fn touched_paths(action: &Action, workspace: Option<&Path>) -> Vec<String> {
    let candidates: Vec<&Path> = match action {
        Action::Read { path } | Action::Write { path } => vec![path.as_path()],
        Action::Exec {
            escalate: Some(e), ..
        } => e.write.iter().map(|p| p.as_path()).collect(),
        Action::RequestPermissions { writable_roots, .. } => {
            writable_roots.iter().map(|p| p.as_path()).collect()
        }
        _ => Vec::new(),
    };
    candidates
        .into_iter()
        .filter_map(|p| workspace_relative(p, workspace))
        .collect()
}

/// `path` relative to `workspace` with `/` separators, or `None` when it is
/// outside (absolute elsewhere, or climbing out with `..`).
pub fn workspace_relative(path: &Path, workspace: Option<&Path>) -> Option<String> {
    let relative = if path.is_absolute() {
        path.strip_prefix(workspace?).ok()?
    } else {
        path
    };
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}
