//! What the Messages API enforces on a request, as far as warden's requests
//! exercise it. A violation is answered with the API's error shape.

use serde_json::{Value, json};

use super::{Recorded, Rejection};

const KNOWN_FIELDS: &[&str] = &[
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
];

fn bad(message: impl Into<String>) -> Rejection {
    let message = message.into();
    (
        400,
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}}),
    )
}

pub fn check(req: &Recorded, key: Option<&str>) -> Result<(), Rejection> {
    if req.method != "POST" || req.path != "/v1/messages" {
        return Err((
            404,
            json!({"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}),
        ));
    }
    if let Some(key) = key
        && req.header("x-api-key") != Some(key)
    {
        return Err((
            401,
            json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
        ));
    }
    if req.header("authorization").is_some() {
        return Err(bad(
            "unexpected Authorization header (the Messages API uses x-api-key)",
        ));
    }
    if req.header("anthropic-version") != Some("2023-06-01") {
        return Err(bad("anthropic-version: header is required"));
    }
    if !req
        .header("content-type")
        .unwrap_or("")
        .starts_with("application/json")
    {
        return Err(bad("content-type must be application/json"));
    }
    let body = req
        .body
        .as_object()
        .ok_or_else(|| bad("body must be a JSON object"))?;
    if let Some(unknown) = body.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(bad(format!("{unknown}: Extra inputs are not permitted")));
    }
    if body
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(|m| m.is_empty())
    {
        return Err(bad("model: Field required"));
    }
    if body
        .get("max_tokens")
        .and_then(Value::as_u64)
        .is_none_or(|n| n < 1)
    {
        return Err(bad("max_tokens: Field required (a positive integer)"));
    }
    if let Some(system) = body.get("system")
        && !system.is_string()
    {
        return Err(bad("system: Input should be a valid string"));
    }
    let tool_names = check_tools(body.get("tools"))?;
    check_messages(body.get("messages"))?;
    if let Some(choice) = body.get("tool_choice") {
        let ok = match choice["type"].as_str() {
            Some("auto" | "any") => true,
            Some("tool") => choice["name"]
                .as_str()
                .is_some_and(|n| tool_names.iter().any(|t| t == n)),
            _ => false,
        };
        if !ok {
            return Err(bad("tool_choice: invalid or names an unknown tool"));
        }
    }
    Ok(())
}

fn check_tools(tools: Option<&Value>) -> Result<Vec<String>, Rejection> {
    let Some(tools) = tools else {
        return Ok(vec![]);
    };
    let tools = tools
        .as_array()
        .ok_or_else(|| bad("tools: Input should be a valid list"))?;
    let mut names = vec![];
    for (i, tool) in tools.iter().enumerate() {
        let obj = tool
            .as_object()
            .ok_or_else(|| bad(format!("tools.{i}: not an object")))?;
        if let Some(extra) = obj
            .keys()
            .find(|k| !["name", "description", "input_schema"].contains(&k.as_str()))
        {
            return Err(bad(format!(
                "tools.{i}.{extra}: Extra inputs are not permitted"
            )));
        }
        let name = tool["name"].as_str().unwrap_or("");
        if name.is_empty() || tool["input_schema"]["type"] != "object" {
            return Err(bad(format!(
                "tools.{i}: name and an object input_schema are required"
            )));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

fn check_messages(messages: Option<&Value>) -> Result<(), Rejection> {
    let messages = messages
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("messages: at least one message is required"))?;
    let mut expected_role = "user";
    // tool_use ids of the previous assistant message, to be answered now.
    let mut open_calls: Vec<String> = vec![];
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("");
        if role != expected_role {
            return Err(bad(format!(
                "messages: roles must alternate between \"user\" and \"assistant\", starting with \"user\" (messages.{i} is {role:?})"
            )));
        }
        let blocks: Vec<Value> = match &m["content"] {
            Value::String(s) if !s.is_empty() => vec![json!({"type": "text", "text": s})],
            Value::Array(blocks) if !blocks.is_empty() => blocks.clone(),
            _ => return Err(bad(format!("messages.{i}: content must be non-empty"))),
        };
        let mut answered = vec![];
        let mut calls = vec![];
        let mut seen_text = false;
        for (j, b) in blocks.iter().enumerate() {
            match (role, b["type"].as_str().unwrap_or("")) {
                (_, "text") => {
                    if b["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
                        return Err(bad(format!(
                            "messages.{i}.content.{j}: text content blocks must contain non-whitespace text"
                        )));
                    }
                    seen_text = true;
                }
                ("assistant", "tool_use") => {
                    if !b["id"].is_string() || !b["name"].is_string() || !b["input"].is_object() {
                        return Err(bad(format!("messages.{i}.content.{j}: invalid tool_use")));
                    }
                    calls.push(b["id"].as_str().unwrap().to_owned());
                }
                ("user", "tool_result") => {
                    if seen_text {
                        return Err(bad(format!(
                            "messages.{i}: tool_result blocks must come before any text"
                        )));
                    }
                    let id = b["tool_use_id"].as_str().unwrap_or("");
                    if !open_calls.iter().any(|c| c == id) {
                        return Err(bad(format!(
                            "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        )));
                    }
                    if b["content"].as_str().is_some_and(|c| c.trim().is_empty()) {
                        return Err(bad(format!(
                            "messages.{i}.content.{j}.tool_result: content cannot be empty"
                        )));
                    }
                    if !b["content"].is_string()
                        || !(b.get("is_error").is_none() || b["is_error"].is_boolean())
                    {
                        return Err(bad(format!(
                            "messages.{i}.content.{j}: invalid tool_result"
                        )));
                    }
                    answered.push(id.to_owned());
                }
                (_, other) => {
                    return Err(bad(format!(
                        "messages.{i}.content.{j}: block type {other:?} not allowed in a {role} message"
                    )));
                }
            }
        }
        if role == "user" {
            if let Some(missing) = open_calls.iter().find(|c| !answered.contains(c)) {
                return Err(bad(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {missing}"
                )));
            }
            open_calls.clear();
            expected_role = "assistant";
        } else {
            open_calls = calls;
            expected_role = "user";
        }
    }
    if !open_calls.is_empty() {
        return Err(bad(
            "the last assistant message has unanswered tool_use blocks",
        ));
    }
    Ok(())
}

/// A Messages API answer in the API's shape.
pub fn message(content: Value, stop_reason: &str, input: u64, output: u64) -> Value {
    json!({
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "model": "mock-model",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output}
    })
}
