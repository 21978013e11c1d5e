//! The seccomp filter: refuses (EPERM) what Landlock cannot express.
//!
//! Always: `io_uring_*` (bypasses syscall-level checks), `ptrace`,
//! `process_vm_readv/writev`, `pidfd_getfd` (reading or stealing from other
//! processes), `keyctl`/`add_key`/`request_key` (kernel keyrings may hold
//! credentials). With the network off: `socket` for any family but
//! `AF_UNIX` (so UDP, raw, netlink and TCP all fail, whatever the Landlock
//! ABI), and `connect` and `sendto` with an address on any socket, so the
//! unix sockets left cannot reach a server either: the Docker socket a
//! hosted runner's user may open is root on the machine, and Landlock
//! before ABI 9 does not check the path of a unix socket. A command can
//! still use `socketpair`, or sockets inherited already connected. The
//! BPF program kills the process on a foreign architecture (the
//! i386 syscall table); on x86_64 the x32 numbers are refused as well.

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
    ]
}

/// x32 syscall numbers carry this bit on x86_64.
#[cfg(target_arch = "x86_64")]
const X32_BIT: i64 = 0x4000_0000;

/// Build the BPF program. `deny_network`: refuse non-`AF_UNIX` sockets and
/// connecting or addressing any socket.
pub fn build(deny_network: bool) -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in always_refused() {
        rules.insert(nr, vec![]);
    }
    if deny_network {
        let not_unix = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            libc::AF_UNIX as u64,
        )
        .map_err(|e| e.to_string())?;
        let rule = SeccompRule::new(vec![not_unix]).map_err(|e| e.to_string())?;
        rules.insert(libc::SYS_socket, vec![rule]);
        rules.insert(libc::SYS_connect, vec![]);
        // sendto(fd, buf, len, flags, dest_addr, addrlen): an unconnected
        // datagram socket naming where it sends (`/dev/log`, a notify
        // socket). Without an address it is send(2) on a connected socket.
        let to_an_address = SeccompCondition::new(4, SeccompCmpArgLen::Qword, SeccompCmpOp::Ne, 0)
            .map_err(|e| e.to_string())?;
        let rule = SeccompRule::new(vec![to_an_address]).map_err(|e| e.to_string())?;
        rules.insert(libc::SYS_sendto, vec![rule]);
    }
    #[cfg(target_arch = "x86_64")]
    {
        let native: Vec<(i64, Vec<SeccompRule>)> =
            rules.iter().map(|(k, v)| (*k, v.clone())).collect();
        for (nr, r) in native {
            rules.insert(nr | X32_BIT, r);
        }
        // x32-specific numbers of ptrace and process_vm_readv/writev.
        for nr in [521, 539, 540] {
            rules.insert(nr | X32_BIT, vec![]);
        }
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
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

/// The program for `deny_network`, built once per process (the zygote
/// builds both before forking supervisors, which then share them).
pub fn program(deny_network: bool) -> Result<&'static BpfProgram, String> {
    static PROGRAMS: [OnceLock<Result<BpfProgram, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    PROGRAMS[deny_network as usize]
        .get_or_init(|| build(deny_network))
        .as_ref()
        .map_err(Clone::clone)
}

/// Install the program on the calling thread (no_new_privs must be set).
pub fn apply(program: &BpfProgram) -> Result<(), String> {
    seccompiler::apply_filter(program).map_err(|e| format!("seccomp: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_for_this_architecture() {
        let with_net = build(false).unwrap();
        let without_net = build(true).unwrap();
        assert!(without_net.len() > with_net.len());
    }
}
