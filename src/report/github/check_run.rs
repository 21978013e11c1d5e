//! The `warden` check run on the head commit: conclusion from `[report]`,
//! the Markdown report as its summary, and one annotation per denial or
//! escalation. GitHub takes at most 50 annotations per request, so the
//! check run is created with the first 50 and each further 50 are sent as a
//! PATCH of its output (GitHub appends them).

use serde_json::{Value, json};

use crate::github::client::{Api, ApiError, Method, Reply};
use crate::report::annotations::{Annotation, clip};

/// Check-run name.
pub const CHECK_NAME: &str = "warden";
/// Annotations per request (GitHub's limit).
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// Longest output summary or text GitHub accepts, in characters.
pub const MAX_OUTPUT: usize = 65_535;

/// What to put in the check run.
pub struct CheckRunReport<'a> {
    pub head_sha: &'a str,
    /// warden's run id, stored as `external_id` so a retried creation finds
    /// the check run an earlier attempt made.
    pub run_id: &'a str,
    pub conclusion: &'a str,
    pub title: &'a str,
    pub summary: &'a str,
    pub text: &'a str,
    pub details_url: Option<&'a str>,
    pub annotations: &'a [Annotation],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunResult {
    pub id: u64,
    pub annotations: usize,
    pub requests: usize,
}

/// Create the check run and send all its annotations.
pub async fn publish(api: &Api, report: &CheckRunReport<'_>) -> Result<CheckRunResult, ApiError> {
    let located: Vec<Value> = report
        .annotations
        .iter()
        .filter_map(annotation_json)
        .collect();
    let mut batches = located.chunks(ANNOTATIONS_PER_REQUEST);
    let first = batches.next().unwrap_or(&[]);
    let mut body = json!({
        "name": CHECK_NAME,
        "head_sha": report.head_sha,
        "status": "completed",
        "conclusion": report.conclusion,
        "completed_at": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "external_id": report.run_id,
        "output": output(report, first),
    });
    if let Some(url) = report.details_url {
        body["details_url"] = json!(url);
    }
    let created = api
        .create(&api.repo_path("/check-runs"), &body, || {
            find_existing(api, report.head_sha, report.run_id)
        })
        .await?;
    let id = created
        .body
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::Status {
            what: "POST check-runs".into(),
            status: created.status,
            message: "the answer has no check run id".into(),
        })?;
    let mut requests = 1;
    for batch in batches {
        let update = json!({ "output": output(report, batch) });
        api.request(
            Method::Patch,
            &api.repo_path(&format!("/check-runs/{id}")),
            Some(&update),
        )
        .await?;
        requests += 1;
    }
    Ok(CheckRunResult {
        id,
        annotations: located.len(),
        requests,
    })
}

fn output(report: &CheckRunReport<'_>, annotations: &[Value]) -> Value {
    let mut out = json!({
        "title": clip(report.title, 255),
        "summary": clip_chars(report.summary, MAX_OUTPUT),
        "annotations": annotations,
    });
    if !report.text.is_empty() {
        out["text"] = json!(clip_chars(report.text, MAX_OUTPUT));
    }
    out
}

/// An annotation as GitHub's check-run API takes it; `None` without a
/// location (a check-run annotation needs a path).
pub fn annotation_json(a: &Annotation) -> Option<Value> {
    let loc = a.location.as_ref()?;
    let mut v = json!({
        "path": loc.path,
        "start_line": loc.start_line,
        "end_line": loc.end_line,
        "annotation_level": a.level.as_check_run(),
        "title": a.title,
        "message": a.message,
    });
    // GitHub rejects columns on multi-line annotations (422).
    if loc.start_line == loc.end_line
        && let (Some(start), Some(end)) = (loc.start_column, loc.end_column)
    {
        v["start_column"] = json!(start);
        v["end_column"] = json!(end);
    }
    Some(v)
}

/// A check run this warden run already created (a retried POST whose first
/// attempt landed despite the error).
async fn find_existing(api: &Api, sha: &str, run_id: &str) -> Result<Option<Reply>, ApiError> {
    let uri = api.repo_path(&format!(
        "/commits/{sha}/check-runs?check_name={CHECK_NAME}&filter=all&per_page=100"
    ));
    let reply = api.request(Method::Get, &uri, None).await?;
    let found = reply
        .body
        .get("check_runs")
        .and_then(Value::as_array)
        .and_then(|runs| {
            runs.iter()
                .find(|r| r.get("external_id").and_then(Value::as_str) == Some(run_id))
        })
        .cloned();
    Ok(found.map(|body| Reply {
        status: 200,
        body,
        next: None,
    }))
}

/// Cut to at most `max` characters (GitHub counts characters here).
fn clip_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let mut cut = cut;
            // Leave room for the ellipsis.
            if let Some((c, _)) = text[..cut].char_indices().last() {
                cut = c;
            }
            format!("{}…", &text[..cut])
        }
    }
}
