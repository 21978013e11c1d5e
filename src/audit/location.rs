//! Where a run's audit log lives when `--audit` does not say: warden's
//! state directory, outside the workspace, one subdirectory per workspace.
//!
//! `$XDG_STATE_HOME/warden/audit/<workspace-key>/<run-id>.jsonl`, falling
//! back to `~/.local/state/warden/audit/<workspace-key>/` (the XDG base
//! directory spec's default for state that outlives a run but is not the
//! user's data). Why not the workspace: commands may write the whole
//! workspace, and `git add -A` would commit the log; the log and the kept
//! denials beside it (`denials.json`) must be out of every command's reach
//! (`run::audit_reach` denies all of `<state>/warden/audit` to commands and
//! refuses a log path inside a writable root). Why one directory per workspace: the kept denials
//! (`D1`, `D2` …) and `warden audit stats` are about one project, and two
//! checkouts of one machine must not approve each other's denials.
//!
//! The workspace key is the directory's name (for people listing the state
//! directory) and 16 hex digits of the SHA-256 of its canonical path (so
//! two checkouts named alike do not share a directory).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Below warden's state directory (`sandbox::journal::state_dir`).
const AUDIT_SUBDIR: &str = "audit";

/// Characters of the workspace's name kept in its key.
const NAME_CHARS: usize = 40;

/// The default audit directory of `workspace`, from the process's
/// `XDG_STATE_HOME` and `HOME`. `Err` says why none can be chosen.
pub fn default_audit_dir(workspace: &Path) -> Result<PathBuf, String> {
    Ok(default_audit_root()?.join(workspace_key(workspace)))
}

/// `<state>/warden/audit`: every workspace's default directory is in it
/// (commands are denied all of it, other workspaces' logs included).
pub fn default_audit_root() -> Result<PathBuf, String> {
    audit_root_from(
        std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// [`default_audit_dir`] with the environment given.
pub fn default_audit_dir_from(
    workspace: &Path,
    xdg_state_home: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Result<PathBuf, String> {
    Ok(audit_root_from(xdg_state_home, home)?.join(workspace_key(workspace)))
}

/// [`default_audit_root`] with the environment given. A relative or empty
/// `XDG_STATE_HOME` is ignored, as the XDG spec says.
fn audit_root_from(
    xdg_state_home: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Result<PathBuf, String> {
    let state = crate::sandbox::journal::state_dir_from(xdg_state_home, home).ok_or_else(|| {
        "neither XDG_STATE_HOME nor HOME is an absolute path, so the audit log has no \
         default place: pass --audit FILE (outside the workspace)"
            .to_string()
    })?;
    Ok(state.join(AUDIT_SUBDIR))
}

/// `<name>-<16 hex>` for a workspace (canonical when it exists).
pub fn workspace_key(workspace: &Path) -> String {
    let canonical = std::fs::canonicalize(workspace).unwrap_or_else(|_| workspace.to_path_buf());
    let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    let name: String = canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(NAME_CHARS)
        .collect();
    let name = if name.is_empty() || name.starts_with('.') {
        format!("ws{name}")
    } else {
        name
    };
    format!("{name}-{}", &hex::encode(digest)[..16])
}

/// The default log of one run: `<default dir>/<run-id>.jsonl`.
pub fn default_log_path(workspace: &Path, run_id: &str) -> Result<PathBuf, String> {
    Ok(default_audit_dir(workspace)?.join(format!("{run_id}.jsonl")))
}

/// The `*.jsonl` logs of a directory, oldest first (run ids start with the
/// UTC start time, so names sort by time). Empty when it does not exist.
pub fn logs_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .collect();
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_state_home_first_then_home() {
        let ws = Path::new("/nonexistent/warden-ws/my proj");
        let key = workspace_key(ws);
        assert_eq!(
            default_audit_dir_from(ws, Some("/state".into()), Some("/home/u".into())).unwrap(),
            Path::new("/state/warden/audit").join(&key)
        );
        for ignored in ["", "relative/state"] {
            assert_eq!(
                default_audit_dir_from(ws, Some(ignored.into()), Some("/home/u".into())).unwrap(),
                Path::new("/home/u/.local/state/warden/audit").join(&key),
                "XDG_STATE_HOME={ignored:?}"
            );
        }
        let none = default_audit_dir_from(ws, None, Some("rel".into())).unwrap_err();
        assert!(none.contains("--audit"), "{none}");
    }

    #[test]
    fn the_key_names_the_workspace_and_tells_namesakes_apart() {
        let a = workspace_key(Path::new("/nonexistent/a/my proj"));
        let b = workspace_key(Path::new("/nonexistent/b/my proj"));
        assert!(
            a.starts_with("my_proj-") && b.starts_with("my_proj-"),
            "{a} {b}"
        );
        assert_ne!(a, b);
        assert_eq!(a, workspace_key(Path::new("/nonexistent/a/my proj")));
        assert_eq!(a.len(), "my_proj-".len() + 16);
        // Never a hidden or empty name, never a separator.
        assert!(workspace_key(Path::new("/")).starts_with("ws-"));
        assert!(workspace_key(Path::new("/x/.hidden")).starts_with("ws.hidden-"));
    }

    #[test]
    fn logs_are_listed_oldest_first_and_a_missing_dir_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        for name in [
            "20261105T101500Z-2.jsonl",
            "20261104T090000Z-1.jsonl",
            "denials.json",
        ] {
            std::fs::write(tmp.path().join(name), "").unwrap();
        }
        let names: Vec<_> = logs_in(tmp.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["20261104T090000Z-1.jsonl", "20261105T101500Z-2.jsonl"]
        );
        assert!(logs_in(&tmp.path().join("missing")).unwrap().is_empty());
    }
}
