//! The audit log of the run in progress is out of every command's reach:
//! no sandboxed command may write it (it is the record of what they did)
//! or read it (it holds the prompt, every command and its output).
//!
//! Two halves:
//! - [`refuse_reachable_log`]: a log path inside a place commands may write
//!   (the workspace, `sandbox.writable_roots`, a path an allow rule's
//!   `grants.write` names) is a configuration error (exit 2), checked
//!   before the log is created. The path is checked as given and with
//!   symlinks resolved: a link in the workspace could be repointed by a
//!   command, and warden reads the log through it after the run.
//! - [`deny_to_commands`]: the log, its kept denials (`denials.json`) and,
//!   for warden's default location, the whole `<state>/warden/audit`
//!   (earlier runs, other workspaces' too) are added to the sandbox's
//!   deny-read entries. Deny-read
//!   paths are carved out of every writable hierarchy, grants included
//!   (`sandbox::prepare`), so they are neither readable nor writable.
//!
//! What stays out of reach of this module: a command run with no sandbox at
//! all (`danger-full-access`, an approved `unsandboxed` grant). Its writes
//! break the hash chain, which `warden audit verify` and the chain head
//! published by the run detect.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::Error;
use crate::judge::denials::state_path;
use crate::sandbox::SandboxPolicy;
use crate::sandbox::resolve::{DenyRead, canonical_or_normal, expand_tilde, has_glob_chars};

/// Exit 2 when `log` sits where a command may write: the workspace, a
/// writable root, or a path an allow rule grants writes to.
pub fn refuse_reachable_log(
    log: &Path,
    policy: &SandboxPolicy,
    config: &Config,
) -> Result<(), Error> {
    let absolute = if log.is_absolute() {
        log.to_path_buf()
    } else {
        // Relative paths are relative to where warden was started.
        std::env::current_dir()
            .map(|d| d.join(log))
            .map_err(|e| Error::usage(format!("cannot resolve {}: {e}", log.display())))?
    };
    let lexical = crate::policy::paths::normalize(&absolute);
    let real = canonical_or_normal(&lexical);
    for (root, what) in writable_places(policy, config) {
        if let Some(inside) = [&lexical, &real].into_iter().find(|p| p.starts_with(&root)) {
            return Err(Error::usage(format!(
                "the audit log {} is inside {what} {}: a command could rewrite or commit the \
                 record of what it did\n  help: give --audit a path outside every writable \
                 place, or leave it out for the default ({})",
                inside.display(),
                root.display(),
                crate::audit::default_audit_dir(&policy.workspace)
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|e| e),
            )));
        }
    }
    Ok(())
}

/// Where commands may write, as far as the configuration says before any
/// command runs: the workspace, writable roots, allow rules' write grants
/// (relative ones against the workspace; a glob up to its first pattern).
fn writable_places(policy: &SandboxPolicy, config: &Config) -> Vec<(PathBuf, &'static str)> {
    let mut out = vec![(policy.workspace.clone(), "the workspace")];
    out.extend(
        policy
            .writable_roots
            .iter()
            .map(|r| (r.clone(), "the writable root")),
    );
    let home = std::env::var_os("HOME").map(PathBuf::from);
    for rule in &config.command_rules {
        for raw in &rule.grants.write {
            let Some(expanded) = expand_tilde(raw, home.as_deref()) else {
                continue;
            };
            let literal: PathBuf = expanded
                .components()
                .take_while(|c| !has_glob_chars(Path::new(c.as_os_str())))
                .collect();
            let path = canonical_or_normal(&policy.workspace.join(literal));
            out.push((path, "a path an allow rule grants writes to:"));
        }
    }
    out
}

/// Deny the log (and what sits beside it) to every command of the run.
/// `default_root`: the log is in warden's default location, which holds
/// nothing but audit logs, so that whole directory is denied; a directory
/// the user chose (`/tmp`, HOME) may hold what commands need, so only the
/// two files are. Returns the paths denied (the pipeline is told too).
pub fn deny_to_commands(
    policy: &mut SandboxPolicy,
    log: &Path,
    default_root: Option<&Path>,
) -> Vec<PathBuf> {
    let log = canonical_or_normal(log);
    let paths = match default_root {
        Some(root) => vec![canonical_or_normal(root)],
        None => vec![state_path(&log), log.clone()],
    };
    for path in &paths {
        let entry = DenyRead::Path(path.clone());
        if !policy.deny_read.contains(&entry) {
            policy.deny_read.push(entry);
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadOptions;

    fn ci(ws: &Path, extra: &[&str]) -> (Config, SandboxPolicy) {
        ci_with(ws, extra, None)
    }

    fn ci_with(ws: &Path, extra: &[&str], file: Option<&Path>) -> (Config, SandboxPolicy) {
        let mut opts = LoadOptions::builtin("ci");
        opts.overrides.extend(extra.iter().map(|s| s.to_string()));
        opts.config_files.extend(file.map(Path::to_path_buf));
        let config = crate::config::load(&opts).unwrap().config;
        let policy = SandboxPolicy::from_config(&config, ws).unwrap();
        (config, policy)
    }

    #[test]
    fn a_log_where_commands_write_is_refused_as_given_and_through_links() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let ws = root.join("ws");
        std::fs::create_dir_all(ws.join("logs")).unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        std::fs::create_dir_all(root.join("extra")).unwrap();
        let extra = format!("sandbox.writable_roots=[{:?}]", root.join("extra"));
        let (config, policy) = ci(&ws, &[&extra]);
        let refused = |p: &Path| refuse_reachable_log(p, &policy, &config).is_err();
        assert!(refused(&ws.join("logs/run.jsonl")));
        assert!(
            refused(&ws.join("new/deeper/run.jsonl")),
            "missing dirs too"
        );
        assert!(refused(&root.join("extra/run.jsonl")));
        assert!(refused(&root.join("outside/../ws/run.jsonl")));
        assert!(!refused(&root.join("outside/run.jsonl")));
        // A link out of the workspace: a command could repoint it.
        std::os::unix::fs::symlink(root.join("outside"), ws.join("out-link")).unwrap();
        assert!(refused(&ws.join("out-link/run.jsonl")));
        // A link into the workspace.
        std::os::unix::fs::symlink(ws.join("logs"), root.join("in-link")).unwrap();
        assert!(refused(&root.join("in-link/run.jsonl")));
        let message = refuse_reachable_log(&ws.join("logs/run.jsonl"), &policy, &config)
            .unwrap_err()
            .to_string();
        assert!(message.contains("inside the workspace"), "{message}");
    }

    #[test]
    fn a_log_an_allow_rule_grants_writes_to_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let ws = root.join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        let file = root.join("grant.toml");
        std::fs::write(
            &file,
            format!(
                "[[command_rules]]\npattern = [\"make\"]\ndecision = \"allow\"\n\
                 grants = {{ write = [{:?}] }}\n",
                root.join("cache/**")
            ),
        )
        .unwrap();
        let (config, policy) = ci_with(&ws, &[], Some(&file));
        assert!(refuse_reachable_log(&root.join("cache/a/run.jsonl"), &policy, &config).is_err());
        assert!(refuse_reachable_log(&root.join("other/run.jsonl"), &policy, &config).is_ok());
    }

    #[test]
    fn the_log_and_its_denials_are_denied_and_the_default_dir_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let ws = root.join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        let (_, mut policy) = ci(&ws, &[]);
        let before = policy.deny_read.len();
        deny_to_commands(&mut policy, &root.join("logs/run.jsonl"), None);
        assert!(policy.deny_read[before..].contains(&DenyRead::Path(root.join("logs/run.jsonl"))));
        assert!(
            policy.deny_read[before..].contains(&DenyRead::Path(root.join("logs/denials.json")))
        );
        assert!(
            !policy
                .deny_read
                .contains(&DenyRead::Path(root.join("logs")))
        );
        let state = root.join("state/warden/audit");
        let denied = deny_to_commands(&mut policy, &state.join("ws-0/run.jsonl"), Some(&state));
        assert_eq!(
            policy.deny_read.last(),
            Some(&DenyRead::Path(state.clone()))
        );
        assert_eq!(denied, std::slice::from_ref(&state));
        // The pipeline is told too: reading the log is a deny-read crossing.
        let (config, _) = ci(&ws, &[]);
        let ctx = crate::policy::paths::PathContext::from_env(&ws);
        let mut pipeline = crate::policy::pipeline::Pipeline::new(&config, ctx).unwrap();
        let log = state.join("ws-0/run.jsonl");
        assert!(!pipeline.path_policy().is_deny_read(&log));
        pipeline.deny_read_also(state);
        assert!(pipeline.path_policy().is_deny_read(&log));
    }
}
