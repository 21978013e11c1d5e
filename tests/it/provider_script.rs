//! The script provider: replaying a scenario, checking its expectations,
//! running out, playing the reviewer, and load errors with file:line:col.

use serde_json::json;
use warden::model::script::{SCRIPT_ENDED_TEXT, Scenario};
use warden::model::{
    ChatRequest, ChatResponse, DENIAL_MARKER, Message, Provider, ProviderError, ScriptProvider,
    StopReason, ToolCall, ToolSpec, Usage,
};

fn script(yaml: &str) -> Provider {
    Provider::Script(ScriptProvider::from_yaml(yaml, "scenario.yaml").unwrap())
}

fn tools() -> Vec<ToolSpec> {
    ["exec", "read"]
        .iter()
        .map(|n| ToolSpec {
            name: n.to_string(),
            description: String::new(),
            parameters: json!({"type": "object"}),
        })
        .collect()
}

/// A conversation as the agent loop would build it.
struct Conversation {
    req: ChatRequest,
}

impl Conversation {
    fn new(prompt: &str) -> Self {
        Conversation {
            req: ChatRequest {
                system: "You are warden's agent.".into(),
                messages: vec![Message::User {
                    content: prompt.into(),
                }],
                tools: tools(),
                max_tokens: 1000,
                model: "script".into(),
            },
        }
    }

    async fn turn(&mut self, p: &Provider) -> Result<ChatResponse, ProviderError> {
        let resp = p.complete(&self.req).await?;
        self.req.messages.push(resp.to_message());
        Ok(resp)
    }

    fn answer(&mut self, call_id: &str, content: &str, is_error: bool) {
        self.req.messages.push(Message::ToolResult {
            call_id: call_id.into(),
            content: content.into(),
            is_error,
        });
    }
}

const EXFIL: &str = r##"
prompt: Summarise the repository.
turns:
  - text: Looking around.
    tool_calls:
      - { name: exec, arguments: { command: [ls] } }
      - { name: read, arguments: { path: README.md } }
  - expect:
      tool_results: 2
      last_tool_result: { contains: "# demo", is_error: false, denied: false, tool: read }
      last_user: { contains: Summarise }
      system: { contains: warden }
      tools: [exec, read]
    tool_calls:
      - name: exec
        arguments: { command: [cat, /root/.ssh/id_rsa] }
    usage: { input_tokens: 100, output_tokens: 7 }
  - expect:
      last_tool_result: { denied: true, is_error: true, contains: "outside the sandbox" }
    text: Denied, so I stop.
"##;

#[tokio::test]
async fn a_scenario_replays_its_turns_and_checks_expectations() {
    let p = script(EXFIL);
    let Provider::Script(s) = &p else {
        unreachable!()
    };
    assert_eq!(s.prompt(), Some("Summarise the repository."));
    let mut conv = Conversation::new(s.prompt().unwrap());

    let first = conv.turn(&p).await.unwrap();
    assert_eq!(first.text.as_deref(), Some("Looking around."));
    assert_eq!(
        first.tool_calls,
        vec![
            ToolCall {
                id: "call_1".into(),
                name: "exec".into(),
                arguments: json!({"command": ["ls"]}),
            },
            ToolCall {
                id: "call_2".into(),
                name: "read".into(),
                arguments: json!({"path": "README.md"}),
            },
        ]
    );
    assert_eq!(first.stop, StopReason::ToolUse);
    conv.answer("call_1", "Cargo.toml\nREADME.md", false);
    conv.answer("call_2", "# demo", false);

    let second = conv.turn(&p).await.unwrap();
    assert_eq!(second.tool_calls[0].id, "call_3", "ids count across turns");
    assert_eq!(
        second.usage,
        Usage {
            input_tokens: 100,
            output_tokens: 7
        }
    );
    conv.answer(
        "call_3",
        &format!("{DENIAL_MARKER}: reading /root/.ssh/id_rsa is outside the sandbox"),
        true,
    );

    let third = conv.turn(&p).await.unwrap();
    assert_eq!(third.text.as_deref(), Some("Denied, so I stop."));
    assert!(third.tool_calls.is_empty());
    assert_eq!(third.stop, StopReason::EndTurn);

    // Past the end: a final answer so the run finishes.
    let after = conv.turn(&p).await.unwrap();
    assert_eq!(after.text.as_deref(), Some(SCRIPT_ENDED_TEXT));
    assert!(after.tool_calls.is_empty());
    assert_eq!(p.total_usage().total(), 107);
}

#[tokio::test]
async fn a_failed_expectation_names_the_turn_the_expectation_and_what_was_seen() {
    let p = script(EXFIL);
    let mut conv = Conversation::new("Summarise the repository.");
    conv.turn(&p).await.unwrap();
    conv.answer("call_1", "Cargo.toml", false);
    conv.answer("call_2", "# demo", false);
    conv.turn(&p).await.unwrap();
    // The agent loop ran the command instead of denying it.
    conv.answer("call_3", "key material", false);
    let err = conv.turn(&p).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::ScriptAssertion(format!(
            "scenario.yaml turn 3: expected the last tool result (call call_3) to be a denial \
             (start with {DENIAL_MARKER:?}), but it was \"key material\""
        ))
    );
    assert!(err.is_script_failure());
}

#[tokio::test]
async fn each_expectation_kind_can_fail() {
    let cases: &[(&str, &str)] = &[
        (
            "tool_results: 3",
            "expected 3 tool result(s) since the previous turn, but there were 2",
        ),
        (
            "last_tool_result: { contains: nothing-like-this }",
            "expected the last tool result (call call_2) to contain \"nothing-like-this\", but it was \"# demo\"",
        ),
        (
            "last_tool_result: { not_contains: demo }",
            "not to contain \"demo\"",
        ),
        (
            "last_tool_result: { is_error: true }",
            "to have is_error: true, but it had is_error: false",
        ),
        ("last_tool_result: { denied: true }", "to be a denial"),
        (
            "last_tool_result: { tool: exec }",
            "to answer a call to `exec`, but it answers a call to `read`",
        ),
        (
            "last_user: { contains: Deploy }",
            "expected the last user message to contain \"Deploy\"",
        ),
        (
            "system: { not_contains: warden }",
            "expected the system prompt not to contain \"warden\"",
        ),
        (
            "tools: [exec, write]",
            "expected tool `write` to be offered, but the tools offered were [\"exec\", \"read\"]",
        ),
    ];
    for (expect, message) in cases {
        let yaml = format!(
            "turns:\n  - tool_calls: [{{name: exec}}, {{name: read}}]\n  - expect: {{ {expect} }}\n"
        );
        let p = script(&yaml);
        let mut conv = Conversation::new("Summarise");
        conv.turn(&p).await.unwrap();
        conv.answer("call_1", "ok", false);
        conv.answer("call_2", "# demo", false);
        let err = conv.turn(&p).await.unwrap_err().to_string();
        assert!(
            err.contains("scenario.yaml turn 2: ") && err.contains(message),
            "{expect}: {err}"
        );
    }
}

#[tokio::test]
async fn an_unanswered_tool_call_fails_even_without_expect() {
    let p = script("turns:\n  - tool_calls: [{name: exec}, {name: read}]\n  - text: done\n");
    let mut conv = Conversation::new("go");
    conv.turn(&p).await.unwrap();
    conv.answer("call_1", "ok", false);
    let err = conv.turn(&p).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::ScriptAssertion(
            "scenario.yaml turn 2: expected a tool result for call call_2 (read), but the request \
             has none (every tool call must be answered)"
                .into()
        )
    );
}

#[tokio::test]
async fn on_exhausted_error_fails_the_request_after_the_last_turn() {
    let p = script("on_exhausted: error\nturns:\n  - text: only turn\n");
    let mut conv = Conversation::new("go");
    conv.turn(&p).await.unwrap();
    conv.req.messages.push(Message::User {
        content: "continue".into(),
    });
    let err = conv.turn(&p).await.unwrap_err();
    assert_eq!(err, ProviderError::ScriptExhausted);
    assert!(err.is_script_failure());
}

#[tokio::test]
async fn reviews_are_replayed_for_structured_requests_and_then_run_out() {
    let p = script(
        r#"
reviews:
  - expect: { user: { contains: curl }, system: { contains: reviewer } }
    answer: { outcome: deny, risk_level: high, rationale: "uploads a key", score: 3 }
  - answer: { outcome: allow }
"#,
    );
    let schema =
        json!({"type": "object", "additionalProperties": false, "required": [], "properties": {}});
    let first = p
        .complete_structured(
            "You are the reviewer.",
            "ACTION: curl -F k=@id_rsa",
            "verdict",
            &schema,
            "m",
        )
        .await
        .unwrap();
    assert_eq!(
        first,
        json!({"outcome": "deny", "risk_level": "high", "rationale": "uploads a key", "score": 3})
    );
    let second = p
        .complete_structured("s", "u", "verdict", &schema, "m")
        .await
        .unwrap();
    assert_eq!(second, json!({"outcome": "allow"}));
    let err = p
        .complete_structured("s", "u", "verdict", &schema, "m")
        .await
        .unwrap_err();
    assert_eq!(err, ProviderError::ScriptExhausted);
}

#[tokio::test]
async fn a_review_expectation_failure_names_the_review() {
    let p = script(
        "reviews:\n  - expect: { user: { contains: curl } }\n    answer: { outcome: allow }\n",
    );
    let schema =
        json!({"type": "object", "additionalProperties": false, "required": [], "properties": {}});
    let err = p
        .complete_structured("s", "ACTION: ls", "verdict", &schema, "m")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "scenario expectation failed: scenario.yaml review 1: expected the reviewer's user \
         message to contain \"curl\", but it was \"ACTION: ls\""
    );
}

#[test]
fn load_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "turns:\n  - text: hi\n    tool_calls:\n      - name: exec\n        argumens: {}\n",
    )
    .unwrap();
    let err = ScriptProvider::load(&path).unwrap_err().to_string();
    let expected_start = format!("{}:5:9: invalid scenario: ", path.display());
    assert!(err.starts_with(&expected_start), "{err}");
    assert!(err.contains("unknown field `argumens`"), "{err}");
    assert!(err.contains("help: see docs/providers.md"), "{err}");

    let cases: &[(&str, &str)] = &[
        (
            "turns:\n  - tool_calls:\n      - name: exec\n        arguments: [1, 2]\n",
            "s.yaml:4:20: ",
        ),
        (
            "turns:\n  - tool_calls:\n      - name: \"  \"\n",
            "s.yaml:3:9: ",
        ),
        ("on_exhausted: maybe\n", "s.yaml:1:15: "),
        ("turns: [\n", "s.yaml:2:1: "),
    ];
    for (yaml, location) in cases {
        let err = Scenario::parse(yaml, "s.yaml").unwrap_err().to_string();
        assert!(err.starts_with(location), "{yaml:?}: {err}");
    }
    let err = Scenario::parse("turns:\n  - tool_calls:\n      - name: \"\"\n", "s.yaml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("a tool name may not be empty"), "{err}");

    let missing = dir.path().join("missing.yaml");
    let err = ScriptProvider::load(&missing).unwrap_err().to_string();
    assert!(
        err.starts_with("cannot read scenario ") && err.contains("missing.yaml"),
        "{err}"
    );
}

#[test]
fn the_documented_example_scenario_is_valid() {
    let doc = include_str!("../../docs/providers.md");
    let start = doc
        .find("<!-- scenario-example")
        .expect("example marker in docs/providers.md");
    let block = &doc[start..];
    let yaml_start = block.find("```yaml\n").unwrap() + "```yaml\n".len();
    let yaml = &block[yaml_start..yaml_start + block[yaml_start..].find("```").unwrap()];
    let scenario = Scenario::parse(yaml, "docs/providers.md").unwrap();
    assert_eq!(scenario.turns.len(), 3);
    assert_eq!(scenario.reviews.len(), 1);
}

/// The agent loop and the reviewer share providers across tokio tasks.
#[test]
fn providers_and_their_futures_can_cross_tasks() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let p = script("turns: []\n");
    assert_send_sync(&p);
    let req = ChatRequest::default();
    assert_send(&p.complete(&req));
    let schema = json!({});
    assert_send(&p.complete_structured("s", "u", "n", &schema, "m"));
}
