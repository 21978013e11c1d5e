//! Issue 14, crash safety: warden killed outright (SIGKILL of warden and
//! its guardian together, as a cancelled job does) while a command that
//! planted a hook runs. Nothing is left unverified without notice: the next
//! `warden sandbox` / `warden run` in that workspace refuses (exit 5) and
//! names the change; `warden recover` restores it (the Action's final
//! `if: always()` step runs it); a later, unsandboxed `git commit` runs
//! nothing planted.

use crate::sandbox_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sandbox_support::{Fixture, git, warden_exe};

fn warden(f: &Fixture, state: &Path) -> Command {
    let mut cmd = Command::new(warden_exe());
    cmd.env("XDG_STATE_HOME", state)
        .env("HOME", &f.home)
        .arg("--cwd")
        .arg(&f.ws);
    cmd
}

fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Plant a pre-commit hook from a command, then kill warden's whole
/// process group while the command still runs.
fn kill_mid_command(f: &Fixture, state: &Path, args: &[&str]) {
    let planted = f.ws.join("src/planted");
    let mut child = warden(f, state)
        .args(args)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    wait_for(&planted);
    // SAFETY: kill(2) of the process group the test just created.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(200));
}

const PLANT: &str = "printf '#!/bin/sh\\ntouch \"$PWD/hook-ran\"\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit && touch src/planted && sleep 60";

fn commit_unsandboxed(f: &Fixture) {
    git(&f.ws, &["add", "-A"]);
    git(
        &f.ws,
        &["commit", "-q", "--allow-empty", "-m", "after recovery"],
    );
}

use std::os::unix::process::CommandExt;

#[test]
fn a_warden_sandbox_killed_mid_command_is_detected_then_recovered() {
    let f = Fixture::new();
    let state = f.home.join("state");
    // Control: without the sandbox the plant makes a later commit run it.
    let direct = f.run_direct(&PLANT.replace(" && sleep 60", ""));
    assert!(direct.status.success());
    commit_unsandboxed(&f);
    assert!(f.ws.join("hook-ran").exists(), "control: the hook ran");
    std::fs::remove_file(f.ws.join("hook-ran")).unwrap();
    std::fs::remove_file(f.ws.join(".git/hooks/pre-commit")).unwrap();
    std::fs::remove_file(f.ws.join("src/planted")).unwrap();

    kill_mid_command(
        &f,
        &state,
        &["sandbox", "--profile", "ci", "--", "bash", "-c", PLANT],
    );
    assert!(
        f.ws.join(".git/hooks/pre-commit").exists(),
        "killed before verification"
    );

    let out = warden(&f, &state)
        .args(["sandbox", "--profile", "ci", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".git/hooks/pre-commit") && stderr.contains("warden recover"),
        "{stderr}"
    );

    let out = warden(&f, &state).arg("recover").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("pre-commit"));
    assert!(!f.ws.join(".git/hooks/pre-commit").exists());
    commit_unsandboxed(&f);
    assert!(!f.ws.join("hook-ran").exists(), "nothing planted ran");

    let out = warden(&f, &state)
        .args(["sandbox", "--profile", "ci", "--", "true"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "recovered: warden runs again: {out:?}"
    );
}

#[test]
fn a_warden_run_killed_mid_command_refuses_the_next_run_until_recovered() {
    let f = Fixture::new();
    let state = f.home.join("state");
    let scenario = f.ws.parent().unwrap().join("plant.yaml");
    std::fs::write(
        &scenario,
        format!(
            "prompt: p\non_exhausted: error\nturns:\n  - tool_calls:\n      - name: shell\n        arguments: {{ command: {} }}\n  - text: done\n",
            serde_json::to_string("bash src/p.sh").unwrap()
        ),
    )
    .unwrap();
    std::fs::write(f.ws.join("src/p.sh"), PLANT).unwrap();
    let audit = f.ws.parent().unwrap().join("audit");
    let run = |cmd: &mut Command, log: &str| {
        cmd.args([
            "run",
            "--profile",
            "ci",
            "--provider",
            "script",
            "--scenario",
        ])
        .arg(&scenario)
        .arg("--audit")
        .arg(audit.join(log));
    };
    let mut first = warden(&f, &state);
    run(&mut first, "first.jsonl");
    let planted = f.ws.join("src/planted");
    let mut child = first.stdin(Stdio::null()).process_group(0).spawn().unwrap();
    wait_for(&planted);
    // SAFETY: kill(2) of the process group the test just created.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        f.ws.join(".git/hooks/pre-commit").exists(),
        "killed before verification"
    );

    let mut second = warden(&f, &state);
    run(&mut second, "second.jsonl");
    let out = second.output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warden recover"), "{stderr}");

    let out = warden(&f, &state).arg("recover").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!f.ws.join(".git/hooks/pre-commit").exists());
    commit_unsandboxed(&f);
    assert!(!f.ws.join("hook-ran").exists(), "nothing planted ran");
}
