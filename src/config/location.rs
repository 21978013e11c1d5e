//! Turning byte offsets in a configuration text into `file:line:col`.
//!
//! Every layer is parsed from a [`SourceText`]: a real file, an embedded
//! built-in profile, or one `-c key=value` argument. For files, a byte offset
//! maps to a 1-based line and a 1-based column counted in characters (what an
//! editor shows). For `-c`, the parsed text is a synthetic `key = value` line,
//! so offsets are mapped back into the argument the user typed; the "line" of
//! a `-c` source is the ordinal of that `-c` flag (1 for the first).

use std::ops::Range;

use crate::decision::Source;

/// The file name used in sources of `-c key=value` overrides.
pub const OVERRIDE_FILE: &str = "-c";

/// One configuration text and how to name positions in it.
#[derive(Debug, Clone)]
pub struct SourceText {
    /// The name shown in diagnostics (`builtin:profiles/ci.toml`,
    /// `.warden/config.toml`, the `--config` path as given, or `-c`).
    pub name: String,
    /// The text that is parsed.
    pub text: String,
    line_starts: Vec<usize>,
    override_map: Option<OverrideMap>,
}

/// How offsets in the synthetic `key = value` text map back into a `-c`
/// argument.
#[derive(Debug, Clone)]
struct OverrideMap {
    /// Which `-c` flag this is (1-based): used as the line.
    ordinal: u32,
    /// The argument as typed.
    argument: String,
    /// Byte length of the key part (before the first `=`).
    key_len: usize,
    /// Whether the value was wrapped in quotes because it was not TOML.
    value_quoted: bool,
}

impl SourceText {
    /// A file-like text (real file or embedded profile).
    pub fn file(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = line_starts(&text);
        SourceText {
            name: name.into(),
            text,
            line_starts,
            override_map: None,
        }
    }

    /// The synthetic text for the `ordinal`-th `-c` argument. `key` is the
    /// argument up to the first `=`, `value` the TOML value text that was
    /// parsed (the raw value, or a quoted string made from it).
    pub fn override_arg(
        ordinal: u32,
        argument: &str,
        key: &str,
        value: &str,
        value_quoted: bool,
    ) -> Self {
        let text = format!("{key} = {value}\n");
        SourceText {
            name: OVERRIDE_FILE.to_owned(),
            line_starts: line_starts(&text),
            text,
            override_map: Some(OverrideMap {
                ordinal,
                argument: argument.to_owned(),
                key_len: key.len(),
                value_quoted,
            }),
        }
    }

    /// Where a byte offset into [`SourceText::text`] is, as `file:line:col`.
    pub fn source_at(&self, offset: usize) -> Source {
        if let Some(map) = &self.override_map {
            return map.source_at(offset);
        }
        let offset = offset.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_index];
        let column = char_count(&self.text, line_start, offset) + 1;
        Source {
            file: self.name.clone(),
            line: to_u32(line_index + 1),
            column: Some(to_u32(column)),
        }
    }

    /// Where a span starts.
    pub fn source_of(&self, span: &Range<usize>) -> Source {
        self.source_at(span.start)
    }

    /// Where a span starts, without the column (rules are named by
    /// `file:line`).
    pub fn line_of(&self, span: &Range<usize>) -> Source {
        Source {
            column: None,
            ..self.source_at(span.start)
        }
    }

    /// The `-c` argument this text came from, if any, as it may be shown in
    /// a message: the value is elided when the key names an environment
    /// table, where values are often credentials.
    pub fn override_argument(&self) -> Option<String> {
        self.override_map.as_ref().map(|m| {
            let key = &m.argument[..m.key_len];
            if key.to_ascii_lowercase().contains("env") {
                format!("{key}=…")
            } else {
                m.argument.clone()
            }
        })
    }
}

impl SourceText {
    /// Line `line` (1-based) as a diagnostic may show it: for `-c`, the
    /// argument of that ordinal. A value that may be a credential (under an
    /// environment table, or a key that looks like one) is elided, as in
    /// [`SourceText::override_argument`].
    pub fn excerpt_line(&self, line: u32) -> Option<String> {
        if let Some(map) = &self.override_map {
            return (map.ordinal == line).then(|| self.override_argument().unwrap_or_default());
        }
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        let start = *self.line_starts.get(index)?;
        let end = self
            .line_starts
            .get(index + 1)
            .map_or(self.text.len(), |e| e - 1);
        let text = self.text.get(start..end)?.trim_end_matches('\r');
        let in_env_table = self.text[..start]
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('['))
            .is_some_and(|h| h.to_ascii_lowercase().contains("env"));
        Some(match text.split_once('=') {
            Some((key, _))
                if in_env_table
                    || key.to_ascii_lowercase().contains("env")
                    || super::provenance::looks_secret(key) =>
            {
                format!("{key}= …")
            }
            _ => text.to_owned(),
        })
    }
}

impl OverrideMap {
    fn source_at(&self, offset: usize) -> Source {
        // The synthetic text is `KEY = VALUE`: the key maps one to one, the
        // three bytes ` = ` stand for the single `=` of the argument.
        let value_start = self.key_len + 1;
        let arg_offset = if offset < self.key_len {
            offset
        } else if offset < self.key_len + 3 || self.value_quoted {
            value_start.min(self.argument.len())
        } else {
            (offset - 2).min(self.argument.len())
        };
        let column = char_count(&self.argument, 0, arg_offset) + 1;
        Source {
            file: OVERRIDE_FILE.to_owned(),
            line: self.ordinal,
            column: Some(to_u32(column)),
        }
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// Characters between two byte offsets, tolerating offsets inside a
/// multi-byte character (rounded down to the character start).
fn char_count(text: &str, from: usize, to: usize) -> usize {
    let mut to = to.min(text.len());
    while !text.is_char_boundary(to) {
        to -= 1;
    }
    text[from.min(to)..to].chars().count()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_line_and_char_column() {
        let t = SourceText::file("f.toml", "a = 1\nbé = 2\n");
        assert_eq!(t.source_at(0).to_string(), "f.toml:1:1");
        assert_eq!(t.source_at(6).to_string(), "f.toml:2:1");
        // `=` on line 2 is after "bé " (3 characters, 4 bytes).
        assert_eq!(t.source_at(10).to_string(), "f.toml:2:4");
        assert_eq!(t.source_at(999).line, 3);
    }

    #[test]
    fn excerpt_lines_elide_what_may_be_a_credential() {
        let t = SourceText::file(
            "f.toml",
            "a = 1\r\napi_token = \"t0k\"\n[sandbox.env.set]\nX = \"v\"\n",
        );
        assert_eq!(t.excerpt_line(1).as_deref(), Some("a = 1"));
        assert_eq!(t.excerpt_line(2).as_deref(), Some("api_token = …"));
        assert_eq!(t.excerpt_line(4).as_deref(), Some("X = …"));
        assert_eq!(t.excerpt_line(9), None);
        let env =
            SourceText::override_arg(2, "sandbox.env.set.T=x", "sandbox.env.set.T", "x", true);
        assert_eq!(env.excerpt_line(1), None);
        assert_eq!(env.excerpt_line(2).as_deref(), Some("sandbox.env.set.T=…"));
    }

    #[test]
    fn override_offsets_point_into_the_argument() {
        let arg = "sandbox.network=\"on\"";
        let t = SourceText::override_arg(2, arg, "sandbox.network", "\"on\"", false);
        assert_eq!(t.text, "sandbox.network = \"on\"\n");
        assert_eq!(t.source_at(8).to_string(), "-c:2:9");
        let value = t.text.find('"').unwrap();
        assert_eq!(t.source_at(value).to_string(), "-c:2:17");
        let quoted = SourceText::override_arg(1, "a=b c", "a", "\"b c\"", true);
        assert_eq!(quoted.source_at(6).to_string(), "-c:1:3");
        assert_eq!(quoted.override_argument().as_deref(), Some("a=b c"));
        let env =
            SourceText::override_arg(1, "sandbox.env.set.T=x", "sandbox.env.set.T", "x", true);
        assert_eq!(
            env.override_argument().as_deref(),
            Some("sandbox.env.set.T=…")
        );
    }
}
