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
//! (`tests/sandbox_escape_kernel.rs`).

use seccompiler::{BpfProgram, sock_filter};

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

// seccomp_data: `nr` at 0, `arch` at 4, `args[i]` at 16 + 8 i (their low
// halves on the little-endian machines warden builds for; a mode is a
// `umode_t`, the kernel reads its low 16 bits).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;
const ARG1_LOW: u32 = 24;
const ARG2_LOW: u32 = 32;
const ARG3_LOW: u32 = 40;

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// Where a jump lands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Next,
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

enum Op {
    Load(u32),
    /// Jump to `.1` if the test holds, else to `.2`.
    Jump(u16, u32, Label, Label),
    Ret(u32),
    Mark(Label),
}

fn source() -> Vec<Op> {
    use Label::*;
    use Op::*;
    let mut ops = vec![Load(ARCH), Jump(JEQ_K, AUDIT_ARCH, Next, Main), Load(NR)];
    #[cfg(target_arch = "x86_64")]
    ops.push(Jump(JSET_K, X32_BIT, Eperm, Next));
    ops.extend([
        Jump(JEQ_K, libc::SYS_clone3 as u32, Enosys, Next),
        Jump(JEQ_K, libc::SYS_clone as u32, Clone, Next),
        Jump(JEQ_K, libc::SYS_unshare as u32, Unshare, Next),
        Jump(JEQ_K, libc::SYS_openat2 as u32, Enosys, Next),
    ]);
    // The calls that carry a mode, by the argument it is in.
    #[cfg(target_arch = "x86_64")]
    ops.extend([
        Jump(JEQ_K, libc::SYS_open as u32, ModeArg2, Next),
        Jump(JEQ_K, libc::SYS_creat as u32, ModeArg1, Next),
        Jump(JEQ_K, libc::SYS_chmod as u32, ModeArg1, Next),
        Jump(JEQ_K, libc::SYS_mknod as u32, ModeArg1, Next),
    ]);
    ops.extend([
        Jump(JEQ_K, libc::SYS_openat as u32, ModeArg3, Next),
        Jump(JEQ_K, libc::SYS_fchmod as u32, ModeArg1, Next),
        Jump(JEQ_K, libc::SYS_fchmodat as u32, ModeArg2, Next),
        Jump(JEQ_K, SYS_FCHMODAT2, ModeArg2, Next),
        Jump(JEQ_K, libc::SYS_mknodat as u32, ModeArg2, Main),
        Mark(Clone),
        Load(ARG0_LOW),
        Jump(JSET_K, CLONE_NAMESPACES, Eperm, Main),
        Mark(Unshare),
        Load(ARG0_LOW),
        Jump(JSET_K, UNSHARE_NAMESPACES, Eperm, Main),
        Mark(ModeArg1),
        Load(ARG1_LOW),
        Jump(JSET_K, SETID_BITS, Eperm, Main),
        Mark(ModeArg2),
        Load(ARG2_LOW),
        Jump(JSET_K, SETID_BITS, Eperm, Main),
        Mark(ModeArg3),
        Load(ARG3_LOW),
        Jump(JSET_K, SETID_BITS, Eperm, Main),
        Mark(Eperm),
        Ret(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        Mark(Enosys),
        Ret(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        Mark(Main),
    ]);
    ops
}

/// The prefix, jumps resolved (a jump counts the instructions it skips).
pub fn prefix() -> BpfProgram {
    let ops = source();
    // Instruction index of every label.
    let mut at = Vec::new();
    let mut n = 0usize;
    for op in &ops {
        match op {
            Op::Mark(l) => at.push((*l, n)),
            _ => n += 1,
        }
    }
    let target = |label: Label, from: usize| -> u8 {
        let to = match label {
            Label::Next => from + 1,
            l => {
                at.iter()
                    .find(|(m, _)| *m == l)
                    .expect("every label is marked")
                    .1
            }
        };
        u8::try_from(to - from - 1).expect("a short forward jump")
    };
    let mut program = Vec::with_capacity(n);
    for op in &ops {
        let pc = program.len();
        let ins = match *op {
            Op::Load(offset) => sock_filter {
                code: LD_W_ABS,
                jt: 0,
                jf: 0,
                k: offset,
            },
            Op::Jump(code, k, yes, no) => sock_filter {
                code,
                jt: target(yes, pc),
                jf: target(no, pc),
                k,
            },
            Op::Ret(k) => sock_filter {
                code: RET_K,
                jt: 0,
                jf: 0,
                k,
            },
            Op::Mark(_) => continue,
        };
        program.push(ins);
    }
    program
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs classic BPF the way the kernel does, on a `seccomp_data`, to
    /// check the prefix's jumps without a kernel: `None` means it went on
    /// to the main program.
    fn run(program: &[sock_filter], nr: u32, arch: u32, arg0: u32) -> Option<u32> {
        run_args(program, nr, arch, [arg0, 0, 0, 0])
    }

    fn run_args(program: &[sock_filter], nr: u32, arch: u32, args: [u32; 4]) -> Option<u32> {
        let mut pc = 0;
        let mut acc = 0u32;
        while pc < program.len() {
            let ins = &program[pc];
            pc += 1;
            match ins.code {
                LD_W_ABS => {
                    acc = match ins.k {
                        NR => nr,
                        ARCH => arch,
                        ARG0_LOW => args[0],
                        ARG1_LOW => args[1],
                        ARG2_LOW => args[2],
                        ARG3_LOW => args[3],
                        other => panic!("load of offset {other}"),
                    }
                }
                JEQ_K | JSET_K => {
                    let holds = if ins.code == JEQ_K {
                        acc == ins.k
                    } else {
                        acc & ins.k != 0
                    };
                    pc += usize::from(if holds { ins.jt } else { ins.jf });
                }
                RET_K => return Some(ins.k),
                other => panic!("opcode {other:#x}"),
            }
        }
        assert_eq!(pc, program.len(), "a jump past the end of the prefix");
        None
    }

    #[test]
    fn refuses_exactly_what_it_says() {
        let p = prefix();
        let eperm = Some(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32);
        let enosys = Some(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
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
        let eperm = Some(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32);
        let enosys = Some(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
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
                run_args(&p, nr, AUDIT_ARCH, args)
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
            assert_eq!(run_args(&p, nr, AUDIT_ARCH, elsewhere), None, "call {nr}");
        }
        assert_eq!(run(&p, libc::SYS_openat2 as u32, AUDIT_ARCH, 0), enosys);
        assert_eq!(
            run_args(&p, libc::SYS_mkdirat as u32, AUDIT_ARCH, [0, 0, 0o2775, 0]),
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
