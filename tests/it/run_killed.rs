//! `warden run` killed or limited from outside: a SIGKILL mid-command
//! leaves no process of the command behind and an audit log that verifies
//! and says the run did not finish; a file-size limit set on warden
//! (`prlimit --fsize`) ends the run with an error instead of killing it
//! with SIGXFSZ, and the log still verifies.

use crate::run_support;
use crate::sandbox_support;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use run_support::RunFixture;
use sandbox_support::{alive, wait_for};

fn verify(f: &RunFixture) -> (Option<i32>, String) {
    let out = f
        .warden()
        .args(["audit", "verify"])
        .arg(&f.audit)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_sigkilled_run_leaves_no_survivor_and_a_log_that_verifies_unfinished() {
    let f = RunFixture::new();
    let scenario = f.write(
        "killed.yaml",
        r#"
prompt: Start a daemon.
turns:
  - tool_calls:
      - name: shell
        arguments:
          command: "setsid sleep 317 & echo $! >> src/pids; nohup sleep 318 >/dev/null 2>&1 & echo $! >> src/pids; sleep 100"
  - text: done
"#,
    );
    let pids_file = f.ws.join("src/pids");
    let pids = || -> Vec<i32> {
        std::fs::read_to_string(&pids_file)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let mut warden = f
        .scripted_std("ci", &scenario)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(60), || pids().len() == 2),
        "the command never started: {:?}",
        pids()
    );
    let started = pids();
    warden.kill().unwrap(); // SIGKILL
    let status = warden.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    for pid in &started {
        let gone = wait_for(Duration::from_secs(5), || !alive(*pid));
        if !gone {
            // SAFETY: kill(2) on a process this test's run started.
            #[allow(unsafe_code, reason = "the test's one system call, a cleanup")]
            unsafe {
                libc::kill(*pid, libc::SIGKILL)
            };
        }
        assert!(gone, "process {pid} outlived the SIGKILLed warden run");
    }

    let (code, text) = verify(&f);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("no run_finished"), "{text}");
    let records = f.audit_records();
    assert!(
        run_support::events(&records, "decided").len() == 1
            && run_support::events(&records, "run_finished").is_empty(),
        "{records:?}"
    );
}

#[test]
fn a_file_size_limit_on_warden_ends_the_run_with_an_error_not_a_signal() {
    let f = RunFixture::new();
    let scenario = f.write(
        "big.yaml",
        r#"
prompt: Print a lot.
turns:
  - tool_calls:
      - name: shell
        arguments: { command: "head -c 20000 /dev/zero | tr '\\0' a" }
  - text: done
"#,
    );
    // The whole log's size, unlimited; then the limit lets about half of
    // it through. It is inherited: lowered on the way in, like `prlimit
    // --pid <warden> --fsize=…` from outside.
    let full = f.scripted_std("ci", &scenario).output().unwrap();
    assert!(full.status.success(), "{full:?}");
    let limit = std::fs::metadata(&f.audit).unwrap().len() / 2;
    std::fs::remove_file(&f.audit).unwrap();
    let mut cmd = std::process::Command::new("prlimit");
    let run = f.scripted_std("ci", &scenario);
    cmd.arg(format!("--fsize={limit}:{limit}"))
        .arg("--")
        .arg(run.get_program())
        .args(run.get_args())
        .env_clear()
        .envs(run.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.signal(), None, "killed by a signal: {out:?}");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("audit log"),
        "{out:?}"
    );
    let (code, text) = verify(&f);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("no run_finished"), "{text}");
}
