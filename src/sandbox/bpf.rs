//! Classic BPF for the hand-written parts of the seccomp program
//! ([`super::seccomp_prefix`], [`super::seccomp_cross`]): the opcodes they
//! use, the `seccomp_data` offsets, an instruction list with labels (each
//! part names its own with an enum of its own), the assembler that turns
//! the labels into jump offsets, and, for tests, an interpreter that runs
//! a program the way the kernel does.
//!
//! Every jump goes forward (classic BPF has no other kind), so a part is
//! written top to bottom: a jump names the label of where it lands, or
//! [`Target::Next`] / [`Target::SkipOne`]; [`Asm::mark`] puts a label on
//! the next instruction. A conditional jump's offsets are one byte each: one
//! that does not fit panics when the program is assembled (at start-up,
//! and in every part's tests), never a silently wrong filter.

use std::fmt::Debug;

use seccompiler::{BpfProgram, sock_filter};

pub const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub const JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
pub const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
pub const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K

// seccomp_data: `nr` at 0, `arch` at 4, `args[i]` at 16 + 8·i. A load reads
// the low half of an argument on the little-endian machines warden builds
// for: a C `int` or a `umode_t`, all the parts check, is read by the kernel
// from there.
pub const NR: u32 = 0;
pub const ARCH: u32 = 4;
pub const ARG0_LOW: u32 = 16;
pub const ARG1_LOW: u32 = 24;
pub const ARG2_LOW: u32 = 32;
pub const ARG3_LOW: u32 = 40;

/// The return value that fails the call with `errno`.
pub const fn errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | errno as u32
}

/// Where a jump lands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Target<L> {
    /// The next instruction.
    Next,
    /// Past the instruction after this one.
    SkipOne,
    /// The instruction marked with this label.
    At(L),
}

impl<L> From<L> for Target<L> {
    fn from(label: L) -> Self {
        Target::At(label)
    }
}

enum Op<L> {
    Load(u32),
    And(u32),
    /// Jump to `.2` if the test holds, else to `.3`.
    Jump(u16, u32, Target<L>, Target<L>),
    Goto(Target<L>),
    Ret(u32),
    Mark(L),
}

/// A part of the program being written, labels unresolved.
pub struct Asm<L> {
    ops: Vec<Op<L>>,
}

impl<L: Copy + Eq + Debug> Asm<L> {
    pub fn new() -> Self {
        Asm { ops: Vec::new() }
    }

    fn push(&mut self, op: Op<L>) -> &mut Self {
        self.ops.push(op);
        self
    }

    /// Load the 32-bit word at `offset` of `seccomp_data`.
    pub fn load(&mut self, offset: u32) -> &mut Self {
        self.push(Op::Load(offset))
    }

    /// `A &= mask`.
    pub fn and(&mut self, mask: u32) -> &mut Self {
        self.push(Op::And(mask))
    }

    /// Test `A` against `k` with `code` (`JEQ_K`, `JGT_K`, `JGE_K`,
    /// `JSET_K`): on to `yes` if it holds, else to `no`.
    pub fn jump(
        &mut self,
        code: u16,
        k: u32,
        yes: impl Into<Target<L>>,
        no: impl Into<Target<L>>,
    ) -> &mut Self {
        self.push(Op::Jump(code, k, yes.into(), no.into()))
    }

    /// Jump whatever `A` holds (its offset is 32 bits).
    pub fn goto(&mut self, to: impl Into<Target<L>>) -> &mut Self {
        self.push(Op::Goto(to.into()))
    }

    /// End the program with the action `k` (an [`errno`], say).
    pub fn ret(&mut self, k: u32) -> &mut Self {
        self.push(Op::Ret(k))
    }

    /// Put `label` on the next instruction (or the end of the part: what
    /// follows it in the whole program).
    pub fn mark(&mut self, label: L) -> &mut Self {
        self.push(Op::Mark(label))
    }

    /// The instructions, jumps resolved (a jump counts the instructions it
    /// skips). Panics on a label jumped to but never marked, and on a
    /// conditional jump too long for its one-byte offset.
    pub fn assemble(&self) -> BpfProgram {
        // Instruction index of every label.
        let mut at = Vec::new();
        let mut n = 0usize;
        for op in &self.ops {
            match op {
                Op::Mark(label) => at.push((*label, n)),
                _ => n += 1,
            }
        }
        let offset = |target: Target<L>, from: usize| -> usize {
            let to = match target {
                Target::Next => from + 1,
                Target::SkipOne => from + 2,
                Target::At(label) => {
                    at.iter()
                        .find(|(marked, _)| *marked == label)
                        .unwrap_or_else(|| panic!("label {label:?} is jumped to, never marked"))
                        .1
                }
            };
            to - from - 1
        };
        let short =
            |target, from| u8::try_from(offset(target, from)).expect("a short forward jump");
        let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
        let mut program = Vec::with_capacity(n);
        for op in &self.ops {
            let pc = program.len();
            program.push(match *op {
                Op::Load(offset) => ins(LD_W_ABS, 0, 0, offset),
                Op::And(mask) => ins(AND_K, 0, 0, mask),
                Op::Jump(code, k, yes, no) => ins(code, short(yes, pc), short(no, pc), k),
                Op::Goto(to) => {
                    let skip = u32::try_from(offset(to, pc)).expect("a forward jump");
                    ins(JA, 0, 0, skip)
                }
                Op::Ret(k) => ins(RET_K, 0, 0, k),
                Op::Mark(_) => continue,
            });
        }
        program
    }
}

/// Runs classic BPF the way the kernel does, on a `seccomp_data` with `nr`,
/// `arch` and the low halves of the first four arguments, to check a part's
/// jumps without a kernel: `None` means it ran off its end, on to the rest
/// of the program. Panics on an opcode or a load it does not know and on a
/// jump past the end.
#[cfg(test)]
pub fn run(program: &[sock_filter], nr: u32, arch: u32, args: [u32; 4]) -> Option<u32> {
    let (mut pc, mut acc) = (0usize, 0u32);
    while pc < program.len() {
        let ins = &program[pc];
        pc += 1;
        let jump = |holds: bool| usize::from(if holds { ins.jt } else { ins.jf });
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
            AND_K => acc &= ins.k,
            JA => pc += ins.k as usize,
            JEQ_K => pc += jump(acc == ins.k),
            JGT_K => pc += jump(acc > ins.k),
            JGE_K => pc += jump(acc >= ins.k),
            JSET_K => pc += jump(acc & ins.k != 0),
            RET_K => return Some(ins.k),
            other => panic!("opcode {other:#x}"),
        }
    }
    assert_eq!(pc, program.len(), "a jump past the end");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Label {
        Refuse,
        End,
    }

    #[test]
    fn labels_resolve_to_the_instructions_skipped() {
        let mut asm = Asm::new();
        asm.load(NR)
            .jump(JEQ_K, 1, Label::Refuse, Target::Next)
            .jump(JGT_K, 9, Target::SkipOne, Target::Next)
            .jump(JGE_K, 5, Label::Refuse, Label::End)
            .goto(Label::End)
            .mark(Label::Refuse)
            .ret(errno(libc::EPERM))
            .mark(Label::End);
        let program = asm.assemble();
        let jumps: Vec<_> = program.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
        assert_eq!(
            jumps,
            [
                (LD_W_ABS, 0, 0, NR),
                (JEQ_K, 3, 0, 1),
                (JGT_K, 1, 0, 9),
                (JGE_K, 1, 2, 5),
                (JA, 0, 0, 1),
                (RET_K, 0, 0, errno(libc::EPERM)),
            ]
        );
        let refused = Some(errno(libc::EPERM));
        assert_eq!(run(&program, 1, 0, [0; 4]), refused);
        assert_eq!(run(&program, 2, 0, [0; 4]), None, "below the range");
        assert_eq!(run(&program, 5, 0, [0; 4]), refused);
        assert_eq!(run(&program, 9, 0, [0; 4]), refused);
        assert_eq!(run(&program, 10, 0, [0; 4]), None, "above the range");
    }

    #[test]
    #[should_panic(expected = "a short forward jump")]
    fn a_jump_too_long_for_its_offset_panics() {
        let mut asm = Asm::new();
        asm.jump(JEQ_K, 0, Label::End, Target::Next);
        for _ in 0..256 {
            asm.load(NR);
        }
        asm.mark(Label::End);
        asm.assemble();
    }

    #[test]
    fn the_interpreter_reads_what_it_is_given_and_masks() {
        let mut asm: Asm<Label> = Asm::new();
        asm.load(ARG3_LOW)
            .and(0xf0)
            .jump(JSET_K, 0x10, Target::Next, Label::End)
            .load(ARCH)
            .ret(0)
            .mark(Label::End);
        let program = asm.assemble();
        assert_eq!(
            run(&program, 0, 0, [0, 0, 0, 0x1f]),
            Some(0),
            "0x1f & 0xf0 has 0x10"
        );
        assert_eq!(run(&program, 0, 0, [0x10, 0x10, 0x10, 0x0f]), None);
    }
}
