//! What the kernel actually enforced for one command, and the fail-closed
//! decision over it.
//!
//! [`assess`] is a pure function over what the kernel reported (Landlock
//! ABI, ruleset status, no_new_privs, seccomp) so the refuse/warn logic is
//! unit-tested even though this machine's kernel supports everything.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::SandboxFallback;

/// Newest Landlock ABI warden requests features of. Newer kernels are used
/// at this ABI: features are only enabled once they have been tested.
pub const MAX_TESTED_ABI: i32 = 7;

/// How much of the requested Landlock ruleset the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandlockState {
    Full,
    Partial,
    None,
}

/// Raw facts reported by the kernel while the sandbox was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelReport {
    /// `landlock_create_ruleset(NULL, 0, VERSION)`; ≤ 0 means unsupported.
    pub kernel_abi: i32,
    pub ruleset: LandlockState,
    pub no_new_privs: bool,
    pub seccomp: bool,
}

/// The fail-closed verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything requested is enforced.
    Enforced,
    /// Something is missing but the profile allows running anyway; the
    /// reasons are warned about and recorded.
    Degraded(Vec<String>),
    /// Something is missing: do not run. The message names the feature.
    Refuse(String),
}

/// Decide whether a command may run with what the kernel enforced.
pub fn assess(report: &KernelReport, fallback: SandboxFallback) -> Verdict {
    let mut missing = Vec::new();
    if report.kernel_abi < 1 {
        missing.push(
            "the kernel does not support Landlock (needs Linux 5.13+ built with \
             CONFIG_SECURITY_LANDLOCK=y and `landlock` in the active LSM list)"
                .to_string(),
        );
    } else if report.ruleset != LandlockState::Full {
        missing.push(format!(
            "Landlock ABI {} rules were {} enforced by the kernel",
            requested_abi(report.kernel_abi),
            match report.ruleset {
                LandlockState::Partial => "only partially",
                _ => "not",
            }
        ));
    }
    if !report.no_new_privs {
        missing.push("prctl(PR_SET_NO_NEW_PRIVS) could not be set".to_string());
    }
    if !report.seccomp {
        missing.push(
            "a seccomp filter could not be installed (needs CONFIG_SECCOMP_FILTER)".to_string(),
        );
    }
    match (missing.is_empty(), fallback) {
        (true, _) => Verdict::Enforced,
        (false, SandboxFallback::Warn) => Verdict::Degraded(missing),
        (false, SandboxFallback::Refuse) => Verdict::Refuse(missing.join("; ")),
    }
}

/// Whether [`assess`] would refuse, computed without allocating: the
/// command's process decides with this between `fork` and `execve`
/// ([`super::launch`]); the parent then words the refusal with [`assess`].
pub fn must_refuse(report: &KernelReport, fallback: SandboxFallback) -> bool {
    let complete = report.kernel_abi >= 1
        && report.ruleset == LandlockState::Full
        && report.no_new_privs
        && report.seccomp;
    !complete && fallback == SandboxFallback::Refuse
}

/// The ABI whose features warden asks for on a kernel reporting `kernel_abi`.
pub fn requested_abi(kernel_abi: i32) -> i32 {
    kernel_abi.clamp(0, MAX_TESTED_ABI)
}

/// Protections an older (but supported) Landlock ABI lacks. Not a refusal:
/// the floor is ABI 1; these are recorded and documented.
pub fn known_gaps(kernel_abi: i32) -> Vec<String> {
    let mut gaps = Vec::new();
    if kernel_abi < 1 {
        return gaps;
    }
    if kernel_abi < 2 {
        gaps.push("ABI < 2: every cross-directory rename or link is refused".to_string());
    }
    if kernel_abi < 3 {
        gaps.push("ABI < 3: truncate(2) is not restricted by Landlock".to_string());
    }
    if kernel_abi < 4 {
        gaps.push("ABI < 4: no Landlock TCP rules (seccomp still refuses non-unix sockets)".into());
    }
    if kernel_abi < 5 {
        gaps.push("ABI < 5: ioctl on devices is not restricted by Landlock".to_string());
    }
    if kernel_abi < 6 {
        gaps.push(
            "ABI < 6: signals and abstract unix sockets are not scoped: the command may signal \
             processes outside the sandbox"
                .to_string(),
        );
    }
    gaps
}

/// What was enforced for one command; recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Enforcement {
    /// False for `danger-full-access` and `unsandboxed` grants.
    pub sandboxed: bool,
    /// `read-only`, `workspace-write`, `danger-full-access`, or
    /// `unsandboxed` (a grant).
    pub mode: String,
    /// ABI the kernel reports (0: none).
    pub landlock_abi: i32,
    /// ABI whose features were requested.
    pub landlock_requested_abi: i32,
    pub landlock: Option<LandlockState>,
    pub seccomp: bool,
    pub no_new_privs: bool,
    /// Network allowed for this command (profile `network = "on"` or a grant).
    pub network: bool,
    /// TCP bind/connect denied by Landlock as well as by seccomp.
    pub network_tcp_landlock: bool,
    /// Signals and abstract unix sockets scoped to the sandbox (ABI 6+).
    pub scoped: bool,
    /// The command holds no capability ([`super::caps::drop_all`]).
    pub capabilities_dropped: bool,
    /// Missing protections accepted because `sandbox_fallback = "warn"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<String>,
    /// Protections this kernel's ABI lacks (see [`known_gaps`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
    /// Writable hierarchies granted (roots, not every split entry).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<PathBuf>,
    /// Landlock rules of the plan: one per granted root and per entry of
    /// every directory the plan splits (what start-up scales with; see
    /// docs/benchmarks.md). 0 when unsandboxed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub landlock_rules: usize,
    /// Protected paths made writable by a grant, snapshotted and verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guarded: Vec<PathBuf>,
    /// Allow-listed or passed variables removed as credentials (names only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_removed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(abi: i32, ruleset: LandlockState) -> KernelReport {
        KernelReport {
            kernel_abi: abi,
            ruleset,
            no_new_privs: true,
            seccomp: true,
        }
    }

    #[test]
    fn full_enforcement_runs() {
        for abi in 1..=9 {
            assert_eq!(
                assess(&report(abi, LandlockState::Full), SandboxFallback::Refuse),
                Verdict::Enforced
            );
        }
    }

    #[test]
    fn no_landlock_refuses_and_names_the_kernel_feature() {
        for abi in [0, -38, -95] {
            let Verdict::Refuse(msg) =
                assess(&report(abi, LandlockState::None), SandboxFallback::Refuse)
            else {
                panic!("expected refusal");
            };
            assert!(msg.contains("CONFIG_SECURITY_LANDLOCK"), "{msg}");
        }
    }

    #[test]
    fn partial_enforcement_refuses_unless_warn() {
        let r = report(4, LandlockState::Partial);
        let Verdict::Refuse(msg) = assess(&r, SandboxFallback::Refuse) else {
            panic!("expected refusal");
        };
        assert!(msg.contains("only partially"), "{msg}");
        let Verdict::Degraded(why) = assess(&r, SandboxFallback::Warn) else {
            panic!("expected degraded");
        };
        assert_eq!(why.len(), 1);
        let none = report(3, LandlockState::None);
        assert!(matches!(
            assess(&none, SandboxFallback::Refuse),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            assess(&none, SandboxFallback::Warn),
            Verdict::Degraded(_)
        ));
    }

    #[test]
    fn missing_seccomp_or_nnp_refuses() {
        let mut r = report(7, LandlockState::Full);
        r.seccomp = false;
        assert!(
            matches!(assess(&r, SandboxFallback::Refuse), Verdict::Refuse(m) if m.contains("seccomp"))
        );
        let mut r = report(7, LandlockState::Full);
        r.no_new_privs = false;
        assert!(
            matches!(assess(&r, SandboxFallback::Refuse), Verdict::Refuse(m) if m.contains("NO_NEW_PRIVS"))
        );
    }

    #[test]
    fn must_refuse_agrees_with_assess_everywhere() {
        let states = [
            LandlockState::Full,
            LandlockState::Partial,
            LandlockState::None,
        ];
        for abi in [-95, 0, 1, 4, 7, 9] {
            for ruleset in states {
                for (no_new_privs, seccomp) in [(true, true), (true, false), (false, true)] {
                    for fallback in [SandboxFallback::Refuse, SandboxFallback::Warn] {
                        let r = KernelReport {
                            kernel_abi: abi,
                            ruleset,
                            no_new_privs,
                            seccomp,
                        };
                        assert_eq!(
                            must_refuse(&r, fallback),
                            matches!(assess(&r, fallback), Verdict::Refuse(_)),
                            "{r:?} {fallback:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn requested_abi_is_capped_at_the_tested_one() {
        assert_eq!(requested_abi(9), MAX_TESTED_ABI);
        assert_eq!(requested_abi(4), 4);
        assert_eq!(requested_abi(-95), 0);
        assert!(known_gaps(7).is_empty());
        assert_eq!(known_gaps(4).len(), 2);
        assert!(known_gaps(1).iter().any(|g| g.contains("truncate")));
    }
}
