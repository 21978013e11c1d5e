//! `warden report`: render a run's audit log as Markdown, JSON or SARIF, or
//! publish it to GitHub (sticky PR comment, check run, job summary).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::GlobalArgs;
use crate::audit::{AuditReadError, AuditSummary};
use crate::config::{Conclusion, ReportConfig};
use crate::error::{Error, ExitStatus};
use crate::redact::redact;
use crate::report::default_report_config;
use crate::report::format::{Format, render_format};
use crate::report::github::{GithubEnv, PublishOptions, publish_blocking};

const AFTER_HELP: &str = "\
The log is verified first; a broken hash chain is refused (exit 1).

With --github the report goes where the GITHUB_* environment of an Actions
job points: a sticky comment on the pull request (updated in place), a check
run `warden` with one annotation per denial or escalation, and the job
summary. Without GITHUB_TOKEN, or with a read-only token (fork pull
requests), annotations are printed as workflow commands instead. GitHub
failures do not change the exit status unless --require-report is given.

Exit codes: 0 rendered or published · 1 the audit log is broken ·
2 the log cannot be read or bad flags · 5 --require-report and GitHub failed

Without --audit, the newest log of the workspace (--cwd, else the current
directory) in warden's state directory is rendered:
$XDG_STATE_HOME/warden/audit/<workspace>-<hash>/, else
~/.local/state/warden/audit/<workspace>-<hash>/ (where `warden run` writes
when --audit is not given).

Examples:
  warden report
  warden report --audit ~/.local/state/warden/audit/app-3f2a9c0d51e7b8aa/20261105T101500Z-9f3a61c2.jsonl
  warden report --audit run.jsonl --format sarif -o warden.sarif
  warden report --audit run.jsonl --format json | jq .counts
  warden report --audit run.jsonl --github --require-report";

/// Render an audit log, or publish it to GitHub.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ReportArgs {
    /// Audit log to render [default: the workspace's newest, in warden's
    /// state directory].
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Publish to GitHub from the GITHUB_* environment (instead of printing,
    /// unless --output is given).
    #[arg(long)]
    pub github: bool,
    /// With --github: exit 5 when part of the report could not be delivered.
    #[arg(long, requires = "github")]
    pub require_report: bool,
    /// Take the `[report]` settings (conclusions, approval annotations) from
    /// this profile's resolved config (with `.warden/config.toml`,
    /// `--config` and `-c`); the flags below override them. Without
    /// `--profile` or `--config`, the defaults below apply.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Check-run conclusion when the circuit breaker tripped [default: failure].
    #[arg(long, value_enum, value_name = "CONCLUSION")]
    pub on_breaker: Option<ConclusionArg>,
    /// Check-run conclusion when escalations are pending [default: neutral].
    #[arg(long, value_enum, value_name = "CONCLUSION")]
    pub on_escalation: Option<ConclusionArg>,
    /// Check-run conclusion when an action was denied [default: neutral].
    #[arg(long, value_enum, value_name = "CONCLUSION")]
    pub on_denial: Option<ConclusionArg>,
    /// Also annotate approvals (as notices).
    #[arg(long)]
    pub annotate_approvals: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConclusionArg {
    Success,
    Neutral,
    Failure,
}

impl From<ConclusionArg> for Conclusion {
    fn from(c: ConclusionArg) -> Self {
        match c {
            ConclusionArg::Success => Conclusion::Success,
            ConclusionArg::Neutral => Conclusion::Neutral,
            ConclusionArg::Failure => Conclusion::Failure,
        }
    }
}

pub fn run(global: &GlobalArgs, args: ReportArgs) -> Result<ExitStatus, Error> {
    let audit = match &args.audit {
        Some(path) => path.clone(),
        None => super::audit::newest_default_log(global)?,
    };
    let summary = match AuditSummary::load(&audit) {
        Ok(s) => s,
        Err(e @ AuditReadError::Io { .. }) => return Err(Error::usage(e)),
        Err(e @ AuditReadError::Broken { .. }) => {
            eprintln!("error: {}", redact(&e.to_string()));
            return Ok(ExitStatus::Failure);
        }
    };
    let config = report_config(global, &args)?;
    if !args.github || args.output.is_some() {
        let text = render_format(&summary, &config, args.format);
        match &args.output {
            Some(path) => std::fs::write(path, text.as_bytes()).map_err(|e| {
                Error::usage(format!(
                    "cannot write the report to {}: {e}",
                    path.display()
                ))
            })?,
            None => print!("{text}"),
        }
    }
    if !args.github {
        return Ok(ExitStatus::Success);
    }
    let env = GithubEnv::from_process_env();
    let outcome = publish_blocking(&summary, &env, &config, &PublishOptions::default())
        .map_err(|e| Error::infra(format!("cannot start the async runtime: {e}")))?;
    eprintln!("{}", outcome.describe());
    Ok(outcome
        .exit_status(args.require_report)
        .unwrap_or(ExitStatus::Success))
}

fn report_config(global: &GlobalArgs, args: &ReportArgs) -> Result<ReportConfig, Error> {
    let mut config = if args.profile.is_some() || !global.config.is_empty() {
        let opts = global.load_options(args.profile.as_deref());
        crate::config::load(&opts)?.config.report
    } else {
        default_report_config()
    };
    if let Some(c) = args.on_breaker {
        config.on_breaker = c.into();
    }
    if let Some(c) = args.on_escalation {
        config.on_escalation = c.into();
    }
    if let Some(c) = args.on_denial {
        config.on_denial = c.into();
    }
    config.annotate_approvals |= args.annotate_approvals;
    Ok(config)
}
