//! The OpenAI Chat Completions client against a local mock of the API:
//! exact request bodies, tool calls, retries, timeouts, errors, and the
//! structured-output fallback.

use crate::provider_mock;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden::model::{
    ChatRequest, ClientSettings, Message, OpenAiClient, Provider, ProviderError, StopReason,
    ToolCall, ToolSpec, Usage,
};

use provider_mock::openai::completion;
use provider_mock::{Api, MockResponse, MockServer, client_settings};

const KEY: &str = "sk-test-0123456789abcdef";

fn provider(server: &MockServer) -> Provider {
    Provider::OpenAi(OpenAiClient::new(client_settings(&server.base_url, KEY)).unwrap())
}

fn exec_tool() -> ToolSpec {
    ToolSpec {
        name: "exec".into(),
        description: "Run a command".into(),
        parameters: json!({
            "type": "object",
            "properties": {"command": {"type": "array", "items": {"type": "string"}}},
            "required": ["command"]
        }),
    }
}

fn simple_request() -> ChatRequest {
    ChatRequest {
        system: "You are a CI agent.".into(),
        messages: vec![Message::User {
            content: "Run the tests".into(),
        }],
        tools: vec![exec_tool()],
        max_tokens: 1024,
        model: "gpt-test".into(),
    }
}

fn text_answer(text: &str) -> MockResponse {
    MockResponse::json(
        200,
        completion(json!({"role": "assistant", "content": text}), "stop", 3, 2),
    )
}

#[tokio::test]
async fn a_tool_round_trip_sends_exactly_what_the_api_expects() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(MockResponse::json(
        200,
        completion(
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "exec", "arguments": "{\"command\":[\"cargo\",\"test\"]}"}
                }]
            }),
            "tool_calls",
            120,
            30,
        ),
    ));
    let p = provider(&server);
    let req = ChatRequest {
        messages: vec![
            Message::User {
                content: "Run the tests".into(),
            },
            Message::Assistant {
                content: Some("Looking first.".into()),
                tool_calls: vec![
                    ToolCall {
                        id: "call_1".into(),
                        name: "exec".into(),
                        arguments: json!({"command": ["ls"]}),
                    },
                    ToolCall {
                        id: "call_2".into(),
                        name: "exec".into(),
                        arguments: json!({"command": ["cat", "/etc/shadow"]}),
                    },
                ],
            },
            Message::ToolResult {
                call_id: "call_1".into(),
                content: "Cargo.toml\nsrc".into(),
                is_error: false,
            },
            Message::ToolResult {
                call_id: "call_2".into(),
                content: "warden: action denied: reading /etc/shadow".into(),
                is_error: true,
            },
        ],
        ..simple_request()
    };
    let resp = p.complete(&req).await.unwrap();

    assert_eq!(server.violations(), Vec::<String>::new());
    let sent = &server.requests()[0];
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        sent.body,
        json!({
            "model": "gpt-test",
            "max_tokens": 1024,
            "messages": [
                {"role": "system", "content": "You are a CI agent."},
                {"role": "user", "content": "Run the tests"},
                {"role": "assistant", "content": "Looking first.", "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "exec", "arguments": "{\"command\":[\"ls\"]}"}},
                    {"id": "call_2", "type": "function",
                     "function": {"name": "exec", "arguments": "{\"command\":[\"cat\",\"/etc/shadow\"]}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "Cargo.toml\nsrc"},
                {"role": "tool", "tool_call_id": "call_2",
                 "content": "ERROR: warden: action denied: reading /etc/shadow"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "exec",
                "description": "Run a command",
                "parameters": {
                    "type": "object",
                    "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                    "required": ["command"]
                }
            }}]
        })
    );
    assert_eq!(resp.text, None);
    assert_eq!(
        resp.tool_calls,
        vec![ToolCall {
            id: "call_abc".into(),
            name: "exec".into(),
            arguments: json!({"command": ["cargo", "test"]}),
        }]
    );
    assert_eq!(resp.stop, StopReason::ToolUse);
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 120,
            output_tokens: 30
        }
    );

    // A final answer: text, no calls; usage adds up across requests.
    server.push(text_answer("All tests pass."));
    let resp = p.complete(&simple_request()).await.unwrap();
    assert_eq!(resp.text.as_deref(), Some("All tests pass."));
    assert!(resp.tool_calls.is_empty());
    assert_eq!(resp.stop, StopReason::EndTurn);
    assert_eq!(
        p.total_usage(),
        Usage {
            input_tokens: 123,
            output_tokens: 32
        }
    );
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after_then_succeeds() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(
        MockResponse::json(429, json!({"error": {"message": "Rate limit reached"}}))
            .with_header("retry-after", "1"),
    );
    server.push(text_answer("ok"));
    let resp = provider(&server).complete(&simple_request()).await.unwrap();
    assert_eq!(resp.text.as_deref(), Some("ok"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let waited = reqs[1].at - reqs[0].at;
    // The backoff alone would be ~1 ms: the wait came from Retry-After.
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert_eq!(
        reqs[0].body, reqs[1].body,
        "a retry resends the same request"
    );
}

#[tokio::test]
async fn a_server_error_is_retried_and_exhausted_retries_report_the_status() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(MockResponse::raw(500, "upstream hiccup"));
    server.push(text_answer("recovered"));
    let p = provider(&server);
    let resp = p.complete(&simple_request()).await.unwrap();
    assert_eq!(resp.text.as_deref(), Some("recovered"));
    assert_eq!(server.requests().len(), 2);

    for _ in 0..3 {
        server.push(MockResponse::json(
            503,
            json!({"error": {"message": "overloaded"}}),
        ));
    }
    let err = p.complete(&simple_request()).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Http {
            status: 503,
            body_excerpt: "overloaded".into()
        }
    );
    assert_eq!(
        server.requests().len(),
        5,
        "max_attempts = 3 attempts in all"
    );
}

#[tokio::test]
async fn a_hung_server_times_out_on_every_attempt() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    for _ in 0..2 {
        server.push(text_answer("too late").with_delay(Duration::from_secs(30)));
    }
    let client = OpenAiClient::new(ClientSettings {
        timeout: Duration::from_millis(200),
        max_attempts: 2,
        ..client_settings(&server.base_url, KEY)
    })
    .unwrap();
    let started = Instant::now();
    let err = Provider::OpenAi(client)
        .complete(&simple_request())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let ProviderError::Timeout {
        after, attempts, ..
    } = &err
    else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!((*after, *attempts), (Duration::from_millis(200), 2));
    assert!(
        err.to_string().contains("did not answer within 200ms"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn malformed_json_is_reported_and_not_retried() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(MockResponse::raw(200, "<html>gateway page</html>"));
    let err = provider(&server)
        .complete(&simple_request())
        .await
        .unwrap_err();
    let ProviderError::Malformed(msg) = &err else {
        panic!("expected Malformed, got {err:?}");
    };
    assert!(msg.contains("not JSON"), "{msg}");
    assert!(msg.contains("<html>gateway page</html>"), "{msg}");
    assert_eq!(server.requests().len(), 1);

    // JSON, but not a chat completion.
    server.push(MockResponse::json(200, json!({"choices": "none"})));
    let err = provider(&server)
        .complete(&simple_request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Malformed(m) if m.contains("not a chat completion")),
        "{err:?}"
    );

    // Tool arguments that are not JSON name the tool.
    server.push(MockResponse::json(
        200,
        completion(
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "exec", "arguments": "{\"command\": [\"ls\""}}
            ]}),
            "tool_calls",
            1,
            1,
        ),
    ));
    let err = provider(&server)
        .complete(&simple_request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Malformed(m) if m.contains("call to `exec`")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_never_shows_the_key() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    let wrong = "sk-wrong-key-that-must-not-leak";
    let client = OpenAiClient::new(client_settings(&server.base_url, wrong)).unwrap();
    let err = Provider::OpenAi(client)
        .complete(&simple_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Http { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1, "401 is not retried");
    // The mock echoes the key it got, as the real API does (masked).
    let text = format!("{err} {err:?}");
    assert!(!text.contains(wrong), "{text}");
    assert!(
        text.contains("Incorrect API key provided: [REDACTED]"),
        "{text}"
    );
    assert!(text.contains("check the API key"), "{text}");
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = OpenAiClient::new(ClientSettings {
        max_attempts: 2,
        ..client_settings(&format!("http://{addr}/v1"), KEY)
    })
    .unwrap();
    let err = Provider::OpenAi(client)
        .complete(&simple_request())
        .await
        .unwrap_err();
    let ProviderError::Transport(msg) = &err else {
        panic!("expected Transport, got {err:?}");
    };
    assert!(
        msg.contains(&format!("http://{addr}/v1/chat/completions")),
        "{msg}"
    );
    assert!(msg.contains("2 attempt(s)"), "{msg}");
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
async fn structured_output_uses_a_strict_json_schema() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(text_answer(
        r#"{"outcome":"deny","rationale":"uploads a key"}"#,
    ));
    let p = provider(&server);
    let answer = p
        .complete_structured(
            "Review.",
            "ACTION: …",
            "verdict",
            &verdict_schema(),
            "gpt-review",
        )
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"outcome": "deny", "rationale": "uploads a key"})
    );
    assert_eq!(server.violations(), Vec::<String>::new());
    assert_eq!(
        server.requests()[0].body,
        json!({
            "model": "gpt-review",
            "max_tokens": 8192,
            "messages": [
                {"role": "system", "content": "Review."},
                {"role": "user", "content": "ACTION: …"}
            ],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "verdict", "strict": true, "schema": verdict_schema()
            }}
        })
    );

    // A refusal is not an answer.
    server.push(MockResponse::json(
        200,
        completion(
            json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
            "stop",
            1,
            1,
        ),
    ));
    let err = p
        .complete_structured("Review.", "x", "verdict", &verdict_schema(), "gpt-review")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Refused("I can't help with that.".into())
    );

    // Content that is not JSON is malformed.
    server.push(text_answer("Sure! The outcome is allow."));
    let err = p
        .complete_structured("Review.", "x", "verdict", &verdict_schema(), "gpt-review")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn a_schema_strict_mode_would_reject_fails_before_sending() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    let mut schema = verdict_schema();
    schema
        .as_object_mut()
        .unwrap()
        .remove("additionalProperties");
    let err = provider(&server)
        .complete_structured("s", "u", "verdict", &schema, "m")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest(_)), "{err:?}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_server_without_json_schema_gets_a_forced_function_call_from_then_on() {
    let server = MockServer::start(Api::OpenAi, None).await;
    server.reject_response_format();
    let forced_answer = || {
        MockResponse::json(
            200,
            completion(
                json!({"role": "assistant", "content": "", "tool_calls": [{
                    "id": "call_v", "type": "function",
                    "function": {"name": "verdict",
                                 "arguments": "{\"outcome\":\"allow\",\"rationale\":\"runs tests\"}"}
                }]}),
                "stop",
                5,
                5,
            ),
        )
    };
    server.push(forced_answer());
    let client = OpenAiClient::new(ClientSettings {
        api_key: None,
        ..client_settings(&server.base_url, "")
    })
    .unwrap();
    let p = Provider::OpenAi(client);
    let answer = p
        .complete_structured("Review.", "ACTION", "verdict", &verdict_schema(), "local")
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"outcome": "allow", "rationale": "runs tests"})
    );

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "one rejected attempt, then the fallback");
    assert!(reqs[0].body.get("response_format").is_some());
    assert_eq!(
        reqs[1].header("authorization"),
        None,
        "no key: no auth header"
    );
    assert_eq!(
        reqs[1].body,
        json!({
            "model": "local",
            "max_tokens": 8192,
            "messages": [
                {"role": "system", "content": "Review."},
                {"role": "user", "content": "ACTION"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "verdict",
                "description": "Record your answer as `verdict`. Call this tool exactly once.",
                "parameters": verdict_schema()
            }}],
            "tool_choice": {"type": "function", "function": {"name": "verdict"}}
        })
    );
    let Provider::OpenAi(client) = &p else {
        unreachable!()
    };
    assert!(client.uses_structured_fallback());

    // Remembered: the next structured request goes straight to the fallback.
    server.push(forced_answer());
    p.complete_structured("Review.", "ACTION 2", "verdict", &verdict_schema(), "local")
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs[2].body.get("response_format").is_none());
    assert_eq!(server.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn other_client_errors_do_not_trigger_the_fallback() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(MockResponse::json(
        404,
        json!({"error": {"message": "The model `nope` does not exist", "type": "invalid_request_error", "code": "model_not_found"}}),
    ));
    let err = provider(&server)
        .complete_structured("s", "u", "verdict", &verdict_schema(), "nope")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Http {
            status: 404,
            body_excerpt:
                "The model `nope` does not exist (type: invalid_request_error, code: model_not_found)"
                    .into()
        }
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_request_the_api_rejects_is_reported_with_its_message_and_not_retried() {
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    // An assistant tool call with no tool result after it: the API says 400.
    let req = ChatRequest {
        messages: vec![
            Message::User {
                content: "go".into(),
            },
            Message::Assistant {
                content: None,
                tool_calls: vec![ToolCall {
                    id: "call_9".into(),
                    name: "exec".into(),
                    arguments: json!({}),
                }],
            },
            Message::User {
                content: "and?".into(),
            },
        ],
        ..simple_request()
    };
    let err = provider(&server).complete(&req).await.unwrap_err();
    let ProviderError::Http {
        status: 400,
        body_excerpt,
    } = &err
    else {
        panic!("expected a 400, got {err:?}");
    };
    assert!(
        body_excerpt.contains("must be followed by tool messages"),
        "{body_excerpt}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn debug_output_of_a_client_hides_the_key() {
    let client = OpenAiClient::new(client_settings("http://user:pw@127.0.0.1:9/v1", KEY)).unwrap();
    let text = format!("{client:?}");
    assert!(!text.contains(KEY) && !text.contains("pw"), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
}
