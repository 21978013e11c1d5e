//! The HTTP transport shared by the OpenAI and Anthropic clients: one JSON
//! POST with a per-attempt timeout, retried as [`super::retry`] decides, a
//! response size cap, no redirects, and error texts made safe by
//! [`super::text`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use super::retry::{MAX_RETRY_WAIT, backoff, is_retryable, retry_after};
use super::text::{display_url, error_excerpt, excerpt, scrub};
use super::{ClientSettings, ProviderError, Usage};

/// Largest response body read; more is treated as malformed.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

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
        if settings.timeout.is_zero() {
            return Err(ProviderError::Config(
                "the model request timeout must be more than 0".to_owned(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the key header to wherever it points
            // (reqwest strips `Authorization` across hosts, not `x-api-key`).
            .redirect(reqwest::redirect::Policy::none());
        if is_loopback(&url) {
            // A local server (Ollama, vLLM on the runner) is never reached
            // through the runner's HTTP(S)_PROXY.
            builder = builder.no_proxy();
        }
        let client = builder
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

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
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

    #[test]
    fn loopback_hosts_are_recognised() {
        for (url, loopback) in [
            ("http://127.0.0.1:8000/v1", true),
            ("http://localhost:11434/v1", true),
            ("http://[::1]:8080/v1", true),
            ("https://api.openai.com/v1", false),
            ("http://10.0.0.1/v1", false),
        ] {
            assert_eq!(
                is_loopback(&reqwest::Url::parse(url).unwrap()),
                loopback,
                "{url}"
            );
        }
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
