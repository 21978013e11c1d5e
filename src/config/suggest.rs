//! "Did you mean …?" for misspelt keys and values.
//!
//! serde reports an unknown key as ``unknown field `x`, expected one of `a`,
//! `b` `` (and an unknown value as ``unknown variant …``). We turn that into
//! a short message plus a `help:` line naming the closest valid spelling, or
//! the list of valid ones when nothing is close.

/// A reworded serde message and its help line.
pub struct Reworded {
    pub message: String,
    pub help: Option<String>,
}

/// Reword serde's unknown field/variant messages; other messages pass
/// through unchanged.
pub fn reword(message: &str) -> Reworded {
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return Reworded {
            message: format!("missing required key `{key}`"),
            help: Some(format!("add `{key} = …` to this table")),
        };
    }
    if message == "duplicate key" {
        return Reworded {
            message: "duplicate key".to_owned(),
            help: Some("a key may be set only once per table in one file".to_owned()),
        };
    }
    for (prefix, what) in [
        ("unknown field `", "unknown key"),
        ("unknown variant `", "unknown value"),
    ] {
        let Some(rest) = message.strip_prefix(prefix) else {
            continue;
        };
        let Some((found, tail)) = rest.split_once('`') else {
            continue;
        };
        let expected = backticked(tail);
        let help = match closest(found, &expected) {
            Some(best) => Some(format!("did you mean `{best}`?")),
            None if expected.is_empty() => Some("nothing is accepted here".to_owned()),
            None => Some(format!(
                "expected one of: {}",
                expected
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        return Reworded {
            message: format!("{what} `{found}`"),
            help,
        };
    }
    Reworded {
        message: message.to_owned(),
        help: None,
    }
}

/// The closest candidate within a small edit distance, if any.
pub fn closest<'a>(found: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (found.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&found.to_lowercase(), c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Every `` `word` `` in `text`, in order.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Levenshtein distance over characters, treating `-` and `_` as equal so
/// `sandbox-mode` finds `sandbox_mode`.
fn edit_distance(a: &str, b: &str) -> usize {
    let norm = |c: char| if c == '-' { '_' } else { c };
    let a: Vec<char> = a.chars().map(norm).collect();
    let b: Vec<char> = b.chars().map(norm).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_miss_key_gets_a_suggestion() {
        let r = reword(
            "unknown field `sandbox_mod`, expected one of `sandbox_mode`, `sandbox`, `agent`",
        );
        assert_eq!(r.message, "unknown key `sandbox_mod`");
        assert_eq!(r.help.as_deref(), Some("did you mean `sandbox_mode`?"));
        let r = reword("unknown field `sandbox-mode`, expected `sandbox_mode`");
        assert_eq!(r.help.as_deref(), Some("did you mean `sandbox_mode`?"));
    }

    #[test]
    fn far_miss_lists_the_valid_keys() {
        let r = reword("unknown variant `yes`, expected `on` or `off`");
        assert_eq!(r.message, "unknown value `yes`");
        assert_eq!(r.help.as_deref(), Some("expected one of: `on`, `off`"));
    }

    #[test]
    fn missing_keys_are_named() {
        let r = reword("missing field `decision`");
        assert_eq!(r.message, "missing required key `decision`");
        assert_eq!(r.help.as_deref(), Some("add `decision = …` to this table"));
    }

    #[test]
    fn other_messages_pass_through() {
        let r = reword("invalid type: integer `3`, expected a string");
        assert_eq!(r.message, "invalid type: integer `3`, expected a string");
        assert!(r.help.is_none());
    }
}
