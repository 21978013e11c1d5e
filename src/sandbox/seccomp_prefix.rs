//! The hand-written start of the seccomp program: the checks seccompiler
//! cannot express or would spell out at length, in a dozen instructions.
//!
//! - every x32 system call (x86_64): refused; no build uses the x32 ABI,
//!   and refusing the whole table beats mirroring each rule into it;
//! - `clone3`: `ENOSYS` (its flags sit behind a pointer seccomp cannot
//!   read; libc falls back to `clone` on `ENOSYS`, not on `EPERM`, and
//!   seccompiler gives one action to every rule of a program);
//! - `clone` with any `CLONE_NEW*` flag and `unshare` with any namespace
//!   flag: refused (one `jset` on the flags instead of a rule per flag).
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

// seccomp_data: `nr` at 0, `arch` at 4, `args[0]` at 16 (its low half on
// the little-endian machines warden builds for).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;

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
        Jump(JEQ_K, libc::SYS_unshare as u32, Unshare, Main),
        Mark(Clone),
        Load(ARG0_LOW),
        Jump(JSET_K, CLONE_NAMESPACES, Eperm, Main),
        Mark(Unshare),
        Load(ARG0_LOW),
        Jump(JSET_K, UNSHARE_NAMESPACES, Eperm, Main),
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
                        ARG0_LOW => arg0,
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
}
