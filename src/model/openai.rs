//! The OpenAI Chat Completions client (`POST {base}/chat/completions`),
//! which also serves OpenAI-compatible servers (vLLM, Ollama, llama.cpp,
//! Azure's v1 API) through the base URL.
//!
//! Wire format: tools as `{type: function, function: {name, description,
//! parameters}}`; assistant `tool_calls` with JSON-string `arguments`; tool
//! results as `role: tool` messages with `tool_call_id`. Structured answers
//! use `response_format: json_schema` (strict); a server that rejects that
//! with a 400 naming `response_format` gets a forced function call instead,
//! and the client remembers to use the fallback from then on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::Transport;
use super::structured::{StructuredRequest, expect_object, tool_description};
use super::text::{scrub, truncate_chars};
use super::{
    ChatRequest, ChatResponse, ClientSettings, Message, ProviderError, StopReason, ToolCall, Usage,
};

/// The official API root.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
const OFFICIAL_HOST: &str = "api.openai.com";

/// Output bound for structured answers (reviewer verdicts are small, but
/// reasoning models spend part of this bound thinking).
pub const STRUCTURED_MAX_TOKENS: u32 = 8192;

/// A Chat Completions client.
#[derive(Debug)]
pub struct OpenAiClient {
    transport: Transport,
    /// api.openai.com and Azure want `max_completion_tokens` (reasoning
    /// models reject `max_tokens`); compatible servers know `max_tokens`.
    use_max_completion_tokens: bool,
    /// Set once the server rejected `response_format: json_schema`.
    structured_fallback: AtomicBool,
    /// For servers that send tool calls without ids.
    generated_ids: AtomicU64,
}

impl OpenAiClient {
    pub fn new(settings: ClientSettings) -> Result<Self, ProviderError> {
        let transport = Transport::new(
            settings,
            "/chat/completions",
            OFFICIAL_HOST,
            "WARDEN_API_KEY or OPENAI_API_KEY",
        )?;
        let host = reqwest::Url::parse(&transport.settings().base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        Ok(OpenAiClient {
            use_max_completion_tokens: host == OFFICIAL_HOST || host.ends_with(".openai.azure.com"),
            transport,
            structured_fallback: AtomicBool::new(false),
            generated_ids: AtomicU64::new(0),
        })
    }

    /// Whether structured requests now use the forced-function fallback.
    pub fn uses_structured_fallback(&self) -> bool {
        self.structured_fallback.load(Ordering::Relaxed)
    }

    pub fn total_usage(&self) -> Usage {
        self.transport.total_usage()
    }

    pub async fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        req.check()?;
        let body = self.chat_body(req);
        let answer = self.post(&body).await?;
        let usage = self.usage(answer.usage);
        let (message, finish) = first_choice(answer.choices)?;
        if let Some(refusal) = message.refusal.filter(|r| !r.is_empty()) {
            return Err(ProviderError::Refused(self.scrub(&refusal)));
        }
        if finish.as_deref() == Some("content_filter") {
            return Err(ProviderError::Refused(
                "the answer was withheld by the content filter (finish_reason: content_filter)"
                    .to_owned(),
            ));
        }
        let tool_calls = message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .map(|c| self.tool_call(c))
            .collect::<Result<Vec<_>, _>>()?;
        let stop = match finish.as_deref() {
            Some("length") => StopReason::MaxTokens,
            _ if !tool_calls.is_empty() => StopReason::ToolUse,
            None | Some("stop") => StopReason::EndTurn,
            Some("tool_calls" | "function_call") => StopReason::ToolUse,
            Some(other) => StopReason::Other(other.to_owned()),
        };
        Ok(ChatResponse {
            text: message.content.filter(|t| !t.is_empty()),
            tool_calls,
            usage,
            stop,
        })
    }

    pub async fn complete_structured(
        &self,
        req: &StructuredRequest<'_>,
    ) -> Result<Value, ProviderError> {
        if !self.uses_structured_fallback() {
            match self.structured_by_response_format(req).await {
                Err(ProviderError::Http {
                    status: 400 | 422,
                    body_excerpt,
                }) if mentions_response_format(&body_excerpt) => {
                    tracing::info!(
                        endpoint = %self.transport.endpoint(),
                        "the server rejected response_format json_schema; \
                         using a forced function call for structured answers from now on"
                    );
                    self.structured_fallback.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        self.structured_by_forced_call(req).await
    }

    async fn structured_by_response_format(
        &self,
        req: &StructuredRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let mut body = self.structured_base(req);
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": req.schema_name, "strict": true, "schema": req.schema},
        });
        let answer = self.post(&body).await?;
        self.usage(answer.usage);
        let (message, finish) = first_choice(answer.choices)?;
        self.check_structured_finish(message.refusal, finish.as_deref())?;
        let content = message.content.unwrap_or_default();
        let value: Value = serde_json::from_str(&content).map_err(|e| {
            ProviderError::Malformed(format!(
                "the structured answer is not JSON ({e}): {}",
                truncate_chars(&self.scrub(&content), 300)
            ))
        })?;
        expect_object(value, "the structured answer")
    }

    async fn structured_by_forced_call(
        &self,
        req: &StructuredRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let mut body = self.structured_base(req);
        body["tools"] = json!([{
            "type": "function",
            "function": {
                "name": req.schema_name,
                "description": tool_description(req.schema_name),
                "parameters": req.schema,
            },
        }]);
        body["tool_choice"] = json!({"type": "function", "function": {"name": req.schema_name}});
        let answer = self.post(&body).await?;
        self.usage(answer.usage);
        let (message, finish) = first_choice(answer.choices)?;
        self.check_structured_finish(message.refusal, finish.as_deref())?;
        let call = message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.function.name == req.schema_name)
            .ok_or_else(|| {
                ProviderError::Malformed(format!(
                    "the forced function call `{}` is missing from the answer",
                    req.schema_name
                ))
            })?;
        let value = self.arguments(&call.function)?;
        expect_object(value, "the structured answer")
    }

    fn structured_base(&self, req: &StructuredRequest<'_>) -> Value {
        let mut messages = Vec::new();
        if !req.system.is_empty() {
            messages.push(json!({"role": "system", "content": req.system}));
        }
        messages.push(json!({"role": "user", "content": req.user}));
        let mut body = json!({"model": req.model, "messages": messages});
        body[self.max_tokens_field()] = json!(STRUCTURED_MAX_TOKENS);
        body
    }

    fn check_structured_finish(
        &self,
        refusal: Option<String>,
        finish: Option<&str>,
    ) -> Result<(), ProviderError> {
        if let Some(refusal) = refusal.filter(|r| !r.is_empty()) {
            return Err(ProviderError::Refused(self.scrub(&refusal)));
        }
        match finish {
            Some("content_filter") => Err(ProviderError::Refused(
                "the answer was withheld by the content filter".to_owned(),
            )),
            Some("length") => Err(ProviderError::Malformed(format!(
                "the structured answer was cut off at {STRUCTURED_MAX_TOKENS} tokens"
            ))),
            _ => Ok(()),
        }
    }

    fn max_tokens_field(&self) -> &'static str {
        if self.use_max_completion_tokens {
            "max_completion_tokens"
        } else {
            "max_tokens"
        }
    }

    /// The request body for one chat turn.
    pub(crate) fn chat_body(&self, req: &ChatRequest) -> Value {
        let mut messages = Vec::with_capacity(req.messages.len() + 1);
        if !req.system.is_empty() {
            messages.push(json!({"role": "system", "content": req.system}));
        }
        messages.extend(req.messages.iter().map(wire_message));
        let mut body = json!({"model": req.model, "messages": messages});
        body[self.max_tokens_field()] = json!(req.max_tokens);
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| {
                    json!({
                        "type": "function",
                        "function": {
                            "name": t.name,
                            "description": t.description,
                            "parameters": t.parameters,
                        },
                    })
                })
                .collect();
        }
        body
    }

    async fn post(&self, body: &Value) -> Result<Completion, ProviderError> {
        let mut headers = HeaderMap::new();
        if let Some(key) = &self.transport.settings().api_key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    ProviderError::Config(
                        "the API key contains characters not allowed in an HTTP header".to_owned(),
                    )
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let json = self.transport.post_json(headers, body).await?;
        serde_json::from_value(json).map_err(|e| {
            ProviderError::Malformed(format!(
                "{} answered JSON that is not a chat completion: {e}",
                self.transport.endpoint()
            ))
        })
    }

    fn tool_call(&self, call: WireToolCall) -> Result<ToolCall, ProviderError> {
        let arguments = self.arguments(&call.function)?;
        let id = match call.id {
            Some(id) if !id.is_empty() => id,
            _ => format!(
                "warden_call_{}",
                self.generated_ids.fetch_add(1, Ordering::Relaxed) + 1
            ),
        };
        Ok(ToolCall {
            id,
            name: call.function.name,
            arguments,
        })
    }

    /// A call's arguments as a JSON object. The API sends a JSON string;
    /// some compatible servers send the object itself or an empty string
    /// for a call without arguments.
    fn arguments(&self, function: &WireFunction) -> Result<Value, ProviderError> {
        let value = match &function.arguments {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|e| {
                ProviderError::Malformed(format!(
                    "the arguments of the model's call to `{}` are not valid JSON ({e}): {}",
                    function.name,
                    truncate_chars(&self.scrub(s), 300)
                ))
            })?,
            Some(other) => other.clone(),
        };
        if !value.is_object() {
            return Err(ProviderError::Malformed(format!(
                "the arguments of the model's call to `{}` are not a JSON object",
                function.name
            )));
        }
        Ok(value)
    }

    fn usage(&self, usage: Option<WireUsage>) -> Usage {
        let usage = usage.map_or_else(Usage::default, |u| Usage {
            input_tokens: u.prompt_tokens.unwrap_or(0),
            output_tokens: u.completion_tokens.unwrap_or(0),
        });
        self.transport.record_usage(usage);
        usage
    }

    fn scrub(&self, text: &str) -> String {
        scrub(text, self.transport.settings().api_key.as_ref())
    }
}

fn mentions_response_format(excerpt: &str) -> bool {
    let lower = excerpt.to_ascii_lowercase();
    lower.contains("response_format") || lower.contains("json_schema")
}

fn wire_message(message: &Message) -> Value {
    match message {
        Message::User { content } => json!({"role": "user", "content": content}),
        Message::Assistant {
            content,
            tool_calls,
        } => {
            if tool_calls.is_empty() {
                // The API wants content or tool_calls; never an empty array.
                json!({"role": "assistant", "content": content.as_deref().unwrap_or("")})
            } else {
                let calls: Vec<Value> = tool_calls
                    .iter()
                    .map(|c| {
                        json!({
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments.to_string()},
                        })
                    })
                    .collect();
                json!({"role": "assistant", "content": content, "tool_calls": calls})
            }
        }
        Message::ToolResult {
            call_id,
            content,
            is_error,
        } => {
            // Chat Completions has no error flag on tool messages: say it.
            let content = if *is_error {
                format!("ERROR: {content}")
            } else {
                content.clone()
            };
            json!({"role": "tool", "tool_call_id": call_id, "content": content})
        }
    }
}

fn first_choice(choices: Vec<Choice>) -> Result<(WireMessage, Option<String>), ProviderError> {
    let choice = choices
        .into_iter()
        .next()
        .ok_or_else(|| ProviderError::Malformed("the chat completion has no choices".to_owned()))?;
    Ok((choice.message, choice.finish_reason))
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: WireMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;

    fn client(base: &str) -> OpenAiClient {
        OpenAiClient::new(ClientSettings::new(base, Some(Secret::new("k")))).unwrap()
    }

    fn request() -> ChatRequest {
        ChatRequest {
            system: String::new(),
            messages: vec![Message::User {
                content: "hi".into(),
            }],
            tools: vec![],
            max_tokens: 100,
            model: "m".into(),
        }
    }

    #[test]
    fn the_official_api_and_azure_get_max_completion_tokens() {
        let body = client(DEFAULT_BASE_URL).chat_body(&request());
        assert_eq!(body["max_completion_tokens"], 100);
        assert!(body.get("max_tokens").is_none());
        let body = client("https://r.openai.azure.com/openai/v1").chat_body(&request());
        assert_eq!(body["max_completion_tokens"], 100);
        let body = client("http://127.0.0.1:11434/v1").chat_body(&request());
        assert_eq!(body["max_tokens"], 100);
        assert!(body.get("max_completion_tokens").is_none());
        assert!(body.get("tools").is_none(), "no tools: no tools field");
    }

    #[test]
    fn fallback_is_triggered_only_by_response_format_complaints() {
        assert!(mentions_response_format(
            "Invalid parameter: 'response_format' of type 'json_schema' is not supported"
        ));
        assert!(!mentions_response_format("model not found"));
    }
}
