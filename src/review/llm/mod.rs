//! The LLM auto-reviewer (`approvals_reviewer = "auto_review"`): one
//! separate model call per boundary crossing no rule decided.
//!
//! - [`prompt`]: the system prompt (effective policy + `extra_policy` +
//!   warden's fixed answer instructions) and the user message (action JSON,
//!   category, the user's request and a bounded transcript, each fenced with
//!   a per-request nonce and labelled untrusted).
//! - [`transcript`]: which transcript entries fit the budget.
//! - [`verdict`]: the strict answer schema, its validation and warden's risk
//!   tiers.
//!
//! The model gets no tools: the only thing it can do is answer the schema
//! (as `response_format` or as the one forced call that carries the answer).
//! The whole review — every attempt and retry wait — is bounded by
//! `auto_review.timeout`. Every failure (timeout, HTTP error after retries,
//! refusal, prose, schema violation, a self-contradicting answer) is a
//! denial recorded as `reviewer_failed`.

pub mod prompt;
pub mod transcript;
pub mod verdict;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::{AutoReviewConfig, Config, ProviderKind};
use crate::decision::{Layer, ReviewerVerdict};
use crate::error::Error;
use crate::model::{
    ApiKeyFor, ClientSettings, Provider, ScriptProvider, api_key_from_env, default_base_url,
};

use super::{ReviewAnswer, ReviewFuture, ReviewRequest, Reviewer};

/// First wait before a retry (doubled per retry, with jitter; the whole
/// review stays inside `auto_review.timeout`).
const RETRY_BASE_DELAY: Duration = Duration::from_millis(500);

/// The model name used with a scripted reviewer when none is configured.
const SCRIPTED_MODEL: &str = "scripted-reviewer";

/// A reviewer backed by a model.
pub struct LlmReviewer {
    provider: Provider,
    model: String,
    system: String,
    schema: Value,
    timeout: Duration,
    transcript_budget: usize,
}

impl LlmReviewer {
    /// A reviewer asking `provider`'s `model` under `config`'s policy.
    pub fn new(provider: Provider, model: String, config: &AutoReviewConfig) -> Self {
        LlmReviewer {
            provider,
            model,
            system: prompt::system_prompt(&config.policy.text, config.extra_policy.as_deref()),
            schema: verdict::schema(),
            timeout: config.timeout,
            transcript_budget: config.transcript_budget,
        }
    }

    /// The system prompt sent with every review.
    pub fn system_prompt(&self) -> &str {
        &self.system
    }

    async fn review_once(&self, request: ReviewRequest<'_>) -> ReviewAnswer {
        let user = match prompt::user_message(&request, self.transcript_budget) {
            Ok(u) => u,
            Err(why) => return ReviewAnswer::failed(why),
        };
        let started = Instant::now();
        let call = self.provider.complete_structured(
            &self.system,
            &user,
            verdict::SCHEMA_NAME,
            &self.schema,
            &self.model,
        );
        let answer = tokio::time::timeout(self.timeout, call).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match answer {
            Err(_) => failed(format!(
                "the reviewer did not answer within {} (auto_review.timeout, all attempts)",
                humantime::format_duration(self.timeout)
            )),
            Ok(Err(e)) => failed(format!("the reviewer's model call failed: {e}")),
            Ok(Ok(value)) => judge(&value, latency_ms),
        }
    }
}

impl Reviewer for LlmReviewer {
    fn review<'a>(&'a self, request: ReviewRequest<'a>) -> ReviewFuture<'a> {
        Box::pin(self.review_once(request))
    }
}

/// warden's decision from the model's raw answer.
fn judge(value: &Value, latency_ms: u64) -> ReviewAnswer {
    let answer = match verdict::parse(value) {
        Ok(a) => a,
        Err(why) => return failed(format!("the reviewer's answer was rejected: {why}")),
    };
    let rationale = crate::redact::redact(answer.rationale.trim());
    let record = ReviewerVerdict {
        risk_level: answer.risk_level.as_str().to_owned(),
        user_authorization: answer.user_authorization.as_str().to_owned(),
        model_outcome: answer.outcome.as_str().to_owned(),
        rationale: rationale.clone(),
        latency_ms,
    };
    match verdict::apply_tiers(&answer) {
        Ok((outcome, note)) => ReviewAnswer {
            outcome,
            layer: Layer::AutoReview,
            reason: match note {
                Some(note) => format!("{rationale} [warden: {note}]"),
                None => rationale,
            },
            verdict: Some(record),
        },
        Err(why) => {
            let mut failed = failed(format!("the reviewer's answer was rejected: {why}"));
            failed.verdict = Some(record);
            failed
        }
    }
}

/// A failed review: a denial, with a redacted reason.
fn failed(why: String) -> ReviewAnswer {
    ReviewAnswer::failed(format!(
        "denied because the review failed (fail closed): {}",
        crate::redact::redact(&why)
    ))
}

/// A reviewer that cannot reach its model (no model name, no API key for
/// the official host, …). It denies every crossing that reaches it, saying
/// why, so a run without the reviewer's secret (a fork PR) fails closed
/// instead of crashing.
struct Unavailable {
    why: String,
}

impl Reviewer for Unavailable {
    fn review<'a>(&'a self, _request: ReviewRequest<'a>) -> ReviewFuture<'a> {
        let answer = failed(format!("the LLM reviewer is not available: {}", self.why));
        Box::pin(async move { answer })
    }
}

/// Build the reviewer described by `[auto_review]`, reading API keys from
/// the process environment. `scenario` is the `--scenario` file of
/// `warden run`: a `script` reviewer answers from its `reviews:` list.
pub fn from_config(config: &Config, scenario: Option<&Path>) -> Result<Box<dyn Reviewer>, Error> {
    from_config_with_env(config, scenario, &|name| std::env::var(name).ok())
}

/// [`from_config`] with the environment given as a lookup function.
///
/// A `script` reviewer without a scenario is a usage error (exit 2). A
/// reviewer that cannot be reached (no model name, no key for the
/// official API host, a client that cannot be built) is *not* an error:
/// warden warns once and every crossing that reaches it is denied as
/// `reviewer_failed`, naming the cause.
pub fn from_config_with_env(
    config: &Config,
    scenario: Option<&Path>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Box<dyn Reviewer>, Error> {
    let ar = &config.auto_review;
    let (provider, model) = match ar.provider {
        ProviderKind::Script => {
            let path = scenario.ok_or_else(|| {
                Error::usage(
                    "auto_review.provider = \"script\" answers from a scenario's `reviews:` list, \
                     and this command has no scenario\n  help: use it with `warden run --provider \
                     script --scenario FILE`, or point auto_review.base_url at a local server",
                )
            })?;
            let provider = Provider::Script(ScriptProvider::load(path)?);
            let model = ar
                .model
                .clone()
                .unwrap_or_else(|| SCRIPTED_MODEL.to_owned());
            (provider, model)
        }
        kind @ (ProviderKind::Openai | ProviderKind::Anthropic) => {
            let Some(model) = ar.model.clone().filter(|m| !m.trim().is_empty()) else {
                return Ok(unavailable(
                    "no reviewer model is configured: set [auto_review].model or pass \
                     --reviewer-model M"
                        .to_owned(),
                ));
            };
            let base_url = ar
                .base_url
                .clone()
                .or_else(|| default_base_url(kind).map(str::to_owned))
                .expect("HTTP providers have a default base URL");
            let settings = ClientSettings {
                base_url,
                api_key: api_key_from_env(ApiKeyFor::Reviewer(kind), env),
                timeout: ar.timeout,
                max_attempts: ar.max_attempts.max(1),
                retry_base_delay: RETRY_BASE_DELAY,
            };
            match Provider::connect(kind, settings) {
                Ok(p) => (p, model),
                Err(e) => return Ok(unavailable(reviewer_key_hint(e.to_string()))),
            }
        }
    };
    Ok(Box::new(LlmReviewer::new(provider, model, ar)))
}

fn unavailable(why: String) -> Box<dyn Reviewer> {
    tracing::warn!(
        "the LLM reviewer is not available, so every crossing it would review is denied: {why}"
    );
    Box::new(Unavailable { why })
}

/// The client's missing-key message names the agent's variables; the
/// reviewer reads `WARDEN_REVIEWER_API_KEY` first.
fn reviewer_key_hint(message: String) -> String {
    if message.starts_with("no API key") {
        format!("{message} (the reviewer reads WARDEN_REVIEWER_API_KEY first)")
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::decision::Outcome;

    #[test]
    fn judge_applies_tiers_and_records_the_verdict() {
        let a = judge(
            &json!({"risk_level": "high", "user_authorization": "unknown", "outcome": "allow", "rationale": "needs the network"}),
            12,
        );
        assert_eq!(a.outcome, Outcome::Escalate);
        assert_eq!(a.layer, Layer::AutoReview);
        let v = a.verdict.unwrap();
        assert_eq!(
            (v.model_outcome.as_str(), v.latency_ms),
            ("allow", 12),
            "the model's own outcome is kept"
        );
        assert!(
            a.reason.starts_with("needs the network [warden:"),
            "{}",
            a.reason
        );
    }

    #[test]
    fn allow_at_critical_risk_is_a_failed_review_with_its_verdict() {
        let a = judge(
            &json!({"risk_level": "critical", "user_authorization": "high", "outcome": "allow", "rationale": "fine"}),
            1,
        );
        assert_eq!((a.outcome, a.layer), (Outcome::Deny, Layer::ReviewerFailed));
        assert_eq!(a.verdict.unwrap().risk_level, "critical");
    }

    #[test]
    fn schema_violations_fail_without_a_verdict() {
        let a = judge(&json!({"outcome": "allow"}), 1);
        assert_eq!((a.outcome, a.layer), (Outcome::Deny, Layer::ReviewerFailed));
        assert!(a.verdict.is_none());
        assert!(a.reason.contains("fail closed"), "{}", a.reason);
    }
}
