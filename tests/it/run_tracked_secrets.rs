//! Deny-read entries naming committed files (issue 12, class 7): the
//! content is in `.git/objects`, so `warden run` says so instead of
//! pretending. A glob match is a warning and an audit record naming the
//! file (never its content); an explicit path is a configuration error
//! with the config's `file:line:col`; without git the check is skipped,
//! said and recorded.

use crate::run_support;

use std::path::Path;
use std::process::Command;

use run_support::{RunFixture, events};

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?}");
}

fn committed(f: &RunFixture, files: &[(&str, &str)]) {
    git(&f.ws, &["init", "-q", "-b", "main"]);
    for (rel, text) in files {
        let p = f.ws.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git(&f.ws, &["add", "-A"]);
    git(&f.ws, &["commit", "-qm", "init"]);
}

/// A command in the sandbox that reads the committed secret through git:
/// what the warning is about.
const READ_THROUGH_GIT: &str = "prompt: hi\nturns:\n  - tool_calls:\n      - name: shell\n        arguments: { command: \"git show HEAD:.env\" }\n  - text: done\n";

#[test]
fn a_committed_dot_env_is_a_warning_and_an_audit_record_naming_it() {
    let f = RunFixture::new();
    let content = format!("TOKEN={}", f.canary);
    committed(&f, &[(".env", &content), ("src/app/.env.local", "X=1")]);
    let scenario = f.write("s.yaml", READ_THROUGH_GIT);
    let out = f
        .scripted("ci", &scenario)
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`.env` matches deny_read `**/.env` but is committed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`src/app/.env.local` matches deny_read `**/.env.*`"),
        "{stderr}"
    );
    let records = f.audit_records();
    let tracked = events(&records, "deny_read_tracked");
    let files: Vec<&str> = tracked
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, [".env", "src/app/.env.local"], "{tracked:?}");
    // The warning is true: the sandbox does not hide the object.
    let executed = events(&records, "executed");
    assert_eq!(executed.len(), 1, "{records:?}");
    assert_eq!(
        executed[0]["exit_code"], 0,
        "git show reads it: {:?}",
        executed[0]
    );
    assert!(
        !stderr.contains(&f.canary),
        "warden never prints the content"
    );
}

#[test]
fn an_explicit_deny_read_path_that_is_committed_is_a_config_error() {
    let f = RunFixture::new();
    committed(
        &f,
        &[
            ("secrets/prod.key", "k"),
            (
                ".warden/config.toml",
                "[sandbox]\ndeny_read = [\"secrets/prod.key\"]\n",
            ),
        ],
    );
    let scenario = f.write("s.yaml", "prompt: hi\nturns:\n  - text: done\n");
    let out = f
        .scripted("ci", &scenario)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".warden/config.toml:2:"),
        "names the config location: {stderr}"
    );
    assert!(
        stderr.contains("`secrets/prod.key`, which git tracks"),
        "{stderr}"
    );
    assert!(!f.audit.exists(), "no run started");

    // Untracked, the same entry is an ordinary deny-read path.
    git(&f.ws, &["rm", "-q", "--cached", "secrets/prod.key"]);
    f.scripted("ci", &scenario).assert().success();
}

#[test]
fn without_git_the_check_is_skipped_said_and_recorded() {
    let f = RunFixture::new();
    committed(&f, &[(".env", "X=1")]);
    let empty_path = f.home.parent().unwrap().join("no-tools");
    std::fs::create_dir_all(&empty_path).unwrap();
    let scenario = f.write("s.yaml", "prompt: hi\nturns:\n  - text: done\n");
    let out = f
        .scripted("ci", &scenario)
        .env("PATH", &empty_path)
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot list the files git tracks"),
        "{stderr}"
    );
    let records = f.audit_records();
    let tracked = events(&records, "deny_read_tracked");
    assert_eq!(tracked.len(), 1, "{tracked:?}");
    assert!(
        tracked[0]["detail"].as_str().unwrap().contains("git"),
        "{tracked:?}"
    );
}
