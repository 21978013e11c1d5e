//! [`GithubEnv`]: what a GitHub Actions job tells warden through its
//! environment, read from a map (the process environment in production, a
//! test's own map in tests) so nothing reads `std::env` behind the caller's
//! back.
//!
//! | variable | use |
//! |---|---|
//! | `GITHUB_ACTIONS` | `true` inside Actions: `warden run` reports by itself |
//! | `GITHUB_API_URL` | API base (GitHub Enterprise Server: `https://HOST/api/v3`) |
//! | `GITHUB_SERVER_URL` | web base, for the link to the run |
//! | `GITHUB_REPOSITORY` | `owner/repo` |
//! | `GITHUB_TOKEN` | API token; without it, workflow commands only |
//! | `GITHUB_EVENT_PATH` | event payload ([`super::event::read_event`], bounded): PR number (`pull_request.number` or `issue.number`) and PR head SHA |
//! | `GITHUB_SHA` | commit for the check run when the event has no PR head |
//! | `GITHUB_RUN_ID`, `GITHUB_RUN_ATTEMPT` | link to the run |
//! | `GITHUB_WORKFLOW`, `GITHUB_JOB` | the sticky comment's marker |
//! | `GITHUB_WORKFLOW_REF` | fallback annotation file (the workflow) |
//! | `GITHUB_ACTION_PATH` | the action's directory: its `action.yml` is a later fallback ([`crate::report::github::fallback`]) |
//! | `GITHUB_STEP_SUMMARY` | job summary file |
//! | `WARDEN_COMMENT_AUTHOR` | login whose marker comments are updated (default `github-actions[bot]`) |

use std::fmt;
use std::path::PathBuf;

use super::event::{EnvMap, process_env, read_event, var};

/// Login of the `GITHUB_TOKEN` identity, the default comment author.
pub const DEFAULT_COMMENT_AUTHOR: &str = "github-actions[bot]";

/// An API token; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([REDACTED])")
    }
}

/// The GitHub Actions context of a run.
#[derive(Debug, Clone)]
pub struct GithubEnv {
    pub actions: bool,
    pub api_url: String,
    pub server_url: String,
    pub owner: Option<String>,
    pub repo: Option<String>,
    pub token: Option<Token>,
    pub pr_number: Option<u64>,
    /// The commit a check run goes on: the PR head when the event has one
    /// (GITHUB_SHA is the test merge commit on `pull_request` events, whose
    /// checks do not show on the PR), else GITHUB_SHA.
    pub head_sha: Option<String>,
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
    pub workflow: Option<String>,
    pub job: Option<String>,
    /// The workflow file, repository-relative (`.github/workflows/ci.yml`).
    pub workflow_path: Option<String>,
    /// The running action's directory (`GITHUB_ACTION_PATH`), set inside
    /// the action's own steps.
    pub action_path: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
    pub comment_author: String,
    /// What could not be read (bad event file, malformed repository …).
    pub problems: Vec<String>,
}

impl GithubEnv {
    /// From the process environment.
    pub fn from_process_env() -> GithubEnv {
        GithubEnv::from_map(&process_env())
    }

    /// From a map of environment variables; reads the event file it names.
    pub fn from_map(env: &EnvMap) -> GithubEnv {
        let get = |name: &str| var(env, name);
        let mut problems = Vec::new();
        let (owner, repo) = match get("GITHUB_REPOSITORY") {
            Some(full) => match full.split_once('/') {
                Some((o, r)) if valid_name(o) && valid_name(r) => {
                    (Some(o.to_owned()), Some(r.to_owned()))
                }
                _ => {
                    problems.push(format!(
                        "GITHUB_REPOSITORY {full:?} is not of the form owner/repo"
                    ));
                    (None, None)
                }
            },
            None => (None, None),
        };
        let event = read_event(env).unwrap_or_else(|e| {
            problems.push(e);
            None
        });
        let pr_number = event.as_ref().and_then(|e| {
            e.pointer("/pull_request/number")
                .or_else(|| e.pointer("/issue/number"))
                .and_then(|n| n.as_u64())
        });
        let pr_head = event
            .as_ref()
            .and_then(|e| e.pointer("/pull_request/head/sha"))
            .and_then(|s| s.as_str())
            .map(str::to_owned);
        let head_sha = pr_head.or_else(|| get("GITHUB_SHA")).filter(|s| {
            let ok = is_sha(s);
            if !ok {
                problems.push(format!("commit {s:?} is not a 40-character hex SHA"));
            }
            ok
        });
        GithubEnv {
            actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            api_url: get("GITHUB_API_URL")
                .unwrap_or_else(|| "https://api.github.com".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            server_url: get("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            owner,
            repo,
            token: get("GITHUB_TOKEN").map(Token),
            pr_number,
            head_sha,
            run_id: get("GITHUB_RUN_ID"),
            run_attempt: get("GITHUB_RUN_ATTEMPT"),
            workflow: get("GITHUB_WORKFLOW"),
            job: get("GITHUB_JOB"),
            workflow_path: get("GITHUB_WORKFLOW_REF").and_then(|r| workflow_path(&r)),
            action_path: get("GITHUB_ACTION_PATH").map(PathBuf::from),
            step_summary: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            comment_author: get("WARDEN_COMMENT_AUTHOR")
                .unwrap_or_else(|| DEFAULT_COMMENT_AUTHOR.to_owned()),
            problems,
        }
    }

    /// `https://github.com/o/r/actions/runs/ID[/attempts/N]`.
    pub fn run_url(&self) -> Option<String> {
        let (owner, repo, run) = (
            self.owner.as_ref()?,
            self.repo.as_ref()?,
            self.run_id.as_ref()?,
        );
        let mut url = format!("{}/{owner}/{repo}/actions/runs/{run}", self.server_url);
        if let Some(attempt) = self.run_attempt.as_ref().filter(|a| a.as_str() != "1") {
            url.push_str(&format!("/attempts/{attempt}"));
        }
        Some(url)
    }

    /// The sticky comment's hidden marker, one per workflow and job so two
    /// jobs do not overwrite each other's comment.
    pub fn comment_marker(&self) -> String {
        format!(
            "<!-- warden:{}:{} -->",
            marker_part(self.workflow.as_deref().unwrap_or("workflow")),
            marker_part(self.job.as_deref().unwrap_or("job"))
        )
    }
}

/// `owner/repo/.github/workflows/ci.yml@refs/heads/main` → the path.
fn workflow_path(workflow_ref: &str) -> Option<String> {
    let without_ref = workflow_ref.split('@').next()?;
    let mut parts = without_ref.splitn(3, '/');
    let (_owner, _repo, path) = (parts.next()?, parts.next()?, parts.next()?);
    path.starts_with(".github/").then(|| path.to_owned())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s != "."
        && s != ".."
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Keep a marker part from closing the HTML comment or forging another
/// marker: letters, digits and a few separators only.
fn marker_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._/".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_the_pull_request_from_the_event() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        let head = "a".repeat(40);
        std::fs::write(
            &event,
            format!(r#"{{"pull_request":{{"number":7,"head":{{"sha":"{head}"}}}}}}"#),
        )
        .unwrap();
        let env = GithubEnv::from_map(&map(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "octo/demo"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_SHA", &"b".repeat(40)),
            ("GITHUB_TOKEN", "ghs_secret"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_WORKFLOW", "CI --> x"),
            ("GITHUB_JOB", "agent"),
            (
                "GITHUB_WORKFLOW_REF",
                "octo/demo/.github/workflows/ci.yml@refs/pull/7/merge",
            ),
        ]));
        assert!(env.actions);
        assert_eq!(env.pr_number, Some(7));
        assert_eq!(env.head_sha.as_deref(), Some(head.as_str()));
        assert_eq!(env.comment_marker(), "<!-- warden:CI ___ x:agent -->");
        assert_eq!(
            env.workflow_path.as_deref(),
            Some(".github/workflows/ci.yml")
        );
        assert_eq!(
            env.run_url().as_deref(),
            Some("https://github.com/octo/demo/actions/runs/42")
        );
        assert!(!format!("{env:?}").contains("ghs_secret"));
        assert!(env.problems.is_empty());
    }

    #[test]
    fn issue_comment_events_and_bad_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(&event, r#"{"issue":{"number":9,"pull_request":{}}}"#).unwrap();
        let env = GithubEnv::from_map(&map(&[
            ("GITHUB_REPOSITORY", "not-a-repo"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_SHA", "HEAD"),
        ]));
        assert!(!env.actions);
        assert_eq!(env.pr_number, Some(9));
        assert_eq!(env.owner, None);
        assert_eq!(env.head_sha, None);
        assert_eq!(env.problems.len(), 2, "{:?}", env.problems);
        let missing = GithubEnv::from_map(&map(&[("GITHUB_EVENT_PATH", "/nonexistent/e.json")]));
        assert_eq!(missing.problems.len(), 1);
    }
}
