//! Capabilities: a command never keeps the ones that reach other processes
//! or the kernel, even when warden runs as root (common in containers).
//!
//! Why this matters for secrets: on some kernels Landlock's ptrace scoping
//! does not cover every `/proc/<pid>` read (`environ`, `maps` were readable
//! from a sandbox on the 6.18 kernel this was built on). warden therefore
//! also marks itself non-dumpable ([`protect_self`]), which makes its
//! `/proc/<pid>/environ` need `CAP_SYS_PTRACE` — and the helper drops that
//! capability (with the rest of [`DROPPED`]) from the bounding, inheritable,
//! permitted, effective and ambient sets before starting the command.
//! Dropping needs no privilege; the bounding-set part needs `CAP_SETPCAP`,
//! which only a process that holds capabilities has anyway.

/// Capability numbers removed (linux/capability.h).
pub const DROPPED: &[(u32, &str)] = &[
    (2, "CAP_DAC_READ_SEARCH"),
    (9, "CAP_LINUX_IMMUTABLE"),
    (12, "CAP_NET_ADMIN"),
    (13, "CAP_NET_RAW"),
    (16, "CAP_SYS_MODULE"),
    (17, "CAP_SYS_RAWIO"),
    (18, "CAP_SYS_CHROOT"),
    (19, "CAP_SYS_PTRACE"),
    (21, "CAP_SYS_ADMIN"),
    (22, "CAP_SYS_BOOT"),
    (25, "CAP_SYS_TIME"),
    (27, "CAP_MKNOD"),
    (30, "CAP_AUDIT_CONTROL"),
    (32, "CAP_MAC_OVERRIDE"),
    (33, "CAP_MAC_ADMIN"),
    (34, "CAP_SYSLOG"),
    (38, "CAP_PERFMON"),
    (39, "CAP_BPF"),
    (8, "CAP_SETPCAP"), // last: it is what allows the bounding-set drops
];

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

/// Drop [`DROPPED`] from every capability set of the calling process.
/// Returns whether the process is left without any of them.
pub fn drop_dangerous() -> bool {
    for (cap, _) in DROPPED {
        // SAFETY: prctl with integer arguments; EPERM/EINVAL are fine (no
        // CAP_SETPCAP means the process could not regain the cap anyway).
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, *cap as libc::c_ulong, 0, 0, 0) };
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
    for (cap, _) in DROPPED {
        let (word, bit) = ((*cap / 32) as usize, 1u32 << (cap % 32));
        data[word].effective &= !bit;
        data[word].permitted &= !bit;
        data[word].inheritable &= !bit;
    }
    // SAFETY: as above; capset only lowers sets here.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return false;
    }
    DROPPED.iter().all(|(cap, _)| {
        // SAFETY: PR_CAPBSET_READ takes an integer.
        let in_bounding =
            unsafe { libc::prctl(libc::PR_CAPBSET_READ, *cap as libc::c_ulong, 0, 0, 0) } == 1;
        let (word, bit) = ((*cap / 32) as usize, 1u32 << (cap % 32));
        !in_bounding && data[word].permitted & bit == 0
    })
}

/// Make warden's own process non-dumpable, so its `/proc/<pid>/environ`
/// and memory need `CAP_SYS_PTRACE`, which no sandboxed command has.
pub fn protect_self() -> bool {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes no pointers.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 }
}
