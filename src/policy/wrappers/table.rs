//! The wrappers: programs that run another command (`sudo`, `timeout`,
//! `xargs`, …), declared one entry a line in [`WRAPPERS`] with the options
//! that take a value, the operands before the command, what they run and
//! why using them alone is not fully understood. [`wrapped_command`] reads
//! the table; `env` and `find`, too irregular to declare, have their own
//! parser. Imports only [`super`] and [`super::super::hidden_commands`].

use super::Analysis;
use crate::policy::hidden_commands::{COMMAND_VARIABLES, HiddenCommand};

/// Where a wrapper's inner command is.
pub(super) enum Inner {
    /// The inner argv starts at this index.
    Argv(usize),
    /// A shell string the wrapper will run.
    Script(String),
    /// Several commands (`find -exec A ; -exec B ;`).
    Many(Vec<Vec<String>>),
    /// The wrapper runs nothing we can see (e.g. `sudo -i`).
    None,
}

/// What a wrapper runs.
#[derive(Clone, Copy)]
pub(super) enum Runs {
    /// The command after its options and positional skips.
    Command,
    /// The command, unless one of these flags is given: then nothing
    /// (`command -v X` prints where `X` is).
    CommandUnless(&'static [&'static str]),
    /// The value of the first of these options, as a shell script; without
    /// the option, what `Otherwise` says (`su -c SCRIPT`, `flock F -c S`).
    ScriptOption(&'static [&'static str], Otherwise),
    /// Its operands after the options, joined, as a shell script (`watch`).
    JoinedScript,
    /// Parsed by its own function.
    Parsed(Parser),
}

/// A wrapper's own parser: where its command is, pushing problems and the
/// commands its options carry (`env GIT_SSH_COMMAND=…`).
pub(super) type Parser = fn(&[&str], &mut Analysis, &mut Vec<HiddenCommand>) -> Option<Inner>;

/// What a [`Runs::ScriptOption`] wrapper runs without its script option.
#[derive(Clone, Copy)]
pub(super) enum Otherwise {
    Command,
    Nothing,
}

/// One wrapper, or several that parse alike.
pub(super) struct Wrapper {
    /// Program names (basenames).
    pub(super) names: &'static [&'static str],
    /// Options that take a separate value (`sudo -u USER`).
    pub(super) value_options: &'static [&'static str],
    /// Operands between the options and the command (`timeout DURATION`).
    pub(super) positional_skips: usize,
    pub(super) runs: Runs,
    /// Why using it means warden does not fully understand the exec
    /// (`{name}` stands for the program).
    pub(super) problem: Option<&'static str>,
    /// Flags that make it start a shell (a problem).
    pub(super) shell_flags: &'static [&'static str],
}

/// A wrapper that runs the command after its options.
const fn command(
    names: &'static [&'static str],
    value_options: &'static [&'static str],
) -> Wrapper {
    Wrapper {
        names,
        value_options,
        positional_skips: 0,
        runs: Runs::Command,
        problem: None,
        shell_flags: &[],
    }
}

/// A wrapper that takes `n` operands before its command.
const fn after_operands(
    names: &'static [&'static str],
    value_options: &'static [&'static str],
    n: usize,
) -> Wrapper {
    Wrapper {
        positional_skips: n,
        ..command(names, value_options)
    }
}

/// A wrapper that runs what `runs` says.
const fn running(
    names: &'static [&'static str],
    value_options: &'static [&'static str],
    runs: Runs,
) -> Wrapper {
    Wrapper {
        runs,
        ..command(names, value_options)
    }
}

const SCRIPT_OPTION: &[&str] = &["-c", "--command"];

/// Every wrapper warden sees through.
#[rustfmt::skip]
pub(super) const WRAPPERS: &[Wrapper] = &[
    running(&["env"], &[], Runs::Parsed(env)),
    Wrapper { shell_flags: &["-s", "-i", "--shell", "--login"],
        ..command(&["sudo"], &["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "-R"]) },
    command(&["doas"], &["-u", "-C"]),
    Wrapper { problem: Some("`{name}` switches user"),
        ..running(&["su", "runuser"], &[], Runs::ScriptOption(SCRIPT_OPTION, Otherwise::Nothing)) },
    command(&["nice"], &["-n", "--adjustment"]),
    command(&["nohup", "setsid", "unbuffer", "fakeroot", "busybox", "catchsegv"], &[]),
    command(&["time"], &["-f", "-o", "--format", "--output"]),
    command(&["exec"], &["-a"]),
    running(&["command", "builtin"], &[], Runs::CommandUnless(&["-v", "-V"])),
    after_operands(&["timeout"], &["-s", "-k", "--signal", "--kill-after"], 1), // the duration
    command(&["stdbuf"], &["-i", "-o", "-e"]),
    command(&["ionice"], &["-c", "-n", "-p", "-P", "-u"]),
    after_operands(&["taskset"], &[], 1), // the mask
    after_operands(&["chrt"], &["-T", "-P", "-D"], 1), // the priority
    after_operands(&["chroot"], &["--userspec", "--groups"], 1), // the new root
    command(&["unshare", "nsenter"], &["-t", "--target", "-S", "-G"]),
    command(&["strace", "ltrace"], &["-o", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-P", "-S", "-X"]),
    Wrapper { runs: Runs::ScriptOption(SCRIPT_OPTION, Otherwise::Command),
        ..after_operands(&["flock"], &["-w", "--timeout", "-E", "--conflict-exit-code"], 1) }, // the lock file
    running(&["watch"], &["-n", "--interval", "-d", "-q"], Runs::JoinedScript),
    running(&["script"], &[], Runs::ScriptOption(SCRIPT_OPTION, Otherwise::Nothing)),
    Wrapper { problem: Some("`xargs` appends arguments read from its input"),
        ..command(&["xargs"], &["-a", "-d", "-E", "-e", "-I", "-i", "-L", "-l", "-n", "-P", "-s",
            "--arg-file", "--delimiter", "--max-args", "--max-procs"]) },
    Wrapper { problem: Some("`parallel` builds commands from its input"),
        ..command(&["parallel"], &["-j", "--jobs", "-S", "--sshlogin"]) },
    running(&["find"], &[], Runs::Parsed(find)),
];

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

/// If `prog` is a wrapper, where its inner command is. `extra` receives
/// commands carried by the wrapper's own options (the value of
/// `env GIT_SSH_COMMAND=…`).
pub(super) fn wrapped_command(
    prog: &str,
    a: &[&str],
    out: &mut Analysis,
    extra: &mut Vec<HiddenCommand>,
) -> Option<Inner> {
    let wrapper = WRAPPERS.iter().find(|w| w.names.contains(&prog))?;
    if let Runs::Parsed(parse) = wrapper.runs {
        return parse(a, out, extra);
    }
    if let Some(problem) = wrapper.problem {
        out.problems.push(problem.replace("{name}", prog));
    }
    if a.iter().any(|w| wrapper.shell_flags.contains(w)) {
        out.problems.push(format!("`{prog}` starts a shell"));
    }
    let command =
        || Inner::Argv(skip_options(a, 1, wrapper.value_options) + wrapper.positional_skips);
    Some(match wrapper.runs {
        Runs::Command => command(),
        Runs::CommandUnless(flags) if a.iter().any(|w| flags.contains(w)) => Inner::None,
        Runs::CommandUnless(_) => command(),
        Runs::ScriptOption(options, otherwise) => {
            match a.iter().position(|w| options.contains(w)) {
                Some(p) => match a.get(p + 1) {
                    Some(script) => Inner::Script((*script).to_owned()),
                    None => Inner::None,
                },
                None => match otherwise {
                    Otherwise::Command => command(),
                    Otherwise::Nothing => Inner::None,
                },
            }
        }
        Runs::JoinedScript => {
            let i = skip_options(a, 1, wrapper.value_options);
            Inner::Script(a.get(i..).unwrap_or(&[]).join(" "))
        }
        Runs::Parsed(_) => unreachable!("handled above"),
    })
}

/// `env [-u NAME] [NAME=VALUE]… COMMAND`, `env -S STRING`.
fn env(a: &[&str], out: &mut Analysis, extra: &mut Vec<HiddenCommand>) -> Option<Inner> {
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
        } else if let Some((name, value)) = w.split_once('=') {
            if !name.is_empty() {
                out.problems.push(format!(
                    "`env {name}=…` changes the environment of the command it runs"
                ));
            }
            if COMMAND_VARIABLES.contains(&name) && !value.trim().is_empty() {
                extra.push(HiddenCommand::Script(value.to_owned()));
            }
            i += 1;
        } else {
            break;
        }
    }
    Some(Inner::Argv(i))
}

/// `find … -exec COMMAND ;` (also `-execdir`, `-ok`, `-okdir`, and `+`);
/// without one, `find` is no wrapper.
fn find(a: &[&str], out: &mut Analysis, _extra: &mut Vec<HiddenCommand>) -> Option<Inner> {
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
    Some(Inner::Many(inners))
}

#[cfg(test)]
mod tests;
