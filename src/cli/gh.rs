//! `warden gh`: helpers for GitHub workflows (see docs/github-action.md).
//!
//! - `authorize`: refuse unless the actor who triggered the run may write.
//! - `approve-ids`: read a `/warden approve D2` comment, strictly.
//! - `outputs`: the composite action's step outputs and `fail-on` status.
//! - `find-audit`: the newest audit artifact of a thread, to restore.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::GlobalArgs;
use super::session::runtime;
use crate::error::{Error, ExitStatus};
use crate::gh::approve::{self, ApproveError};
use crate::gh::authorize::{self, AuthorizeError, AuthorizeOptions, Required, Verdict};
use crate::gh::find_audit::{self, FindError};
use crate::gh::outputs::{self, FailOn, OutputsRequest};
use crate::gh::step_output::StepOutputs;
use crate::github::client::RetryPolicy;
use crate::github::event::{self, EnvMap};
use crate::redact::redact;

const AUTHORIZE_HELP: &str = "\
Who is checked: every login the event names as acting (comment.user.login,
review.user.login, sender.login), else GITHUB_ACTOR. Each must have the
required permission on GITHUB_REPOSITORY, asked of GitHub
(GET /repos/{owner}/{repo}/collaborators/{login}/permission, at
GITHUB_API_URL, with GITHUB_TOKEN). Bots pass only when allow-listed.
On success `actor` and `permission` are written to GITHUB_OUTPUT.

Exit codes: 0 allowed; 1 refused (not permitted, unknown user, bot not
allow-listed, no actor); 2 the job's environment is incomplete (no token,
no repository, unreadable event); 5 GitHub did not answer usably (HTTP
error, unreachable, malformed answer): an API failure is a refusal.

Examples:
  # first step of a comment-triggered job
  warden gh authorize
  warden gh authorize --require maintain
  WARDEN_ALLOWED_BOTS=renovate[bot] warden gh authorize";

const APPROVE_HELP: &str = "\
The comment's first non-empty line must be `/warden approve` and one or
more ids (D2, D15; spaces or commas between them). Later lines are free
text. The ids are printed on stdout and written to GITHUB_OUTPUT as
`ids=D2,D15` (for WARDEN_APPROVE) with `pr-number`; only new comments
(action `created`) on pull requests count.

Exit codes: 0 a valid command; 1 not a /warden approve comment; 2 a
malformed command (the message says what is wrong) or an unreadable event.

Example:
  warden gh approve-ids";

const OUTPUTS_HELP: &str = "\
Reads the run's audit log (verifying its chain) and writes to GITHUB_OUTPUT
(stdout when unset): exit-code, final-message, audit-path, audit-dir,
denials, escalations, denial-ids, breaker-tripped, report-url. report-url is
the check run this run created (looked up by its run id), else the workflow
run; without such a check run, the denials are printed as workflow-command
annotations (warden run's own are muted while the agent runs).

--fail-on decides this command's exit status, which the action's step takes:
  never       fail only on exit 2 and 5 (warden could not do its job)
  breaker     also on 1 (the agent did not finish) and 3 (breaker tripped)
  escalation  also on 4 or any escalation still pending (default)
  denial      also when any action was denied
A missing or broken audit log after warden ran is exit 5.

Example:
  warden gh outputs --audit \"$log\" --exit-code \"$rc\" --final-message msg.txt --fail-on denial";

const FIND_AUDIT_HELP: &str = "\
Lists the repository's artifacts named NAME (GET /repos/{owner}/{repo}/
actions/artifacts?name=NAME) and picks the newest unexpired one uploaded by
a run of this repository's own branches; artifacts from fork pull-request
runs are ignored (a fork controls what its run uploads). Writes `found`
(true/false), `run-id`, `artifact-id` and `artifact-name` to GITHUB_OUTPUT
for actions/download-artifact (`run-id`, `github-token`). The token needs
`actions: read`.

Exit codes: 0 looked (found or not); 2 bad name, no token or repository;
5 GitHub did not answer usably.

Example:
  warden gh find-audit --name \"warden-audit-pr-$PR\"";

#[derive(Debug, Subcommand)]
pub enum GhCommand {
    /// Refuse unless the triggering actor may write to the repository.
    #[command(after_help = AUTHORIZE_HELP)]
    Authorize(AuthorizeArgs),
    /// Parse a `/warden approve D2` pull-request comment from the event.
    #[command(name = "approve-ids", after_help = APPROVE_HELP)]
    ApproveIds,
    /// Compute the GitHub Action's step outputs from a run's audit log.
    #[command(after_help = OUTPUTS_HELP)]
    Outputs(OutputsArgs),
    /// Find the newest audit artifact of a thread (kept denials to restore).
    #[command(name = "find-audit", after_help = FIND_AUDIT_HELP)]
    FindAudit(FindAuditArgs),
}

#[derive(Debug, Args)]
pub struct FindAuditArgs {
    /// The artifact name the thread's audit directory is uploaded as
    /// (the action's `artifact-name`, e.g. `warden-audit-pr-7`).
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Requests to GitHub before giving up.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub attempts: u32,
}

#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The least role the actor needs.
    #[arg(long, value_enum, default_value_t = Required::Write)]
    pub require: Required,
    /// A bot login that may trigger runs (`renovate[bot]`); repeatable.
    /// Also WARDEN_ALLOWED_BOTS (comma-separated).
    #[arg(long = "allow-bot", value_name = "LOGIN")]
    pub allow_bot: Vec<String>,
    /// Requests to GitHub before giving up (5xx, 429 and transport errors
    /// are retried with backoff).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub attempts: u32,
}

#[derive(Debug, Args)]
pub struct OutputsArgs {
    /// The run's audit log.
    #[arg(long, value_name = "F")]
    pub audit: PathBuf,
    /// `warden run`'s exit code.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub exit_code: i32,
    /// The file `warden run --output-last-message` wrote.
    #[arg(long, value_name = "F")]
    pub final_message: Option<PathBuf>,
    /// When the step fails.
    #[arg(long, value_enum, default_value_t = FailOn::Escalation)]
    pub fail_on: FailOn,
    /// Do not ask GitHub for the check run's URL (report-url is then the
    /// workflow run's URL).
    #[arg(long)]
    pub no_lookup: bool,
}

pub fn run(_global: &GlobalArgs, cmd: GhCommand) -> Result<ExitStatus, Error> {
    let env = event::process_env();
    match cmd {
        GhCommand::Authorize(args) => run_authorize(&env, args),
        GhCommand::ApproveIds => run_approve_ids(&env),
        GhCommand::Outputs(args) => run_outputs(&env, args),
        GhCommand::FindAudit(args) => run_find_audit(&env, args),
    }
}

fn run_authorize(env: &EnvMap, args: AuthorizeArgs) -> Result<ExitStatus, Error> {
    let mut allowed_bots = args.allow_bot;
    if let Some(list) = event::var(env, "WARDEN_ALLOWED_BOTS") {
        allowed_bots.extend(list.split(',').map(|s| s.trim().to_owned()));
    }
    let opts = AuthorizeOptions {
        required: args.require,
        allowed_bots,
        retry: RetryPolicy {
            max_attempts: args.attempts.max(1),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
        },
    };
    let verdict = runtime()?.block_on(authorize::authorize(env, &opts));
    match verdict {
        Ok(Verdict::Allowed(granted)) => {
            for (actor, grant) in &granted {
                println!(
                    "warden: {} ({}) may trigger this run: {grant}",
                    actor.login, actor.source
                );
            }
            let mut out = StepOutputs::new();
            out.set(
                "actor",
                granted
                    .iter()
                    .map(|(a, _)| a.login.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.set(
                "permission",
                granted
                    .iter()
                    .map(|(_, g)| g.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            write_outputs(env, &out, false)?;
            Ok(ExitStatus::Success)
        }
        Ok(Verdict::Refused(reason)) => {
            eprintln!("warden: refused: {}", redact(&reason));
            Ok(ExitStatus::Failure)
        }
        Err(AuthorizeError::Setup(e)) => Err(Error::usage(format!("refused: {e}"))),
        Err(AuthorizeError::Api(e)) => Err(Error::infra(format!(
            "refused: cannot confirm the actor's permission, so nothing runs: {e}"
        ))),
    }
}

fn run_approve_ids(env: &EnvMap) -> Result<ExitStatus, Error> {
    let event = event::read_event(env)
        .map_err(Error::usage)?
        .ok_or_else(|| {
            Error::usage("GITHUB_EVENT_PATH is not set: run this in an issue_comment workflow")
        })?;
    match approve::from_event(&event) {
        Ok(cmd) => {
            let ids = cmd.ids.join(",");
            println!("{ids}");
            let mut out = StepOutputs::new();
            out.set("ids", ids)
                .set("pr-number", cmd.pr_number.to_string());
            write_outputs(env, &out, false)?;
            Ok(ExitStatus::Success)
        }
        Err(ApproveError::NotACommand(e)) => {
            eprintln!("warden: not a /warden approve command: {e}");
            Ok(ExitStatus::Failure)
        }
        Err(ApproveError::Malformed(e)) => Err(Error::usage(e)),
    }
}

fn run_outputs(env: &EnvMap, args: OutputsArgs) -> Result<ExitStatus, Error> {
    let req = OutputsRequest {
        audit: args.audit,
        exit_code: args.exit_code,
        final_message: args.final_message,
        fail_on: args.fail_on,
        lookup_report: !args.no_lookup,
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(2),
        },
    };
    let result = runtime()?.block_on(outputs::compute(env, &req));
    for note in &result.notes {
        eprintln!("warning: {}", redact(note));
    }
    for line in &result.workflow_commands {
        println!("{line}");
    }
    write_outputs(env, &result.outputs, true)?;
    let status = &result.status;
    if status.code == 0 {
        eprintln!("warden: {}", status.reason);
        return Ok(ExitStatus::Success);
    }
    eprintln!("warden: the step fails: {}", status.reason);
    Ok(match status.code {
        1 => ExitStatus::Failure,
        2 => ExitStatus::Usage,
        3 => ExitStatus::Breaker,
        4 => ExitStatus::Human,
        5 => ExitStatus::Infrastructure,
        other => ExitStatus::Command(other),
    })
}

fn run_find_audit(env: &EnvMap, args: FindAuditArgs) -> Result<ExitStatus, Error> {
    let retry = RetryPolicy {
        max_attempts: args.attempts.max(1),
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(10),
    };
    let found = runtime()?
        .block_on(find_audit::find(env, &args.name, retry))
        .map_err(|e| match e {
            FindError::Setup(e) => Error::usage(e),
            FindError::Api(e) => Error::infra(e),
        })?;
    let mut out = StepOutputs::new();
    match &found {
        Some(f) => {
            println!(
                "warden: {} from run {} (artifact {}, {})",
                f.artifact_name, f.run_id, f.artifact_id, f.created_at
            );
            out.set("found", "true")
                .set("run-id", f.run_id.to_string())
                .set("artifact-id", f.artifact_id.to_string())
                .set("artifact-name", f.artifact_name.clone());
        }
        None => {
            println!(
                "warden: no artifact {} from this repository's runs: a new thread",
                args.name
            );
            out.set("found", "false")
                .set("run-id", "")
                .set("artifact-id", "")
                .set("artifact-name", "");
        }
    }
    write_outputs(env, &out, false)?;
    Ok(ExitStatus::Success)
}

/// Append to `GITHUB_OUTPUT`; without it, print them when `print_fallback`
/// (someone running the command by hand wants to see them).
fn write_outputs(env: &EnvMap, out: &StepOutputs, print_fallback: bool) -> Result<(), Error> {
    match event::var(env, "GITHUB_OUTPUT") {
        Some(path) => out
            .append_to(std::path::Path::new(&path))
            .map_err(|e| Error::infra(format!("cannot write GITHUB_OUTPUT {path}: {e}"))),
        None => {
            if print_fallback {
                print!("{}", out.to_file_format());
            }
            Ok(())
        }
    }
}
