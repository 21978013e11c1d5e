//! Where a write grant on a path that does not exist yet lands. Landlock
//! grants inodes, so a missing path must become an existing one:
//!
//! - inside a hierarchy the command may already write (the workspace, a
//!   writable root, its temp directory), its nearest existing ancestor is
//!   granted: that adds nothing the hierarchy did not give, except
//!   protected paths, which a grant only ever guards;
//! - anywhere else, widening would hand the command far more than was
//!   approved (`~/.npm` missing on a fresh runner became all of HOME:
//!   `.bashrc`, `.gitconfig`, `.ssh`, what every later step trusts). So
//!   warden creates the missing path and grants exactly that: its missing
//!   parents as empty 0700 directories, one component at a time, never
//!   through a symlink, and the path itself as an empty 0700 directory
//!   when the grant names a directory (an allow rule's `"~/.npm/"`, with
//!   the trailing slash) or else as an empty 0600 file (`O_EXCL`,
//!   `O_NOFOLLOW`), which the command then writes in place. A file created
//!   this way stays, empty, if the command fails. Never under a deny-read
//!   path.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// What a grant became, and the note the command's record gets.
#[derive(Debug, PartialEq, Eq)]
pub struct Granted {
    pub path: PathBuf,
    pub note: Option<String>,
}

/// Resolve the grant `asked` (absolute, normalised; `as_dir` when it names
/// a directory) against the hierarchies the command may already write and
/// its deny-read paths. `Err` names what could not be created (the command
/// is refused, never widened).
pub fn resolve_grant(
    asked: &Path,
    as_dir: bool,
    writable: &[PathBuf],
    deny: &[PathBuf],
) -> Result<Granted, String> {
    let Some(existing) = asked.ancestors().find(|p| p.exists()) else {
        return Err(format!(
            "write grant `{}` has no existing ancestor",
            asked.display()
        ));
    };
    if existing == asked {
        return Ok(Granted {
            path: asked.to_path_buf(),
            note: None,
        });
    }
    if writable.iter().any(|w| existing.starts_with(w)) {
        return Ok(Granted {
            path: existing.to_path_buf(),
            note: Some(format!(
                "write grant `{}` does not exist; granted its nearest existing ancestor `{}`, \
                 already writable (Landlock can only grant existing paths)",
                asked.display(),
                existing.display()
            )),
        });
    }
    if let Some(d) = deny.iter().find(|d| asked.starts_with(d)) {
        return Err(format!(
            "write grant `{}` is under the deny-read `{}`: nothing is created there",
            asked.display(),
            d.display()
        ));
    }
    create_below(existing, asked, as_dir)?;
    Ok(Granted {
        path: asked.to_path_buf(),
        note: Some(format!(
            "write grant `{}` did not exist; created it as an empty {} and granted exactly \
             that (a missing grant outside the writable roots is never widened to an ancestor)",
            asked.display(),
            if as_dir { "directory" } else { "file" }
        )),
    })
}

/// Create each missing component of `target` below `existing`: parents as
/// directories, the last one as a directory or a file. A component that
/// appears meanwhile (a symlink, a file) fails the grant; the result is
/// checked to be `target` itself, no link on the way.
fn create_below(existing: &Path, target: &Path, as_dir: bool) -> Result<(), String> {
    let refuse = |e: String| format!("cannot create the write grant `{}`: {e}", target.display());
    let rest = target
        .strip_prefix(existing)
        .map_err(|_| refuse(format!("not below `{}`", existing.display())))?;
    let components: Vec<Component> = rest.components().collect();
    let mut path = existing.to_path_buf();
    for (i, component) in components.iter().enumerate() {
        let Component::Normal(name) = component else {
            return Err(refuse("not a plain path".to_string()));
        };
        path.push(name);
        let made = if as_dir || i + 1 < components.len() {
            std::fs::DirBuilder::new().mode(0o700).create(&path)
        } else {
            // `create_new` is O_EXCL: a symlink in place fails, never followed.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map(drop)
        };
        made.map_err(|e| refuse(format!("{}: {e}", path.display())))?;
    }
    match std::fs::canonicalize(target) {
        Ok(real) if real == target => Ok(()),
        Ok(real) => Err(refuse(format!("it resolves to `{}`", real.display()))),
        Err(e) => Err(refuse(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let (home, ws) = (root.join("home"), root.join("ws"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(ws.join("src")).unwrap();
        (tmp, home, ws)
    }

    #[test]
    fn an_existing_grant_is_granted_as_is() {
        let (_t, home, ws) = tree();
        let got = resolve_grant(&home, true, std::slice::from_ref(&ws), &[]).unwrap();
        assert_eq!(
            got,
            Granted {
                path: home,
                note: None
            }
        );
    }

    #[test]
    fn inside_a_writable_hierarchy_the_nearest_ancestor_is_granted() {
        let (_t, _home, ws) = tree();
        let got = resolve_grant(
            &ws.join("src/new/x.rs"),
            false,
            std::slice::from_ref(&ws),
            &[],
        )
        .unwrap();
        assert_eq!(got.path, ws.join("src"));
        assert!(!ws.join("src/new").exists(), "nothing created");
    }

    #[test]
    fn outside_it_the_missing_path_is_created_never_widened_to_home() {
        let (_t, home, ws) = tree();
        let asked = home.join(".cache/pnpm");
        let got = resolve_grant(&asked, true, std::slice::from_ref(&ws), &[]).unwrap();
        assert_eq!(got.path, asked);
        assert!(asked.is_dir());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&asked).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(got.note.unwrap().contains("never widened"));
        // A file grant: its parents are directories, itself an empty file.
        let file = home.join(".config/tool/settings.toml");
        let got = resolve_grant(&file, false, &[ws], &[]).unwrap();
        assert_eq!(got.path, file);
        assert!(file.is_file() && std::fs::read(&file).unwrap().is_empty());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(home.join(".config/tool").is_dir());
    }

    #[test]
    fn a_symlink_on_the_way_or_in_place_fails_the_grant() {
        let (_t, home, ws) = tree();
        let elsewhere = home.parent().unwrap().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        // A dangling link where the grant should be created: mkdir refuses.
        std::os::unix::fs::symlink(elsewhere.join("missing"), home.join(".npm")).unwrap();
        let err =
            resolve_grant(&home.join(".npm"), true, std::slice::from_ref(&ws), &[]).unwrap_err();
        assert!(err.contains("cannot create"), "{err}");
        assert!(!elsewhere.join("missing").exists());
        // Under a deny-read path nothing is created.
        std::fs::create_dir(home.join(".ssh")).unwrap();
        let err =
            resolve_grant(&home.join(".ssh/new"), false, &[ws], &[home.join(".ssh")]).unwrap_err();
        assert!(err.contains("deny-read"), "{err}");
        assert!(!home.join(".ssh/new").exists());
    }
}
