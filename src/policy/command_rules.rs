//! Command prefix rules: does one simple command (argv) match a rule, and
//! which decision wins when several do (strictest: forbidden > prompt >
//! allow, whatever the order of rules and layers).
//!
//! [`RuleIndex`] finds the candidate rules of a command by its program name
//! (`argv[0]` as written and by basename), so deciding costs the same with
//! ten rules or ten thousand.

use std::collections::HashMap;

use crate::config::{CommandRule, PatternToken, RuleDecision};

/// One simple command as the splitter produced it.
#[derive(Debug, Clone, Copy)]
pub struct CommandView<'a> {
    pub argv: &'a [String],
    /// The command's stdin is a pipe from an earlier command.
    pub piped: bool,
}

/// Whether `rule` matches the command. `argv[0]` is compared both as written
/// and by basename, so `/usr/bin/git push` matches `["git", "push"]`.
pub fn rule_matches(rule: &CommandRule, cmd: CommandView<'_>) -> bool {
    if rule.piped && !cmd.piped {
        return false;
    }
    if cmd.argv.len() < rule.pattern.len() || rule.pattern.is_empty() {
        return false;
    }
    for (i, token) in rule.pattern.iter().enumerate() {
        let word = &cmd.argv[i];
        let ok = token.matches(word) || (i == 0 && token.matches(basename(word)));
        if !ok {
            return false;
        }
    }
    if rule.any_arg.is_empty() {
        return true;
    }
    cmd.argv[rule.pattern.len()..]
        .iter()
        .any(|arg| rule.any_arg.iter().any(|pat| wildcard_match(pat, arg)))
}

/// The strictest decision among the rules matching `cmd`, with the rule.
/// Ties keep the first rule in order (managed rules come first).
pub fn strictest<'r>(rules: &'r [CommandRule], cmd: CommandView<'_>) -> Option<&'r CommandRule> {
    let mut best: Option<&CommandRule> = None;
    for rule in rules {
        if rule_matches(rule, cmd) && best.is_none_or(|b| rule.decision > b.decision) {
            best = Some(rule);
        }
    }
    best
}

/// The rules of a list indexed by the words their pattern's first token
/// accepts. Built once per configuration; [`RuleIndex::strictest`] gives
/// the same answer as [`strictest`] over the whole list.
#[derive(Debug, Clone, Default)]
pub struct RuleIndex {
    by_program: HashMap<String, Vec<u32>>,
}

impl RuleIndex {
    pub fn new(rules: &[CommandRule]) -> Self {
        let mut by_program: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            let i = u32::try_from(i).expect("fewer than 2^32 rules");
            match rule.pattern.first() {
                Some(PatternToken::Word(w)) => by_program.entry(w.clone()).or_default().push(i),
                Some(PatternToken::AnyOf(words)) => {
                    for w in words {
                        let list = by_program.entry(w.clone()).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                }
                None => {} // an empty pattern matches nothing
            }
        }
        RuleIndex { by_program }
    }

    /// The index (into the list the index was built from) of the strictest
    /// rule matching `cmd`; ties keep the first rule in order.
    pub fn strictest(&self, rules: &[CommandRule], cmd: CommandView<'_>) -> Option<usize> {
        let program = cmd.argv.first()?;
        let empty: &[u32] = &[];
        let as_written = self
            .by_program
            .get(program.as_str())
            .map_or(empty, Vec::as_slice);
        let base = basename(program);
        let by_base = if base.len() == program.len() {
            empty
        } else {
            self.by_program.get(base).map_or(empty, Vec::as_slice)
        };
        let mut best: Option<usize> = None;
        // Both lists are ascending: walk them merged, in rule order.
        let (mut a, mut b) = (0, 0);
        while a < as_written.len() || b < by_base.len() {
            let i = match (as_written.get(a), by_base.get(b)) {
                (Some(&x), Some(&y)) if x == y => {
                    a += 1;
                    b += 1;
                    x
                }
                (Some(&x), Some(&y)) if x < y => {
                    a += 1;
                    x
                }
                (Some(&x), None) => {
                    a += 1;
                    x
                }
                (_, Some(&y)) => {
                    b += 1;
                    y
                }
                (None, None) => unreachable!(),
            } as usize;
            let rule = &rules[i];
            if best.is_none_or(|b| rule.decision > rules[b].decision) && rule_matches(rule, cmd) {
                best = Some(i);
            }
        }
        best
    }
}

/// Check a rule's `match` / `not_match` examples, as the config loader does.
/// Examples are argv lists; `piped` rules are checked as if piped.
pub fn check_examples(rule: &CommandRule) -> Result<(), String> {
    let piped = rule.piped;
    for example in &rule.examples_match {
        if !rule_matches(
            rule,
            CommandView {
                argv: example,
                piped,
            },
        ) {
            return Err(format!(
                "`match` example {:?} does not match this rule",
                example.join(" ")
            ));
        }
    }
    for example in &rule.examples_not_match {
        if rule_matches(
            rule,
            CommandView {
                argv: example,
                piped,
            },
        ) {
            return Err(format!(
                "`not_match` example {:?} matches this rule",
                example.join(" ")
            ));
        }
    }
    Ok(())
}

/// The last path component of a program name.
pub fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// `*` matches any run of characters (including none); everything else is
/// literal. Used for `any_arg` patterns such as `-T*` or `--data*`.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether any rule decision is at least as strict as `min`.
pub fn at_least(decision: Option<RuleDecision>, min: RuleDecision) -> bool {
    decision.is_some_and(|d| d >= min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PatternToken, RuleGrants};
    use crate::decision::Source;

    fn rule(pattern: &[&[&str]], any_arg: &[&str], decision: RuleDecision) -> CommandRule {
        CommandRule {
            pattern: pattern
                .iter()
                .map(|alts| {
                    if alts.len() == 1 {
                        PatternToken::Word(alts[0].to_owned())
                    } else {
                        PatternToken::AnyOf(alts.iter().map(|s| s.to_string()).collect())
                    }
                })
                .collect(),
            any_arg: any_arg.iter().map(|s| s.to_string()).collect(),
            piped: false,
            decision,
            justification: None,
            grants: RuleGrants::default(),
            examples_match: vec![],
            examples_not_match: vec![],
            source: Source {
                file: "test".into(),
                line: 1,
                column: None,
            },
            managed: false,
        }
    }

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn view(a: &[String]) -> CommandView<'_> {
        CommandView {
            argv: a,
            piped: false,
        }
    }

    #[test]
    fn prefix_with_alternatives() {
        let r = rule(&[&["git"], &["push", "fetch"]], &[], RuleDecision::Prompt);
        assert!(rule_matches(&r, view(&argv("git push origin main"))));
        assert!(rule_matches(&r, view(&argv("/usr/bin/git fetch"))));
        assert!(!rule_matches(&r, view(&argv("git status"))));
        assert!(!rule_matches(&r, view(&argv("git"))));
    }

    #[test]
    fn any_arg_requires_a_matching_argument() {
        let r = rule(
            &[&["curl"]],
            &["-T*", "--upload-file"],
            RuleDecision::Prompt,
        );
        assert!(rule_matches(&r, view(&argv("curl -s -T f https://x"))));
        assert!(rule_matches(&r, view(&argv("curl -Tf https://x"))));
        assert!(!rule_matches(&r, view(&argv("curl https://x"))));
    }

    #[test]
    fn strictest_wins_regardless_of_order() {
        let allow = rule(&[&["git"]], &[], RuleDecision::Allow);
        let forbid = rule(&[&["git"], &["push"]], &[], RuleDecision::Forbidden);
        let a = argv("git push");
        for rules in [
            vec![allow.clone(), forbid.clone()],
            vec![forbid.clone(), allow.clone()],
        ] {
            assert_eq!(
                strictest(&rules, view(&a)).map(|r| r.decision),
                Some(RuleDecision::Forbidden)
            );
        }
    }

    #[test]
    fn the_index_agrees_with_a_full_scan() {
        let rules = vec![
            rule(&[&["git"]], &[], RuleDecision::Allow),
            rule(
                &[&["git"], &["push"]],
                &["--force"],
                RuleDecision::Forbidden,
            ),
            rule(&[&["curl", "wget"]], &["-T*"], RuleDecision::Prompt),
            rule(&[&["/usr/bin/git"]], &[], RuleDecision::Prompt),
            rule(&[&["git"], &["push"]], &[], RuleDecision::Prompt),
        ];
        let index = RuleIndex::new(&rules);
        for cmd in [
            "git status",
            "git push",
            "git push --force",
            "/usr/bin/git status",
            "/opt/git push --force",
            "wget -T x",
            "curl https://x",
            "ls",
        ] {
            let a = argv(cmd);
            let full = strictest(&rules, view(&a)).map(std::ptr::from_ref);
            let indexed = index
                .strictest(&rules, view(&a))
                .map(|i| std::ptr::from_ref(&rules[i]));
            assert_eq!(full, indexed, "{cmd}");
        }
    }

    #[test]
    fn wildcard() {
        assert!(wildcard_match("--data*", "--data-binary"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(!wildcard_match("a*c", "abbb"));
        assert!(!wildcard_match("-T", "-Tx"));
    }

    #[test]
    fn failing_examples_are_reported() {
        let mut r = rule(&[&["git"], &["push"]], &[], RuleDecision::Prompt);
        r.examples_match = vec![argv("git push")];
        r.examples_not_match = vec![argv("git status")];
        assert!(check_examples(&r).is_ok());
        r.examples_match.push(argv("git pull"));
        assert!(check_examples(&r).unwrap_err().contains("git pull"));
    }
}
