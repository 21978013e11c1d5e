//! Secret redaction: the one filter every output of warden goes through
//! (audit log, PR comment, check-run annotations, job summary, logs,
//! `--json`).
//!
//! Two kinds of secrets are recognised:
//!
//! - **Shapes** of well-known credentials: GitHub tokens (`ghp_`, `gho_`,
//!   `ghs_`, `ghu_`, `ghr_`, `github_pat_`), OpenAI and Anthropic keys
//!   (`sk-…`, `sk-proj-…`, `sk-ant-…`), AWS access key ids (`AKIA…`,
//!   `ASIA…`) and `aws_secret_access_key=` values, Slack tokens (`xox?-`),
//!   JWTs, PEM private key blocks, `Authorization:` header values and
//!   credentials in URLs (`https://user:pass@host`).
//! - **Values** of this process's own secret environment variables (names
//!   like `*_TOKEN`, `*API_KEY*`, `*SECRET*`, `*PASSWORD*`, `AWS_*`,
//!   `ACTIONS_ID_TOKEN_REQUEST_*`), at least 8 characters long, captured once
//!   on first use. This is what catches a secret of no known shape, the way
//!   GitHub's log masking does.
//!
//! Cost when nothing matches (the common case): one Aho-Corasick scan for the
//! environment values and one precompiled [`RegexSet`] scan for the shapes;
//! the text is not copied ([`redact_cow`]). Each matched secret becomes
//! [`REDACTED`]; labels such as `Authorization: Bearer ` and the URL scheme
//! are kept so the text still reads.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Captures, Regex, RegexSet};

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Shortest environment value treated as a secret: shorter values (`1`,
/// `true`, `us-east`) are too common to replace everywhere.
pub const MIN_ENV_SECRET_LEN: usize = 8;

/// Replace secrets in `text` with `[REDACTED]`, using the process's own
/// secret environment values (captured on first use).
pub fn redact(text: &str) -> String {
    redact_cow(text).into_owned()
}

/// [`redact`] without a copy when nothing matches.
pub fn redact_cow(text: &str) -> Cow<'_, str> {
    global().redact(text)
}

/// Redact every string (and object key) inside a JSON value, in place.
pub fn redact_json(value: &mut serde_json::Value) {
    global().redact_json(value)
}

fn global() -> &'static Redactor {
    static GLOBAL: OnceLock<Redactor> = OnceLock::new();
    GLOBAL.get_or_init(|| Redactor::new(std::env::vars_os()))
}

/// A redactor bound to one set of environment values. The process-wide one
/// behind [`redact`] reads `std::env` once; tests build their own.
pub struct Redactor {
    env_values: Option<AhoCorasick>,
}

impl Redactor {
    /// A redactor for the secret-named variables among `env`.
    pub fn new<I, K, V>(env: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let mut needles: Vec<String> = Vec::new();
        for (name, value) in env {
            let (Some(name), Some(value)) = (name.as_ref().to_str(), value.as_ref().to_str())
            else {
                continue;
            };
            if !is_secret_env_name(name) {
                continue;
            }
            push_secret_value(&mut needles, value);
        }
        needles.sort();
        needles.dedup();
        let env_values = if needles.is_empty() {
            None
        } else {
            // Leftmost-longest: when one secret contains another, the whole
            // of the longer one is replaced.
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&needles)
                .ok()
        };
        Redactor { env_values }
    }

    /// Shapes only, no environment values.
    pub fn without_env() -> Self {
        Redactor { env_values: None }
    }

    /// Replace every secret in `text`; borrows when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out: Cow<'a, str> = Cow::Borrowed(text);
        if let Some(ac) = &self.env_values
            && ac.is_match(out.as_ref())
        {
            let replacements = vec![REDACTED; ac.patterns_len()];
            out = Cow::Owned(ac.replace_all(out.as_ref(), &replacements));
        }
        if !SHAPE_ANCHORS.is_match(out.as_ref()) {
            return out;
        }
        let shapes = &*SHAPES;
        let hits = shapes.set.matches(out.as_ref());
        if !hits.matched_any() {
            return out;
        }
        for index in hits.iter() {
            if let Some(replaced) = shapes.shape(index).replace_all(out.as_ref()) {
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    /// Redact every string (and object key) inside `value`, in place.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if let Cow::Owned(clean) = self.redact(s) {
                    *s = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                let renamed: Vec<(String, String)> = map
                    .keys()
                    .filter_map(|k| match self.redact(k) {
                        Cow::Owned(clean) => Some((k.clone(), clean)),
                        Cow::Borrowed(_) => None,
                    })
                    .collect();
                for (old, new) in renamed {
                    if let Some(v) = map.remove(&old) {
                        map.insert(new, v);
                    }
                }
                map.values_mut().for_each(|v| self.redact_json(v));
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Whether an environment variable's name says it holds a secret.
pub fn is_secret_env_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    // Settings that merely point at a secret, or describe where to use one,
    // would mangle ordinary paths and words if treated as secrets.
    if n.ends_with("_FILE") || n.ends_with("_DIR") {
        return false;
    }
    if let Some(rest) = n.strip_prefix("AWS_") {
        return !AWS_NOT_SECRET.contains(&rest);
    }
    n.starts_with("ACTIONS_ID_TOKEN_REQUEST_")
        || n == "TOKEN"
        || n.ends_with("_TOKEN")
        || n.contains("API_KEY")
        || n.contains("APIKEY")
        || n.contains("ACCESS_KEY")
        || n.contains("PRIVATE_KEY")
        || n.contains("SECRET")
        || n.contains("PASSWORD")
        || n.contains("PASSWD")
}

/// `AWS_*` settings that are configuration, not credentials.
const AWS_NOT_SECRET: &[&str] = &[
    "REGION",
    "DEFAULT_REGION",
    "PROFILE",
    "DEFAULT_PROFILE",
    "DEFAULT_OUTPUT",
    "SDK_LOAD_CONFIG",
    "EC2_METADATA_DISABLED",
    "STS_REGIONAL_ENDPOINTS",
    "PAGER",
    "RETRY_MODE",
    "MAX_ATTEMPTS",
    "ROLE_SESSION_NAME",
];

/// A value, and each long-enough line of a multi-line value (a PEM key in an
/// environment variable is printed line by line).
fn push_secret_value(needles: &mut Vec<String>, value: &str) {
    let trimmed = value.trim();
    if trimmed.chars().count() < MIN_ENV_SECRET_LEN {
        return;
    }
    needles.push(trimmed.to_owned());
    if trimmed.contains('\n') {
        for line in trimmed.lines().map(str::trim) {
            if line.chars().count() >= MIN_ENV_SECRET_LEN {
                needles.push(line.to_owned());
            }
        }
    }
}

/// One credential shape. Named groups: `keep` (a label kept before the
/// secret), `tail` (kept after it). Everything else in the match is secret.
struct Shape {
    regex: Regex,
    /// Rejects look-alikes the regex alone cannot tell apart.
    accept: Accept,
}

/// Whether a match is really a secret.
type Accept = fn(&Captures<'_>) -> bool;

impl Shape {
    /// The text with every accepted match replaced, or `None` when nothing
    /// was (so look-alikes cost no copy).
    fn replace_all(&self, text: &str) -> Option<String> {
        let mut out = String::new();
        let mut copied_up_to = 0;
        for caps in self.regex.captures_iter(text) {
            if !(self.accept)(&caps) {
                continue;
            }
            let whole = caps.get(0).expect("group 0 always matches");
            out.push_str(&text[copied_up_to..whole.start()]);
            out.push_str(caps.name("keep").map_or("", |m| m.as_str()));
            out.push_str(REDACTED);
            out.push_str(caps.name("tail").map_or("", |m| m.as_str()));
            copied_up_to = whole.end();
        }
        if copied_up_to == 0 && out.is_empty() {
            return None;
        }
        out.push_str(&text[copied_up_to..]);
        Some(out)
    }
}

/// The shapes: one [`RegexSet`] that every text is scanned with, and each
/// shape's own regex (for its captures), compiled only when the set says it
/// matched. Almost no output holds a secret, so a process that prints one
/// decision (`warden check`) compiles the set and none of the nine others.
struct Shapes {
    set: RegexSet,
    list: Vec<OnceLock<Shape>>,
}

impl Shapes {
    fn shape(&self, index: usize) -> &Shape {
        self.list[index].get_or_init(|| {
            let (pattern, accept) = SHAPE_SPECS[index];
            Shape {
                regex: Regex::new(pattern).expect("built-in redaction patterns compile"),
                accept,
            }
        })
    }
}

/// Order matters: a PEM block or a header is replaced as a whole before the
/// token inside it would be.
const SHAPE_SPECS: &[(&str, Accept)] = &[
    // PEM private keys (RSA, EC, OPENSSH, PGP …); a block cut short by
    // output truncation is redacted to the end of the text.
    (
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\z)",
        always,
    ),
    // Authorization / Proxy-Authorization values, in headers, curl flags,
    // JSON and git's `http.extraheader`.
    (
        r#"(?i)(?P<keep>(?-u:\b)(?:proxy-)?authorization["']?\s*[:=]\s*["']?\s*(?P<scheme>(?:bearer|basic|token|bot|digest|negotiate)\s+)?)(?P<secret>[^\s"',;]+)"#,
        authorization_value,
    ),
    // Credentials in URLs: scheme://user:password@host.
    (
        r#"(?P<keep>(?-u:\b)[A-Za-z][A-Za-z0-9+.\-]{0,20}://)[^\s/?#@:'"<>]+:[^\s/?#@'"<>]+(?P<tail>@)"#,
        always,
    ),
    // GitHub tokens.
    (
        r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
        always,
    ),
    // OpenAI and Anthropic keys.
    (
        r"(?-u:\b)sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
        looks_random,
    ),
    // AWS access key ids.
    (r"(?-u:\b)(?:AKIA|ASIA)[A-Z0-9]{16}(?-u:\b)", always),
    // AWS secret access keys, in `aws_secret_access_key = …` form (also
    // `AWS_SECRET_ACCESS_KEY=`, JSON `"SecretAccessKey": "…"`).
    (
        r#"(?i)(?P<keep>(?-u:\b)(?:aws_?)?secret_?access_?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{30,}"#,
        always,
    ),
    // Slack tokens.
    (r"(?-u:\b)xox[abprs]-[A-Za-z0-9\-]{10,}", always),
    // JWTs (header and payload are base64url JSON objects: `eyJ`).
    (
        r"(?-u:\b)eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
        always,
    ),
];

fn always(_: &Captures<'_>) -> bool {
    true
}

/// `Authorization: Bearer x` always; `Authorization: value` only when the
/// value looks like a credential, so prose such as "authorization: high"
/// survives.
fn authorization_value(caps: &Captures<'_>) -> bool {
    caps.name("scheme").is_some() || caps.name("secret").is_some_and(|m| m.as_str().len() >= 16)
}

/// API keys mix upper case and digits; `sk-` followed by a long lower-case
/// word list (`disk-usage-…` after a hyphen) does not.
fn looks_random(caps: &Captures<'_>) -> bool {
    let body = &caps[0];
    body.bytes().any(|b| b.is_ascii_digit()) && body.bytes().any(|b| b.is_ascii_uppercase())
}

/// Every match of every shape contains one of these words, compared
/// ASCII case-insensitively (one Aho-Corasick scan). A text with none of
/// them holds no shape, so the [`RegexSet`] — ≈ 0.5 ms to compile, most of
/// what redaction costs a process that prints one short text — is built
/// only for texts that might. The `(?i)` shapes are anchored on words
/// without `k` or `s`: Unicode case folding matches those two letters
/// with non-ASCII characters (`K` KELVIN SIGN, `ſ` LONG S), which an ASCII
/// comparison would not, so `secret` is anchored as `ecret`.
const ANCHOR_WORDS: &[&str] = &[
    "-----BEGIN",   // PEM private keys
    "uthorization", // Authorization, Proxy-Authorization
    "://",          // credentials in URLs
    "gh",           // GitHub tokens (gh?_, github_pat_)
    "sk-",          // OpenAI and Anthropic keys
    "AKIA",         // AWS access key ids
    "ASIA",
    "ecret", // aws_secret_access_key
    "xox",   // Slack tokens
    "eyJ",   // JWTs
];

static SHAPE_ANCHORS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .build(ANCHOR_WORDS)
        .expect("constant anchor words build")
});

static SHAPES: LazyLock<Shapes> = LazyLock::new(|| {
    let patterns: Vec<&str> = SHAPE_SPECS.iter().map(|(p, _)| *p).collect();
    let set = RegexSet::new(&patterns).expect("built-in redaction patterns compile");
    let list = SHAPE_SPECS.iter().map(|_| OnceLock::new()).collect();
    Shapes { set, list }
});

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(text: &str) -> String {
        Redactor::without_env().redact(text).into_owned()
    }

    fn assert_redacted(text: &str, secret: &str) {
        let out = shapes(text);
        assert!(!out.contains(secret), "{secret:?} survived in {out:?}");
        assert!(out.contains(REDACTED), "no marker in {out:?}");
    }

    #[test]
    fn every_shape_compiles_and_its_own_regex_agrees_with_the_set() {
        // The shapes' own regexes are compiled on first use: compile every
        // one here, and check each finds what the set said it matched.
        let samples = [
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
            "Authorization: Bearer abcdefghijklmnopqrstuvwx",
            "https://user:pa55word@example.com/x",
            "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
            "sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            "AKIAABCDEFGHIJKLMNOP",
            "aws_secret_access_key = abcdefghijklmnopqrstuvwxyz0123456789ABCD",
            "xoxb-0123456789-abcdefghij",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
        ];
        // The `(?i)` shapes match Unicode case variants too (LONG S for `s`,
        // KELVIN SIGN for `k`): their anchors must still be found.
        let variant = "AWS_\u{17f}ECRET_ACCESS_\u{212a}EY=abcdefghijklmnopqrstuvwxyz0123456789ABCD";
        assert!(SHAPES.set.is_match(variant));
        assert!(SHAPE_ANCHORS.is_match(variant));
        assert!(!shapes(variant).contains("abcdefghijklmnopqrstuvwxyz0123456789ABCD"));
        assert_eq!(samples.len(), SHAPE_SPECS.len());
        for (index, sample) in samples.iter().enumerate() {
            assert!(
                SHAPE_ANCHORS.is_match(sample),
                "no anchor word in {sample:?}"
            );
            assert!(SHAPES.set.matches(sample).matched(index), "{sample}");
            assert!(
                SHAPES.shape(index).regex.is_match(sample),
                "shape {index} does not match {sample:?}"
            );
        }
    }

    #[test]
    fn github_tokens() {
        for prefix in ["ghp_", "gho_", "ghs_", "ghu_", "ghr_"] {
            let token = format!("{prefix}aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5");
            assert_redacted(&format!("token={token} done"), &token);
        }
        let pat = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789abcdefghijkl";
        assert_redacted(&format!("use {pat}"), pat);
    }

    #[test]
    fn model_api_keys() {
        for key in [
            "sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKl",
            "sk-proj-Ab3_dEfGhIjKlMnOpQrStUvWx-Yz0123456789",
            "sk-ant-api03-Ab3dEfGhIjKlMnOpQrStUvWxYz0123456789-_abcAA",
        ] {
            assert_redacted(&format!("OPENAI_API_KEY={key}\n"), key);
            assert_redacted(&format!("key: \"{key}\""), key);
        }
    }

    #[test]
    fn aws_keys() {
        assert_redacted("id AKIAIOSFODNN7EXAMPLE end", "AKIAIOSFODNN7EXAMPLE");
        assert_redacted("id ASIAY34FZKBOKMUTVV7A end", "ASIAY34FZKBOKMUTVV7A");
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        for form in [
            format!("aws_secret_access_key = {secret}"),
            format!("AWS_SECRET_ACCESS_KEY={secret}"),
            format!("{{\"SecretAccessKey\": \"{secret}\"}}"),
        ] {
            let out = shapes(&form);
            assert!(!out.contains(secret), "{out}");
            assert!(
                out.to_ascii_lowercase().contains("secret"),
                "label kept: {out}"
            );
        }
    }

    #[test]
    fn slack_and_jwt() {
        assert_redacted(
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "AbCdEfGhIjKl",
        );
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_redacted(&format!("Cookie: session={jwt};"), jwt);
    }

    #[test]
    fn pem_blocks_whole_and_truncated() {
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE\nbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----";
        let out = shapes(&format!("cat id\n{pem}\nnext line"));
        assert!(!out.contains("b3BlbnNzaC1"), "{out}");
        assert!(
            out.contains("next line") && out.starts_with("cat id"),
            "{out}"
        );
        let cut = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA75hnHqT";
        assert_redacted(cut, "MIIEpAIBAAKCAQEA75hnHqT");
        // Escaped inside a JSON string, as in a tool result.
        let escaped =
            "\"-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIBYr\\n-----END EC PRIVATE KEY-----\"";
        assert_redacted(escaped, "MHcCAQEEIBYr");
    }

    #[test]
    fn authorization_headers_keep_their_label() {
        let cases = [
            (
                "curl -H 'Authorization: Bearer abc.def-123' x",
                "abc.def-123",
            ),
            ("Authorization: token 0123456789abcdef", "0123456789abcdef"),
            (
                "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzXzEyMw==",
                "eC1hY2Nlc3",
            ),
            ("{\"authorization\": \"Bearer q1w2e3r4\"}", "q1w2e3r4"),
        ];
        for (text, secret) in cases {
            let out = shapes(text);
            assert!(!out.contains(secret), "{out}");
            assert!(out.to_ascii_lowercase().contains("authorization"), "{out}");
        }
        // A bare long value without a scheme is still a credential.
        assert_redacted(
            "Authorization: 9f8e7d6c5b4a39281706",
            "9f8e7d6c5b4a39281706",
        );
    }

    #[test]
    fn url_credentials() {
        let out = shapes("git clone https://x-access-token:s3cr3tvalue@github.com/o/r.git");
        assert_eq!(out, "git clone https://[REDACTED]@github.com/o/r.git");
        let out = shapes("postgres://app:hunter2@db:5432/x");
        assert_eq!(out, "postgres://[REDACTED]@db:5432/x");
    }

    #[test]
    fn ordinary_text_is_not_mangled() {
        let ordinary = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
            "id 123e4567-e89b-12d3-a456-426614174000",
            "/home/runner/work/repo/repo/src/main.rs:12:5",
            "ssh://git@github.com/o/r.git and git@github.com:o/r.git",
            "https://github.com/o/r/actions/runs/42?check_suite_focus=true",
            "user_authorization: high, risk_level: low",
            "Authorization: required for this endpoint",
            "the disk-usage-monitoring-service-is-down",
            "task-management-system-for-everyone",
            "base64 QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
            "cargo test --workspace -- --nocapture",
        ];
        for text in ordinary {
            assert_eq!(shapes(text), text);
            assert!(matches!(
                Redactor::without_env().redact(text),
                Cow::Borrowed(_)
            ));
        }
    }

    #[test]
    fn secret_environment_values() {
        let env = [
            ("GITHUB_TOKEN", "v1.opaque-installation-credential"),
            ("NPM_TOKEN", "npm_xyz12345"),
            ("MY_API_KEY", "k-1234-5678"),
            ("DB_PASSWORD", "correct horse battery staple"),
            ("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEBYaDH"),
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "https://token.actions.example/abc",
            ),
            ("SHORT_TOKEN", "abc"),
            ("AWS_REGION", "eu-west-1-long"),
            ("HOME", "/home/runner"),
            ("CLIENT_SECRET_FILE", "/etc/app/secret.json"),
        ];
        let r = Redactor::new(env);
        let text = "a v1.opaque-installation-credential b npm_xyz12345 c k-1234-5678 \
                    d correct horse battery staple e FwoGZXIvYXdzEBYaDH \
                    f https://token.actions.example/abc g abc h eu-west-1-long \
                    i /home/runner j /etc/app/secret.json";
        let out = r.redact(text);
        for secret in [
            "opaque-installation",
            "npm_xyz12345",
            "k-1234-5678",
            "battery",
            "FwoGZXIvYXdzEBYaDH",
            "token.actions.example",
        ] {
            assert!(!out.contains(secret), "{secret} survived: {out}");
        }
        for kept in [
            " abc ",
            "eu-west-1-long",
            "/home/runner",
            "/etc/app/secret.json",
        ] {
            assert!(out.contains(kept), "{kept} was mangled: {out}");
        }
    }

    #[test]
    fn multiline_env_values_are_redacted_line_by_line() {
        let r = Redactor::new([("DEPLOY_PRIVATE_KEY", "line-one-secret\nline-two-secret\n")]);
        let out = r.redact("printed: line-two-secret only");
        assert_eq!(out, "printed: [REDACTED] only");
    }

    #[test]
    fn json_strings_and_keys() {
        let mut v = serde_json::json!({
            "command": ["curl", "-H", "Authorization: Bearer zzzsecretzzz"],
            "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5": 1,
            "n": 3,
            "nested": {"url": "https://u:p4ss@h.example/x"}
        });
        Redactor::without_env().redact_json(&mut v);
        let text = v.to_string();
        for secret in ["zzzsecretzzz", "aB3dE5fG7h", "p4ss"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(v["n"], 3);
    }

    #[test]
    fn secret_names() {
        for name in [
            "GITHUB_TOKEN",
            "ACTIONS_RUNTIME_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "OPENAI_API_KEY",
            "anthropic_api_key",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "CLIENT_SECRET",
            "PGPASSWORD",
        ] {
            assert!(is_secret_env_name(name), "{name}");
        }
        for name in [
            "HOME",
            "PATH",
            "AWS_REGION",
            "TOKENIZERS_PARALLELISM",
            "GOOGLE_KEY_FILE",
        ] {
            assert!(!is_secret_env_name(name), "{name}");
        }
    }
}
