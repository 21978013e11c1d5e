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

/// Profile names, for "did you mean" and error help.
pub fn names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}
