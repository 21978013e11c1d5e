//! The built-in profiles and the default reviewer policy, embedded in the
//! binary so a warden release always carries the policy it was tested with.
//!
//! Every profile is layered on top of `profiles/common.toml`, which holds
//! the defaults and the rules all profiles share (secret paths, protected
//! paths, dangerous command patterns, hard review denials). A profile file
//! only says what makes it different.

/// Source name of the shared layer under every profile.
pub const COMMON_NAME: &str = "builtin:profiles/common.toml";
/// The shared layer's text.
pub const COMMON: &str = include_str!("../../profiles/common.toml");

/// The default reviewer policy and its origin label.
pub const DEFAULT_POLICY: &str = include_str!("../../profiles/policy/default.md");
pub const DEFAULT_POLICY_ORIGIN: &str = "builtin:profiles/policy/default.md";

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "dev";

struct Profile {
    name: &'static str,
    summary: &'static str,
    text: &'static str,
}

const PROFILES: [Profile; 4] = [
    Profile {
        name: "ci",
        summary: "pull-request CI jobs: nothing escalates, the sandbox is the only guardrail",
        text: include_str!("../../profiles/ci.toml"),
    },
    Profile {
        name: "dev",
        summary: "developers trying warden locally or in a trusted branch: reviewed escalations",
        text: include_str!("../../profiles/dev.toml"),
    },
    Profile {
        name: "review",
        summary: "code review bots: read-only sandbox, no network, reviewed MCP calls",
        text: include_str!("../../profiles/review.toml"),
    },
    Profile {
        name: "nightly",
        summary: "scheduled autonomous maintenance with the LLM auto-reviewer",
        text: include_str!("../../profiles/nightly.toml"),
    },
];

const LIST: [(&str, &str); 4] = [
    (PROFILES[0].name, PROFILES[0].summary),
    (PROFILES[1].name, PROFILES[1].summary),
    (PROFILES[2].name, PROFILES[2].summary),
    (PROFILES[3].name, PROFILES[3].summary),
];

/// `(name, who it is for)` of every built-in profile.
pub fn builtin_profiles() -> &'static [(&'static str, &'static str)] {
    &LIST
}

/// The source name and text of a built-in profile.
pub fn profile(name: &str) -> Option<(String, &'static str)> {
    PROFILES
        .iter()
        .find(|p| p.name == name)
        .map(|p| (format!("builtin:profiles/{}.toml", p.name), p.text))
}

/// The part of a built-in `text` before its rule tables, for
/// [`super::load_sandbox`]. The built-in profiles keep `[[command_rules]]`
/// and `[[review_rules]]` last (a test holds every one of them to it), so
/// this prefix is everything else, with every `line:col` unchanged.
pub fn before_rules(text: &str) -> &str {
    let cut = text
        .match_indices("\n[[")
        .map(|(at, _)| at + 1)
        .find(|&at| {
            let rest = &text[at + 2..];
            ["command_rules]]", "review_rules]]"]
                .iter()
                .any(|h| rest.starts_with(h))
        })
        .unwrap_or(text.len());
    &text[..cut]
}

/// Profile names, for "did you mean" and error help.
pub fn names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every compiled-in text's prefix parses to exactly the full text's
    /// table without the rule arrays: the rules come last.
    #[test]
    fn every_builtin_text_keeps_its_rules_last() {
        let texts =
            std::iter::once((COMMON_NAME, COMMON)).chain(PROFILES.iter().map(|p| (p.name, p.text)));
        for (name, text) in texts {
            let mut full: toml::Table = toml::from_str(text).unwrap();
            let prefix: toml::Table = toml::from_str(before_rules(text)).unwrap();
            let rules = [full.remove("command_rules"), full.remove("review_rules")];
            assert_eq!(
                prefix, full,
                "{name}: keep [[command_rules]] and [[review_rules]] after every other table"
            );
            if name == COMMON_NAME {
                assert!(rules.iter().all(Option::is_some), "common.toml has both");
            }
        }
    }

    #[test]
    fn before_rules_cuts_at_the_first_rule_table() {
        let text =
            "a = 1\n[sandbox]\nx = [[1]]\n[[review_rules]]\nreason = \"r\"\n[[command_rules]]\n";
        assert_eq!(before_rules(text), "a = 1\n[sandbox]\nx = [[1]]\n");
        assert_eq!(before_rules("[sandbox]\n"), "[sandbox]\n");
    }
}
