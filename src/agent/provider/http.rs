//! The HTTP transport shared by the OpenAI and Anthropic clients: one JSON
//! POST with a per-attempt timeout, retries with exponential backoff and
//! jitter on 408/429/5xx and connection failures (honouring `Retry-After`),
//! a response size cap, and error texts scrubbed of the API key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::{ClientSettings, ProviderError, Secret, Usage};

/// Longest wait between attempts, whatever `Retry-After` asks for: a CI job
/// is better served by another try (bounded by `max_attempts`) than by a
/// silent sleep of many minutes.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// Largest response body read; more is treated as malformed.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Characters of an error body kept in an error message.
const EXCERPT_CHARS: usize = 600;

/// A configured connection to one API endpoint.
pub(crate) struct Transport {
    client: reqwest::Client,
    settings: ClientSettings,
    /// The full endpoint URL requests go to.
    url: reqwest::Url,
    usage: UsageCounter,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("endpoint", &self.endpoint())
            .field("settings", &self.settings)
            .finish()
    }
}

impl Transport {
    /// A transport posting to `{base_url}{path}`. `official_host` is the
    /// vendor's API host: there a missing key is an error now rather than a
    /// 401 later. `key_hint` names where the key comes from, for that error.
    pub(crate) fn new(
        settings: ClientSettings,
        path: &str,
        official_host: &str,
        key_hint: &str,
    ) -> Result<Self, ProviderError> {
        let base = settings.base_url.trim_end_matches('/');
        let url = reqwest::Url::parse(&format!("{base}{path}")).map_err(|e| {
            ProviderError::Config(format!(
                "invalid model API base URL `{}`: {e}; expected e.g. `https://{official_host}`",
                display_url(&settings.base_url)
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ProviderError::Config(format!(
                "model API base URL `{}` must use http or https",
                display_url(&settings.base_url)
            )));
        }
        if settings.api_key.is_none() && url.host_str() == Some(official_host) {
            return Err(ProviderError::Config(format!(
                "no API key for {official_host}: set {key_hint} in the environment \
                 (keys are never accepted as flags)"
            )));
        }
        if settings.max_attempts == 0 {
            return Err(ProviderError::Config(
                "max_attempts must be at least 1".to_owned(),
            ));
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the key header to wherever it points
            // (reqwest strips `Authorization` across hosts, not `x-api-key`).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ProviderError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Transport {
            client,
            settings,
            url,
            usage: UsageCounter::default(),
        })
    }

    pub(crate) fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The endpoint without credentials or query, for messages.
    pub(crate) fn endpoint(&self) -> String {
        display_url(self.url.as_str())
    }

    pub(crate) fn record_usage(&self, usage: Usage) {
        self.usage.add(usage);
    }

    pub(crate) fn total_usage(&self) -> Usage {
        self.usage.get()
    }

    /// POST `body` as JSON with `headers`, retrying what is worth retrying,
    /// and parse the 2xx answer as JSON.
    pub(crate) async fn post_json(
        &self,
        headers: HeaderMap,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ProviderError> {
        let body = serde_json::to_vec(body).map_err(|e| {
            ProviderError::InvalidRequest(format!("cannot encode the request: {e}"))
        })?;
        let max = self.settings.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let outcome = tokio::time::timeout(
                self.settings.timeout,
                self.attempt(headers.clone(), body.clone()),
            )
            .await
            .unwrap_or(Err(AttemptError::Timeout));
            let failure = match outcome {
                Ok(bytes) => return self.parse(&bytes),
                Err(failure) => failure,
            };
            let retry_wait = match &failure {
                AttemptError::Status {
                    status, headers, ..
                } if is_retryable(*status) => Some(
                    retry_after(headers, SystemTime::now())
                        .unwrap_or_else(|| backoff(self.settings.retry_base_delay, attempt)),
                ),
                AttemptError::Transport(_) | AttemptError::Timeout => {
                    Some(backoff(self.settings.retry_base_delay, attempt))
                }
                _ => None,
            };
            match retry_wait {
                Some(wait) if attempt < max => {
                    let wait = wait.min(MAX_RETRY_WAIT);
                    tracing::warn!(
                        endpoint = %self.endpoint(),
                        attempt,
                        max_attempts = max,
                        wait_ms = wait.as_millis() as u64,
                        "model request failed ({}), retrying",
                        failure.summary()
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return Err(self.final_error(failure, attempt)),
            }
        }
    }

    async fn attempt(&self, headers: HeaderMap, body: Vec<u8>) -> Result<Vec<u8>, AttemptError> {
        let mut resp = self
            .client
            .post(self.url.clone())
            .headers(headers)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await
            .map_err(|e| AttemptError::Transport(describe_reqwest_error(e)))?;
        let status = resp.status().as_u16();
        let resp_headers = resp.headers().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| AttemptError::Transport(describe_reqwest_error(e)))?
        {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(AttemptError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        if (200..300).contains(&status) {
            Ok(bytes)
        } else {
            Err(AttemptError::Status {
                status,
                headers: resp_headers,
                body: bytes,
            })
        }
    }

    fn parse(&self, bytes: &[u8]) -> Result<serde_json::Value, ProviderError> {
        serde_json::from_slice(bytes).map_err(|e| {
            ProviderError::Malformed(format!(
                "{} answered with a body that is not JSON ({e}); it starts: {}",
                self.endpoint(),
                excerpt(bytes, self.settings.api_key.as_ref())
            ))
        })
    }

    fn final_error(&self, failure: AttemptError, attempts: u32) -> ProviderError {
        match failure {
            AttemptError::Timeout => ProviderError::Timeout {
                endpoint: self.endpoint(),
                after: self.settings.timeout,
                attempts,
            },
            AttemptError::Transport(msg) => ProviderError::Transport(format!(
                "{}: {} ({attempts} attempt(s))",
                self.endpoint(),
                scrub(&msg, self.settings.api_key.as_ref())
            )),
            AttemptError::TooLarge => ProviderError::Malformed(format!(
                "{} sent more than {} MiB",
                self.endpoint(),
                MAX_RESPONSE_BYTES / (1024 * 1024)
            )),
            AttemptError::Status { status, body, .. } => ProviderError::Http {
                status,
                body_excerpt: error_excerpt(&body, self.settings.api_key.as_ref()),
            },
        }
    }
}

/// Why one attempt failed.
enum AttemptError {
    Timeout,
    Transport(String),
    TooLarge,
    Status {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
    },
}

impl AttemptError {
    fn summary(&self) -> String {
        match self {
            AttemptError::Timeout => "timed out".to_owned(),
            AttemptError::Transport(_) => "connection failed".to_owned(),
            AttemptError::TooLarge => "response too large".to_owned(),
            AttemptError::Status { status, .. } => format!("HTTP {status}"),
        }
    }
}

/// 408 and 429 are "try again later"; 5xx (including Anthropic's 529
/// overloaded) are the server's fault. Other 4xx will fail the same way.
fn is_retryable(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// Delay before retry number `attempt` (1 after the first failure):
/// `base * 2^(attempt-1)`, scaled by a random factor in [0.5, 1) so clients
/// that failed together do not retry together.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    exp.mul_f64(0.5 + fastrand::f64() * 0.5).min(MAX_RETRY_WAIT)
}

/// The wait a server asked for: `retry-after-ms` (OpenAI), else
/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3). A date in
/// the past means now. Not capped here; the caller caps.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(HeaderName::from_bytes(name.as_bytes()).ok()?)?
            .to_str()
            .ok()
            .map(str::trim)
    };
    let millis = text("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0);
    if let Some(ms) = millis {
        return Some(Duration::from_secs_f64(ms.min(1e9) / 1000.0));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `url` without user info, query or fragment, for messages and logs.
pub fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// A reqwest error as text, without the URL (which may carry credentials)
/// but with the underlying causes (which say what actually failed).
fn describe_reqwest_error(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Text safe to print: the key replaced, then the general redactor.
pub(crate) fn scrub(text: &str, key: Option<&Secret>) -> String {
    let text = match key {
        Some(k) if !k.expose().is_empty() => text.replace(k.expose(), "[REDACTED]"),
        _ => text.to_owned(),
    };
    crate::redact::redact(&text)
}

/// The start of a body, scrubbed, on one line.
pub(crate) fn excerpt(body: &[u8], key: Option<&Secret>) -> String {
    let text = scrub(&String::from_utf8_lossy(body), key);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_chars(&one_line, EXCERPT_CHARS)
}

/// An error body reduced to what helps: the API's `error.message` (with
/// `type`/`param`/`code` when present), else the raw excerpt.
fn error_excerpt(body: &[u8], key: Option<&Secret>) -> String {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return if body.is_empty() {
            "(empty body)".to_owned()
        } else {
            excerpt(body, key)
        };
    };
    let err = json.get("error").filter(|e| e.is_object()).unwrap_or(&json);
    let Some(message) = err.get("message").and_then(|m| m.as_str()) else {
        return excerpt(body, key);
    };
    let mut text = message.to_owned();
    let details: Vec<String> = ["type", "param", "code"]
        .iter()
        .filter_map(|field| {
            let v = err.get(*field)?;
            let v = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            (!v.is_empty() && v != "null").then(|| format!("{field}: {v}"))
        })
        .collect();
    if !details.is_empty() {
        text.push_str(&format!(" ({})", details.join(", ")));
    }
    excerpt(text.as_bytes(), key)
}

pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[derive(Debug, Default)]
struct UsageCounter {
    input: AtomicU64,
    output: AtomicU64,
}

impl UsageCounter {
    fn add(&self, usage: Usage) {
        self.input.fetch_add(usage.input_tokens, Ordering::Relaxed);
        self.output
            .fetch_add(usage.output_tokens, Ordering::Relaxed);
    }

    fn get(&self) -> Usage {
        Usage {
            input_tokens: self.input.load(Ordering::Relaxed),
            output_tokens: self.output.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:50:07 GMT")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:00:00 GMT")]);
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        let h = headers(&[("retry-after-ms", "250"), ("retry-after", "9")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(250)));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        for attempt in 1..=4 {
            let full = base * (1 << (attempt - 1));
            let d = backoff(base, attempt);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        assert_eq!(backoff(Duration::from_secs(3600), 30), MAX_RETRY_WAIT);
    }

    #[test]
    fn error_excerpt_prefers_the_api_message_and_scrubs_the_key() {
        let key = Secret::new("sk-secret-value");
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-secret-value","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let text = error_excerpt(body, Some(&key));
        assert_eq!(
            text,
            "Incorrect API key provided: [REDACTED] (type: invalid_request_error, code: invalid_api_key)"
        );
        assert_eq!(error_excerpt(b"", None), "(empty body)");
        assert_eq!(
            error_excerpt(b"<html>\n bad\n</html>", None),
            "<html> bad </html>"
        );
    }

    #[test]
    fn display_url_drops_credentials_and_query() {
        assert_eq!(
            display_url("https://user:pw@host.example/v1?key=abc#x"),
            "https://host.example/v1"
        );
        assert_eq!(display_url("not a url"), "<unparseable URL>");
    }

    #[test]
    fn missing_key_for_the_official_host_is_a_config_error() {
        let settings = ClientSettings::new("https://api.openai.com/v1", None);
        let err = Transport::new(
            settings,
            "/chat/completions",
            "api.openai.com",
            "OPENAI_API_KEY",
        )
        .unwrap_err();
        assert!(err.to_string().contains("set OPENAI_API_KEY"), "{err}");
        let settings = ClientSettings::new("http://127.0.0.1:8000/v1", None);
        assert!(Transport::new(settings, "/chat/completions", "api.openai.com", "X").is_ok());
        let settings = ClientSettings::new("ftp://x", None);
        assert!(matches!(
            Transport::new(settings, "/p", "api.openai.com", "X"),
            Err(ProviderError::Config(_))
        ));
    }
}
