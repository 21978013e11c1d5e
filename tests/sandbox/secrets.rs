//! Secrets: a child of `warden sandbox` sees no credential in its own
//! environment and cannot read warden's from /proc. The control runs the
//! same script under `danger-full-access` (no Landlock/seccomp), where
//! warden's /proc/<pid>/environ is readable.

use crate::sandbox_support;

use assert_cmd::Command;
use sandbox_support::Fixture;

/// Prints the child's env, its parent's (the helper) and its grandparent's
/// (warden) /proc environ, NUL-separated entries on lines.
const SCRIPT: &str = r#"
env
tr '\0' '\n' < /proc/$PPID/environ
gp=$(cut -d' ' -f4 /proc/$PPID/stat)
tr '\0' '\n' < /proc/$gp/environ
true
"#;

fn warden(f: &Fixture, secret: &str, extra: &[&str]) -> std::process::Output {
    Command::new(sandbox_support::warden_exe())
        .args(["sandbox", "--cwd"])
        .arg(&f.ws)
        .args(extra)
        .args(["--", "bash", "-c", SCRIPT])
        .env("GITHUB_TOKEN", secret)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", secret)
        .env("OPENAI_API_KEY", secret)
        .output()
        .unwrap()
}

#[test]
fn github_token_is_not_in_the_child_environment() {
    let f = Fixture::new();
    let secret = format!("ghs_{}", f.canary);
    let out = warden(&f, &secret, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("PATH="), "env was printed: {stdout}");
    assert!(!stdout.contains("GITHUB_TOKEN"), "{stdout}");
    assert!(!stdout.contains(&secret));
}

#[test]
fn warden_proc_environ_is_out_of_reach() {
    let f = Fixture::new();
    let secret = format!("ghs_{}", f.canary);
    let control = warden(&f, &secret, &["-c", "sandbox_mode=\"danger-full-access\""]);
    assert!(
        String::from_utf8_lossy(&control.stdout).contains(&secret),
        "control: without the sandbox the secret should be readable from warden's /proc environ: {control:?}"
    );
    let out = warden(&f, &secret, &[]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(&secret), "secret leaked through /proc: {all}");
    assert!(all.contains("Permission denied"), "{all}");
}
