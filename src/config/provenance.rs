//! Where each resolved value came from, and how values are rendered for
//! `warden profiles show`.

use std::time::Duration;

use serde::Serialize;

use crate::decision::Source;

/// The kind of layer a value came from, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// A built-in profile (or `profiles/common.toml` below it).
    Builtin,
    /// `WORKSPACE/.warden/config.toml`.
    Project,
    /// A `--config FILE`.
    ConfigFile,
    /// A `-c key=value`.
    Override,
    /// Managed requirements.
    Requirements,
    /// A default in code (only per-MCP-server fields not set anywhere).
    Default,
}

impl LayerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Builtin => "builtin",
            LayerKind::Project => "project",
            LayerKind::ConfigFile => "config",
            LayerKind::Override => "override",
            LayerKind::Requirements => "requirements",
            LayerKind::Default => "default",
        }
    }
}

/// One loaded layer, in the order applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerInfo {
    pub kind: LayerKind,
    /// The file as named in sources (`builtin:profiles/ci.toml`, `-c`, …).
    pub name: String,
}

/// Where one resolved value came from. List items have their own entry
/// (`sandbox.deny_read[3]`); map entries use their key
/// (`sandbox.env.set.CI`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// Dotted key path.
    pub key: String,
    /// The value as TOML (long texts are summarised).
    pub value: String,
    pub layer: LayerKind,
    /// `None` only for code defaults.
    pub source: Option<Source>,
}

/// A value with the layer and place that set it.
#[derive(Debug, Clone)]
pub struct Set<T> {
    pub value: T,
    pub layer: LayerKind,
    pub source: Source,
}

impl<T> Set<T> {
    /// The same place, another form of the value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Set<U> {
        Set {
            value: f(self.value),
            layer: self.layer,
            source: self.source,
        }
    }

    pub fn provenance(&self, key: impl Into<String>, value: String) -> Provenance {
        Provenance {
            key: key.into(),
            value,
            layer: self.layer,
            source: Some(self.source.clone()),
        }
    }
}

/// What `profiles show` prints instead of a credential-like value.
pub const HIDDEN: &str = "\"<hidden>\"";

/// Whether an environment variable name suggests its value is a credential
/// (such values are never printed by `profiles show`).
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "KEY",
        "CREDENTIAL",
        "AUTH",
        "COOKIE",
        "SESSION",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// Render any serializable value as an inline TOML value.
pub fn render<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(v) => render_json(&v),
        Err(_) => "?".to_owned(),
    }
}

/// A duration as humantime, quoted (`"10m"`).
pub fn render_duration(d: Duration) -> String {
    render(&humantime::format_duration(d).to_string())
}

/// A long text summarised to its size (policies).
pub fn render_text_summary(text: &str) -> String {
    format!("<{} lines, {} bytes>", text.lines().count(), text.len())
}

fn render_json(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "none".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => toml::Value::String(s.clone()).to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(render_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{} = {}", render_key(k), render_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A key, quoted only when it must be.
pub fn render_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_owned()
    } else {
        toml::Value::String(k.to_owned()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema::{Granular, SandboxMode};

    #[test]
    fn values_render_as_toml() {
        assert_eq!(render(&SandboxMode::WorkspaceWrite), "\"workspace-write\"");
        assert_eq!(render(&vec!["a", "b\"c"]), "[\"a\", 'b\"c']");
        assert_eq!(
            render(&Granular::NEVER),
            "{ mcp_elicitations = false, request_permissions = false, rules = false, sandbox_approval = false, skill_approval = false }"
        );
        assert_eq!(render_duration(Duration::from_secs(600)), "\"10m\"");
        assert_eq!(render_key("a.b"), "\"a.b\"");
    }
}
