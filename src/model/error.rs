//! What can go wrong talking to a model. Every message is safe to print:
//! response excerpts are scrubbed of the API key and passed through
//! [`crate::redact::redact`] before they are stored here.

use std::time::Duration;

/// A failed model request. Callers treat every variant as "no answer":
/// the agent loop stops (exit 5, or 1 for a failed scenario assertion), the
/// reviewer denies (`reviewer_failed`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No complete answer within the per-attempt timeout, on every attempt.
    #[error(
        "the model API at {endpoint} did not answer within {} ({attempts} attempt(s)); \
         check the server, or raise the timeout",
        humantime::format_duration(*after)
    )]
    Timeout {
        endpoint: String,
        after: Duration,
        attempts: u32,
    },
    /// The API answered with an error status (after retries, when the status
    /// is retryable).
    #[error("the model API answered HTTP {status}{}: {body_excerpt}", status_hint(*status))]
    Http { status: u16, body_excerpt: String },
    /// The connection failed (DNS, refused, TLS, reset), on every attempt.
    #[error("could not reach the model API: {0}")]
    Transport(String),
    /// The API answered 2xx with something that is not the expected JSON.
    /// Not retried: a server that sends garbage once will likely again.
    #[error("the model API sent a malformed response: {0}")]
    Malformed(String),
    /// The model refused to answer (Anthropic `stop_reason: refusal`,
    /// OpenAI `refusal` or `finish_reason: content_filter`).
    #[error("the model refused to answer: {0}")]
    Refused(String),
    /// The request cannot be sent as built (empty model name, a schema that
    /// strict structured output would reject, …): a bug or a config error.
    #[error("invalid model request: {0}")]
    InvalidRequest(String),
    /// The client cannot be set up (no API key for the official endpoint,
    /// bad base URL).
    #[error("{0}")]
    Config(String),
    /// The scenario has no answer left and says `on_exhausted: error` (or,
    /// for the reviewer, has no `reviews` entry left).
    #[error(
        "the scenario has no answer left for this request (it sets `on_exhausted: error`, \
         or its `reviews` list is used up)"
    )]
    ScriptExhausted,
    /// What the agent told the scripted model differs from the scenario's
    /// `expect`; the message names the turn, the expectation and what was seen.
    #[error("scenario expectation failed: {0}")]
    ScriptAssertion(String),
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 => {
            " (unauthorized: check the API key variable, e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY or WARDEN_API_KEY)"
        }
        403 => " (forbidden: the key may lack access to this model)",
        404 => " (not found: check the base URL and the model name)",
        408 => " (request timeout)",
        413 => " (request too large: the conversation may exceed the model's limits)",
        429 => " (rate limited, retries exhausted)",
        s if s >= 500 => " (server error, retries exhausted)",
        _ => "",
    }
}

impl ProviderError {
    /// A failed scenario expectation, as opposed to an infrastructure
    /// failure: `warden run` maps it to exit 1, not 5.
    pub fn is_script_failure(&self) -> bool {
        matches!(
            self,
            ProviderError::ScriptAssertion(_) | ProviderError::ScriptExhausted
        )
    }
}
