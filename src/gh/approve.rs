//! The `/warden approve D2` pull-request comment, parsed strictly.
//!
//! The comment's first non-empty line must be exactly `/warden approve`
//! followed by one or more denial ids (`D` and a number without leading
//! zeros, e.g. `D2`), separated by spaces or commas; later lines are free
//! text (a reason). Anything else on the first line is an error, so a
//! comment body never reaches a shell, a flag or a path: only ids that
//! passed this check leave it, joined by commas for `WARDEN_APPROVE`.

use serde_json::Value;

use crate::github::event::str_at;
use crate::judge::denials::KEPT;

/// A valid command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproveCommand {
    /// Denial ids, in the order given, without duplicates.
    pub ids: Vec<String>,
    /// The pull request the comment is on.
    pub pr_number: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApproveError {
    /// Not an approve command at all (exit 1: nothing to do).
    #[error("{0}")]
    NotACommand(String),
    /// An approve command with something wrong in it (exit 2).
    #[error("{0}")]
    Malformed(String),
}

/// Parse the command out of an `issue_comment` event.
pub fn from_event(event: &Value) -> Result<ApproveCommand, ApproveError> {
    if let Some(action) = str_at(event, "/action")
        && action != "created"
    {
        return Err(ApproveError::NotACommand(format!(
            "the comment was {action}, not created: only a new comment is a command"
        )));
    }
    let body = str_at(event, "/comment/body").ok_or_else(|| {
        ApproveError::NotACommand("the event has no comment (comment.body)".into())
    })?;
    if event.pointer("/issue/pull_request").is_none() {
        return Err(ApproveError::NotACommand(
            "the comment is on an issue, not a pull request".into(),
        ));
    }
    let pr_number = event
        .pointer("/issue/number")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApproveError::Malformed("the event has no issue.number".into()))?;
    Ok(ApproveCommand {
        ids: parse_comment(body)?,
        pr_number,
    })
}

/// The ids of a comment body.
pub fn parse_comment(body: &str) -> Result<Vec<String>, ApproveError> {
    let first = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut words = first
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty());
    if words.next() != Some("/warden") {
        return Err(ApproveError::NotACommand(
            "the comment does not start with /warden".into(),
        ));
    }
    match words.next() {
        Some("approve") => {}
        Some(other) => {
            return Err(ApproveError::Malformed(format!(
                "unknown /warden command {}: the only command is `/warden approve D2`",
                shown(other)
            )));
        }
        None => {
            return Err(ApproveError::Malformed(
                "`/warden` needs a command: `/warden approve D2`".into(),
            ));
        }
    }
    let mut ids: Vec<String> = Vec::new();
    for word in words {
        if !is_denial_id(word) {
            return Err(ApproveError::Malformed(format!(
                "{} is not a denial id: ids look like D2 (see the warden comment on this pull request)",
                shown(word)
            )));
        }
        if !ids.iter().any(|i| i == word) {
            ids.push(word.to_owned());
        }
    }
    if ids.is_empty() {
        return Err(ApproveError::Malformed(
            "`/warden approve` needs at least one denial id, e.g. `/warden approve D2`".into(),
        ));
    }
    if ids.len() > KEPT {
        return Err(ApproveError::Malformed(format!(
            "{} ids given; warden keeps only the {KEPT} most recent denials",
            ids.len()
        )));
    }
    Ok(ids)
}

/// `D` then 1–9 digits, no leading zero (`^D[1-9][0-9]{0,8}$`).
pub fn is_denial_id(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('D') else {
        return false;
    };
    (1..=9).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A word from the comment, quoted and bounded for an error message.
fn shown(word: &str) -> String {
    format!("{:?}", word.chars().take(40).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn valid_commands() {
        assert_eq!(parse_comment("/warden approve D2").unwrap(), ["D2"]);
        assert_eq!(
            parse_comment("\n  /warden approve D2, D15 D2\nbecause the host is ours").unwrap(),
            ["D2", "D15"]
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for (body, not_a_command) in [
            ("thanks!", true),
            ("please /warden approve D2", true),
            ("/wardenapprove D2", true),
            ("/warden", false),
            ("/warden deny D2", false),
            ("/warden approve", false),
            ("/warden approve d2", false),
            ("/warden approve D02", false),
            ("/warden approve D0", false),
            ("/warden approve D2;rm -rf /", false),
            ("/warden approve D2 $(id)", false),
            ("/warden approve D1234567890", false),
            ("/warden approve D2`id`", false),
        ] {
            let err = parse_comment(body).unwrap_err();
            assert_eq!(
                matches!(err, ApproveError::NotACommand(_)),
                not_a_command,
                "{body:?}: {err}"
            );
        }
        let many: Vec<String> = (1..=11).map(|i| format!("D{i}")).collect();
        assert!(parse_comment(&format!("/warden approve {}", many.join(" "))).is_err());
    }

    #[test]
    fn from_an_issue_comment_event() {
        let event = json!({
            "action": "created",
            "issue": {"number": 7, "pull_request": {"url": "x"}},
            "comment": {"body": "/warden approve D3"}
        });
        assert_eq!(
            from_event(&event).unwrap(),
            ApproveCommand {
                ids: vec!["D3".into()],
                pr_number: 7
            }
        );
        let mut edited = event.clone();
        edited["action"] = json!("edited");
        assert!(matches!(
            from_event(&edited),
            Err(ApproveError::NotACommand(_))
        ));
        let mut on_issue = event.clone();
        on_issue["issue"] = json!({"number": 7});
        assert!(matches!(
            from_event(&on_issue),
            Err(ApproveError::NotACommand(_))
        ));
    }
}
