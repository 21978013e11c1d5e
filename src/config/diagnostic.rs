//! Located configuration diagnostics, rendered like cargo-deny's
//! (codespan-reporting): the headline names `file:line:col`, then the source
//! line with a caret under the primary location and dashes under each
//! secondary one ("the requirement it would weaken"), then a `help:` line.
//!
//! This module owns the one way config code reports a problem:
//! [`Diagnostic::at`] (a place in a text being parsed),
//! [`Diagnostic::located`] (a place already resolved to a [`Source`]) or
//! [`Diagnostic::new`] (no place: a missing file, an unknown profile).
//! Excerpts are attached once, by the loader, from the texts it parsed
//! ([`SourceFiles`]), so a check that only knows a value's [`Source`] still
//! shows its line. [`Diagnostic::all`] carries every error of one load in one value.
//!
//! Imports: `config::location` and `crate::decision::Source` only. No
//! dependency: rendering a line and a caret is a few dozen lines, and a crate
//! (`codespan-reporting`, `annotate-snippets`) would add colour handling and
//! a file database we do not need.

use std::fmt;
use std::ops::Range;

use super::location::SourceText;
use crate::decision::Source;

/// One error or warning about the configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Diagnostic {
    /// The primary location (where the caret goes).
    pub location: Option<Source>,
    pub message: String,
    pub help: Option<String>,
    /// Labels, excerpt and the other errors, boxed: a diagnostic travels in
    /// every `Result` of config code, and most never get any.
    details: Box<Details>,
}

#[derive(Debug, Clone, Default)]
struct Details {
    /// Text under the caret, if the message needs one.
    label: Option<String>,
    /// Other places that explain this one, each with its label.
    secondary: Vec<(Source, String)>,
    /// The rendered excerpt (filled by [`SourceFiles::attach`]).
    excerpt: String,
    /// The other errors of the same load, in layer and line order.
    others: Vec<Diagnostic>,
}

/// A configuration error: a [`Diagnostic`] that stops the load.
pub type ConfigError = Diagnostic;

impl Diagnostic {
    /// A diagnostic with no place in a file.
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            location: None,
            message: message.into(),
            help: None,
            details: Box::default(),
        }
    }

    /// Every error of one load as one error: the first, carrying the rest.
    /// `None` when there is none.
    pub fn all(mut errors: Vec<Diagnostic>) -> Option<Diagnostic> {
        if errors.is_empty() {
            return None;
        }
        let mut first = errors.remove(0);
        first.details.others.extend(errors);
        Some(first)
    }

    /// The other errors of the same load (see [`Diagnostic::all`]).
    pub fn others(&self) -> &[Diagnostic] {
        &self.details.others
    }

    /// A diagnostic at a resolved place.
    pub fn located(source: Source, message: impl Into<String>) -> Self {
        Diagnostic {
            location: Some(source),
            ..Diagnostic::new(message)
        }
    }

    /// A diagnostic at the start of `span` in `src`.
    pub fn at(src: &SourceText, span: &Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic::located(src.source_of(span), message)
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// The text under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.details.label = Some(label.into());
        self
    }

    /// Another place, shown under the primary one with its own label.
    pub fn also(mut self, source: Source, label: impl Into<String>) -> Self {
        self.details.secondary.push((source, label.into()));
        self
    }

    /// `file:line:col: message`, without excerpt or help (JSON output, logs).
    pub fn headline(&self) -> String {
        match &self.location {
            Some(loc) => format!("{loc}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// The caller prints `error: ` (or `warning: `) before the text, so each
/// other error starts its own `error: ` line, and more than one ends with a
/// count.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        f.write_str(&self.details.excerpt)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        let others = self.others();
        for other in others {
            write!(f, "\n\nerror: {other}")?;
        }
        if !others.is_empty() {
            let count = others.len() + 1;
            write!(f, "\n\nerror: {count} errors in the configuration")?;
        }
        Ok(())
    }
}

/// The texts of one load, to show the lines diagnostics point at.
#[derive(Default)]
pub struct SourceFiles<'a> {
    texts: Vec<&'a SourceText>,
}

impl<'a> SourceFiles<'a> {
    pub fn add(&mut self, src: &'a SourceText) {
        self.texts.push(src);
    }

    /// Where a place sorts in a report: by layer (the order texts were
    /// added), then line and column; unlocated last.
    pub fn order_of(&self, at: Option<&Source>) -> (usize, u32, u32) {
        at.map_or((usize::MAX, 0, 0), |at| {
            let layer = self
                .texts
                .iter()
                .position(|t| t.name == at.file && t.excerpt_line(at.line).is_some())
                .unwrap_or(usize::MAX - 1);
            (layer, at.line, at.column.unwrap_or(0))
        })
    }

    fn line(&self, at: &Source) -> Option<String> {
        self.texts
            .iter()
            .rev()
            .find(|t| t.name == at.file)
            .and_then(|t| t.excerpt_line(at.line))
    }

    /// Render the excerpt of `d` from these texts (a place in a text not
    /// loaded here keeps its headline only).
    pub fn attach(&self, d: &mut Diagnostic) {
        let mut places: Vec<(&Source, Option<&str>, char)> = Vec::new();
        if let Some(loc) = &d.location {
            places.push((loc, d.details.label.as_deref(), '^'));
        }
        for (source, label) in &d.details.secondary {
            places.push((source, Some(label.as_str()), '-'));
        }
        let lines: Vec<_> = places
            .iter()
            .filter_map(|(at, label, mark)| Some((*at, self.line(at)?, *label, *mark)))
            .collect();
        let Some(width) = lines.iter().map(|(at, ..)| at.line.to_string().len()).max() else {
            return;
        };
        let pad = " ".repeat(width);
        let mut out = String::new();
        for (i, (at, text, label, mark)) in lines.iter().enumerate() {
            if i > 0 || *mark == '-' {
                out.push_str(&format!("\n{pad} ::: {at}"));
            }
            let (start, len) = underline(text, at.column);
            let marks: String = std::iter::repeat_n(*mark, len).collect();
            let label = label.map(|l| format!(" {l}")).unwrap_or_default();
            out.push_str(&format!(
                "\n{pad} |\n{:>width$} | {text}\n{pad} | {}{marks}{label}",
                at.line,
                " ".repeat(start),
            ));
        }
        d.details.excerpt = out;
    }
}

/// Where the marks go on `line` (in characters) for a 1-based `column`: the
/// token that starts there (a quoted string to its closing quote, a bare
/// word up to a separator); without a column, the line's text.
fn underline(line: &str, column: Option<u32>) -> (usize, usize) {
    let chars: Vec<char> = line.chars().collect();
    let start = match column {
        Some(c) => (c as usize).saturating_sub(1).min(chars.len()),
        None => chars.iter().take_while(|c| c.is_whitespace()).count(),
    };
    let rest = &chars[start..];
    let len = match (column, rest.first()) {
        (None, _) => rest.len() - rest.iter().rev().take_while(|c| c.is_whitespace()).count(),
        (Some(_), Some(q @ ('"' | '\''))) => rest[1..]
            .iter()
            .position(|c| c == q)
            .map_or(rest.len(), |end| end + 2),
        (Some(_), _) => rest
            .iter()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}' | '=' | ')'))
            .count(),
    };
    (start, len.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(text: &str, d: Diagnostic) -> String {
        let src = SourceText::file("f.toml", text);
        let mut files = SourceFiles::default();
        files.add(&src);
        let mut d = d;
        files.attach(&mut d);
        d.to_string()
    }

    #[test]
    fn caret_under_the_token_with_label_and_help() {
        let text = "[sandbox]\n  netwrk = \"off\"\n";
        let src = SourceText::file("f.toml", text);
        let d = Diagnostic::at(&src, &(12..18), "unknown key `netwrk`")
            .label("not a key of [sandbox]")
            .help("did you mean `network`?");
        assert_eq!(
            rendered(text, d),
            "f.toml:2:3: unknown key `netwrk`\n  |\n2 |   netwrk = \"off\"\n  |   ^^^^^^ not a key of [sandbox]\n  help: did you mean `network`?"
        );
    }

    #[test]
    fn quoted_values_and_secondary_places() {
        let text = "a = \"x y\"\n\nb = 1\n";
        let d = Diagnostic::located(
            Source {
                file: "f.toml".into(),
                line: 1,
                column: Some(5),
            },
            "bad",
        )
        .also(
            Source {
                file: "f.toml".into(),
                line: 3,
                column: None,
            },
            "because of this",
        );
        assert_eq!(
            rendered(text, d),
            "f.toml:1:5: bad\n  |\n1 | a = \"x y\"\n  |     ^^^^^\n  ::: f.toml:3\n  |\n3 | b = 1\n  | ----- because of this"
        );
    }

    #[test]
    fn a_place_in_another_text_keeps_the_headline_only() {
        let d = Diagnostic::located(
            Source {
                file: "other.toml".into(),
                line: 1,
                column: Some(1),
            },
            "bad",
        );
        assert_eq!(rendered("a = 1\n", d), "other.toml:1:1: bad");
    }

    #[test]
    fn several_errors_each_get_an_error_line_and_a_count() {
        assert!(Diagnostic::all(Vec::new()).is_none());
        let e = Diagnostic::all(vec![Diagnostic::new("one"), Diagnostic::new("two")]).unwrap();
        assert_eq!(
            e.to_string(),
            "one\n\nerror: two\n\nerror: 2 errors in the configuration"
        );
    }
}
