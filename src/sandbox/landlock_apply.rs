//! Turning a [`super::plan`] into a Landlock ruleset. Built by warden
//! before anything is forked (it opens every rule's path and allocates);
//! the command's process only calls `landlock_restrict_self` on the
//! ruleset's descriptor ([`super::launch`]).

use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, Ruleset,
    RulesetAttr, RulesetCreated, RulesetCreatedAttr, Scope,
};
use serde::{Deserialize, Serialize};

use super::enforcement::{LandlockState, requested_abi};
use super::plan::{PlanRule, Rights};

/// The Landlock ABI the running kernel reports (≤ 0: unsupported).
pub fn kernel_abi() -> i32 {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with a NULL attribute and size
    // 0 only queries the ABI version; it reads and writes no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    if v < 0 {
        -std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOSYS)
    } else {
        v as i32
    }
}

/// What is known about a built ruleset before it is enforced: enough for
/// the command's process to decide (fail closed) and for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockFacts {
    /// `landlock_create_ruleset(NULL, 0, VERSION)`; ≤ 0 means unsupported.
    pub kernel_abi: i32,
    /// What `restrict_self` will enforce: `full` when the kernel supports
    /// every access right and scope requested, `partial` when some had to be
    /// dropped, `none` without Landlock.
    pub state: LandlockState,
    /// TCP bind/connect are handled (and, with no port rule, denied).
    pub tcp_rules: bool,
    /// Signals and abstract unix sockets are scoped (ABI 6+).
    pub scoped: bool,
}

/// A ruleset with every rule added, ready for `landlock_restrict_self`,
/// which the command's process calls on the descriptor after `fork`
/// ([`super::launch`]). The descriptor can cross processes (the zygote's
/// supervisors get it with `SCM_RIGHTS`).
#[derive(Debug)]
pub struct BuiltRuleset {
    /// `None` when the kernel has no Landlock.
    pub fd: Option<OwnedFd>,
    pub facts: LandlockFacts,
}

fn rights_to_access(rights: Rights, abi: ABI) -> BitFlags<AccessFs> {
    let read = AccessFs::from_read(abi);
    match rights {
        Rights::Read => read,
        Rights::ListDir => AccessFs::ReadDir.into(),
        Rights::Write => AccessFs::from_all(abi),
        Rights::Device => {
            (read | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev)
                & AccessFs::from_file(abi)
        }
    }
}

/// Open a rule's path without following a final symlink.
fn open_path(path: &Path) -> std::io::Result<(std::fs::File, bool)> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let meta = f.metadata()?;
    if meta.file_type().is_symlink() {
        return Err(std::io::Error::other("is a symlink"));
    }
    Ok((f, meta.is_dir()))
}

/// What a ruleset handles: everything (the plan), or only the rights that
/// change the filesystem (a second layer narrowing where writes go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Filesystem read and write rights, TCP (when the network is denied)
    /// and scopes.
    Full { deny_network: bool },
    /// Write-type filesystem rights only: reads, network and scopes are
    /// left to the full layer it is stacked on.
    WritesOnly,
}

/// Create the ruleset and add every rule (nothing is enforced yet).
/// `deny_network` adds Landlock TCP rules (no port is allowed) when the
/// kernel has them.
///
/// The state is known up front: the ruleset is first built requiring every
/// requested feature (`HardRequirement`); if the kernel lacks one, it is
/// built again best-effort and the state is `partial` — exactly what the
/// landlock crate would report from `restrict_self`.
pub fn build(rules: &[PlanRule], deny_network: bool) -> Result<BuiltRuleset, String> {
    build_layer(rules, Layer::Full { deny_network })
}

/// [`build`] for either kind of [`Layer`].
pub fn build_layer(rules: &[PlanRule], layer: Layer) -> Result<BuiltRuleset, String> {
    let kabi = kernel_abi();
    let abi_n = requested_abi(kabi);
    if abi_n < 1 {
        return Ok(BuiltRuleset {
            fd: None,
            facts: LandlockFacts {
                kernel_abi: kabi,
                state: LandlockState::None,
                tcp_rules: false,
                scoped: false,
            },
        });
    }
    let (tcp_rules, scoped) = match layer {
        Layer::Full { deny_network } => (deny_network && abi_n >= 4, abi_n >= 6),
        Layer::WritesOnly => (false, false),
    };
    let create = |level| create(rules, abi_n, layer, tcp_rules, scoped, level);
    let (created, state) = match create(CompatLevel::HardRequirement) {
        Ok(c) => (c, LandlockState::Full),
        Err(_) => (create(CompatLevel::BestEffort)?, LandlockState::Partial),
    };
    let fd: Option<OwnedFd> = created.into();
    Ok(BuiltRuleset {
        facts: LandlockFacts {
            kernel_abi: kabi,
            state: if fd.is_some() {
                state
            } else {
                LandlockState::None
            },
            tcp_rules,
            scoped,
        },
        fd,
    })
}

fn create(
    rules: &[PlanRule],
    abi_n: i32,
    layer: Layer,
    tcp_rules: bool,
    scoped: bool,
    level: CompatLevel,
) -> Result<RulesetCreated, String> {
    let abi = ABI::from(abi_n);
    let handled = match layer {
        Layer::Full { .. } => AccessFs::from_all(abi),
        Layer::WritesOnly => AccessFs::from_all(abi) & !AccessFs::from_read(abi),
    };
    let err = |what: &str, e: &dyn std::fmt::Display| format!("landlock: {what}: {e}");
    let mut ruleset = Ruleset::default()
        .set_compatibility(level)
        .handle_access(handled)
        .map_err(|e| err("handle filesystem access", &e))?;
    if tcp_rules {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(|e| err("handle network access", &e))?;
    }
    if scoped {
        ruleset = ruleset
            .scope(Scope::from_all(abi))
            .map_err(|e| err("scope signals and sockets", &e))?;
    }
    let mut created = ruleset.create().map_err(|e| err("create ruleset", &e))?;
    for rule in rules {
        let (fd, is_dir) = match open_path(&rule.path) {
            Ok(v) => v,
            Err(e) if rule.required => {
                return Err(format!("cannot open `{}`: {e}", rule.path.display()));
            }
            Err(_) => continue, // a split entry that vanished or is a symlink
        };
        let mut access = rights_to_access(rule.rights, abi) & handled;
        if !is_dir {
            access &= AccessFs::from_file(abi);
        }
        if access.is_empty() {
            continue;
        }
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| err(&format!("rule for `{}`", rule.path.display()), &e))?;
    }
    Ok(created)
}

/// What the kernel will enforce for stacked layers: the weakest of them.
pub fn combined_state(layers: &[LandlockFacts]) -> LandlockState {
    let states = || layers.iter().map(|f| f.state);
    if layers.is_empty() || states().any(|s| s == LandlockState::None) {
        LandlockState::None
    } else if states().any(|s| s == LandlockState::Partial) {
        LandlockState::Partial
    } else {
        LandlockState::Full
    }
}

/// Enforce a built ruleset on the calling thread: `landlock_restrict_self`.
/// Async-signal-safe (one system call); no_new_privs must already be set.
pub fn restrict_self(fd: RawFd) -> bool {
    // SAFETY: landlock_restrict_self(fd, 0) takes an integer descriptor and
    // flags; it touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) == 0 }
}

/// Set no_new_privs directly (used when Landlock is unavailable; seccomp
/// needs it either way).
pub fn set_no_new_privs() -> bool {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes no pointers.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 }
}
