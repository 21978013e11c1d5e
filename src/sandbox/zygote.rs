//! The per-process sandbox zygote: one single-threaded warden process,
//! started (re-executed) once, that forks a supervisor for each command.
//!
//! Why: re-executing the warden binary for every command costs more than
//! everything else a sandboxed exec does (dynamic loading and relocation of
//! a large binary). `warden run` is multi-threaded (tokio), so it cannot
//! fork a supervisor itself; the zygote can, because it has one thread and
//! never runs anything else.
//!
//! Protocol (a `SOCK_SEQPACKET` socketpair): warden sends one byte with
//! five to seven descriptors attached (`SCM_RIGHTS`): the control pipe's
//! read end, the status pipe's write end, the command's stdin, stdout and
//! stderr, and the Landlock rulesets warden built (when sandboxed).
//! The zygote forks; the child becomes its own process group and runs
//! [`super::supervisor::serve`] on those descriptors (the spec comes through
//! the control pipe, exactly as for a `__sandbox-exec` supervisor); the zygote
//! closes its copies and answers with the child's pid (its process group,
//! for warden's last-resort kill) or `-errno`. Supervisors are reaped by
//! the kernel (`SIGCHLD` ignored in the zygote).
//!
//! Fail closed: if the zygote is gone or does not answer, the command is
//! refused with [`SandboxError::Supervisor`] (exit 5 from the CLI) — it is
//! never run another way; the next command starts a new zygote. The
//! zygote exits when warden's end of the socket closes (warden exited or
//! died). Its environment is empty and it is non-dumpable.

use std::io::{Error as IoError, ErrorKind};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::SandboxError;
use super::launch::SUPERVISOR_FAILED;
use super::supervisor::set_cloexec;

/// Descriptors per request: control, status, stdin, stdout, stderr (then
/// the Landlock rulesets, when sandboxed).
pub const REQUEST_FDS: usize = 5;

/// Landlock rulesets per request at most (the plan and a writes layer).
const MAX_LAYERS: usize = 2;

/// How long warden waits for the zygote to answer (it only forks).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- server

/// Entry point of `warden __sandbox-exec --zygote-fd N`.
pub fn main(sock_fd: RawFd) -> i32 {
    if sock_fd < 3 || !set_cloexec(sock_fd) {
        eprintln!(
            "warden __sandbox-exec: fd {sock_fd} is not an inherited socket (internal command)"
        );
        return SUPERVISOR_FAILED;
    }
    // SAFETY: warden passed this descriptor for the zygote's exclusive use.
    let sock = unsafe { OwnedFd::from_raw_fd(sock_fd) };
    if thread_count() != Some(1) {
        eprintln!("warden sandbox zygote: not single-threaded; refusing to fork supervisors");
        return SUPERVISOR_FAILED;
    }
    super::caps::protect_self();
    // As root: the bounding set and securebits once here, inherited by
    // every command forked below (not repeated between clone and exec).
    super::caps::drop_bounding();
    // Built once here, shared by every supervisor forked below.
    let _ = (super::seccomp::filter(true), super::seccomp::filter(false));
    // SAFETY: setting a disposition; supervisors are then reaped by the kernel.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    loop {
        let fds = match recv_fds(&sock) {
            Ok(Some(fds)) => fds,
            Ok(None) => return 0, // warden is gone
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("warden sandbox zygote: {e}");
                return SUPERVISOR_FAILED;
            }
        };
        let answer = if (REQUEST_FDS..=REQUEST_FDS + MAX_LAYERS).contains(&fds.len()) {
            fork_supervisor(&sock, fds)
        } else {
            -libc::EPROTO
        };
        if send_answer(&sock, answer).is_err() {
            return 0;
        }
    }
}

/// Fork a supervisor for one request; the pid, or `-errno`.
fn fork_supervisor(sock: &OwnedFd, fds: Vec<OwnedFd>) -> i32 {
    // SAFETY: the zygote is single-threaded (checked at start), so the
    // child may allocate like any process; it never returns (`_exit`).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return -IoError::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EAGAIN);
    }
    if pid == 0 {
        // SAFETY: in the child: closing the zygote's socket (the supervisor
        // must not keep warden's channel), restoring SIGCHLD so that it can
        // wait for its command, leading its own process group.
        unsafe {
            libc::close(sock.as_raw_fd());
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            libc::setpgid(0, 0);
        }
        let mut it = fds.into_iter();
        let mut next = || it.next().expect("REQUEST_FDS descriptors");
        let control = std::fs::File::from(next());
        let status = std::fs::File::from(next());
        let stdio = [Some(next()), Some(next()), Some(next())];
        let rulesets = it.collect();
        // A panic must end this process, never unwind back into the
        // zygote's loop (warden then sees no report: nothing ran).
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            super::supervisor::serve(control, status, stdio, rulesets)
        }))
        .unwrap_or(SUPERVISOR_FAILED);
        // SAFETY: ends the forked supervisor without running the zygote's
        // exit handlers.
        unsafe { libc::_exit(code) };
    }
    pid
}

fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// One request: the descriptors (close-on-exec), `None` at end of stream.
fn recv_fds(sock: &OwnedFd) -> std::io::Result<Option<Vec<OwnedFd>>> {
    const MAX_FDS: usize = REQUEST_FDS + 3;
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut cmsg_buf = [0u64; 16];
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE((MAX_FDS * size_of::<RawFd>()) as u32) } as usize;
    debug_assert!(space <= size_of_val(&cmsg_buf));
    // SAFETY: msghdr is plain data; the pointers set below stay valid for
    // the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg_buf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: recvmsg with a correctly set up msghdr.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(IoError::last_os_error());
    }
    if n == 0 {
        return Ok(None);
    }
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel wrote into our
    // buffer with the libc macros; each SCM_RIGHTS payload is an array of
    // fresh descriptors that now belong to this process.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        fds.clear(); // too many descriptors: refuse the request
    }
    Ok(Some(fds))
}

fn send_answer(sock: &OwnedFd, answer: i32) -> std::io::Result<()> {
    let bytes = answer.to_le_bytes();
    // SAFETY: sending a 4-byte stack buffer.
    let n = unsafe {
        libc::send(
            sock.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_NOSIGNAL,
        )
    };
    if n == bytes.len() as isize {
        Ok(())
    } else {
        Err(IoError::last_os_error())
    }
}

// ---------------------------------------------------------------- client

/// warden's handle on its zygote.
struct Zygote {
    exe: PathBuf,
    sock: OwnedFd,
    process: std::process::Child,
}

/// One zygote per warden process (commands of a run, tests of a binary).
static ZYGOTE: Mutex<Option<Zygote>> = Mutex::new(None);

/// Have the zygote of `exe` fork a supervisor holding `fds` (control read
/// end, status write end, stdin, stdout, stderr). Returns its pid, which is
/// also its process group. Blocks for the zygote's `fork` only.
pub(super) fn start_supervisor(exe: &Path, fds: &[RawFd]) -> Result<libc::pid_t, SandboxError> {
    let mut slot = ZYGOTE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(other) = slot.take_if(|z| z.exe != exe) {
        other.retire();
    }
    if slot.is_none() {
        *slot = Some(Zygote::start(exe)?);
    }
    let zygote = slot.as_mut().expect("started above");
    match zygote.request(fds) {
        Ok(answer) if answer > 0 => Ok(answer),
        Ok(answer) => Err(SandboxError::Supervisor(format!(
            "the sandbox zygote could not start a supervisor: {}; the command was not run",
            IoError::from_raw_os_error(-answer)
        ))),
        Err(e) => {
            let pid = zygote.process.id();
            if let Some(dead) = slot.take() {
                dead.retire();
            }
            Err(SandboxError::Supervisor(format!(
                "the sandbox zygote (pid {pid}) is not answering ({e}); the command was not \
                 run (the next command starts a new zygote)"
            )))
        }
    }
}

/// The pid of this process's zygote, if one is running (tests, diagnostics).
pub fn current_pid() -> Option<u32> {
    let slot = ZYGOTE.lock().unwrap_or_else(|e| e.into_inner());
    slot.as_ref().map(|z| z.process.id())
}

impl Zygote {
    fn start(exe: &Path) -> Result<Zygote, SandboxError> {
        let (ours, theirs) = socketpair()
            .map_err(|e| SandboxError::Supervisor(format!("sandbox zygote socket: {e}")))?;
        let theirs_raw = theirs.as_raw_fd();
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("__sandbox-exec")
            .arg("--zygote-fd")
            .arg(theirs_raw.to_string())
            .env_clear()
            .current_dir("/")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            // Its own group: a Ctrl-C meant for warden must not take it down
            // under a running command (warden's exit closes the socket).
            .process_group(0);
        // SAFETY: runs between fork and exec and only calls fcntl(2), which
        // is async-signal-safe; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::fcntl(theirs_raw, libc::F_SETFD, 0) != 0 {
                    return Err(IoError::last_os_error());
                }
                Ok(())
            });
        }
        let process = cmd.spawn().map_err(|e| {
            SandboxError::Supervisor(format!(
                "cannot start the sandbox zygote `{}`: {e}",
                exe.display()
            ))
        })?;
        drop(theirs);
        set_receive_timeout(&ours, ANSWER_TIMEOUT);
        Ok(Zygote {
            exe: exe.to_path_buf(),
            sock: ours,
            process,
        })
    }

    fn request(&self, fds: &[RawFd]) -> std::io::Result<i32> {
        send_fds(&self.sock, fds)?;
        let mut answer = [0u8; 4];
        loop {
            // SAFETY: receiving into a 4-byte stack buffer.
            let n = unsafe { libc::recv(self.sock.as_raw_fd(), answer.as_mut_ptr().cast(), 4, 0) };
            match n {
                4 => return Ok(i32::from_le_bytes(answer)),
                0 => return Err(IoError::new(ErrorKind::UnexpectedEof, "it exited")),
                n if n < 0 => {
                    let e = IoError::last_os_error();
                    if e.kind() != ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
                _ => return Err(IoError::new(ErrorKind::InvalidData, "short answer")),
            }
        }
    }

    fn retire(mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn socketpair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into the array we own.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(IoError::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn set_receive_timeout(sock: &OwnedFd, timeout: Duration) {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: setsockopt with a timeval of the right size.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
}

fn send_fds(sock: &OwnedFd, fds: &[RawFd]) -> std::io::Result<()> {
    let mut byte = [b'R'];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let payload = size_of_val(fds);
    let mut cmsg_buf = [0u64; 16];
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(payload as u32) } as usize;
    debug_assert!(space <= size_of_val(&cmsg_buf));
    // SAFETY: msghdr is plain data; the buffers outlive the call, and the
    // control message is filled in with the libc macros.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg_buf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), payload);
        if libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) != 1 {
            return Err(IoError::last_os_error());
        }
    }
    Ok(())
}
