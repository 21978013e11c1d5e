//! What `warden run` does after the loop: print the Markdown report of the
//! decisions (stderr, or nothing with `--json`), and in GitHub Actions
//! publish the sticky comment, check run and job summary. A reporting
//! failure never loses the audit log (it is already on disk) and changes
//! the exit status only with `--require-report`.
//!
//! Part of the run lifecycle ([`crate::run`]); it may import `audit` and
//! `report`.

use std::path::Path;

use crate::agent::run::RunResult;
use crate::audit::AuditSummary;
use crate::config::Config;
use crate::error::ExitStatus;
use crate::report::github::{self, GithubEnv, PublishOptions};
use crate::report::markdown::{self, MarkdownOptions};

pub async fn after_run(
    audit_path: &Path,
    config: &Config,
    result: &RunResult,
    publish: bool,
    require_report: bool,
    json: bool,
) -> ExitStatus {
    let summary = match AuditSummary::load(audit_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warning: cannot read back the audit log for the report: {e}");
            return if require_report {
                ExitStatus::Infrastructure
            } else {
                result.status
            };
        }
    };
    if !json {
        let text = markdown::render(&summary, &config.report, &MarkdownOptions::default());
        eprintln!("\n{text}");
        eprintln!("audit log: {}", audit_path.display());
    }
    if !publish {
        return if require_report {
            eprintln!(
                "error: --require-report, but there is nothing to publish to (GITHUB_ACTIONS is not true)"
            );
            ExitStatus::Infrastructure
        } else {
            result.status
        };
    }
    let env = GithubEnv::from_process_env();
    let outcome =
        github::publish_with(&summary, &env, &config.report, &PublishOptions::default()).await;
    eprintln!("{}", outcome.describe());
    outcome.exit_status(require_report).unwrap_or(result.status)
}
