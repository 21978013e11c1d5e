//! The job's environment as a map, and the event payload it points to
//! (`GITHUB_EVENT_PATH`), read once and bounded.

use std::collections::BTreeMap;
use std::io::Read as _;

use serde_json::Value;

/// Environment variables by name.
pub type EnvMap = BTreeMap<String, String>;

/// GitHub caps webhook payloads at 25 MB; a larger file is not an event.
const MAX_EVENT_BYTES: u64 = 25 * 1024 * 1024;

/// The process environment (variables that are not UTF-8 are left out:
/// none of the ones warden reads can be).
pub fn process_env() -> EnvMap {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// A variable, trimmed; unset and empty are the same (a workflow expression
/// that expands to nothing sets an empty variable).
pub fn var(env: &EnvMap, name: &str) -> Option<String> {
    env.get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The event payload, or `None` when `GITHUB_EVENT_PATH` is not set. An
/// unreadable or malformed file is an error: callers fail closed on it.
pub fn read_event(env: &EnvMap) -> Result<Option<Value>, String> {
    let Some(path) = var(env, "GITHUB_EVENT_PATH") else {
        return Ok(None);
    };
    let file = std::fs::File::open(&path)
        .map_err(|e| format!("cannot read GITHUB_EVENT_PATH {path}: {e}"))?;
    let mut text = String::new();
    file.take(MAX_EVENT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read GITHUB_EVENT_PATH {path}: {e}"))?;
    if text.len() as u64 > MAX_EVENT_BYTES {
        return Err(format!(
            "GITHUB_EVENT_PATH {path} is larger than GitHub's 25 MB payload limit"
        ));
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("GITHUB_EVENT_PATH {path} is not JSON: {e}"))
}

/// A string at a JSON pointer.
pub fn str_at<'a>(event: &'a Value, pointer: &str) -> Option<&'a str> {
    event.pointer(pointer).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_unset_and_malformed_events() {
        let mut env = EnvMap::new();
        assert_eq!(read_event(&env), Ok(None));
        env.insert("GITHUB_EVENT_PATH".into(), "  ".into());
        assert_eq!(read_event(&env), Ok(None));
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("e.json");
        std::fs::write(&bad, "{not json").unwrap();
        env.insert("GITHUB_EVENT_PATH".into(), bad.display().to_string());
        assert!(read_event(&env).unwrap_err().contains("is not JSON"));
        env.insert("GITHUB_EVENT_PATH".into(), "/nonexistent/e.json".into());
        assert!(read_event(&env).unwrap_err().contains("cannot read"));
        std::fs::write(&bad, r#"{"sender":{"login":"octocat"}}"#).unwrap();
        env.insert("GITHUB_EVENT_PATH".into(), bad.display().to_string());
        let event = read_event(&env).unwrap().unwrap();
        assert_eq!(str_at(&event, "/sender/login"), Some("octocat"));
    }
}
