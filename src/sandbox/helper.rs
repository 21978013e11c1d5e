//! The supervisor of one command for `warden run` and MCP servers: reads a
//! [`HelperSpec`] from the control pipe, starts the command with the
//! sandbox applied ([`super::launch`]), reports what the kernel enforced,
//! supervises, and reports how the command ended.
//!
//! It runs in a process of its own that warden does not share with
//! anything else: a fork of the per-run [`super::zygote`] (for every exec
//! of `warden run`), or a fresh warden process started as
//! `warden __sandbox-exec --spec-fd N --status-fd M` (MCP servers, which
//! live as long as the run). Either way it is single-threaded.
//!
//! It stays the command's parent and a child subreaper, so when the command
//! ends — or warden closes the control pipe (timeout, or warden died) — it
//! kills every process the command left behind, including ones that left
//! the process group with `setsid`. Nothing outlives its command.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use super::launch::{
    ChildOutcome, HELPER_FAILED, Launch, SandboxRequest, Stdio, exec_failure_code,
};
use super::spec::{HelperMessage, HelperSpec, read_framed};
use super::supervise::{Child, Wake, become_subreaper, sweep_descendants};

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
    let (control, status) = unsafe { (File::from_raw_fd(spec_fd), File::from_raw_fd(status_fd)) };
    serve(control, status, Stdio::default())
}

/// Run one command: the spec comes from `control`, which then stays open
/// as the kill switch; reports go to `status`. `stdio` is what the command
/// gets (`None`: this process's own). Returns the process exit code.
pub fn serve(control: File, mut status: File, stdio: Stdio) -> i32 {
    let spec: HelperSpec = match read_framed(&control) {
        Ok(s) => s,
        Err(e) => {
            let message = format!("bad spec: {e}");
            send(&mut status, &HelperMessage::SetupFailed { message });
            return HELPER_FAILED;
        }
    };
    let sandbox = spec.sandboxed.then(|| SandboxRequest {
        rules: &spec.rules,
        deny_network: spec.deny_network,
        fallback: spec.fallback,
    });
    let launch = match Launch::build(&spec.argv, &spec.env, &spec.cwd, sandbox, stdio, false) {
        Ok(l) => l,
        Err(message) => {
            send(&mut status, &HelperMessage::SetupFailed { message });
            return HELPER_FAILED;
        }
    };
    become_subreaper();
    let spawned = match launch.spawn() {
        Ok(s) => s,
        Err(message) => {
            send(&mut status, &HelperMessage::SetupFailed { message });
            return HELPER_FAILED;
        }
    };
    let mut child = Child::new(spawned.pid);
    let applied = match &spawned.outcome {
        ChildOutcome::Running(a) | ChildOutcome::ExecFailed(a, _) | ChildOutcome::Refused(a) => *a,
        ChildOutcome::SetupFailed(message) => {
            child.reap();
            let message = message.clone();
            send(&mut status, &HelperMessage::SetupFailed { message });
            return HELPER_FAILED;
        }
    };
    match spawned.enforcement(&applied) {
        Ok(enforcement) => send(&mut status, &HelperMessage::Enforced { enforcement }),
        Err(feature) => {
            child.reap();
            send(&mut status, &HelperMessage::Refused { feature });
            return HELPER_FAILED;
        }
    }
    if let ChildOutcome::ExecFailed(_, errno) = spawned.outcome {
        child.reap();
        let code = exec_failure_code(errno);
        let message = format!(
            "cannot run `{}`: {}",
            spec.argv[0],
            std::io::Error::from_raw_os_error(errno)
        );
        send(&mut status, &HelperMessage::ExecFailed { message, code });
        return code;
    }
    if let Wake::Fd(_) = child.wait_until(&[control.as_raw_fd()], None) {
        // warden gave up on the command (timeout) or died.
        child.kill(false);
    }
    let ended = child.reap();
    sweep_descendants();
    send(
        &mut status,
        &HelperMessage::Exited {
            code: ended.code,
            signal: ended.signal,
        },
    );
    0
}

pub(super) fn set_cloexec(fd: RawFd) -> bool {
    // SAFETY: fcntl on an integer descriptor; fails cleanly if it is not open.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0 }
}

fn send(status: &mut File, msg: &HelperMessage) {
    if let Ok(mut line) = serde_json::to_vec(msg) {
        line.push(b'\n');
        let _ = status.write_all(&line);
    }
}
