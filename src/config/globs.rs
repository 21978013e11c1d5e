//! Glob syntax: the one place a glob is compiled, and checked where the
//! configuration writes it.
//!
//! Every glob a layer writes (`sandbox.deny_read`, `sandbox.protected`,
//! `grants.write`, a review rule's `path`, `host`, `mcp_*` and
//! `mcp_arguments`, the requirements' paths) is compiled here by
//! [`check`], at its `file:line:col`, with the options it is matched with
//! ([`GlobKind`]), so a bad glob is a located config error and never the
//! unlocated "invalid configuration" of `Pipeline::new`. The policy
//! compiles with the same [`compile`] (one set of options for each kind of
//! glob), and only what a decision reaches: a path glob is compiled there
//! again against the workspace and home of the run (`policy::paths::PathSet`,
//! `~/…` and relative globs become absolute ones), which the configuration
//! does not know; a review rule's globs are compiled the first time a
//! decision reaches that rule (`policy::review_rules`).
//!
//! Imports: `config::{diagnostic, location}` and `globset` only.

use std::ops::Range;

use globset::{Glob, GlobBuilder};

use super::diagnostic::ConfigError;
use super::location::SourceText;

/// What a glob matches, which decides how it is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobKind {
    /// A path: `*` and `?` never match `/` (`deny_read`, `protected`,
    /// `grants.write`, a review rule's `path`, the requirements' paths).
    Path,
    /// A host name, compared case-insensitively (a review rule's `host`).
    Host,
    /// An MCP server or tool name, or an argument's value.
    Name,
}

/// Compile `glob` as a glob of `kind`.
pub fn compile(glob: &str, kind: GlobKind) -> Result<Glob, globset::Error> {
    GlobBuilder::new(glob)
        .literal_separator(kind == GlobKind::Path)
        .case_insensitive(kind == GlobKind::Host)
        .build()
}

/// Check that `glob` (written at `span` of `src`, under `key`) compiles as
/// a glob of `kind`. A plain path compiles as itself, so path lists are
/// checked whole.
pub fn check(
    src: &SourceText,
    span: &Range<usize>,
    glob: &str,
    key: &str,
    kind: GlobKind,
) -> Result<(), ConfigError> {
    if glob.is_empty() {
        return Err(ConfigError::at(src, span, format!("empty glob in `{key}`")));
    }
    compile(glob, kind).map(drop).map_err(|e| {
        ConfigError::at(
            src,
            span,
            format!("invalid glob `{glob}` in `{key}`: {}", e.kind()),
        )
        .help("globs use `*`, `?`, `**`, `[abc]` and `{a,b}`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_glob_is_located_and_a_plain_path_passes() {
        let src = SourceText::file("f.toml", "deny_read = [\"~/.ssh\", \"a[b\"]\n");
        assert!(check(&src, &(13..21), "~/.ssh", "deny_read", GlobKind::Path).is_ok());
        let e = check(&src, &(23..28), "a[b", "deny_read", GlobKind::Path).unwrap_err();
        assert_eq!(e.location.unwrap().to_string(), "f.toml:1:24");
        assert!(
            e.message.starts_with("invalid glob `a[b` in `deny_read`"),
            "{}",
            e.message
        );
        assert!(check(&src, &(0..1), "", "deny_read", GlobKind::Path).is_err());
    }

    #[test]
    fn each_kind_is_compiled_with_its_own_options() {
        let path = compile("/tmp/*", GlobKind::Path).unwrap().compile_matcher();
        assert!(path.is_match("/tmp/a") && !path.is_match("/tmp/a/b"));
        let host = compile("*.Example.COM", GlobKind::Host)
            .unwrap()
            .compile_matcher();
        assert!(host.is_match("api.example.com"));
        let name = compile("read_*", GlobKind::Name).unwrap().compile_matcher();
        assert!(name.is_match("read_a/b") && !name.is_match("READ_a"));
    }
}
