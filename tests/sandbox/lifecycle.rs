//! Resource bounds and process lifecycle: timeouts kill everything the
//! command started (even after `setsid`), nothing outlives its command —
//! whatever it did to its supervisor's limits, however deep its chain of
//! processes, and when warden itself is SIGKILLed — output is capped with a
//! marker, exit status and signals pass through.

use crate::sandbox_support;

use std::time::{Duration, Instant};

use assert_cmd::Command;
use sandbox_support::{Fixture, alive, require_tool, runtime, wait_for, warden_exe};
use warden::sandbox::{ExecRequest, execute};

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

/// Kills the listed pids on drop, so that a failing test leaves nothing
/// — only those still running what these tests start (a pid that ended
/// may have been reused by an unrelated process).
struct Reap(Vec<i32>);

impl Drop for Reap {
    fn drop(&mut self) {
        for pid in &self.0 {
            let ours = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                [&b"sleep"[..], b"sh", b"python3"]
                    .iter()
                    .any(|p| c.starts_with(p) || c.windows(p.len() + 1).any(|w| w[1..] == **p))
            });
            if ours && alive(*pid) {
                // SAFETY: kill(2) on a process this test started.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
        }
    }
}

/// Processes whose working directory is `dir` (the fixture's workspace,
/// unique to one test): what the test started there, by pid.
fn running_in(dir: &std::path::Path) -> Vec<i32> {
    let deleted = format!("{} (deleted)", dir.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd == dir || cwd.as_os_str() == deleted.as_str())
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// SIGKILL every process [`running_in`] `dir`, until none is left; the
/// pids it found.
fn kill_running_in(dir: &std::path::Path) -> Vec<i32> {
    let mut found = Vec::new();
    for _ in 0..100 {
        let pids = running_in(dir);
        if pids.is_empty() {
            break;
        }
        for pid in &pids {
            // SAFETY: kill(2) on a process this test started in its own
            // workspace.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        found.extend(pids);
        std::thread::sleep(Duration::from_millis(20));
    }
    found
}

fn wait_for_pids(f: &Fixture, n: usize) -> Vec<i32> {
    assert!(
        wait_for(Duration::from_secs(30), || pids(f).len() >= n),
        "the command never recorded {n} pids: {:?}",
        pids(f)
    );
    pids(f)
}

fn assert_all_gone(pids: &[i32], what: &str) {
    for pid in pids {
        assert!(
            wait_for(Duration::from_secs(5), || !alive(*pid)),
            "process {pid} survived {what}"
        );
    }
}

#[tokio::test]
async fn lowering_the_supervisors_file_limit_is_refused_and_a_setsid_child_still_dies() {
    if !require_tool("prlimit") {
        return;
    }
    let f = Fixture::new();
    // Control: prlimit works on another process of the same user.
    let mut target = std::process::Command::new("sleep")
        .arg("300")
        .spawn()
        .unwrap();
    let direct = f.run_direct(&format!("prlimit --pid {} --nofile=3:3", target.id()));
    assert!(direct.status.success(), "control: {direct:?}");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", target.id())).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.split_whitespace().nth(3) == Some("3")),
        "control: the limit was not lowered: {limits}"
    );
    let _ = target.kill();
    let _ = target.wait();

    let out = f
        .run(
            "prlimit --pid $PPID --nofile=3:3 && echo LOWERED; \
             setsid sleep 310 & echo $! >> src/pids; nohup sleep 311 >/dev/null 2>&1 & \
             echo $! >> src/pids; exit 0",
        )
        .await;
    assert!(!out.stdout.contains("LOWERED"), "{out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    let pids = pids(&f);
    let _reap = Reap(pids.clone());
    assert_eq!(pids.len(), 2, "{out:?}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived its command");
    }
}

/// A chain of `depth` nested `sh` processes (each waits for the next, so
/// the sweep meets them one reparenting at a time) whose last one starts a
/// `setsid` survivor, writes its pid to `src/pids` and sleeps.
const CHAIN: &str = "n=$1\nif [ \"$n\" -gt 0 ]; then sh \"$0\" $((n - 1)); :\n\
                     else setsid sleep 312 & echo $! >> src/pids; sleep 300; fi\n";

/// The chain that ends normally is 2,500 deep: a sweep that reaps one
/// process per round needs more rounds than that, and the one before this
/// gave up after 2,000.
#[tokio::test]
async fn a_thousand_deep_chain_of_processes_is_swept() {
    let f = Fixture::new();
    std::fs::write(f.ws.join("src/chain.sh"), CHAIN).unwrap();
    // Control: without the sandbox the chain's last process survives the
    // command that started it.
    let direct = f.run_direct("sh src/chain.sh 1000 >/dev/null 2>&1 &");
    assert!(direct.status.success());
    let control = wait_for_pids(&f, 1);
    let _reap_control = Reap(control.clone());
    assert!(alive(control[0]), "control: the chain's survivor exists");
    // Take the control chain down (its shells, its survivor, its sleep).
    kill_running_in(&f.ws);
    drop(_reap_control);
    std::fs::remove_file(f.ws.join("src/pids")).unwrap();

    let mut req = ExecRequest::new(
        vec![
            "sh".into(),
            "-c".into(),
            "sh src/chain.sh 2500 & while [ ! -s src/pids ]; do sleep 0.05; done; \
             echo deep; exit 0"
                .into(),
        ],
        f.ws.clone(),
    );
    req.timeout = Some(Duration::from_secs(100));
    let out = execute(&runtime(), &f.policy(), &req).await.unwrap();
    let pids = pids(&f);
    let _reap = Reap(pids.clone());
    assert_eq!(out.stdout, "deep\n", "{out:?}");
    assert!(!out.timed_out);
    assert_eq!(pids.len(), 1);
    assert!(!alive(pids[0]), "the chain's survivor outlived its command");
    let left = kill_running_in(&f.ws);
    assert!(left.is_empty(), "chain processes left: {left:?}");

    // The same chain, still waiting when the timeout fires.
    std::fs::remove_file(f.ws.join("src/pids")).unwrap();
    let mut req = ExecRequest::new(
        vec!["sh".into(), "src/chain.sh".into(), "1000".into()],
        f.ws.clone(),
    );
    req.timeout = Some(Duration::from_secs(10));
    let out = execute(&runtime(), &f.policy(), &req).await.unwrap();
    let survivors = self::pids(&f);
    let _reap_timeout = Reap(survivors.clone());
    assert!(out.timed_out, "{out:?}");
    assert_eq!(survivors.len(), 1, "the chain was built before the timeout");
    assert!(
        !alive(survivors[0]),
        "the chain's survivor outlived the timeout"
    );
    let left = kill_running_in(&f.ws);
    assert!(left.is_empty(), "chain processes left: {left:?}");
}

/// Copies `.env` (which does not exist when the command starts, so no
/// deny-read rule names it) into `src/leak` every 50 ms, from a `setsid`
/// process that would outlive the command.
const SNOOPER: &str = "setsid sh -c 'echo $$ >> src/pids; \
                       while :; do cat .env > src/leak.new 2>/dev/null && mv src/leak.new src/leak; \
                       sleep 0.05; done' >/dev/null 2>&1 & \
                       while [ ! -s src/pids ]; do sleep 0.01; done";

#[tokio::test]
async fn a_survivor_cannot_read_a_file_created_after_its_command() {
    let f = Fixture::new();
    let leak = f.ws.join("src/leak");
    let secret = f.ws.join(".env");
    let leaked = || std::fs::read_to_string(&leak).is_ok_and(|s| s.contains(&f.canary));

    // Control: without the sandbox, the snooper outlives its command and
    // reads the file written afterwards.
    assert!(f.run_direct(SNOOPER).status.success());
    let control = wait_for_pids(&f, 1);
    let reap_control = Reap(control.clone());
    std::fs::write(&secret, format!("TOKEN={}\n", f.canary)).unwrap();
    assert!(
        wait_for(Duration::from_secs(5), leaked),
        "control: the snooper did not read .env"
    );
    drop(reap_control);
    assert_all_gone(&control, "the control's kill");
    for p in [&leak, &secret, &f.ws.join("src/pids")] {
        let _ = std::fs::remove_file(p);
    }

    // Inside, it also tries to starve the sweep first (refused).
    let out = f
        .run(&format!(
            "prlimit --pid $PPID --nofile=3:3 2>/dev/null; {SNOOPER}"
        ))
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let pids = pids(&f);
    let _reap = Reap(pids.clone());
    assert!(!alive(pids[0]), "the snooper outlived its command");
    std::fs::write(&secret, format!("TOKEN={}\n", f.canary)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !leaked(),
        "a survivor read a file created after its command"
    );
}

#[tokio::test]
async fn stopped_processes_and_a_subreaper_inside_are_swept() {
    if !require_tool("python3") {
        return;
    }
    let f = Fixture::new();
    // PR_SET_CHILD_SUBREAPER is 36: the command's own subreaper collects
    // its grandchildren first; a SIGSTOPped process waits for nothing.
    let script = r#"
sleep 313 & echo $! >> src/pids; kill -STOP $!
python3 -c '
import ctypes, os, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
if os.fork() == 0:
    if os.fork() == 0:
        os.setsid()
        open("src/pids", "a").write(f"{os.getpid()}\n")
        time.sleep(300)
    os._exit(0)
open("src/pids", "a").write(f"{os.getpid()}\n")
time.sleep(300)
' &
while [ $(wc -l < src/pids) -lt 3 ]; do sleep 0.02; done
exit 0
"#;
    let out = f.run(script).await;
    let pids = pids(&f);
    let _reap = Reap(pids.clone());
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(pids.len(), 3, "{out:?}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived its command");
    }
}

#[test]
fn a_sigkilled_warden_sandbox_leaves_no_survivor() {
    if !require_tool("python3") {
        return;
    }
    let f = Fixture::new();
    // Control: a setsid child outlives its SIGKILLed parent.
    let mut parent = std::process::Command::new("sh")
        .args(["-c", "setsid sleep 314 & echo $! >> src/pids; sleep 100"])
        .current_dir(&f.ws)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let control = wait_for_pids(&f, 1);
    let _reap_control = Reap(control.clone());
    parent.kill().unwrap();
    parent.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(alive(control[0]), "control: the setsid child survives");
    drop(_reap_control);
    kill_running_in(&f.ws); // and the control's own `sleep 100`

    // Kill the process the caller started (the guardian), then the
    // supervisor below it: either way nothing survives.
    for target in ["warden", "supervisor"] {
        let _ = std::fs::remove_file(f.ws.join("src/pids"));
        let mut warden = std::process::Command::new(warden_exe())
            .args(["sandbox", "--cwd"])
            .arg(&f.ws)
            // The command first clears its parent-death signal (prctl 1,
            // PR_SET_PDEATHSIG, survives exec): it does not die with a
            // killed supervisor and must be swept like the rest.
            .args([
                "--",
                "python3",
                "-c",
                "import ctypes, os; ctypes.CDLL(None).prctl(1, 0, 0, 0, 0); \
                 os.execvp('sh', ['sh', '-c', 'echo $$ >> src/pids; \
                 setsid sleep 315 & echo $! >> src/pids; nohup sleep 316 >/dev/null 2>&1 & \
                 echo $! >> src/pids; sleep 100'])",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pids = wait_for_pids(&f, 3);
        let _reap = Reap(pids.clone());
        let victim = match target {
            "warden" => warden.id() as i32,
            _ => {
                let list =
                    std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", warden.id()))
                        .unwrap();
                list.split_whitespace().next().unwrap().parse().unwrap()
            }
        };
        // SAFETY: kill(2) on a process this test started.
        unsafe { libc::kill(victim, libc::SIGKILL) };
        let status = warden.wait().unwrap();
        assert!(!status.success(), "{target}: {status:?}");
        assert_all_gone(&pids, &format!("a SIGKILL of the {target}"));
    }
}

#[tokio::test]
async fn an_mcp_servers_helper_sweeps_what_the_server_started() {
    use warden::sandbox::stdio::{StdioRequest, spawn_stdio};
    let f = Fixture::new();
    let req = StdioRequest {
        argv: vec![
            "sh".into(),
            "-c".into(),
            "setsid sleep 319 & echo $! >> src/pids; sh src/chain.sh 50 & exec cat".into(),
        ],
        cwd: f.ws.clone(),
        grants: Default::default(),
        env: Default::default(),
    };
    std::fs::write(f.ws.join("src/chain.sh"), CHAIN).unwrap();
    let mut server = spawn_stdio(&runtime(), &f.policy(), &req).await.unwrap();
    let pids = wait_for_pids(&f, 2);
    let _reap = Reap(pids.clone());
    // `cat` ends when its stdin closes; the helper reports the end only
    // after killing everything the server started.
    let end = server.terminate(Duration::from_millis(200)).await;
    assert!(end.exec_error.is_none(), "{end:?}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived its MCP server");
    }
}

#[tokio::test]
async fn a_process_spawning_as_fast_as_it_can_is_swept() {
    let f = Fixture::new();
    // Unsandboxed, each of these `setsid sleep`s would outlive the loop
    // (the control of `nothing_outlives_a_command_that_exits_normally`);
    // here the loop keeps forking while the sweep kills.
    let out = f
        .run(
            "sh -c 'echo $$ >> src/pids; while :; do setsid sleep 323 & done' \
             >/dev/null 2>&1 & sleep 0.5; exit 0",
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let left = kill_running_in(&f.ws);
    assert!(left.is_empty(), "processes outlived the sweep: {left:?}");
    assert!(!alive(pids(&f)[0]), "the spawning loop survived");
}
