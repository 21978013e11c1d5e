//! Glob syntax, checked where the configuration writes it.
//!
//! Every glob a layer writes (`sandbox.deny_read`, `sandbox.protected`,
//! `grants.write`, a review rule's `path`, `host`, `mcp_*` and
//! `mcp_arguments`, the requirements' paths) is compiled here with the
//! options the policy compiles it with (`literal_separator`), at its
//! `file:line:col`, so a bad glob is a located config error and never the
//! unlocated "invalid configuration" of `Pipeline::new`. The policy compiles
//! the same text again against the workspace and home of the run
//! (`policy::paths::PathSet`): that step needs the run's paths, which the
//! configuration does not know.
//!
//! Imports: `config::{diagnostic, location}` and `globset` only.

use std::ops::Range;

use super::diagnostic::ConfigError;
use super::location::SourceText;

/// Check that `glob` (written at `span` of `src`, under `key`) compiles.
/// A plain path compiles as itself, so path lists are checked whole.
pub fn check(
    src: &SourceText,
    span: &Range<usize>,
    glob: &str,
    key: &str,
) -> Result<(), ConfigError> {
    if glob.is_empty() {
        return Err(ConfigError::at(src, span, format!("empty glob in `{key}`")));
    }
    globset::GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map(drop)
        .map_err(|e| {
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
        assert!(check(&src, &(13..21), "~/.ssh", "deny_read").is_ok());
        let e = check(&src, &(23..28), "a[b", "deny_read").unwrap_err();
        assert_eq!(e.location.unwrap().to_string(), "f.toml:1:24");
        assert!(
            e.message.starts_with("invalid glob `a[b` in `deny_read`"),
            "{}",
            e.message
        );
        assert!(check(&src, &(0..1), "", "deny_read").is_err());
    }
}
