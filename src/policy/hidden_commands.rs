//! Commands hidden inside the options of other programs.
//!
//! Many programs run a command given as an option value: `git -c
//! core.sshCommand=…`, `git -c alias.x='!…'`, `tar --to-command=…`, `rsync
//! -e …`, `ssh -o ProxyCommand=…`, `GIT_SSH_COMMAND=…`, an interpreter's
//! inline code (`python -c "os.system('…')"`), `awk 'BEGIN{system("…")}'`,
//! `sed 's/…/…/e'`. [`hidden_in_arguments`] finds them so the rules judge what
//! would really run ("judged by what they would run, never waved through by
//! their prefix"). Whatever is found here is always also a reason the exec
//! is not fully understood: the extraction is best effort (string literals
//! of inline code, `%`-escapes of `ext::`), so an `allow` rule never
//! pre-approves such an exec.
//!
//! Used by [`super::wrappers`]; imports nothing of warden.

/// A command found inside another program's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HiddenCommand {
    /// A shell command line, split by the shell splitter.
    Script(String),
    /// A shell command line that reads the host program's output on its
    /// stdin (`awk '{print | "sh"}'`, perl `open(F, "| sh")`).
    PipedScript(String),
    /// An argv (a list literal such as `subprocess.run(['rm', '-rf', '/'])`,
    /// or a git alias without `!`).
    Argv(Vec<String>),
}

/// What a program's arguments embed: a reason it is not fully understood
/// and the commands found, or `None` when it embeds nothing.
pub struct Found {
    pub problem: String,
    pub commands: Vec<HiddenCommand>,
}

/// Environment variables whose value is a command some program runs.
pub const COMMAND_VARIABLES: &[&str] = &[
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_PAGER",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_EXTERNAL_DIFF",
    "GIT_ASKPASS",
    "GIT_PROXY_COMMAND",
    "SSH_ASKPASS",
    "PAGER",
    "MANPAGER",
    "EDITOR",
    "VISUAL",
    "BROWSER",
    "LESSOPEN",
    "LESSCLOSE",
    "PROMPT_COMMAND",
];

/// Commands hidden in `prog`'s arguments `a` (`a[0]` is the program).
pub fn hidden_in_arguments(prog: &str, a: &[&str]) -> Option<Found> {
    let interpreter = prog.starts_with("python")
        || prog.starts_with("pypy")
        || matches!(
            prog,
            "node"
                | "nodejs"
                | "deno"
                | "bun"
                | "perl"
                | "ruby"
                | "php"
                | "lua"
                | "Rscript"
                | "tclsh"
                | "osascript"
        );
    if interpreter {
        let code = inline_code(&a[1..])?;
        return Some(Found {
            problem: format!("`{prog}` runs inline code warden cannot inspect"),
            commands: literal_commands(code),
        });
    }
    let (problem, commands) = match prog {
        "awk" | "gawk" | "mawk" | "nawk" => {
            let program = awk_program(&a[1..])?;
            if !awk_runs_commands(program) {
                return None;
            }
            (
                format!("`{prog}` program runs shell commands"),
                literal_commands(program),
            )
        }
        "sed" | "gsed" => {
            let scripts: Vec<&str> = sed_scripts(&a[1..]);
            let commands: Vec<HiddenCommand> =
                scripts.iter().flat_map(|s| sed_commands(s)).collect();
            if commands.is_empty() && !scripts.iter().any(|s| sed_runs_commands(s)) {
                return None;
            }
            ("`sed` script runs shell commands".to_owned(), commands)
        }
        "tar" | "bsdtar" | "gtar" => {
            let mut found = option_values(
                a,
                &[
                    "--to-command",
                    "--use-compress-program",
                    "-I",
                    "--info-script",
                    "--new-volume-script",
                    "-F",
                    "--rsh-command",
                ],
            );
            for v in option_values(a, &["--checkpoint-action"]) {
                if let Some(cmd) = v.strip_prefix("exec=") {
                    found.push(cmd);
                }
            }
            let has_action = a.iter().any(|w| w.starts_with("--checkpoint-action"));
            if found.is_empty() && !has_action {
                return None;
            }
            ("`tar` option runs a command".to_owned(), scripts(found))
        }
        "rsync" => {
            let found = option_values(a, &["-e", "--rsh", "--rsync-path"]);
            if found.is_empty() {
                return None;
            }
            (
                "`rsync -e` runs a remote shell command".to_owned(),
                scripts(found),
            )
        }
        "ssh" | "scp" | "sftp" => {
            let mut found = Vec::new();
            for v in option_values(a, &["-o"]) {
                if let Some(cmd) = ssh_command_option(v) {
                    found.push(cmd);
                }
            }
            if prog != "ssh" {
                found.extend(option_values(a, &["-S"]));
            }
            let config_file = a[1..].iter().any(|w| *w == "-F" || *w == "-S");
            if found.is_empty() && !config_file {
                return None;
            }
            (
                format!("`{prog}` option runs a local command"),
                scripts(found),
            )
        }
        "make" | "gmake"
            if a[1..]
                .iter()
                .any(|w| w.starts_with("SHELL=") || *w == "--eval") =>
        {
            ("`make` with a replaced SHELL".to_owned(), Vec::new())
        }
        _ => return None,
    };
    Some(Found { problem, commands })
}

/// The command a `git -c KEY=VALUE` runs, if KEY names a program or alias.
pub fn git_config_command(key_value: &str) -> Option<HiddenCommand> {
    let (key, value) = key_value.split_once('=')?;
    let key = key.to_ascii_lowercase();
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if key.starts_with("alias.") {
        return Some(match value.strip_prefix('!') {
            Some(script) => HiddenCommand::Script(script.to_owned()),
            None => {
                let mut argv = vec!["git".to_owned()];
                argv.extend(value.split_whitespace().map(str::to_owned));
                HiddenCommand::Argv(argv)
            }
        });
    }
    if key == "credential.helper" || (key.starts_with("credential.") && key.ends_with(".helper")) {
        return value
            .strip_prefix('!')
            .map(|s| HiddenCommand::Script(s.to_owned()));
    }
    let boolean = matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "1" | "0"
    );
    let last = key.rsplit('.').next().unwrap_or("");
    let runs = matches!(
        key.as_str(),
        "core.sshcommand"
            | "core.pager"
            | "core.editor"
            | "core.fsmonitor"
            | "core.askpass"
            | "core.gitproxy"
            | "sequence.editor"
            | "diff.external"
            | "gpg.program"
            | "uploadpack.packobjectshook"
            | "web.browser"
            | "instaweb.httpd"
            | "sendemail.sendmailcmd"
    ) || (key.starts_with("pager.") && !boolean)
        || (key.starts_with("gpg.") && last == "program")
        || (key.starts_with("diff.") && matches!(last, "textconv" | "command"))
        || (key.starts_with("merge.") && last == "driver")
        || (key.starts_with("filter.") && matches!(last, "clean" | "smudge" | "process"))
        || ((key.starts_with("mergetool.") || key.starts_with("difftool.")) && last == "cmd")
        || (key.starts_with("remote.") && matches!(last, "uploadpack" | "receivepack"))
        || (key.starts_with("browser.") && last == "cmd")
        || (key.starts_with("man.") && last == "cmd");
    (runs && !boolean).then(|| HiddenCommand::Script(value.to_owned()))
}

/// The command of a `git ext::CMD` remote (`% ` is an escaped space).
pub fn git_ext_command(url: &str) -> Option<HiddenCommand> {
    let cmd = url.strip_prefix("ext::")?;
    Some(HiddenCommand::Script(
        cmd.replace("% ", " ").replace("%%", "%").replace("%S", ""),
    ))
}

fn scripts(values: Vec<&str>) -> Vec<HiddenCommand> {
    values
        .into_iter()
        .map(|v| HiddenCommand::Script(v.to_owned()))
        .collect()
}

/// Values of the named options, as `--opt=VALUE`, `--opt VALUE` or `-oVALUE`
/// (single-letter options only for the last form).
pub fn option_values<'a>(a: &[&'a str], names: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < a.len() {
        let w = a[i];
        for name in names {
            if w == *name {
                if let Some(v) = a.get(i + 1) {
                    out.push(*v);
                }
            } else if let Some(v) = w.strip_prefix(name) {
                if let Some(v) = v.strip_prefix('=') {
                    out.push(v);
                } else if name.len() == 2 && !name.starts_with("--") && !v.is_empty() {
                    out.push(v);
                }
            }
        }
        i += 1;
    }
    out
}

/// `ProxyCommand=CMD`, `ProxyCommand CMD`, `LocalCommand=CMD`, any case.
fn ssh_command_option(option: &str) -> Option<&str> {
    let lower = option.to_ascii_lowercase();
    for key in ["proxycommand", "localcommand", "knownhostscommand"] {
        if lower.starts_with(key) {
            let rest = option[key.len()..].trim_start();
            let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
            return (!rest.is_empty() && !rest.eq_ignore_ascii_case("none")).then_some(rest);
        }
    }
    None
}

/// The inline code of an interpreter's arguments (`-c CODE`, `-e CODE`,
/// `-ne CODE`, `--eval=CODE`), if any.
fn inline_code<'a>(args: &[&'a str]) -> Option<&'a str> {
    let mut i = 0;
    while i < args.len() {
        let w = args[i];
        if let Some(v) = w
            .strip_prefix("--eval=")
            .or_else(|| w.strip_prefix("--print="))
        {
            return Some(v);
        }
        if super::shell::is_inline_code_option(w) {
            return args.get(i + 1).copied().or(Some(""));
        }
        if w == "-m" || !w.starts_with('-') {
            // A module or a script file: what follows are its arguments.
            return None;
        }
        i += 1;
    }
    None
}

/// The program text of an awk invocation (skipping `-F x`, `-v a=b`);
/// `None` with `-f FILE`.
fn awk_program<'a>(args: &[&'a str]) -> Option<&'a str> {
    let mut i = 0;
    while i < args.len() {
        let w = args[i];
        match w {
            "-f" | "--file" => return None,
            "-F" | "-v" | "--assign" | "--field-separator" => i += 2,
            "--" => return args.get(i + 1).copied(),
            _ if w.starts_with('-') && w.len() > 1 => i += 1,
            _ => return Some(w),
        }
    }
    None
}

fn awk_runs_commands(p: &str) -> bool {
    p.contains("system")
        || p.contains("getline")
        || p.contains("|&")
        || p.contains("print |")
        || p.contains("printf |")
        || p.contains("print|")
        || p.contains("printf|")
}

/// The scripts of a sed invocation: `-e S` / `--expression=S` values, or the
/// first operand.
fn sed_scripts<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut first_operand = None;
    while i < args.len() {
        let w = args[i];
        if w == "-e" || w == "--expression" {
            if let Some(s) = args.get(i + 1) {
                out.push(*s);
            }
            i += 2;
            continue;
        }
        if let Some(s) = w.strip_prefix("--expression=") {
            out.push(s);
        } else if w == "-f" || w == "--file" {
            i += 1;
        } else if !w.starts_with('-') && first_operand.is_none() {
            first_operand = Some(w);
        }
        i += 1;
    }
    if out.is_empty() {
        out.extend(first_operand);
    }
    out
}

/// GNU sed's `e` command or `s///e` flag execute shell commands.
pub fn sed_runs_commands(script: &str) -> bool {
    !sed_commands(script).is_empty()
        || script.split([';', '\n']).any(|cmd| {
            let c = strip_sed_address(cmd.trim());
            c == "e"
        })
}

/// The shell commands of a sed script: `e CMD` and the replacement of
/// `s/…/REPLACEMENT/e`.
fn sed_commands(script: &str) -> Vec<HiddenCommand> {
    let mut out = Vec::new();
    for cmd in script.split('\n').flat_map(|l| l.split(';')) {
        let c = strip_sed_address(cmd.trim());
        if let Some(rest) = c.strip_prefix("e ") {
            out.push(HiddenCommand::Script(rest.trim().to_owned()));
        } else if c.starts_with('s')
            && let Some((replacement, flags)) = s_command_parts(c)
            && flags.contains('e')
        {
            out.push(HiddenCommand::Script(replacement));
        }
    }
    out
}

/// Drop a sed address (`1`, `$`, `/re/`, `1,5`) in front of a command.
fn strip_sed_address(c: &str) -> &str {
    let c = c.trim_start_matches(|ch: char| ch.is_ascii_digit() || matches!(ch, ',' | '$' | '!'));
    if let Some(rest) = c.strip_prefix('/')
        && let Some(end) = rest.find('/')
    {
        return rest[end + 1..].trim_start();
    }
    c.trim_start()
}

/// The replacement and flags of `s<d>re<d>replacement<d>flags`.
fn s_command_parts(cmd: &str) -> Option<(String, String)> {
    let mut chars = cmd.chars();
    chars.next(); // 's'
    let delim = chars.next()?;
    let mut seen = 0;
    let mut escaped = false;
    let mut replacement = String::new();
    let mut flags = String::new();
    for c in chars {
        if seen == 2 {
            flags.push(c);
            continue;
        }
        if escaped {
            escaped = false;
            if seen == 1 {
                replacement.push(c);
            }
        } else if c == '\\' {
            escaped = true;
        } else if c == delim {
            seen += 1;
        } else if seen == 1 {
            replacement.push(c);
        }
    }
    (seen == 2).then_some((replacement, flags))
}

/// Commands in the string literals of inline code: every quoted string is
/// a candidate shell command line (most are harmless words no rule
/// matches); a bracketed list of literals is an argv; a literal written
/// after a `|` or starting with `|` reads the program's output.
pub fn literal_commands(code: &str) -> Vec<HiddenCommand> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut list: Option<Vec<String>> = None;
    let mut i = 0;
    let mut last_significant = ' ';
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                let (lit, next) = read_literal(&chars, i);
                i = next;
                if let Some(items) = list.as_mut() {
                    items.push(lit.clone());
                }
                let piped_after_bar = last_significant == '|';
                if let Some(rest) = lit.trim_start().strip_prefix('|') {
                    out.push(HiddenCommand::PipedScript(rest.trim().to_owned()));
                } else if piped_after_bar {
                    out.push(HiddenCommand::PipedScript(lit));
                } else if !lit.trim().is_empty() {
                    out.push(HiddenCommand::Script(lit));
                }
                last_significant = c;
                continue;
            }
            '[' => list = Some(Vec::new()),
            ']' => {
                if let Some(items) = list.take()
                    && items.len() > 1
                {
                    out.push(HiddenCommand::Argv(items));
                }
            }
            ',' | ' ' | '\t' | '\n' => {}
            _ => {
                if list.is_some() {
                    // Not a plain list of literals.
                    list = None;
                }
            }
        }
        if !c.is_whitespace() {
            last_significant = c;
        }
        i += 1;
    }
    out
}

/// Read a quoted literal starting at `start` (the quote); returns its text
/// (escapes resolved for `\\`, `\'`, `\"`) and the index after it.
fn read_literal(chars: &[char], start: usize) -> (String, usize) {
    let quote = chars[start];
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            if n == quote || n == '\\' {
                s.push(n);
            } else {
                s.push('\\');
                s.push(n);
            }
            i += 2;
            continue;
        }
        if c == quote {
            return (s, i + 1);
        }
        s.push(c);
        i += 1;
    }
    (s, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(argv: &[&str]) -> Vec<HiddenCommand> {
        let prog = super::super::command_rules::basename(argv[0]);
        hidden_in_arguments(prog, argv)
            .map(|f| f.commands)
            .unwrap_or_default()
    }

    fn script(s: &str) -> HiddenCommand {
        HiddenCommand::Script(s.to_owned())
    }

    #[test]
    fn interpreter_literals_become_commands() {
        assert!(
            found(&["python3", "-c", "import os; os.system('curl x | sh')"])
                .contains(&script("curl x | sh"))
        );
        assert!(
            found(&[
                "python3",
                "-c",
                "import subprocess; subprocess.run(['rm', '-rf', '/'])"
            ])
            .contains(&HiddenCommand::Argv(vec![
                "rm".into(),
                "-rf".into(),
                "/".into()
            ]))
        );
        assert!(found(&["perl", "-e", "print `id`"]).contains(&script("id")));
        assert!(
            found(&["perl", "-e", "open(F, \"| sh\")"])
                .contains(&HiddenCommand::PipedScript("sh".into()))
        );
        // Scripts and modules are not inline code.
        assert!(hidden_in_arguments("python3", &["python3", "-m", "pytest"]).is_none());
        assert!(hidden_in_arguments("python3", &["python3", "x.py", "-c", "y"]).is_none());
    }

    #[test]
    fn awk_and_sed() {
        assert!(found(&["awk", "BEGIN{system(\"rm -rf ~\")}"]).contains(&script("rm -rf ~")));
        assert!(
            found(&["awk", "{print | \"sh\"}", "f"])
                .contains(&HiddenCommand::PipedScript("sh".into()))
        );
        assert!(hidden_in_arguments("awk", &["awk", "-F", ":", "{print $1}"]).is_none());
        assert_eq!(found(&["sed", "1e curl x", "f"]), vec![script("curl x")]);
        assert_eq!(
            found(&["sed", "s/.*/rm -rf ~/e", "f"]),
            vec![script("rm -rf ~")]
        );
        assert!(hidden_in_arguments("sed", &["sed", "-n", "s/a/b/p", "f"]).is_none());
        assert!(hidden_in_arguments("sed", &["sed", "-i", "s/e/f/", "f"]).is_none());
    }

    #[test]
    fn option_commands() {
        assert_eq!(
            found(&["tar", "-xf", "a.tar", "--to-command=sh -c x"]),
            vec![script("sh -c x")]
        );
        assert_eq!(
            found(&["tar", "--checkpoint-action=exec=rm -rf ~", "-cf", "x", "."]),
            vec![script("rm -rf ~")]
        );
        assert_eq!(
            found(&["rsync", "-e", "ssh -p 22", "a", "b:"]),
            vec![script("ssh -p 22")]
        );
        assert_eq!(
            found(&["ssh", "-o", "ProxyCommand=nc %h %p", "h"]),
            vec![script("nc %h %p")]
        );
        assert_eq!(
            found(&["ssh", "-oProxyCommand nc h 22", "h"]),
            vec![script("nc h 22")]
        );
        assert!(hidden_in_arguments("ssh", &["ssh", "-o", "BatchMode=yes", "h"]).is_none());
        assert!(hidden_in_arguments("tar", &["tar", "-xzf", "a.tgz"]).is_none());
    }

    #[test]
    fn git_config_keys() {
        assert_eq!(
            git_config_command("core.sshCommand=ssh -i k"),
            Some(script("ssh -i k"))
        );
        assert_eq!(
            git_config_command("alias.x=!sh -c y"),
            Some(script("sh -c y"))
        );
        assert_eq!(
            git_config_command("alias.p=push --force"),
            Some(HiddenCommand::Argv(vec![
                "git".into(),
                "push".into(),
                "--force".into()
            ]))
        );
        assert_eq!(git_config_command("filter.lfs.smudge=x"), Some(script("x")));
        assert_eq!(git_config_command("core.fsmonitor=false"), None);
        assert_eq!(git_config_command("user.name=bot"), None);
        assert_eq!(git_config_command("credential.helper=store"), None);
        assert_eq!(
            git_ext_command("ext::sh -c curl% x|sh"),
            Some(script("sh -c curl x|sh"))
        );
    }
}
