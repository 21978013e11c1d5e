//! Checking a scenario's `expect` against what the agent actually sent, and
//! the protocol rule every real API enforces: each tool call of the model's
//! previous turn is answered by a tool result.

use super::scenario::{Expect, ReviewExpect, TextExpect, ToolResultExpect};
use crate::model::structured::StructuredRequest;
use crate::model::text::truncate_chars;
use crate::model::{ChatRequest, DENIAL_MARKER, Message, ProviderError, is_denial};

/// Characters of seen text quoted in a failure.
const QUOTE_CHARS: usize = 200;

/// Where a check runs, for messages: `scenario.yaml turn 3`.
pub(crate) struct Place<'a> {
    pub origin: &'a str,
    pub what: &'static str,
    pub number: usize,
}

impl Place<'_> {
    fn fail(
        &self,
        expected: impl std::fmt::Display,
        seen: impl std::fmt::Display,
    ) -> ProviderError {
        ProviderError::ScriptAssertion(format!(
            "{} {} {}: expected {expected}, but {seen}",
            self.origin, self.what, self.number
        ))
    }
}

/// Quote text for a failure message: redacted, shortened, escaped.
fn quote(text: &str) -> String {
    format!(
        "{:?}",
        truncate_chars(&crate::redact::redact(text), QUOTE_CHARS)
    )
}

/// Messages after the model's last turn (the whole conversation if it has
/// not spoken yet).
fn since_last_assistant(messages: &[Message]) -> &[Message] {
    match messages
        .iter()
        .rposition(|m| matches!(m, Message::Assistant { .. }))
    {
        Some(i) => &messages[i + 1..],
        None => messages,
    }
}

/// Every tool call of the model's last turn must have a result after it.
pub(crate) fn check_calls_answered(req: &ChatRequest, place: &Place) -> Result<(), ProviderError> {
    let Some(pos) = req
        .messages
        .iter()
        .rposition(|m| matches!(m, Message::Assistant { .. }))
    else {
        return Ok(());
    };
    let Message::Assistant { tool_calls, .. } = &req.messages[pos] else {
        return Ok(());
    };
    for call in tool_calls {
        let answered = req.messages[pos + 1..]
            .iter()
            .any(|m| matches!(m, Message::ToolResult { call_id, .. } if *call_id == call.id));
        if !answered {
            return Err(place.fail(
                format!("a tool result for call {} ({})", call.id, call.name),
                "the request has none (every tool call must be answered)",
            ));
        }
    }
    Ok(())
}

/// Check a turn's `expect` against the chat request.
pub(crate) fn check_turn(
    expect: &Expect,
    req: &ChatRequest,
    place: &Place,
) -> Result<(), ProviderError> {
    let recent = since_last_assistant(&req.messages);
    let results: Vec<(&str, &str, bool)> = recent
        .iter()
        .filter_map(|m| match m {
            Message::ToolResult {
                call_id,
                content,
                is_error,
            } => Some((call_id.as_str(), content.as_str(), *is_error)),
            _ => None,
        })
        .collect();
    if let Some(want) = expect.tool_results
        && want != results.len()
    {
        return Err(place.fail(
            format!("{want} tool result(s) since the previous turn"),
            format!("there were {}", results.len()),
        ));
    }
    if let Some(want) = &expect.last_tool_result {
        let Some(&(call_id, content, is_error)) = results.last() else {
            return Err(place.fail("a tool result since the previous turn", "there was none"));
        };
        check_tool_result(want, req, call_id, content, is_error, place)?;
    }
    if let Some(want) = &expect.last_user {
        let last_user = req.messages.iter().rev().find_map(|m| match m {
            Message::User { content } => Some(content.as_str()),
            _ => None,
        });
        let Some(text) = last_user else {
            return Err(place.fail("a user message", "there was none"));
        };
        check_text(want, "the last user message", text, place)?;
    }
    if let Some(want) = &expect.system {
        check_text(want, "the system prompt", &req.system, place)?;
    }
    if let Some(names) = &expect.tools {
        let offered: Vec<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
        if let Some(missing) = names.iter().find(|n| !offered.contains(&n.as_str())) {
            return Err(place.fail(
                format!("tool `{missing}` to be offered"),
                format!("the tools offered were {offered:?}"),
            ));
        }
    }
    Ok(())
}

fn check_tool_result(
    want: &ToolResultExpect,
    req: &ChatRequest,
    call_id: &str,
    content: &str,
    is_error: bool,
    place: &Place,
) -> Result<(), ProviderError> {
    let what = format!("the last tool result (call {call_id})");
    if let Some(denied) = want.denied
        && denied != is_denial(content)
    {
        let expected = if denied {
            format!("{what} to be a denial (start with {DENIAL_MARKER:?})")
        } else {
            format!("{what} not to be a denial")
        };
        return Err(place.fail(expected, format!("it was {}", quote(content))));
    }
    if let Some(want_error) = want.is_error
        && want_error != is_error
    {
        return Err(place.fail(
            format!("{what} to have is_error: {want_error}"),
            format!("it had is_error: {is_error}; content {}", quote(content)),
        ));
    }
    check_text(
        &TextExpect {
            contains: want.contains.clone(),
            not_contains: want.not_contains.clone(),
        },
        &what,
        content,
        place,
    )?;
    if let Some(tool) = &want.tool {
        let called = req.messages.iter().find_map(|m| match m {
            Message::Assistant { tool_calls, .. } => tool_calls
                .iter()
                .find(|c| c.id == call_id)
                .map(|c| c.name.as_str()),
            _ => None,
        });
        if called != Some(tool.as_str()) {
            return Err(place.fail(
                format!("{what} to answer a call to `{tool}`"),
                match called {
                    Some(name) => format!("it answers a call to `{name}`"),
                    None => "no call with that id was made".to_owned(),
                },
            ));
        }
    }
    Ok(())
}

fn check_text(
    want: &TextExpect,
    what: &str,
    text: &str,
    place: &Place,
) -> Result<(), ProviderError> {
    if let Some(needle) = &want.contains
        && !text.contains(needle.as_str())
    {
        return Err(place.fail(
            format!("{what} to contain {needle:?}"),
            format!("it was {}", quote(text)),
        ));
    }
    if let Some(needle) = &want.not_contains
        && text.contains(needle.as_str())
    {
        return Err(place.fail(
            format!("{what} not to contain {needle:?}"),
            format!("it was {}", quote(text)),
        ));
    }
    Ok(())
}

/// Check a review's `expect` against the structured request.
pub(crate) fn check_review(
    expect: &ReviewExpect,
    req: &StructuredRequest<'_>,
    place: &Place,
) -> Result<(), ProviderError> {
    if let Some(want) = &expect.user {
        check_text(want, "the reviewer's user message", req.user, place)?;
    }
    if let Some(want) = &expect.system {
        check_text(want, "the reviewer's system prompt", req.system, place)?;
    }
    Ok(())
}
