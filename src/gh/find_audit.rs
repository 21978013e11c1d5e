//! `warden gh find-audit`: the newest audit artifact of a pull request's
//! thread, so a workflow can restore the kept denials (`denials.json`)
//! before it runs warden again; denial ids then stay stable across runs,
//! and `/warden approve D2` refers to what the sticky comment shows.
//!
//! Only artifacts uploaded by runs of this repository's own branches count
//! (`workflow_run.head_repository_id == workflow_run.repository_id`): a
//! fork's pull-request run can upload an artifact with any name, and a
//! forged `denials.json` could make `D2` stand for an action the
//! maintainer never saw.

use serde_json::Value;

use crate::github::client::{Api, Method, RetryPolicy};
use crate::github::{EnvMap, GithubEnv};

/// A restorable artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub artifact_name: String,
    pub artifact_id: u64,
    pub run_id: u64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindError {
    /// The job's environment is incomplete (exit 2).
    #[error("{0}")]
    Setup(String),
    /// GitHub did not answer usably (exit 5).
    #[error("{0}")]
    Api(String),
}

/// The newest unexpired artifact named `name` from a same-repository run.
pub async fn find(
    env: &EnvMap,
    name: &str,
    retry: RetryPolicy,
) -> Result<Option<Found>, FindError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(FindError::Setup(format!(
            "artifact name {name:?}: use letters, digits, '-', '_' and '.'"
        )));
    }
    let github = GithubEnv::from_map(env);
    let token = github.token.as_ref().ok_or_else(|| {
        FindError::Setup("GITHUB_TOKEN is not set: cannot list the repository's artifacts".into())
    })?;
    let api = Api::new(&github, token, retry).map_err(|e| FindError::Setup(e.to_string()))?;
    let mut uri = api.repo_path(&format!("/actions/artifacts?name={name}&per_page=100"));
    let mut best: Option<Found> = None;
    // Pages of 100; a thread with more than 1000 uploads keeps its newest
    // ones on the first pages (GitHub lists newest first).
    for _ in 0..10 {
        let reply = api
            .request(Method::Get, &uri, None)
            .await
            .map_err(|e| FindError::Api(e.to_string()))?;
        let artifacts = reply
            .body
            .get("artifacts")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                FindError::Api(format!("GET {uri}: the answer has no artifacts list"))
            })?;
        for a in artifacts {
            if let Some(found) = restorable(a, name)
                && best
                    .as_ref()
                    .is_none_or(|b| found.created_at > b.created_at)
            {
                best = Some(found);
            }
        }
        match reply.next {
            Some(next) => uri = next,
            None => break,
        }
    }
    Ok(best)
}

fn restorable(a: &Value, name: &str) -> Option<Found> {
    if a.get("name").and_then(Value::as_str) != Some(name)
        || a.get("expired").and_then(Value::as_bool) != Some(false)
    {
        return None;
    }
    let run = a.get("workflow_run")?;
    let repository = run.get("repository_id").and_then(Value::as_u64)?;
    let head_repository = run.get("head_repository_id").and_then(Value::as_u64)?;
    if repository != head_repository {
        return None;
    }
    Some(Found {
        artifact_name: name.to_owned(),
        artifact_id: a.get("id").and_then(Value::as_u64)?,
        run_id: run.get("id").and_then(Value::as_u64)?,
        created_at: a.get("created_at").and_then(Value::as_str)?.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_unexpired_same_repository_artifacts_of_that_name() {
        let a = |name: &str, expired: bool, head_repo: u64| {
            json!({"id": 5, "name": name, "expired": expired, "created_at": "2026-11-01T00:00:00Z",
                   "workflow_run": {"id": 9, "repository_id": 1, "head_repository_id": head_repo}})
        };
        assert!(restorable(&a("warden-audit-pr-7", false, 1), "warden-audit-pr-7").is_some());
        assert!(
            restorable(&a("warden-audit-pr-7", false, 2), "warden-audit-pr-7").is_none(),
            "a fork's run"
        );
        assert!(restorable(&a("warden-audit-pr-7", true, 1), "warden-audit-pr-7").is_none());
        assert!(restorable(&a("warden-audit-pr-70", false, 1), "warden-audit-pr-7").is_none());
        assert!(
            restorable(
                &json!({"name": "warden-audit-pr-7", "expired": false}),
                "warden-audit-pr-7"
            )
            .is_none()
        );
    }
}
