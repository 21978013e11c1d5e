//! The reviewer's answer: the strict JSON schema sent to the model, the
//! check that an answer follows it exactly, and warden's risk tiers applied
//! after the model answered.
//!
//! The model proposes; warden decides. Whatever the model says:
//!
//! | risk | model says | warden decides |
//! |---|---|---|
//! | `critical` | `deny` or `escalate` | deny |
//! | `critical` | `allow` | deny as `reviewer_failed` (the answer contradicts itself) |
//! | `high` | `allow`, authorization `medium`/`high` | approve |
//! | `high` | `allow`, authorization `unknown`/`low` | escalate |
//! | `high` | `deny` / `escalate` | as the model says |
//! | `low`, `medium` | anything | as the model says |
//!
//! Anything that is not exactly the schema (a missing or extra field, a
//! wrong type, an enum value in the wrong case, an empty or oversized
//! rationale) is a failed review: a denial recorded as `reviewer_failed`.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::decision::Outcome;

/// The schema's name (OpenAI `json_schema.name`, the forced tool's name).
pub const SCHEMA_NAME: &str = "warden_review";

/// Longest rationale accepted, in characters. A verdict is one or two
/// sentences; a model that writes pages is not following its instructions
/// (or was steered by what it read), and the rationale lands in reports.
pub const MAX_RATIONALE_CHARS: usize = 2000;

/// The JSON schema of an answer: strict, every field required, nothing else.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["risk_level", "user_authorization", "outcome", "rationale"],
        "properties": {
            "risk_level": {
                "type": "string",
                "enum": ["low", "medium", "high", "critical"],
                "description": "How much harm the action could do if it is not what the user wants."
            },
            "user_authorization": {
                "type": "string",
                "enum": ["unknown", "low", "medium", "high"],
                "description": "How clearly the user's original request authorizes this exact action."
            },
            "outcome": {
                "type": "string",
                "enum": ["allow", "deny", "escalate"],
                "description": "allow: run it; deny: refuse it; escalate: a human must decide."
            },
            "rationale": {
                "type": "string",
                "description": "One or two sentences: why. Never quote secrets."
            }
        }
    })
}

/// Risk, ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

/// How clearly the user asked for it, ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Authorization {
    Unknown,
    Low,
    Medium,
    High,
}

/// What the model proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelOutcome {
    Allow,
    Deny,
    Escalate,
}

/// A schema-valid answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelAnswer {
    pub risk_level: Risk,
    pub user_authorization: Authorization,
    pub outcome: ModelOutcome,
    pub rationale: String,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

impl Authorization {
    pub fn as_str(self) -> &'static str {
        match self {
            Authorization::Unknown => "unknown",
            Authorization::Low => "low",
            Authorization::Medium => "medium",
            Authorization::High => "high",
        }
    }
}

impl ModelOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelOutcome::Allow => "allow",
            ModelOutcome::Deny => "deny",
            ModelOutcome::Escalate => "escalate",
        }
    }
}

/// Check that `value` is exactly a schema answer. The error says what is
/// wrong, without echoing the answer (it may carry injected text).
pub fn parse(value: &Value) -> Result<ModelAnswer, String> {
    if !value.is_object() {
        return Err("the answer is not a JSON object".to_owned());
    }
    let answer: ModelAnswer = serde_json::from_value(value.clone())
        .map_err(|e| format!("the answer does not follow the schema: {e}"))?;
    let chars = answer.rationale.chars().count();
    if answer.rationale.trim().is_empty() {
        return Err("the answer's rationale is empty".to_owned());
    }
    if chars > MAX_RATIONALE_CHARS {
        return Err(format!(
            "the answer's rationale is {chars} characters long (at most {MAX_RATIONALE_CHARS})"
        ));
    }
    Ok(answer)
}

/// warden's decision from a schema-valid answer, with a note when the
/// tiers changed what the model proposed. `Err` is a failed review: the
/// answer contradicts the tiers (allow at critical risk).
pub fn apply_tiers(answer: &ModelAnswer) -> Result<(Outcome, Option<String>), String> {
    use ModelOutcome::{Allow, Deny, Escalate};
    let as_model_says = match answer.outcome {
        Allow => Outcome::Approve,
        Deny => Outcome::Deny,
        Escalate => Outcome::Escalate,
    };
    Ok(match (answer.risk_level, answer.outcome) {
        (Risk::Critical, Allow) => {
            return Err(
                "the reviewer answered `allow` for a `critical` risk, which the risk tiers forbid; \
                 a self-contradicting answer is not trusted"
                    .to_owned(),
            );
        }
        (Risk::Critical, Escalate) => (
            Outcome::Deny,
            Some("critical risk is always denied (the reviewer proposed escalate)".to_owned()),
        ),
        (Risk::High, Allow) if answer.user_authorization < Authorization::Medium => (
            Outcome::Escalate,
            Some(format!(
                "high risk is allowed only with user authorization medium or high \
                 (the reviewer judged it {}): escalated to a human",
                answer.user_authorization.as_str()
            )),
        ),
        _ => (as_model_says, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(risk: &str, auth: &str, outcome: &str) -> Value {
        json!({"risk_level": risk, "user_authorization": auth, "outcome": outcome, "rationale": "because"})
    }

    fn decide(risk: &str, auth: &str, outcome: &str) -> Result<Outcome, String> {
        let a = parse(&answer(risk, auth, outcome))?;
        apply_tiers(&a).map(|(o, _)| o)
    }

    #[test]
    fn the_schema_is_strict() {
        crate::model::structured::check_strict_schema(SCHEMA_NAME, &schema()).unwrap();
    }

    #[test]
    fn every_tier_combination() {
        let risks = ["low", "medium", "high", "critical"];
        let auths = ["unknown", "low", "medium", "high"];
        let outcomes = ["allow", "deny", "escalate"];
        for risk in risks {
            for auth in auths {
                for outcome in outcomes {
                    let got = decide(risk, auth, outcome);
                    let want = match (risk, outcome) {
                        ("critical", "allow") => None,
                        ("critical", _) => Some(Outcome::Deny),
                        ("high", "allow") if matches!(auth, "medium" | "high") => {
                            Some(Outcome::Approve)
                        }
                        ("high", "allow") => Some(Outcome::Escalate),
                        (_, "allow") => Some(Outcome::Approve),
                        (_, "deny") => Some(Outcome::Deny),
                        _ => Some(Outcome::Escalate),
                    };
                    assert_eq!(got.ok(), want, "{risk}/{auth}/{outcome}");
                }
            }
        }
    }

    #[test]
    fn anything_but_the_exact_schema_is_rejected() {
        let mut extra = answer("low", "high", "allow");
        extra["confidence"] = json!(0.9);
        let mut missing = answer("low", "high", "allow");
        missing.as_object_mut().unwrap().remove("rationale");
        let mut empty = answer("low", "high", "allow");
        empty["rationale"] = json!("   ");
        let mut huge = answer("low", "high", "allow");
        huge["rationale"] = json!("x".repeat(MAX_RATIONALE_CHARS + 1));
        let mut not_string = answer("low", "high", "allow");
        not_string["rationale"] = json!(["a"]);
        for (name, bad) in [
            ("extra field", extra),
            ("missing field", missing),
            ("empty rationale", empty),
            ("huge rationale", huge),
            ("rationale not a string", not_string),
            ("upper-case enum", answer("LOW", "high", "allow")),
            ("unknown enum", answer("low", "high", "approve")),
            (
                "null risk",
                json!({"risk_level": null, "user_authorization": "high", "outcome": "allow", "rationale": "r"}),
            ),
            ("array", json!([answer("low", "high", "allow")])),
            ("string", json!("allow")),
        ] {
            let err = parse(&bad).expect_err(name);
            assert!(!err.is_empty(), "{name}");
        }
        assert!(parse(&answer("low", "high", "allow")).is_ok());
    }

    #[test]
    fn tier_notes_say_why_the_outcome_changed() {
        let a = parse(&answer("high", "low", "allow")).unwrap();
        let (o, note) = apply_tiers(&a).unwrap();
        assert_eq!(o, Outcome::Escalate);
        assert!(note.unwrap().contains("judged it low"));
        let a = parse(&answer("medium", "unknown", "allow")).unwrap();
        assert_eq!(apply_tiers(&a).unwrap(), (Outcome::Approve, None));
    }
}
