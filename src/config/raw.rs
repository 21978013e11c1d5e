//! One configuration layer as written: every key optional, every table
//! `deny_unknown_fields`, every value that can be reported carrying its byte
//! span. The tables that hold scalar keys (`RawLayer`, `RawSandbox`, …) are
//! declared with the key table in [`super::keys`]; the rule, environment
//! and MCP server tables and the value types with their own syntax are
//! here. Values are checked for shape here (serde, with precise messages);
//! cross-field checks and merging happen in [`super::merge`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

pub use super::keys::{
    RawAgent, RawAutoReview, RawBreaker, RawLayer, RawReport, RawSandbox, RawSkills,
};
use crate::action::ActionKind;
use crate::config::schema::{
    Granular, PatternToken, ReviewDecision, RuleDecision, RuleGrants, Trust,
};
use crate::decision::Category;

pub(super) type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnv {
    pub pass: Option<Vec<S<String>>>,
    pub set: Option<BTreeMap<String, S<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommandRule {
    pub pattern: S<Vec<S<Token>>>,
    pub any_arg: Option<Vec<S<String>>>,
    pub piped: Option<bool>,
    pub decision: S<RuleDecision>,
    pub justification: Option<String>,
    #[serde(rename = "match")]
    pub examples_match: Option<Vec<S<Example>>>,
    pub not_match: Option<Vec<S<Example>>>,
    pub grants: Option<S<RuleGrants>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReviewRule {
    pub decision: S<ReviewDecision>,
    pub kinds: Option<Vec<ActionKind>>,
    pub categories: Option<Vec<Category>>,
    pub command: Option<S<Vec<S<Token>>>>,
    pub path: Option<Vec<S<String>>>,
    pub host: Option<Vec<S<String>>>,
    pub mcp_server: Option<Vec<S<String>>>,
    pub mcp_tool: Option<Vec<S<String>>>,
    pub mcp_arguments: Option<BTreeMap<String, S<String>>>,
    pub reason: S<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMcpServer {
    pub command: Option<S<String>>,
    pub args: Option<S<Vec<String>>>,
    pub env: Option<BTreeMap<String, S<String>>>,
    pub cwd: Option<S<String>>,
    pub trust: Option<S<Trust>>,
    pub enabled_tools: Option<S<Vec<String>>>,
    pub disabled_tools: Option<Vec<S<String>>>,
    pub network: Option<S<bool>>,
    pub startup_timeout: Option<S<HumanDuration>>,
    pub tool_timeout: Option<S<HumanDuration>>,
    pub tools: Option<BTreeMap<String, S<RawToolOverride>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToolOverride {
    pub read_only: Option<S<bool>>,
    pub decision: Option<S<RuleDecision>>,
}

/// `approval_policy`: `"never"`, `"on-request"` or `{ granular = { … } }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalPolicy(pub Granular);

impl From<ApprovalPolicy> for Granular {
    fn from(p: ApprovalPolicy) -> Granular {
        p.0
    }
}

/// The granular table: a missing category is `false` (fail closed).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGranular {
    #[serde(default)]
    sandbox_approval: bool,
    #[serde(default)]
    rules: bool,
    #[serde(default)]
    mcp_elicitations: bool,
    #[serde(default)]
    request_permissions: bool,
    #[serde(default)]
    skill_approval: bool,
}

/// The only key of the table form; deserialized as a key so a misspelling is
/// reported at the key itself.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ApprovalPolicyKey {
    Granular,
}

impl<'de> Deserialize<'de> for ApprovalPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ApprovalPolicy;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"never\", \"on-request\" or a table { granular = { … } }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ApprovalPolicy, E> {
                match v {
                    "never" => Ok(ApprovalPolicy(Granular::NEVER)),
                    "on-request" => Ok(ApprovalPolicy(Granular::ON_REQUEST)),
                    other => Err(E::unknown_variant(other, &["never", "on-request"])),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ApprovalPolicy, A::Error> {
                let mut granular = None;
                while let Some(ApprovalPolicyKey::Granular) = map.next_key()? {
                    if granular.is_some() {
                        return Err(de::Error::duplicate_field("granular"));
                    }
                    let g: RawGranular = map.next_value()?;
                    granular = Some(Granular {
                        sandbox_approval: g.sandbox_approval,
                        rules: g.rules,
                        mcp_elicitations: g.mcp_elicitations,
                        request_permissions: g.request_permissions,
                        skill_approval: g.skill_approval,
                    });
                }
                granular
                    .map(ApprovalPolicy)
                    .ok_or_else(|| de::Error::missing_field("granular"))
            }
        }
        d.deserialize_any(V)
    }
}

/// One position of a prefix pattern: a word or a list of alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(pub PatternToken);

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Token;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a word (string) or a list of alternative words")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Token, E> {
                if v.is_empty() {
                    return Err(E::custom("a pattern word cannot be empty"));
                }
                Ok(Token(PatternToken::Word(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Token, A::Error> {
                let mut words = Vec::new();
                while let Some(w) = seq.next_element::<String>()? {
                    if w.is_empty() {
                        return Err(de::Error::custom("a pattern word cannot be empty"));
                    }
                    words.push(w);
                }
                match words.len() {
                    0 => Err(de::Error::custom(
                        "a list of alternatives needs at least one word",
                    )),
                    1 => Ok(Token(PatternToken::Word(words.remove(0)))),
                    _ => Ok(Token(PatternToken::AnyOf(words))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A `match` / `not_match` example: a string split on whitespace, or an argv
/// list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example(pub Vec<String>);

impl<'de> Deserialize<'de> for Example {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Example;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command line (string) or an argv list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Example, E> {
                let argv: Vec<String> = v.split_whitespace().map(str::to_owned).collect();
                if argv.is_empty() {
                    return Err(E::custom("an example command cannot be empty"));
                }
                Ok(Example(argv))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Example, A::Error> {
                let mut argv = Vec::new();
                while let Some(w) = seq.next_element::<String>()? {
                    argv.push(w);
                }
                if argv.is_empty() {
                    return Err(de::Error::custom("an example command cannot be empty"));
                }
                Ok(Example(argv))
            }
        }
        d.deserialize_any(V)
    }
}

/// A humantime duration (`"30s"`, `"10m"`, `"1h 30m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Duration {
        d.0
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"30s\" or \"10m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                match humantime::parse_duration(v) {
                    Ok(d) if d.is_zero() => Err(E::custom(format!(
                        "duration `{v}` is zero; use a positive duration such as \"30s\""
                    ))),
                    Ok(d) => Ok(HumanDuration(d)),
                    Err(e) => Err(E::custom(format!(
                        "invalid duration `{v}` ({e}); use e.g. \"30s\", \"10m\" or \"1h 30m\""
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RawLayer, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn approval_policy_forms() {
        let l = parse("approval_policy = \"never\"").unwrap();
        assert_eq!(l.approval_policy.unwrap().into_inner().0, Granular::NEVER);
        let l = parse("approval_policy = { granular = { rules = true } }").unwrap();
        let g = l.approval_policy.unwrap().into_inner().0;
        assert!(g.rules && !g.sandbox_approval && !g.skill_approval);
    }

    #[test]
    fn approval_policy_errors_are_precise() {
        let text = "approval_policy = \"sometimes\"";
        let e = parse(text).unwrap_err();
        assert!(e.message().contains("unknown variant `sometimes`"), "{e}");
        assert_eq!(&text[e.span().unwrap()], "\"sometimes\"");

        let text = "approval_policy = { granulr = {} }";
        let e = parse(text).unwrap_err();
        assert!(e.message().contains("`granulr`"), "{e}");
        assert_eq!(&text[e.span().unwrap()], "granulr");

        let text = "approval_policy = { granular = { rulez = true } }";
        let e = parse(text).unwrap_err();
        assert!(e.message().contains("unknown field `rulez`"), "{e}");
        assert_eq!(&text[e.span().unwrap()], "rulez");

        let e = parse("approval_policy = 3").unwrap_err();
        assert!(e.message().contains("\"never\", \"on-request\""), "{e}");
        assert!(!e.message().contains("did not match any variant"));
    }

    #[test]
    fn pattern_tokens_and_examples() {
        let l = parse(
            "[[command_rules]]\npattern = [\"git\", [\"push\", \"fetch\"]]\ndecision = \"prompt\"\nmatch = [\"git push x\", [\"git\", \"fetch\"]]\n",
        )
        .unwrap();
        let rule = l.command_rules.unwrap().remove(0).into_inner();
        let pattern: Vec<_> = rule
            .pattern
            .get_ref()
            .iter()
            .map(|t| t.get_ref().0.clone())
            .collect();
        assert_eq!(
            pattern,
            vec![
                PatternToken::Word("git".into()),
                PatternToken::AnyOf(vec!["push".into(), "fetch".into()])
            ]
        );
        let examples = rule.examples_match.as_ref().unwrap();
        assert_eq!(examples[0].get_ref().0, vec!["git", "push", "x"]);
        assert_eq!(examples[1].get_ref().0, vec!["git", "fetch"]);

        let e =
            parse("[[command_rules]]\npattern = [\"git\", 3]\ndecision = \"allow\"\n").unwrap_err();
        assert!(e.message().contains("a word (string) or a list"), "{e}");
    }

    #[test]
    fn durations() {
        let l = parse("[sandbox]\ntimeout = \"1h 30m\"").unwrap();
        assert_eq!(
            l.sandbox.unwrap().timeout.unwrap().into_inner().0,
            Duration::from_secs(5400)
        );
        let text = "[sandbox]\ntimeout = \"soon\"";
        let e = parse(text).unwrap_err();
        assert!(e.message().contains("invalid duration `soon`"), "{e}");
        assert_eq!(&text[e.span().unwrap()], "\"soon\"");
    }
}
