//! The supervisor of one command for `warden run` and MCP servers: reads a
//! [`SupervisorSpec`] from the control pipe (the Landlock ruleset, built by
//! warden, comes as a descriptor next to it), starts the command with the
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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use super::enforcement::requested_abi;
use super::landlock_apply::BuiltRuleset;
use super::launch::{
    ChildOutcome, Launch, SUPERVISOR_FAILED, SandboxSetup, Stdio, exec_failure_code,
};
use super::spec::{SupervisorMessage, SupervisorSpec, read_framed};
use super::supervise::{Child, Wake, become_subreaper};

/// Entry point of `warden __sandbox-exec --spec-fd N --status-fd M
/// [--ruleset-fd R]…`.
pub fn main(spec_fd: RawFd, status_fd: RawFd, ruleset_fds: &[RawFd]) -> i32 {
    let all = [spec_fd, status_fd]
        .into_iter()
        .chain(ruleset_fds.iter().copied());
    for fd in all {
        if fd < 3 || !set_cloexec(fd) {
            eprintln!("warden __sandbox-exec: fd {fd} is not inherited (internal command)");
            return SUPERVISOR_FAILED;
        }
    }
    // SAFETY: warden passed these descriptors to this process for its
    // exclusive use (checked open above); each is wrapped exactly once.
    let (control, status, rulesets) = unsafe {
        (
            File::from_raw_fd(spec_fd),
            File::from_raw_fd(status_fd),
            ruleset_fds
                .iter()
                .map(|fd| OwnedFd::from_raw_fd(*fd))
                .collect(),
        )
    };
    serve(control, status, [None, None, None], rulesets)
}

/// Run one command: the spec comes from `control`, which then stays open
/// as the kill switch; reports go to `status`. `stdio` is the command's
/// stdin, stdout and stderr (`None`: this process's own), closed here once
/// the command has them, so that its output ends when it does; `rulesets`
/// are the Landlock rulesets warden built for it, in order. Returns the
/// exit code.
pub fn serve(
    control: File,
    mut status: File,
    stdio: [Option<OwnedFd>; 3],
    rulesets: Vec<OwnedFd>,
) -> i32 {
    let spec: SupervisorSpec = match read_framed(&control) {
        Ok(s) => s,
        Err(e) => {
            let message = format!("bad spec: {e}");
            send(&mut status, &SupervisorMessage::SetupFailed { message });
            return SUPERVISOR_FAILED;
        }
    };
    let sandbox = match sandbox_setup(&spec, rulesets) {
        Ok(s) => s,
        Err(message) => {
            send(&mut status, &SupervisorMessage::SetupFailed { message });
            return SUPERVISOR_FAILED;
        }
    };
    let raw = |i: usize| stdio[i].as_ref().map(AsRawFd::as_raw_fd);
    let child_stdio = Stdio {
        stdin: raw(0),
        stdout: raw(1),
        stderr: raw(2),
    };
    let launch = match Launch::build(
        &spec.argv,
        &spec.env,
        &spec.cwd,
        sandbox,
        child_stdio,
        false,
    ) {
        Ok(l) => l,
        Err(message) => {
            send(&mut status, &SupervisorMessage::SetupFailed { message });
            return SUPERVISOR_FAILED;
        }
    };
    let reaper = become_subreaper();
    let spawned = match launch.spawn() {
        Ok(s) => s,
        Err(message) => {
            send(&mut status, &SupervisorMessage::SetupFailed { message });
            return SUPERVISOR_FAILED;
        }
    };
    drop(stdio);
    let mut child = Child::new(spawned.pid);
    let applied = match &spawned.outcome {
        ChildOutcome::Running(a) | ChildOutcome::ExecFailed(a, _) | ChildOutcome::Refused(a) => *a,
        ChildOutcome::SetupFailed(message) => {
            child.reap();
            let message = message.clone();
            send(&mut status, &SupervisorMessage::SetupFailed { message });
            return SUPERVISOR_FAILED;
        }
    };
    match spawned.enforcement(&applied) {
        Ok(enforcement) => send(&mut status, &SupervisorMessage::Enforced { enforcement }),
        Err(feature) => {
            child.reap();
            send(&mut status, &SupervisorMessage::Refused { feature });
            return SUPERVISOR_FAILED;
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
        send(
            &mut status,
            &SupervisorMessage::ExecFailed { message, code },
        );
        return code;
    }
    if let Wake::Fd(_) = child.wait_until(&[control.as_raw_fd()], None) {
        // warden gave up on the command (timeout) or died.
        child.kill(false);
    }
    let ended = child.reap();
    reaper.sweep();
    send(
        &mut status,
        &SupervisorMessage::Exited {
            code: ended.code,
            signal: ended.signal,
        },
    );
    0
}

/// The sandbox to apply, from the spec and the ruleset descriptors; a
/// mismatch between the two is refused (fail closed).
fn sandbox_setup(
    spec: &SupervisorSpec,
    rulesets: Vec<OwnedFd>,
) -> Result<Option<SandboxSetup>, String> {
    if !spec.sandboxed {
        return Ok(None);
    }
    if spec.landlock.is_empty() {
        return Err("the spec asks for a sandbox but carries no Landlock facts".into());
    }
    let expected = spec
        .landlock
        .iter()
        .filter(|f| requested_abi(f.kernel_abi) >= 1)
        .count();
    if expected != rulesets.len() {
        return Err(format!(
            "{} Landlock ruleset descriptor(s) for {expected} layer(s)",
            rulesets.len()
        ));
    }
    let mut fds = rulesets.into_iter();
    let layers = spec
        .landlock
        .iter()
        .map(|facts| {
            let fd = (requested_abi(facts.kernel_abi) >= 1)
                .then(|| fds.next())
                .flatten();
            Arc::new(BuiltRuleset { fd, facts: *facts })
        })
        .collect();
    Ok(Some(SandboxSetup {
        layers,
        deny_network: spec.deny_network,
        fallback: spec.fallback,
    }))
}

pub(super) fn set_cloexec(fd: RawFd) -> bool {
    // SAFETY: fcntl on an integer descriptor; fails cleanly if it is not open.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0 }
}

fn send(status: &mut File, msg: &SupervisorMessage) {
    if let Ok(mut line) = serde_json::to_vec(msg) {
        line.push(b'\n');
        let _ = status.write_all(&line);
    }
}
