//! The seccomp filter: refuses (EPERM) what Landlock cannot express.
//!
//! Always: `io_uring_*` (bypasses syscall-level checks), `ptrace`,
//! `process_vm_readv/writev`, `pidfd_getfd` (reading or stealing from other
//! processes), `keyctl`/`add_key`/`request_key` (kernel keyrings may hold
//! credentials); new namespaces (`unshare` and `clone` with a `CLONE_NEW*`
//! flag, `setns`: a user namespace hands the command every capability in it
//! and the kernel's namespace code as attack surface) and `clone3`, whose
//! flags sit behind a pointer seccomp cannot read, answered `ENOSYS` so that
//! libc falls back to `clone` (these two in the hand-written
//! [`super::seccomp_prefix`], with every x32 call); `perf_event_open`,
//! `bpf`, `userfaultfd` (kernel attack surface no build needs); the
//! `TIOCSTI` and `TIOCLINUX` ioctls (typing into, or reading, the terminal
//! warden was started from). Calls that reach into other processes
//! (their limits, scheduling, memory), System V IPC and, with the network
//! off, unix datagram sockets are refused by the hand-written
//! [`super::seccomp_cross`], between the prefix and seccompiler's program.
//! With the network off: `socket` for any family
//! but `AF_UNIX` (so UDP, raw, netlink and TCP all fail, whatever the
//! Landlock ABI), and `connect` and `sendto` with an address on any socket,
//! so the unix sockets left cannot reach a server either: the Docker socket
//! a hosted runner's user may open is root on the machine, and Landlock
//! before ABI 9 does not check the path of a unix socket. A command can
//! still use stream and seqpacket `socketpair`s (datagram ones are refused
//! in `seccomp_cross`), or sockets inherited already connected. The
//! program kills the process on a foreign architecture (the i386 syscall
//! table).
//!
//! The program is kept short on purpose: the kernel checks and JIT-compiles
//! it again for every command (one x32 test in the prefix instead of a
//! mirrored copy of every rule, and one `jset` per namespace call instead of
//! a rule per flag, took it from 420 to 121 instructions and ≈ 0.2 ms off each
//! command of `warden run`). `seccomp_cross` adds 27 (network on) or 32
//! (off) instructions where seccompiler rules for the same calls took 147.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

/// Syscalls refused unconditionally.
fn always_refused() -> Vec<i64> {
    vec![
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_pidfd_getfd,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_setns,
        libc::SYS_perf_event_open,
        libc::SYS_bpf,
        libc::SYS_userfaultfd,
    ]
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, String> {
    SeccompRule::new(conditions).map_err(|e| e.to_string())
}

fn arg(
    index: u8,
    len: SeccompCmpArgLen,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, String> {
    SeccompCondition::new(index, len, op, value).map_err(|e| e.to_string())
}

/// The program a sandboxed command gets.
pub struct Filter(BpfProgram);

impl Filter {
    /// Install it on the calling thread (no_new_privs must be set). No heap
    /// allocation: this runs between `clone` and `execve`.
    pub fn apply(&self) -> bool {
        seccompiler::apply_filter(&self.0).is_ok()
    }
}

/// Build the filter. `deny_network`: refuse non-`AF_UNIX` sockets and
/// connecting or addressing any socket.
pub fn build(deny_network: bool) -> Result<Filter, String> {
    use SeccompCmpArgLen::{Dword, Qword};
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in always_refused() {
        rules.insert(nr, vec![]);
    }
    // TIOCSTI pushes characters into a terminal's input (they run in the
    // user's shell once warden exits) and TIOCLINUX can read the console:
    // on a terminal inherited by `warden sandbox`, Landlock's ioctl right
    // (checked at open) does not apply.
    let ioctl = [libc::TIOCSTI, libc::TIOCLINUX]
        .into_iter()
        // The request's type is c_ulong on glibc, c_int on musl.
        .map(|request| {
            #[allow(clippy::unnecessary_cast)]
            let request = request as u64;
            rule(vec![arg(1, Dword, SeccompCmpOp::Eq, request)?])
        })
        .collect::<Result<Vec<_>, String>>()?;
    rules.insert(libc::SYS_ioctl, ioctl);
    if deny_network {
        let not_unix = arg(0, Dword, SeccompCmpOp::Ne, libc::AF_UNIX as u64)?;
        rules.insert(libc::SYS_socket, vec![rule(vec![not_unix])?]);
        rules.insert(libc::SYS_connect, vec![]);
        // sendto(fd, buf, len, flags, dest_addr, addrlen): an unconnected
        // datagram socket naming where it sends (`/dev/log`, a notify
        // socket). Without an address it is send(2) on a connected socket.
        let to_an_address = arg(4, Qword, SeccompCmpOp::Ne, 0)?;
        rules.insert(libc::SYS_sendto, vec![rule(vec![to_an_address])?]);
    }
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let main: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let mut program = super::seccomp_prefix::prefix();
    program.extend(super::seccomp_cross::program(deny_network));
    program.extend(main);
    Ok(Filter(program))
}

/// The filter for `deny_network`, built once per process (the zygote
/// builds both before forking supervisors, which then share them).
pub fn filter(deny_network: bool) -> Result<&'static Filter, String> {
    static FILTERS: [OnceLock<Result<Filter, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    FILTERS[deny_network as usize]
        .get_or_init(|| build(deny_network))
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_for_this_architecture() {
        let with_net = build(false).unwrap();
        let without_net = build(true).unwrap();
        assert!(without_net.0.len() > with_net.0.len());
        let prefix = crate::sandbox::seccomp_prefix::prefix();
        assert_eq!(with_net.0[..prefix.len()], prefix[..]);
        eprintln!(
            "seccomp program: {} instructions with the network on, {} with it off",
            with_net.0.len(),
            without_net.0.len()
        );
    }
}
