//! `warden sandbox`'s guardian: the process the caller started stays a
//! child subreaper above the warden that supervises the command, so that a
//! SIGKILL of either still leaves a process that sweeps everything the
//! command started.
//!
//! [`split`] forks once, first thing (while the process is small). The parent
//! (the pid the caller knows) becomes the guardian: it forwards SIGINT,
//! SIGTERM, SIGHUP and SIGQUIT to the child, waits for it, sweeps every
//! descendant left (reparented to it when the child died), and ends the
//! way the child ended (its exit code, or by its signal). The child
//! carries on as the supervisor ([`super::run_inherited`]): if the
//! guardian is SIGKILLed, its parent-death signal (SIGTERM) takes the
//! interrupt path — the command and everything it started are killed and
//! swept, then it dies by SIGTERM. If the supervisor is SIGKILLed, the
//! command dies by its own parent-death signal, and what it started is
//! reparented to the guardian, which sweeps it. Only killing both at once
//! (`kill -9` of warden's whole process group) leaves nobody to sweep.
//!
//! The sandboxed command cannot signal either process (Landlock's signal
//! scoping) nor change their limits or scheduling (`seccomp_cross`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::supervise::{Reaper, SignalWatch, become_subreaper, die_by};

/// Fork the guardian. Returns in the child (the supervisor); the guardian
/// never returns: it exits as the child did. A failed fork is an error:
/// the caller does not run the command without a guardian.
pub fn split() -> Result<(), String> {
    let reaper = become_subreaper();
    // SAFETY: getpid has no preconditions.
    let guardian = unsafe { libc::getpid() };
    // SAFETY: `warden sandbox` is single-threaded here (no runtime, no
    // thread started), so the child may run any code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: plain prctl and getppid. SIGTERM is one the supervisor
        // handles (kill the command's tree, then die by it).
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0,
                0,
                0,
            );
            if libc::getppid() != guardian {
                // The guardian is already gone: nothing would sweep.
                libc::_exit(128 + libc::SIGTERM);
            }
        }
        drop(reaper); // the guardian's list, not ours
        return Ok(());
    }
    guard(pid, &reaper)
}

/// The guardian's life: forward signals, wait for the supervisor, sweep,
/// end like it.
fn guard(supervisor: libc::pid_t, reaper: &Reaper) -> ! {
    let signals = SignalWatch::new();
    let pidfd = pidfd_open(supervisor);
    let status = loop {
        if let (Some(watch), Some(pidfd)) = (&signals, &pidfd) {
            let mut fds = [watch.fd(), pidfd.as_raw_fd()].map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
            // SAFETY: a live array of two pollfd.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if fds[0].revents != 0 {
                if let Some(signal) = watch.take() {
                    // SAFETY: signalling our own, not yet reaped, child.
                    unsafe { libc::kill(supervisor, signal) };
                }
                continue;
            }
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(supervisor, &mut status, libc::__WALL) };
        if r == supervisor {
            break status;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break libc::SIGKILL; // "killed", as far as we can tell
        }
    };
    reaper.sweep();
    drop(signals);
    if libc::WIFEXITED(status) {
        // SAFETY: ends the guardian without flushing stdio buffers it
        // shares with the supervisor, which flushed its own.
        unsafe { libc::_exit(libc::WEXITSTATUS(status)) };
    }
    let signal = if libc::WIFSIGNALED(status) {
        libc::WTERMSIG(status)
    } else {
        libc::SIGKILL
    };
    die_by(signal);
    // SAFETY: as above, for a signal whose default action is not to end
    // the process: reported the shell's way.
    unsafe { libc::_exit(128 + signal) }
}

fn pidfd_open(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: pidfd_open(pid, 0) takes no pointers; the result is owned below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    // SAFETY: a fresh descriptor returned by the kernel, owned here only.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}
