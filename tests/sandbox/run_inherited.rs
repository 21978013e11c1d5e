//! `warden sandbox` supervises its command itself (no supervisor process of its own): a
//! termination signal to warden kills the command and everything it
//! started before warden dies by that signal, and a command whose warden
//! was killed outright dies with it.

use crate::sandbox_support;

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use sandbox_support::Fixture;

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn sandbox(f: &Fixture, script: &str) -> Child {
    Command::new(sandbox_support::warden_exe())
        .args(["sandbox", "--cwd"])
        .arg(&f.ws)
        .args(["--", "bash", "-c", script])
        .spawn()
        .unwrap()
}

fn wait_for(f: &Fixture, file: &str) -> String {
    let started = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(f.ws.join(file))
            && s.ends_with('\n')
        {
            return s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{file} never written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pids(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn wait_dead(pids: &[i32]) {
    let started = Instant::now();
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still alive: {:?}",
            pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_kills_the_whole_tree_then_warden_dies_by_it() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let f = Fixture::new();
        let mut warden = sandbox(
            &f,
            "sleep 300 & a=$!; setsid sleep 301 & b=$!; \
             echo \"$a $b $$\" > src/pids.tmp && mv src/pids.tmp src/pids; sleep 302",
        );
        let tree = pids(&wait_for(&f, "src/pids"));
        assert_eq!(tree.len(), 3);
        // SAFETY: signalling the warden process this test started.
        unsafe { libc::kill(warden.id() as i32, signal) };
        let status = warden.wait().unwrap();
        assert_eq!(status.signal(), Some(signal), "{status:?}");
        wait_dead(&tree);
    }
}

#[test]
fn the_command_dies_with_a_killed_warden() {
    let f = Fixture::new();
    let mut warden = sandbox(
        &f,
        "echo $$ > src/pid.tmp && mv src/pid.tmp src/pid; exec sleep 300",
    );
    let pid = pids(&wait_for(&f, "src/pid"));
    // SAFETY: signalling the warden process this test started.
    unsafe { libc::kill(warden.id() as i32, libc::SIGKILL) };
    warden.wait().unwrap();
    wait_dead(&pid);
}

#[test]
fn a_missing_command_exits_127_and_says_so() {
    let f = Fixture::new();
    let out = Command::new(sandbox_support::warden_exe())
        .args(["sandbox", "--cwd"])
        .arg(&f.ws)
        .args(["--", "warden-no-such-command", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot run `warden-no-such-command`: No such file or directory"),
        "{stderr}"
    );
}
