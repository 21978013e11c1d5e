//! Where an annotation goes when it has no place of its own: no file was
//! touched and the deciding rule is not in the repository (a built-in
//! profile's rule, a `-c` override, the sandbox). A check-run annotation
//! needs a repository path, so without one it is dropped; this module picks
//! the file, in this order:
//!
//! 1. the workflow file named by `GITHUB_WORKFLOW_REF` (the run came from
//!    there);
//! 2. the workspace's `.warden/config.toml`, when it exists: the
//!    repository's own warden policy, where a maintainer adds the rule or
//!    override that would change the decision;
//! 3. the action's `action.yml` (or `action.yaml`) named by
//!    `GITHUB_ACTION_PATH`, when it is inside the workspace (a local action,
//!    `uses: ./…`). A remote action's file lives outside the repository,
//!    where no annotation can point, so it comes last and mostly does not
//!    apply.
//!
//! When none applies, [`unlocated_warning`] says how many annotations the
//! check run cannot carry and why; publishing prints them as workflow
//! commands (job-level annotations) instead.

use std::path::Path;

use crate::audit::summary::workspace_relative;
use crate::github::GithubEnv;

/// The project configuration file, relative to the workspace.
const PROJECT_CONFIG: &str = ".warden/config.toml";

/// The repository path that annotations without a place of their own go
/// to, or `None` when nothing can be located (see the module docs).
pub fn fallback_path(env: &GithubEnv, workspace: Option<&Path>) -> Option<String> {
    if let Some(workflow) = &env.workflow_path {
        return Some(workflow.clone());
    }
    let workspace = workspace?;
    if workspace.join(PROJECT_CONFIG).is_file() {
        return Some(PROJECT_CONFIG.to_owned());
    }
    let action_dir = env.action_path.as_deref()?;
    // Both sides canonical: the workspace in the audit log is, the
    // runner's GITHUB_ACTION_PATH need not be (`…/repo/./`).
    let workspace = std::fs::canonicalize(workspace).ok()?;
    ["action.yml", "action.yaml"]
        .iter()
        .filter_map(|name| std::fs::canonicalize(action_dir.join(name)).ok())
        .find(|file| file.is_file())
        .and_then(|file| workspace_relative(&file, Some(&workspace)))
}

/// The warning for `count` annotations that have no location and so cannot
/// be on the check run.
pub fn unlocated_warning(count: usize) -> String {
    format!(
        "{count} annotation{s} {have} no file in the repository (GITHUB_WORKFLOW_REF is not set, \
         and neither {PROJECT_CONFIG} nor the action's action.yml is in the workspace): the \
         check run cannot carry {them}; printed as workflow commands instead",
        s = if count == 1 { "" } else { "s" },
        have = if count == 1 { "has" } else { "have" },
        them = if count == 1 { "it" } else { "them" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> GithubEnv {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        GithubEnv::from_map(&map)
    }

    #[test]
    fn the_workflow_comes_first_then_the_project_config_then_a_local_action() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(tmp.path()).unwrap();
        let action = ws.join("tools/warden-action");
        std::fs::create_dir_all(&action).unwrap();
        std::fs::write(action.join("action.yml"), "name: warden\n").unwrap();
        // The runner spells a local action's path with `./` in it.
        let action_path = format!("{}/./tools/warden-action", ws.display());
        let full = env(&[
            (
                "GITHUB_WORKFLOW_REF",
                "o/r/.github/workflows/agent.yml@refs/heads/main",
            ),
            ("GITHUB_ACTION_PATH", &action_path),
        ]);
        assert_eq!(
            fallback_path(&full, Some(&ws)).as_deref(),
            Some(".github/workflows/agent.yml")
        );
        let no_ref = env(&[("GITHUB_ACTION_PATH", &action_path)]);
        assert_eq!(
            fallback_path(&no_ref, Some(&ws)).as_deref(),
            Some("tools/warden-action/action.yml")
        );
        std::fs::create_dir_all(ws.join(".warden")).unwrap();
        std::fs::write(ws.join(PROJECT_CONFIG), "").unwrap();
        assert_eq!(
            fallback_path(&no_ref, Some(&ws)).as_deref(),
            Some(PROJECT_CONFIG)
        );
    }

    #[test]
    fn a_remote_action_or_no_workspace_locates_nothing() {
        let ws = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("action.yml"), "name: warden\n").unwrap();
        let remote = env(&[("GITHUB_ACTION_PATH", elsewhere.path().to_str().unwrap())]);
        assert_eq!(fallback_path(&remote, Some(ws.path())), None);
        assert_eq!(fallback_path(&remote, None), None);
        assert_eq!(fallback_path(&env(&[]), Some(ws.path())), None);
        assert!(unlocated_warning(2).starts_with("2 annotations have no file"));
        assert!(unlocated_warning(1).contains("cannot carry it;"));
    }
}
