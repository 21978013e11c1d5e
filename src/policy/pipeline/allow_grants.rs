//! What the allow rules matched by an exec would grant it, and the
//! pre-approval exceptions that withhold those grants (an option, an
//! agent-written input or a replaceable program that chooses where the tool
//! connects or what it runs; see [`crate::policy::preapproval`]). Imports
//! what [`super`] does.

use std::path::{Path, PathBuf};

use crate::policy::paths::PathSet;
use crate::policy::preapproval::{ExecContext, exception};
use crate::policy::run_writes::RunWrites;
use crate::policy::wrappers::Invocation;

use super::Pipeline;

/// The union of the grants of the allow rules an exec matched.
#[derive(Debug, Clone, Default)]
pub(super) struct RuleGrantSet {
    /// Network, only when every command's rule grants it.
    pub(super) network: bool,
    /// The rules that grant writes.
    sets: Vec<usize>,
    /// Their `grants.write`, compiled.
    compiled: Vec<PathSet>,
    /// Their `grants.write`, resolved.
    pub(super) write_paths: Vec<PathBuf>,
    /// Workspace directories a `grants.write` entry ending in `/` names.
    pub(super) create_dirs: Vec<PathBuf>,
}

impl RuleGrantSet {
    /// Whether a rule's write grant covers `p`.
    pub(super) fn covers_write(&self, p: &Path) -> bool {
        self.compiled.iter().any(|s| s.contains(p))
    }
}

impl Pipeline {
    /// The first pre-approval exception among the invocations an allow
    /// rule grants something to, with that rule.
    pub(super) fn preapproval_exception(
        &self,
        invocations: &[Invocation],
        granting: &[(usize, usize)],
        base: Option<&Path>,
        writes: &RunWrites,
    ) -> Option<(String, usize)> {
        if granting.is_empty() {
            return None;
        }
        let cwd = base.unwrap_or(&self.paths.ctx.workspace);
        let ctx = ExecContext::new(&self.paths, &self.search_path, cwd, writes, invocations);
        granting.iter().find_map(|&(inv, rule)| {
            let network = self.config.command_rules[rule].grants.network;
            let after = inv.checked_sub(1).map(|i| invocations[i].argv.as_slice());
            exception(&invocations[inv].argv, network, after, &ctx).map(|why| (why, rule))
        })
    }

    /// The union of the grants of `rules` (indices into the command rules).
    pub(super) fn union_grants(&self, rules: &[usize]) -> RuleGrantSet {
        let mut out = RuleGrantSet {
            network: !rules.is_empty(),
            ..RuleGrantSet::default()
        };
        for &i in rules {
            let r = &self.config.command_rules[i];
            // Network is granted only when every command's rule grants it.
            out.network &= r.grants.network;
            if !r.grants.write.is_empty() {
                out.sets.push(i);
                for w in &r.grants.write {
                    let path = self.paths.ctx.resolve(w, None);
                    // A directory to create when missing: in the workspace by
                    // the executor, elsewhere by the sandbox's grant resolution
                    // (`sandbox::grant_paths`).
                    if w.ends_with('/') {
                        out.create_dirs.push(path.clone());
                    }
                    out.write_paths.push(path);
                }
            }
        }
        out.compiled = out
            .sets
            .iter()
            .map(|&i| self.rule_write_grants[i].clone())
            .collect();
        out
    }
}
