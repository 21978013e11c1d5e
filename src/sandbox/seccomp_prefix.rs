//! The hand-written start of the seccomp program: the checks seccompiler
//! cannot express or would spell out at length, in a dozen instructions.
//!
//! - every x32 system call (x86_64): refused; no build uses the x32 ABI,
//!   and refusing the whole table beats mirroring each rule into it;
//! - `clone3`: `ENOSYS` (its flags sit behind a pointer seccomp cannot
//!   read; libc falls back to `clone` on `ENOSYS`, not on `EPERM`, and
//!   seccompiler gives one action to every rule of a program);
//! - `clone` with any `CLONE_NEW*` flag and `unshare` with any namespace
//!   flag: refused (one `jset` on the flags instead of a rule per flag);
//! - a setuid or setgid mode bit (`S_ISUID | S_ISGID`, 06000), whichever
//!   call carries it: `chmod`, `fchmod`, `fchmodat`, `fchmodat2`, the
//!   mode of `open`, `openat`, `creat` (a file created 04755) and `mknod`,
//!   `mknodat` (a regular file made by `mknod` needs no privilege): one
//!   `jset` per argument position the mode sits in, shared by the calls.
//!   A planted setuid copy of a shell would give whoever runs it later,
//!   outside the sandbox, the planter's uid (root, in a container). The
//!   bits are refused on directories too (seccomp cannot tell what a path
//!   names); `mkdir` strips them itself. `openat2`, whose mode sits in a
//!   struct, answers `ENOSYS`, so that callers fall back to `openat`.
//!
//! The prefix only ever refuses. A call of another architecture, and every
//! call it does not refuse, goes on to seccompiler's program, which checks
//! the architecture again first (and kills on a foreign one). Each
//! behaviour has a test that runs it in the real sandbox
//! (`tests/sandbox/escape_kernel.rs`).

use seccompiler::BpfProgram;

use super::bpf::{ARCH, ARG0_LOW, ARG1_LOW, ARG2_LOW, ARG3_LOW, Asm, JEQ_K, JSET_K, NR, errno};

/// `AUDIT_ARCH_*` of this architecture (linux/audit.h), as seccomp reports
/// it in `seccomp_data.arch`.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
#[cfg(target_arch = "riscv64")]
const AUDIT_ARCH: u32 = 0xC000_00F3;

/// x32 system call numbers carry this bit on x86_64.
pub const X32_BIT: u32 = 0x4000_0000;

/// `CLONE_NEW*` flags as `clone` reads them (`CLONE_NEWTIME` is 0x80, in
/// the exit signal's byte, for `clone`: only `unshare` takes it).
const CLONE_NAMESPACES: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;
const UNSHARE_NAMESPACES: u32 = CLONE_NAMESPACES | libc::CLONE_NEWTIME as u32;

/// The mode bits a planted file must never carry.
pub const SETID_BITS: u32 = libc::S_ISUID | libc::S_ISGID;

/// `fchmodat2` has the same number on every architecture (the generic
/// table); libc names it for x86_64 only.
const SYS_FCHMODAT2: u32 = 452;

/// Where a jump lands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Clone,
    Unshare,
    /// The mode is the call's argument 1, 2 or 3.
    ModeArg1,
    ModeArg2,
    ModeArg3,
    Eperm,
    Enosys,
    /// The first instruction of seccompiler's program.
    Main,
}

/// The prefix, jumps resolved.
pub fn prefix() -> BpfProgram {
    use super::bpf::Target::Next;
    use Label::*;
    let mut asm = Asm::new();
    asm.load(ARCH).jump(JEQ_K, AUDIT_ARCH, Next, Main).load(NR);
    #[cfg(target_arch = "x86_64")]
    asm.jump(JSET_K, X32_BIT, Eperm, Next);
    asm.jump(JEQ_K, libc::SYS_clone3 as u32, Enosys, Next)
        .jump(JEQ_K, libc::SYS_clone as u32, Clone, Next)
        .jump(JEQ_K, libc::SYS_unshare as u32, Unshare, Next)
        .jump(JEQ_K, libc::SYS_openat2 as u32, Enosys, Next);
    // The calls that carry a mode, by the argument it is in.
    #[cfg(target_arch = "x86_64")]
    asm.jump(JEQ_K, libc::SYS_open as u32, ModeArg2, Next)
        .jump(JEQ_K, libc::SYS_creat as u32, ModeArg1, Next)
        .jump(JEQ_K, libc::SYS_chmod as u32, ModeArg1, Next)
        .jump(JEQ_K, libc::SYS_mknod as u32, ModeArg1, Next);
    asm.jump(JEQ_K, libc::SYS_openat as u32, ModeArg3, Next)
        .jump(JEQ_K, libc::SYS_fchmod as u32, ModeArg1, Next)
        .jump(JEQ_K, libc::SYS_fchmodat as u32, ModeArg2, Next)
        .jump(JEQ_K, SYS_FCHMODAT2, ModeArg2, Next)
        .jump(JEQ_K, libc::SYS_mknodat as u32, ModeArg2, Main);
    // Where each call's flags or mode sit, and the bits they must not hold.
    for (call, argument, refused_bits) in [
        (Clone, ARG0_LOW, CLONE_NAMESPACES),
        (Unshare, ARG0_LOW, UNSHARE_NAMESPACES),
        (ModeArg1, ARG1_LOW, SETID_BITS),
        (ModeArg2, ARG2_LOW, SETID_BITS),
        (ModeArg3, ARG3_LOW, SETID_BITS),
    ] {
        asm.mark(call)
            .load(argument)
            .jump(JSET_K, refused_bits, Eperm, Main);
    }
    asm.mark(Eperm).ret(errno(libc::EPERM));
    asm.mark(Enosys).ret(errno(libc::ENOSYS));
    asm.mark(Main);
    asm.assemble()
}

#[cfg(test)]
mod tests {
    use super::*;
    use seccompiler::sock_filter;

    use crate::sandbox::bpf;

    /// Runs the prefix on a call whose first argument is `arg0`: `None`
    /// means it went on to the main program.
    fn run(program: &[sock_filter], nr: u32, arch: u32, arg0: u32) -> Option<u32> {
        bpf::run(program, nr, arch, [arg0, 0, 0, 0])
    }

    #[test]
    fn refuses_exactly_what_it_says() {
        let p = prefix();
        let eperm = Some(bpf::errno(libc::EPERM));
        let enosys = Some(bpf::errno(libc::ENOSYS));
        let clone = libc::SYS_clone as u32;
        let unshare = libc::SYS_unshare as u32;
        let sigchld = libc::SIGCHLD as u32;
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u32;

        assert_eq!(run(&p, libc::SYS_clone3 as u32, AUDIT_ARCH, 0), enosys);
        assert_eq!(run(&p, clone, AUDIT_ARCH, sigchld), None, "fork");
        assert_eq!(run(&p, clone, AUDIT_ARCH, thread), None, "a thread");
        for flag in [libc::CLONE_NEWUSER, libc::CLONE_NEWNS, libc::CLONE_NEWNET] {
            assert_eq!(run(&p, clone, AUDIT_ARCH, flag as u32 | sigchld), eperm);
            assert_eq!(run(&p, unshare, AUDIT_ARCH, flag as u32), eperm);
        }
        // CLONE_NEWTIME is a namespace to unshare, an exit signal to clone.
        assert_eq!(
            run(&p, unshare, AUDIT_ARCH, libc::CLONE_NEWTIME as u32),
            eperm
        );
        assert_eq!(run(&p, clone, AUDIT_ARCH, libc::CLONE_NEWTIME as u32), None);
        assert_eq!(run(&p, unshare, AUDIT_ARCH, libc::CLONE_FILES as u32), None);
        assert_eq!(run(&p, libc::SYS_read as u32, AUDIT_ARCH, 0), None);
        // Another architecture goes on to the main program, which kills it.
        assert_eq!(run(&p, libc::SYS_clone3 as u32, 0x4000_0003, 0), None);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            run(&p, libc::SYS_read as u32 | X32_BIT, AUDIT_ARCH, 0),
            eperm
        );
    }

    #[test]
    fn refuses_setid_mode_bits_in_every_call_that_carries_a_mode() {
        let p = prefix();
        let eperm = Some(bpf::errno(libc::EPERM));
        let enosys = Some(bpf::errno(libc::ENOSYS));
        // (call, index of its mode argument)
        let mut calls = vec![
            (libc::SYS_openat as u32, 3),
            (libc::SYS_fchmod as u32, 1),
            (libc::SYS_fchmodat as u32, 2),
            (SYS_FCHMODAT2, 2),
            (libc::SYS_mknodat as u32, 2),
        ];
        #[cfg(target_arch = "x86_64")]
        calls.extend([
            (libc::SYS_open as u32, 2),
            (libc::SYS_creat as u32, 1),
            (libc::SYS_chmod as u32, 1),
            (libc::SYS_mknod as u32, 1),
        ]);
        for (nr, at) in calls {
            let with_mode = |mode: u32| {
                let mut args = [0u32; 4];
                args[at] = mode;
                bpf::run(&p, nr, AUDIT_ARCH, args)
            };
            for mode in [0o4755, 0o2755, 0o6755, 0o7755, 0o104755, 0o4000] {
                assert_eq!(with_mode(mode), eperm, "call {nr} mode {mode:o}");
            }
            for mode in [0o755, 0o644, 0o1777, 0o100644, 0o777] {
                assert_eq!(with_mode(mode), None, "call {nr} mode {mode:o}");
            }
            // The bits in another argument (a path pointer, flags) are not
            // a mode.
            let mut elsewhere = [0o4755u32; 4];
            elsewhere[at] = 0o755;
            assert_eq!(bpf::run(&p, nr, AUDIT_ARCH, elsewhere), None, "call {nr}");
        }
        assert_eq!(run(&p, libc::SYS_openat2 as u32, AUDIT_ARCH, 0), enosys);
        assert_eq!(
            bpf::run(&p, libc::SYS_mkdirat as u32, AUDIT_ARCH, [0, 0, 0o2775, 0]),
            None,
            "mkdir strips setid bits itself"
        );
    }

    #[test]
    fn the_prefix_stays_short() {
        // Every instruction is JIT-compiled again for each command: 13 for
        // x32, clone3, clone and unshare (12 without x32), then 16 for the
        // mode bits and openat2 (12 where the old calls do not exist).
        let expected = if cfg!(target_arch = "x86_64") { 29 } else { 24 };
        assert_eq!(prefix().len(), expected);
    }
}
