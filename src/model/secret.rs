//! API keys: a [`Secret`] that never prints itself, and where keys come
//! from. Keys are read from the environment only, never from a flag (flags
//! land in process listings and CI logs).

use std::fmt;

use crate::config::ProviderKind;

/// A credential. `Debug` and `Display` print `[REDACTED]`; the value is
/// reachable only through [`Secret::expose`], at the point it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, for the request header and for scrubbing responses.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Which client a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyFor {
    /// The agent's model (`warden run`).
    Agent(ProviderKind),
    /// The LLM reviewer's model.
    Reviewer(ProviderKind),
}

/// The variables searched for a key, first match wins:
///
/// | client | variables |
/// |---|---|
/// | agent, openai | `WARDEN_API_KEY`, `OPENAI_API_KEY` |
/// | agent, anthropic | `WARDEN_API_KEY`, `ANTHROPIC_API_KEY` |
/// | reviewer, openai | `WARDEN_REVIEWER_API_KEY`, then the agent's list |
/// | reviewer, anthropic | `WARDEN_REVIEWER_API_KEY`, then the agent's list |
/// | script | none |
///
/// The reviewer falls back to the key a run with the reviewer's provider
/// would use, so one key serves both when they share a provider.
pub fn api_key_env_vars(kind: ApiKeyFor) -> &'static [&'static str] {
    match kind {
        ApiKeyFor::Agent(ProviderKind::Openai) => &["WARDEN_API_KEY", "OPENAI_API_KEY"],
        ApiKeyFor::Agent(ProviderKind::Anthropic) => &["WARDEN_API_KEY", "ANTHROPIC_API_KEY"],
        ApiKeyFor::Reviewer(ProviderKind::Openai) => &[
            "WARDEN_REVIEWER_API_KEY",
            "WARDEN_API_KEY",
            "OPENAI_API_KEY",
        ],
        ApiKeyFor::Reviewer(ProviderKind::Anthropic) => &[
            "WARDEN_REVIEWER_API_KEY",
            "WARDEN_API_KEY",
            "ANTHROPIC_API_KEY",
        ],
        ApiKeyFor::Agent(ProviderKind::Script) | ApiKeyFor::Reviewer(ProviderKind::Script) => &[],
    }
}

/// The key for `kind`, looked up through `env` (pass
/// `&|name| std::env::var(name).ok()` in production, a map in tests).
/// Empty or whitespace-only values count as unset: a missing GitHub secret
/// expands to an empty string.
pub fn api_key_from_env(kind: ApiKeyFor, env: &impl Fn(&str) -> Option<String>) -> Option<Secret> {
    api_key_env_vars(kind).iter().find_map(|name| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(Secret)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        assert_eq!(format!("{s}"), "[REDACTED]");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some([REDACTED])");
        assert_eq!(s.expose(), "sk-live-123");
    }

    #[test]
    fn warden_key_wins_over_the_vendor_key() {
        let env = env_of(&[("WARDEN_API_KEY", "w"), ("OPENAI_API_KEY", "o")]);
        let key = api_key_from_env(ApiKeyFor::Agent(ProviderKind::Openai), &env).unwrap();
        assert_eq!(key.expose(), "w");
        let env = env_of(&[("OPENAI_API_KEY", "o"), ("ANTHROPIC_API_KEY", "a")]);
        let key = api_key_from_env(ApiKeyFor::Agent(ProviderKind::Anthropic), &env).unwrap();
        assert_eq!(key.expose(), "a");
    }

    #[test]
    fn reviewer_uses_its_own_key_then_falls_back_to_the_run_key() {
        let env = env_of(&[("WARDEN_REVIEWER_API_KEY", "r"), ("OPENAI_API_KEY", "o")]);
        let key = api_key_from_env(ApiKeyFor::Reviewer(ProviderKind::Openai), &env).unwrap();
        assert_eq!(key.expose(), "r");
        let env = env_of(&[("OPENAI_API_KEY", "o")]);
        let key = api_key_from_env(ApiKeyFor::Reviewer(ProviderKind::Openai), &env).unwrap();
        assert_eq!(key.expose(), "o");
        // An anthropic reviewer must not pick up an OpenAI key.
        assert!(api_key_from_env(ApiKeyFor::Reviewer(ProviderKind::Anthropic), &env).is_none());
    }

    #[test]
    fn empty_values_are_unset_and_script_needs_no_key() {
        let env = env_of(&[("WARDEN_API_KEY", "  "), ("OPENAI_API_KEY", "o")]);
        let key = api_key_from_env(ApiKeyFor::Agent(ProviderKind::Openai), &env).unwrap();
        assert_eq!(key.expose(), "o");
        let env = env_of(&[("WARDEN_API_KEY", "w")]);
        assert!(api_key_from_env(ApiKeyFor::Agent(ProviderKind::Script), &env).is_none());
    }
}
