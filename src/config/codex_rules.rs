//! Reading Codex `.rules` files: the `prefix_rule(...)` subset.
//!
//! Codex writes execution-policy rules in a Starlark dialect. warden reads
//! only what a rule needs, and refuses everything else with `file:line:col`
//! rather than guessing:
//!
//! ```python
//! # comments run to the end of the line
//! prefix_rule(
//!     pattern = ["gh", "pr", ["view", "list"]],   # word, or list of alternatives
//!     decision = "prompt",                        # allow (default) | prompt | forbidden
//!     justification = "viewing PRs needs approval",
//!     match = ["gh pr view 7888", ["gh", "pr", "list"]],
//!     not_match = ["gh pr --repo x view 1"],
//! )
//! ```
//!
//! Supported: `prefix_rule` calls with keyword arguments only, strings in
//! single or double quotes (escapes `\\ \" \' \n \t \r`), lists, trailing
//! commas, comments. Not supported (an error): any other function, positional
//! arguments, variables, triple-quoted or raw strings, expressions. String
//! examples are split like a shell would (`shlex`), as Codex does.

use std::ops::Range;

use toml::Spanned;

use super::ConfigError;
use super::location::SourceText;
use super::raw::{Example, RawCommandRule, Token};
use super::suggest;
use crate::config::schema::{PatternToken, RuleDecision};

const KEYWORDS: [&str; 5] = ["pattern", "decision", "justification", "match", "not_match"];

/// Parse a `.rules` file into raw command rules, each spanning its
/// `prefix_rule(` call.
pub fn parse(src: &SourceText) -> Result<Vec<Spanned<RawCommandRule>>, ConfigError> {
    let tokens = lex(src)?;
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
    };
    let mut rules = Vec::new();
    while parser.pos < parser.tokens.len() {
        rules.push(parser.prefix_rule()?);
    }
    Ok(rules)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
    /// Anything else; reported when the parser reaches it, so errors come
    /// in source order.
    Other(char),
}

#[derive(Debug, Clone)]
enum Val {
    Str(String),
    List(Vec<Spanned<Val>>),
}

fn lex(src: &SourceText) -> Result<Vec<Spanned<Tok>>, ConfigError> {
    let text = src.text.as_str();
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '#' => while chars.next_if(|(_, c)| *c != '\n').is_some() {},
            '(' | ')' | '[' | ']' | ',' | '=' => {
                out.push(Spanned::new(start..start + 1, Tok::Punct(c)));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = start + 1;
                while let Some((i, c)) =
                    chars.next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
                {
                    end = i + c.len_utf8();
                }
                out.push(Spanned::new(
                    start..end,
                    Tok::Ident(text[start..end].to_owned()),
                ));
            }
            '"' | '\'' => {
                if text[start..].starts_with(&format!("{c}{c}{c}")) {
                    return Err(ConfigError::at(
                        src,
                        &(start..start),
                        "triple-quoted strings are not supported in .rules files",
                    )
                    .help("use a one-line string"));
                }
                let mut value = String::new();
                let end = loop {
                    match chars.next() {
                        None | Some((_, '\n')) => {
                            return Err(ConfigError::at(
                                src,
                                &(start..start),
                                "unterminated string",
                            ));
                        }
                        Some((i, q)) if q == c => break i + 1,
                        Some((i, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, 't')) => value.push('\t'),
                            Some((_, 'r')) => value.push('\r'),
                            Some((_, e @ ('\\' | '"' | '\''))) => value.push(e),
                            _ => {
                                return Err(ConfigError::at(
                                    src,
                                    &(i..i),
                                    "unsupported escape in string",
                                )
                                .help("supported escapes: \\\\ \\\" \\' \\n \\t \\r"));
                            }
                        },
                        Some((_, ch)) => value.push(ch),
                    }
                };
                out.push(Spanned::new(start..end, Tok::Str(value)));
            }
            other => out.push(Spanned::new(
                start..start + other.len_utf8(),
                Tok::Other(other),
            )),
        }
    }
    Ok(out)
}

fn unexpected(src: &SourceText, t: &Spanned<Tok>, expected: &str) -> ConfigError {
    let found = match t.get_ref() {
        Tok::Ident(i) => format!("`{i}`"),
        Tok::Str(_) => "a string".to_owned(),
        Tok::Punct(c) | Tok::Other(c) => format!("`{c}`"),
    };
    ConfigError::at(src, &t.span(), format!("expected {expected}, found {found}")).help(
            "warden reads only `prefix_rule(...)` calls with string and list arguments from .rules files",
        )
}

struct Parser<'a> {
    src: &'a SourceText,
    tokens: Vec<Spanned<Tok>>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Spanned<Tok>> {
        self.tokens.get(self.pos)
    }

    fn end_offset(&self) -> usize {
        self.src.text.len()
    }

    fn next(&mut self, expected: &str) -> Result<Spanned<Tok>, ConfigError> {
        match self.tokens.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                Ok(t.clone())
            }
            None => Err(ConfigError::at(
                self.src,
                &(self.end_offset()..self.end_offset()),
                format!("unexpected end of file, expected {expected}"),
            )),
        }
    }

    fn expect_punct(&mut self, p: char) -> Result<Range<usize>, ConfigError> {
        let t = self.next(&format!("`{p}`"))?;
        if *t.get_ref() == Tok::Punct(p) {
            Ok(t.span())
        } else {
            Err(unexpected(self.src, &t, &format!("`{p}`")))
        }
    }

    fn eat_punct(&mut self, p: char) -> bool {
        if self.peek().is_some_and(|t| *t.get_ref() == Tok::Punct(p)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn prefix_rule(&mut self) -> Result<Spanned<RawCommandRule>, ConfigError> {
        let head = self.next("`prefix_rule(`")?;
        match head.get_ref() {
            Tok::Ident(name) if name == "prefix_rule" => {}
            Tok::Ident(name) => {
                return Err(ConfigError::at(
                    self.src,
                    &head.span(),
                    format!("`{name}` is not supported in .rules files"),
                )
                .help("warden imports only `prefix_rule(...)` calls"));
            }
            _ => return Err(unexpected(self.src, &head, "`prefix_rule(`")),
        }
        self.expect_punct('(')?;
        let mut args: Vec<(Spanned<String>, Spanned<Val>)> = Vec::new();
        loop {
            if self.eat_punct(')') {
                break;
            }
            let name = self.next("a keyword argument or `)`")?;
            let Tok::Ident(key) = name.get_ref().clone() else {
                return Err(unexpected(self.src, &name, "a keyword argument")
                    .help("positional arguments are not supported; write `pattern = [...]`"));
            };
            if !KEYWORDS.contains(&key.as_str()) {
                let help = suggest::closest(&key, &KEYWORDS)
                    .map(|k| format!("did you mean `{k}`?"))
                    .unwrap_or_else(|| format!("expected one of: {}", KEYWORDS.join(", ")));
                return Err(ConfigError::at(
                    self.src,
                    &name.span(),
                    format!("unknown argument `{key}` to prefix_rule"),
                )
                .help(help));
            }
            if args.iter().any(|(k, _)| *k.get_ref() == key) {
                return Err(ConfigError::at(
                    self.src,
                    &name.span(),
                    format!("`{key}` given twice"),
                ));
            }
            self.expect_punct('=')?;
            let value = self.value()?;
            args.push((Spanned::new(name.span(), key), value));
            if !self.eat_punct(',') {
                self.expect_punct(')')?;
                break;
            }
        }
        let call = head.span().start..self.tokens[self.pos - 1].span().end;
        self.build(head.span(), call, args)
    }

    fn value(&mut self) -> Result<Spanned<Val>, ConfigError> {
        let t = self.next("a string or a list")?;
        match t.get_ref() {
            Tok::Str(s) => Ok(Spanned::new(t.span(), Val::Str(s.clone()))),
            Tok::Punct('[') => {
                let mut items = Vec::new();
                loop {
                    if self.eat_punct(']') {
                        break;
                    }
                    items.push(self.value()?);
                    if !self.eat_punct(',') {
                        self.expect_punct(']')?;
                        break;
                    }
                }
                let end = self.tokens[self.pos - 1].span().end;
                Ok(Spanned::new(t.span().start..end, Val::List(items)))
            }
            _ => Err(unexpected(self.src, &t, "a string or a list")
                .help("variables and expressions are not supported in .rules files")),
        }
    }

    fn build(
        &self,
        head: Range<usize>,
        call: Range<usize>,
        args: Vec<(Spanned<String>, Spanned<Val>)>,
    ) -> Result<Spanned<RawCommandRule>, ConfigError> {
        let mut rule = RawCommandRule {
            pattern: Spanned::new(head.clone(), Vec::new()),
            any_arg: None,
            piped: None,
            decision: Spanned::new(head.clone(), RuleDecision::Allow),
            justification: None,
            examples_match: None,
            not_match: None,
            grants: None,
        };
        let mut has_pattern = false;
        for (key, value) in args {
            let span = value.span();
            match key.get_ref().as_str() {
                "pattern" => {
                    has_pattern = true;
                    rule.pattern = Spanned::new(span, self.pattern(value)?);
                }
                "decision" => {
                    let word = self.string(&value)?;
                    let decision = match word.as_str() {
                        "allow" => RuleDecision::Allow,
                        "prompt" => RuleDecision::Prompt,
                        "forbidden" => RuleDecision::Forbidden,
                        other => {
                            return Err(ConfigError::at(
                                self.src,
                                &(span.start..span.start),
                                format!("unknown decision `{other}`"),
                            )
                            .help("expected one of: allow, prompt, forbidden"));
                        }
                    };
                    rule.decision = Spanned::new(span, decision);
                }
                "justification" => rule.justification = Some(self.string(&value)?),
                "match" => rule.examples_match = Some(self.examples(value)?),
                _ => rule.not_match = Some(self.examples(value)?),
            }
        }
        if !has_pattern {
            return Err(ConfigError::at(
                self.src,
                &(head.start..head.start),
                "prefix_rule without `pattern`",
            )
            .help("add `pattern = [\"program\", …]`"));
        }
        Ok(Spanned::new(call, rule))
    }

    fn string(&self, value: &Spanned<Val>) -> Result<String, ConfigError> {
        match value.get_ref() {
            Val::Str(s) => Ok(s.clone()),
            Val::List(_) => Err(ConfigError::at(
                self.src,
                &value.span(),
                "expected a string",
            )),
        }
    }

    fn list(&self, value: Spanned<Val>) -> Result<Vec<Spanned<Val>>, ConfigError> {
        let span = value.span();
        match value.into_inner() {
            Val::List(items) => Ok(items),
            Val::Str(_) => Err(ConfigError::at(
                self.src,
                &(span.start..span.start),
                "expected a list",
            )),
        }
    }

    fn words(&self, items: Vec<Spanned<Val>>) -> Result<Vec<String>, ConfigError> {
        items.iter().map(|v| self.string(v)).collect()
    }

    fn pattern(&self, value: Spanned<Val>) -> Result<Vec<Spanned<Token>>, ConfigError> {
        let mut out = Vec::new();
        for item in self.list(value)? {
            let span = item.span();
            let token = match item.into_inner() {
                Val::Str(w) if !w.is_empty() => PatternToken::Word(w),
                Val::List(alts) => {
                    let words = self.words(alts)?;
                    if words.is_empty() || words.iter().any(String::is_empty) {
                        return Err(ConfigError::at(
                            self.src,
                            &(span.start..span.start),
                            "alternatives must be non-empty words",
                        ));
                    }
                    PatternToken::AnyOf(words)
                }
                Val::Str(_) => {
                    return Err(ConfigError::at(
                        self.src,
                        &(span.start..span.start),
                        "a pattern word cannot be empty",
                    ));
                }
            };
            out.push(Spanned::new(span, Token(token)));
        }
        Ok(out)
    }

    fn examples(&self, value: Spanned<Val>) -> Result<Vec<Spanned<Example>>, ConfigError> {
        let mut out = Vec::new();
        for item in self.list(value)? {
            let span = item.span();
            let argv = match item.into_inner() {
                Val::Str(line) => shell_words(&line).ok_or_else(|| {
                    ConfigError::at(
                        self.src,
                        &(span.start..span.start),
                        "unterminated quote in example",
                    )
                })?,
                Val::List(words) => self.words(words)?,
            };
            if argv.is_empty() {
                return Err(ConfigError::at(
                    self.src,
                    &(span.start..span.start),
                    "an example command cannot be empty",
                ));
            }
            out.push(Spanned::new(span, Example(argv)));
        }
        Ok(out)
    }
}

/// Split a command line like a POSIX shell would (quotes and backslashes,
/// no expansions). `None` on an unterminated quote.
fn shell_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::rules::command_rule;

    fn load(text: &str) -> Result<Vec<crate::config::CommandRule>, ConfigError> {
        let src = SourceText::file("x.rules", text);
        parse(&src)?
            .into_iter()
            .map(|r| command_rule(&src, r, false))
            .collect()
    }

    #[test]
    fn reads_the_documented_subset() {
        let rules = load(
            "# header\nprefix_rule(\n    pattern = [\"gh\", \"pr\", [\"view\", 'list']],  # trailing\n    decision = \"prompt\",\n    justification = 'needs approval',\n    match = [\"gh pr view 7888\", [\"gh\", \"pr\", \"list\"], \"gh pr view 'a b'\"],\n    not_match = [\"gh pr --repo x view 1\"],\n)\nprefix_rule(pattern=[\"ls\"])\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].decision, RuleDecision::Prompt);
        assert_eq!(rules[0].source.to_string(), "x.rules:2");
        assert_eq!(rules[0].examples_match[2], vec!["gh", "pr", "view", "a b"]);
        assert_eq!(rules[0].justification.as_deref(), Some("needs approval"));
        assert_eq!(rules[1].decision, RuleDecision::Allow);
        assert_eq!(rules[1].source.to_string(), "x.rules:9");
    }

    #[test]
    fn anything_else_is_an_error_with_a_location() {
        let cases = [
            ("x = 1\n", "x.rules:1:1"),
            ("prefix_rule(pattern=[\"a\"], 3)\n", "x.rules:1:28"),
            (
                "prefix_rule(pattern=[\"a\"], decison=\"allow\")\n",
                "x.rules:1:28",
            ),
            (
                "prefix_rule(\n  pattern = [\"a\"] + [\"b\"],\n)\n",
                "x.rules:2:19",
            ),
            ("prefix_rule(pattern=\"\"\"a\"\"\")\n", "x.rules:1:21"),
            (
                "prefix_rule(pattern=[\"a\"], decision=\"maybe\")\n",
                "x.rules:1:37",
            ),
            ("prefix_rule(decision=\"allow\")\n", "x.rules:1:1"),
            ("prefix_rule(pattern=[\"a\"]\n", "x.rules:2:1"),
            (
                "prefix_rule(pattern=[\"a\"], match=[\"b\"])\n",
                "x.rules:1:35",
            ),
        ];
        for (text, at) in cases {
            let e = load(text).expect_err(text);
            assert_eq!(e.location.as_ref().unwrap().to_string(), at, "{text}: {e}");
        }
        let e = load("prefix_rule(pattern=[\"a\"], decison=\"allow\")").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean `decision`?"));
    }

    #[test]
    fn shell_words_follow_quoting() {
        assert_eq!(
            shell_words("a 'b c' \"d\\\"e\" f\\ g").unwrap(),
            vec!["a", "b c", "d\"e", "f g"]
        );
        assert_eq!(shell_words("''").unwrap(), vec![""]);
        assert!(shell_words("a 'b").is_none());
    }
}
