//! Supervising a started command: wait for it to end, for a descriptor to
//! become readable (the control pipe closing, a signal on a signalfd) or
//! for a deadline; reap it; and kill every process it left behind.
//!
//! The supervisor is a child subreaper ([`become_subreaper`]), so whatever
//! the command starts — including processes that left its process group
//! with `setsid`, or whose parents died — is reparented to the supervisor
//! when its parent dies, and [`Reaper::sweep`] kills and reaps all of it.
//! The sweep cannot be starved or outrun: it lists the supervisor's
//! children through a descriptor opened before the command started
//! (re-read from offset 0, into a buffer on the stack: no new descriptor,
//! no allocation, so a lowered `RLIMIT_NOFILE` or exhausted memory cannot
//! stop it), and it loops until `waitpid` says no child is left (`ECHILD`,
//! with `__WALL` so that a child created with another exit signal counts),
//! however deep the chain of processes that are reparented one by one.
//! A command cannot change the supervisor's limits or scheduling either
//! (`seccomp_cross`). Nothing outlives its command.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Make the calling process the reaper of its orphaned descendants, and
/// open what [`Reaper::sweep`] needs while descriptors are still free.
/// The list read is the calling thread's, and orphans are reparented to
/// one thread of a subreaper: the supervisors are single-threaded, and a
/// child the list misses is found by a scan of `/proc` instead.
pub fn become_subreaper() -> Reaper {
    // SAFETY: plain prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let children = std::fs::File::open("/proc/thread-self/children")
        .ok()
        .map(OwnedFd::from);
    Reaper { children }
}

/// The sweep of a subreaper's descendants ([`become_subreaper`]).
#[derive(Debug)]
pub struct Reaper {
    /// `/proc/thread-self/children`, if the kernel has it.
    children: Option<OwnedFd>,
}

impl Reaper {
    /// Kill and reap every remaining descendant (they are reparented to
    /// us). Returns only when the caller has no child left at all, so only
    /// for a process whose children are all the command's. A process
    /// forking while it is being killed is caught on a later round; a
    /// stopped one dies of SIGKILL like any other.
    pub fn sweep(&self) {
        let mut buf = [0u8; 4096];
        loop {
            let killed = match &self.children {
                Some(fd) => kill_listed(fd, &mut buf),
                None => kill_scanned(),
            };
            let mut reaped = false;
            loop {
                // Block only when something was just killed: it will end.
                let flags = if killed > 0 && !reaped {
                    libc::__WALL
                } else {
                    libc::__WALL | libc::WNOHANG
                };
                // SAFETY: waitpid with a null status pointer is allowed.
                let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), flags) };
                if r > 0 {
                    reaped = true;
                    continue;
                }
                if r == 0 {
                    break;
                }
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return,
                    _ => break,
                }
            }
            // A child exists that the list did not name: it is being
            // reparented to us right now, or it is another thread's (the
            // list is per thread): scan every process's parent pid.
            if !reaped && killed == 0 && kill_scanned() == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// How a child ended (`None`/`None`: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ended {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl Ended {
    fn from_wait_status(status: i32) -> Ended {
        if libc::WIFEXITED(status) {
            Ended {
                code: Some(libc::WEXITSTATUS(status)),
                signal: None,
            }
        } else if libc::WIFSIGNALED(status) {
            Ended {
                code: None,
                signal: Some(libc::WTERMSIG(status)),
            }
        } else {
            Ended::default()
        }
    }
}

/// What woke [`Child::wait_until`] up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The child ended (not reaped yet unless no pidfd was available).
    Exited,
    /// `watch[i]` became readable or was closed.
    Fd(usize),
    Deadline,
}

/// A child process of the caller.
#[derive(Debug)]
pub struct Child {
    pub pid: libc::pid_t,
    pidfd: Option<OwnedFd>,
    ended: Option<Ended>,
}

impl Child {
    pub fn new(pid: libc::pid_t) -> Child {
        // SAFETY: pidfd_open(pid, 0) takes no pointers; the result is owned below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
        let pidfd = (fd >= 0).then(|| {
            // SAFETY: a fresh descriptor returned by the kernel, owned here only.
            unsafe { OwnedFd::from_raw_fd(fd) }
        });
        Child {
            pid,
            pidfd,
            ended: None,
        }
    }

    /// Block until the child ends, a `watch` descriptor is readable, or
    /// `deadline` passes.
    pub fn wait_until(&mut self, watch: &[RawFd], deadline: Option<Instant>) -> Wake {
        loop {
            if self.ended.is_some() {
                return Wake::Exited;
            }
            let mut fds: Vec<libc::pollfd> = watch
                .iter()
                .map(|fd| libc::pollfd {
                    fd: *fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            if let Some(p) = &self.pidfd {
                fds.push(libc::pollfd {
                    fd: p.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            // Without a pidfd (old kernel), look at the child every 10 ms.
            let mut timeout: i32 = if self.pidfd.is_some() { -1 } else { 10 };
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Wake::Deadline;
                }
                let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128) as i32;
                timeout = if timeout < 0 { ms } else { timeout.min(ms) };
            }
            // SAFETY: `fds` is a live, correctly sized array of pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                // poll itself failed: fall back to waiting for the child.
                self.reap();
                return Wake::Exited;
            }
            if let Some(i) = fds[..watch.len()].iter().position(|f| f.revents != 0) {
                return Wake::Fd(i);
            }
            if fds.get(watch.len()).is_some_and(|f| f.revents != 0) {
                return Wake::Exited;
            }
            if self.pidfd.is_none() {
                self.try_reap();
            }
        }
    }

    fn try_reap(&mut self) {
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        if unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } == self.pid {
            self.ended = Some(Ended::from_wait_status(status));
        }
    }

    /// Wait for the child to end and collect its status (once).
    pub fn reap(&mut self) -> Ended {
        if let Some(e) = self.ended {
            return e;
        }
        let mut status = 0;
        loop {
            // SAFETY: waitpid on our own child with a valid status pointer.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::__WALL) };
            if r == self.pid {
                let e = Ended::from_wait_status(status);
                self.ended = Some(e);
                return e;
            }
            if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // Someone else reaped it: it was killed as far as we know.
            let e = Ended {
                code: None,
                signal: Some(libc::SIGKILL),
            };
            self.ended = Some(e);
            return e;
        }
    }

    /// SIGKILL the child (and its process group when it leads one).
    pub fn kill(&self, group: bool) {
        if self.ended.is_some() {
            return;
        }
        // SAFETY: signalling our own, not yet reaped, child (and its group).
        unsafe {
            if group {
                libc::kill(-self.pid, libc::SIGKILL);
            }
            libc::kill(self.pid, libc::SIGKILL);
        }
    }
}

/// SIGKILL every pid the children list names; how many it named.
fn kill_listed(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    // SAFETY: pread into our own buffer, at most its length.
    let n = unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    let Ok(n) = usize::try_from(n) else {
        return 0;
    };
    let mut listed = &buf[..n];
    if n == buf.len() {
        // Full: the last number may be cut; it is read again next round.
        let end = listed.iter().rposition(|b| *b == b' ').unwrap_or(0);
        listed = &listed[..end];
    }
    let mut count = 0;
    for pid in parse_pids(listed) {
        // SAFETY: signalling a process that is our child, not yet reaped
        // (only this loop reaps), so its pid cannot have been reused.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        count += 1;
    }
    count
}

/// The pids in a space-separated list, without allocating.
fn parse_pids(list: &[u8]) -> impl Iterator<Item = libc::pid_t> + '_ {
    list.split(|b| !b.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| {
            w.iter().try_fold(0 as libc::pid_t, |pid, d| {
                pid.checked_mul(10)?
                    .checked_add(libc::pid_t::from(d - b'0'))
            })
        })
        .filter(|pid| *pid > 0)
}

/// Without the children list (an old kernel), or for a child it does not
/// name: a scan of every process's parent pid, which needs descriptors and
/// memory.
fn kill_scanned() -> usize {
    let pids = children();
    for pid in &pids {
        // SAFETY: signalling a process that is our child.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    pids.len()
}

/// Our direct children, from a scan of every process's parent pid.
fn children() -> Vec<libc::pid_t> {
    let me = std::process::id();
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

/// Termination signals `warden sandbox` turns into "kill the command and
/// everything it started, then die by the same signal".
pub const FORWARDED_SIGNALS: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// [`FORWARDED_SIGNALS`] blocked and readable from a signalfd; the old
/// mask is restored on drop.
pub struct SignalWatch {
    old: libc::sigset_t,
    fd: OwnedFd,
}

impl SignalWatch {
    pub fn new() -> Option<SignalWatch> {
        // SAFETY: sigset manipulation on stack values we own; sigprocmask
        // and signalfd with valid pointers.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in FORWARDED_SIGNALS {
                libc::sigaddset(&mut set, s);
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            if libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old) != 0 {
                return None;
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
            if fd < 0 {
                libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                return None;
            }
            Some(SignalWatch {
                old,
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The signal that made the descriptor readable (consumed).
    pub fn take(&self) -> Option<i32> {
        // SAFETY: signalfd_siginfo is plain data; read fills at most its size.
        unsafe {
            let mut info: libc::signalfd_siginfo = std::mem::zeroed();
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            let n = libc::read(
                self.fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            );
            (n as usize == size).then_some(info.ssi_signo as i32)
        }
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        // SAFETY: restoring the mask saved in `new`.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// End the process by `signal` the way it would have without warden's
/// handling (default action), after warden has cleaned up.
pub fn die_by(signal: i32) {
    // SAFETY: resetting a disposition, unblocking and raising a signal.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_parsed_without_allocating() {
        let got: Vec<_> = parse_pids(b"12 7 99999 ").collect();
        assert_eq!(got, [12, 7, 99999]);
        assert_eq!(parse_pids(b"").count(), 0);
        assert_eq!(parse_pids(b"99999999999999").count(), 0, "overflow");
    }
}
