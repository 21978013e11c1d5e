//! The composite action's step outputs and whether its step fails.
//!
//! After `warden run`, the action calls `warden gh outputs`, which reads
//! the run's audit log (verifying its hash chain), writes the outputs to
//! `GITHUB_OUTPUT` and exits with the step's status under `fail-on`:
//!
//! | `fail-on` | the step fails on |
//! |---|---|
//! | `never` | exit 2 (usage/config) and 5 (infrastructure) only |
//! | `breaker` | also 1 (the agent did not finish) and 3 (breaker) |
//! | `escalation` (default) | also 4 / any escalation still pending |
//! | `denial` | also any denial in the run |
//!
//! Exit 2 and 5 always fail: they mean warden could not do its job, and a
//! green step would hide that. So does an audit log that is missing after
//! warden ran, or whose chain does not verify (exit 5): the outputs would
//! be unfounded.
//!
//! The action suspends workflow commands while the agent runs (nothing it
//! prints may act on the runner), which also mutes the annotations
//! `warden run` prints when it cannot create a check run (fork pull
//! requests). So when no check run of this run is found, the annotations
//! are printed here instead, once commands are back on.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::step_output::StepOutputs;
use crate::audit::AuditSummary;
use crate::decision::Outcome;
use crate::github::client::{Api, Method, RetryPolicy};
use crate::github::{EnvMap, GithubEnv};
use crate::report::annotations::annotations;
use crate::report::default_report_config;
use crate::report::github::check_run::CHECK_NAME;
use crate::report::workflow_commands;

/// Longest final message put in an output (GitHub allows 1 MiB of outputs
/// per job; the whole message is in the audit log and the job summary).
pub const MAX_FINAL_MESSAGE: usize = 64 * 1024;

/// Every output the step sets (the action's `outputs:` map these).
pub const OUTPUT_NAMES: &[&str] = &[
    "exit-code",
    "final-message",
    "audit-path",
    "audit-dir",
    "denials",
    "escalations",
    "denial-ids",
    "breaker-tripped",
    "report-url",
];

/// When the step fails (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    Never,
    Breaker,
    #[default]
    Escalation,
    Denial,
}

/// What the audit log says about the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFacts {
    pub run_id: String,
    pub denials: u64,
    /// Escalations nobody has overridden.
    pub escalations: u64,
    /// Ids of the denials and escalations kept in this run (`D3`, …).
    pub denial_ids: Vec<String>,
    pub breaker_tripped: bool,
}

impl RunFacts {
    pub fn from_summary(summary: &AuditSummary) -> RunFacts {
        RunFacts {
            run_id: summary.run_id.clone(),
            denials: summary
                .decisions
                .iter()
                .filter(|d| d.outcome == Outcome::Deny && d.overridden_by.is_none())
                .count() as u64,
            escalations: summary.pending_escalations().count() as u64,
            denial_ids: summary
                .denials()
                .filter_map(|d| d.denial_id.clone())
                .collect(),
            breaker_tripped: !summary.breaker_trips.is_empty(),
        }
    }
}

/// The step's exit status and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepStatus {
    pub code: i32,
    pub reason: String,
}

/// Decide the step's status from warden run's exit code and the log.
pub fn step_status(fail_on: FailOn, exit_code: i32, facts: &RunFacts) -> StepStatus {
    let fail = |code: i32, reason: String| StepStatus { code, reason };
    match exit_code {
        2 => {
            return fail(
                2,
                "warden run: usage or configuration error (exit 2)".into(),
            );
        }
        5 => return fail(5, "warden run: infrastructure failure (exit 5)".into()),
        0 | 1 | 3 | 4 => {}
        other => return fail(other, format!("warden run ended abnormally (exit {other})")),
    }
    let meaning = match exit_code {
        1 => "the agent did not finish",
        3 => "the circuit breaker tripped",
        4 => "escalations are pending",
        _ => "done",
    };
    let by_code = fail(
        exit_code,
        format!("{meaning} (exit {exit_code}), fail-on {fail_on:?}"),
    );
    let pass = StepStatus {
        code: 0,
        reason: format!("{meaning} (exit {exit_code}); fail-on {fail_on:?} lets the step pass"),
    };
    let ids = || {
        if facts.denial_ids.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.denial_ids.join(", "))
        }
    };
    match fail_on {
        FailOn::Never => pass,
        FailOn::Breaker if exit_code == 0 || exit_code == 4 => pass,
        FailOn::Breaker => by_code,
        FailOn::Escalation | FailOn::Denial if exit_code != 0 => by_code,
        FailOn::Escalation | FailOn::Denial if facts.escalations > 0 => fail(
            4,
            format!(
                "{} escalation(s) pending{}, fail-on {fail_on:?}",
                facts.escalations,
                ids()
            ),
        ),
        FailOn::Denial if facts.denials > 0 => fail(
            1,
            format!(
                "{} action(s) denied{}, fail-on denial",
                facts.denials,
                ids()
            ),
        ),
        FailOn::Escalation | FailOn::Denial => pass,
    }
}

/// What `warden gh outputs` is given.
#[derive(Debug, Clone)]
pub struct OutputsRequest {
    /// The run's audit log.
    pub audit: PathBuf,
    /// `warden run`'s exit code.
    pub exit_code: i32,
    /// The file `--output-last-message` wrote.
    pub final_message: Option<PathBuf>,
    pub fail_on: FailOn,
    /// Look the check run up for `report-url` (GitHub Actions only).
    pub lookup_report: bool,
    pub retry: RetryPolicy,
}

/// The outputs and the step's status.
#[derive(Debug, Clone)]
pub struct OutputsResult {
    pub outputs: StepOutputs,
    pub status: StepStatus,
    /// Notes for the log (problems that did not decide the status).
    pub notes: Vec<String>,
    /// Workflow-command annotations to print: no check run carries them.
    pub workflow_commands: Vec<String>,
}

/// Compute the outputs of the step.
pub async fn compute(env: &EnvMap, req: &OutputsRequest) -> OutputsResult {
    let mut notes = Vec::new();
    let mut outputs = StepOutputs::new();
    outputs.set("exit-code", req.exit_code.to_string());
    let message = match &req.final_message {
        Some(path) => read_final_message(path, &mut notes),
        None => String::new(),
    };
    outputs.set("final-message", message);

    let summary = if req.audit.exists() {
        AuditSummary::load(&req.audit).map_err(|e| e.to_string())
    } else {
        Err(format!("{}: no audit log", req.audit.display()))
    };
    let facts = match &summary {
        Ok(s) => {
            outputs.set("audit-path", req.audit.display().to_string());
            outputs.set(
                "audit-dir",
                req.audit
                    .parent()
                    .unwrap_or(Path::new("."))
                    .display()
                    .to_string(),
            );
            RunFacts::from_summary(s)
        }
        Err(_) => {
            outputs.set("audit-path", "");
            // The directory may still hold the kept denials of earlier runs.
            let dir = req.audit.parent().filter(|d| d.is_dir());
            outputs.set(
                "audit-dir",
                dir.map(|d| d.display().to_string()).unwrap_or_default(),
            );
            RunFacts::default()
        }
    };
    outputs.set("denials", facts.denials.to_string());
    outputs.set("escalations", facts.escalations.to_string());
    outputs.set("denial-ids", facts.denial_ids.join(","));
    outputs.set(
        "breaker-tripped",
        (facts.breaker_tripped || req.exit_code == 3).to_string(),
    );

    let github = GithubEnv::from_map(env);
    let mut report_url = github.run_url().unwrap_or_default();
    let mut workflow_commands = Vec::new();
    if let (true, true, Ok(summary)) = (req.lookup_report, github.actions, &summary) {
        let found = match check_run_url(&github, &facts.run_id, req.retry).await {
            Ok(found) => found,
            Err(e) => {
                notes.push(format!("report-url: {e}; using the run's URL"));
                None
            }
        };
        match found {
            Some(url) => report_url = url,
            None => {
                let fallback = crate::report::github::fallback::fallback_path(
                    &github,
                    summary.workspace.as_deref().map(Path::new),
                );
                let notes = annotations(summary, &default_report_config(), fallback.as_deref());
                workflow_commands = workflow_commands::format_all(&notes);
            }
        }
    }
    outputs.set("report-url", report_url);

    let status = match summary {
        Err(e) if !matches!(req.exit_code, 2 | 5) => StepStatus {
            code: 5,
            reason: format!(
                "warden run exited {} but its audit log cannot be used: {e}",
                req.exit_code
            ),
        },
        _ => step_status(req.fail_on, req.exit_code, &facts),
    };
    OutputsResult {
        outputs,
        status,
        notes,
        workflow_commands,
    }
}

/// The final message, redacted and bounded; a missing file is empty (the
/// run ended before the agent said anything).
fn read_final_message(path: &Path, notes: &mut Vec<String>) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let text = crate::redact::redact(&text);
            match text.char_indices().nth(MAX_FINAL_MESSAGE) {
                None => text,
                Some((cut, _)) => format!("{}…", &text[..cut]),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            notes.push(format!("cannot read {}: {e}", path.display()));
            String::new()
        }
    }
}

/// The `html_url` of the check run this warden run created (found by its
/// `external_id`, the run id), if any.
async fn check_run_url(
    github: &GithubEnv,
    run_id: &str,
    retry: RetryPolicy,
) -> Result<Option<String>, String> {
    let (Some(token), Some(sha)) = (&github.token, &github.head_sha) else {
        return Ok(None);
    };
    let api = Api::new(github, token, retry).map_err(|e| e.to_string())?;
    let uri = api.repo_path(&format!(
        "/commits/{sha}/check-runs?check_name={CHECK_NAME}&filter=all&per_page=100"
    ));
    let reply = api
        .request(Method::Get, &uri, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(reply
        .body
        .get("check_runs")
        .and_then(Value::as_array)
        .and_then(|runs| {
            runs.iter()
                .find(|r| r.get("external_id").and_then(Value::as_str) == Some(run_id))
        })
        .and_then(|r| r.get("html_url").and_then(Value::as_str))
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(denials: u64, escalations: u64) -> RunFacts {
        RunFacts {
            denials,
            escalations,
            denial_ids: (1..=denials + escalations)
                .map(|i| format!("D{i}"))
                .collect(),
            ..RunFacts::default()
        }
    }

    #[test]
    fn the_fail_on_ladder() {
        use FailOn::*;
        let code = |f, exit, facts: &RunFacts| step_status(f, exit, facts).code;
        let clean = facts(0, 0);
        for f in [Never, Breaker, Escalation, Denial] {
            assert_eq!(code(f, 0, &clean), 0, "{f:?}");
            assert_eq!(code(f, 2, &clean), 2, "{f:?}: config errors always fail");
            assert_eq!(code(f, 5, &clean), 5, "{f:?}: infrastructure always fails");
            assert_eq!(code(f, 137, &clean), 137, "{f:?}: a killed warden fails");
        }
        assert_eq!(code(Never, 1, &clean), 0);
        assert_eq!(code(Never, 3, &clean), 0);
        assert_eq!(code(Breaker, 1, &clean), 1);
        assert_eq!(code(Breaker, 3, &clean), 3);
        assert_eq!(code(Breaker, 0, &facts(0, 2)), 0);
        assert_eq!(code(Escalation, 4, &facts(0, 1)), 4);
        assert_eq!(
            code(Escalation, 0, &facts(0, 1)),
            4,
            "pending, whatever the code"
        );
        assert_eq!(code(Escalation, 0, &facts(3, 0)), 0);
        assert_eq!(code(Denial, 0, &facts(3, 0)), 1);
        let s = step_status(Denial, 0, &facts(2, 0));
        assert!(s.reason.contains("(D1, D2)"), "{}", s.reason);
    }
}
