//! Publishing a run's report to GitHub: the sticky PR comment, the `warden`
//! check run with annotations, the job summary, and workflow-command
//! annotations when the API may not be used.
//!
//! Publishing never fails the caller by itself: every part reports a
//! [`Delivery`], and the caller decides (`warden run --require-report` maps
//! [`PublishOutcome::failed`] to exit 5). The audit log is read, never
//! written, here: GitHub being down cannot lose it.
//!
//! Degrading, not failing: without a token, or when the token may not write
//! (fork pull requests get a read-only `GITHUB_TOKEN`: HTTP 403), the
//! annotations are printed as workflow commands instead, and the job summary
//! (a local file) is written regardless.

pub mod check_run;
pub mod comment;
pub mod fallback;
pub mod step_summary;

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use self::check_run::CheckRunReport;
use super::annotations::annotations;
use super::markdown::{MarkdownOptions, render};
use super::workflow_commands;
use super::{conclusion, conclusion_str, headline};
use crate::audit::{AuditReadError, AuditSummary};
use crate::config::ReportConfig;
use crate::error::ExitStatus;
pub use crate::github::GithubEnv;
use crate::github::client::{Api, ApiError, RetryPolicy};

/// How publishing behaves (tests shorten the retry delays).
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub retry: RetryPolicy,
    /// Print fallback workflow commands on stdout (tests read them from the
    /// outcome instead).
    pub print_workflow_commands: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            retry: RetryPolicy::default(),
            print_workflow_commands: true,
        }
    }
}

/// What happened to one part of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered.
    Done(String),
    /// Not applicable here (no pull request, no summary file …).
    Skipped(String),
    /// Not allowed (no token, read-only token): a fallback was used.
    Degraded(String),
    /// GitHub or the file system failed.
    Failed(String),
}

impl Delivery {
    fn from_api<T>(result: Result<T, ApiError>, done: impl FnOnce(T) -> String) -> Delivery {
        match result {
            Ok(v) => Delivery::Done(done(v)),
            Err(e @ ApiError::Forbidden { .. }) => Delivery::Degraded(e.to_string()),
            Err(e) => Delivery::Failed(e.to_string()),
        }
    }

    pub fn is_failed(&self) -> bool {
        matches!(self, Delivery::Failed(_))
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivery::Done(s) => write!(f, "done: {s}"),
            Delivery::Skipped(s) => write!(f, "skipped: {s}"),
            Delivery::Degraded(s) => write!(f, "degraded: {s}"),
            Delivery::Failed(s) => write!(f, "FAILED: {s}"),
        }
    }
}

/// The result of [`publish`].
#[derive(Debug, Clone)]
pub struct PublishOutcome {
    pub comment: Delivery,
    pub check_run: Delivery,
    pub step_summary: Delivery,
    /// Workflow-command annotations emitted because the check run was not
    /// delivered, or, when it was, those it could not carry (no location).
    pub workflow_commands: Vec<String>,
    /// Problems with the environment (unreadable event file …).
    pub problems: Vec<String>,
}

impl PublishOutcome {
    /// Some part could not be delivered for a reason other than missing
    /// permission.
    pub fn failed(&self) -> bool {
        self.comment.is_failed() || self.check_run.is_failed() || self.step_summary.is_failed()
    }

    /// The exit status a required report imposes: infrastructure (5) when
    /// `require_report` is set and a part failed.
    pub fn exit_status(&self, require_report: bool) -> Option<ExitStatus> {
        (require_report && self.failed()).then_some(ExitStatus::Infrastructure)
    }

    /// A few lines for stderr.
    pub fn describe(&self) -> String {
        let mut lines = vec![
            format!("PR comment: {}", self.comment),
            format!("check run: {}", self.check_run),
            format!("job summary: {}", self.step_summary),
        ];
        if !self.workflow_commands.is_empty() {
            lines.push(format!(
                "workflow-command annotations: {}",
                self.workflow_commands.len()
            ));
        }
        lines.extend(self.problems.iter().map(|p| format!("environment: {p}")));
        crate::redact::redact(&lines.join("\n"))
    }
}

/// Publish with default options.
pub async fn publish(
    summary: &AuditSummary,
    env: &GithubEnv,
    config: &ReportConfig,
) -> PublishOutcome {
    publish_with(summary, env, config, &PublishOptions::default()).await
}

/// Verify the log at `path`, then publish it.
pub async fn publish_log(
    path: &Path,
    env: &GithubEnv,
    config: &ReportConfig,
    options: &PublishOptions,
) -> Result<PublishOutcome, AuditReadError> {
    let summary = AuditSummary::load(path)?;
    Ok(publish_with(&summary, env, config, options).await)
}

/// For callers without a runtime; must not be called from inside one.
pub fn publish_blocking(
    summary: &AuditSummary,
    env: &GithubEnv,
    config: &ReportConfig,
    options: &PublishOptions,
) -> std::io::Result<PublishOutcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(publish_with(summary, env, config, options)))
}

/// Publish every part of the report that this environment allows.
pub async fn publish_with(
    summary: &AuditSummary,
    env: &GithubEnv,
    config: &ReportConfig,
    options: &PublishOptions,
) -> PublishOutcome {
    let run_url = env.run_url();
    let markdown = |marker: Option<String>, limit: usize, include_approvals: bool| {
        render(
            summary,
            config,
            &MarkdownOptions {
                marker,
                run_url: run_url.clone(),
                limit,
                include_approvals,
                ..MarkdownOptions::default()
            },
        )
    };
    let step_summary = match &env.step_summary {
        None => Delivery::Skipped("GITHUB_STEP_SUMMARY is not set".into()),
        Some(path) => {
            let room = step_summary::available(path);
            if room < 512 {
                Delivery::Failed(format!(
                    "{}: the step's summary is already at GitHub's 1 MiB limit",
                    path.display()
                ))
            } else {
                match step_summary::append(path, &markdown(None, room, true)) {
                    Ok(()) => Delivery::Done(path.display().to_string()),
                    Err(e) => Delivery::Failed(format!("writing the job summary: {e}")),
                }
            }
        }
    };
    let mut outcome = PublishOutcome {
        comment: Delivery::Skipped(String::new()),
        check_run: Delivery::Skipped(String::new()),
        step_summary,
        workflow_commands: Vec::new(),
        problems: env.problems.clone(),
    };
    let fallback = fallback::fallback_path(env, summary.workspace.as_deref().map(Path::new));
    let notes = annotations(summary, config, fallback.as_deref());
    let unlocated: Vec<_> = notes
        .iter()
        .filter(|a| a.location.is_none())
        .cloned()
        .collect();
    if !unlocated.is_empty() {
        outcome
            .problems
            .push(fallback::unlocated_warning(unlocated.len()));
    }
    let api = match &env.token {
        None => {
            let why = "GITHUB_TOKEN is not set: annotations go out as workflow commands";
            outcome.comment = Delivery::Degraded(why.into());
            outcome.check_run = Delivery::Degraded(why.into());
            None
        }
        Some(token) => match Api::new(env, token, options.retry) {
            Ok(api) => Some(api),
            Err(e) => {
                outcome.comment = Delivery::Failed(e.to_string());
                outcome.check_run = Delivery::Failed(e.to_string());
                None
            }
        },
    };
    if let Some(api) = &api {
        outcome.comment = match env.pr_number {
            None => Delivery::Skipped("the event is not a pull request".into()),
            Some(pr) => {
                let marker = env.comment_marker();
                let body = markdown(Some(marker.clone()), comment::MAX_COMMENT, false);
                Delivery::from_api(
                    comment::upsert(api, pr, &marker, &env.comment_author, &body).await,
                    |r| match r {
                        comment::CommentResult::Created { id } => format!("created comment {id}"),
                        comment::CommentResult::Updated { id } => format!("updated comment {id}"),
                    },
                )
            }
        };
        outcome.check_run = match &env.head_sha {
            None => Delivery::Skipped("no commit SHA (GITHUB_SHA) to attach a check run to".into()),
            Some(sha) => {
                let report = CheckRunReport {
                    head_sha: sha,
                    run_id: &summary.run_id,
                    conclusion: conclusion_str(conclusion(summary, config)),
                    title: &headline(summary),
                    summary: &markdown(None, check_run::MAX_OUTPUT, false),
                    text: &markdown(None, check_run::MAX_OUTPUT, true),
                    details_url: run_url.as_deref(),
                    annotations: &notes,
                };
                Delivery::from_api(check_run::publish(api, &report).await, |r| {
                    format!(
                        "check run {} with {} annotations in {} request{}",
                        r.id,
                        r.annotations,
                        r.requests,
                        if r.requests == 1 { "" } else { "s" }
                    )
                })
            }
        };
    }
    // Without a check run every annotation goes out as a workflow command;
    // with one, those it could not carry (no location) still do.
    let commands = match outcome.check_run {
        Delivery::Done(_) => &unlocated,
        _ => &notes,
    };
    if !commands.is_empty() {
        outcome.workflow_commands = workflow_commands::format_all(commands);
        if options.print_workflow_commands {
            let mut stdout = std::io::stdout().lock();
            for line in &outcome.workflow_commands {
                let _ = writeln!(stdout, "{line}");
            }
            let _ = stdout.flush();
        }
    }
    outcome
}
