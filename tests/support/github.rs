//! The one mock of the GitHub REST API, on 127.0.0.1, for every test that
//! talks to GitHub (`gh authorize`, `gh find-audit`, the action, `warden
//! report --github` and `report::github` in-process).
//!
//! It checks each request the way GitHub does before answering, so a
//! request GitHub would refuse is refused here with GitHub's status and
//! message, and also noted in [`GithubMock::violations`] (tests assert there
//! are none):
//! - a token in `Authorization` (`Bearer` or `token`; else 401 "Bad
//!   credentials") and a non-empty `User-Agent` (else 403);
//! - `X-GitHub-Api-Version`, when sent, a version GitHub serves (else 400),
//!   and `Accept`, when sent, a media type it serves (else 415);
//! - the path under the API base (`/api/v3` for GitHub Enterprise Server),
//!   for this repository (`/repos/{OWNER}/{REPO}/…` or `/repositories/1/…`,
//!   the form GitHub's own `Link` headers use), and the documented method
//!   of each endpoint (else 404);
//! - JSON bodies (`Content-Type: application/json`, an object) with the
//!   documented fields and limits: comment bodies of at most 65,536
//!   characters and nothing else; check runs named, on a 40-hex head SHA,
//!   with a valid conclusion, only documented fields, output title and
//!   summary, at most 50 well-formed annotations per request (columns only
//!   on one-line annotations); else 422 "Validation Failed".
//!
//! Lists are paginated as GitHub paginates them (`per_page` up to 100,
//! default 30, a `Link` header with absolute `rel="next"`/`rel="last"`
//! URLs). It keeps what it was sent (comments, check runs) so a client that
//! reads back what it wrote sees it, records every request, and can inject
//! failures: an outage, a read-only token, or one-shot [`Fault`]s.
#![allow(dead_code)] // each test module uses a different part of the mock

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const OWNER: &str = "octo";
pub const REPO: &str = "demo";
/// The pull request the report tests' events name.
pub const PR: u64 = 7;
/// The installation token the mock accepts (`GITHUB_TOKEN`).
pub const TOKEN: &str = "ghs_MockInstallationToken0123456789abcdef";
/// The login of what the token creates.
pub const BOT: &str = "github-actions[bot]";

/// API versions GitHub serves (`X-GitHub-Api-Version`).
const API_VERSIONS: &[&str] = &["2022-11-28", "2026-03-10"];

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The full path, the API base included.
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    /// The body as sent (UTF-8, lossy).
    pub body: String,
}

impl Recorded {
    pub fn authorization(&self) -> Option<String> {
        self.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// An issue or pull-request comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
    pub login: String,
}

/// A check run, with every annotation any request added to it.
#[derive(Clone, Debug)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub external_id: String,
    pub status: String,
    pub conclusion: String,
    /// The last `output` sent (its annotations are in `annotations`).
    pub output: Value,
    pub annotations: Vec<Value>,
    pub html_url: String,
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

#[derive(Default)]
struct MockState {
    /// Path prefix of the API (`/api/v3` for GitHub Enterprise Server).
    prefix: String,
    /// login (lowercase) → (permission, role_name)
    permissions: HashMap<String, (String, String)>,
    /// Answer every request with this status (an outage).
    outage: Option<u16>,
    /// Answer every POST/PATCH with 403, as for a fork PR's read-only token.
    read_only: bool,
    faults: VecDeque<Fault>,
    comments: Vec<Comment>,
    check_runs: Vec<CheckRun>,
    artifacts: Vec<Value>,
    next_id: u64,
    requests: Vec<Recorded>,
    violations: Vec<String>,
}

/// A running mock; its server thread lives as long as the test process.
pub struct GithubMock {
    /// `GITHUB_API_URL` (the API base included).
    pub url: String,
    state: Arc<Mutex<MockState>>,
}

impl GithubMock {
    /// The API at the root, as on github.com.
    pub fn start() -> GithubMock {
        GithubMock::start_under("")
    }

    /// The API under `prefix`, as GitHub Enterprise Server's `/api/v3`.
    /// Its own thread and runtime, so sync and async tests start it alike.
    pub fn start_under(prefix: &str) -> GithubMock {
        let state = Arc::new(Mutex::new(MockState {
            prefix: prefix.to_owned(),
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
        GithubMock {
            url: format!("http://{addr}{prefix}"),
            state,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MockState> {
        self.state.lock().unwrap()
    }

    /// What `GET …/collaborators/{login}/permission` answers for `login`.
    pub fn set_permission(&self, login: &str, permission: &str, role_name: &str) {
        self.state().permissions.insert(
            login.to_ascii_lowercase(),
            (permission.to_owned(), role_name.to_owned()),
        );
    }

    /// Answer every request with `status` from now on.
    pub fn outage(&self, status: u16) {
        self.state().outage = Some(status);
    }

    /// Refuse every write with 403, as GitHub does for a fork PR's token.
    pub fn read_only(&self) {
        self.state().read_only = true;
    }

    /// Fail the next request that matches `fault`.
    pub fn push_fault(&self, fault: Fault) {
        self.state().faults.push_back(fault);
    }

    /// Faults not yet hit.
    pub fn faults_left(&self) -> usize {
        self.state().faults.len()
    }

    /// The repository's artifacts (as `GET …/actions/artifacts` lists them).
    pub fn set_artifacts(&self, artifacts: Vec<Value>) {
        self.state().artifacts = artifacts;
    }

    /// A comment already there (someone else's, or an earlier run's).
    pub fn push_comment(&self, comment: Comment) {
        self.state().comments.push(comment);
    }

    /// A comment by `login` on `issue`, with the next id.
    pub fn add_comment(&self, issue: u64, login: &str, body: &str) {
        let mut st = self.state();
        st.next_id += 1;
        let id = st.next_id;
        st.comments.push(Comment {
            id,
            issue,
            body: body.to_owned(),
            login: login.to_owned(),
        });
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// How many requests had this method and a path containing `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path.contains(path))
            .count()
    }

    /// Requests GitHub would have refused.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    pub fn comments(&self) -> Vec<Comment> {
        self.state().comments.clone()
    }

    pub fn check_runs(&self) -> Vec<CheckRun> {
        self.state().check_runs.clone()
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

impl MockState {
    /// Refuse as GitHub would, and note it.
    fn refuse(&mut self, method: &Method, path: &str, status: u16, why: &str) -> Response {
        self.violations.push(format!("{method} {path}: {why}"));
        message(status, why)
    }
}

async fn handle(
    State(state): State<Arc<Mutex<MockState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = state.lock().unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let full_path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    st.requests.push(Recorded {
        method: method.to_string(),
        path: full_path.clone(),
        query: query.clone(),
        headers: headers.clone(),
        body: body_text.clone(),
    });
    if let Some(status) = st.outage {
        return message(status, "Server Error");
    }

    // What GitHub checks on every request.
    let auth = header("authorization").unwrap_or_default();
    if auth != format!("Bearer {TOKEN}") && auth != format!("token {TOKEN}") {
        return st.refuse(&method, &full_path, 401, "Bad credentials");
    }
    if header("user-agent").is_none_or(|ua| ua.is_empty()) {
        return st.refuse(
            &method,
            &full_path,
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        );
    }
    if let Some(version) = header("x-github-api-version")
        && !API_VERSIONS.contains(&version.as_str())
    {
        let why = format!("API version {version} is not supported.");
        return st.refuse(&method, &full_path, 400, &why);
    }
    if let Some(accept) = header("accept")
        && !accept.split(',').any(|t| served_media_type(t.trim()))
    {
        return st.refuse(&method, &full_path, 415, "Unsupported 'Accept' header");
    }
    let prefix = st.prefix.clone();
    let Some(path) = full_path.strip_prefix(&prefix) else {
        return st.refuse(&method, &full_path, 404, "Not Found");
    };
    let repo_paths = [
        format!("/repos/{OWNER}/{REPO}/"),
        "/repositories/1/".to_owned(),
    ];
    let Some(rest) = repo_paths
        .iter()
        .find_map(|p| path.strip_prefix(p.as_str()))
    else {
        return st.refuse(&method, path, 404, "Not Found");
    };
    let json_body: Option<Value> = if method == Method::POST || method == Method::PATCH {
        if !header("content-type").is_some_and(|c| c.starts_with("application/json")) {
            return st.refuse(&method, path, 415, "Unsupported Media Type");
        }
        match serde_json::from_str::<Value>(&body_text) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => return st.refuse(&method, path, 400, "Problems parsing JSON"),
        }
    } else {
        None
    };
    if st.read_only && json_body.is_some() {
        return message(403, "Resource not accessible by integration");
    }
    let fault = st
        .faults
        .iter()
        .position(|f| f.method == method.as_str() && path.contains(f.path_contains))
        .and_then(|i| st.faults.remove(i));
    if let Some(f) = &fault
        && !f.after_effect
    {
        return fault_response(f);
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let host = header("host").unwrap_or_default();
    let response = route(&mut st, &method, path, &parts, &query, json_body, &host);
    match fault {
        Some(f) => fault_response(&f),
        None => response,
    }
}

/// A media type GitHub answers JSON for.
fn served_media_type(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    matches!(essence, "*/*" | "application/*" | "application/json")
        || essence.starts_with("application/vnd.github")
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

/// One endpoint, by method and the path within the repository.
fn route(
    st: &mut MockState,
    method: &Method,
    path: &str,
    parts: &[&str],
    query: &str,
    body: Option<Value>,
    host: &str,
) -> Response {
    let number = |s: &str| s.parse::<u64>().ok();
    match (method.as_str(), parts) {
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
        ("GET", ["issues", issue, "comments"]) if number(issue).is_some() => {
            list_comments(st, number(issue).unwrap(), query, host)
        }
        ("POST", ["issues", issue, "comments"]) if number(issue).is_some() => {
            let Some(text) = only_body_field(st, path, &body.unwrap()) else {
                return message(422, "Validation Failed");
            };
            st.next_id += 1;
            let c = Comment {
                id: st.next_id,
                issue: number(issue).unwrap(),
                body: text,
                login: BOT.into(),
            };
            st.comments.push(c.clone());
            answer(201, comment_json(&c))
        }
        ("PATCH", ["issues", "comments", id]) => {
            let Some(text) = only_body_field(st, path, &body.unwrap()) else {
                return message(422, "Validation Failed");
            };
            let id = number(id).unwrap_or(0);
            match st.comments.iter_mut().find(|c| c.id == id) {
                Some(c) => {
                    c.body = text;
                    let c = c.clone();
                    answer(200, comment_json(&c))
                }
                None => message(404, "Not Found"),
            }
        }
        ("POST", ["check-runs"]) => create_check_run(st, body.unwrap()),
        ("PATCH", ["check-runs", id]) => {
            update_check_run(st, number(id).unwrap_or(0), body.unwrap())
        }
        ("GET", ["commits", sha, "check-runs"]) => {
            let name = query_param(query, "check_name");
            let runs: Vec<Value> = st
                .check_runs
                .iter()
                .filter(|r| r.head_sha == *sha)
                .filter(|r| name.as_deref().is_none_or(|n| r.name == n))
                .map(check_run_json)
                .collect();
            answer(200, json!({"total_count": runs.len(), "check_runs": runs}))
        }
        ("GET", ["actions", "artifacts"]) => {
            let name = query_param(query, "name");
            let list: Vec<Value> = st
                .artifacts
                .iter()
                .filter(|a| name.as_deref().is_none_or(|n| a["name"] == n))
                .cloned()
                .collect();
            answer(200, json!({"total_count": list.len(), "artifacts": list}))
        }
        _ => st.refuse(method, path, 404, "Not Found"),
    }
}

fn comment_json(c: &Comment) -> Value {
    json!({
        "id": c.id,
        "body": c.body,
        "user": {"login": c.login, "type": if c.login.ends_with("[bot]") { "Bot" } else { "User" }},
        "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{}#issuecomment-{}", c.issue, c.id),
    })
}

fn check_run_json(r: &CheckRun) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "head_sha": r.head_sha,
        "external_id": r.external_id,
        "status": r.status,
        "conclusion": if r.conclusion.is_empty() { Value::Null } else { json!(r.conclusion) },
        "html_url": r.html_url,
        "output": {
            "title": r.output.get("title").cloned().unwrap_or(Value::Null),
            "summary": r.output.get("summary").cloned().unwrap_or(Value::Null),
            "annotations_count": r.annotations.len(),
        },
    })
}

/// Issue comment bodies: `{"body": string}` only, at most 65,536 characters.
fn only_body_field(st: &mut MockState, path: &str, body: &Value) -> Option<String> {
    let obj = body.as_object()?;
    let text = obj.get("body").and_then(Value::as_str);
    let ok = obj.len() == 1 && text.is_some_and(|t| t.chars().count() <= 65_536);
    if !ok {
        st.violations.push(format!("{path}: bad comment body"));
        return None;
    }
    text.map(str::to_owned)
}

fn list_comments(st: &MockState, issue: u64, query: &str, host: &str) -> Response {
    let per_page: usize = query_param(query, "per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page: usize = query_param(query, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let on_issue: Vec<&Comment> = st.comments.iter().filter(|c| c.issue == issue).collect();
    let items: Vec<Value> = on_issue
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|c| comment_json(c))
        .collect();
    let last = on_issue.len().div_ceil(per_page).max(1);
    let mut r = answer(200, Value::Array(items));
    if page < last {
        // Like GitHub: absolute URLs under /repositories/{id}/….
        let url = |p: usize| {
            format!(
                "http://{host}{}/repositories/1/issues/{issue}/comments?per_page={per_page}&page={p}",
                st.prefix
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

/// What a client may set (`stale` is GitHub's own).
const CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "timed_out",
];

/// The fields of `POST …/check-runs` (`PATCH` takes the same but `head_sha`).
const CHECK_RUN_FIELDS: &[&str] = &[
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

fn create_check_run(st: &mut MockState, body: Value) -> Response {
    let mut problems = Vec::new();
    let obj = body.as_object().unwrap();
    for k in obj.keys() {
        if !CHECK_RUN_FIELDS.contains(&k.as_str()) {
            problems.push(format!("unknown field {k}"));
        }
    }
    let name = obj.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        problems.push("name is required".into());
    }
    let sha = obj.get("head_sha").and_then(Value::as_str).unwrap_or("");
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        problems.push(format!("head_sha {sha:?} is not a commit SHA"));
    }
    let conclusion = obj.get("conclusion").and_then(Value::as_str);
    // Providing a conclusion completes the run.
    let status = match conclusion {
        Some(_) => "completed",
        None => obj
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("queued"),
    };
    check_status(status, conclusion, &mut problems);
    let mut annotations = Vec::new();
    if let Some(output) = obj.get("output") {
        check_output(output, &mut problems, &mut annotations);
    }
    if !problems.is_empty() {
        st.violations
            .extend(problems.iter().map(|p| format!("POST check-runs: {p}")));
        return message(422, "Validation Failed");
    }
    st.next_id += 1;
    let id = st.next_id;
    let run = CheckRun {
        id,
        name: name.to_owned(),
        head_sha: sha.to_owned(),
        external_id: obj
            .get("external_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        status: status.to_owned(),
        conclusion: conclusion.unwrap_or("").to_owned(),
        output: obj.get("output").cloned().unwrap_or(Value::Null),
        annotations,
        html_url: format!("https://github.com/{OWNER}/{REPO}/runs/{id}"),
    };
    let reply = check_run_json(&run);
    st.check_runs.push(run);
    answer(201, reply)
}

fn update_check_run(st: &mut MockState, id: u64, body: Value) -> Response {
    let mut problems = Vec::new();
    let obj = body.as_object().unwrap();
    for k in obj.keys() {
        if k == "head_sha" || !CHECK_RUN_FIELDS.contains(&k.as_str()) {
            problems.push(format!("unknown field {k}"));
        }
    }
    let conclusion = obj.get("conclusion").and_then(Value::as_str);
    if let Some(status) = obj.get("status").and_then(Value::as_str) {
        check_status(status, conclusion, &mut problems);
    } else if conclusion.is_some() {
        check_status("completed", conclusion, &mut problems);
    }
    let mut annotations = Vec::new();
    if let Some(output) = obj.get("output") {
        check_output(output, &mut problems, &mut annotations);
    }
    if !problems.is_empty() {
        st.violations
            .extend(problems.iter().map(|p| format!("PATCH check-runs: {p}")));
        return message(422, "Validation Failed");
    }
    let Some(run) = st.check_runs.iter_mut().find(|r| r.id == id) else {
        return message(404, "Not Found");
    };
    run.annotations.extend(annotations);
    if let Some(output) = obj.get("output") {
        run.output = output.clone();
    }
    if let Some(c) = conclusion {
        run.conclusion = c.to_owned();
        run.status = "completed".into();
    } else if let Some(s) = obj.get("status").and_then(Value::as_str) {
        run.status = s.to_owned();
    }
    answer(200, check_run_json(run))
}

/// `status` one of GitHub's; `completed` needs a valid conclusion.
fn check_status(status: &str, conclusion: Option<&str>, problems: &mut Vec<String>) {
    if !matches!(
        status,
        "queued" | "in_progress" | "completed" | "waiting" | "requested" | "pending"
    ) {
        problems.push(format!("status {status:?} is not valid"));
    }
    if let Some(c) = conclusion
        && !CONCLUSIONS.contains(&c)
    {
        problems.push(format!("conclusion {c:?} is not valid"));
    }
    if status == "completed" && conclusion.is_none() {
        problems.push("conclusion is required when completed".into());
    }
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
        check_annotation(a, problems);
    }
    annotations.extend(list);
}

fn check_annotation(a: &Value, problems: &mut Vec<String>) {
    let Some(o) = a.as_object() else {
        problems.push(format!("annotation is not an object: {a}"));
        return;
    };
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
    let chars = |v: Option<&Value>| v.and_then(Value::as_str).map(|s| s.chars().count());
    if chars(o.get("title")).is_some_and(|n| n > 255) {
        problems.push("annotation title too long".into());
    }
}
