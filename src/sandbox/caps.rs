//! Capabilities: a sandboxed command holds none, even when warden runs as
//! root (containers, self-hosted runners).
//!
//! Root keeps reaching past the sandbox through capabilities: setting
//! `security.capability` on a planted binary (`CAP_SETFCAP`), device
//! nodes (`CAP_MKNOD`), `/proc/<pid>/environ` of warden
//! (`CAP_SYS_PTRACE`: warden also marks itself non-dumpable,
//! [`protect_self`], so that read needs it), files of other users
//! (`CAP_DAC_OVERRIDE`, `CAP_FOWNER`), setgid bits kept on files of
//! another group (`CAP_FSETID`). So [`drop_all`] empties every set: the
//! bounding set (so nothing `execve`d can gain one back), inheritable,
//! permitted, effective and ambient; and it locks the securebits that make
//! uid 0 nothing special (`SECBIT_NOROOT`: root gains no capability at
//! `execve`; `SECBIT_NO_SETUID_FIXUP`, `SECBIT_KEEP_CAPS` off and
//! `SECBIT_NO_CAP_AMBIENT_RAISE`, each locked). `no_new_privs` (set
//! before) already keeps setuid bits and file capabilities from working
//! inside; this is what keeps root's own capabilities out.
//!
//! Lowering needs no privilege; the bounding set and the securebits need
//! `CAP_SETPCAP`, which only a process that holds capabilities has. A
//! process without it (an unprivileged user) keeps the kernel's full
//! bounding set, which grants nothing under `no_new_privs`.
//!
//! What root loses with them (docs/threat-model.md): `chown` to another
//! user (`tar x` as root restores archive owners unless `--no-same-owner`),
//! reading or writing files its mode bits do not allow (another user's
//! `0600` file), binding ports below 1024.

use std::sync::atomic::{AtomicBool, Ordering};

/// Capability numbers are below this (linux/capability.h has 41 on 6.18;
/// `PR_CAPBSET_*` answers `EINVAL` for numbers the kernel does not know).
const CAP_NUMBERS: u32 = 64;

/// `SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
/// SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
/// SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED`
/// (linux/securebits.h); `SECBIT_KEEP_CAPS` itself off.
const LOCKED_SECUREBITS: libc::c_ulong = 0b1110_1111;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

impl CapHeader {
    /// Version 3 (two 32-bit halves), the calling thread.
    const V3_SELF: CapHeader = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;
const CAP_SETPCAP: u32 = 8;

/// Set once the bounding set is empty and the securebits are locked in
/// this process image ([`drop_bounding`]): a process forked from it
/// inherits both, so [`drop_all`] only has to empty its own sets.
static BOUNDING_DROPPED: AtomicBool = AtomicBool::new(false);

/// Empty the bounding set and lock the securebits of this process, once,
/// in a process that forks many commands (the per-run zygote): ~80
/// `prctl`s that each command would otherwise repeat between `clone` and
/// `execve`. The process keeps its own effective capabilities (the
/// bounding set limits only what an `execve` can gain, and the zygote
/// never execs); every command forked from it still loses them in
/// [`drop_all`]. Returns whether the bounding set is now empty (`false`
/// without `CAP_SETPCAP`: nothing to drop, and [`drop_all`] then works
/// as without this call).
pub fn drop_bounding() -> bool {
    let Some(data) = capget() else {
        return false;
    };
    if data[0].effective & (1 << CAP_SETPCAP) == 0 {
        return false;
    }
    lock_securebits_and_drop_bounding();
    let dropped = bounding_empty();
    BOUNDING_DROPPED.store(dropped, Ordering::Relaxed);
    dropped
}

/// Empty every capability set of the calling process and lock the
/// securebits (see the module doc). Returns whether the process is left
/// holding no capability: effective, permitted, inheritable and ambient
/// empty, and the bounding set too when the process could lower it. No
/// allocation: this runs between `clone` and `execve`.
pub fn drop_all() -> bool {
    let Some(data) = capget() else {
        return false;
    };
    let had_setpcap = data[0].effective & (1 << CAP_SETPCAP) != 0;
    // Forked from a process that already dropped them (and checked it).
    let bounding_done = BOUNDING_DROPPED.load(Ordering::Relaxed);
    if had_setpcap && !bounding_done {
        lock_securebits_and_drop_bounding();
    }
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no pointers.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    let mut header = CapHeader::V3_SELF;
    let empty = [CapData::default(); 2];
    // SAFETY: capset with a v3 header and a two-element data array, as the
    // ABI requires; it only lowers sets here (to nothing).
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, empty.as_ptr()) } != 0 {
        return false;
    }
    let Some(data) = capget() else {
        return false;
    };
    let sets_empty = data
        .iter()
        .all(|d| d.effective == 0 && d.permitted == 0 && d.inheritable == 0);
    // Ambient capabilities are a subset of permitted and inheritable, so
    // they are gone with them. Without CAP_SETPCAP the bounding set could
    // not be dropped and grants nothing under no_new_privs.
    sets_empty && (!had_setpcap || bounding_done || bounding_empty())
}

/// The calling thread's capability sets (v3: two 32-bit halves).
fn capget() -> Option<[CapData; 2]> {
    let mut header = CapHeader::V3_SELF;
    let mut data = [CapData::default(); 2];
    // SAFETY: capget with a v3 header and a two-element data array, as the
    // ABI requires.
    let ok = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } == 0;
    ok.then_some(data)
}

/// Lock the securebits, then drop every capability from the bounding set.
/// Needs CAP_SETPCAP (the caller checked).
fn lock_securebits_and_drop_bounding() {
    // SAFETY: prctl with integer arguments. Before the drops below:
    // changing securebits needs CAP_SETPCAP.
    unsafe { libc::prctl(libc::PR_SET_SECUREBITS, LOCKED_SECUREBITS, 0, 0, 0) };
    for cap in 0..CAP_NUMBERS {
        // SAFETY: prctl with integer arguments. Capability numbers are
        // contiguous: the first refused one is past the last the kernel
        // knows (EINVAL), and the loop stops there.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
            break;
        }
    }
}

/// Whether the bounding set holds no capability.
fn bounding_empty() -> bool {
    (0..CAP_NUMBERS)
        // SAFETY: PR_CAPBSET_READ takes an integer: 1 held, 0 not, -1
        // (EINVAL) past the last capability the kernel knows.
        .map(|cap| unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) })
        .take_while(|held| *held >= 0)
        .all(|held| held == 0)
}

/// Make warden's own process non-dumpable, so its `/proc/<pid>/environ`
/// and memory need `CAP_SYS_PTRACE`, which no sandboxed command has.
pub fn protect_self() -> bool {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes no pointers.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 }
}
