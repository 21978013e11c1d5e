//! The hand-written middle of the seccomp program: calls that reach across
//! the sandbox's boundary into other processes, in 27 instructions (32
//! with the network off; the same rules through seccompiler took 147, and
//! the kernel checks and JIT-compiles the program again for every command).
//!
//! - **Other processes' limits and scheduling**: `prlimit64`,
//!   `sched_setaffinity`, `sched_setscheduler`, `sched_setparam`,
//!   `sched_setattr`, `migrate_pages`, `move_pages` with a pid other than
//!   0 (the caller); `setpriority` unless `which == PRIO_PROCESS && who ==
//!   0`; `ioprio_set` unless `which == IOPRIO_WHO_PROCESS && who == 0`
//!   (a process group or a user reaches others). Landlock scopes signals,
//!   not these: a command could lower its supervisor's open-file limit so
//!   that the sweep cannot list what it must kill, starve it with
//!   `SCHED_IDLE`, or `prlimit --fsize=0` warden itself. Naming oneself by
//!   pid (`prlimit --pid $$`, a thread by its tid) is refused too: libc's
//!   `setrlimit`, `nice`, and the tools' run-a-command forms (`nice -n 5
//!   cmd`, `ionice -c3 cmd`, `taskset -c 0 cmd`, `chrt`) pass 0.
//! - `process_madvise`, `process_mrelease` (another process's memory;
//!   Landlock's ptrace scoping stops them as well).
//! - **System V IPC** (`shm*`, `msg*`, `sem*`): its objects are named by a
//!   machine-wide key or id that neither Landlock nor the ptrace scoping
//!   covers, so a segment created outside could be read and overwritten.
//!   Refused whole: the numbers are grouped into ranges, two jumps each.
//! - With the network off, **unix datagram sockets** from `socket` and
//!   `socketpair` (`SOCK_DGRAM`, and `SOCK_RAW`, which `AF_UNIX` makes a
//!   datagram socket): `sendmsg` can name any socket path and seccomp
//!   cannot read the address behind the pointer — even a connected
//!   datagram socket sends to an address it is given. Stream and
//!   seqpacket sockets ignore the address.
//!
//! It only ever refuses (`EPERM`); every call it does not refuse goes on
//! to seccompiler's program. It runs after [`super::seccomp_prefix`], which
//! already refused x32; a call of a foreign architecture reaching it may be
//! refused here instead of killed by the main program, never allowed.

use seccompiler::BpfProgram;

use super::bpf::{ARG0_LOW, ARG1_LOW, Asm, JEQ_K, JGE_K, JGT_K, NR, errno};

/// `PRIO_PROCESS` (linux/resource.h; its type differs between libcs).
const PRIO_PROCESS: u32 = 0;

/// `IOPRIO_WHO_PROCESS` (linux/ioprio.h; not in the libc crate).
const IOPRIO_WHO_PROCESS: u32 = 1;

/// `type & DATAGRAM_MASK == DATAGRAM_BITS` holds for `SOCK_DGRAM` (2) and
/// `SOCK_RAW` (3), with or without `SOCK_CLOEXEC`/`SOCK_NONBLOCK`, and for
/// no other type (`SOCK_STREAM` 1, `SOCK_SEQPACKET` 5, …); the kernel
/// refuses any other bit in `type` itself.
const DATAGRAM_MASK: u32 = 0xe;
const DATAGRAM_BITS: u32 = libc::SOCK_DGRAM as u32;

/// System V IPC, every call.
fn sysv_ipc() -> Vec<u32> {
    [
        libc::SYS_shmget,
        libc::SYS_shmat,
        libc::SYS_shmctl,
        libc::SYS_shmdt,
        libc::SYS_msgget,
        libc::SYS_msgsnd,
        libc::SYS_msgrcv,
        libc::SYS_msgctl,
        libc::SYS_semget,
        libc::SYS_semop,
        libc::SYS_semtimedop,
        libc::SYS_semctl,
    ]
    .map(|nr| nr as u32)
    .to_vec()
}

/// Calls whose first argument is the pid they act on (0: the caller).
fn pid_first() -> [u32; 7] {
    [
        libc::SYS_prlimit64,
        libc::SYS_sched_setaffinity,
        libc::SYS_sched_setscheduler,
        libc::SYS_sched_setparam,
        libc::SYS_sched_setattr,
        libc::SYS_migrate_pages,
        libc::SYS_move_pages,
    ]
    .map(|nr| nr as u32)
}

/// Calls refused whatever their arguments, besides System V IPC.
fn refused() -> [u32; 2] {
    [libc::SYS_process_madvise, libc::SYS_process_mrelease].map(|nr| nr as u32)
}

/// Sorted numbers grouped into runs of consecutive ones (`lo..=hi`).
fn runs(mut numbers: Vec<u32>) -> Vec<(u32, u32)> {
    numbers.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for n in numbers {
        match out.last_mut() {
            Some((_, hi)) if *hi + 1 == n => *hi = n,
            _ => out.push((n, n)),
        }
    }
    out
}

/// Where a jump lands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Pid,
    Priority,
    Ioprio,
    Who,
    SocketType,
    Eperm,
    /// The first instruction after this part (seccompiler's program).
    Main,
}

/// This part of the program, jumps resolved.
pub fn program(deny_network: bool) -> BpfProgram {
    use super::bpf::Target::{Next, SkipOne};
    use Label::*;
    let mut asm = Asm::new();
    asm.load(NR);
    for (lo, hi) in runs(sysv_ipc()) {
        if lo == hi {
            asm.jump(JEQ_K, lo, Eperm, Next);
        } else {
            asm.jump(JGT_K, hi, SkipOne, Next)
                .jump(JGE_K, lo, Eperm, Next);
        }
    }
    for nr in refused() {
        asm.jump(JEQ_K, nr, Eperm, Next);
    }
    for nr in pid_first() {
        asm.jump(JEQ_K, nr, Pid, Next);
    }
    asm.jump(JEQ_K, libc::SYS_setpriority as u32, Priority, Next)
        .jump(JEQ_K, libc::SYS_ioprio_set as u32, Ioprio, Next);
    if deny_network {
        asm.jump(JEQ_K, libc::SYS_socket as u32, SocketType, Next)
            .jump(JEQ_K, libc::SYS_socketpair as u32, SocketType, Next);
    }
    asm.goto(Main);
    // The one argument value each check lets through (the caller itself),
    // and where it goes on from there.
    for (check, argument, allowed, then) in [
        (Pid, ARG0_LOW, 0, Main),
        (Priority, ARG0_LOW, PRIO_PROCESS, Who),
        (Ioprio, ARG0_LOW, IOPRIO_WHO_PROCESS, Who),
        (Who, ARG1_LOW, 0, Main),
    ] {
        asm.mark(check)
            .load(argument)
            .jump(JEQ_K, allowed, then, Eperm);
    }
    if deny_network {
        asm.mark(SocketType).load(ARG1_LOW).and(DATAGRAM_MASK).jump(
            JEQ_K,
            DATAGRAM_BITS,
            Eperm,
            Main,
        );
    }
    asm.mark(Eperm).ret(errno(libc::EPERM)).mark(Main);
    asm.assemble()
}

#[cfg(test)]
mod tests {
    use super::*;

    use seccompiler::sock_filter;

    use crate::sandbox::bpf;

    /// Runs this part on a call with the low halves of two arguments (the
    /// architecture is not read here): `None` means it went on to the main
    /// program.
    fn run(program: &[sock_filter], nr: u32, arg0: u32, arg1: u32) -> Option<u32> {
        bpf::run(program, nr, 0, [arg0, arg1, 0, 0])
    }

    const EPERM: Option<u32> = Some(bpf::errno(libc::EPERM));

    #[test]
    fn refuses_exactly_what_it_says() {
        let on = program(false);
        let off = program(true);
        eprintln!(
            "seccomp_cross: {} instructions (network on), {} (off)",
            on.len(),
            off.len()
        );
        for p in [&on, &off] {
            for nr in sysv_ipc().into_iter().chain(refused()) {
                assert_eq!(run(p, nr, 0, 0), EPERM, "syscall {nr}");
            }
            for nr in pid_first() {
                assert_eq!(run(p, nr, 0, 7), None, "syscall {nr} on itself");
                assert_eq!(run(p, nr, 4242, 0), EPERM, "syscall {nr} on pid 4242");
            }
            let setpriority = libc::SYS_setpriority as u32;
            assert_eq!(run(p, setpriority, 0, 0), None, "nice");
            assert_eq!(run(p, setpriority, 0, 4242), EPERM, "renice -p");
            assert_eq!(run(p, setpriority, 1, 0), EPERM, "PRIO_PGRP 0");
            assert_eq!(run(p, setpriority, 2, 0), EPERM, "PRIO_USER 0");
            let ioprio = libc::SYS_ioprio_set as u32;
            assert_eq!(run(p, ioprio, 1, 0), None, "ionice -c3 cmd");
            assert_eq!(run(p, ioprio, 1, 4242), EPERM, "ionice -p");
            assert_eq!(run(p, ioprio, 2, 0), EPERM, "IOPRIO_WHO_PGRP");
            assert_eq!(run(p, ioprio, 3, 0), EPERM, "IOPRIO_WHO_USER");
            // Neighbours of the refused ranges, and ordinary calls, pass.
            for nr in [libc::SYS_read, libc::SYS_write, libc::SYS_getpriority] {
                assert_eq!(run(p, nr as u32, 4242, 1), None, "syscall {nr}");
            }
            for (lo, hi) in runs(sysv_ipc()) {
                assert_eq!(run(p, lo - 1, 0, 0), None, "below {lo}");
                assert_eq!(run(p, hi + 1, 0, 0), None, "above {hi}");
            }
        }
        let (socket, socketpair) = (libc::SYS_socket as u32, libc::SYS_socketpair as u32);
        let unix = libc::AF_UNIX as u32;
        let flags = (libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) as u32;
        for nr in [socket, socketpair] {
            for datagram in [libc::SOCK_DGRAM, libc::SOCK_RAW].map(|t| t as u32) {
                assert_eq!(run(&off, nr, unix, datagram), EPERM);
                assert_eq!(run(&off, nr, unix, datagram | flags), EPERM);
                assert_eq!(run(&on, nr, unix, datagram), None, "network on");
            }
            for other in [libc::SOCK_STREAM, libc::SOCK_SEQPACKET].map(|t| t as u32) {
                assert_eq!(run(&off, nr, unix, other), None);
                assert_eq!(run(&off, nr, unix, other | flags), None);
            }
        }
    }

    #[test]
    fn the_part_stays_short() {
        // Every instruction is JIT-compiled again for each command. System
        // V IPC is three runs on x86_64 (5 jumps), one in the generic table
        // of aarch64 and riscv64 (2); the network off adds the two socket
        // calls and their type check (5).
        let ipc = if cfg!(target_arch = "x86_64") { 5 } else { 2 };
        assert_eq!(program(false).len(), 22 + ipc);
        assert_eq!(program(true).len(), 27 + ipc);
    }

    #[test]
    fn ranges_group_consecutive_numbers() {
        assert_eq!(
            runs(vec![71, 29, 64, 30, 65, 220, 31]),
            [(29, 31), (64, 65), (71, 71), (220, 220)]
        );
    }
}
