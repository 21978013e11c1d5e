//! What the Chat Completions API enforces on a request, as far as warden's
//! requests exercise it. A violation is answered with the API's error shape.

use serde_json::{Value, json};

use super::{Recorded, Rejection};

const KNOWN_FIELDS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "response_format",
    "max_tokens",
    "max_completion_tokens",
];

fn bad(message: impl Into<String>) -> Rejection {
    let message = message.into();
    (
        400,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

pub fn check(req: &Recorded, key: Option<&str>) -> Result<(), Rejection> {
    if req.method != "POST" || req.path != "/v1/chat/completions" {
        return Err((
            404,
            json!({"error": {"message": format!("Unknown path {}", req.path)}}),
        ));
    }
    if let Some(key) = key {
        let sent = req.header("authorization").unwrap_or("");
        if sent != format!("Bearer {key}") {
            // The real API echoes (a masked form of) the key it was given.
            let given = sent.strip_prefix("Bearer ").unwrap_or(sent);
            return Err((
                401,
                json!({"error": {"message": format!("Incorrect API key provided: {given}."), "type": "invalid_request_error", "code": "invalid_api_key"}}),
            ));
        }
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
        return Err(bad(format!(
            "Unrecognized request argument supplied: {unknown}"
        )));
    }
    if body
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(|m| m.is_empty())
    {
        return Err(bad("you must provide a model parameter"));
    }
    match (body.get("max_tokens"), body.get("max_completion_tokens")) {
        (Some(_), Some(_)) => {
            return Err(bad("max_tokens and max_completion_tokens are exclusive"));
        }
        (Some(n), None) | (None, Some(n)) if n.as_u64().is_none_or(|n| n == 0) => {
            return Err(bad("max tokens must be a positive integer"));
        }
        _ => {}
    }
    let tool_names = check_tools(body.get("tools"))?;
    check_messages(body.get("messages"))?;
    if let Some(choice) = body.get("tool_choice") {
        let name = choice
            .pointer("/function/name")
            .and_then(Value::as_str)
            .filter(|_| choice["type"] == "function")
            .ok_or_else(|| bad("tool_choice must be {type: function, function: {name}}"))?;
        if !tool_names.iter().any(|n| n == name) {
            return Err(bad(format!("tool_choice names unknown function {name}")));
        }
    }
    if let Some(format) = body.get("response_format") {
        check_response_format(format)?;
    }
    Ok(())
}

fn check_tools(tools: Option<&Value>) -> Result<Vec<String>, Rejection> {
    let Some(tools) = tools else {
        return Ok(vec![]);
    };
    let tools = tools.as_array().filter(|t| !t.is_empty()).ok_or_else(|| {
        bad("Invalid 'tools': empty array. Expected an array with minimum length 1")
    })?;
    let mut names = vec![];
    for (i, tool) in tools.iter().enumerate() {
        let f = &tool["function"];
        let name = f["name"].as_str().unwrap_or("");
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if tool["type"] != "function" || !name_ok || !f["description"].is_string() {
            return Err(bad(format!("Invalid 'tools[{i}]'")));
        }
        if f["parameters"]["type"] != "object" {
            return Err(bad(format!(
                "Invalid schema for function '{name}': must be type object"
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
        .ok_or_else(|| bad("'messages' must be a non-empty array"))?;
    // Tool calls of the last assistant message still waiting for results.
    let mut pending: Vec<String> = vec![];
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("");
        if role != "tool" && !pending.is_empty() {
            return Err(bad(format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. Missing: {pending:?} (before messages[{i}])"
            )));
        }
        match role {
            "system" if i == 0 => require_string(m, i)?,
            "user" => require_string(m, i)?,
            "assistant" => {
                let calls = m.get("tool_calls");
                if let Some(calls) = calls {
                    let calls = calls.as_array().filter(|c| !c.is_empty()).ok_or_else(|| {
                        bad(format!("Invalid 'messages[{i}].tool_calls': empty array"))
                    })?;
                    for c in calls {
                        let args = c.pointer("/function/arguments").and_then(Value::as_str);
                        let args_ok = args
                            .and_then(|a| serde_json::from_str::<Value>(a).ok())
                            .is_some_and(|v| v.is_object());
                        if c["type"] != "function"
                            || !c["id"].is_string()
                            || !c.pointer("/function/name").is_some_and(Value::is_string)
                            || !args_ok
                        {
                            return Err(bad(format!("Invalid 'messages[{i}].tool_calls'")));
                        }
                        pending.push(c["id"].as_str().unwrap().to_owned());
                    }
                    if !(m["content"].is_null() || m["content"].is_string()) {
                        return Err(bad(format!("Invalid 'messages[{i}].content'")));
                    }
                } else {
                    require_string(m, i)?;
                }
            }
            "tool" => {
                require_string(m, i)?;
                let id = m["tool_call_id"].as_str().unwrap_or("");
                let Some(pos) = pending.iter().position(|p| p == id) else {
                    return Err(bad(format!(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls' (messages[{i}], id {id:?})"
                    )));
                };
                pending.remove(pos);
            }
            other => return Err(bad(format!("Invalid role {other:?} at messages[{i}]"))),
        }
    }
    if !pending.is_empty() {
        return Err(bad(format!("tool calls without responses: {pending:?}")));
    }
    Ok(())
}

fn require_string(m: &Value, i: usize) -> Result<(), Rejection> {
    if m["content"].is_string() {
        Ok(())
    } else {
        Err(bad(format!(
            "Invalid 'messages[{i}].content': expected a string"
        )))
    }
}

fn check_response_format(format: &Value) -> Result<(), Rejection> {
    let schema = &format["json_schema"]["schema"];
    if format["type"] != "json_schema"
        || !format["json_schema"]["name"].is_string()
        || format["json_schema"]["strict"] != true
        || schema["type"] != "object"
    {
        return Err(bad("Invalid 'response_format'"));
    }
    if schema["additionalProperties"] != false {
        return Err(bad(
            "Invalid schema for response_format: 'additionalProperties' is required to be supplied and to be false",
        ));
    }
    Ok(())
}

/// A chat completion answer in the API's shape.
pub fn completion(message: Value, finish_reason: &str, prompt: u64, completion: u64) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "mock-model",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    })
}
