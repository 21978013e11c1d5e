//! Turning raw `[[command_rules]]` and `[[review_rules]]` into their
//! resolved form, checking them on the way: every rule keeps the
//! `file:line` of its `[[…]]` header (or of the `prefix_rule(` call in a
//! `.rules` file), `match`/`not_match` examples are run against the rule and
//! a failing one is an error at the example itself, and globs must compile.

use toml::Spanned;

use super::ConfigError;
use super::globs::{self, GlobKind};
use super::location::SourceText;
use super::raw::{RawCommandRule, RawReviewRule, Token};
use crate::config::schema::{CommandRule, PatternToken, ReviewDecision, ReviewRule, RuleDecision};
use crate::policy::command_rules::check_examples;

fn pattern(
    src: &SourceText,
    pattern: Spanned<Vec<Spanned<Token>>>,
    what: &str,
) -> Result<Vec<PatternToken>, ConfigError> {
    let span = pattern.span();
    let tokens: Vec<PatternToken> = pattern
        .into_inner()
        .into_iter()
        .map(|t| t.into_inner().0)
        .collect();
    if tokens.is_empty() {
        return Err(
            ConfigError::at(src, &span, format!("`{what}` cannot be empty"))
                .help("give at least the program name, e.g. [\"git\", \"push\"]"),
        );
    }
    Ok(tokens)
}

/// Resolve one command rule. `managed` marks rules from requirements.
pub fn command_rule(
    src: &SourceText,
    raw: Spanned<RawCommandRule>,
    managed: bool,
) -> Result<CommandRule, ConfigError> {
    let header = raw.span();
    let raw = raw.into_inner();
    let decision = raw.decision.into_inner();

    let mut any_arg = Vec::new();
    for arg in raw.any_arg.unwrap_or_default() {
        if arg.get_ref().is_empty() {
            return Err(ConfigError::at(
                src,
                &arg.span(),
                "an `any_arg` pattern cannot be empty",
            ));
        }
        any_arg.push(arg.into_inner());
    }

    let grants = match raw.grants {
        Some(g) if decision != RuleDecision::Allow => {
            return Err(ConfigError::at(
                src,
                &g.span(),
                format!(
                    "`grants` on a `{}` rule: only an `allow` rule pre-approves anything",
                    decision.as_str()
                ),
            )
            .help("remove `grants`, or make the rule `decision = \"allow\"`"));
        }
        Some(g) => {
            let span = g.span();
            let grants = g.into_inner();
            for path in grants.write.iter().filter(|p| !p.is_empty()) {
                globs::check(src, &span, path, "grants.write", GlobKind::Path)?;
            }
            grants
        }
        None => Default::default(),
    };
    if grants.write.iter().any(String::is_empty) {
        return Err(ConfigError::at(
            src,
            &header,
            "`grants.write` contains an empty path",
        ));
    }

    let examples_match = raw.examples_match.unwrap_or_default();
    let examples_not_match = raw.not_match.unwrap_or_default();
    let mut rule = CommandRule {
        pattern: pattern(src, raw.pattern, "pattern")?,
        any_arg,
        piped: raw.piped.unwrap_or(false),
        decision,
        justification: raw.justification.filter(|j| !j.trim().is_empty()),
        grants,
        examples_match: Vec::new(),
        examples_not_match: Vec::new(),
        source: src.line_of(&header),
        managed,
    };

    // Check each example on its own so a failure names that example's
    // position, then keep them all on the rule for `profiles show`.
    for (examples, must_match) in [(&examples_match, true), (&examples_not_match, false)] {
        for example in examples {
            let mut probe = rule.clone();
            if must_match {
                probe.examples_match = vec![example.get_ref().0.clone()];
            } else {
                probe.examples_not_match = vec![example.get_ref().0.clone()];
            }
            if let Err(why) = check_examples(&probe) {
                return Err(ConfigError::at(src, &example.span(), why).help(format!(
                    "the rule at {} has pattern {}{}; fix the example or the rule",
                    rule.source,
                    render_pattern(&rule.pattern),
                    if rule.piped { " (piped only)" } else { "" }
                )));
            }
        }
    }
    rule.examples_match = examples_match
        .into_iter()
        .map(|e| e.into_inner().0)
        .collect();
    rule.examples_not_match = examples_not_match
        .into_iter()
        .map(|e| e.into_inner().0)
        .collect();
    Ok(rule)
}

/// Resolve one review rule.
pub fn review_rule(
    src: &SourceText,
    raw: Spanned<RawReviewRule>,
    managed: bool,
) -> Result<ReviewRule, ConfigError> {
    let header = raw.span();
    let raw = raw.into_inner();
    let decision = raw.decision.into_inner();
    let reason_span = raw.reason.span();
    let reason = raw.reason.into_inner();
    if reason.trim().is_empty() {
        return Err(
            ConfigError::at(src, &reason_span, "`reason` cannot be empty")
                .help("say why, in one sentence: it is shown to the agent and in reports"),
        );
    }
    let command = match raw.command {
        Some(c) => Some(pattern(src, c, "command")?),
        None => None,
    };
    let globs = |list: Option<Vec<Spanned<String>>>,
                 key: &str,
                 kind: GlobKind|
     -> Result<Vec<String>, ConfigError> {
        list.unwrap_or_default()
            .into_iter()
            .map(|g| {
                check_glob(src, &g, key, kind)?;
                Ok(g.into_inner())
            })
            .collect()
    };
    let path = globs(raw.path, "path", GlobKind::Path)?;
    let host = globs(raw.host, "host", GlobKind::Host)?;
    let mcp_server = globs(raw.mcp_server, "mcp_server", GlobKind::Name)?;
    let mcp_tool = globs(raw.mcp_tool, "mcp_tool", GlobKind::Name)?;
    let mut mcp_arguments = std::collections::BTreeMap::new();
    for (name, glob) in raw.mcp_arguments.unwrap_or_default() {
        check_glob(src, &glob, &format!("mcp_arguments.{name}"), GlobKind::Name)?;
        mcp_arguments.insert(name, glob.into_inner());
    }
    let rule = ReviewRule {
        decision,
        kinds: raw.kinds.unwrap_or_default(),
        categories: raw.categories.unwrap_or_default(),
        command,
        path,
        host,
        mcp_server,
        mcp_tool,
        mcp_arguments,
        reason,
        source: src.line_of(&header),
        managed,
    };
    if decision == ReviewDecision::Approve && has_no_condition(&rule) {
        return Err(ConfigError::at(src, &header, "this `approve` review rule has no condition, so it would approve every boundary crossing").help("add `kinds`, `categories`, `command`, `path`, `host` or `mcp_*` conditions"));
    }
    Ok(rule)
}

fn has_no_condition(rule: &ReviewRule) -> bool {
    rule.kinds.is_empty()
        && rule.categories.is_empty()
        && rule.command.is_none()
        && rule.path.is_empty()
        && rule.host.is_empty()
        && rule.mcp_server.is_empty()
        && rule.mcp_tool.is_empty()
        && rule.mcp_arguments.is_empty()
}

fn check_glob(
    src: &SourceText,
    glob: &Spanned<String>,
    key: &str,
    kind: GlobKind,
) -> Result<(), ConfigError> {
    globs::check(src, &glob.span(), glob.get_ref(), key, kind)
}

/// A pattern as TOML, e.g. `["git", ["push", "fetch"]]`.
pub fn render_pattern(pattern: &[PatternToken]) -> String {
    let parts: Vec<String> = pattern
        .iter()
        .map(|t| match t {
            PatternToken::Word(w) => quote(w),
            PatternToken::AnyOf(ws) => {
                format!(
                    "[{}]",
                    ws.iter().map(|w| quote(w)).collect::<Vec<_>>().join(", ")
                )
            }
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawLayer;

    fn rules(text: &str) -> Result<Vec<CommandRule>, ConfigError> {
        let src = SourceText::file("t.toml", text);
        let layer: RawLayer = toml::from_str(text).unwrap();
        layer
            .command_rules
            .unwrap()
            .into_iter()
            .map(|r| command_rule(&src, r, false))
            .collect()
    }

    fn review(text: &str) -> Result<Vec<ReviewRule>, ConfigError> {
        let src = SourceText::file("t.toml", text);
        let layer: RawLayer = toml::from_str(text).unwrap();
        layer
            .review_rules
            .unwrap()
            .into_iter()
            .map(|r| review_rule(&src, r, true))
            .collect()
    }

    #[test]
    fn rule_source_is_its_header_line() {
        let r =
            rules("# c\n\n[[command_rules]]\npattern = [\"git\"]\ndecision = \"allow\"\n").unwrap();
        assert_eq!(r[0].source.to_string(), "t.toml:3");
    }

    #[test]
    fn failing_example_is_located_at_the_example() {
        let text = "[[command_rules]]\npattern = [\"git\", \"push\"]\ndecision = \"prompt\"\nmatch = [\n  \"git push\",\n  \"git pull\",\n]\n";
        let e = rules(text).unwrap_err();
        assert_eq!(e.location.as_ref().unwrap().to_string(), "t.toml:6:3");
        assert!(e.message.contains("git pull"), "{e}");
        let text = "[[command_rules]]\npattern = [\"git\", \"push\"]\ndecision = \"prompt\"\nnot_match = [\"git push -f\"]\n";
        let e = rules(text).unwrap_err();
        assert_eq!(e.location.as_ref().unwrap().to_string(), "t.toml:4:14");
    }

    #[test]
    fn grants_only_on_allow() {
        let e = rules("[[command_rules]]\npattern = [\"x\"]\ndecision = \"prompt\"\ngrants = { network = true }\n").unwrap_err();
        assert_eq!(e.location.as_ref().unwrap().to_string(), "t.toml:4:10");
    }

    #[test]
    fn review_globs_are_checked() {
        let e =
            review("[[review_rules]]\ndecision = \"deny\"\npath = [\"/etc/[\"]\nreason = \"x\"\n")
                .unwrap_err();
        assert_eq!(e.location.as_ref().unwrap().to_string(), "t.toml:3:9");
        let ok = review(
            "[[review_rules]]\ndecision = \"deny\"\npath = [\"~/.ssh/**\"]\nreason = \"secrets\"\n",
        )
        .unwrap();
        assert!(ok[0].managed);
        assert_eq!(ok[0].source.to_string(), "t.toml:1");
    }

    #[test]
    fn unconditioned_approve_is_refused() {
        let e = review("[[review_rules]]\ndecision = \"approve\"\nreason = \"yes\"\n").unwrap_err();
        assert!(e.message.contains("no condition"), "{e}");
        assert!(review("[[review_rules]]\ndecision = \"deny\"\nreason = \"lockdown\"\n").is_ok());
    }
}
