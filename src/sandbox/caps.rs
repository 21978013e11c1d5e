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

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;
const CAP_SETPCAP: u32 = 8;

/// Empty every capability set of the calling process and lock the
/// securebits (see the module doc). Returns whether the process is left
/// holding no capability: effective, permitted, inheritable and ambient
/// empty, and the bounding set too when the process could lower it. No
/// allocation: this runs between `clone` and `execve`.
pub fn drop_all() -> bool {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget with a v3 header and a two-element data array, as the
    // ABI requires.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return false;
    }
    let had_setpcap = data[0].effective & (1 << CAP_SETPCAP) != 0;
    if had_setpcap {
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
    let empty = [CapData::default(); 2];
    // SAFETY: as above; capset only lowers sets here (to nothing).
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, empty.as_ptr()) } != 0 {
        return false;
    }
    // SAFETY: as above.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return false;
    }
    let sets_empty = data
        .iter()
        .all(|d| d.effective == 0 && d.permitted == 0 && d.inheritable == 0);
    // Ambient capabilities are a subset of permitted and inheritable, so
    // they are gone with them.
    let bounding_empty = (0..CAP_NUMBERS)
        // SAFETY: PR_CAPBSET_READ takes an integer: 1 held, 0 not, -1
        // (EINVAL) past the last capability the kernel knows.
        .map(|cap| unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) })
        .take_while(|held| *held >= 0)
        .all(|held| held == 0);
    sets_empty && (bounding_empty || !had_setpcap)
}

/// Make warden's own process non-dumpable, so its `/proc/<pid>/environ`
/// and memory need `CAP_SYS_PTRACE`, which no sandboxed command has.
pub fn protect_self() -> bool {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes no pointers.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 }
}
