//! The lexer of the shell splitter: words (quotes, escapes, `$` forms),
//! separators, redirections (recorded as the command's reads and
//! writes), here-documents, and the nested scripts of substitutions and
//! subshells, handed back to [`super`] to split. It records what it does not
//! understand as problems and never panics or loops (the property tests in
//! [`super`] feed it any input). Imports nothing of warden.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sep {
    /// `;`, `&&`, `||`, `&`, newline: the next command reads the same stdin.
    Seq,
    /// `|` or `|&`.
    Pipe,
}

/// A word and whether any part of it came from a command or process
/// substitution.
pub(super) struct Word {
    pub(super) text: String,
    pub(super) substituted: bool,
}

/// Redirections and stdin sources of the command being lexed.
#[derive(Default)]
pub(super) struct CommandIo {
    pub(super) writes: Vec<String>,
    pub(super) reads: Vec<String>,
    /// stdin is a here-document, a here-string or a process substitution.
    pub(super) stdin_fed: bool,
}

pub(super) enum Token {
    Word(Word),
    Sep(Sep),
    /// A nested script (command substitution, subshell): split recursively.
    Inner(String),
    End,
}

pub(super) struct Lexer {
    chars: Vec<char>,
    pos: usize,
    /// Substitutions (`$(…)`, backticks, `<(…)`) seen so far.
    substitutions: usize,
    /// A literal here-document body to skip at the next newline: its
    /// delimiter and whether leading tabs are stripped (`<<-`).
    heredoc: Option<(String, bool)>,
    io: CommandIo,
    /// Characters of nested scripts re-queued so far (bounded so that
    /// deeply nested substitutions cannot make splitting quadratic).
    requeued: usize,
}

/// Upper bound on re-queued nested script text.
const MAX_REQUEUED: usize = 64 * 1024;

impl Lexer {
    pub(super) fn new(src: &str) -> Self {
        Lexer {
            chars: src.chars().collect(),
            pos: 0,
            substitutions: 0,
            heredoc: None,
            io: CommandIo::default(),
            requeued: 0,
        }
    }

    /// Skip the lines of a literal here-document body, up to and including
    /// its delimiter line (or the end of the script).
    fn skip_heredoc_body(&mut self) {
        let Some((delimiter, strip_tabs)) = self.heredoc.take() else {
            return;
        };
        while self.pos < self.chars.len() {
            let end = self.chars[self.pos..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(self.chars.len(), |i| self.pos + i);
            let line: String = self.chars[self.pos..end].iter().collect();
            self.pos = (end + 1).min(self.chars.len());
            let line = if strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line.as_str()
            };
            if line == delimiter {
                return;
            }
        }
    }

    /// The redirections of the command just finished.
    pub(super) fn take_io(&mut self) -> CommandIo {
        std::mem::take(&mut self.io)
    }

    /// Queue a nested script to be split after the current input, as
    /// `$(…)` bodies are (see [`Lexer::pending_inner`]).
    fn queue_inner(&mut self, script: String, problems: &mut Vec<String>) {
        if self.requeued + script.len() > MAX_REQUEUED {
            problems.push("nested substitutions too large to follow".into());
        } else {
            self.requeued += script.len();
            self.pending_inner(vec![script]);
        }
    }

    /// At `<(` or `>(`: consume a process substitution, queue its script and
    /// return the word it stands for.
    fn process_substitution(&mut self, problems: &mut Vec<String>) -> Word {
        let dir = self.chars[self.pos];
        problems.push(format!("process substitution `{dir}( … )`"));
        self.pos += 2;
        let script = self.take_balanced('(', ')');
        self.substitutions += 1;
        self.queue_inner(script, problems);
        Word {
            text: "/dev/fd/63".into(),
            substituted: true,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }

    pub(super) fn next_token(&mut self, problems: &mut Vec<String>) -> Token {
        // Skip blanks and comments.
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => self.pos += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.pos += 2,
                Some('#') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        let Some(c) = self.peek() else {
            return Token::End;
        };
        match c {
            '\n' if self.heredoc.is_some() => {
                self.pos += 1;
                self.skip_heredoc_body();
                Token::Sep(Sep::Seq)
            }
            '\n' | ';' => {
                self.pos += 1;
                if self.peek() == Some(';') {
                    self.pos += 1;
                    problems.push("`;;` (case syntax)".into());
                }
                Token::Sep(Sep::Seq)
            }
            '&' => {
                self.pos += 1;
                match self.peek() {
                    Some('&') => {
                        self.pos += 1;
                    }
                    Some('>') => {
                        // `&>file`: redirect both streams.
                        self.pos += 1;
                        if self.peek() == Some('>') {
                            self.pos += 1;
                        }
                        self.redirect_target(problems);
                        return self.next_token(problems);
                    }
                    _ => {}
                }
                Token::Sep(Sep::Seq)
            }
            '|' => {
                self.pos += 1;
                match self.peek() {
                    Some('|') => {
                        self.pos += 1;
                        Token::Sep(Sep::Seq)
                    }
                    Some('&') => {
                        self.pos += 1;
                        Token::Sep(Sep::Pipe)
                    }
                    _ => Token::Sep(Sep::Pipe),
                }
            }
            '(' => {
                problems.push("subshell `( … )`".into());
                self.pos += 1;
                Token::Inner(self.take_balanced('(', ')'))
            }
            ')' => {
                problems.push("unbalanced `)`".into());
                self.pos += 1;
                Token::Sep(Sep::Seq)
            }
            '<' | '>' if self.peek_at(1) == Some('(') => {
                Token::Word(self.process_substitution(problems))
            }
            '<' | '>' => {
                self.redirection(problems);
                self.next_token(problems)
            }
            _ => self.word(problems),
        }
    }

    /// At `<` or `>` (possibly after a digit already consumed as a word —
    /// see `word`): consume the operator and its target, recording it.
    fn redirection(&mut self, problems: &mut Vec<String>) {
        let op = self.chars[self.pos];
        self.pos += 1;
        if op == '<' {
            match self.peek() {
                Some('<') => {
                    problems.push("here-document or here-string".into());
                    self.io.stdin_fed = true;
                    self.pos += 1;
                    if self.peek() == Some('<') {
                        // Here-string: the word is the input.
                        self.pos += 1;
                        self.redirect_word(problems);
                        return;
                    }
                    let strip_tabs = self.peek() == Some('-');
                    if strip_tabs {
                        self.pos += 1;
                    }
                    while matches!(self.peek(), Some(' ' | '\t')) {
                        self.pos += 1;
                    }
                    let quoted = matches!(self.peek(), Some('\'' | '"' | '\\'));
                    let delimiter = self.redirect_word(problems);
                    // A quoted delimiter makes the body literal text (no
                    // expansions run): it is the command's input, skipped.
                    // An unquoted body may run `$(…)`, so it is lexed as
                    // commands: conservative.
                    if quoted && let Some(d) = delimiter {
                        self.heredoc = Some((d.text, strip_tabs));
                    }
                    return;
                }
                Some('&') => {
                    self.pos += 1;
                    self.redirect_word(problems);
                    return;
                }
                Some('>') => {
                    // `<>file`: opened for reading and writing.
                    self.pos += 1;
                    self.redirect_target(problems);
                    return;
                }
                _ => {}
            }
            match self.redirect_word(problems) {
                Some(w) if w.substituted => self.io.stdin_fed = true,
                Some(w) if w.text == "/dev/null" => {}
                Some(w) => {
                    problems.push("input redirection from a file".into());
                    self.io.reads.push(w.text);
                }
                None => problems.push("input redirection without a target".into()),
            }
            return;
        }
        // `>`, `>>`, `>|`, `>&N`, `>&file`
        match self.peek() {
            Some('>') | Some('|') => self.pos += 1,
            Some('&') => {
                self.pos += 1;
                let target = self.redirect_word(problems);
                let is_fd = target
                    .as_ref()
                    .is_some_and(|t| t.text == "-" || t.text.chars().all(|c| c.is_ascii_digit()));
                if !is_fd {
                    problems.push("output redirection to a file".into());
                    self.record_write(target);
                }
                return;
            }
            _ => {}
        }
        self.redirect_target(problems);
    }

    fn redirect_target(&mut self, problems: &mut Vec<String>) {
        let target = self.redirect_word(problems);
        if target.as_ref().is_none_or(|t| t.text != "/dev/null") {
            problems.push("output redirection to a file".into());
            self.record_write(target);
        }
    }

    /// Remember where output goes; a missing target is recorded as an
    /// unknown one (`$?`), which the pipeline treats as outside the sandbox.
    fn record_write(&mut self, target: Option<Word>) {
        self.io.writes.push(match target {
            Some(w) if !w.text.is_empty() => w.text,
            _ => "$?".to_owned(),
        });
    }

    fn redirect_word(&mut self, problems: &mut Vec<String>) -> Option<Word> {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
        if matches!(self.peek(), Some('<' | '>')) && self.peek_at(1) == Some('(') {
            return Some(self.process_substitution(problems));
        }
        match self.word(problems) {
            Token::Word(w) => Some(w),
            _ => None,
        }
    }

    /// Consume up to the matching close; returns the text inside.
    fn take_balanced(&mut self, open: char, close: char) -> String {
        let start = self.pos;
        let mut depth = 1usize;
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '\\' {
                self.pos += 1;
                continue;
            }
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    let end = self.pos - 1;
                    return self.chars[start..end].iter().collect();
                }
            }
        }
        self.pos = self.pos.min(self.chars.len());
        self.chars[start.min(self.chars.len())..].iter().collect()
    }

    fn word(&mut self, problems: &mut Vec<String>) -> Token {
        let substitutions_before = self.substitutions;
        let mut out = String::new();
        let mut inner_scripts: Vec<String> = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '(' | ')' => break,
                '<' | '>' => {
                    // `2>&1`, `2>file`: a number right before is the fd.
                    if !out.is_empty() && out.chars().all(|d| d.is_ascii_digit()) {
                        out.clear();
                        self.redirection(problems);
                        return self.next_token(problems);
                    }
                    break;
                }
                '\\' => {
                    self.pos += 1;
                    if let Some(n) = self.peek() {
                        if n != '\n' {
                            out.push(n);
                        }
                        self.pos += 1;
                    }
                }
                '\'' => {
                    self.pos += 1;
                    let mut closed = false;
                    while let Some(q) = self.peek() {
                        self.pos += 1;
                        if q == '\'' {
                            closed = true;
                            break;
                        }
                        out.push(q);
                    }
                    if !closed {
                        problems.push("unterminated single quote".into());
                    }
                }
                '"' => {
                    self.pos += 1;
                    let mut closed = false;
                    while let Some(q) = self.peek() {
                        self.pos += 1;
                        match q {
                            '"' => {
                                closed = true;
                                break;
                            }
                            '\\' => {
                                if let Some(n) = self.peek() {
                                    self.pos += 1;
                                    if !matches!(n, '"' | '\\' | '$' | '`' | '\n') {
                                        out.push('\\');
                                    }
                                    if n != '\n' {
                                        out.push(n);
                                    }
                                }
                            }
                            '$' => self.dollar(&mut out, &mut inner_scripts, problems),
                            '`' => {
                                problems.push("command substitution with backticks".into());
                                inner_scripts.push(self.take_until('`'));
                            }
                            _ => out.push(q),
                        }
                    }
                    if !closed {
                        problems.push("unterminated double quote".into());
                    }
                }
                '$' => {
                    self.pos += 1;
                    self.dollar(&mut out, &mut inner_scripts, problems);
                }
                '`' => {
                    self.pos += 1;
                    problems.push("command substitution with backticks".into());
                    inner_scripts.push(self.take_until('`'));
                }
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        // Judge the inner scripts of `$(…)` and backticks as well: push them
        // back as a nested token after this word by splitting now.
        let substituted = !inner_scripts.is_empty();
        if !inner_scripts.is_empty() {
            let size: usize = inner_scripts.iter().map(String::len).sum();
            if self.requeued + size > MAX_REQUEUED {
                problems.push("nested substitutions too large to follow".into());
            } else {
                self.requeued += size;
                self.pending_inner(inner_scripts);
            }
        }
        Token::Word(Word {
            text: out,
            substituted: substituted || self.substitutions > substitutions_before,
        })
    }

    /// Nested scripts found inside a word are appended to the input after a
    /// separator so the main loop splits them as separate commands. This
    /// keeps the lexer single-pass and bounded: the appended text is shorter
    /// than the text it came from.
    fn pending_inner(&mut self, scripts: Vec<String>) {
        let rest: Vec<char> = self.chars[self.pos..].to_vec();
        let mut tail: Vec<char> = Vec::new();
        tail.extend(rest);
        for s in scripts {
            tail.push('\n');
            tail.extend(s.chars());
        }
        self.chars.truncate(self.pos);
        self.chars.extend(tail);
    }

    /// After a `$` (already consumed).
    fn dollar(
        &mut self,
        out: &mut String,
        inner_scripts: &mut Vec<String>,
        problems: &mut Vec<String>,
    ) {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                if self.peek() == Some('(') {
                    problems.push("arithmetic expansion".into());
                    self.pos += 1;
                    let _ = self.take_balanced('(', ')');
                    if self.peek() == Some(')') {
                        self.pos += 1;
                    }
                } else {
                    problems.push("command substitution `$( … )`".into());
                    inner_scripts.push(self.take_balanced('(', ')'));
                }
                out.push_str("$(…)");
            }
            Some('{') => {
                self.pos += 1;
                let name = self.take_balanced('{', '}');
                problems.push(format!("parameter expansion `${{{name}}}`"));
                out.push_str(&format!("${{{name}}}"));
            }
            Some(c) if c.is_ascii_alphanumeric() || "_@*#?$!-".contains(c) => {
                let mut name = String::new();
                if c.is_ascii_alphabetic() || c == '_' {
                    while let Some(n) = self.peek() {
                        if n.is_ascii_alphanumeric() || n == '_' {
                            name.push(n);
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                } else {
                    name.push(c);
                    self.pos += 1;
                }
                problems.push(format!("variable expansion `${name}`"));
                out.push('$');
                out.push_str(&name);
            }
            Some('\'') => {
                // $'…' ANSI-C quoting: escapes we do not interpret.
                problems.push("ANSI-C quoting `$'…'`".into());
                self.pos += 1;
                out.push_str(&self.take_until('\''));
            }
            _ => out.push('$'),
        }
    }

    fn take_until(&mut self, end: char) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == end {
                return s;
            }
            if c == '\\'
                && let Some(n) = self.peek()
            {
                self.pos += 1;
                s.push(n);
                continue;
            }
            s.push(c);
        }
        s
    }
}
