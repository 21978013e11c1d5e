//! Resource bounds and process lifecycle: timeouts kill everything the
//! command started (even after `setsid`), nothing outlives its command,
//! output is capped with a marker, exit status and signals pass through.

mod sandbox_support;

use std::time::{Duration, Instant};

use assert_cmd::Command;
use sandbox_support::{Fixture, runtime};
use warden::sandbox::{ExecRequest, execute};

fn alive(pid: i32) -> bool {
    // A zombie counts as dead: it has exited and only awaits reaping.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn pids(f: &Fixture) -> Vec<i32> {
    std::fs::read_to_string(f.ws.join("src/pids"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[tokio::test]
async fn timeout_kills_the_whole_tree_including_setsid_escapees() {
    let f = Fixture::new();
    let mut req = ExecRequest::new(
        vec![
            "bash".into(),
            "-c".into(),
            "sleep 300 & echo $! >> src/pids; setsid sleep 301 & echo $! >> src/pids; sleep 302"
                .into(),
        ],
        f.ws.clone(),
    );
    req.timeout = Some(Duration::from_millis(700));
    let started = Instant::now();
    let out = execute(&runtime(), &f.policy(), &req).await.unwrap();
    assert!(out.timed_out, "{out:?}");
    assert!(!out.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let pids = pids(&f);
    assert_eq!(pids.len(), 2, "both background pids recorded");
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived the timeout");
    }
}

#[tokio::test]
async fn nothing_outlives_a_command_that_exits_normally() {
    let f = Fixture::new();
    let out = f.run("setsid sleep 303 & echo $! >> src/pids; nohup sleep 304 >/dev/null 2>&1 & echo $! >> src/pids; exit 0").await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let pids = pids(&f);
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(!alive(pid), "background process {pid} outlived its command");
    }
}

#[tokio::test]
async fn output_is_capped_with_a_marker() {
    let f = Fixture::new();
    let mut cfg = f.sandbox_config();
    cfg.output_limit = 1000;
    let policy = f.policy_with(warden::config::SandboxMode::WorkspaceWrite, cfg);
    let out = f
        .run_with(
            &policy,
            "head -c 200000 /dev/zero | tr '\\0' a; echo done >&2",
            Default::default(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0));
    assert!(out.truncated);
    assert!(out.stdout.starts_with(&"a".repeat(1000)));
    assert!(
        out.stdout.contains("[warden: output truncated"),
        "{}",
        &out.stdout[1000..]
    );
    assert!(out.stdout.len() < 1200);
}

#[tokio::test]
async fn exit_codes_signals_stdin_and_missing_commands() {
    let f = Fixture::new();
    let out = f.run("exit 42").await;
    assert_eq!((out.exit_code, out.signal), (Some(42), None));
    let out = f.run("kill -TERM $$").await;
    assert_eq!((out.exit_code, out.signal), (None, Some(libc::SIGTERM)));
    assert_eq!(out.shell_status(), 143);

    let mut req = ExecRequest::new(vec!["cat".into()], f.ws.clone());
    req.stdin = Some(b"from stdin".to_vec());
    let out = execute(&runtime(), &f.policy(), &req).await.unwrap();
    assert_eq!(out.stdout, "from stdin");

    let req = ExecRequest::new(vec!["warden-no-such-command".into()], f.ws.clone());
    let out = execute(&runtime(), &f.policy(), &req).await.unwrap();
    assert_eq!(out.exit_code, Some(127));
    assert!(
        out.stderr.contains("cannot run `warden-no-such-command`"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn enforcement_is_recorded() {
    let f = Fixture::new();
    let out = f.run("true").await;
    let e = &out.enforcement;
    assert!(
        e.sandboxed && e.seccomp && e.no_new_privs && e.capabilities_dropped,
        "{e:?}"
    );
    assert!(e.landlock_abi >= 1);
    assert_eq!(e.landlock, Some(warden::sandbox::LandlockState::Full));
    assert_eq!(e.mode, "workspace-write");
    assert!(!e.network);
    assert!(e.writable.contains(&f.ws));
}

#[tokio::test]
async fn danger_full_access_is_unsandboxed_and_recorded() {
    let f = Fixture::new();
    let policy = f.policy_with(
        warden::config::SandboxMode::DangerFullAccess,
        f.sandbox_config(),
    );
    let out = f
        .run_with(
            &policy,
            &format!("cat {}", f.key.display()),
            Default::default(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0));
    assert!(
        out.stdout.contains(&f.canary),
        "no sandbox: the canary is readable"
    );
    assert!(!out.enforcement.sandboxed);
    assert_eq!(out.enforcement.mode, "danger-full-access");
}

#[tokio::test]
async fn an_unsandboxed_grant_still_scrubs_the_environment() {
    let f = Fixture::new();
    let grants = warden::decision::Grants {
        unsandboxed: true,
        ..Default::default()
    };
    let out = f
        .run_with(
            &f.policy(),
            "echo hi > /dev/null && env | cut -d= -f1 | sort",
            grants,
        )
        .await;
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(out.enforcement.mode, "unsandboxed");
    for line in out.stdout.lines() {
        assert!(
            !warden::sandbox::env::is_credential_name(line),
            "{line} passed to an unsandboxed child"
        );
    }
}

#[test]
fn cli_passes_the_exit_status_and_kills_on_timeout() {
    let f = Fixture::new();
    let warden = sandbox_support::warden_exe();
    Command::new(&warden)
        .args(["sandbox", "--cwd"])
        .arg(&f.ws)
        .args(["--", "sh", "-c", "echo out; echo err >&2; exit 7"])
        .assert()
        .code(7)
        .stdout("out\n")
        .stderr("err\n");
    Command::new(&warden)
        .args(["sandbox", "--timeout", "500ms", "--cwd"])
        .arg(&f.ws)
        .args(["--", "sleep", "30"])
        .assert()
        .code(128 + libc::SIGKILL)
        .stderr(predicates::str::contains("timed out"));
    Command::new(&warden).args(["sandbox"]).assert().code(2);
    Command::new(&warden)
        .args(["sandbox", "--profile", "nope", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown profile"));
    Command::new(&warden)
        .args(["sandbox", "--cwd", "/nonexistent/warden", "--", "true"])
        .assert()
        .code(2);
}
