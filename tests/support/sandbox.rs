//! Shared fixture for the sandbox tests: a temp HOME with a canary SSH key,
//! a git workspace with protected files, and helpers that run a script
//! both directly (to prove the attempt works without the sandbox) and
//! through the real sandbox (the `warden` binary as helper).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use warden::config::{NetworkMode, SandboxConfig, SandboxFallback, SandboxMode};
use warden::decision::Grants;
use warden::sandbox::{ExecOutput, ExecRequest, SandboxPolicy, SandboxRuntime, execute};

use crate::workspace_support::Workspace;

pub use crate::workspace_support::warden_exe;

/// The shared [`Workspace`] with a git workspace and the files the escape
/// tests attack (`.warden/`, `.github/workflows/`, `~/.bashrc`).
pub struct Fixture {
    pub base: Workspace,
}

/// The workspace's paths (`home`, `ws`, `canary`, `key`…) are the fixture's.
impl std::ops::Deref for Fixture {
    type Target = Workspace;
    fn deref(&self) -> &Workspace {
        &self.base
    }
}

pub fn runtime() -> SandboxRuntime {
    SandboxRuntime {
        warden_exe: warden_exe(),
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?} failed");
}

/// `git` in `dir`, its trimmed stdout; a failure fails the test.
pub fn git_stdout(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {o:?}");
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

impl Fixture {
    /// [`Fixture::new`] with everything committed on `main`.
    pub fn committed() -> Self {
        let f = Fixture::new();
        git(&f.ws, &["add", "-A"]);
        git(&f.ws, &["commit", "-q", "-m", "init"]);
        f
    }

    pub fn new() -> Self {
        let base = Workspace::with_key(|canary| format!("-----BEGIN KEY-----\n{canary}\n"));
        let (home, ws) = (&base.home, &base.ws);
        std::fs::write(home.join(".bashrc"), "# rc\n").unwrap();
        std::fs::create_dir_all(ws.join("src")).unwrap();
        git(ws, &["init", "-q", "-b", "main"]);
        git(ws, &["config", "user.name", "Test"]);
        git(ws, &["config", "user.email", "test@example.invalid"]);
        base.write_ws(".warden/config.toml", "# project\n");
        base.write_ws(".github/workflows/ci.yml", "on: push\n");
        base.write_ws("README.md", "hello\n");
        Fixture { base }
    }

    pub fn sandbox_config(&self) -> SandboxConfig {
        let mut env_set = BTreeMap::new();
        env_set.insert("HOME".to_string(), self.home.display().to_string());
        SandboxConfig {
            writable_roots: vec![],
            deny_read: vec![
                self.home.join(".ssh").display().to_string(),
                "**/.env".into(),
            ],
            protected: vec![],
            network: NetworkMode::Off,
            git: warden::config::GitMode::Commit,
            fallback: SandboxFallback::Refuse,
            timeout: Duration::from_secs(120),
            output_limit: 1 << 20,
            env_pass: vec![],
            env_set,
        }
    }

    pub fn policy(&self) -> SandboxPolicy {
        self.policy_with(SandboxMode::WorkspaceWrite, self.sandbox_config())
    }

    /// The workspace-write policy with `sandbox.git = git`.
    pub fn policy_git(&self, git: warden::config::GitMode) -> SandboxPolicy {
        let cfg = SandboxConfig {
            git,
            ..self.sandbox_config()
        };
        self.policy_with(SandboxMode::WorkspaceWrite, cfg)
    }

    pub fn policy_with(&self, mode: SandboxMode, cfg: SandboxConfig) -> SandboxPolicy {
        SandboxPolicy::from_sandbox_config(mode, &cfg, &self.ws).unwrap()
    }

    /// Run `bash -c script` in the sandbox (workspace as cwd).
    pub async fn run(&self, script: &str) -> ExecOutput {
        self.run_with(&self.policy(), script, Grants::default())
            .await
    }

    pub async fn run_with(
        &self,
        policy: &SandboxPolicy,
        script: &str,
        grants: Grants,
    ) -> ExecOutput {
        let mut req = ExecRequest::new(
            vec!["bash".into(), "-c".into(), script.into()],
            self.ws.clone(),
        );
        req.grants = grants;
        execute(&runtime(), policy, &req)
            .await
            .expect("sandbox ran")
    }

    /// Run `bash -c script` directly (no sandbox) with the same HOME: the
    /// control that proves the attempt would work.
    pub fn run_direct(&self, script: &str) -> std::process::Output {
        Command::new("bash")
            .args(["-c", script])
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .output()
            .unwrap()
    }

    /// The attempt leaks the canary directly, and not through the sandbox.
    pub async fn assert_read_blocked(&self, script: &str) -> ExecOutput {
        let direct = self.run_direct(script);
        let text = String::from_utf8_lossy(&direct.stdout);
        assert!(
            text.contains(&self.canary),
            "control failed: `{script}` did not leak without the sandbox: {direct:?}"
        );
        let out = self.run(script).await;
        assert!(
            !out.stdout.contains(&self.canary) && !out.stderr.contains(&self.canary),
            "`{script}` leaked the canary through the sandbox: {out:?}"
        );
        out
    }
}

/// Whether the test can go on: `tool` is on PATH. A security test never
/// passes by skipping in CI: under `CI=true` a missing tool fails the test
/// (`.ci/run` installs every one); elsewhere the skip is printed.
pub fn require_tool(tool: &str) -> bool {
    require(has(tool), &format!("`{tool}` is not installed"))
}

/// Whether the test can go on: `ok` says its precondition holds (a Python
/// module, the architecture, a control that works without the sandbox).
/// Under `CI=true` a precondition that does not hold is a failure naming
/// `why`; elsewhere the test prints that it skipped.
pub fn require(ok: bool, why: &str) -> bool {
    if ok {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{why}: a security test may not skip under CI=true (.ci/run installs what it needs)"
        );
    }
    eprintln!("skipped: {why} (under CI=true this fails)");
    false
}

/// Whether `python3` can import pytest ([`require`]: under `CI=true` its
/// absence fails the test).
pub fn require_pytest() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import pytest"])
        .output()
        .is_ok_and(|o| o.status.success());
    require(found, "pytest is not installed for python3")
}

pub fn has(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Poll `cond` every 10 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` exists and has not exited (a zombie has).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}
