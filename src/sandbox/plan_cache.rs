//! Reusing the Landlock plan and ruleset from one command of `warden run`
//! to the next.
//!
//! The plan depends only on its [`PlanInput`] (roots, carve-outs, deny
//! list, devices) and on the entries of the directories it splits; the
//! ruleset built from it binds the inodes found at those paths. Commands
//! of one run have the same input as long as the deny list, the grants and
//! the devices do not change — the per-command private temp dir is not in
//! it: it lives in a per-run directory that is the plan's writable root,
//! and a second, per-command Landlock layer narrows writes there to the
//! command's own directory (see [`super::prepare`]).
//!
//! A cached plan is valid until something it was derived from changes.
//! Every directory the split read is watched for created, deleted and
//! moved entries, every root for being deleted or moved
//! ([`super::inotify`]); any such event, or an overflowed queue, drops the
//! entry and the next command plans again. Events are queued inside the
//! system call that makes the change, so a command that changes a split
//! directory has invalidated the plan before the next command is prepared.
//! A ruleset never grants more than a fresh plan would: its rules are on
//! inodes that are either roots (watched) or entries of split directories
//! (watched), and moving anything out from under a granted inode takes it
//! out of the grant, as Landlock evaluates rules on the path walked.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use super::inotify::{DIR_CHANGES, Inotify, SELF_CHANGES};
use super::landlock_apply::{self, BuiltRuleset};
use super::plan::{self, PlanInput, PlanRule};

/// Cached plans kept per process (each holds one inotify instance).
const MAX_CACHED: usize = 4;

/// A plan and, once built, its rulesets (with and without Landlock TCP
/// rules).
pub struct CachedPlan {
    input: PlanInput,
    pub rules: Arc<Vec<PlanRule>>,
    /// `None`: could not be watched, so used once and never looked up.
    watch: Option<Inotify>,
    rulesets: [OnceLock<Result<Arc<BuiltRuleset>, String>>; 2],
}

impl CachedPlan {
    /// The ruleset of this plan (built once; `deny_network` selects the
    /// variant with Landlock TCP rules).
    pub fn ruleset(&self, deny_network: bool) -> Result<Arc<BuiltRuleset>, String> {
        self.rulesets[deny_network as usize]
            .get_or_init(|| landlock_apply::build(&self.rules, deny_network).map(Arc::new))
            .clone()
    }

    /// Nothing it was derived from has changed since it was planned.
    fn still_valid(&self) -> bool {
        self.watch
            .as_ref()
            .and_then(Inotify::drain)
            .is_some_and(|events| events.is_empty())
    }
}

static CACHE: Mutex<Vec<Arc<CachedPlan>>> = Mutex::new(Vec::new());

/// The plan for `input`: a cached one that is still valid, else a new one
/// (cached when it can be watched).
pub fn plan(input: &PlanInput) -> Arc<CachedPlan> {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = cache.iter().position(|c| c.input == *input) {
        let entry = cache.remove(i);
        if entry.still_valid() {
            cache.push(entry.clone()); // most recently used last
            return entry;
        }
    }
    let entry = Arc::new(build(input));
    if entry.watch.is_some() {
        if cache.len() >= MAX_CACHED {
            cache.remove(0);
        }
        cache.push(entry.clone());
    }
    entry
}

/// Plan with watches added before each directory is read (so no change
/// can slip between reading and watching); unwatched when any watch could
/// not be added.
fn build(input: &PlanInput) -> CachedPlan {
    let mut watch = Inotify::new();
    let rules = {
        let mut ok = watch.is_some();
        let mut add = |path: &Path, mask: u32| {
            if let Some(w) = &watch {
                ok &= w.add(path, mask | libc::IN_MASK_ADD).is_ok();
            }
        };
        let roots = input
            .read_root
            .iter()
            .chain(input.writable.iter().map(|(root, _)| root))
            .chain(&input.devices);
        for root in roots {
            add(root, SELF_CHANGES);
        }
        let rules = plan::build_watched(input, &mut |dir| add(dir, DIR_CHANGES));
        if !ok {
            watch = None;
        }
        rules
    };
    CachedPlan {
        input: input.clone(),
        rules: Arc::new(rules),
        watch,
        rulesets: [OnceLock::new(), OnceLock::new()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::plan::Rights;

    fn input(root: &Path, deny: &Path, writable: &Path) -> PlanInput {
        PlanInput {
            read_root: Some(root.to_path_buf()),
            writable: vec![(writable.to_path_buf(), vec![deny.to_path_buf()])],
            listed_only: vec![],
            devices: vec![],
            deny: vec![deny.to_path_buf()],
        }
    }

    #[test]
    fn a_plan_is_reused_until_a_split_directory_or_a_root_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let home = root.join("home");
        let ws = root.join("ws");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(ws.join("src")).unwrap();
        let input = input(&root, &home.join(".ssh"), &ws);

        let first = plan(&input);
        let again = plan(&input);
        assert!(Arc::ptr_eq(&first, &again), "nothing changed: reused");
        assert!(Arc::ptr_eq(
            &first.ruleset(true).unwrap(),
            &again.ruleset(true).unwrap()
        ));

        // A new entry in a split directory must get its own rule.
        std::fs::create_dir(home.join("docs")).unwrap();
        let after_mkdir = plan(&input);
        assert!(!Arc::ptr_eq(&first, &after_mkdir));
        assert!(
            after_mkdir
                .rules
                .iter()
                .any(|r| r.path == home.join("docs") && r.rights == Rights::Read)
        );
        assert!(Arc::ptr_eq(&after_mkdir, &plan(&input)));

        // Changes inside an unsplit, granted directory do not matter.
        std::fs::write(ws.join("src/main.rs"), "").unwrap();
        assert!(Arc::ptr_eq(&after_mkdir, &plan(&input)));

        // A root moved away (its inode carries the grant) means a new plan.
        std::fs::rename(&ws, root.join("ws-old")).unwrap();
        std::fs::create_dir_all(&ws).unwrap();
        assert!(!Arc::ptr_eq(&after_mkdir, &plan(&input)));
    }
}
