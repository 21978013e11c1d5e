//! The one workspace-plus-binary fixture of both test binaries: which
//! `warden` binary the tests run, a clean environment to run it in, and a
//! temp tree with a HOME (holding a canary SSH key that must never leak)
//! and a workspace beside it. The fixtures of each area (`run_support`'s
//! `RunFixture`, `sandbox_support`'s `Fixture`, `mcp_support`'s `Ws`) are
//! this plus the files their tests need.
#![allow(dead_code)] // each test module uses a different part

use std::path::{Path, PathBuf};

/// The `warden` binary the tests run: this build's, or another one named
/// by `WARDEN_TEST_EXE` (`scripts/test.sh` runs the sandbox tests again
/// against the static-pie release build, which is what the Action installs).
pub fn warden_exe() -> PathBuf {
    std::env::var_os("WARDEN_TEST_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_warden")))
}

/// `warden` with only PATH, `HOME=home` and LANG set: no model keys, no
/// GitHub Actions variables, no requirements or log settings inherited
/// from whoever runs the tests.
pub fn clean_warden(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(warden_exe());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LANG", "C.UTF-8");
    cmd
}

/// A temp tree: `root/home` (with `.ssh/id_rsa` holding [`Self::canary`])
/// and `root/ws`, canonical paths, removed when dropped.
pub struct Workspace {
    pub _tmp: tempfile::TempDir,
    /// Outside both: config files, scenarios, audit logs.
    pub root: PathBuf,
    pub home: PathBuf,
    pub ws: PathBuf,
    pub canary: String,
    /// `~/.ssh/id_rsa`.
    pub key: PathBuf,
}

impl Workspace {
    /// The tree with the key holding `key_text(canary)`.
    pub fn with_key(key_text: impl FnOnce(&str) -> String) -> Workspace {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let home = root.join("home");
        let ws = root.join("ws");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(&ws).unwrap();
        let canary = format!("CANARY-{:016x}", fastrand::u64(..));
        let key = home.join(".ssh/id_rsa");
        std::fs::write(&key, key_text(&canary)).unwrap();
        Workspace {
            _tmp: tmp,
            root,
            home,
            ws,
            canary,
            key,
        }
    }

    /// The tree with the key holding the canary and a newline.
    pub fn new() -> Workspace {
        Workspace::with_key(|canary| format!("{canary}\n"))
    }

    /// Write `rel` under the workspace (parents created).
    pub fn write_ws(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.ws.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Write `name` outside the workspace (beside it) and return its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.root.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// [`clean_warden`] with this HOME and `--cwd` this workspace.
    pub fn warden_std(&self) -> std::process::Command {
        let mut cmd = clean_warden(&self.home);
        cmd.arg("--cwd").arg(&self.ws);
        cmd
    }

    /// [`Self::warden_std`] for `assert_cmd`.
    pub fn warden(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.warden_std())
    }
}
