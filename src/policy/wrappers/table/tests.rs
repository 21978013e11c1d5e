//! Every entry of [`WRAPPERS`] is analysed as it is declared: the command
//! after its value options and positional skips is found and judged as
//! wrapped, its script options are split, its flags and problems recorded.

use std::collections::HashSet;

use super::*;
use crate::policy::wrappers::analyze_exec;

/// The command every case wraps: no wrapper, no hidden command.
const INNER: [&str; 2] = ["make", "all"];

fn analyze(words: &[&str]) -> Analysis {
    analyze_exec(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

/// Whether `words` leads to `make all`, reached through the wrapper.
fn runs_inner(words: &[&str]) -> bool {
    analyze(words)
        .invocations
        .iter()
        .any(|i| i.argv == INNER && i.wrapped)
}

/// `NAME` with every value option given a value, then the positional
/// operands, then `rest`.
fn with_options<'a>(name: &'a str, w: &'a Wrapper, rest: &[&'a str]) -> Vec<&'a str> {
    let mut words = vec![name];
    for option in w.value_options {
        // A value that looks like a command: skipped, never run.
        words.extend([*option, "curl"]);
    }
    words.extend(std::iter::repeat_n("operand", w.positional_skips));
    words.extend(rest);
    words
}

/// Cases for the entries parsed by their own function.
fn parsed_case(name: &str) -> Vec<&'static str> {
    match name {
        "env" => vec!["env", "-u", "HOME", "LANG=C", "make", "all"],
        "find" => vec!["find", ".", "-name", "*.rs", "-exec", "make", "all", ";"],
        other => panic!("no case for the parsed wrapper `{other}`: add one here"),
    }
}

#[test]
fn every_wrapper_runs_what_it_declares() {
    let mut seen = HashSet::new();
    for w in WRAPPERS {
        for &name in w.names {
            assert!(seen.insert(name), "`{name}` is declared twice");
            let direct = with_options(name, w, &INNER);
            match w.runs {
                Runs::Command => assert!(runs_inner(&direct), "{direct:?}"),
                Runs::CommandUnless(flags) => {
                    assert!(runs_inner(&direct), "{direct:?}");
                    for flag in flags {
                        let words = [name, flag, "make", "all"];
                        assert!(!runs_inner(&words), "{words:?}");
                    }
                }
                Runs::ScriptOption(options, otherwise) => {
                    for option in options {
                        let words = with_options(name, w, &[option, "make all && make check"]);
                        assert!(runs_inner(&words), "{words:?}");
                    }
                    let expected = matches!(otherwise, Otherwise::Command);
                    assert_eq!(runs_inner(&direct), expected, "{direct:?}");
                }
                Runs::JoinedScript => {
                    let words = with_options(name, w, &["make", "all;", "make", "check"]);
                    let a = analyze(&words);
                    assert!(a.invocations.iter().any(|i| i.argv == INNER), "{words:?}");
                    assert!(
                        a.invocations.iter().any(|i| i.argv == ["make", "check"]),
                        "{words:?}"
                    );
                }
                Runs::Parsed(_) => {
                    let words = parsed_case(name);
                    assert!(runs_inner(&words), "{words:?}");
                }
            }
            // The wrapper is an invocation of its own, so its rules apply.
            let a = analyze(&direct);
            assert_eq!(a.invocations[0].argv[0], name, "{direct:?}");
            assert!(!a.invocations[0].wrapped);
            // A value option's value is never taken for the command.
            assert!(
                !a.invocations.iter().any(|i| i.argv[0] == "curl"),
                "{direct:?}"
            );
            if let Some(problem) = w.problem {
                let problem = problem.replace("{name}", name);
                assert!(
                    a.problems.contains(&problem),
                    "{direct:?}: {:?}",
                    a.problems
                );
            }
            for flag in w.shell_flags {
                let a = analyze(&[name, flag, "make"]);
                let problem = format!("`{name}` starts a shell");
                assert!(a.problems.contains(&problem), "{name} {flag}");
            }
        }
    }
}

#[test]
fn a_program_outside_the_table_is_no_wrapper() {
    let a = analyze(&["cargo", "make", "all"]);
    assert_eq!(a.invocations.len(), 1);
    assert!(!runs_inner(&["cargo", "make", "all"]));
    assert!(!runs_inner(&["find", ".", "-name", "make"]));
}
