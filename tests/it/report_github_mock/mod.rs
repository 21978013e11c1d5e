//! An in-process mock of the parts of the GitHub REST API that warden uses,
//! on 127.0.0.1. It checks each request the way GitHub would (method, path,
//! auth header, JSON body shape, limits) and records every request so tests
//! can look at exactly what was sent. Anything GitHub would reject is
//! rejected here with GitHub's status code, and noted in `violations`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const OWNER: &str = "octo";
pub const REPO: &str = "demo";
pub const PR: u64 = 7;
pub const BOT: &str = "github-actions[bot]";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub login: String,
}

#[derive(Debug, Clone)]
pub struct CheckRun {
    pub id: u64,
    pub head_sha: String,
    pub external_id: String,
    pub conclusion: String,
    pub output: Value,
    pub annotations: Vec<Value>,
}

/// A failure to inject: the next request whose method and path match is
/// answered with `status` (after doing the work, when `after_effect`).
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub path_contains: &'static str,
    pub status: u16,
    pub after_effect: bool,
    pub headers: Vec<(&'static str, &'static str)>,
    pub message: &'static str,
}

#[derive(Debug, Default)]
pub struct Mock {
    pub token: String,
    /// Path prefix of the API (`/api/v3` for GitHub Enterprise Server).
    pub prefix: String,
    pub requests: Vec<Recorded>,
    pub comments: Vec<Comment>,
    pub check_runs: Vec<CheckRun>,
    pub next_id: u64,
    pub faults: VecDeque<Fault>,
    /// Answer every POST/PATCH with 403, as for a fork PR's read-only token.
    pub read_only: bool,
    /// Requests GitHub would have refused.
    pub violations: Vec<String>,
}

pub type Shared = Arc<Mutex<Mock>>;

/// Start the mock; returns its base URL and state.
pub async fn start(token: &str, prefix: &str) -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Mock {
        token: token.to_owned(),
        prefix: prefix.to_owned(),
        next_id: 1000,
        ..Mock::default()
    }));
    let app = Router::new().fallback(handle).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}{prefix}"), state)
}

fn reply(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn message(status: u16, text: &str) -> Response {
    reply(
        status,
        json!({ "message": text, "documentation_url": "https://docs.github.com/rest" }),
    )
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut m = state.lock().unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let full_path = uri.path().to_owned();
    m.requests.push(Recorded {
        method: method.to_string(),
        path: full_path.clone(),
        query: uri.query().unwrap_or("").to_owned(),
        authorization: header("authorization"),
        body: body_text.clone(),
    });

    // What GitHub checks on every request.
    let expected = [format!("Bearer {}", m.token), format!("token {}", m.token)];
    if !header("authorization").is_some_and(|a| expected.contains(&a)) {
        m.violations.push(format!(
            "{method} {full_path}: bad or missing Authorization"
        ));
        return message(401, "Bad credentials");
    }
    if header("user-agent").is_none_or(|ua| ua.is_empty()) {
        m.violations
            .push(format!("{method} {full_path}: no User-Agent"));
        return message(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        );
    }
    let Some(path) = full_path.strip_prefix(&m.prefix.clone()).map(str::to_owned) else {
        return message(404, "Not Found");
    };
    let json_body: Option<Value> = if method == Method::POST || method == Method::PATCH {
        if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
            m.violations.push(format!("{method} {path}: not JSON"));
            return message(415, "Unsupported Media Type");
        }
        match serde_json::from_str::<Value>(&body_text) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => {
                m.violations
                    .push(format!("{method} {path}: body is not a JSON object"));
                return message(400, "Problems parsing JSON");
            }
        }
    } else {
        None
    };
    if m.read_only && json_body.is_some() {
        return message(403, "Resource not accessible by integration");
    }
    let fault = m
        .faults
        .iter()
        .position(|f| f.method == method.as_str() && path.contains(f.path_contains))
        .map(|i| m.faults.remove(i).unwrap());
    if let Some(f) = &fault
        && !f.after_effect
    {
        return fault_response(f);
    }
    let host = header("host").unwrap_or_default();
    let response = route(
        &mut m,
        &method,
        &path,
        uri.query().unwrap_or(""),
        json_body,
        &host,
    );
    match fault {
        Some(f) => fault_response(&f),
        None => response,
    }
}

fn fault_response(f: &Fault) -> Response {
    let mut r = message(f.status, f.message);
    for (k, v) in &f.headers {
        r.headers_mut().insert(*k, HeaderValue::from_static(v));
    }
    r
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

fn route(
    m: &mut Mock,
    method: &Method,
    path: &str,
    query: &str,
    body: Option<Value>,
    host: &str,
) -> Response {
    let repo = format!("/repos/{OWNER}/{REPO}");
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let comments_list = [
        format!("{repo}/issues/{PR}/comments"),
        format!("/repositories/1/issues/{PR}/comments"),
    ];
    match (method.as_str(), path) {
        ("GET", p) if comments_list.iter().any(|c| c == p) => list_comments(m, query, host),
        ("POST", p) if p == comments_list[0] => {
            let body = body.unwrap();
            let Some(text) = only_body_field(m, path, &body) else {
                return message(422, "Validation Failed");
            };
            m.next_id += 1;
            let c = Comment {
                id: m.next_id,
                body: text,
                login: BOT.into(),
            };
            m.comments.push(c.clone());
            reply(201, comment_json(&c))
        }
        ("PATCH", _)
            if parts.len() == 6 && path.starts_with(&format!("{repo}/issues/comments/")) =>
        {
            let body = body.unwrap();
            let Some(text) = only_body_field(m, path, &body) else {
                return message(422, "Validation Failed");
            };
            let id: u64 = parts[5].parse().unwrap_or(0);
            match m.comments.iter_mut().find(|c| c.id == id) {
                Some(c) => {
                    c.body = text;
                    let c = c.clone();
                    reply(200, comment_json(&c))
                }
                None => message(404, "Not Found"),
            }
        }
        ("POST", p) if p == format!("{repo}/check-runs") => create_check_run(m, body.unwrap()),
        ("PATCH", _) if parts.len() == 5 && path.starts_with(&format!("{repo}/check-runs/")) => {
            let id: u64 = parts[4].parse().unwrap_or(0);
            update_check_run(m, id, body.unwrap())
        }
        ("GET", _)
            if parts.len() == 6
                && path.starts_with(&format!("{repo}/commits/"))
                && parts[5] == "check-runs" =>
        {
            let name = query_param(query, "check_name");
            let runs: Vec<Value> = m
                .check_runs
                .iter()
                .filter(|r| r.head_sha == parts[4])
                .filter(|_| name.as_deref().is_none_or(|n| n == "warden"))
                .map(|r| json!({"id": r.id, "name": "warden", "external_id": r.external_id}))
                .collect();
            reply(200, json!({"total_count": runs.len(), "check_runs": runs}))
        }
        _ => {
            m.violations
                .push(format!("{method} {path}: no such endpoint"));
            message(404, "Not Found")
        }
    }
}

fn comment_json(c: &Comment) -> Value {
    json!({
        "id": c.id,
        "body": c.body,
        "user": {"login": c.login, "type": if c.login.ends_with("[bot]") { "Bot" } else { "User" }},
        "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{PR}#issuecomment-{}", c.id),
    })
}

/// Issue comment bodies: `{"body": string}` only, at most 65,536 characters.
fn only_body_field(m: &mut Mock, path: &str, body: &Value) -> Option<String> {
    let obj = body.as_object()?;
    let text = obj.get("body").and_then(Value::as_str);
    let ok = obj.len() == 1 && text.is_some_and(|t| t.chars().count() <= 65_536);
    if !ok {
        m.violations.push(format!("{path}: bad comment body"));
        return None;
    }
    text.map(str::to_owned)
}

fn list_comments(m: &Mock, query: &str, host: &str) -> Response {
    let per_page: usize = query_param(query, "per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page: usize = query_param(query, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let start = (page - 1) * per_page;
    let items: Vec<Value> = m
        .comments
        .iter()
        .skip(start)
        .take(per_page)
        .map(comment_json)
        .collect();
    let last = m.comments.len().div_ceil(per_page).max(1);
    let mut r = reply(200, Value::Array(items));
    if page < last {
        // Like GitHub: absolute URLs under /repositories/{id}/….
        let url = |p: usize| {
            format!(
                "http://{host}{}/repositories/1/issues/{PR}/comments?per_page={per_page}&page={p}",
                m.prefix
            )
        };
        let link = format!(
            r#"<{}>; rel="next", <{}>; rel="last""#,
            url(page + 1),
            url(last)
        );
        r.headers_mut()
            .insert("link", HeaderValue::from_str(&link).unwrap());
    }
    r
}

const CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];

fn create_check_run(m: &mut Mock, body: Value) -> Response {
    let mut problems = Vec::new();
    let obj = body.as_object().unwrap();
    let allowed = [
        "name",
        "head_sha",
        "details_url",
        "external_id",
        "status",
        "started_at",
        "conclusion",
        "completed_at",
        "output",
        "actions",
    ];
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            problems.push(format!("unknown field {k}"));
        }
    }
    if obj.get("name").and_then(Value::as_str) != Some("warden") {
        problems.push("name must be warden".into());
    }
    let sha = obj.get("head_sha").and_then(Value::as_str).unwrap_or("");
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        problems.push("head_sha must be a commit SHA".into());
    }
    let status = obj
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("queued");
    let conclusion = obj.get("conclusion").and_then(Value::as_str);
    if status == "completed" && !conclusion.is_some_and(|c| CONCLUSIONS.contains(&c)) {
        problems.push("conclusion is required and must be valid when completed".into());
    }
    let mut annotations = Vec::new();
    if let Some(output) = obj.get("output") {
        check_output(output, &mut problems, &mut annotations);
    }
    if !problems.is_empty() {
        m.violations
            .extend(problems.iter().map(|p| format!("POST check-runs: {p}")));
        return message(422, "Validation Failed");
    }
    m.next_id += 1;
    let run = CheckRun {
        id: m.next_id,
        head_sha: sha.to_owned(),
        external_id: obj
            .get("external_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        conclusion: conclusion.unwrap_or("").to_owned(),
        output: obj.get("output").cloned().unwrap_or(Value::Null),
        annotations,
    };
    m.check_runs.push(run.clone());
    reply(
        201,
        json!({"id": run.id, "name": "warden", "head_sha": run.head_sha, "status": status, "conclusion": conclusion}),
    )
}

fn update_check_run(m: &mut Mock, id: u64, body: Value) -> Response {
    let mut problems = Vec::new();
    let mut annotations = Vec::new();
    if let Some(output) = body.get("output") {
        check_output(output, &mut problems, &mut annotations);
    }
    if !problems.is_empty() {
        m.violations
            .extend(problems.iter().map(|p| format!("PATCH check-runs: {p}")));
        return message(422, "Validation Failed");
    }
    let Some(run) = m.check_runs.iter_mut().find(|r| r.id == id) else {
        return message(404, "Not Found");
    };
    run.annotations.extend(annotations);
    if let Some(output) = body.get("output") {
        run.output = output.clone();
    }
    reply(200, json!({"id": id, "name": "warden"}))
}

/// The `output` object: title and summary required, ≤ 65,535 characters,
/// at most 50 well-formed annotations.
fn check_output(output: &Value, problems: &mut Vec<String>, annotations: &mut Vec<Value>) {
    let chars = |v: Option<&Value>| v.and_then(Value::as_str).map(|s| s.chars().count());
    if chars(output.get("title")).is_none() {
        problems.push("output.title is required".into());
    }
    match chars(output.get("summary")) {
        None => problems.push("output.summary is required".into()),
        Some(n) if n > 65_535 => problems.push(format!("output.summary has {n} characters")),
        _ => {}
    }
    if chars(output.get("text")).is_some_and(|n| n > 65_535) {
        problems.push("output.text is too long".into());
    }
    let list = output
        .get("annotations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if list.len() > 50 {
        problems.push(format!("{} annotations in one request", list.len()));
    }
    for a in &list {
        let o = a.as_object().unwrap();
        for k in o.keys() {
            if ![
                "path",
                "start_line",
                "end_line",
                "start_column",
                "end_column",
                "annotation_level",
                "message",
                "title",
                "raw_details",
            ]
            .contains(&k.as_str())
            {
                problems.push(format!("annotation field {k}"));
            }
        }
        let line = |k: &str| o.get(k).and_then(Value::as_u64);
        let (start, end) = (line("start_line"), line("end_line"));
        if o.get("path")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            || start.is_none_or(|s| s < 1)
            || end.is_none_or(|e| Some(e) < start)
            || o.get("message").and_then(Value::as_str).is_none()
        {
            problems.push(format!("annotation missing path/lines/message: {a}"));
        }
        if !matches!(
            o.get("annotation_level").and_then(Value::as_str),
            Some("notice" | "warning" | "failure")
        ) {
            problems.push("bad annotation_level".into());
        }
        if (o.contains_key("start_column") || o.contains_key("end_column")) && start != end {
            problems.push("columns on a multi-line annotation".into());
        }
        if chars(o.get("title")).is_some_and(|n| n > 255) {
            problems.push("annotation title too long".into());
        }
    }
    annotations.extend(list);
}
