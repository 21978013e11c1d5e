//! Shared fixture for the MCP tests: a temp workspace and HOME, the test
//! MCP server binary (`warden-mcp-test-server`, an example target of this
//! package), config snippets, and audit-log reading.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::workspace_support::Workspace;

/// The test MCP server (tests/it/mcp_support/server.rs). It is an example, so
/// that `cargo install` leaves it out; cargo puts examples in `examples/`
/// of the profile directory that holds the warden binary. `cargo test` and
/// `cargo nextest run` build it; `cargo test --test NAME` alone does not,
/// hence the message.
pub fn server_bin() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let warden = Path::new(env!("CARGO_BIN_EXE_warden"));
        let server = warden
            .parent()
            .expect("the warden binary has a parent directory")
            .join("examples")
            .join(format!(
                "warden-mcp-test-server{}",
                std::env::consts::EXE_SUFFIX
            ));
        assert!(
            server.is_file(),
            "{} is missing: build it with `cargo build --example warden-mcp-test-server` \
             (plain `cargo test` / `cargo nextest run` do)",
            server.display()
        );
        server.to_str().expect("a UTF-8 target path").to_owned()
    })
}

/// A TOML string literal (paths of this machine may contain anything).
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// `[mcp_servers.NAME]` for the test server with `trust` and extra lines.
pub fn server_toml(name: &str, trust: &str, extra: &str) -> String {
    format!(
        "[mcp_servers.{name}]\ncommand = {}\ntrust = \"{trust}\"\n{extra}\n",
        toml_str(server_bin())
    )
}

/// The shared [`Workspace`] with a writable `notes/` directory; config
/// files go beside the workspace ([`Workspace::file`]).
pub struct Ws {
    pub base: Workspace,
}

/// The workspace's paths (`root`, `ws`, `home`, `canary`) are the fixture's.
impl std::ops::Deref for Ws {
    type Target = Workspace;
    fn deref(&self) -> &Workspace {
        &self.base
    }
}

impl Ws {
    pub fn new() -> Self {
        let base = Workspace::with_key(str::to_owned);
        std::fs::create_dir_all(base.ws.join("notes")).unwrap();
        base.write_ws("README.md", "hello\n");
        Ws { base }
    }

    /// `warden ARGS…` in this workspace with this HOME, in a clean
    /// environment.
    pub fn warden(&self, args: &[&str]) -> Command {
        let mut cmd = self.base.warden_std();
        cmd.args(args).current_dir(&self.ws);
        cmd
    }

    /// `warden run --provider script` with a scenario and a config file.
    pub fn run(&self, scenario: &str, config: &str, extra: &[&str]) -> Run {
        let scenario = self.file("scenario.yaml", scenario);
        let config = self.file("config.toml", config);
        let audit = self.root.join("audit.jsonl");
        let _ = std::fs::remove_file(&audit);
        let mut args = vec![
            "run",
            "--provider",
            "script",
            "--scenario",
            scenario.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
            "--no-report",
        ];
        args.extend_from_slice(extra);
        let output = self.warden(&args).output().unwrap();
        let records = std::fs::read_to_string(&audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        Run { output, records }
    }
}

/// A finished `warden run`.
pub struct Run {
    pub output: Output,
    pub records: Vec<serde_json::Value>,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Both streams, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }

    /// Records of one event type.
    pub fn events(&self, event: &str) -> Vec<&serde_json::Value> {
        self.records
            .iter()
            .filter(|r| r["event"] == event)
            .collect()
    }

    /// The decision for the action proposed by tool call `tool` (first one).
    pub fn decision(&self, tool: &str) -> &serde_json::Value {
        let id = self
            .events("action_proposed")
            .into_iter()
            .find(|r| r["tool"] == tool)
            .unwrap_or_else(|| panic!("no action for {tool}\n{}", self.dump()))["action_id"]
            .clone();
        &self
            .events("decided")
            .into_iter()
            .find(|r| r["action_id"] == id)
            .unwrap_or_else(|| panic!("no decision for {tool}"))["decision"]
    }

    /// The `executed` record of tool call `tool` (first one), if it ran.
    pub fn executed(&self, tool: &str) -> Option<&serde_json::Value> {
        let id = self
            .events("action_proposed")
            .into_iter()
            .find(|r| r["tool"] == tool)?["action_id"]
            .clone();
        self.events("executed")
            .into_iter()
            .find(|r| r["action_id"] == id)
    }

    /// `mcp_server` events as (server, status, detail).
    pub fn server_events(&self) -> Vec<(String, String, String)> {
        self.events("mcp_server")
            .into_iter()
            .map(|r| {
                (
                    r["server"].as_str().unwrap_or_default().to_owned(),
                    r["status"].as_str().unwrap_or_default().to_owned(),
                    r["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// Whether a process is gone (or a zombie nobody will run again).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Wait up to 5 s for `pid` to be gone.
pub fn wait_gone(pid: u32) -> bool {
    for _ in 0..100 {
        if process_gone(pid) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// The path of the installed reference server, or why it cannot run:
/// `Err(None)` when Node is absent (skip), `Err(Some(msg))` when Node is
/// present but the package is not installed (a setup error: fail).
pub fn everything_server() -> Result<PathBuf, Option<String>> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err(None);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let entry = dir.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    if entry.is_file() {
        Ok(entry)
    } else {
        Err(Some(format!(
            "Node is installed but the MCP reference server is not: run `npm ci --prefix {}` \
             (scripts/install-node-tools.sh does) and re-run the tests",
            dir.display()
        )))
    }
}
