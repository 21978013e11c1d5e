//! What every deciding command opens first: the workspace, the resolved
//! config, the compiled pipeline and the reviewer.

use std::path::PathBuf;

use clap::Args;

use super::GlobalArgs;
use crate::config::{self, Loaded, ReviewerKind};
use crate::error::Error;
use crate::policy::paths::PathContext;
use crate::policy::pipeline::Pipeline;
use crate::review::Reviewer;

/// The reviewer flags `check` and `run` share; each one is a `-c`
/// override of the key it names.
#[derive(Debug, Clone, Default, Args)]
pub struct ReviewerArgs {
    /// Override `approvals_reviewer` (user, auto_review, rules).
    #[arg(long, value_name = "R")]
    pub reviewer: Option<String>,
    /// Base URL of the reviewer model API (`auto_review.base_url`; OpenAI-
    /// or Anthropic-compatible).
    #[arg(long, value_name = "URL")]
    pub reviewer_base_url: Option<String>,
    /// Reviewer model name (`auto_review.model`).
    #[arg(long, value_name = "M")]
    pub reviewer_model: Option<String>,
}

impl ReviewerArgs {
    /// The `-c` overrides these flags stand for.
    pub fn overrides(&self) -> Vec<String> {
        [
            ("approvals_reviewer", &self.reviewer),
            ("auto_review.base_url", &self.reviewer_base_url),
            ("auto_review.model", &self.reviewer_model),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_deref().map(|v| string_override(key, v)))
        .collect()
    }
}

/// `KEY="VALUE"` for `-c`: the value as a TOML basic string, whatever it
/// contains.
pub fn string_override(key: &str, value: &str) -> String {
    format!("{key}={}", toml::Value::String(value.to_owned()))
}

pub struct Session {
    pub workspace: PathBuf,
    pub loaded: Loaded,
    pub pipeline: Pipeline,
}

impl Session {
    /// Load the config stack for `profile` (plus `extra` `-c` overrides that
    /// a command's own flags translate to, applied last) and compile it.
    pub fn open(
        global: &GlobalArgs,
        profile: Option<&str>,
        extra: &[String],
    ) -> Result<Self, Error> {
        let workspace = workspace(global)?;
        let mut opts = global.load_options(profile);
        opts.workspace = Some(workspace.clone());
        opts.overrides.extend(extra.iter().cloned());
        let loaded = config::load(&opts)?;
        for w in &loaded.diagnostics {
            tracing::warn!("{w}");
        }
        let pipeline = Pipeline::new(&loaded.config, PathContext::from_env(&workspace))
            .map_err(|e| Error::usage(format!("invalid configuration: {e}")))?;
        Ok(Session {
            workspace,
            loaded,
            pipeline,
        })
    }

    /// The reviewer for `approvals_reviewer = "auto_review"`; `None` for
    /// `user` and `rules`, which the pipeline handles itself. `scenario` is
    /// `warden run --scenario`: a `script` reviewer answers from it.
    pub fn reviewer(
        &self,
        scenario: Option<&std::path::Path>,
    ) -> Result<Option<Box<dyn Reviewer>>, Error> {
        match self.loaded.config.approvals_reviewer {
            ReviewerKind::AutoReview => {
                crate::review::llm::from_config(&self.loaded.config, scenario).map(Some)
            }
            ReviewerKind::User | ReviewerKind::Rules => Ok(None),
        }
    }
}

/// `--cwd` or the current directory, made absolute.
pub fn workspace(global: &GlobalArgs) -> Result<PathBuf, Error> {
    let dir = match &global.cwd {
        Some(d) => d.clone(),
        None => std::env::current_dir()
            .map_err(|e| Error::usage(format!("cannot read the current directory: {e}")))?,
    };
    dir.canonicalize()
        .map_err(|e| Error::usage(format!("workspace {}: {e}", dir.display())))
}

/// The async runtime for commands that talk to models or GitHub.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::infra(format!("cannot start the async runtime: {e}")))
}

/// The async runtime for a command that makes at most one model call and
/// nothing concurrent (`warden check`): no worker threads to start and stop,
/// which is ≈ 0.3 ms of a process that decides one action.
pub fn single_thread_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::infra(format!("cannot start the async runtime: {e}")))
}
