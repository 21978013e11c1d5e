//! The model client: providers behind one interface, shared by the agent
//! loop, the LLM reviewer and MCP (tool specs). It may import `config`,
//! `redact` and `error`; never `agent`, `review` or `mcp`, which use it.
//!
//! The agent loop and the LLM reviewer talk to a model only through
//! [`Provider`]: [`Provider::complete`] for a tool-calling chat turn and
//! [`Provider::complete_structured`] for one JSON answer that follows a
//! schema. Three providers exist:
//!
//! - [`openai`]: the Chat Completions API, which also serves OpenAI-compatible
//!   servers (vLLM, Ollama, llama.cpp, Azure's v1 API) through the base URL;
//! - [`anthropic`]: the Messages API;
//! - [`script`]: a YAML scenario replayed as the model's answers, so a whole
//!   run works offline and deterministically (`--provider script`).
//!
//! The wire formats are private to each client; this module owns the neutral
//! types. Retries, timeouts and error mapping shared by the HTTP clients live
//! in [`http`] and [`retry`]; safe error text in [`text`]; API keys in
//! [`secret`].

pub mod anthropic;
mod error;
pub mod http;
pub mod openai;
pub mod retry;
pub mod script;
pub mod secret;
pub mod structured;
pub mod text;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::ProviderKind;

pub use anthropic::AnthropicClient;
pub use error::ProviderError;
pub use openai::OpenAiClient;
pub use script::ScriptProvider;
pub use secret::{ApiKeyFor, Secret, api_key_env_vars, api_key_from_env};

/// The start of every tool result that tells the model an action was
/// refused. The agent loop builds denial messages as
/// `"{DENIAL_MARKER}: <why>. <what to do instead>"`; scenario assertions
/// (`denied: true`) and reports recognise a denial by this prefix.
pub const DENIAL_MARKER: &str = "warden: action denied";

/// Whether a tool result is a denial message (starts with [`DENIAL_MARKER`]).
pub fn is_denial(tool_result: &str) -> bool {
    tool_result.starts_with(DENIAL_MARKER)
}

/// One request for a model turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// System prompt (empty: none is sent).
    pub system: String,
    /// The conversation so far, oldest first. It starts with a user message.
    pub messages: Vec<Message>,
    /// Tools the model may call (empty: none are offered).
    pub tools: Vec<ToolSpec>,
    /// Upper bound on the tokens the model may generate this turn.
    pub max_tokens: u32,
    /// Model name as the API knows it.
    pub model: String,
}

impl ChatRequest {
    /// Fail on a request no API would accept, before anything is sent.
    pub fn check(&self) -> Result<(), ProviderError> {
        let problem = if self.model.trim().is_empty() {
            "no model name (set `--model` or `[agent].model`)"
        } else if self.max_tokens == 0 {
            "max_tokens is 0"
        } else if !matches!(self.messages.first(), Some(Message::User { .. })) {
            "the conversation must start with a user message"
        } else {
            return Ok(());
        };
        Err(ProviderError::InvalidRequest(problem.to_owned()))
    }
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// The user (or warden speaking for the user): the task.
    User { content: String },
    /// A model turn: optional text and the tools it called.
    Assistant {
        content: Option<String>,
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, given back to the model.
    ToolResult {
        call_id: String,
        content: String,
        is_error: bool,
    },
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments (an object schema).
    pub parameters: serde_json::Value,
}

/// One tool call made by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The API's id for the call; the matching [`Message::ToolResult`]
    /// carries it back as `call_id`.
    pub id: String,
    pub name: String,
    /// The arguments, always a JSON object.
    pub arguments: serde_json::Value,
}

/// The model's answer to one [`ChatRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    pub stop: StopReason,
}

impl ChatResponse {
    /// The assistant message to append to the conversation.
    pub fn to_message(&self) -> Message {
        Message::Assistant {
            content: self.text.clone(),
            tool_calls: self.tool_calls.clone(),
        }
    }
}

/// Tokens used by one request, as the API reported them. An API that
/// reports nothing counts as zero (see docs/providers.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, including cached ones.
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    pub fn add(&mut self, other: Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model finished its answer.
    EndTurn,
    /// The model wants tool results (set whenever tool calls are present,
    /// whatever the server said: some compatible servers answer `stop`).
    ToolUse,
    /// The answer hit `max_tokens`.
    MaxTokens,
    /// Anything else the API reported, verbatim.
    Other(String),
}

/// How to reach one model API.
#[derive(Clone)]
pub struct ClientSettings {
    /// API root: `https://api.openai.com/v1` (the `/chat/completions` path
    /// is appended) or `https://api.anthropic.com` (`/v1/messages`).
    pub base_url: String,
    /// None: no credential header is sent (local servers).
    pub api_key: Option<Secret>,
    /// Bound on one attempt, connection to last byte.
    pub timeout: Duration,
    /// Attempts in all, first included (at least 1).
    pub max_attempts: u32,
    /// First backoff delay; doubled per retry, with jitter.
    pub retry_base_delay: Duration,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("base_url", &text::display_url(&self.base_url))
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base_delay", &self.retry_base_delay)
            .finish()
    }
}

impl ClientSettings {
    /// Settings with warden's defaults: 120 s per attempt, 3 attempts,
    /// 500 ms first backoff.
    pub fn new(base_url: impl Into<String>, api_key: Option<Secret>) -> Self {
        ClientSettings {
            base_url: base_url.into(),
            api_key,
            timeout: Duration::from_secs(120),
            max_attempts: 3,
            retry_base_delay: Duration::from_millis(500),
        }
    }
}

/// A model client. The agent loop and the reviewer hold one of these.
#[derive(Debug)]
pub enum Provider {
    OpenAi(OpenAiClient),
    Anthropic(AnthropicClient),
    Script(ScriptProvider),
}

/// The official API root for an HTTP provider (`None` for `script`).
pub fn default_base_url(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::Openai => Some(openai::DEFAULT_BASE_URL),
        ProviderKind::Anthropic => Some(anthropic::DEFAULT_BASE_URL),
        ProviderKind::Script => None,
    }
}

impl Provider {
    /// An HTTP client of `kind`. A `script` provider needs a scenario
    /// instead: build it with [`ScriptProvider::load`].
    pub fn connect(
        kind: ProviderKind,
        settings: ClientSettings,
    ) -> Result<Provider, ProviderError> {
        match kind {
            ProviderKind::Openai => Ok(Provider::OpenAi(OpenAiClient::new(settings)?)),
            ProviderKind::Anthropic => Ok(Provider::Anthropic(AnthropicClient::new(settings)?)),
            ProviderKind::Script => Err(ProviderError::Config(
                "the script provider replays a scenario file; load it with ScriptProvider::load"
                    .to_owned(),
            )),
        }
    }

    /// One tool-calling turn.
    pub async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        match self {
            Provider::OpenAi(c) => c.complete(req).await,
            Provider::Anthropic(c) => c.complete(req).await,
            Provider::Script(c) => c.complete(req),
        }
    }

    /// One JSON answer following `schema` (an object schema with
    /// `additionalProperties: false` and every property required, as strict
    /// structured output demands; checked before anything is sent). The
    /// answer is a JSON object; the caller still validates its contents.
    pub async fn complete_structured(
        &self,
        system: &str,
        user: &str,
        schema_name: &str,
        schema: &serde_json::Value,
        model: &str,
    ) -> Result<serde_json::Value, ProviderError> {
        structured::check_strict_schema(schema_name, schema)?;
        let req = structured::StructuredRequest {
            system,
            user,
            schema_name,
            schema,
            model,
        };
        match self {
            Provider::OpenAi(c) => c.complete_structured(&req).await,
            Provider::Anthropic(c) => c.complete_structured(&req).await,
            Provider::Script(c) => c.complete_structured(&req),
        }
    }

    /// Tokens used by every request this client has answered so far.
    pub fn total_usage(&self) -> Usage {
        match self {
            Provider::OpenAi(c) => c.total_usage(),
            Provider::Anthropic(c) => c.total_usage(),
            Provider::Script(c) => c.total_usage(),
        }
    }

    /// Short name for logs and reports: `openai`, `anthropic`, `script`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Provider::OpenAi(_) => "openai",
            Provider::Anthropic(_) => "anthropic",
            Provider::Script(_) => "script",
        }
    }
}
