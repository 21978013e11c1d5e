//! `warden run`: the main job. This file only turns flags into a
//! [`RunSpec`] and the outcome into an exit code; the lifecycle is
//! [`crate::run`].

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::GlobalArgs;
use super::session::{ReviewerArgs, Session, runtime, string_override};
use crate::agent::output::Output;
use crate::config::ProviderKind;
use crate::error::{Error, ExitStatus};
use crate::judge::denials::approve_ids;
use crate::model::Provider;
use crate::run::{Run, RunSpec, build_provider, checks, report};

const EXAMPLES: &str = "\
Examples:
  # offline, deterministic: replay a scenario as the model's answers
  warden run --provider script --scenario scenario.yaml --cwd repo
  # a real model (key from OPENAI_API_KEY or WARDEN_API_KEY)
  warden run --profile nightly --model gpt-4.1 \"update dependencies and fix lints\"
  echo \"fix the failing test\" | warden run --provider anthropic --model claude-sonnet-4-5 -
  # the scenario also plays the LLM reviewer (its `reviews:` list)
  warden run --provider script --scenario s.yaml -c auto_review.provider=script
  # a real reviewer model on a local OpenAI-compatible server
  warden run --profile nightly --reviewer-model qwen3 --reviewer-base-url http://127.0.0.1:8000/v1 \
    --prompt-file task.md
  # let one previously denied action through, once
  warden run --approve D2 --prompt-file task.md
  # MCP servers from [mcp_servers.NAME] start sandboxed with the run; see
  # how their tools are classified first with `warden mcp list`
  warden run --config team.toml --prompt-file task.md

API keys are read from the environment only: OPENAI_API_KEY or ANTHROPIC_API_KEY
(or WARDEN_API_KEY); the reviewer uses WARDEN_REVIEWER_API_KEY, falling back to
the run's key. They are never logged and never passed to sandboxed commands.
A token in git's config is refused before the run starts (exit 2): every
sandboxed command could read it. That covers actions/checkout without
persist-credentials: false (v5 writes it to .git/config, v6 to
$RUNNER_TEMP/git-credentials-*.config, included with includeIf), submodule,
~/.gitconfig and /etc/gitconfig files, and every file they include.
$RUNNER_TEMP is unreadable in the sandbox. A deny_read glob matching a file
git tracks is a warning and an audit record (its content is in .git/objects,
which commands can read); an explicit deny_read path that git tracks is an
error (exit 2).

The audit log goes to $XDG_STATE_HOME/warden/audit/<workspace>-<hash>/<run-id>.jsonl
(else ~/.local/state/warden/audit/…), outside the workspace, with the kept
denials (denials.json) beside it; `warden report`, `warden audit verify` and
`warden audit stats` read that directory when given no path. No sandboxed
command can read or write the log or denials.json (they are deny-read, which
holds under write grants too). --audit FILE inside the workspace, a writable
root, or a path an allow rule grants writes to is refused (exit 2): a command
could rewrite, or commit, the record of what it did.

Exit codes: 0 done; 1 the agent did not finish (max turns, timeout, token
budget, task error); 2 usage or configuration error; 3 circuit breaker
tripped; 4 escalations pending and --fail-on-escalation; 5 infrastructure
(model API, audit log, GitHub API with --require-report, sandbox unavailable,
or a protected path a granted command changed that warden could not restore:
the run stops at once and the audit log names the path).";

/// Run the agent on a task. Every tool call goes through the decision
/// pipeline, the sandbox, the reviewer, the circuit breaker and the audit log.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
    /// The task, or `-` to read it from stdin.
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,
    /// Read the task from FILE.
    #[arg(long, value_name = "F", conflicts_with = "prompt")]
    pub prompt_file: Option<PathBuf>,
    /// Built-in profile at the bottom of the config stack (default: dev).
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,
    /// Model API: openai (and compatible servers), anthropic, or script.
    #[arg(long, value_name = "openai|anthropic|script")]
    pub provider: Option<String>,
    /// Scenario file replayed by `--provider script`; with
    /// `auto_review.provider = "script"` its `reviews:` answer the reviewer.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Model name.
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// API base URL (OpenAI-compatible servers, proxies).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Maximum model turns (requests) before the run fails.
    #[arg(long, value_name = "N")]
    pub max_turns: Option<u32>,
    /// Wall-clock limit for the whole run (e.g. 30m).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Stream one JSON event per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Audit log path (default: <state>/warden/audit/<workspace>-<hash>/<run-id>.jsonl,
    /// <state> being $XDG_STATE_HOME or ~/.local/state). Refused (exit 2)
    /// inside the workspace, a writable root or a granted path.
    #[arg(long, value_name = "F")]
    pub audit: Option<PathBuf>,
    /// Write the agent's final message to F.
    #[arg(long, value_name = "F")]
    pub output_last_message: Option<PathBuf>,
    /// Admit a kept denial (D2) once, recorded as a human override; the id
    /// is then used up. Also WARDEN_APPROVE=D2,D5.
    #[arg(long, value_name = "ID")]
    pub approve: Vec<String>,
    /// Exit 4 when escalations are pending at the end of the run.
    #[arg(long)]
    pub fail_on_escalation: bool,
    #[command(flatten)]
    pub review: ReviewerArgs,
    /// Replay the embedded demo scenario (prompt injection → refused
    /// exfiltration → breaker) in a fresh temporary workspace, offline.
    /// Defaults to the `ci` profile; exits 3 when the breaker trips, as
    /// the scenario intends.
    #[arg(long, conflicts_with_all = ["scenario", "prompt", "prompt_file"])]
    pub demo: bool,
    /// Do not report to GitHub even when GITHUB_ACTIONS=true.
    #[arg(long)]
    pub no_report: bool,
    /// Fail (exit 5) when the GitHub report cannot be published.
    #[arg(long, conflicts_with = "no_report")]
    pub require_report: bool,
}

pub fn run(global: &GlobalArgs, mut args: RunArgs) -> Result<ExitStatus, Error> {
    let demo_global;
    let global = if args.demo {
        let workspace = super::demo::workspace()?;
        eprintln!("warden demo: workspace {}", workspace.display());
        args.provider = Some("script".into());
        args.profile.get_or_insert_with(|| "ci".into());
        demo_global = GlobalArgs {
            cwd: Some(workspace),
            ..global.clone()
        };
        &demo_global
    } else {
        global
    };
    let mut overrides = args.review.overrides();
    for (key, value) in [
        ("agent.provider", &args.provider),
        ("agent.model", &args.model),
        ("agent.base_url", &args.base_url),
        ("agent.timeout", &args.timeout),
    ] {
        if let Some(v) = value {
            overrides.push(string_override(key, v));
        }
    }
    if let Some(n) = args.max_turns {
        overrides.push(format!("agent.max_turns={n}"));
    }
    let session = Session::open(global, args.profile.as_deref(), &overrides)?;
    let config = &session.loaded.config;
    checks::refuse_persisted_credentials(&session.workspace, config)?;
    let preamble = checks::check_tracked_deny_read(&session.workspace, &session.loaded)?;
    let provider = match config.agent.provider {
        ProviderKind::Script if args.demo => Provider::Script(super::demo::provider()?),
        _ => build_provider(config, args.scenario.as_deref())?,
    };
    let prompt = read_prompt(&args, &provider)?;
    let reviewer = session.reviewer(args.scenario.as_deref())?;
    let github_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let Session {
        workspace,
        loaded,
        pipeline,
    } = session;
    let config = loaded.config.clone();
    let run = Run::start(RunSpec {
        workspace,
        loaded,
        pipeline,
        reviewer,
        provider,
        prompt,
        audit_path: args.audit.clone(),
        approve: approve_ids(
            &args.approve,
            std::env::var("WARDEN_APPROVE").ok().as_deref(),
        ),
        approved_by: approved_by(),
        preamble,
        fail_on_escalation: args.fail_on_escalation,
        output: Output::new(args.json, github_actions),
    })?;
    let rt = runtime()?;
    let finished = rt.block_on(run.execute());

    if let Some(path) = &args.output_last_message {
        let text = crate::redact::redact(finished.result.final_message.as_deref().unwrap_or(""));
        std::fs::write(path, text)
            .map_err(|e| Error::usage(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(rt.block_on(report::after_run(
        &finished.audit_path,
        &config,
        &finished.result,
        github_actions && !args.no_report,
        args.require_report,
        args.json,
    )))
}

/// `WARDEN_APPROVED_BY` (set by a workflow from `warden gh authorize`) names
/// the maintainer behind `--approve`; only a valid GitHub login is used.
fn approved_by() -> String {
    let login = std::env::var("WARDEN_APPROVED_BY").unwrap_or_default();
    let valid = crate::github::login::classify(&login).is_some();
    if valid {
        format!("@{login} (--approve)")
    } else {
        "--approve".to_owned()
    }
}

fn read_prompt(args: &RunArgs, provider: &Provider) -> Result<String, Error> {
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(p), _) if p == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::usage(format!("cannot read the prompt from stdin: {e}")))?;
            s
        }
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| Error::usage(format!("cannot read {}: {e}", f.display())))?,
        (None, None) => match provider {
            Provider::Script(s) => s.prompt().unwrap_or_default().to_owned(),
            _ => String::new(),
        },
    };
    if prompt.trim().is_empty() {
        return Err(Error::usage(
            "no task: give a PROMPT, `-` for stdin, --prompt-file F, or a scenario with a `prompt`",
        ));
    }
    Ok(prompt)
}
