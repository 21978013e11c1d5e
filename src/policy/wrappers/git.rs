//! A git invocation as the rules see it: global options removed (`git -C
//! dir push` → `git push`), every `-c KEY=VALUE` setting also an invocation
//! of its own, and the programs that settings, `--upload-pack`, `clone -u`
//! or `ext::` remotes would run collected to be judged. Imports only
//! [`crate::policy::hidden_commands`].

use crate::policy::hidden_commands::{HiddenCommand, git_config_command, git_ext_command};

/// A git invocation as the rules see it.
pub(super) struct Git {
    /// Global options removed: `git -C dir --no-pager push …` → `git push …`.
    pub(super) argv: Vec<String>,
    /// `git -c KEY=VALUE` for every setting given on the command line, so
    /// rules can judge the setting (`git -c core.sshCommand=…`).
    pub(super) settings: Vec<Vec<String>>,
    /// Commands those settings or options would run.
    pub(super) hidden: Vec<HiddenCommand>,
    pub(super) problems: Vec<String>,
}

/// Normalise a git invocation. Options that let git run arbitrary programs
/// are problems, and the programs they name are judged as well.
pub(super) fn normalize_git(a: &[&str]) -> Git {
    let mut git = Git {
        argv: vec![a[0].to_owned()],
        settings: Vec::new(),
        hidden: Vec::new(),
        problems: Vec::new(),
    };
    let setting = |git: &mut Git, kv: &str| {
        git.problems.push(format!(
            "`git -c {}` can make git run arbitrary programs",
            kv.split_once('=').map_or(kv, |(k, _)| k)
        ));
        let normalized = match kv.split_once('=') {
            Some((k, v)) => format!("{}={v}", git_key_lowercase(k)),
            None => git_key_lowercase(kv),
        };
        git.settings
            .push(vec![a[0].to_owned(), "-c".to_owned(), normalized]);
        git.hidden.extend(git_config_command(kv));
    };
    let mut i = 1;
    while i < a.len() {
        let w = a[i];
        match w {
            "-C" | "--git-dir" | "--work-tree" | "--namespace" | "--super-prefix" => i += 2,
            "-c" => {
                setting(&mut git, a.get(i + 1).unwrap_or(&""));
                i += 2;
            }
            "--config-env" => {
                setting(&mut git, a.get(i + 1).unwrap_or(&""));
                i += 2;
            }
            _ if w.starts_with("--exec-path") => {
                git.problems
                    .push("`git --exec-path` runs programs from another directory".into());
                i += 1;
            }
            _ if w.starts_with("--config-env=") => {
                setting(&mut git, &w["--config-env=".len()..]);
                i += 1;
            }
            _ if w.starts_with("--git-dir=")
                || w.starts_with("--work-tree=")
                || w.starts_with("--namespace=") =>
            {
                i += 1
            }
            _ if w.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let sub = a.get(i).copied().unwrap_or("");
    let mut j = i;
    while j < a.len() {
        let w = a[j];
        let program_option = ["--upload-pack", "--receive-pack", "--exec"]
            .iter()
            .find(|o| w == **o || w.starts_with(&format!("{o}=")));
        if let Some(o) = program_option {
            git.problems
                .push(format!("`git {sub} {o}` runs the program it names"));
            let value = match w.split_once('=') {
                Some((_, v)) => Some(v),
                None => a.get(j + 1).copied(),
            };
            git.hidden
                .extend(value.map(|v| HiddenCommand::Script(v.to_owned())));
        } else if w == "-u" && sub == "clone" {
            git.problems
                .push("`git clone -u` runs the program it names".into());
            git.hidden
                .extend(a.get(j + 1).map(|v| HiddenCommand::Script((*v).to_owned())));
        } else if let Some(e) = git_ext_command(w) {
            git.problems
                .push("`ext::` remotes run a command as the transport".into());
            git.hidden.push(e);
        } else if (sub == "clone" || sub == "submodule")
            && (w == "--config" || (w == "-c" && j > i))
        {
            if let Some(kv) = a.get(j + 1) {
                setting(&mut git, kv);
            }
        } else if let Some(kv) = w.strip_prefix("--config=") {
            setting(&mut git, kv);
        }
        if sub == "config" && j > i && !w.starts_with('-') && w.contains('.') {
            // Section and variable names are case-insensitive in git; rules
            // are written in lower case.
            git.argv.push(git_key_lowercase(w));
        } else {
            git.argv.push(w.to_owned());
        }
        j += 1;
    }
    git
}

/// `Core.HooksPath` → `core.hookspath`; the subsection of
/// `http.<url>.extraHeader` keeps its case, as git does.
fn git_key_lowercase(key: &str) -> String {
    match (key.find('.'), key.rfind('.')) {
        (Some(first), Some(last)) => format!(
            "{}{}{}",
            key[..first].to_ascii_lowercase(),
            &key[first..last],
            key[last..].to_ascii_lowercase()
        ),
        _ => key.to_ascii_lowercase(),
    }
}
