//! The scenario file format (`--provider script`), and loading it with
//! errors that name file:line:col. The format is documented, with an
//! example, in docs/providers.md; the field docs here are the reference.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::ConfigError;
use crate::decision::Source;

/// A scripted model: its answers, in order, and what it expects to be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows (for humans and reports).
    #[serde(default)]
    pub description: Option<String>,
    /// The task used when `warden run` is given no prompt.
    #[serde(default)]
    pub prompt: Option<String>,
    /// What happens when the agent asks for more turns than there are.
    #[serde(default)]
    pub on_exhausted: OnExhausted,
    /// The model's answers to successive chat requests.
    #[serde(default)]
    pub turns: Vec<Turn>,
    /// The reviewer's answers to successive structured requests (used when
    /// the scenario also plays the LLM reviewer).
    #[serde(default)]
    pub reviews: Vec<Review>,
}

/// After the last turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    /// Answer with a final message, `(script ended)`, and no tool calls.
    #[default]
    End,
    /// Fail with `ProviderError::ScriptExhausted`.
    Error,
}

/// One model answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// Assistant text.
    #[serde(default)]
    pub text: Option<String>,
    /// Tool calls, given ids `call_1`, `call_2`, … in scenario order.
    #[serde(default)]
    pub tool_calls: Vec<ScriptedCall>,
    /// Checked against the request before this answer is given.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Tokens to report for this turn (default 0), to exercise budgets.
    #[serde(default)]
    pub usage: Option<ScriptedUsage>,
}

/// One tool call the scripted model makes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedCall {
    /// The tool's name as the agent offers it.
    pub name: NonEmpty,
    /// The arguments (a mapping; default `{}`).
    #[serde(default)]
    pub arguments: Map<String, Value>,
}

/// Token counts for one scripted answer.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
}

/// What the model must have been told before a turn. Every field present
/// must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The last tool result since the model's previous turn.
    #[serde(default)]
    pub last_tool_result: Option<ToolResultExpect>,
    /// How many tool results arrived since the model's previous turn.
    #[serde(default)]
    pub tool_results: Option<usize>,
    /// The most recent user message.
    #[serde(default)]
    pub last_user: Option<TextExpect>,
    /// The system prompt.
    #[serde(default)]
    pub system: Option<TextExpect>,
    /// Tool names that must be offered.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
}

/// Checks on one tool result.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolResultExpect {
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub not_contains: Option<String>,
    #[serde(default)]
    pub is_error: Option<bool>,
    /// The result starts (true) or does not start (false) with
    /// `DENIAL_MARKER`.
    #[serde(default)]
    pub denied: Option<bool>,
    /// The name of the tool whose call this result answers.
    #[serde(default)]
    pub tool: Option<String>,
}

/// Checks on a piece of text.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextExpect {
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub not_contains: Option<String>,
}

/// One reviewer answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The JSON object returned as the structured answer.
    pub answer: Map<String, Value>,
    #[serde(default)]
    pub expect: Option<ReviewExpect>,
}

/// What the reviewer must have been told.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewExpect {
    /// The user message (the action and its evidence).
    #[serde(default)]
    pub user: Option<TextExpect>,
    #[serde(default)]
    pub system: Option<TextExpect>,
}

/// A string that may not be empty or blank.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct NonEmpty(pub String);

impl TryFrom<String> for NonEmpty {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.trim().is_empty() {
            Err("a tool name may not be empty".to_owned())
        } else {
            Ok(NonEmpty(value))
        }
    }
}

impl Scenario {
    /// Read and parse a scenario file. `path` is named in errors as given.
    pub fn load(path: &Path) -> Result<Scenario, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(format!("cannot read scenario {}: {e}", path.display()))
        })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// Parse scenario YAML; `origin` names the text in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ConfigError> {
        serde_norway::from_str(text).map_err(|e| located_error(&e, origin))
    }
}

/// A YAML error as `origin:line:col: message`.
fn located_error(err: &serde_norway::Error, origin: &str) -> ConfigError {
    let help = "see docs/providers.md for the scenario format";
    let text = err.to_string();
    match err.location() {
        Some(loc) => {
            // serde_norway ends its message with " at line L column C"; the
            // location prefix says that already.
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            let message = text.strip_suffix(&suffix).unwrap_or(&text);
            ConfigError::located(
                Source {
                    file: origin.to_owned(),
                    line: loc.line() as u32,
                    column: Some(loc.column() as u32),
                },
                format!("invalid scenario: {message}"),
            )
            .help(help)
        }
        None => ConfigError::new(format!("invalid scenario {origin}: {text}")).help(help),
    }
}
