//! The per-process sandbox zygote (`warden run`'s supervisors are forked
//! from it): a dead zygote fails closed and is replaced, it carries no
//! environment, and it does not outlive warden.

use crate::sandbox_support;

use std::time::{Duration, Instant};

use sandbox_support::{Fixture, runtime};
use warden::sandbox::{ExecRequest, SandboxError, execute, zygote};

/// Dead (or a zombie waiting to be reaped): its descriptors are closed.
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

fn wait_gone(pid: u32) {
    let started = Instant::now();
    while !gone(pid) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{pid} still alive"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test]
async fn a_dead_zygote_fails_closed_and_the_next_command_gets_a_new_one() {
    let f = Fixture::new();
    assert_eq!(f.run("true").await.exit_code, Some(0));
    let pid = zygote::current_pid().expect("the zygote runs after a command");
    // Its environment is empty (this test may read it: it is its parent).
    if let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) {
        assert!(environ.is_empty(), "{}", String::from_utf8_lossy(&environ));
    }
    // SAFETY: signalling the zygote this test process started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    wait_gone(pid);

    let req = ExecRequest::new(
        vec!["bash".into(), "-c".into(), "echo ran > src/ran".into()],
        f.ws.clone(),
    );
    let err = execute(&runtime(), &f.policy(), &req).await.unwrap_err();
    assert!(
        matches!(&err, SandboxError::Supervisor(m) if m.contains("zygote") && m.contains("not run")),
        "{err}"
    );
    assert_eq!(warden::error::Error::from(err).exit_status().code(), 5);
    assert!(
        !f.ws.join("src/ran").exists(),
        "nothing ran, sandboxed or not"
    );

    let out = execute(&runtime(), &f.policy(), &req).await.unwrap();
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.enforcement.sandboxed && out.enforcement.seccomp);
    assert!(f.ws.join("src/ran").exists());
    let new = zygote::current_pid().unwrap();
    assert_ne!(new, pid, "a new zygote");
}

/// Through the CLI: a `warden run` command probes its supervisor, the
/// zygote and warden from inside the sandbox.
#[test]
fn the_zygote_has_no_environment_and_exits_with_warden() {
    let f = Fixture::new();
    let secret = format!("ghs_{}", f.canary);
    std::fs::write(
        f.ws.join("probe.sh"),
        "s=$PPID; z=$(cut -d' ' -f4 /proc/$s/stat); w=$(cut -d' ' -f4 /proc/$z/stat)\n\
         { echo \"ZYGOTE=$z\"; echo SUPERVISOR; tr '\\0' '\\n' < /proc/$s/environ; \
           echo ZYGOTE; tr '\\0' '\\n' < /proc/$z/environ; \
           echo WARDEN; tr '\\0' '\\n' < /proc/$w/environ; } > src/probe 2>&1\n",
    )
    .unwrap();
    let scenario = f.home.parent().unwrap().join("probe.yaml");
    std::fs::write(
        &scenario,
        "prompt: probe\nturns:\n  - tool_calls:\n      - { name: shell, arguments: { command: [\"sh\", \"probe.sh\"] } }\n  - text: done\n",
    )
    .unwrap();
    let out = std::process::Command::new(sandbox_support::warden_exe())
        .arg("--cwd")
        .arg(&f.ws)
        .args([
            "run",
            "--profile",
            "ci",
            "--provider",
            "script",
            "--scenario",
        ])
        .arg(&scenario)
        .arg("--audit")
        .arg(f.home.parent().unwrap().join("audit.jsonl"))
        .env("HOME", &f.home)
        .env("GITHUB_TOKEN", &secret)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let probe = std::fs::read_to_string(f.ws.join("src/probe")).unwrap();
    assert!(
        !probe.contains(&secret),
        "secret visible from the sandbox: {probe}"
    );
    let section = |name: &str| -> String {
        let start = probe.find(&format!("\n{name}\n")).expect(name) + name.len() + 2;
        probe[start..]
            .lines()
            .take_while(|l| !["SUPERVISOR", "ZYGOTE", "WARDEN"].contains(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Empty environments, and not readable anyway (non-dumpable, and the
    // command holds no CAP_SYS_PTRACE): what matters is that warden's is not.
    for name in ["SUPERVISOR", "ZYGOTE"] {
        let s = section(name);
        assert!(
            s.is_empty() || s.ends_with("Permission denied"),
            "{name}: {s}"
        );
    }
    assert!(section("WARDEN").ends_with("Permission denied"), "{probe}");
    let zygote: u32 = probe
        .lines()
        .find_map(|l| l.strip_prefix("ZYGOTE="))
        .and_then(|p| p.trim().parse().ok())
        .expect("zygote pid");
    wait_gone(zygote);
}
