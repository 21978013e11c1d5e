//! Matching deny-read globs against paths relative to the glob's base
//! (the walk of [`super::deny`] calls this for every entry of a tree).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::resolve::has_glob_chars;

/// The part of an absolute glob below its literal prefix (`/ws/**/.env` →
/// `**/.env`), which is what paths relative to the walked base are matched
/// against.
pub(super) fn relative_pattern(pattern: &str) -> String {
    let rest: Vec<&str> = Path::new(pattern)
        .components()
        .skip_while(|c| !has_glob_chars(Path::new(c.as_os_str())))
        .map(|c| c.as_os_str().to_str().unwrap_or_default())
        .collect();
    rest.join("/")
}

pub(super) fn compile(patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(&relative_pattern(pattern))
            .literal_separator(true)
            .build()
            .map_err(|e| format!("deny_read glob `{pattern}`: {e}"))?;
        set.add(glob);
    }
    set.build()
        .map_err(|e| format!("deny_read globs {patterns:?}: {e}"))
}

/// Matches paths relative to a base. The usual deny globs, `**/NAME` with
/// only `*` and `?` wildcards in NAME (`**/.env`, `**/.env.*`), are matched
/// on the file name's bytes without building a regex (the cost of a
/// one-shot `warden sandbox`); anything else goes through globset. The
/// meaning is globset's: it matches bytes (`?` is one byte, `*` any run of
/// bytes, neither matches `/`), so non-UTF-8 names need no special case.
pub(super) struct Matcher {
    names: Vec<Vec<u8>>,
    set: Option<GlobSet>,
}

impl Matcher {
    pub(super) fn new(patterns: &[String]) -> Result<Matcher, String> {
        let (mut names, mut rest) = (Vec::new(), Vec::new());
        for p in patterns {
            match simple_name(&relative_pattern(p)) {
                Some(name) => names.push(name.as_bytes().to_vec()),
                None => rest.push(p.clone()),
            }
        }
        Ok(Matcher {
            names,
            set: if rest.is_empty() {
                None
            } else {
                Some(compile(&rest)?)
            },
        })
    }

    pub(super) fn is_match(&self, rel: &Path) -> bool {
        let (dir, name) = match (rel.parent(), rel.file_name()) {
            (Some(dir), Some(name)) => (dir, name),
            _ => return self.set.as_ref().is_some_and(|s| s.is_match(rel)),
        };
        self.matches(dir, name)
    }

    /// [`Self::is_match`] for the entry `name` of `dir`, building the path
    /// only when a globset pattern needs it (the walk calls this for every
    /// entry of the tree).
    pub(super) fn matches(&self, dir: &Path, name: &OsStr) -> bool {
        let bytes = name.as_bytes();
        self.names
            .iter()
            .any(|p| wildcard_match(p, bytes, b'*', b'?'))
            || self
                .set
                .as_ref()
                .is_some_and(|s| s.is_match(dir.join(name)))
    }
}

/// NAME when `rel_pattern` is `**/NAME` and NAME has no `/`, no class or
/// alternation, no escape and no `**`.
fn simple_name(rel_pattern: &str) -> Option<&str> {
    let name = rel_pattern.strip_prefix("**/")?;
    let plain =
        !name.is_empty() && !name.contains("**") && !name.contains(['/', '[', ']', '{', '}', '\\']);
    plain.then_some(name)
}

/// Glob match of a whole file name: `star` any run, `any` one element.
fn wildcard_match<T: Copy + PartialEq>(pattern: &[T], name: &[T], star: T, any: T) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == any || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == star {
            last_star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = last_star {
            p = sp + 1;
            n = sn + 1;
            last_star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_matching_agrees_with_globset() {
        let patterns = [
            "**/.env",
            "**/.env.*",
            "**/*.pem",
            "**/id_?sa",
            "**/a*b*c",
            "**/*",
            "**/x**y",
            "**/[ab].key",
            "**/{a,b}.key",
            "**/sub/*.key",
            "**/é*",
            "**/?.env",
            "*.key",
        ];
        let names = [
            ".env",
            ".env.local",
            "env",
            "x.env",
            ".env.",
            "key.pem",
            ".pem",
            "pem",
            "id_rsa",
            "id_dsa",
            "id_rssa",
            "abc",
            "aXbYc",
            "ab",
            "acb",
            "xy",
            "x-y",
            "a.key",
            "c.key",
            "b.key",
            "é.env.é",
            "éa",
            "é.env",
            "x.env",
            "sub",
        ];
        for pattern in patterns {
            let full = format!("/ws/{pattern}");
            let ours = Matcher::new(std::slice::from_ref(&full)).unwrap();
            let reference = compile(std::slice::from_ref(&full)).unwrap();
            for name in names {
                for rel in [
                    name.to_string(),
                    format!("d/{name}"),
                    format!("d/sub/{name}"),
                ] {
                    let rel = Path::new(&rel);
                    assert_eq!(
                        ours.is_match(rel),
                        reference.is_match(rel),
                        "{pattern} on {}",
                        rel.display()
                    );
                }
            }
        }
        // Names that are not UTF-8: bytes, exactly like globset.
        for pattern in patterns {
            let full = format!("/ws/{pattern}");
            let ours = Matcher::new(std::slice::from_ref(&full)).unwrap();
            let reference = compile(std::slice::from_ref(&full)).unwrap();
            for raw in [&b".env.\xff"[..], b"\xff.env", b"id_\xffsa", b"\xe9\xff"] {
                let rel = Path::new("d").join(std::ffi::OsStr::from_bytes(raw));
                assert_eq!(
                    ours.is_match(&rel),
                    reference.is_match(&rel),
                    "{pattern} on {raw:?}"
                );
            }
        }
        assert!(simple_name("**/.env.*").is_some());
        assert!(simple_name("**/[ab].key").is_none());
        let bytes = std::ffi::OsStr::from_bytes(b"d/.env.\xff");
        let m = Matcher::new(&["/ws/**/.env.*".to_string()]).unwrap();
        assert!(
            m.is_match(Path::new(bytes)),
            "non-UTF-8 names go through globset"
        );
    }

    #[test]
    fn relative_patterns_drop_the_literal_prefix() {
        assert_eq!(relative_pattern("/ws/x/**/.env"), "**/.env");
        assert_eq!(relative_pattern("/ws/src/*/secret"), "*/secret");
        assert_eq!(relative_pattern("/ws/[ab]/k"), "[ab]/k");
    }
}
