//! Shared fixture for `warden run` tests: a temp HOME (with a canary key that
//! must never leak), a small workspace, and a command builder for the real
//! binary with a clean, deterministic environment.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct RunFixture {
    pub _tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub ws: PathBuf,
    pub audit: PathBuf,
    pub canary: String,
}

impl RunFixture {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let home = root.join("home");
        let ws = root.join("ws");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        let canary = format!("CANARY{:016x}", fastrand::u64(..));
        std::fs::write(home.join(".ssh/id_rsa"), format!("{canary}\n")).unwrap();
        std::fs::create_dir_all(ws.join("src")).unwrap();
        std::fs::write(ws.join("README.md"), "hello from the workspace\n").unwrap();
        std::fs::write(ws.join("src/lib.txt"), "one\n").unwrap();
        RunFixture {
            audit: root.join("audit/run.jsonl"),
            _tmp: tmp,
            home,
            ws,
            canary,
        }
    }

    /// `warden` with HOME and the workspace set, no inherited model keys
    /// and not in GitHub Actions.
    pub fn warden(&self) -> Command {
        Command::from_std(self.warden_std())
    }

    /// [`Self::warden`] as a plain `std::process::Command` (to spawn it
    /// and signal it while it runs).
    pub fn warden_std(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_warden"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .arg("--cwd")
            .arg(&self.ws);
        cmd
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
        let p = self.home.parent().unwrap().join(name);
        std::fs::write(&p, text).unwrap();
        p
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
