//! The GitHub REST client: octocrab for transport, authentication, base URI
//! and headers, with warden's own bounded retry on top.
//!
//! Why not octocrab's typed calls and retry layer: `update_comment` sends
//! POST where GitHub documents PATCH, and the default retry repeats 5xx and
//! rate-limit answers immediately (and would repeat a non-idempotent POST).
//! So every request goes through octocrab's raw `_get` / `_post` / `_patch`
//! with octocrab's retry disabled, and this module retries 5xx, 429 and
//! secondary-rate-limit 403s with exponential backoff (honouring
//! `Retry-After` up to a cap), a bounded number of times. A plain 403 is a
//! permission answer ([`ApiError::Forbidden`]), never retried.

use std::time::Duration;

use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use serde_json::Value;

use super::env::{GithubEnv, Token};
use crate::redact::redact;

/// How hard to try before giving up on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (≥ 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled for each further one.
    pub base_delay: Duration,
    /// Cap on any one delay, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        retry_after
            .unwrap_or(backoff)
            .max(backoff)
            .min(self.max_delay)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The token may not do this (fork pull requests get a read-only token).
    #[error("GitHub refused {what} (HTTP {status}): {message}")]
    Forbidden {
        what: String,
        status: u16,
        message: String,
    },
    #[error("GitHub answered {what} with HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("cannot reach GitHub for {what}: {message}")]
    Transport { what: String, message: String },
}

impl ApiError {
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ApiError::Forbidden { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// `rel="next"` of the `Link` header (pagination).
    pub next: Option<String>,
}

/// A client for one repository.
pub struct Api {
    octo: Octocrab,
    retry: RetryPolicy,
    pub owner: String,
    pub repo: String,
}

impl Api {
    pub fn new(env: &GithubEnv, token: &Token, retry: RetryPolicy) -> Result<Api, ApiError> {
        let setup = |message: String| ApiError::Transport {
            what: "client setup".into(),
            message,
        };
        let (Some(owner), Some(repo)) = (env.owner.clone(), env.repo.clone()) else {
            return Err(setup("GITHUB_REPOSITORY is not set".into()));
        };
        let octo = Octocrab::builder()
            .personal_token(token.expose().to_owned())
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .base_uri(env.api_url.as_str())
            .map_err(|e| setup(format!("GITHUB_API_URL {:?}: {e}", env.api_url)))?
            .build()
            .map_err(|e| setup(e.to_string()))?;
        Ok(Api {
            octo,
            retry: RetryPolicy {
                max_attempts: retry.max_attempts.max(1),
                ..retry
            },
            owner,
            repo,
        })
    }

    /// `/repos/{owner}/{repo}{rest}`.
    pub fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    /// Send one request, retrying what is worth retrying. `uri` is a path
    /// (joined to the API base) or an absolute URL from a `Link` header.
    /// Only for idempotent requests (GET, PATCH of a whole field); creations
    /// go through [`Api::create`].
    pub async fn request(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(method, uri, body).await {
                Ok(reply) => return Ok(reply),
                Err(f) if f.retryable && attempt < self.retry.max_attempts => {
                    self.pause(attempt, &f).await;
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    /// POST something that must exist once. A 5xx may come after GitHub
    /// created it, so before each retry `find_existing` looks for it; a
    /// found one is returned instead of creating a duplicate.
    pub async fn create<F, Fut>(
        &self,
        uri: &str,
        body: &Value,
        mut find_existing: F,
    ) -> Result<Reply, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Reply>, ApiError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if attempt > 1
                && let Some(existing) = find_existing().await?
            {
                return Ok(existing);
            }
            match self.send_once(Method::Post, uri, Some(body)).await {
                Ok(reply) => return Ok(reply),
                Err(f) if f.retryable && attempt < self.retry.max_attempts => {
                    self.pause(attempt, &f).await;
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    async fn pause(&self, attempt: u32, failure: &Failure) {
        let delay = self.retry.delay(attempt, failure.retry_after);
        tracing::warn!("{}; retrying in {delay:?}", failure.error);
        tokio::time::sleep(delay).await;
    }

    async fn send_once(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Reply, Failure> {
        let what = format!("{} {}", method.as_str(), strip_query(uri));
        // The last line of defence: nothing leaves unredacted.
        let body = body.map(|b| {
            let mut b = b.clone();
            crate::redact::redact_json(&mut b);
            b
        });
        let sent = match method {
            Method::Get => self.octo._get(uri).await,
            Method::Post => self.octo._post(uri, body.as_ref()).await,
            Method::Patch => self.octo._patch(uri, body.as_ref()).await,
        };
        let response = sent.map_err(|e| Failure {
            error: ApiError::Transport {
                what: what.clone(),
                message: redact(&e.to_string()),
            },
            retryable: true,
            retry_after: None,
        })?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let rate_limited = header("x-ratelimit-remaining").as_deref() == Some("0");
        let next = header("link").as_deref().and_then(next_link);
        let text = self.octo.body_to_string(response).await.unwrap_or_default();
        if (200..300).contains(&status) {
            let body = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).map_err(|e| Failure {
                    error: ApiError::Status {
                        what: what.clone(),
                        status,
                        message: format!("response is not JSON: {e}"),
                    },
                    retryable: false,
                    retry_after: None,
                })?
            };
            return Ok(Reply { status, body, next });
        }
        let message = error_message(&text);
        let secondary_limit = status == 403
            && (retry_after.is_some()
                || rate_limited
                || message.to_ascii_lowercase().contains("rate limit"));
        let error = if status == 403 && !secondary_limit {
            ApiError::Forbidden {
                what,
                status,
                message,
            }
        } else {
            ApiError::Status {
                what,
                status,
                message,
            }
        };
        Err(Failure {
            error,
            retryable: status >= 500 || status == 429 || secondary_limit,
            retry_after,
        })
    }
}

/// One failed attempt.
struct Failure {
    error: ApiError,
    retryable: bool,
    retry_after: Option<Duration>,
}

/// GitHub's `{"message": …}`, redacted and bounded.
fn error_message(body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    redact(&message)
}

fn strip_query(uri: &str) -> &str {
    uri.split('?').next().unwrap_or(uri)
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let link = r#"<https://api.github.com/repositories/1/issues/2/comments?page=3>; rel="next", <https://api.github.com/repositories/1/issues/2/comments?page=5>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?page=3")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(350));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60))),
            Duration::from_millis(350)
        );
    }
}
