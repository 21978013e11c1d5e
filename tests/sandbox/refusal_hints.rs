//! What the agent is told when the sandbox refuses a write, through the
//! agent's own executor (the shell and file tools) under the built-in `ci`
//! profile's sandbox, real Landlock and seccomp: the refused path, and
//! whether an escalation can help (outside the writable roots: escalate
//! with `write`) or cannot (a protected path, beside a deny-read file).
//! Each attempt first works without the sandbox.

use crate::sandbox_support;

use std::path::{Path, PathBuf};

use sandbox_support::{Fixture, git, require, require_tool, runtime};
use warden::agent::exec::{Executor, ToolOutcome};
use warden::config::{Config, LoadOptions};
use warden::decision::Grants;
use warden::sandbox::SandboxPolicy;

/// The `ci` profile as it resolves, with the fixture's HOME for commands
/// (so `~` is the fixture's, not the machine's).
fn ci_config(f: &Fixture, overrides: &[&str]) -> Option<Config> {
    let mut opts = LoadOptions::builtin("ci");
    opts.overrides
        .extend(overrides.iter().map(|o| o.to_string()));
    let mut config = warden::config::load(&opts).ok()?.config;
    config
        .sandbox
        .env_set
        .insert("HOME".into(), f.home.display().to_string());
    Some(config)
}

fn executor(f: &Fixture, config: &Config) -> Executor {
    Executor {
        runtime: runtime(),
        policy: SandboxPolicy::from_config(config, &f.ws).expect("the ci sandbox resolves"),
        workspace: f.ws.clone(),
        skills_dirs: vec![],
        output_limit: 1 << 20,
    }
}

async fn shell(ex: &Executor, script: &str) -> ToolOutcome {
    let argv = ["bash", "-c", script].map(String::from);
    ex.shell(&argv, None, &Grants::default(), None).await
}

/// The tool's result names `path` as refused with `why`, and the audit
/// record's refusal carries the same class.
fn assert_hint(out: &ToolOutcome, path: &Path, why: &str, label: &str) {
    let line = format!(
        "[warden] the sandbox refused: write {}: {why}",
        path.display()
    );
    assert!(out.is_error, "{}", out.content);
    assert!(
        out.content.contains(&line),
        "no `{line}` in:\n{}",
        out.content
    );
    let facts = out.exec.as_ref().expect("the command ran");
    let recorded = format!("write {} ({label})", path.display());
    assert!(facts.refusals.contains(&recorded), "{:?}", facts.refusals);
}

/// `mkdir /usr/x` as root: a write outside the writable roots that
/// warden itself could make, so the agent is told to escalate with `write`.
#[tokio::test]
async fn a_refused_mkdir_outside_says_escalate_with_write() {
    let f = Fixture::new();
    let target = PathBuf::from(format!("/usr/warden-hint-{:08x}", fastrand::u32(..)));
    let script = format!("mkdir {}", target.display());
    let direct = f.run_direct(&script);
    if !require(
        direct.status.success(),
        "`mkdir` in /usr works without the sandbox (the test runs as root, as in CI)",
    ) {
        return;
    }
    std::fs::remove_dir(&target).unwrap();
    let config = ci_config(&f, &[]).unwrap();
    let out = shell(&executor(&f, &config), &script).await;
    assert!(!target.exists(), "the sandbox let mkdir through");
    assert_hint(
        &out,
        &target,
        "outside the writable roots: if the task needs it, escalate with `write` naming this path",
        "outside the writable roots",
    );
}

/// `touch ~/x`: HOME is not a writable root.
#[tokio::test]
async fn a_refused_touch_in_home_says_escalate_with_write() {
    let f = Fixture::new();
    let target = f.home.join("planted");
    assert!(f.run_direct("touch ~/planted").status.success());
    std::fs::remove_file(&target).unwrap();
    let config = ci_config(&f, &[]).unwrap();
    let out = shell(&executor(&f, &config), "touch ~/planted").await;
    assert!(!target.exists(), "the sandbox let touch through");
    assert_hint(
        &out,
        &target,
        "outside the writable roots",
        "outside the writable roots",
    );
}

/// The `write_file` tool outside the workspace: classified from the path
/// it wrote, not from its output; once, even though `sh` also printed it.
#[tokio::test]
async fn the_write_tool_outside_the_workspace_is_classified_from_its_path() {
    let f = Fixture::new();
    let target = f.home.join("notes dir/notes.txt");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, "direct\n").unwrap();
    std::fs::remove_file(&target).unwrap();
    let config = ci_config(&f, &[]).unwrap();
    let out = executor(&f, &config)
        .write_file(&target, "planted\n", &Grants::default())
        .await;
    assert!(!target.exists(), "the sandbox let the write through");
    assert_hint(
        &out,
        &target,
        "outside the writable roots",
        "outside the writable roots",
    );
    assert_eq!(
        out.content.matches("the sandbox refused").count(),
        1,
        "{}",
        out.content
    );
}

/// A directory holding a deny-read file (`conf/.env`, the `ci` default
/// `**/.env`) takes no new entries, grant or not: escalating is pointless.
#[tokio::test]
async fn a_new_entry_beside_a_deny_read_file_says_escalation_is_pointless() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.ws.join("conf")).unwrap();
    std::fs::write(f.ws.join("conf/.env"), "TOKEN=x\n").unwrap();
    assert!(
        f.run_direct("mkdir conf/new && rmdir conf/new")
            .status
            .success()
    );
    let config = ci_config(&f, &[]).unwrap();
    let ex = executor(&f, &config);
    let out = shell(&ex, "mkdir conf/new").await;
    assert!(!f.ws.join("conf/new").exists());
    let why = format!(
        "{} contains the deny-read {}",
        f.ws.join("conf").display(),
        f.ws.join("conf/.env").display()
    );
    assert_hint(
        &out,
        &f.ws.join("conf/new"),
        &why,
        "beside a deny-read path",
    );
    assert!(
        out.content.contains("an escalation is pointless"),
        "{}",
        out.content
    );
    assert!(
        !out.content.contains("retry with `escalate`"),
        "{}",
        out.content
    );
    // The write tool, structured, says the same.
    let out = ex
        .write_file(Path::new("conf/new.toml"), "x = 1\n", &Grants::default())
        .await;
    assert_hint(
        &out,
        &f.ws.join("conf/new.toml"),
        &why,
        "beside a deny-read path",
    );
}

/// `git commit` with `.git` read-only (`sandbox.git = "read-only"`; before
/// that key exists every profile keeps `.git` read-only): git's
/// `index.lock` is a protected path, so escalating is pointless.
#[tokio::test]
async fn git_commit_with_git_read_only_says_the_path_is_protected() {
    if !require_tool("git") {
        return;
    }
    let f = Fixture::new();
    std::fs::write(f.ws.join("src/lib.rs"), "pub fn f() {}\n").unwrap();
    // The key is issue 14's; a build without it refuses the key, and its
    // `ci` profile keeps `.git` read-only anyway. (With the key known but
    // ignored, the commit below would succeed and the test fail.)
    let config = ci_config(&f, &["sandbox.git=\"read-only\""])
        .or_else(|| ci_config(&f, &[]))
        .unwrap();
    let out = shell(
        &executor(&f, &config),
        "git add src/lib.rs && git commit -qm 'add lib'",
    )
    .await;
    let lock = f.ws.join(".git/index.lock");
    assert_hint(
        &out,
        &lock,
        &format!(
            "protected ({}): no command may change it, so an escalation is pointless",
            f.ws.join(".git").display()
        ),
        "protected",
    );
    assert!(
        !out.content.contains("retry with `escalate`"),
        "{}",
        out.content
    );
    // The control: the same commit works without the sandbox.
    git(&f.ws, &["add", "src/lib.rs"]);
    git(&f.ws, &["commit", "-qm", "add lib"]);
}
