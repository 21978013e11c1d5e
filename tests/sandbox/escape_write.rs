//! Write escape attempts: outside the writable roots and into protected
//! paths inside the workspace. Each test proves the write works without the
//! sandbox (the test process does it) where that is cheap. A protected
//! path holds both ways: refused under `sandbox.git = "read-only"`, and
//! written then restored (and reported) under `"commit"`, the default.

use crate::sandbox_support;

use std::path::Path;

use sandbox_support::Fixture;
use warden::config::GitMode;
use warden::decision::Grants;
use warden::sandbox::{ExecOutput, RefusalKind, SandboxPolicy};

/// The write succeeds directly (then is undone), fails in the sandbox, and
/// the file keeps its content; the failure is reported as a write refusal.
async fn assert_write_blocked(f: &Fixture, target: &Path) {
    assert_write_blocked_by(f, &f.policy(), target).await;
}

async fn assert_write_blocked_by(f: &Fixture, policy: &SandboxPolicy, target: &Path) {
    let before = std::fs::read(target).ok();
    let direct = f.run_direct(&format!("echo pwned >> '{}'", target.display()));
    assert!(
        direct.status.success(),
        "control: direct write to {} failed",
        target.display()
    );
    match &before {
        Some(b) => std::fs::write(target, b).unwrap(),
        None => std::fs::remove_file(target).unwrap(),
    }
    let out = f
        .run_with(
            policy,
            &format!("echo pwned >> '{}'", target.display()),
            Grants::default(),
        )
        .await;
    assert_ne!(
        out.exit_code,
        Some(0),
        "sandboxed write to {} succeeded",
        target.display()
    );
    assert_eq!(
        std::fs::read(target).ok(),
        before,
        "{} changed",
        target.display()
    );
    assert!(
        out.refusals
            .iter()
            .any(|r| r.kind == RefusalKind::Write && r.path.as_deref() == Some(target)),
        "no write refusal for {}: {:?} / {}",
        target.display(),
        out.refusals,
        out.stderr
    );
}

/// Refused under `sandbox.git = "read-only"`; under `"commit"` the write
/// lands, and is undone and reported before `execute` returns.
async fn assert_protected(f: &Fixture, target: &Path) {
    assert_write_blocked_by(f, &f.policy_git(GitMode::ReadOnly), target).await;
    assert_restored(f, &format!("echo pwned >> '{}'", target.display()), target).await;
}

/// `script` changes `target` in the sandbox (commit mode); afterwards it
/// is as before, and the change is reported as restored.
async fn assert_restored(f: &Fixture, script: &str, target: &Path) -> ExecOutput {
    let before = std::fs::read(target).ok();
    let out = f.run(script).await;
    assert_eq!(
        std::fs::read(target).ok(),
        before,
        "{} changed",
        target.display()
    );
    assert!(
        out.protected_changes
            .iter()
            .any(|c| c.restored && target.starts_with(&c.path)),
        "no restored change for {}: {:?} / {}",
        target.display(),
        out.protected_changes,
        out.stderr
    );
    out
}

#[tokio::test]
async fn write_to_etc_is_refused() {
    let f = Fixture::new();
    let target = Path::new("/etc/warden-sandbox-escape-test");
    let out = f.run(&format!("echo pwned > {}", target.display())).await;
    assert_ne!(out.exit_code, Some(0));
    assert!(!target.exists());
    // As root the test process could write /etc, so this is a sandbox
    // refusal; as an ordinary user it is the file permissions' (and not
    // reported). Either way nothing was written.
    let writable = std::fs::metadata("/etc").is_ok_and(|_| {
        let c = std::ffi::CString::new("/etc").unwrap();
        // SAFETY: access(2) with a valid C string.
        unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
    });
    assert_eq!(
        out.refusals.iter().any(|r| r.kind == RefusalKind::Write),
        writable,
        "{:?}",
        out.refusals
    );
}

#[tokio::test]
async fn write_to_home_bashrc_is_refused() {
    let f = Fixture::new();
    assert_write_blocked(&f, &f.home.join(".bashrc")).await;
}

#[tokio::test]
async fn planting_a_git_hook_is_refused() {
    let f = Fixture::new();
    assert_protected(&f, &f.ws.join(".git/hooks/pre-commit")).await;
}

#[tokio::test]
async fn editing_git_config_is_refused() {
    let f = Fixture::new();
    assert_protected(&f, &f.ws.join(".git/config")).await;
    let out = f
        .run_with(
            &f.policy_git(GitMode::ReadOnly),
            "git config core.hooksPath /tmp/evil",
            Grants::default(),
        )
        .await;
    assert_ne!(out.exit_code, Some(0));
    let config = f.ws.join(".git/config");
    assert_restored(&f, "git config core.hooksPath /tmp/evil", &config).await;
    assert!(
        !std::fs::read_to_string(f.ws.join(".git/config"))
            .unwrap()
            .contains("hooksPath")
    );
}

#[tokio::test]
async fn editing_warden_config_is_refused() {
    let f = Fixture::new();
    assert_protected(&f, &f.ws.join(".warden/config.toml")).await;
}

#[tokio::test]
async fn adding_a_workflow_is_refused() {
    let f = Fixture::new();
    assert_protected(&f, &f.ws.join(".github/workflows/x.yml")).await;
}

#[tokio::test]
async fn a_missing_protected_directory_cannot_be_created() {
    let f = Fixture::new();
    std::fs::remove_dir_all(f.ws.join(".warden")).unwrap();
    let script =
        "mkdir -p .warden && echo 'sandbox_mode = \"danger-full-access\"' > .warden/config.toml";
    let out = f
        .run_with(&f.policy_git(GitMode::ReadOnly), script, Grants::default())
        .await;
    assert_ne!(out.exit_code, Some(0));
    assert!(!f.ws.join(".warden").exists());
    assert_restored(&f, script, &f.ws.join(".warden/config.toml")).await;
    assert!(!f.ws.join(".warden").exists());
}

#[tokio::test]
async fn renaming_git_away_is_refused() {
    let f = Fixture::new();
    let script = "mv .git .git-old && mkdir -p .git/hooks";
    let out = f
        .run_with(&f.policy_git(GitMode::ReadOnly), script, Grants::default())
        .await;
    assert_ne!(out.exit_code, Some(0));
    assert!(f.ws.join(".git/config").exists() && !f.ws.join(".git-old").exists());
    // Commit mode: the rename works in the sandbox; warden moves the real
    // gitdir back (found by its inode) and drops the impostor.
    let head = std::fs::read(f.ws.join(".git/HEAD")).unwrap();
    let out = f.run(script).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(
        out.protected_changes
            .iter()
            .any(|c| c.path == f.ws.join(".git") && c.change == "replaced" && c.restored),
        "{:?}",
        out.protected_changes
    );
    assert!(!f.ws.join(".git-old").exists());
    assert_eq!(std::fs::read(f.ws.join(".git/HEAD")).unwrap(), head);
}

#[tokio::test]
async fn read_only_mode_writes_only_the_private_tmpdir() {
    let f = Fixture::new();
    let policy = f.policy_with(warden::config::SandboxMode::ReadOnly, f.sandbox_config());
    let out = f
        .run_with(
            &policy,
            "echo x > \"$TMPDIR/t\" && cat \"$TMPDIR/t\" && echo y > src/new",
            Default::default(),
        )
        .await;
    assert_eq!(out.stdout, "x\n");
    assert_ne!(out.exit_code, Some(0));
    assert!(!f.ws.join("src/new").exists());
    assert_eq!(out.enforcement.mode, "read-only");
}

#[tokio::test]
async fn workspace_is_writable_and_tmpdir_is_private_and_removed() {
    let f = Fixture::new();
    let out = f
        .run("echo x > src/new.rs && echo y >> README.md && echo z > \"$TMPDIR/scratch\" && echo \"$TMPDIR\" && echo n > /dev/null")
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(f.ws.join("src/new.rs")).unwrap(),
        "x\n"
    );
    let tmpdir = out.stdout.trim();
    assert!(tmpdir.contains("warden-sbx-"), "{tmpdir}");
    assert!(
        !Path::new(tmpdir).exists(),
        "private tmp dir was not removed"
    );
}
