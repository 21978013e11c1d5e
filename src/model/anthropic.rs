//! The Anthropic Messages client (`POST {base}/v1/messages`).
//!
//! Wire format: the system prompt is a top-level field; roles alternate
//! strictly, so consecutive tool results (and any user text after them)
//! are merged into one user message of `tool_result` blocks; the model's
//! calls arrive as `tool_use` blocks. Structured answers force a tool call
//! (`tool_choice: {type: tool, name}`) and read the block's `input`.
//! `stop_reason: refusal` is [`ProviderError::Refused`].

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::Transport;
use super::structured::{StructuredRequest, expect_object, tool_description};
use super::text::{scrub, truncate_chars};
use super::{
    ChatRequest, ChatResponse, ClientSettings, Message, ProviderError, StopReason, ToolCall, Usage,
};

/// The official API root (the client appends `/v1/messages`).
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
const OFFICIAL_HOST: &str = "api.anthropic.com";
/// The API version this client speaks.
pub const API_VERSION: &str = "2023-06-01";
/// Output bound for structured answers.
pub const STRUCTURED_MAX_TOKENS: u32 = 8192;
/// Sent in place of an empty tool result.
pub const EMPTY_TOOL_RESULT: &str = "(no output)";

/// A Messages API client.
#[derive(Debug)]
pub struct AnthropicClient {
    transport: Transport,
}

impl AnthropicClient {
    pub fn new(settings: ClientSettings) -> Result<Self, ProviderError> {
        Ok(AnthropicClient {
            transport: Transport::new(
                settings,
                "/v1/messages",
                OFFICIAL_HOST,
                "WARDEN_API_KEY or ANTHROPIC_API_KEY",
            )?,
        })
    }

    pub fn total_usage(&self) -> Usage {
        self.transport.total_usage()
    }

    pub async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        req.check()?;
        let answer = self.post(&messages_body(req)).await?;
        let usage = self.usage(answer.usage);
        let mut texts = Vec::new();
        let mut tool_calls = Vec::new();
        for block in answer.content {
            match block {
                Block::Text { text } => texts.push(text),
                Block::ToolUse { id, name, input } => {
                    if !input.is_object() {
                        return Err(ProviderError::Malformed(format!(
                            "the input of the model's call to `{name}` is not a JSON object"
                        )));
                    }
                    tool_calls.push(ToolCall {
                        id,
                        name,
                        arguments: input,
                    });
                }
                // Thinking and server-tool blocks carry nothing for us.
                Block::Other => {}
            }
        }
        let text = Some(texts.join("")).filter(|t| !t.is_empty());
        let stop = match answer.stop_reason.as_deref() {
            Some("refusal") => return Err(self.refused(text.as_deref())),
            Some("max_tokens") => StopReason::MaxTokens,
            _ if !tool_calls.is_empty() => StopReason::ToolUse,
            None | Some("end_turn") => StopReason::EndTurn,
            Some("tool_use") => StopReason::ToolUse,
            Some(other) => StopReason::Other(other.to_owned()),
        };
        Ok(ChatResponse {
            text,
            tool_calls,
            usage,
            stop,
        })
    }

    pub async fn complete_structured(
        &self,
        req: &StructuredRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let mut body = json!({
            "model": req.model,
            "max_tokens": STRUCTURED_MAX_TOKENS,
            "messages": [{"role": "user", "content": req.user}],
            "tools": [{
                "name": req.schema_name,
                "description": tool_description(req.schema_name),
                "input_schema": req.schema,
            }],
            "tool_choice": {"type": "tool", "name": req.schema_name},
        });
        if !req.system.is_empty() {
            body["system"] = json!(req.system);
        }
        let answer = self.post(&body).await?;
        self.usage(answer.usage);
        let mut text = String::new();
        let mut input = None;
        for block in answer.content {
            match block {
                Block::Text { text: t } => text.push_str(&t),
                Block::ToolUse { name, input: i, .. } if name == req.schema_name => {
                    input = input.or(Some(i));
                }
                _ => {}
            }
        }
        match answer.stop_reason.as_deref() {
            Some("refusal") => return Err(self.refused(Some(&text))),
            Some("max_tokens") => {
                return Err(ProviderError::Malformed(format!(
                    "the structured answer was cut off at {STRUCTURED_MAX_TOKENS} tokens"
                )));
            }
            _ => {}
        }
        let input = input.ok_or_else(|| {
            ProviderError::Malformed(format!(
                "the forced tool call `{}` is missing from the answer",
                req.schema_name
            ))
        })?;
        expect_object(input, "the structured answer")
    }

    async fn post(&self, body: &Value) -> Result<MessagesResponse, ProviderError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        if let Some(key) = &self.transport.settings().api_key {
            let mut value = HeaderValue::from_str(key.expose()).map_err(|_| {
                ProviderError::Config(
                    "the API key contains characters not allowed in an HTTP header".to_owned(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static("x-api-key"), value);
        }
        let json = self.transport.post_json(headers, body).await?;
        serde_json::from_value(json).map_err(|e| {
            ProviderError::Malformed(format!(
                "{} answered JSON that is not a Messages API response: {e}",
                self.transport.endpoint()
            ))
        })
    }

    fn refused(&self, text: Option<&str>) -> ProviderError {
        let said = text
            .filter(|t| !t.trim().is_empty())
            .map(|t| {
                let t = scrub(t, self.transport.settings().api_key.as_ref());
                format!("; it said: {}", truncate_chars(&t, 300))
            })
            .unwrap_or_default();
        ProviderError::Refused(format!("stop_reason: refusal{said}"))
    }

    fn usage(&self, usage: Option<WireUsage>) -> Usage {
        let usage = usage.map_or_else(Usage::default, |u| Usage {
            // Cached prompt tokens are still prompt tokens.
            input_tokens: u
                .input_tokens
                .saturating_add(u.cache_creation_input_tokens.unwrap_or(0))
                .saturating_add(u.cache_read_input_tokens.unwrap_or(0)),
            output_tokens: u.output_tokens,
        });
        self.transport.record_usage(usage);
        usage
    }
}

/// The request body for one chat turn.
pub(crate) fn messages_body(req: &ChatRequest) -> Value {
    let mut body = json!({
        "model": req.model,
        "max_tokens": req.max_tokens,
        "messages": wire_messages(&req.messages),
    });
    if !req.system.is_empty() {
        body["system"] = json!(req.system);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    body
}

/// Our messages as alternating user/assistant messages of content blocks.
/// Empty text blocks are dropped (the API rejects them), and a message left
/// with no blocks disappears, its neighbours merging.
fn wire_messages(messages: &[Message]) -> Vec<Value> {
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages {
        let (role, blocks) = match message {
            Message::User { content } => ("user", text_block(content).into_iter().collect()),
            Message::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks: Vec<Value> = content
                    .as_deref()
                    .and_then(text_block)
                    .into_iter()
                    .collect();
                blocks.extend(tool_calls.iter().map(|c| {
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments})
                }));
                ("assistant", blocks)
            }
            Message::ToolResult {
                call_id,
                content,
                is_error,
            } => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": call_id,
                    // The API rejects an empty tool result ("content field
                    // is empty"), so silence is said out loud.
                    "content": if content.trim().is_empty() { EMPTY_TOOL_RESULT } else { content },
                    "is_error": is_error,
                })],
            ),
        };
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    out.into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

fn text_block(text: &str) -> Option<Value> {
    (!text.trim().is_empty()).then(|| json!({"type": "text", "text": text}))
}

#[derive(Deserialize)]
struct MessagesResponse {
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_assistant_turns_vanish_and_their_neighbours_merge() {
        let messages = vec![
            Message::User {
                content: "task".into(),
            },
            Message::Assistant {
                content: Some("  ".into()),
                tool_calls: vec![],
            },
            Message::User {
                content: "more".into(),
            },
        ];
        assert_eq!(
            wire_messages(&messages),
            vec![json!({"role": "user", "content": [
                {"type": "text", "text": "task"},
                {"type": "text", "text": "more"},
            ]})]
        );
    }

    #[test]
    fn an_empty_tool_result_is_said_out_loud() {
        let messages = vec![
            Message::User {
                content: "task".into(),
            },
            Message::Assistant {
                content: None,
                tool_calls: vec![crate::model::ToolCall {
                    id: "t1".into(),
                    name: "exec".into(),
                    arguments: json!({}),
                }],
            },
            Message::ToolResult {
                call_id: "t1".into(),
                content: " \n".into(),
                is_error: true,
            },
        ];
        assert_eq!(
            wire_messages(&messages)[2]["content"][0]["content"],
            EMPTY_TOOL_RESULT
        );
    }
}
