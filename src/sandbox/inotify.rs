//! A small inotify wrapper for the per-process caches of [`super::deny`]
//! and [`super::plan_cache`].
//!
//! What makes these caches sound: the kernel queues an inotify event inside
//! the system call that changes a watched directory, so once a command and
//! every process it started have ended, all their changes are in the queue
//! and [`Inotify::drain`] (non-blocking) sees them before the next command
//! is prepared. A full queue is reported as an overflow: the caches then
//! start over.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// Directory entries created, deleted or moved, and the directory itself
/// deleted or moved.
pub const DIR_CHANGES: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR
    | libc::IN_DONT_FOLLOW;

/// Only the watched file or directory itself deleted or moved.
pub const SELF_CHANGES: u32 = libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_DONT_FOLLOW;

/// One inotify instance (non-blocking, close-on-exec).
pub struct Inotify(OwnedFd);

impl Inotify {
    /// `None` when no instance is left (per-user limit): callers then do
    /// without a cache.
    pub fn new() -> Option<Inotify> {
        // SAFETY: plain system call; the descriptor is owned below.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        // SAFETY: a fresh descriptor owned only here.
        (fd >= 0).then(|| Inotify(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Watch `path`; the watch descriptor. Watching an inode already
    /// watched returns its descriptor and replaces its mask.
    pub fn add(&self, path: &Path, mask: u32) -> std::io::Result<i32> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a valid NUL-terminated path and our inotify descriptor.
        let wd = unsafe { libc::inotify_add_watch(self.0.as_raw_fd(), c.as_ptr(), mask) };
        if wd < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(wd)
        }
    }

    /// Every queued event, in order, until the queue is empty; `None` after
    /// an overflow or a read error (the caller starts over).
    pub fn drain(&self) -> Option<Vec<Event>> {
        let mut events = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            // SAFETY: reading into a buffer we own.
            let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                match e.kind() {
                    std::io::ErrorKind::WouldBlock => return Some(events),
                    std::io::ErrorKind::Interrupted => continue,
                    _ => return None,
                }
            }
            let n = n as usize;
            if n == 0 {
                return None;
            }
            let mut off = 0usize;
            while off + HEADER_LEN <= n {
                let (ev, len) = Event::parse(&buf[off..n]);
                off += HEADER_LEN + len;
                if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                    return None;
                }
                events.push(ev);
            }
        }
    }
}

/// Size of `struct inotify_event` without its name.
const HEADER_LEN: usize = 16;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub wd: i32,
    pub mask: u32,
    /// The entry's name, for events about an entry of a watched directory
    /// (a single normal path component, else `None`).
    pub name: Option<OsString>,
}

impl Event {
    /// Parse one event at the start of `b` (which holds at least a header;
    /// the kernel never splits an event across reads), and the length of
    /// its name field.
    fn parse(b: &[u8]) -> (Event, usize) {
        let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let raw = &b[HEADER_LEN..(HEADER_LEN + len).min(b.len())];
        let name = raw
            .split(|c| *c == 0)
            .next()
            .filter(|n| !n.is_empty())
            .map(OsStr::from_bytes)
            .filter(|n| {
                let mut c = Path::new(n).components();
                matches!(c.next(), Some(Component::Normal(_))) && c.next().is_none()
            })
            .map(OsStr::to_os_string);
        (Event { wd, mask, name }, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_changes_are_drained_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(tmp.path()).unwrap();
        let ino = Inotify::new().expect("inotify available");
        let wd = ino.add(&dir, DIR_CHANGES).unwrap();
        assert_eq!(ino.drain(), Some(vec![]), "nothing happened yet");
        std::fs::write(dir.join("a"), "").unwrap();
        std::fs::rename(dir.join("a"), dir.join("b")).unwrap();
        let seen: Vec<(i32, u32, OsString)> = ino
            .drain()
            .unwrap()
            .into_iter()
            .map(|e| (e.wd, e.mask, e.name.unwrap()))
            .collect();
        let (a, b) = (OsString::from("a"), OsString::from("b"));
        assert_eq!(
            seen,
            [
                (wd, libc::IN_CREATE, a.clone()),
                (wd, libc::IN_MOVED_FROM, a),
                (wd, libc::IN_MOVED_TO, b)
            ]
        );
        assert_eq!(ino.drain(), Some(vec![]), "drained");
    }
}
