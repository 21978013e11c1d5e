//! The exceptions table against spellings an attacker would try, and the
//! near-misses that must keep their pre-approval; then through the
//! pipeline of a built-in profile, with a run's real start snapshot.

use std::path::Path;

use super::*;
use crate::action::Action;
use crate::config::{LoadOptions, load};
use crate::decision::{Category, Decision, Outcome};
use crate::policy::paths::PathContext;
use crate::policy::pipeline::{Pipeline, Prejudged};

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn pipeline(profile: &str, workspace: &Path) -> Pipeline {
    let config = load(&LoadOptions::builtin(profile)).unwrap().config;
    Pipeline::new(
        &config,
        PathContext {
            workspace: workspace.to_path_buf(),
            home: workspace.join("home"),
        },
    )
    .unwrap()
}

/// `exception` for one argv in `workspace`, with a network grant.
fn why(p: &Pipeline, argv: &[String], writes: &RunWrites) -> Option<String> {
    let ws = p.path_policy().ctx.workspace.clone();
    let inv = crate::policy::wrappers::analyze_exec(argv).invocations;
    let search = SearchPath::new(p.path_policy());
    let ctx = ExecContext::new(p.path_policy(), &search, &ws, writes, &inv);
    exception(argv, true, None, &ctx)
}

/// The reason and every trace step (a dev crossing awaits the reviewer,
/// so its reason is still "pending").
fn said(d: &Decision) -> String {
    let steps: Vec<&str> = d.trace.iter().map(|t| t.detail.as_str()).collect();
    format!("{} | {}", d.reason, steps.join(" | "))
}

fn decide(p: &Pipeline, argv: &[String], writes: &RunWrites) -> Decision {
    let action = Action::Exec {
        command: argv.to_vec(),
        cwd: None,
        escalate: None,
    };
    match p.prejudge_in_run(&action, writes) {
        Prejudged::Final(d) | Prejudged::NeedsReviewer(d) => d,
    }
}

#[test]
fn every_spelling_of_a_redirecting_option_is_an_exception() {
    let ws = tempfile::tempdir().unwrap();
    let p = pipeline("dev", ws.path());
    let none = RunWrites::nothing();
    for (cmd, named) in [
        (
            "cargo fetch --config source.crates-io.replace-with=\"x\"",
            "--config",
        ),
        (
            "cargo update --config=net.git-fetch-with-cli=true",
            "--config",
        ),
        ("cargo fetch -Zunstable-options --config x.toml", "-Z"),
        ("cargo fetch -Z unstable-options", "-Z"),
        (
            "cargo fetch --manifest-path /tmp/x/Cargo.toml",
            "--manifest-path",
        ),
        ("npm ci --registry=https://x.example/", "--registry"),
        ("npm ci --reg https://x.example/", "--registry"),
        ("npm ci -registry=https://x.example/", "--registry"),
        ("npm ci --@corp:registry=https://x.example/", "--@*"),
        ("npm ci --userconfig /tmp/npmrc", "--userconfig"),
        ("npm ci --no-strict-ssl", "--strict-ssl"),
        ("npm ci --script-shell /tmp/sh", "--script-shell"),
        (
            "pnpm install --config.registry=https://x.example/",
            "--config.*",
        ),
        (
            "pip install --index-url=https://x.example/simple x",
            "--index-url",
        ),
        (
            "pip install --index https://x.example/simple x",
            "--index-url",
        ),
        ("pip install -ihttps://x.example/simple x", "-i"),
        ("pip install -qi https://x.example/simple x", "-i"),
        (
            "pip install --extra-index-url https://x.example/ x",
            "--extra-index-url",
        ),
        ("pip install -f https://x.example/links x", "-f"),
        ("pip install --find-links=./wheels x", "--find-links"),
        ("pip install --trusted-host x.example x", "--trusted-host"),
        ("pip install -e .", "-e"),
        (
            "pip3 install --editable git+https://x.example/r",
            "--editable",
        ),
        ("go mod download -modfile=/tmp/go.mod", "-modfile"),
        ("go mod download --modfile /tmp/go.mod", "-modfile"),
    ] {
        let got = why(&p, &words(cmd), &none).unwrap_or_else(|| panic!("{cmd}: no exception"));
        assert!(got.contains(&format!("`{named}`")), "{cmd}: {got}");
    }
}

#[test]
fn operands_that_are_not_registry_names_are_exceptions() {
    let ws = tempfile::tempdir().unwrap();
    let p = pipeline("dev", ws.path());
    let none = RunWrites::nothing();
    for cmd in [
        "pip install .",
        "pip install ./dir",
        "pip install ../sibling",
        "pip install /tmp/pkg",
        "pip install file:///tmp/pkg",
        "pip install git+https://x.example/r.git",
        "pip install pkg-1.0-py3-none-any.whl",
        "pip install x.example/pkg.tar.gz",
        "npm install https://x.example/p.tgz",
        "npm install user/repo",
        "npm install pkg@github:user/repo",
        "npm install @scope/pkg@file:../x",
        "npm install ./local-pkg",
        "uv pip install ./dir",
    ] {
        let got = why(&p, &words(cmd), &none).unwrap_or_else(|| panic!("{cmd}: no exception"));
        assert!(got.contains("the operand"), "{cmd}: {got}");
    }
}

#[test]
fn routine_commands_keep_their_preapproval() {
    let ws = tempfile::tempdir().unwrap();
    let p = pipeline("dev", ws.path());
    let none = RunWrites::nothing();
    for cmd in [
        "cargo fetch",
        "cargo fetch --locked",
        "cargo update -p serde --precise 1.0.200",
        "cargo build --locked --release -p my-crate",
        "npm ci",
        "npm ci --ignore-scripts --no-audit --prefer-offline",
        "npm install --save-dev typescript @types/node@20",
        "pnpm install --frozen-lockfile",
        "pip install requests==2.32.0 'urllib3<3'",
        "pip install -U pip",
        "pip install -t vendor/ requests",
        "pip install --no-index --no-deps requests",
        "go mod download -x",
        "cargo test -- --config not-cargo",
    ] {
        assert_eq!(why(&p, &words(cmd), &none), None, "{cmd}");
    }
}

#[test]
fn assignments_given_through_env_or_export_are_exceptions() {
    let ws = tempfile::tempdir().unwrap();
    let p = pipeline("dev", ws.path());
    let none = RunWrites::nothing();
    for (cmd, var) in [
        (
            "env CARGO_REGISTRIES_CRATES_IO_PROTOCOL=git cargo fetch",
            "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
        ),
        (
            "env CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER=/tmp/r cargo test",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
        ),
        ("env RUSTC_WRAPPER=/tmp/w cargo build", "RUSTC_WRAPPER"),
        (
            "export npm_config_registry=https://x.example/ && npm ci",
            "npm_config_registry",
        ),
        (
            "env NPM_CONFIG_REGISTRY=https://x.example/ npm ci",
            "NPM_CONFIG_REGISTRY",
        ),
        (
            "env PIP_INDEX_URL=https://x.example/ pip install x",
            "PIP_INDEX_URL",
        ),
        (
            "env GOFLAGS=-modfile=/tmp/go.mod go mod download",
            "GOFLAGS",
        ),
        ("env GOPROXY=https://x.example go mod download", "GOPROXY"),
        (
            "env HTTPS_PROXY=http://x.example:3128 cargo fetch",
            "HTTPS_PROXY",
        ),
    ] {
        let argv = vec!["bash".to_owned(), "-c".to_owned(), cmd.to_owned()];
        let invocations = crate::policy::wrappers::analyze_exec(&argv).invocations;
        let ws_path = ws.path().to_path_buf();
        let search = SearchPath::new(p.path_policy());
        let ctx = ExecContext::new(p.path_policy(), &search, &ws_path, &none, &invocations);
        let target = invocations
            .iter()
            .rfind(|i| !matches!(i.argv[0].as_str(), "env" | "export"))
            .unwrap();
        let got = exception(&target.argv, true, None, &ctx)
            .unwrap_or_else(|| panic!("{cmd}: no exception in {invocations:?}"));
        assert!(got.contains(var), "{cmd}: {got}");

        // Through the pipeline such a command was never pre-approved (a
        // wrapper, an assignment): it runs sandboxed, without the grants.
        let d = decide(&p, &argv, &none);
        assert_eq!(d.outcome, Outcome::Run, "{cmd}: {}", said(&d));
        assert!(d.grants.is_empty(), "{cmd}");
    }
    // A harmless one changes nothing.
    let argv = vec![
        "bash".into(),
        "-c".into(),
        "CARGO_TERM_COLOR=always cargo fetch".into(),
    ];
    assert_eq!(decide(&p, &argv, &none).outcome, Outcome::Approve);
}

#[test]
fn a_requirements_file_is_read_and_judged_line_by_line() {
    let ws = tempfile::tempdir().unwrap();
    let p = pipeline("dev", ws.path());
    let none = RunWrites::nothing();
    let write = |name: &str, text: &str| std::fs::write(ws.path().join(name), text).unwrap();
    write(
        "requirements.txt",
        "# pinned\nrequests==2.32.0 \\\n    --hash=sha256:abc\nurllib3<3 ; python_version >= \"3.8\"  # why\n",
    );
    write(
        "index.txt",
        "--index-url https://x.example/simple\nrequests\n",
    );
    write("nested.txt", "-r other.txt\n");
    write("direct.txt", "pkg @ https://x.example/pkg.whl\n");
    write("local.txt", "./vendor/pkg\n");
    write("vars.txt", "${EXTRA}\n");
    assert_eq!(
        why(&p, &words("pip install -r requirements.txt"), &none),
        None
    );
    assert_eq!(
        why(&p, &words("pip install -rrequirements.txt"), &none),
        None
    );
    assert_eq!(
        why(
            &p,
            &words("pip install --requirement=requirements.txt"),
            &none
        ),
        None
    );
    for (cmd, said) in [
        ("pip install -r index.txt", "sets `--index-url`"),
        ("pip install -c index.txt requests", "sets `--index-url`"),
        ("pip install -r nested.txt", "sets `-r`"),
        ("pip install -r direct.txt", "a URL"),
        ("pip install -r local.txt", "a local path"),
        ("pip install -r vars.txt", "environment variable"),
        ("pip install -r missing.txt", "cannot be read"),
        ("pip install -r", "without a file"),
    ] {
        let got = why(&p, &words(cmd), &none).unwrap_or_else(|| panic!("{cmd}: no exception"));
        assert!(got.contains(said), "{cmd}: {got}");
    }
}

#[test]
fn a_program_inside_a_writable_root_is_never_preapproved() {
    let ws = tempfile::tempdir().unwrap();
    let p = pipeline("dev", ws.path());
    let none = RunWrites::nothing();
    let got = why(&p, &words("./pip install requests"), &none).unwrap();
    assert!(got.contains("could have replaced"), "{got}");
    let got = why(&p, &words(".venv/bin/pip install requests"), &none).unwrap();
    assert!(got.contains(".venv/bin/pip"), "{got}");
    // Outside every writable root: the tool the runner installed.
    assert_eq!(
        why(&p, &words("/usr/bin/pip install requests"), &none),
        None
    );
}

#[test]
fn inputs_the_agent_wrote_in_this_run_void_the_preapproval() {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path();
    std::fs::write(root.join("package.json"), "{}").unwrap();
    std::fs::write(root.join("package-lock.json"), "{}").unwrap();
    std::fs::write(root.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    let p = pipeline("dev", root);
    let writes = RunWrites::at_start(root);
    let npm_ci = words("npm ci");
    assert_eq!(decide(&p, &npm_ci, &writes).outcome, Outcome::Approve);
    assert_eq!(
        decide(&p, &words("cargo fetch"), &writes).outcome,
        Outcome::Approve
    );

    // The agent rewrites the lockfile with a `resolved` URL of its own.
    std::fs::write(
        root.join("package-lock.json"),
        r#"{"packages":{"node_modules/x":{"resolved":"https://x.example/x.tgz"}}}"#,
    )
    .unwrap();
    let d = decide(&p, &npm_ci, &writes);
    assert_eq!(d.category, Some(Category::SandboxApproval));
    assert_ne!(d.outcome, Outcome::Approve);
    assert!(
        said(&d).contains("`package-lock.json` was written"),
        "{}",
        said(&d)
    );
    // cargo's inputs did not change.
    assert_eq!(
        decide(&p, &words("cargo fetch"), &writes).outcome,
        Outcome::Approve
    );

    // A config file created in a subdirectory redirects cargo there.
    std::fs::create_dir_all(root.join("sub/.cargo")).unwrap();
    std::fs::write(
        root.join("sub/.cargo/config.toml"),
        "[source.crates-io]\nreplace-with = \"x\"\n",
    )
    .unwrap();
    let d = decide(&p, &words("cargo fetch"), &writes);
    assert!(said(&d).contains("sub/.cargo/config.toml"), "{}", said(&d));

    // Leaving the workspace leaves what the snapshot knows.
    let fresh = RunWrites::at_start(root);
    let outside = tempfile::tempdir().unwrap();
    let action = Action::Exec {
        command: npm_ci.clone(),
        cwd: Some(outside.path().to_path_buf()),
        escalate: None,
    };
    let d = match p.prejudge_in_run(&action, &fresh) {
        Prejudged::Final(d) | Prejudged::NeedsReviewer(d) => d,
    };
    assert!(said(&d).contains("cannot tell"), "{}", said(&d));
    // `cd` has no allow rule, so a script that moves is never pre-approved.
    let argv = vec!["bash".into(), "-c".into(), "cd /tmp && npm ci".into()];
    let d = decide(&p, &argv, &fresh);
    assert!(
        d.grants.is_empty() && d.outcome == Outcome::Run,
        "{}",
        said(&d)
    );
    // Outside a run (`warden check`) nothing was written.
    assert_eq!(
        decide(&p, &npm_ci, &RunWrites::nothing()).outcome,
        Outcome::Approve
    );
}

#[test]
fn under_ci_a_withheld_build_grant_is_an_auto_rejected_sandbox_approval() {
    let ws = tempfile::tempdir().unwrap();
    let p = pipeline("ci", ws.path());
    let none = RunWrites::nothing();
    let argv = vec![
        "cargo".to_owned(),
        "test".to_owned(),
        "--config".to_owned(),
        "target.x86_64-unknown-linux-gnu.runner=\"sh -c 'id'\"".to_owned(),
    ];
    let d = decide(&p, &argv, &none);
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.category, Some(Category::SandboxApproval));
    assert!(d.reason.contains("`--config`"), "{}", d.reason);
    // The network-only inputs do not matter to a build grant.
    let d = decide(
        &p,
        &words("cargo test --manifest-path sub/Cargo.toml"),
        &none,
    );
    assert_eq!(d.outcome, Outcome::Approve, "{}", d.reason);
    assert_eq!(
        decide(&p, &words("cargo build --locked"), &none).outcome,
        Outcome::Approve
    );
}

#[test]
fn an_earlier_command_of_the_same_script_may_write_a_fetch_inputs() {
    let ws = tempfile::tempdir().unwrap();
    let p = pipeline("dev", ws.path());
    let none = RunWrites::nothing();
    let script = |s: &str| vec!["bash".to_owned(), "-c".to_owned(), s.to_owned()];
    let d = decide(&p, &script("npm install left-pad && npm ci"), &none);
    assert_ne!(d.outcome, Outcome::Approve);
    assert!(
        said(&d).contains("earlier in the same script"),
        "{}",
        said(&d)
    );
    // First in the script, or a build grant: unaffected.
    let d = decide(&p, &script("npm ci && npm test"), &none);
    assert_eq!(d.outcome, Outcome::Approve, "{}", said(&d));
    let d = decide(&p, &script("cargo build && cargo test"), &none);
    assert_eq!(d.outcome, Outcome::Approve, "{}", said(&d));
}
