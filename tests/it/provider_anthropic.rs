//! The Anthropic Messages client against a local mock of the API: exact
//! request bodies (top-level system, alternating roles, merged tool
//! results), tool use, structured answers, refusals, retries and auth.

use crate::provider_mock;

use serde_json::{Value, json};
use warden::model::{
    AnthropicClient, ChatRequest, ClientSettings, Message, Provider, ProviderError, StopReason,
    ToolCall, ToolSpec, Usage,
};

use provider_mock::anthropic::message;
use provider_mock::{Api, MockResponse, MockServer, client_settings};

const KEY: &str = "sk-ant-test-0123456789";

fn provider(server: &MockServer) -> Provider {
    Provider::Anthropic(AnthropicClient::new(client_settings(&server.base_url, KEY)).unwrap())
}

fn read_tool() -> ToolSpec {
    ToolSpec {
        name: "read".into(),
        description: "Read a file".into(),
        parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    }
}

fn simple_request() -> ChatRequest {
    ChatRequest {
        system: "You are a CI agent.".into(),
        messages: vec![Message::User {
            content: "Summarise the repo".into(),
        }],
        tools: vec![read_tool()],
        max_tokens: 2048,
        model: "claude-test".into(),
    }
}

#[tokio::test]
async fn a_tool_round_trip_sends_exactly_what_the_api_expects() {
    let server = MockServer::start(Api::Anthropic, Some(KEY)).await;
    server.push(MockResponse::json(
        200,
        json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [
                {"type": "thinking", "thinking": "…", "signature": "x"},
                {"type": "text", "text": "Reading the manifest."},
                {"type": "tool_use", "id": "toolu_01", "name": "read", "input": {"path": "Cargo.toml"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 50, "output_tokens": 20,
                      "cache_creation_input_tokens": 10, "cache_read_input_tokens": 5}
        }),
    ));
    let req = ChatRequest {
        messages: vec![
            Message::User {
                content: "Summarise the repo".into(),
            },
            Message::Assistant {
                content: None,
                tool_calls: vec![
                    ToolCall {
                        id: "toolu_a".into(),
                        name: "read".into(),
                        arguments: json!({"path": "README.md"}),
                    },
                    ToolCall {
                        id: "toolu_b".into(),
                        name: "read".into(),
                        arguments: json!({"path": "/root/.ssh/id_rsa"}),
                    },
                ],
            },
            Message::ToolResult {
                call_id: "toolu_a".into(),
                content: "# demo".into(),
                is_error: false,
            },
            Message::ToolResult {
                call_id: "toolu_b".into(),
                content: "warden: action denied: outside the workspace".into(),
                is_error: true,
            },
            Message::User {
                content: "Keep going.".into(),
            },
        ],
        ..simple_request()
    };
    let p = provider(&server);
    let resp = p.complete(&req).await.unwrap();

    assert_eq!(server.violations(), Vec::<String>::new());
    let sent = &server.requests()[0];
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        sent.body,
        json!({
            "model": "claude-test",
            "max_tokens": 2048,
            "system": "You are a CI agent.",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Summarise the repo"}]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_a", "name": "read", "input": {"path": "README.md"}},
                    {"type": "tool_use", "id": "toolu_b", "name": "read", "input": {"path": "/root/.ssh/id_rsa"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_a", "content": "# demo", "is_error": false},
                    {"type": "tool_result", "tool_use_id": "toolu_b",
                     "content": "warden: action denied: outside the workspace", "is_error": true},
                    {"type": "text", "text": "Keep going."}
                ]}
            ],
            "tools": [{"name": "read", "description": "Read a file", "input_schema":
                {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}]
        })
    );
    assert_eq!(resp.text.as_deref(), Some("Reading the manifest."));
    assert_eq!(
        resp.tool_calls,
        vec![ToolCall {
            id: "toolu_01".into(),
            name: "read".into(),
            arguments: json!({"path": "Cargo.toml"}),
        }]
    );
    assert_eq!(resp.stop, StopReason::ToolUse);
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 65,
            output_tokens: 20
        }
    );

    server.push(MockResponse::json(
        200,
        message(json!([{"type": "text", "text": "Done."}]), "end_turn", 1, 1),
    ));
    let resp = p.complete(&simple_request()).await.unwrap();
    assert_eq!(
        (resp.text.as_deref(), resp.stop),
        (Some("Done."), StopReason::EndTurn)
    );
    assert_eq!(p.total_usage().total(), 87);
}

fn verdict_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["outcome", "rationale"],
        "properties": {
            "outcome": {"type": "string", "enum": ["allow", "deny", "escalate"]},
            "rationale": {"type": "string"}
        }
    })
}

#[tokio::test]
async fn structured_output_forces_the_tool_and_reads_its_input() {
    let server = MockServer::start(Api::Anthropic, Some(KEY)).await;
    server.push(MockResponse::json(
        200,
        message(
            json!([{"type": "tool_use", "id": "toolu_v", "name": "verdict",
                    "input": {"outcome": "escalate", "rationale": "needs a human"}}]),
            "tool_use",
            10,
            10,
        ),
    ));
    let answer = provider(&server)
        .complete_structured(
            "Review.",
            "ACTION",
            "verdict",
            &verdict_schema(),
            "claude-review",
        )
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"outcome": "escalate", "rationale": "needs a human"})
    );
    assert_eq!(server.violations(), Vec::<String>::new());
    assert_eq!(
        server.requests()[0].body,
        json!({
            "model": "claude-review",
            "max_tokens": 8192,
            "system": "Review.",
            "messages": [{"role": "user", "content": "ACTION"}],
            "tools": [{
                "name": "verdict",
                "description": "Record your answer as `verdict`. Call this tool exactly once.",
                "input_schema": verdict_schema()
            }],
            "tool_choice": {"type": "tool", "name": "verdict"}
        })
    );

    // An answer without the forced tool call is malformed.
    server.push(MockResponse::json(
        200,
        message(json!([{"type": "text", "text": "allow"}]), "end_turn", 1, 1),
    ));
    let err = provider(&server)
        .complete_structured(
            "Review.",
            "ACTION",
            "verdict",
            &verdict_schema(),
            "claude-review",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Malformed(m) if m.contains("`verdict` is missing")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refusal_is_an_error_not_an_answer() {
    let server = MockServer::start(Api::Anthropic, Some(KEY)).await;
    server.push(MockResponse::json(
        200,
        message(
            json!([{"type": "text", "text": "I won't do that."}]),
            "refusal",
            5,
            3,
        ),
    ));
    let p = provider(&server);
    let err = p.complete(&simple_request()).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Refused("stop_reason: refusal; it said: I won't do that.".into())
    );

    server.push(MockResponse::json(200, message(json!([]), "refusal", 5, 0)));
    let err = p
        .complete_structured("Review.", "ACTION", "verdict", &verdict_schema(), "m")
        .await
        .unwrap_err();
    assert_eq!(err, ProviderError::Refused("stop_reason: refusal".into()));
    // Tokens spent on a refusal still count.
    assert_eq!(p.total_usage().input_tokens, 10);
}

#[tokio::test]
async fn overloaded_is_retried_and_unauthorized_is_not() {
    let server = MockServer::start(Api::Anthropic, Some(KEY)).await;
    server.push(MockResponse::json(
        529,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    server.push(MockResponse::json(
        200,
        message(json!([{"type": "text", "text": "hi"}]), "end_turn", 1, 1),
    ));
    let resp = provider(&server).complete(&simple_request()).await.unwrap();
    assert_eq!(resp.text.as_deref(), Some("hi"));
    assert_eq!(server.requests().len(), 2);

    let wrong = "sk-ant-wrong-must-not-leak";
    let client = AnthropicClient::new(client_settings(&server.base_url, wrong)).unwrap();
    let err = Provider::Anthropic(client)
        .complete(&simple_request())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Http {
            status: 401,
            body_excerpt: "invalid x-api-key (type: authentication_error)".into()
        }
    );
    assert_eq!(server.requests().len(), 3, "401 is not retried");
    assert!(!format!("{err} {err:?}").contains(wrong));
}

#[tokio::test]
async fn the_official_endpoint_needs_a_key_up_front() {
    let err = AnthropicClient::new(ClientSettings::new(
        warden::model::anthropic::DEFAULT_BASE_URL,
        None,
    ))
    .unwrap_err();
    assert!(err.to_string().contains("ANTHROPIC_API_KEY"), "{err}");
}
