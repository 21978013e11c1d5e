//! The seccomp filters: refuse (EPERM) what Landlock cannot express.
//!
//! Always: `io_uring_*` (bypasses syscall-level checks), `ptrace`,
//! `process_vm_readv/writev`, `pidfd_getfd` (reading or stealing from other
//! processes), `keyctl`/`add_key`/`request_key` (kernel keyrings may hold
//! credentials); new namespaces (`unshare` and `clone` with a `CLONE_NEW*`
//! flag, `setns`: a user namespace hands the command every capability in it
//! and the kernel's namespace code as attack surface) and `clone3`, whose
//! flags sit behind a pointer seccomp cannot read, answered `ENOSYS` so that
//! libc falls back to `clone`; `perf_event_open`, `bpf`, `userfaultfd`
//! (kernel attack surface no build needs); the `TIOCSTI` and `TIOCLINUX`
//! ioctls (typing into, or reading, the terminal warden was started from). With the network off: `socket`
//! for any family but `AF_UNIX` (so UDP, raw, netlink and TCP all fail,
//! whatever the Landlock ABI), and `connect` and `sendto` with an address
//! on any socket, so the unix sockets left cannot reach a server either:
//! the Docker socket a hosted runner's user may open is root on the
//! machine, and Landlock before ABI 9 does not check the path of a unix
//! socket. A command can still use `socketpair`, or sockets inherited
//! already connected. The BPF programs kill the process on a foreign
//! architecture (the i386 syscall table); on x86_64 the x32 numbers are
//! refused as well.

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

/// The `CLONE_NEW*` flags of `clone` (`CLONE_NEWTIME` is 0x80, the exit
/// signal's byte, for `clone`: it only means a namespace to `unshare`).
const CLONE_NAMESPACES: [i32; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

/// One rule per flag: the call matches when any of `flags` is set in
/// argument 0.
fn any_flag_of(flags: &[i32]) -> Result<Vec<SeccompRule>, String> {
    flags
        .iter()
        .map(|&flag| {
            let flag = flag as u32 as u64;
            let set = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )
            .map_err(|e| e.to_string())?;
            SeccompRule::new(vec![set]).map_err(|e| e.to_string())
        })
        .collect()
}

/// x32 syscall numbers carry this bit on x86_64.
#[cfg(target_arch = "x86_64")]
const X32_BIT: i64 = 0x4000_0000;

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
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in always_refused() {
        rules.insert(nr, vec![]);
    }
    rules.insert(libc::SYS_clone, any_flag_of(&CLONE_NAMESPACES)?);
    let mut unshare_flags = CLONE_NAMESPACES.to_vec();
    unshare_flags.push(libc::CLONE_NEWTIME);
    rules.insert(libc::SYS_unshare, any_flag_of(&unshare_flags)?);
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
            let is = SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, request)
                .map_err(|e| e.to_string())?;
            SeccompRule::new(vec![is]).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    rules.insert(libc::SYS_ioctl, ioctl);
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
    let main: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let mut program = clone3_enosys();
    program.extend(main);
    Ok(Filter(program))
}

/// `AUDIT_ARCH_*` of this architecture (linux/audit.h), as seccomp reports
/// it in `seccomp_data.arch`.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
#[cfg(target_arch = "riscv64")]
const AUDIT_ARCH: u32 = 0xC000_00F3;

/// A prefix answering `clone3` with `ENOSYS`: seccompiler gives one action
/// to every rule of a program, and this one must not be `EPERM` (libc falls
/// back to `clone` only on `ENOSYS`). A second filter would do, but costs
/// another install and JIT per command. The prefix only ever refuses: a
/// call of another architecture, or any other call, goes on to
/// seccompiler's program, which checks the architecture again first.
fn clone3_enosys() -> BpfProgram {
    use seccompiler::sock_filter;
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    let clone3 = libc::SYS_clone3 as u32;
    let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    // seccomp_data: `nr` at offset 0, `arch` at offset 4. A jump skips
    // that many instructions after the one that jumps.
    #[cfg(target_arch = "x86_64")]
    let program = vec![
        op(LD_W_ABS, 0, 0, 4),
        op(JEQ_K, 0, 4, AUDIT_ARCH), // another arch: to the main program
        op(LD_W_ABS, 0, 0, 0),
        op(JEQ_K, 1, 0, clone3),
        op(JEQ_K, 0, 1, clone3 | X32_BIT as u32),
        op(RET_K, 0, 0, enosys),
    ];
    #[cfg(not(target_arch = "x86_64"))]
    let program = vec![
        op(LD_W_ABS, 0, 0, 4),
        op(JEQ_K, 0, 3, AUDIT_ARCH),
        op(LD_W_ABS, 0, 0, 0),
        op(JEQ_K, 0, 1, clone3),
        op(RET_K, 0, 0, enosys),
    ];
    program
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
        let prefix = clone3_enosys();
        assert_eq!(with_net.0[..prefix.len()], prefix[..]);
        // Every jump of the prefix lands inside it or on the main program's
        // first instruction.
        for (i, ins) in prefix.iter().enumerate() {
            if ins.code == 0x15 {
                for off in [ins.jt, ins.jf] {
                    assert!(i + 1 + off as usize <= prefix.len(), "instruction {i}");
                }
            }
        }
    }
}
