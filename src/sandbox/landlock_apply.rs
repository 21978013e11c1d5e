//! Turning a [`super::plan`] into a Landlock ruleset. Built before `fork`
//! (it opens every rule's path and allocates); the command's process only
//! calls `restrict_self` on it ([`super::launch`]).

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, PathBeneath, Ruleset, RulesetAttr, RulesetCreated,
    RulesetCreatedAttr, Scope,
};

use super::enforcement::requested_abi;
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

/// A ruleset with every rule added, ready for `restrict_self` (which the
/// command's process calls after `fork`, see [`super::launch`]).
pub struct BuiltRuleset {
    /// `None` when the kernel has no Landlock.
    pub ruleset: Option<RulesetCreated>,
    pub kernel_abi: i32,
    /// TCP bind/connect are handled (and, with no port rule, denied).
    pub tcp_rules: bool,
    /// Signals and abstract unix sockets are scoped (ABI 6+).
    pub scoped: bool,
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

/// Create the ruleset and add every rule (nothing is enforced yet).
/// `deny_network` adds Landlock TCP rules (no port is allowed) when the
/// kernel has them.
pub fn build(rules: &[PlanRule], deny_network: bool) -> Result<BuiltRuleset, String> {
    let kabi = kernel_abi();
    let abi_n = requested_abi(kabi);
    if abi_n < 1 {
        return Ok(BuiltRuleset {
            ruleset: None,
            kernel_abi: kabi,
            tcp_rules: false,
            scoped: false,
        });
    }
    let abi = ABI::from(abi_n);
    let err = |what: &str, e: &dyn std::fmt::Display| format!("landlock: {what}: {e}");
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| err("handle filesystem access", &e))?;
    let tcp_rules = deny_network && abi_n >= 4;
    if tcp_rules {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(|e| err("handle network access", &e))?;
    }
    let scoped = abi_n >= 6;
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
        let mut access = rights_to_access(rule.rights, abi);
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
    Ok(BuiltRuleset {
        ruleset: Some(created),
        kernel_abi: kabi,
        tcp_rules,
        scoped,
    })
}

/// Set no_new_privs directly (used when Landlock is unavailable; seccomp
/// needs it either way).
pub fn set_no_new_privs() -> bool {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes no pointers.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 }
}
