//! In-process mock model APIs on 127.0.0.1 for the provider tests.
//!
//! A [`MockServer`] records every request, checks it the way the real API
//! would (`openai` / `anthropic` submodules: auth headers, roles and their
//! order, tool call/result pairing, tool schemas) and answers a violation
//! the way the API does (401 / 400). Otherwise it plays the next queued
//! [`MockResponse`].
#![allow(dead_code)] // each test crate uses a different part of the mock

pub mod anthropic;
pub mod openai;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Client settings for a mock at `base_url`: a real key shape, a short
/// timeout, three attempts, retries without waiting.
pub fn client_settings(base_url: &str, key: &str) -> warden::model::ClientSettings {
    warden::model::ClientSettings {
        base_url: base_url.to_owned(),
        api_key: Some(warden::model::Secret::new(key)),
        timeout: Duration::from_secs(5),
        max_attempts: 3,
        retry_base_delay: Duration::from_millis(1),
    }
}

/// Which API the mock imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Anthropic,
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A canned answer.
#[derive(Clone, Debug)]
pub struct MockResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl MockResponse {
    pub fn json(status: u16, body: Value) -> Self {
        MockResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn raw(status: u16, body: &str) -> Self {
        MockResponse {
            status,
            headers: vec![],
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

struct MockState {
    api: Api,
    key: Option<String>,
    reject_response_format: bool,
    queue: VecDeque<MockResponse>,
    requests: Vec<Recorded>,
    violations: Vec<String>,
}

/// A running mock API.
pub struct MockServer {
    /// What to give the client as its base URL.
    pub base_url: String,
    state: Arc<Mutex<MockState>>,
}

impl MockServer {
    /// Start a mock of `api` accepting `key` (None: no auth expected).
    pub async fn start(api: Api, key: Option<&str>) -> MockServer {
        let state = Arc::new(Mutex::new(MockState {
            api,
            key: key.map(str::to_owned),
            reject_response_format: false,
            queue: VecDeque::new(),
            requests: vec![],
            violations: vec![],
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let base_url = match api {
            Api::OpenAi => format!("http://{addr}/v1"),
            Api::Anthropic => format!("http://{addr}"),
        };
        MockServer { base_url, state }
    }

    pub fn push(&self, response: MockResponse) {
        self.state.lock().unwrap().queue.push_back(response);
    }

    /// Answer any request carrying `response_format` with the 400 a server
    /// without structured-output support sends.
    pub fn reject_response_format(&self) {
        self.state.lock().unwrap().reject_response_format = true;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests the real API would have rejected, and why.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
}

async fn handle(
    State(state): State<Arc<Mutex<MockState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let recorded = Recorded {
        method,
        path: uri.path().to_owned(),
        headers,
        body: parsed,
        at: Instant::now(),
    };
    let (verdict, response) = {
        let mut st = state.lock().unwrap();
        st.requests.push(recorded.clone());
        let verdict = match st.api {
            Api::OpenAi => openai::check(&recorded, st.key.as_deref()),
            Api::Anthropic => anthropic::check(&recorded, st.key.as_deref()),
        };
        if let Err((_, ref why)) = verdict {
            st.violations.push(why.to_string());
        }
        let rejects = st.reject_response_format && recorded.body.get("response_format").is_some();
        let response = if verdict.is_err() || rejects {
            None
        } else {
            st.queue.pop_front()
        };
        (verdict.map(|()| rejects), response)
    };
    match verdict {
        Err((status, body)) => return reply(status, vec![], body.to_string()),
        Ok(true) => {
            // What vLLM-style servers say when they lack json_schema support.
            let body = serde_json::json!({
                "object": "error",
                "message": "response_format type 'json_schema' is not supported by this server",
                "type": "BadRequestError",
                "param": "response_format",
                "code": 400
            });
            return reply(400, vec![], body.to_string());
        }
        Ok(false) => {}
    }
    let Some(r) = response else {
        return reply(500, vec![], "mock: no response queued".to_owned());
    };
    if !r.delay.is_zero() {
        tokio::time::sleep(r.delay).await;
    }
    reply(r.status, r.headers, r.body)
}

fn reply(status: u16, headers: Vec<(String, String)>, body: String) -> Response {
    let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
    for (k, v) in headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    resp
}

/// Shorthand for a request rejection: the status and the API's error body.
pub type Rejection = (u16, Value);
