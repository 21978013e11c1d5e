//! Shared fixture for `warden run` tests: the shared [`Workspace`] (a temp
//! HOME with a canary key that must never leak, the real binary in a clean
//! environment) with a small workspace, and `warden run` with a scripted
//! model and its audit log.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::workspace_support::Workspace;

pub struct RunFixture {
    pub base: Workspace,
    pub audit: PathBuf,
}

/// The workspace's paths (`home`, `ws`, `canary`…) are the fixture's.
impl std::ops::Deref for RunFixture {
    type Target = Workspace;
    fn deref(&self) -> &Workspace {
        &self.base
    }
}

impl RunFixture {
    pub fn new() -> Self {
        let base = Workspace::new();
        base.write_ws("README.md", "hello from the workspace\n");
        base.write_ws("src/lib.txt", "one\n");
        RunFixture {
            audit: base.root.join("audit/run.jsonl"),
            base,
        }
    }

    /// `warden` with HOME and the workspace set, no inherited model keys
    /// and not in GitHub Actions.
    pub fn warden(&self) -> Command {
        self.base.warden()
    }

    /// [`Self::warden`] as a plain `std::process::Command` (to spawn it
    /// and signal it while it runs).
    pub fn warden_std(&self) -> std::process::Command {
        self.base.warden_std()
    }

    /// `warden run --profile P --provider script --scenario S --audit …`.
    pub fn scripted(&self, profile: &str, scenario: &Path) -> Command {
        Command::from_std(self.scripted_std(profile, scenario))
    }

    /// [`Self::scripted`] as a plain `std::process::Command`.
    pub fn scripted_std(&self, profile: &str, scenario: &Path) -> std::process::Command {
        let mut cmd = self.warden_std();
        cmd.args([
            "run",
            "--profile",
            profile,
            "--provider",
            "script",
            "--scenario",
        ])
        .arg(scenario)
        .arg("--audit")
        .arg(&self.audit);
        cmd
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        self.base.file(name, text)
    }

    /// Every audit record, parsed.
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        read_jsonl(&self.audit)
    }
}

pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Events of one kind.
pub fn events<'a>(records: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    records.iter().filter(|r| r["event"] == kind).collect()
}
