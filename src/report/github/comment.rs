//! The sticky PR comment: found by its hidden marker on the first line and
//! its author, created once, then updated in place (PATCH
//! `/repos/{o}/{r}/issues/comments/{id}`, as GitHub documents it).
//!
//! Only comments written by the expected author (`github-actions[bot]` for
//! `GITHUB_TOKEN`) count: anyone can paste the marker into a comment, and
//! warden must not take over (or be fooled by) someone else's comment.

use serde_json::{Value, json};

use crate::github::client::{Api, ApiError, Method, Reply};

/// Longest issue comment body GitHub accepts, in characters.
pub const MAX_COMMENT: usize = 65_536;
/// Pages of 100 comments searched for the marker.
const MAX_PAGES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentResult {
    Created { id: u64 },
    Updated { id: u64 },
}

/// Create or update the comment carrying `marker` on pull request `pr`.
pub async fn upsert(
    api: &Api,
    pr: u64,
    marker: &str,
    author: &str,
    body: &str,
) -> Result<CommentResult, ApiError> {
    let payload = json!({ "body": body });
    if let Some(id) = find(api, pr, marker, author).await? {
        let uri = api.repo_path(&format!("/issues/comments/{id}"));
        api.request(Method::Patch, &uri, Some(&payload)).await?;
        return Ok(CommentResult::Updated { id });
    }
    let uri = api.repo_path(&format!("/issues/{pr}/comments"));
    let reply = api
        .create(&uri, &payload, || async {
            Ok(find(api, pr, marker, author).await?.map(|id| Reply {
                status: 200,
                body: json!({ "id": id }),
                next: None,
            }))
        })
        .await?;
    let id = reply.body.get("id").and_then(Value::as_u64).unwrap_or(0);
    Ok(CommentResult::Created { id })
}

/// The id of the marker comment, paging through every comment.
pub async fn find(api: &Api, pr: u64, marker: &str, author: &str) -> Result<Option<u64>, ApiError> {
    let mut uri = api.repo_path(&format!("/issues/{pr}/comments?per_page=100"));
    for _ in 0..MAX_PAGES {
        let reply = api.request(Method::Get, &uri, None).await?;
        let comments = reply.body.as_array().cloned().unwrap_or_default();
        if let Some(id) = comments
            .iter()
            .find_map(|c| marker_comment(c, marker, author))
        {
            return Ok(Some(id));
        }
        match reply.next {
            Some(next) => uri = next,
            None => return Ok(None),
        }
    }
    Ok(None)
}

fn marker_comment(comment: &Value, marker: &str, author: &str) -> Option<u64> {
    let body = comment.get("body")?.as_str()?;
    let login = comment.pointer("/user/login")?.as_str()?;
    let first_line = body.lines().next()?.trim();
    (first_line == marker && login == author)
        .then(|| comment.get("id")?.as_u64())
        .flatten()
}
