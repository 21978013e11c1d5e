//! Escape attempts on a deny-read canary (`~/.ssh/id_rsa` in a temp HOME).
//! Each test first proves the attempt leaks the canary without the sandbox.

use crate::sandbox_support;

use sandbox_support::{Fixture, require_tool};
use warden::sandbox::RefusalKind;

#[tokio::test]
async fn cat_of_the_canary_is_refused_and_reported_as_a_read_refusal() {
    let f = Fixture::new();
    let out = f
        .assert_read_blocked(&format!("cat {}", f.key.display()))
        .await;
    assert_ne!(out.exit_code, Some(0));
    assert!(
        out.refusals
            .iter()
            .any(|r| r.kind == RefusalKind::Read && r.path.as_deref() == Some(f.key.as_path())),
        "{:?}",
        out.refusals
    );
}

#[tokio::test]
async fn symlink_in_the_workspace_does_not_reach_the_canary() {
    let f = Fixture::new();
    std::os::unix::fs::symlink(&f.key, f.ws.join("src/prelinked")).unwrap();
    f.assert_read_blocked("cat src/prelinked").await;
    f.assert_read_blocked(&format!(
        "ln -s {} src/newlink; cat src/newlink; rm -f src/newlink",
        f.key.display()
    ))
    .await;
}

#[tokio::test]
async fn hard_link_out_of_the_denied_directory_fails() {
    let f = Fixture::new();
    let out = f
        .assert_read_blocked(&format!(
            "ln {} src/hl && cat src/hl; rm -f src/hl",
            f.key.display()
        ))
        .await;
    assert!(!f.ws.join("src/hl").exists());
    assert!(out.stderr.contains("ln:"), "{}", out.stderr);
}

#[tokio::test]
async fn rename_out_of_the_denied_directory_fails() {
    let f = Fixture::new();
    // No control that moves the key for real: the sandbox must leave it.
    let out = f.run(&format!("mv {} src/stolen", f.key.display())).await;
    assert_ne!(out.exit_code, Some(0));
    assert!(f.key.exists() && !f.ws.join("src/stolen").exists());
}

#[tokio::test]
async fn tar_cannot_archive_the_canary() {
    let f = Fixture::new();
    f.assert_read_blocked(&format!(
        "tar -cf - -C {} .ssh | tar -xOf -",
        f.home.display()
    ))
    .await;
}

#[tokio::test]
async fn python_open_cannot_read_the_canary() {
    let f = Fixture::new();
    if !require_tool("python3") {
        return;
    }
    f.assert_read_blocked(&format!(
        "python3 -c 'print(open(\"{}\").read())'",
        f.key.display()
    ))
    .await;
}

#[tokio::test]
async fn find_exec_cat_cannot_read_the_canary() {
    let f = Fixture::new();
    f.assert_read_blocked(&format!(
        "find {} -type f -exec cat {{}} +",
        f.home.display()
    ))
    .await;
}

#[tokio::test]
async fn glob_deny_read_hides_dot_env_files_in_the_workspace() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.ws.join("src/deep")).unwrap();
    std::fs::write(f.ws.join("src/deep/.env"), format!("TOKEN={}\n", f.canary)).unwrap();
    f.assert_read_blocked("cat src/deep/.env").await;
    // Neighbours stay readable, existing files writable. (A directory split
    // around a denied entry takes no new entries: docs/threat-model.md.)
    std::fs::write(f.ws.join("src/deep/other"), "").unwrap();
    let out = f
        .run("cat README.md && echo ok > src/deep/other && cat src/deep/other")
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "hello\nok\n");
}

/// A workspace whose name holds glob characters (`build[1]`, as CI
/// matrix directories are often named): a relative deny-read glob still
/// denies what it names, because the workspace part is literal.
#[test]
fn a_relative_glob_holds_in_a_workspace_named_like_a_glob() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let ws = root.join("build[1]");
    std::fs::create_dir_all(ws.join("secrets")).unwrap();
    std::fs::create_dir_all(ws.join(".warden")).unwrap();
    std::fs::write(
        ws.join(".warden/config.toml"),
        "[sandbox]\ndeny_read = [\"secrets/*.pem\"]\n",
    )
    .unwrap();
    let canary = format!("CANARY-{:016x}", fastrand::u64(..));
    std::fs::write(ws.join("secrets/x.pem"), &canary).unwrap();
    let control = std::fs::read_to_string(ws.join("secrets/x.pem")).unwrap();
    assert_eq!(control, canary, "the control read must see the canary");
    let out = std::process::Command::new(sandbox_support::warden_exe())
        .args(["--cwd"])
        .arg(&ws)
        .args(["sandbox", "--profile", "ci", "--", "cat", "secrets/x.pem"])
        .env("HOME", &root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(&canary), "the canary leaked: {out:?}");
    assert_ne!(out.status.code(), Some(0), "{out:?}");
}
