//! The script provider: a YAML scenario replayed as the model's answers,
//! so a whole `warden run` works offline and deterministically through the
//! real pipeline, sandbox, breaker, audit and report.
//!
//! Each chat request takes the next `turns` entry: its `expect` is checked
//! against the request (a mismatch is [`ProviderError::ScriptAssertion`]),
//! then its text and tool calls are the answer. Each structured request
//! (the LLM reviewer) takes the next `reviews` entry the same way. The
//! format is in [`scenario`] and docs/providers.md.

mod expect;
pub mod scenario;

use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;

use self::expect::{Place, check_calls_answered, check_review, check_turn};
pub use self::scenario::{OnExhausted, Scenario};
use super::structured::StructuredRequest;
use super::{ChatRequest, ChatResponse, ProviderError, StopReason, ToolCall, Usage};
use crate::config::ConfigError;

/// The text of the final answer once the script has no turns left.
pub const SCRIPT_ENDED_TEXT: &str = "(script ended)";

/// A scripted model.
#[derive(Debug)]
pub struct ScriptProvider {
    scenario: Scenario,
    /// The scenario's file as given, for messages.
    origin: String,
    state: Mutex<ReplayState>,
}

#[derive(Debug, Default)]
struct ReplayState {
    /// Index of the next turn to play.
    next_turn: usize,
    /// Index of the next review to play.
    next_review: usize,
    /// Tool calls made so far (ids are `call_{n}`).
    calls_made: u64,
    usage: Usage,
}

impl ScriptProvider {
    /// Load a scenario file; errors name file:line:col (exit 2).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Ok(Self::new(Scenario::load(path)?, path.display().to_string()))
    }

    /// Parse scenario YAML; `origin` names it in messages.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        Ok(Self::new(Scenario::parse(text, origin)?, origin.to_owned()))
    }

    pub fn new(scenario: Scenario, origin: String) -> Self {
        ScriptProvider {
            scenario,
            origin,
            state: Mutex::new(ReplayState::default()),
        }
    }

    /// The scenario's default task, used when `warden run` has no prompt.
    pub fn prompt(&self) -> Option<&str> {
        self.scenario.prompt.as_deref()
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Turns played so far.
    pub fn turns_played(&self) -> usize {
        self.lock().next_turn
    }

    pub fn total_usage(&self) -> Usage {
        self.lock().usage
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayState> {
        // A panic elsewhere cannot leave the counters half-updated.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next scripted answer to a chat request.
    pub fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        let mut state = self.lock();
        let place = Place {
            origin: &self.origin,
            what: "turn",
            number: state.next_turn + 1,
        };
        check_calls_answered(req, &place)?;
        let Some(turn) = self.scenario.turns.get(state.next_turn) else {
            return match self.scenario.on_exhausted {
                OnExhausted::End => Ok(ChatResponse {
                    text: Some(SCRIPT_ENDED_TEXT.to_owned()),
                    tool_calls: vec![],
                    usage: Usage::default(),
                    stop: StopReason::EndTurn,
                }),
                OnExhausted::Error => Err(ProviderError::ScriptExhausted),
            };
        };
        if let Some(expect) = &turn.expect {
            check_turn(expect, req, &place)?;
        }
        state.next_turn += 1;
        let tool_calls: Vec<ToolCall> = turn
            .tool_calls
            .iter()
            .map(|call| {
                state.calls_made += 1;
                ToolCall {
                    id: format!("call_{}", state.calls_made),
                    name: call.name.0.clone(),
                    arguments: Value::Object(call.arguments.clone()),
                }
            })
            .collect();
        let usage = turn.usage.map_or_else(Usage::default, |u| Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
        });
        state.usage.add(usage);
        Ok(ChatResponse {
            text: turn.text.clone(),
            stop: if tool_calls.is_empty() {
                StopReason::EndTurn
            } else {
                StopReason::ToolUse
            },
            tool_calls,
            usage,
        })
    }

    /// The next scripted reviewer answer. Running out is always an error
    /// (a reviewer error is a denial, which is what a scenario about a
    /// failing reviewer wants).
    pub fn complete_structured(&self, req: &StructuredRequest<'_>) -> Result<Value, ProviderError> {
        let mut state = self.lock();
        let place = Place {
            origin: &self.origin,
            what: "review",
            number: state.next_review + 1,
        };
        let review = self
            .scenario
            .reviews
            .get(state.next_review)
            .ok_or(ProviderError::ScriptExhausted)?;
        if let Some(expect) = &review.expect {
            check_review(expect, req, &place)?;
        }
        state.next_review += 1;
        Ok(Value::Object(review.answer.clone()))
    }
}
