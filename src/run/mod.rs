//! The lifecycle of one `warden run`, in the library so a test (or another
//! front end) builds a run in-process exactly as the CLI does:
//!
//! 1. [`checks`]: refusals before anything is recorded (a credential in
//!    git's config; a deny-read path git tracks);
//! 2. [`Run::start`]: the audit log is created (never where a command
//!    could write it, and denied to every command: `audit_reach`) and
//!    `run_started` written,
//!    the kept denials loaded and the `--approve` ids resolved, the
//!    sandboxed executor built, the [`Judge`] set up to record to the log;
//! 3. [`Run::execute`]: MCP servers started sandboxed, the agent loop run
//!    within its budgets, MCP servers stopped;
//! 4. [`report`]: the Markdown report, and the GitHub publication.
//!
//! The CLI (`cli/run.rs`) only turns flags into a [`RunSpec`] and the
//! [`Finished`] outcome into an exit code. This module may import every
//! stage below the CLI (`config` … `report`, `agent`, `mcp`).

use std::path::PathBuf;

use crate::agent::exec::Executor;
use crate::agent::output::Output;
use crate::agent::run::{Agent, DEFAULT_MAX_TOKENS, RunOptions, RunResult};
use crate::audit::{AuditLog, Event, SharedLog};
use crate::config::Loaded;
use crate::error::Error;
use crate::judge::denials::{DenialState, state_path};
use crate::judge::{Judge, RunRecords};
use crate::mcp::launch::LaunchContext;
use crate::mcp::{McpServers, McpTools};
use crate::model::Provider;
use crate::policy::pipeline::Pipeline;
use crate::review::Reviewer;
use crate::sandbox::{SandboxPolicy, SandboxRuntime};

mod audit_reach;
pub mod checks;
mod provider;
pub mod report;
#[cfg(test)]
mod tests;

pub use provider::build_provider;

/// Everything a run is given.
pub struct RunSpec {
    /// The workspace, absolute.
    pub workspace: PathBuf,
    /// The resolved configuration, and its provenance for `run_started`.
    pub loaded: Loaded,
    pub pipeline: Pipeline,
    /// The reviewer for `approvals_reviewer = "auto_review"`.
    pub reviewer: Option<Box<dyn Reviewer>>,
    pub provider: Provider,
    pub prompt: String,
    /// The audit log to create (default: [`crate::audit::default_log_path`],
    /// in warden's state directory); refused inside a writable place.
    pub audit_path: Option<PathBuf>,
    /// Kept denial ids a human overrode (`--approve`, `WARDEN_APPROVE`).
    pub approve: Vec<String>,
    /// Who approved them, for the `overridden` records.
    pub approved_by: String,
    /// Records written right after `run_started` (tracked deny-read files
    /// found by [`checks::check_tracked_deny_read`]).
    pub preamble: Vec<Event>,
    pub fail_on_escalation: bool,
    pub output: Output,
}

/// A run whose audit log exists and whose `run_started` is on disk.
pub struct Run {
    loaded: Loaded,
    workspace: PathBuf,
    provider: Provider,
    prompt: String,
    fail_on_escalation: bool,
    output: Output,
    audit: SharedLog,
    judge: Judge,
    executor: Executor,
}

/// How a run ended, with where its record is.
#[derive(Debug)]
pub struct Finished {
    pub result: RunResult,
    pub audit_path: PathBuf,
}

impl Run {
    /// Create the audit log and write `run_started`; load the kept denials
    /// and resolve the overrides; build the executor and the judge.
    pub fn start(spec: RunSpec) -> Result<Run, Error> {
        let RunSpec {
            workspace,
            loaded,
            pipeline,
            reviewer,
            provider,
            prompt,
            audit_path,
            approve,
            approved_by,
            preamble,
            fail_on_escalation,
            output,
        } = spec;
        let config = &loaded.config;
        let mut policy = SandboxPolicy::from_config(config, &workspace)
            .map_err(|e| Error::infra(format!("sandbox: {e}")))?;
        // A warden killed mid-command here: verified before anything runs.
        if let Some(note) = crate::sandbox::journal::check_stale(&policy.workspace)? {
            eprintln!("warden: note: {note}");
        }
        let run_id = crate::audit::new_run_id();
        let default_root = match audit_path {
            Some(_) => None,
            None => Some(crate::audit::location::default_audit_root().map_err(Error::Usage)?),
        };
        let audit_path = match audit_path {
            Some(path) => path,
            None => crate::audit::default_log_path(&workspace, &run_id).map_err(Error::Usage)?,
        };
        // Checked before the file exists: nothing is created where a
        // command could reach it.
        audit_reach::refuse_reachable_log(&audit_path, &policy, config)?;
        let audit = AuditLog::create(&audit_path, &run_id).map_err(|e| {
            Error::infra(format!(
                "cannot create the audit log {}: {e}",
                audit_path.display()
            ))
        })?;
        let audit = SharedLog::new(audit);
        let denials_path = state_path(&audit_path);
        let denials = DenialState::load(&denials_path).map_err(Error::Usage)?;
        let overrides = denials.resolve(&approve).map_err(Error::Usage)?;

        let mut pipeline = pipeline;
        for denied in
            audit_reach::deny_to_commands(&mut policy, &audit_path, default_root.as_deref())
        {
            pipeline.deny_read_also(denied);
        }
        let executor = Executor {
            runtime: SandboxRuntime::current()
                .map_err(|e| Error::infra(format!("sandbox: {e}")))?,
            policy,
            workspace: workspace.clone(),
            skills_dirs: config.skills.dirs.clone(),
            output_limit: config.agent.tool_output_limit,
        };
        let cannot_write =
            |e: std::io::Error| Error::infra(format!("cannot write the audit log: {e}"));
        audit
            .append(Event::RunStarted {
                profile: config.profile.clone(),
                config_digest: loaded.digest(),
                prompt: prompt.clone(),
                workspace: workspace.display().to_string(),
                warden_version: env!("CARGO_PKG_VERSION").to_owned(),
                sandbox: serde_json::to_value(&executor.policy).unwrap_or_default(),
            })
            .map_err(cannot_write)?;
        for event in preamble {
            audit.append(event).map_err(cannot_write)?;
        }
        let judge = Judge::for_run(
            pipeline,
            reviewer,
            RunRecords {
                audit: audit.clone(),
                denials,
                denials_path: Some(denials_path),
                overrides,
                breaker: config.auto_review.circuit_breaker,
                approved_by,
            },
        );
        Ok(Run {
            loaded,
            workspace,
            provider,
            prompt,
            fail_on_escalation,
            output,
            audit,
            judge,
            executor,
        })
    }

    pub fn audit_path(&self) -> &std::path::Path {
        self.audit.path()
    }

    /// Start the MCP servers, run the agent loop, stop the servers.
    pub async fn execute(self) -> Finished {
        let config = &self.loaded.config;
        // MCP servers start sandboxed like every command; one that fails to
        // start is an audit event and a tool error, never the end of the run.
        let mcp_servers = McpServers::start(
            &config.mcp_servers,
            &LaunchContext {
                runtime: self.executor.runtime.clone(),
                policy: self.executor.policy.clone(),
                workspace: self.workspace.clone(),
            },
        )
        .await;
        let opts = RunOptions {
            prompt: self.prompt,
            model: config
                .agent
                .model
                .clone()
                .unwrap_or_else(|| "scripted".into()),
            max_turns: config.agent.max_turns,
            timeout: config.agent.timeout,
            token_budget: config.agent.token_budget,
            max_tokens: DEFAULT_MAX_TOKENS,
            fail_on_escalation: self.fail_on_escalation,
        };
        let result = Agent {
            judge: &self.judge,
            provider: &self.provider,
            executor: &self.executor,
            mcp: (!config.mcp_servers.is_empty()).then_some(&mcp_servers as &dyn McpTools),
            audit: self.audit.clone(),
            output: self.output,
        }
        .run(&opts)
        .await;
        mcp_servers.shutdown().await;
        Finished {
            result,
            audit_path: self.audit.path().to_path_buf(),
        }
    }
}
