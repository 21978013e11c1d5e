//! The `__sandbox-exec` helper: a fresh, single-threaded warden process that
//! applies Landlock and seccomp to itself, starts the command (which
//! inherits both), supervises it, and reports back.
//!
//! Why a re-exec instead of `pre_exec`: building a ruleset allocates and
//! opens files, which is unsafe between `fork` and `exec` in a
//! multi-threaded parent (tokio). Here the process is fresh and alone.
//!
//! The helper stays as the command's parent and a child subreaper, so when
//! the command ends — or warden closes the control pipe (timeout, or warden
//! died) — it kills every process the command left behind, including ones
//! that left the process group with `setsid`. Nothing outlives its command.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command};
use std::time::Duration;

use super::enforcement::{Enforcement, KernelReport, Verdict, assess, known_gaps, requested_abi};
use super::spec::{HelperMessage, HelperSpec, read_framed};
use super::{caps, landlock_apply, seccomp};

/// Exit code of the helper when it refused or failed before the command ran.
pub const HELPER_FAILED: i32 = 5;

/// Entry point of `warden __sandbox-exec --spec-fd N --status-fd M`.
pub fn main(spec_fd: RawFd, status_fd: RawFd) -> i32 {
    for fd in [spec_fd, status_fd] {
        if fd < 3 || !set_cloexec(fd) {
            eprintln!("warden __sandbox-exec: fd {fd} is not an inherited pipe (internal command)");
            return HELPER_FAILED;
        }
    }
    // SAFETY: warden passed these two descriptors to this process for its
    // exclusive use (checked open above); each is wrapped exactly once.
    let (control, mut status) =
        unsafe { (File::from_raw_fd(spec_fd), File::from_raw_fd(status_fd)) };

    let spec: HelperSpec = match read_framed(&control) {
        Ok(s) => s,
        Err(e) => {
            send(
                &mut status,
                &HelperMessage::SetupFailed {
                    message: format!("bad spec: {e}"),
                },
            );
            return HELPER_FAILED;
        }
    };
    if spec.argv.is_empty() {
        send(
            &mut status,
            &HelperMessage::SetupFailed {
                message: "empty command".into(),
            },
        );
        return HELPER_FAILED;
    }

    let enforcement = if spec.sandboxed {
        match apply_sandbox(&spec) {
            Ok(e) => e,
            Err(msg) => {
                send(&mut status, &msg);
                return HELPER_FAILED;
            }
        }
    } else {
        Enforcement::default()
    };
    send(&mut status, &HelperMessage::Enforced { enforcement });

    // SAFETY: plain prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let child = match Command::new(&spec.argv[0]).args(&spec.argv[1..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            let message = format!("cannot run `{}`: {e}", spec.argv[0]);
            send(&mut status, &HelperMessage::ExecFailed { message, code });
            return code;
        }
    };
    let exit = supervise(child, &control);
    sweep_descendants();
    send(
        &mut status,
        &HelperMessage::Exited {
            code: exit.code(),
            signal: exit.signal(),
        },
    );
    0
}

/// Landlock, then seccomp, then the fail-closed verdict.
fn apply_sandbox(spec: &HelperSpec) -> Result<Enforcement, Box<HelperMessage>> {
    let setup = |message: String| Box::new(HelperMessage::SetupFailed { message });
    let ll = landlock_apply::apply(&spec.rules, spec.deny_network).map_err(setup)?;
    let nnp = ll.no_new_privs || landlock_apply::set_no_new_privs();
    let program = seccomp::build(spec.deny_network).map_err(setup)?;
    let caps_dropped = caps::drop_dangerous();
    let seccomp_ok = nnp && seccomp::apply(&program).is_ok();
    let report = KernelReport {
        kernel_abi: ll.kernel_abi,
        ruleset: ll.state,
        no_new_privs: nnp,
        seccomp: seccomp_ok,
    };
    let degraded = match assess(&report, spec.fallback) {
        Verdict::Enforced => Vec::new(),
        Verdict::Degraded(why) => why,
        Verdict::Refuse(feature) => return Err(Box::new(HelperMessage::Refused { feature })),
    };
    Ok(Enforcement {
        sandboxed: true,
        landlock_abi: ll.kernel_abi.max(0),
        landlock_requested_abi: requested_abi(ll.kernel_abi),
        landlock: Some(ll.state),
        seccomp: seccomp_ok,
        no_new_privs: nnp,
        network_tcp_landlock: ll.tcp_rules,
        scoped: ll.scoped,
        degraded,
        gaps: known_gaps(ll.kernel_abi),
        capabilities_dropped: caps_dropped,
        ..Enforcement::default()
    })
}

/// Wait for the command, or kill it when the control pipe closes.
fn supervise(mut child: Child, control: &File) -> std::process::ExitStatus {
    let pid = child.id() as libc::pid_t;
    // SAFETY: pidfd_open(pid, 0) takes no pointers; the result is owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    let pidfd = (pidfd >= 0).then(|| {
        // SAFETY: a fresh descriptor returned by the kernel, owned here only.
        unsafe { File::from_raw_fd(pidfd) }
    });
    loop {
        let mut fds = vec![libc::pollfd {
            fd: control.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(p) = &pidfd {
            fds.push(libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // Without a pidfd (old kernel), poll the child every 10 ms.
        let timeout = if pidfd.is_some() { -1 } else { 10 };
        // SAFETY: `fds` is a live, correctly sized array of pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if fds[0].revents != 0 {
            // warden gave up on the command (timeout) or died.
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break;
        }
        if fds.get(1).is_some_and(|f| f.revents != 0) {
            break;
        }
        if pidfd.is_none() && matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
    }
    child
        .wait()
        .unwrap_or_else(|_| std::process::ExitStatus::from_raw(libc::SIGKILL))
}

/// Kill and reap every remaining descendant (they were reparented to us, a
/// subreaper). Loops until none is left, so a process forking while it is
/// being killed is caught on the next round.
fn sweep_descendants() {
    for _ in 0..2000 {
        for pid in children() {
            // SAFETY: signalling a process that is our child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // SAFETY: waitpid with a null status pointer is allowed.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        match r {
            r if r > 0 => continue,
            0 => std::thread::sleep(Duration::from_millis(1)),
            _ => return, // ECHILD: nothing left
        }
    }
}

/// Our direct children, from /proc (the per-task `children` file, else a
/// scan of every process's parent pid).
fn children() -> Vec<libc::pid_t> {
    let me = std::process::id();
    let parse = |s: &str| {
        s.split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")) {
        return parse(&s);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, …
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid.and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            out.push(pid);
        }
    }
    out
}

fn set_cloexec(fd: RawFd) -> bool {
    // SAFETY: fcntl on an integer descriptor; fails cleanly if it is not open.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0 }
}

fn send(status: &mut File, msg: &HelperMessage) {
    if let Ok(mut line) = serde_json::to_vec(msg) {
        line.push(b'\n');
        let _ = status.write_all(&line);
    }
}
