//! The action model: everything an agent can ask warden to do.
//!
//! An [`Action`] is the unit the decision pipeline judges. Tool calls from the
//! model, `warden check --action FILE.json` and policy fixtures all arrive in
//! this one form, so the pipeline has a single input type. The JSON form is
//! internally tagged by `kind`:
//!
//! ```json
//! {"kind": "exec", "command": ["cargo", "test"], "cwd": "."}
//! {"kind": "exec", "command": ["curl", "https://x.example"],
//!  "escalate": {"network": ["x.example"], "justification": "fetch the schema"}}
//! {"kind": "write", "path": "/etc/hosts"}
//! {"kind": "network", "scheme": "https", "host": "crates.io", "port": 443}
//! {"kind": "mcp", "server": "github", "tool": "create_issue", "arguments": {}}
//! {"kind": "request_permissions", "writable_roots": ["../other"], "hosts": [],
//!  "justification": "…"}
//! {"kind": "skill", "name": "release-notes", "script": "run.sh", "args": []}
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One request from the agent, before any decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Run a program (argv) or a shell script (`["bash", "-lc", "…"]`).
    Exec {
        command: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<PathBuf>,
        /// What the command needs beyond the sandbox, if anything.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalate: Option<Escalation>,
    },
    /// Read a file.
    Read { path: PathBuf },
    /// Create or modify a file.
    Write { path: PathBuf },
    /// Reach a host over the network.
    Network {
        #[serde(default = "default_scheme")]
        scheme: String,
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
    },
    /// Call a tool of an MCP server.
    Mcp {
        server: String,
        tool: String,
        #[serde(default)]
        arguments: serde_json::Value,
        #[serde(default)]
        annotations: ToolAnnotations,
    },
    /// Ask for more permissions for the rest of the run.
    RequestPermissions {
        #[serde(default)]
        writable_roots: Vec<PathBuf>,
        #[serde(default)]
        hosts: Vec<String>,
        #[serde(default)]
        justification: String,
    },
    /// Run a script from a configured skills directory.
    Skill {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        script: Option<String>,
        #[serde(default)]
        args: Vec<String>,
    },
}

fn default_scheme() -> String {
    "https".to_owned()
}

/// What an exec asks for beyond the sandbox. Least privilege: an approval
/// grants exactly these, for that one command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Hosts the command needs to reach (network is otherwise off).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<String>,
    /// Paths outside the writable roots the command needs to write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<PathBuf>,
    /// Run without the sandbox at all: the last resort.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsandboxed: bool,
    /// Why the agent needs it, in its own words (untrusted).
    #[serde(default)]
    pub justification: String,
}

impl Escalation {
    /// True when nothing beyond the sandbox is requested.
    pub fn is_empty(&self) -> bool {
        self.network.is_empty() && self.write.is_empty() && !self.unsandboxed
    }
}

/// MCP tool annotations as the server declared them. Per the MCP spec a
/// missing hint means the worst case, which [`ToolAnnotations::is_read_only`]
/// and friends implement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolAnnotations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

impl ToolAnnotations {
    /// Read-only only when the server says so explicitly.
    pub fn is_read_only(&self) -> bool {
        self.read_only_hint == Some(true)
            && self.destructive_hint != Some(true)
            && self.open_world_hint != Some(true)
    }
}

/// The short name of an action's kind, as used in rules, reports and stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Exec,
    Read,
    Write,
    Network,
    Mcp,
    RequestPermissions,
    Skill,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Exec => "exec",
            ActionKind::Read => "read",
            ActionKind::Write => "write",
            ActionKind::Network => "network",
            ActionKind::Mcp => "mcp",
            ActionKind::RequestPermissions => "request_permissions",
            ActionKind::Skill => "skill",
        }
    }
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Exec { .. } => ActionKind::Exec,
            Action::Read { .. } => ActionKind::Read,
            Action::Write { .. } => ActionKind::Write,
            Action::Network { .. } => ActionKind::Network,
            Action::Mcp { .. } => ActionKind::Mcp,
            Action::RequestPermissions { .. } => ActionKind::RequestPermissions,
            Action::Skill { .. } => ActionKind::Skill,
        }
    }

    /// A stable key for "the same action": used by the decision cache, the
    /// repeated-denial short-circuit and `--approve D2` overrides. It is the
    /// canonical JSON of the action with the agent's free-text justification
    /// removed, so rephrasing a justification does not make a new action.
    pub fn normalized_key(&self) -> String {
        let mut normalized = self.clone();
        match &mut normalized {
            Action::Exec {
                escalate: Some(e), ..
            } => {
                e.justification.clear();
                e.network.sort();
                e.network.dedup();
                e.write.sort();
                e.write.dedup();
            }
            Action::RequestPermissions {
                justification,
                writable_roots,
                hosts,
            } => {
                justification.clear();
                writable_roots.sort();
                hosts.sort();
            }
            _ => {}
        }
        // serde_json::Value maps are ordered (BTreeMap) without the
        // `preserve_order` feature, so this is canonical.
        let value = serde_json::to_value(&normalized).expect("actions always serialize");
        value.to_string()
    }

    /// A one-line human summary, used in reports and logs.
    pub fn summary(&self) -> String {
        match self {
            Action::Exec { command, .. } => format!("exec {}", shell_words_display(command)),
            Action::Read { path } => format!("read {}", path.display()),
            Action::Write { path } => format!("write {}", path.display()),
            Action::Network { scheme, host, port } => match port {
                Some(p) => format!("network {scheme}://{host}:{p}"),
                None => format!("network {scheme}://{host}"),
            },
            Action::Mcp { server, tool, .. } => format!("mcp {server}/{tool}"),
            Action::RequestPermissions {
                writable_roots,
                hosts,
                ..
            } => {
                let roots: Vec<String> = writable_roots
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                format!(
                    "request_permissions roots=[{}] hosts=[{}]",
                    roots.join(", "),
                    hosts.join(", ")
                )
            }
            Action::Skill { name, args, .. } => {
                format!("skill {name} {}", shell_words_display(args))
                    .trim_end()
                    .to_owned()
            }
        }
    }
}

/// Join argv for display, quoting words that need it.
pub fn shell_words_display(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+~".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Free-form string map used by MCP server env and similar settings.
pub type StringMap = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_from_json() {
        let cases = [
            r#"{"kind":"exec","command":["cargo","test"]}"#,
            r#"{"kind":"read","path":"/etc/hosts"}"#,
            r#"{"kind":"write","path":"src/lib.rs"}"#,
            r#"{"kind":"network","host":"crates.io","port":443}"#,
            r#"{"kind":"mcp","server":"gh","tool":"list","arguments":{"a":1},"annotations":{"readOnlyHint":true}}"#,
            r#"{"kind":"request_permissions","hosts":["x.example"],"justification":"j"}"#,
            r#"{"kind":"skill","name":"fmt","args":["--all"]}"#,
        ];
        let kinds: Vec<ActionKind> = cases
            .iter()
            .map(|c| serde_json::from_str::<Action>(c).unwrap().kind())
            .collect();
        assert_eq!(
            kinds,
            vec![
                ActionKind::Exec,
                ActionKind::Read,
                ActionKind::Write,
                ActionKind::Network,
                ActionKind::Mcp,
                ActionKind::RequestPermissions,
                ActionKind::Skill
            ]
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<Action>(r#"{"kind":"read","path":"x","sneaky":1}"#);
        assert!(err.is_err());
    }

    #[test]
    fn normalized_key_ignores_justification_only() {
        let a: Action = serde_json::from_str(
            r#"{"kind":"exec","command":["curl","x"],"escalate":{"network":["b","a"],"justification":"one"}}"#,
        )
        .unwrap();
        let b: Action = serde_json::from_str(
            r#"{"kind":"exec","command":["curl","x"],"escalate":{"network":["a","b"],"justification":"two"}}"#,
        )
        .unwrap();
        let c: Action = serde_json::from_str(
            r#"{"kind":"exec","command":["curl","y"],"escalate":{"network":["a","b"]}}"#,
        )
        .unwrap();
        assert_eq!(a.normalized_key(), b.normalized_key());
        assert_ne!(a.normalized_key(), c.normalized_key());
    }

    #[test]
    fn missing_hints_are_not_read_only() {
        assert!(!ToolAnnotations::default().is_read_only());
        let ro = ToolAnnotations {
            read_only_hint: Some(true),
            ..Default::default()
        };
        assert!(ro.is_read_only());
    }
}
