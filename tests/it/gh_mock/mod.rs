//! An in-process mock of the GitHub REST API on 127.0.0.1 for the `gh_*`
//! and `action_*` tests.
//!
//! It checks requests the way GitHub does before answering: a token in
//! `Authorization` (else 401 "Bad credentials"), a `User-Agent` (else 403),
//! the repository in the path (else 404), the documented method for each
//! endpoint, and the documented limits of what it creates (comment size,
//! 40-hex head SHA, at most 50 annotations per request, columns only on
//! one-line annotations). It keeps state (comments, check runs) so a
//! client that reads back what it wrote sees it, and records every request.
//! A violation is recorded as well as answered, so a test can assert none
//! happened.
#![allow(dead_code)] // each test crate uses a different part of the mock

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const OWNER: &str = "octo";
pub const REPO: &str = "demo";
pub const TOKEN: &str = "ghs_mocktoken0123456789";
pub const BOT: &str = "github-actions[bot]";

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Default)]
struct MockState {
    /// login → (permission, role_name)
    permissions: HashMap<String, (String, String)>,
    /// Answer every request with this status (an outage).
    outage: Option<u16>,
    comments: Vec<Value>,
    check_runs: Vec<Value>,
    artifacts: Vec<Value>,
    next_id: u64,
    requests: Vec<Recorded>,
    violations: Vec<String>,
}

/// A running mock; the server thread lives as long as the test process.
pub struct MockGithub {
    /// `GITHUB_API_URL`.
    pub url: String,
    state: Arc<Mutex<MockState>>,
}

impl MockGithub {
    pub fn start() -> MockGithub {
        let state = Arc::new(Mutex::new(MockState {
            next_id: 1000,
            ..MockState::default()
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        MockGithub {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// What `GET …/collaborators/{login}/permission` answers for `login`.
    pub fn set_permission(&self, login: &str, permission: &str, role_name: &str) {
        self.state.lock().unwrap().permissions.insert(
            login.to_ascii_lowercase(),
            (permission.to_owned(), role_name.to_owned()),
        );
    }

    /// Answer every request with `status` from now on.
    pub fn outage(&self, status: u16) {
        self.state.lock().unwrap().outage = Some(status);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    pub fn comments(&self) -> Vec<Value> {
        self.state.lock().unwrap().comments.clone()
    }

    pub fn check_runs(&self) -> Vec<Value> {
        self.state.lock().unwrap().check_runs.clone()
    }

    /// The repository's artifacts (as `GET …/actions/artifacts` lists them).
    pub fn set_artifacts(&self, artifacts: Vec<Value>) {
        self.state.lock().unwrap().artifacts = artifacts;
    }

    /// A comment by someone else (to check warden leaves it alone).
    pub fn add_comment(&self, issue: u64, login: &str, body: &str) {
        let mut st = self.state.lock().unwrap();
        st.next_id += 1;
        let id = st.next_id;
        st.comments
            .push(json!({"id": id, "issue": issue, "body": body, "user": {"login": login}}));
    }
}

fn answer(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn message(status: u16, text: &str) -> Response {
    answer(
        status,
        json!({"message": text, "documentation_url": "https://docs.github.com/rest"}),
    )
}

async fn handle(
    State(state): State<Arc<Mutex<MockState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return message(400, "Problems parsing JSON"),
        }
    };
    let recorded = Recorded {
        method: method.clone(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers: headers.clone(),
        body: body.clone(),
    };
    let mut st = state.lock().unwrap();
    st.requests.push(recorded);
    let violation = |st: &mut MockState, status: u16, why: String| {
        st.violations
            .push(format!("{method} {}: {why}", uri.path()));
        message(status, &why)
    };
    if let Some(status) = st.outage {
        return message(status, "Server Error");
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {TOKEN}") && auth != format!("token {TOKEN}") {
        return violation(&mut st, 401, "Bad credentials".into());
    }
    if headers.get("user-agent").is_none() {
        return violation(&mut st, 403, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header".into());
    }
    let prefix = format!("/repos/{OWNER}/{REPO}/");
    let Some(rest) = uri.path().strip_prefix(&prefix) else {
        return violation(&mut st, 404, "Not Found".into());
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let query: HashMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["collaborators", login, "permission"]) => {
            match st.permissions.get(&login.to_ascii_lowercase()) {
                Some((permission, role)) => answer(
                    200,
                    json!({"permission": permission, "role_name": role,
                           "user": {"login": login, "type": "User"}}),
                ),
                None => message(404, "Not Found"),
            }
        }
        ("GET", ["issues", issue, "comments"]) => {
            let issue: u64 = issue.parse().unwrap_or(0);
            let list: Vec<Value> = st
                .comments
                .iter()
                .filter(|c| c["issue"] == issue)
                .cloned()
                .collect();
            answer(200, Value::Array(list))
        }
        ("POST", ["issues", issue, "comments"]) => {
            let Some(text) = body.get("body").and_then(Value::as_str) else {
                return violation(&mut st, 422, "body is required".into());
            };
            if text.chars().count() > 65_536 {
                return violation(
                    &mut st,
                    422,
                    "body is too long (maximum is 65536 characters)".into(),
                );
            }
            st.next_id += 1;
            let id = st.next_id;
            let issue: u64 = issue.parse().unwrap_or(0);
            let comment = json!({"id": id, "issue": issue, "body": text, "user": {"login": BOT},
                "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{issue}#issuecomment-{id}")});
            st.comments.push(comment.clone());
            answer(201, comment)
        }
        ("PATCH", ["issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let Some(text) = body.get("body").and_then(Value::as_str).map(str::to_owned) else {
                return violation(&mut st, 422, "body is required".into());
            };
            match st.comments.iter_mut().find(|c| c["id"] == id) {
                Some(c) => {
                    c["body"] = json!(text);
                    answer(200, c.clone())
                }
                None => message(404, "Not Found"),
            }
        }
        ("POST", ["check-runs"]) => {
            if let Err(why) = check_run_body(&body, true) {
                return violation(&mut st, 422, why);
            }
            st.next_id += 1;
            let id = st.next_id;
            let mut run = body.clone();
            run["id"] = json!(id);
            run["html_url"] = json!(format!("https://github.com/{OWNER}/{REPO}/runs/{id}"));
            st.check_runs.push(run.clone());
            answer(201, run)
        }
        ("PATCH", ["check-runs", id]) => {
            if let Err(why) = check_run_body(&body, false) {
                return violation(&mut st, 422, why);
            }
            let id: u64 = id.parse().unwrap_or(0);
            match st.check_runs.iter_mut().find(|r| r["id"] == id) {
                Some(run) => {
                    if let Some(more) = body
                        .pointer("/output/annotations")
                        .and_then(Value::as_array)
                    {
                        let mut all = run
                            .pointer("/output/annotations")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        all.extend(more.iter().cloned());
                        run["output"]["annotations"] = Value::Array(all);
                    }
                    answer(200, run.clone())
                }
                None => message(404, "Not Found"),
            }
        }
        ("GET", ["actions", "artifacts"]) => {
            let name = query.get("name");
            let list: Vec<Value> = st
                .artifacts
                .iter()
                .filter(|a| name.is_none_or(|n| a["name"] == n.as_str()))
                .cloned()
                .collect();
            answer(200, json!({"total_count": list.len(), "artifacts": list}))
        }
        ("GET", ["commits", sha, "check-runs"]) => {
            let name = query.get("check_name");
            let runs: Vec<Value> = st
                .check_runs
                .iter()
                .filter(|r| r["head_sha"] == *sha)
                .filter(|r| name.is_none_or(|n| r["name"] == n.as_str()))
                .cloned()
                .collect();
            answer(200, json!({"total_count": runs.len(), "check_runs": runs}))
        }
        _ => violation(&mut st, 404, "Not Found".into()),
    }
}

/// What GitHub's check-runs endpoint refuses with 422.
fn check_run_body(body: &Value, create: bool) -> Result<(), String> {
    if create {
        if body
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err("name is required".into());
        }
        let sha = body.get("head_sha").and_then(Value::as_str).unwrap_or("");
        if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("head_sha {sha:?} is not a commit SHA"));
        }
    }
    if let Some(c) = body.get("conclusion").and_then(Value::as_str)
        && ![
            "success",
            "failure",
            "neutral",
            "cancelled",
            "skipped",
            "timed_out",
            "action_required",
        ]
        .contains(&c)
    {
        return Err(format!("conclusion {c:?} is not valid"));
    }
    let annotations = body
        .pointer("/output/annotations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if annotations.len() > 50 {
        return Err("more than 50 annotations in one request".into());
    }
    for a in &annotations {
        let one_line = a["start_line"] == a["end_line"];
        if !one_line && (a.get("start_column").is_some() || a.get("end_column").is_some()) {
            return Err("columns on a multi-line annotation".into());
        }
        for key in [
            "path",
            "start_line",
            "end_line",
            "annotation_level",
            "message",
        ] {
            if a.get(key).is_none() {
                return Err(format!("annotation without {key}"));
            }
        }
    }
    Ok(())
}
