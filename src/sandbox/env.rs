//! The scrubbed environment every child gets.
//!
//! A child sees only an allow-list of variables ([`ALLOWED`], plus `LC_*`
//! and the profile's `[sandbox.env] pass`), then `[sandbox.env] set`, then
//! `TMPDIR` pointing at its private temp dir. Anything that looks like a
//! credential — by name ([`is_credential_name`]) or by value (well-known
//! token prefixes) — is removed even when allow-listed or passed, because a
//! profile author's `pass = ["NPM_TOKEN"]` is exactly the mistake this exists
//! to catch. Removed names (never values) are reported so a user can see why
//! a variable is missing.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Variables passed through when set (documented in docs/threat-model.md).
pub const ALLOWED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "TZ",
    "CI",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "CARGO_TERM_COLOR",
    "GOPATH",
    "GOROOT",
    "GOFLAGS",
    "JAVA_HOME",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "VIRTUAL_ENV",
    "NVM_DIR",
    "NODE_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GITHUB_ACTIONS",
    "GITHUB_WORKSPACE",
    "GITHUB_REPOSITORY",
    "GITHUB_SHA",
    "GITHUB_REF",
    "GITHUB_RUN_ID",
    "RUNNER_OS",
    "RUNNER_ARCH",
];

/// Value prefixes of well-known tokens (GitHub, OpenAI/Anthropic, Slack,
/// AWS access keys, GitLab, npm, PyPI).
const TOKEN_VALUE_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "ghr_",
    "github_pat_",
    "sk-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "AKIA",
    "ASIA",
    "glpat-",
    "npm_",
    "pypi-",
];

/// Whether a variable name looks like it carries a credential.
pub fn is_credential_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    const EXACT: &[&str] = &[
        "SSH_AUTH_SOCK",
        "GPG_AGENT_INFO",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "KUBECONFIG",
        "DOCKER_AUTH_CONFIG",
        "NETRC",
    ];
    const PREFIXES: &[&str] = &["AWS_", "ACTIONS_", "AZURE_", "ARM_CLIENT", "GCP_", "VAULT_"];
    const CONTAINS: &[&str] = &[
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
        "_AUTH",
        "COOKIE",
        "SESSION",
    ];
    if EXACT.contains(&n.as_str()) || PREFIXES.iter().any(|p| n.starts_with(p)) {
        return true;
    }
    // `_AUTH` must not catch GIT_AUTHOR_NAME: require it at the end or
    // followed by `_` (NPM_AUTH, NPM_AUTH_TOKEN, BASIC_AUTH_HEADER).
    CONTAINS.iter().any(|c| {
        if *c == "_AUTH" {
            n.match_indices(c).any(|(i, _)| {
                let after = &n[i + c.len()..];
                after.is_empty() || after.starts_with('_')
            })
        } else {
            n.contains(c)
        }
    })
}

/// Whether a value looks like a well-known token.
pub fn is_credential_value(value: &str) -> bool {
    let v = value.trim();
    TOKEN_VALUE_PREFIXES
        .iter()
        .any(|p| v.starts_with(p) && v.len() >= p.len() + 16)
}

/// The scrubbed environment and the names that were removed although
/// allow-listed, passed or set (for a warning; values never leave).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubbedEnv {
    pub vars: BTreeMap<String, String>,
    pub removed: Vec<String>,
}

/// Build a child's environment from `parent` (warden's own environment).
pub fn scrub<I>(parent: I, pass: &[String], set: &BTreeMap<String, String>) -> ScrubbedEnv
where
    I: IntoIterator<Item = (OsString, OsString)>,
{
    let mut out = ScrubbedEnv::default();
    for (k, v) in parent {
        let (Some(k), Some(v)) = (k.to_str(), v.to_str()) else {
            continue;
        };
        let wanted = ALLOWED.contains(&k) || k.starts_with("LC_") || pass.iter().any(|p| p == k);
        if !wanted {
            continue;
        }
        if is_credential_name(k) || is_credential_value(v) {
            out.removed.push(k.to_string());
            continue;
        }
        out.vars.insert(k.to_string(), v.to_string());
    }
    for (k, v) in set {
        if is_credential_name(k) || is_credential_value(v) {
            out.removed.push(k.clone());
            continue;
        }
        out.vars.insert(k.clone(), v.clone());
    }
    out.removed.sort();
    out.removed.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn credential_names() {
        for name in [
            "GITHUB_TOKEN",
            "ACTIONS_RUNTIME_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "OPENAI_API_KEY",
            "MY_SECRET_THING",
            "AWS_REGION",
            "NPM_AUTH",
            "NPM_AUTH_TOKEN",
            "SSH_AUTH_SOCK",
            "db_password",
        ] {
            assert!(is_credential_name(name), "{name} should be a credential");
        }
        for name in [
            "PATH",
            "HOME",
            "GIT_AUTHOR_NAME",
            "AUTHOR",
            "CARGO_HOME",
            "LANG",
        ] {
            assert!(!is_credential_name(name), "{name} is not a credential");
        }
    }

    #[test]
    fn scrub_keeps_allow_list_and_drops_credentials_even_when_passed() {
        let parent = os(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("LC_ALL", "C"),
            ("GITHUB_TOKEN", "ghs_0123456789abcdef0123"),
            ("RUSTFLAGS", "-Dwarnings"),
            ("NPM_TOKEN", "npm_abc"),
            ("SNEAKY", "ghp_0123456789abcdefghijkl"),
            ("UNLISTED", "x"),
        ]);
        let pass = vec!["RUSTFLAGS".into(), "NPM_TOKEN".into(), "SNEAKY".into()];
        let mut set = BTreeMap::new();
        set.insert("CI".into(), "true".into());
        set.insert("DEPLOY_KEY_SECRET".into(), "x".into());
        let env = scrub(parent, &pass, &set);
        let keys: Vec<&str> = env.vars.keys().map(String::as_str).collect();
        assert_eq!(keys, ["CI", "HOME", "LC_ALL", "PATH", "RUSTFLAGS"]);
        assert_eq!(env.removed, ["DEPLOY_KEY_SECRET", "NPM_TOKEN", "SNEAKY"]);
    }
}
