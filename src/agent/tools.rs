//! The tools offered to the model, and how each call becomes an [`Action`].
//!
//! Every tool call is turned into one action that goes through the decision
//! pipeline before anything happens; file tools are then carried out by a
//! sandboxed process (see [`super::exec`]), so the kernel enforces what the
//! pipeline predicted.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::action::{Action, Escalation};
use crate::model::{ToolCall, ToolSpec};

/// A tool call the loop knows how to run, with its action.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    Shell {
        action: Action,
        timeout_secs: Option<u64>,
    },
    ReadFile {
        action: Action,
    },
    WriteFile {
        action: Action,
        content: String,
    },
    /// One write action per file the patch touches; all must be allowed.
    ApplyPatch {
        actions: Vec<Action>,
        patch: String,
    },
    ListDir {
        action: Action,
    },
    Grep {
        action: Action,
        pattern: String,
    },
    RequestPermissions {
        action: Action,
    },
    Skill {
        action: Action,
    },
    Mcp {
        action: Action,
    },
}

impl Planned {
    /// The actions to decide, in order.
    pub fn actions(&self) -> Vec<&Action> {
        match self {
            Planned::ApplyPatch { actions, .. } => actions.iter().collect(),
            Planned::Shell { action, .. }
            | Planned::ReadFile { action }
            | Planned::WriteFile { action, .. }
            | Planned::ListDir { action }
            | Planned::Grep { action, .. }
            | Planned::RequestPermissions { action }
            | Planned::Skill { action }
            | Planned::Mcp { action } => vec![action],
        }
    }
}

/// The built-in tools' specs.
pub fn builtin_specs() -> Vec<ToolSpec> {
    let escalate = json!({
        "type": "object",
        "description": "Ask for what the command needs beyond the sandbox. Least privilege: name exactly what is needed. An approval applies to this one command only.",
        "properties": {
            "network": {"type": "array", "items": {"type": "string"}, "description": "hosts the command must reach"},
            "write": {"type": "array", "items": {"type": "string"}, "description": "paths outside the workspace the command must write"},
            "unsandboxed": {"type": "boolean", "description": "run without the sandbox: last resort"}
        },
        "additionalProperties": false
    });
    vec![
        spec(
            "shell",
            "Run a shell command in the workspace, inside the sandbox (no network, writes only in the workspace, secrets unreadable). Give `command` as a shell script string or an argv array.",
            json!({
                "type": "object",
                "properties": {
                    "command": {"description": "shell script (string) or argv (array of strings)", "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "cwd": {"type": "string", "description": "directory relative to the workspace"},
                    "timeout_secs": {"type": "integer", "minimum": 1},
                    "escalate": escalate,
                    "justification": {"type": "string", "description": "why the escalation is needed"}
                },
                "required": ["command"],
                "additionalProperties": false
            }),
        ),
        spec(
            "read_file",
            "Read a text file.",
            json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"], "additionalProperties": false}),
        ),
        spec(
            "write_file",
            "Create or replace a file with the given content.",
            json!({"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}, "required": ["path", "content"], "additionalProperties": false}),
        ),
        spec(
            "apply_patch",
            "Apply a unified diff (as produced by `diff -u` or `git diff`) to files in the workspace.",
            json!({"type": "object", "properties": {"patch": {"type": "string"}}, "required": ["patch"], "additionalProperties": false}),
        ),
        spec(
            "list_dir",
            "List a directory.",
            json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"], "additionalProperties": false}),
        ),
        spec(
            "grep",
            "Search files under a path for a regular expression (grep -rnE).",
            json!({"type": "object", "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}}, "required": ["pattern"], "additionalProperties": false}),
        ),
        spec(
            "request_permissions",
            "Ask for extra writable roots or hosts for the rest of the run, with a justification. Reviewed; may be refused.",
            json!({"type": "object", "properties": {
                "writable_roots": {"type": "array", "items": {"type": "string"}},
                "hosts": {"type": "array", "items": {"type": "string"}},
                "justification": {"type": "string"}
            }, "required": ["justification"], "additionalProperties": false}),
        ),
        spec(
            "skill",
            "Run a skill: a script under a configured skills directory (`<dir>/<name>/run` or `<dir>/<name>/<script>`).",
            json!({"type": "object", "properties": {
                "name": {"type": "string"},
                "script": {"type": "string"},
                "args": {"type": "array", "items": {"type": "string"}}
            }, "required": ["name"], "additionalProperties": false}),
        ),
    ]
}

fn spec(name: &str, description: &str, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters,
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CommandArg {
    Script(String),
    Argv(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShellArgs {
    command: CommandArg,
    #[serde(default)]
    cwd: Option<PathBuf>,
    #[serde(default)]
    timeout_secs: Option<u64>,
    #[serde(default)]
    escalate: Option<EscalateArgs>,
    #[serde(default)]
    justification: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EscalateArgs {
    #[serde(default)]
    network: Vec<String>,
    #[serde(default)]
    write: Vec<PathBuf>,
    #[serde(default)]
    unsandboxed: bool,
    #[serde(default)]
    justification: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathArgs {
    path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    path: PathBuf,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchArgs {
    patch: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrepArgs {
    pattern: String,
    #[serde(default)]
    path: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionArgs {
    #[serde(default)]
    writable_roots: Vec<PathBuf>,
    #[serde(default)]
    hosts: Vec<String>,
    justification: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkillArgs {
    name: String,
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    args: Vec<String>,
}

fn parse<T: for<'de> Deserialize<'de>>(call: &ToolCall) -> Result<T, String> {
    serde_json::from_value(call.arguments.clone())
        .map_err(|e| format!("invalid arguments for `{}`: {e}", call.name))
}

/// Turn a tool call into a planned action. Unknown tools and bad
/// arguments are errors given back to the model (not reviews).
pub fn plan(call: &ToolCall) -> Result<Planned, String> {
    match call.name.as_str() {
        "shell" => {
            let a: ShellArgs = parse(call)?;
            let command = match a.command {
                CommandArg::Script(s) => vec!["bash".to_owned(), "-c".to_owned(), s],
                CommandArg::Argv(v) if !v.is_empty() => v,
                CommandArg::Argv(_) => return Err("`command` is empty".into()),
            };
            let escalate = a.escalate.map(|e| Escalation {
                network: e.network,
                write: e.write,
                unsandboxed: e.unsandboxed,
                justification: e.justification.or(a.justification).unwrap_or_default(),
            });
            Ok(Planned::Shell {
                action: Action::Exec {
                    command,
                    cwd: a.cwd,
                    escalate: escalate.filter(|e| !e.is_empty()),
                },
                timeout_secs: a.timeout_secs,
            })
        }
        "read_file" => {
            let a: PathArgs = parse(call)?;
            Ok(Planned::ReadFile {
                action: Action::Read { path: a.path },
            })
        }
        "write_file" => {
            let a: WriteArgs = parse(call)?;
            Ok(Planned::WriteFile {
                action: Action::Write { path: a.path },
                content: a.content,
            })
        }
        "apply_patch" => {
            let a: PatchArgs = parse(call)?;
            let files = super::patch::touched_files(&a.patch)?;
            Ok(Planned::ApplyPatch {
                actions: files
                    .into_iter()
                    .map(|path| Action::Write { path })
                    .collect(),
                patch: a.patch,
            })
        }
        "list_dir" => {
            let a: PathArgs = parse(call)?;
            Ok(Planned::ListDir {
                action: Action::Read { path: a.path },
            })
        }
        "grep" => {
            let a: GrepArgs = parse(call)?;
            Ok(Planned::Grep {
                action: Action::Read {
                    path: a.path.unwrap_or_else(|| PathBuf::from(".")),
                },
                pattern: a.pattern,
            })
        }
        "request_permissions" => {
            let a: PermissionArgs = parse(call)?;
            Ok(Planned::RequestPermissions {
                action: Action::RequestPermissions {
                    writable_roots: a.writable_roots,
                    hosts: a.hosts,
                    justification: a.justification,
                },
            })
        }
        "skill" => {
            let a: SkillArgs = parse(call)?;
            Ok(Planned::Skill {
                action: Action::Skill {
                    name: a.name,
                    script: a.script,
                    args: a.args,
                },
            })
        }
        name => match crate::mcp::parse_tool_name(name) {
            Some((server, tool)) => Ok(Planned::Mcp {
                action: Action::Mcp {
                    server: server.to_owned(),
                    tool: tool.to_owned(),
                    arguments: call.arguments.clone(),
                    annotations: Default::default(),
                },
            }),
            None => Err(format!("unknown tool `{name}`")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Value) -> ToolCall {
        ToolCall {
            id: "c1".into(),
            name: name.into(),
            arguments: args,
        }
    }

    #[test]
    fn shell_scripts_become_bash_c() {
        let p = plan(&call("shell", json!({"command": "cargo test"}))).unwrap();
        assert_eq!(
            p.actions()[0],
            &Action::Exec {
                command: vec!["bash".into(), "-c".into(), "cargo test".into()],
                cwd: None,
                escalate: None
            }
        );
    }

    #[test]
    fn escalations_carry_the_justification() {
        let p = plan(&call(
            "shell",
            json!({"command": ["cargo", "fetch"], "escalate": {"network": ["crates.io"]}, "justification": "deps"}),
        ))
        .unwrap();
        let Action::Exec {
            escalate: Some(e), ..
        } = p.actions()[0]
        else {
            panic!("expected an escalation")
        };
        assert_eq!(e.network, vec!["crates.io".to_owned()]);
        assert_eq!(e.justification, "deps");
    }

    #[test]
    fn bad_calls_are_errors() {
        assert!(plan(&call("shell", json!({"cmd": "x"}))).is_err());
        assert!(plan(&call("shell", json!({"command": []}))).is_err());
        assert!(plan(&call("nope", json!({}))).is_err());
        assert!(plan(&call("write_file", json!({"path": "a"}))).is_err());
    }

    #[test]
    fn every_spec_is_an_object_schema() {
        for s in builtin_specs() {
            assert_eq!(s.parameters["type"], "object", "{}", s.name);
        }
    }
}
