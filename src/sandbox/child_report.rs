//! The fixed-size reports the command's process writes on a close-on-exec
//! pipe between `clone` and `execve` ([`super::launch`]): what the kernel
//! enforced (and whether that is a refusal), a setup failure, or an
//! `execve` failure. Written with one `write(2)` of a stack buffer
//! (async-signal-safe, and atomic: smaller than `PIPE_BUF`); decoded by the
//! parent into [`ChildOutcome`].

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::enforcement::LandlockState;
use super::launch::SUPERVISOR_FAILED;

/// Where the child gave up before `execve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Stage {
    ProcessGroup = 1,
    Stdio = 2,
    Chdir = 3,
    Landlock = 4,
    Descriptors = 5,
    Capabilities = 6,
}

impl Stage {
    fn from_u32(v: u32) -> Option<Stage> {
        [
            Stage::ProcessGroup,
            Stage::Stdio,
            Stage::Chdir,
            Stage::Landlock,
            Stage::Descriptors,
            Stage::Capabilities,
        ]
        .into_iter()
        .find(|s| *s as u32 == v)
    }

    fn describe(self) -> &'static str {
        match self {
            Stage::ProcessGroup => "setpgid",
            Stage::Stdio => "dup2 of stdin/stdout/stderr",
            Stage::Chdir => "chdir to the working directory",
            Stage::Landlock => "landlock_restrict_self",
            Stage::Descriptors => "close_range of the inherited descriptors",
            Stage::Capabilities => "dropping every capability",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(super) enum Kind {
    Applied = 1,
    SetupFailed = 2,
    ExecFailed = 3,
}

/// One fixed-size report from the child (written whole: < PIPE_BUF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub(super) struct Record {
    kind: u32,
    /// errno for failures.
    errno: i32,
    /// Applied: Landlock state (0 none, 1 partial, 2 full); SetupFailed: stage.
    detail: u32,
    /// Applied: bit 0 no_new_privs, 1 seccomp, 2 capabilities dropped,
    /// 3 refused, 4 sandboxed.
    flags: u32,
}

const RECORD_LEN: usize = std::mem::size_of::<Record>();

impl Record {
    pub(super) fn new(kind: Kind) -> Record {
        Record {
            kind: kind as u32,
            errno: 0,
            detail: 0,
            flags: 0,
        }
    }

    pub(super) fn applied(
        state: LandlockState,
        nnp: bool,
        seccomp: bool,
        caps: bool,
        refused: bool,
    ) -> Self {
        let detail = match state {
            LandlockState::None => 0,
            LandlockState::Partial => 1,
            LandlockState::Full => 2,
        };
        let flags = nnp as u32
            | (seccomp as u32) << 1
            | (caps as u32) << 2
            | (refused as u32) << 3
            | 1 << 4;
        Record {
            detail,
            flags,
            ..Record::new(Kind::Applied)
        }
    }

    pub(super) fn failed(kind: Kind, detail: u32, errno: i32) -> Self {
        Record {
            errno,
            detail,
            ..Record::new(kind)
        }
    }

    fn to_bytes(self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        out[0..4].copy_from_slice(&self.kind.to_ne_bytes());
        out[4..8].copy_from_slice(&self.errno.to_ne_bytes());
        out[8..12].copy_from_slice(&self.detail.to_ne_bytes());
        out[12..16].copy_from_slice(&self.flags.to_ne_bytes());
        out
    }

    fn from_bytes(b: &[u8]) -> Record {
        let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        Record {
            kind: u32::from_ne_bytes(word(0)),
            errno: i32::from_ne_bytes(word(4)),
            detail: u32::from_ne_bytes(word(8)),
            flags: u32::from_ne_bytes(word(12)),
        }
    }
}

/// SAFETY (caller): `fd` is an open descriptor; only a `write(2)` of a
/// stack buffer (async-signal-safe).
pub(super) unsafe fn write_record(fd: RawFd, record: &Record) {
    let bytes = record.to_bytes();
    // SAFETY: a valid buffer of RECORD_LEN bytes.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), RECORD_LEN) };
}

/// Report a setup failure and exit (child only).
pub(super) unsafe fn fail(report: RawFd, stage: Stage) -> ! {
    // SAFETY: errno location is thread-local and always valid; the rest is
    // write(2) and _exit(2).
    unsafe {
        let errno = *libc::__errno_location();
        write_record(
            report,
            &Record::failed(Kind::SetupFailed, stage as u32, errno),
        );
        libc::_exit(SUPERVISOR_FAILED)
    }
}

pub(super) fn read_records(fd: &OwnedFd) -> Vec<Record> {
    let mut bytes = Vec::with_capacity(2 * RECORD_LEN);
    let mut buf = [0u8; 4 * RECORD_LEN];
    loop {
        // SAFETY: reading into a stack buffer we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => break,
            n if n > 0 => bytes.extend_from_slice(&buf[..n as usize]),
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => break,
        }
    }
    bytes
        .chunks_exact(RECORD_LEN)
        .map(Record::from_bytes)
        .collect()
}

/// What the kernel applied in the child, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub sandboxed: bool,
    pub landlock: LandlockState,
    pub no_new_privs: bool,
    pub seccomp: bool,
    pub capabilities_dropped: bool,
    pub refused: bool,
}

impl Applied {
    fn from_record(r: &Record) -> Applied {
        Applied {
            sandboxed: r.flags & 1 << 4 != 0,
            landlock: match r.detail {
                2 => LandlockState::Full,
                1 => LandlockState::Partial,
                _ => LandlockState::None,
            },
            no_new_privs: r.flags & 1 != 0,
            seccomp: r.flags & 1 << 1 != 0,
            capabilities_dropped: r.flags & 1 << 2 != 0,
            refused: r.flags & 1 << 3 != 0,
        }
    }
}

/// How far the child got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildOutcome {
    /// The sandbox is in place and the command is running (exec'd).
    Running(Applied),
    /// The sandbox was in place but `execve` failed with `errno`.
    ExecFailed(Applied, i32),
    /// The kernel cannot enforce the sandbox (the child exited, nothing ran).
    Refused(Applied),
    /// The child could not set up (nothing ran).
    SetupFailed(String),
}

impl ChildOutcome {
    pub(super) fn from_records(records: &[Record]) -> ChildOutcome {
        let first = records.first();
        match first.map(|r| r.kind) {
            Some(k) if k == Kind::Applied as u32 => {
                let applied = Applied::from_record(&records[0]);
                match records.get(1) {
                    _ if applied.refused => ChildOutcome::Refused(applied),
                    Some(r) if r.kind == Kind::ExecFailed as u32 => {
                        ChildOutcome::ExecFailed(applied, r.errno)
                    }
                    _ => ChildOutcome::Running(applied),
                }
            }
            Some(k) if k == Kind::SetupFailed as u32 => {
                let r = &records[0];
                let stage = Stage::from_u32(r.detail).map_or("setup", Stage::describe);
                ChildOutcome::SetupFailed(format!(
                    "{stage} failed: {}",
                    std::io::Error::from_raw_os_error(r.errno)
                ))
            }
            _ => ChildOutcome::SetupFailed(
                "the sandboxed process ended before reporting the sandbox; nothing was run".into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_decode() {
        let a = Record::applied(LandlockState::Full, true, true, false, false);
        assert_eq!(Record::from_bytes(&a.to_bytes()), a);
        let applied = Applied::from_record(&a);
        assert!(applied.sandboxed && applied.no_new_privs && applied.seccomp);
        assert!(!applied.capabilities_dropped && !applied.refused);
        assert_eq!(applied.landlock, LandlockState::Full);

        let exec = Record::failed(Kind::ExecFailed, 0, libc::ENOENT);
        assert_eq!(
            ChildOutcome::from_records(&[a, exec]),
            ChildOutcome::ExecFailed(applied, libc::ENOENT)
        );
        assert_eq!(
            ChildOutcome::from_records(&[a]),
            ChildOutcome::Running(applied)
        );
        let refused = Record::applied(LandlockState::Partial, true, true, true, true);
        assert!(matches!(
            ChildOutcome::from_records(&[refused]),
            ChildOutcome::Refused(a) if a.landlock == LandlockState::Partial
        ));
        let setup = Record::failed(Kind::SetupFailed, Stage::Chdir as u32, libc::ENOENT);
        let ChildOutcome::SetupFailed(msg) = ChildOutcome::from_records(&[setup]) else {
            panic!("expected a setup failure");
        };
        assert!(
            msg.starts_with("chdir to the working directory failed"),
            "{msg}"
        );
        assert!(matches!(
            ChildOutcome::from_records(&[]),
            ChildOutcome::SetupFailed(m) if m.contains("nothing was run")
        ));
    }
}
