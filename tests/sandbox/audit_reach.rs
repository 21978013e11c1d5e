//! The audit log of the run in progress is out of every command's reach:
//! a command of the run (a script the pipeline cannot see into, so only
//! the sandbox stops it) tries to read the log and the kept denials beside
//! it, and to append a forged record, in warden's default directory (where
//! other workspaces' logs are denied too) and at an `--audit` path outside
//! the workspace. Afterwards the same script run
//! without the sandbox does read and forge them (the control).

use crate::run_support;

use std::path::Path;

use run_support::{RunFixture, events};

use crate::redteam::{Tree, as_user, euid_is_root};
use crate::sandbox_support::{require_tool, warden_exe};

/// A script in the workspace that reads and appends to every file of
/// `dir` (warden's default directory has one subdirectory per workspace).
fn attack_script(f: &RunFixture, glob: &str) {
    std::fs::write(
        f.ws.join("attack.sh"),
        format!(
            "for f in {glob}; do\n\
             \x20 cat \"$f\" >/dev/null 2>&1 && echo \"READ-OK $f\"\n\
             \x20 echo '{{\"forged\":1}}' >> \"$f\" 2>/dev/null && echo \"WRITE-OK $f\"\n\
             done\n\
             ls {glob} >/dev/null && echo LISTED\n"
        ),
    )
    .unwrap();
}

fn scenario(f: &RunFixture) -> std::path::PathBuf {
    f.write(
        "attack.yaml",
        &format!(
            r#"
prompt: "Secret task {canary}: first check the workspace."
on_exhausted: error
turns:
  - tool_calls:
      - name: shell
        arguments: {{ command: "sh attack.sh" }}
  - text: Done.
"#,
            canary = f.canary
        ),
    )
}

/// The run's own tool result, and that nothing reached the files.
fn assert_untouched(f: &RunFixture, log: &Path) {
    let text = std::fs::read_to_string(log).unwrap();
    assert!(!text.contains("forged"), "a command appended to the log");
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let executed = events(&records, "executed");
    let excerpt = executed[0]["output_excerpt"].as_str().unwrap();
    assert!(excerpt.contains("LISTED"), "the script ran: {excerpt}");
    assert!(
        !excerpt.contains("READ-OK") && !excerpt.contains("WRITE-OK"),
        "{excerpt}"
    );
    assert!(!excerpt.contains(&f.canary), "{excerpt}");
    let verify = f
        .warden()
        .args(["audit", "verify"])
        .arg(log)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
}

/// The control: without the sandbox the same script reads and forges.
fn assert_reachable_without_the_sandbox(f: &RunFixture, log: &Path) {
    let direct = std::process::Command::new("sh")
        .arg("attack.sh")
        .current_dir(&f.ws)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&direct.stdout);
    assert!(
        said.contains(&format!("READ-OK {}", log.display())),
        "{said}"
    );
    assert!(
        said.contains(&format!("WRITE-OK {}", log.display())),
        "{said}"
    );
    assert!(std::fs::read_to_string(log).unwrap().contains("forged"));
}

#[test]
fn a_command_can_neither_read_nor_write_the_log_in_the_default_directory() {
    let f = RunFixture::new();
    let state = f.home.parent().unwrap().join("state");
    let dir = state.join("warden/audit");
    // Another workspace's log, in the same state directory.
    let other = dir.join("other-0000000000000000/20260101T000000Z-0.jsonl");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(&other, "another workspace's run\n").unwrap();
    attack_script(&f, &format!("{}/*/*", dir.display()));
    let out = f
        .warden_std()
        .env("XDG_STATE_HOME", &state)
        .args([
            "run",
            "--profile",
            "ci",
            "--provider",
            "script",
            "--scenario",
        ])
        .arg(scenario(&f))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let sub =
        warden::audit::location::default_audit_dir_from(&f.ws, Some(state.clone()), None).unwrap();
    let log = warden::audit::location::logs_in(&sub).unwrap().remove(0);
    assert_untouched(&f, &log);
    assert_eq!(
        std::fs::read_to_string(&other).unwrap(),
        "another workspace's run\n"
    );
    assert_reachable_without_the_sandbox(&f, &log);
}

#[test]
fn a_command_can_neither_read_nor_write_an_audit_path_outside_the_workspace() {
    let f = RunFixture::new();
    let dir = f.audit.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    // Kept denials of an earlier run: beside the log, denied too.
    std::fs::write(dir.join("denials.json"), "{\"next\":1,\"denials\":[]}\n").unwrap();
    attack_script(&f, &format!("{}/*", dir.display()));
    f.scripted("ci", &scenario(&f)).assert().success();
    assert_untouched(&f, &f.audit);
    let denials = std::fs::read_to_string(dir.join("denials.json")).unwrap();
    assert!(!denials.contains("forged"), "{denials}");
    assert_reachable_without_the_sandbox(&f, &f.audit);
}

/// The same as an unprivileged user (`nobody` through `setpriv` when the
/// tests run as root): the log is the user's own file (mode 0600), so only
/// the sandbox keeps the user's commands from it.
#[test]
fn an_unprivileged_run_s_commands_can_neither_read_nor_write_its_log() {
    if euid_is_root() && !require_tool("setpriv") {
        return;
    }
    let t = Tree::new();
    let dir = t.home.join(".local/state/warden/audit");
    std::fs::write(
        t.ws.join("attack.sh"),
        format!(
            "for f in {d}/*/*; do\n\
             \x20 cat \"$f\" >/dev/null 2>&1 && echo \"READ-OK $f\"\n\
             \x20 echo forged >> \"$f\" 2>/dev/null && echo \"WRITE-OK $f\"\n\
             done\nls {d}/*/* >/dev/null && echo LISTED\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let scenario = t.root.join("scenario.yaml");
    std::fs::write(
        &scenario,
        "prompt: x\non_exhausted: error\nturns:\n\
         \x20 - tool_calls:\n      - name: shell\n        arguments: { command: \"sh attack.sh\" }\n\
         \x20 - text: done\n",
    )
    .unwrap();
    t.give_away();
    let out = as_user(&warden_exe())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &t.home)
        .env("LANG", "C.UTF-8")
        .arg("--cwd")
        .arg(&t.ws)
        .args([
            "run",
            "--profile",
            "ci",
            "--provider",
            "script",
            "--scenario",
        ])
        .arg(&scenario)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let sub = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let log = warden::audit::location::logs_in(&sub).unwrap().remove(0);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("forged"), "a command appended to the log");
    assert!(text.contains("LISTED"), "the script ran: {text}");
    assert!(
        !text.contains("READ-OK") && !text.contains("WRITE-OK"),
        "{text}"
    );
    // The control: the same user, without the sandbox, reads and forges.
    let direct = t.sh_as_user("sh attack.sh");
    let said = String::from_utf8_lossy(&direct.stdout);
    assert!(
        said.contains(&format!("READ-OK {}", log.display())),
        "{direct:?}"
    );
    assert!(
        said.contains(&format!("WRITE-OK {}", log.display())),
        "{direct:?}"
    );
}
