//! Which device nodes a command may open: a short fixed list, plus the
//! terminal it was given, never anyone else's.
//!
//! `/dev` is left out of the whole-filesystem read grant (the plan lists
//! it, [`DEVICE_DIR`]): otherwise every device its mode bits allow is
//! readable, and that is another session's terminal (`/dev/pts/N` of the
//! same user: its keystrokes), the console and virtual consoles, and, for
//! root, raw disks (`/dev/sda`: every deny-read file) and input devices.
//! Instead each device below is granted read, write and ioctl by itself:
//!
//! - [`SHARED`]: `null`, `zero`, `full`, `random`, `urandom`, and `ptmx`,
//!   so a command can still create a pseudo-terminal (its other end,
//!   `/dev/pts/M`, is not granted: see docs/threat-model.md, "Terminals");
//! - the terminal(s) the command's stdin, stdout and stderr are
//!   ([`given_terminals`]: only `warden sandbox` passes its own; `warden
//!   run` and MCP servers give pipes), and `/dev/tty` only when the
//!   controlling terminal is one of them — otherwise `/dev/tty` would
//!   reach the terminal of a `warden sandbox … </dev/null >log` started
//!   from an interactive shell.

use std::os::fd::RawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The directory left out of the read grant (listable, nothing beneath it
/// readable but the devices granted one by one).
pub const DEVICE_DIR: &str = "/dev";

/// Devices every sandboxed command may use.
pub const SHARED: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/ptmx",
];

/// The controlling terminal's alias.
const CONTROLLING_TTY: &str = "/dev/tty";

/// The device paths for a command whose terminals are `terminals`: those
/// of [`SHARED`] that exist, resolved (in containers `/dev/ptmx` is a link
/// to `pts/ptmx`, and a rule binds the inode), then the terminals.
pub fn for_command(terminals: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let shared = SHARED.iter().map(PathBuf::from);
    for path in shared.chain(terminals.iter().cloned()) {
        if let Ok(real) = std::fs::canonicalize(&path)
            && !out.contains(&real)
        {
            out.push(real);
        }
    }
    out
}

/// The terminals among this process's own stdin, stdout and stderr (what
/// `warden sandbox` hands its command), by path, plus `/dev/tty` when the
/// controlling terminal is one of them.
pub fn given_terminals() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut devices = Vec::new();
    for fd in 0..3 {
        if let Some((path, rdev)) = terminal_of(fd)
            && !out.contains(&path)
        {
            out.push(path);
            devices.push(rdev);
        }
    }
    if !devices.is_empty()
        && let Some(ctty) = controlling_terminal()
        && devices
            .iter()
            .any(|d| libc::major(*d) == ctty.0 && libc::minor(*d) == ctty.1)
    {
        out.push(PathBuf::from(CONTROLLING_TTY));
    }
    out
}

/// The path and device number of the terminal `fd` is, if it is one.
fn terminal_of(fd: RawFd) -> Option<(PathBuf, libc::dev_t)> {
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(fd) } != 1 {
        return None;
    }
    let path = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    terminal_device(&path).map(|rdev| (path, rdev))
}

/// `path`'s device number if it is a character device under `/dev` (a
/// terminal opened by name; anything else is not granted).
fn terminal_device(path: &Path) -> Option<libc::dev_t> {
    if !path.starts_with(DEVICE_DIR) || path == Path::new(CONTROLLING_TTY) {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    meta.file_type().is_char_device().then(|| meta.rdev())
}

/// Major and minor number of this process's controlling terminal
/// (`tty_nr` in `/proc/self/stat`, 0 for none).
fn controlling_terminal() -> Option<(u32, u32)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_tty_nr(&stat)
}

fn parse_tty_nr(stat: &str) -> Option<(u32, u32)> {
    // After the command name: state, ppid, pgrp, session, tty_nr.
    let (_, rest) = stat.rsplit_once(')')?;
    let tty_nr: u32 = rest.split_whitespace().nth(4)?.parse().ok()?;
    // The kernel's encoding: minor in bits 0-7 and 20-31, major in 8-19.
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    (tty_nr != 0).then_some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controlling_terminal_is_decoded_from_tty_nr() {
        // pts/3 is 136:3; pts/300 is 137:44 (minors above 255 spill into
        // the high bits).
        let stat = |nr: u32| format!("42 (a (b) c) S 1 42 42 {nr} 42 4194560");
        assert_eq!(parse_tty_nr(&stat(136 << 8 | 3)), Some((136, 3)));
        let big = (137 << 8) | (300 & 0xff) | ((300 & !0xff) << 12);
        assert_eq!(parse_tty_nr(&stat(big)), Some((137, 300)));
        assert_eq!(parse_tty_nr(&stat(0)), None);
        assert_eq!(parse_tty_nr("garbage"), None);
    }

    #[test]
    fn only_character_devices_under_dev_are_terminals() {
        assert!(terminal_device(Path::new("/dev/null")).is_some());
        assert!(terminal_device(Path::new("/dev/tty")).is_none());
        assert!(terminal_device(Path::new("/etc/passwd")).is_none());
        let devices = for_command(&[PathBuf::from("/dev/null")]);
        assert_eq!(
            devices.iter().filter(|d| d.ends_with("null")).count(),
            1,
            "deduplicated: {devices:?}"
        );
        assert!(
            !devices
                .iter()
                .any(|d| d.starts_with("/dev/pts") && !d.ends_with("ptmx"))
        );
    }
}
