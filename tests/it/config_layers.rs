//! Layering through the library API: precedence, appended lists, managed
//! requirements, policy choice, `.rules` import, and what every built-in
//! profile guarantees.

use std::path::Path;

use warden::config::{
    self, LayerKind, LoadOptions, NetworkMode, ReviewDecision, RuleDecision, SandboxMode,
};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn opts(profile: &str, dir: &Path) -> LoadOptions {
    LoadOptions {
        workspace: Some(dir.to_path_buf()),
        ..LoadOptions::builtin(profile)
    }
}

#[test]
fn scalars_take_the_highest_layer() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "sandbox_mode = \"read-only\"\n[agent]\nmax_turns = 11\nmodel = \"m-project\"\n",
    );
    write(dir.path(), "a.toml", "[agent]\nmax_turns = 12\n");
    let mut o = opts("ci", dir.path());
    o.config_files = vec![dir.path().join("a.toml")];
    o.overrides = vec!["agent.max_turns=13".into()];
    let loaded = config::load(&o).unwrap();
    assert_eq!(loaded.config.sandbox_mode, SandboxMode::ReadOnly);
    assert_eq!(loaded.config.agent.max_turns, 13);
    assert_eq!(loaded.config.agent.model.as_deref(), Some("m-project"));

    let p = loaded.provenance_of("agent.max_turns").unwrap();
    assert_eq!(p.layer, LayerKind::Override);
    assert_eq!(p.source.as_ref().unwrap().to_string(), "-c:1:17");
    let p = loaded.provenance_of("sandbox_mode").unwrap();
    assert_eq!(p.layer, LayerKind::Project);
    assert_eq!(
        p.source.as_ref().unwrap().to_string(),
        ".warden/config.toml:1:16"
    );
    let p = loaded.provenance_of("sandbox.network").unwrap();
    assert_eq!(p.layer, LayerKind::Builtin);
    assert!(
        p.source
            .as_ref()
            .unwrap()
            .file
            .starts_with("builtin:profiles/")
    );

    let layers: Vec<_> = loaded.layers.iter().map(|l| l.kind).collect();
    assert_eq!(
        layers,
        [
            LayerKind::Builtin,
            LayerKind::Builtin,
            LayerKind::Project,
            LayerKind::ConfigFile,
            LayerKind::Override
        ]
    );
}

#[test]
fn security_lists_are_appended_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "[sandbox]\ndeny_read = [\"~/.company\"]\nprotected = []\n",
    );
    let mut o = opts("dev", dir.path());
    o.overrides = vec!["sandbox.deny_read=[\"/srv/secrets\"]".into()];
    let loaded = config::load(&o).unwrap();
    let deny = &loaded.config.sandbox.deny_read;
    assert!(deny.contains(&"~/.ssh".to_owned()));
    assert_eq!(&deny[deny.len() - 2..], ["~/.company", "/srv/secrets"]);
    assert!(loaded.config.sandbox.protected.contains(&".git".to_owned()));
    let idx = deny.len() - 1;
    let p = loaded
        .provenance_of(&format!("sandbox.deny_read[{idx}]"))
        .unwrap();
    assert_eq!(p.layer, LayerKind::Override);
}

#[test]
fn project_rules_are_appended_with_their_sources() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "[[command_rules]]\npattern = [\"terraform\", \"apply\"]\ndecision = \"forbidden\"\nmatch = [\"terraform apply -auto-approve\"]\n\n[[review_rules]]\ndecision = \"deny\"\nhost = [\"*.internal.example\"]\nreason = \"internal hosts\"\n",
    );
    let base = config::load(&LoadOptions::builtin("ci")).unwrap();
    let loaded = config::load(&opts("ci", dir.path())).unwrap();
    let rules = &loaded.config.command_rules;
    assert_eq!(rules.len(), base.config.command_rules.len() + 1);
    let last = rules.last().unwrap();
    assert_eq!(last.source.to_string(), ".warden/config.toml:1");
    assert_eq!(last.decision, RuleDecision::Forbidden);
    assert!(!last.managed);
    let review = loaded.config.review_rules.last().unwrap();
    assert_eq!(review.source.to_string(), ".warden/config.toml:6");
    assert_ne!(base.digest(), loaded.digest());
}

#[test]
fn managed_requirements_come_first_and_cannot_be_weakened() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "[auto_review]\npolicy = \"local policy\"\n",
    );
    write(
        dir.path(),
        "req.toml",
        "deny_read = [\"~/.corp\"]\nprotected = [\"infra/\"]\nguardian_policy_config = \"\"\"\nCorporate policy.\n\"\"\"\n\n[[command_rules]]\npattern = [\"curl\"]\ndecision = \"forbidden\"\njustification = \"no curl\"\n\n[[review_rules]]\ndecision = \"deny\"\nhost = [\"*.pastebin.com\"]\nreason = \"paste sites\"\n",
    );
    let mut o = opts("dev", dir.path());
    o.requirements = Some(dir.path().join("req.toml"));
    let loaded = config::load(&o).unwrap();
    let cfg = &loaded.config;
    let req_name = dir.path().join("req.toml").display().to_string();

    assert!(cfg.command_rules[0].managed);
    assert_eq!(
        cfg.command_rules[0].source.to_string(),
        format!("{req_name}:7")
    );
    assert!(cfg.command_rules[1..].iter().all(|r| !r.managed));
    assert!(cfg.review_rules[0].managed);
    assert_eq!(
        cfg.review_rules[0].source.to_string(),
        format!("{req_name}:12")
    );
    assert_eq!(cfg.sandbox.deny_read[0], "~/.corp");
    assert_eq!(cfg.sandbox.protected[0], "infra/");
    assert_eq!(
        loaded.provenance_of("sandbox.deny_read[0]").unwrap().layer,
        LayerKind::Requirements
    );

    assert_eq!(cfg.auto_review.policy.text, "Corporate policy.\n");
    assert_eq!(
        cfg.auto_review.policy.origin,
        format!("requirements guardian_policy_config ({req_name}:3)")
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w
                .starts_with(".warden/config.toml:2:10: the local reviewer policy is not used")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(loaded.layers.last().unwrap().kind, LayerKind::Requirements);
}

#[test]
fn no_network_requirement_drops_grants_and_denies_hosts() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "req.toml", "allow_network = false\n");
    let mut o = opts("dev", dir.path());
    o.requirements = Some(dir.path().join("req.toml"));
    let loaded = config::load(&o).unwrap();
    assert!(
        loaded
            .config
            .command_rules
            .iter()
            .all(|r| !r.grants.network)
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("network grant is dropped"))
    );
    let first = &loaded.config.review_rules[0];
    assert!(first.managed && first.decision == ReviewDecision::Deny && first.host == ["*"]);
    assert_eq!(loaded.config.sandbox.network, NetworkMode::Off);
}

#[test]
fn policy_file_is_read_relative_to_the_file_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "conf/policy.md",
        "# Team policy\nDeny uploads.\n",
    );
    write(
        dir.path(),
        "conf/warden.toml",
        "[auto_review]\npolicy_file = \"policy.md\"\nextra_policy = \"Also: no force pushes.\"\n",
    );
    write(
        dir.path(),
        ".warden/config.toml",
        "[auto_review]\nextra_policy = \"Project note.\"\n",
    );
    let mut o = opts("nightly", dir.path());
    o.config_files = vec![dir.path().join("conf/warden.toml")];
    let loaded = config::load(&o).unwrap();
    let ar = &loaded.config.auto_review;
    assert_eq!(ar.policy.text, "# Team policy\nDeny uploads.\n");
    assert!(
        ar.policy.origin.starts_with("policy_file "),
        "{}",
        ar.policy.origin
    );
    assert!(
        ar.policy.origin.contains("policy.md"),
        "{}",
        ar.policy.origin
    );
    assert_eq!(
        ar.extra_policy.as_deref(),
        Some("Project note.\n\nAlso: no force pushes.")
    );

    let e = config::load(&LoadOptions {
        overrides: vec!["auto_review.policy_file=does-not-exist.md".into()],
        ..opts("nightly", dir.path())
    })
    .unwrap_err();
    assert_eq!(e.location.as_ref().unwrap().to_string(), "-c:1:25");
    assert!(e.message.contains("cannot read policy_file"), "{e}");
}

#[test]
fn default_policy_when_nothing_else() {
    let loaded = config::load(&LoadOptions::builtin("dev")).unwrap();
    let policy = &loaded.config.auto_review.policy;
    assert_eq!(policy.origin, "builtin:profiles/policy/default.md");
    for topic in [
        "exfiltration",
        "Credential probing",
        "Persistent security weakening",
        "Destructive",
        "untrusted",
        "Low risk",
    ] {
        assert!(policy.text.contains(topic), "default policy lacks {topic}");
    }
}

#[test]
fn policy_and_policy_file_together_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".warden/p.md", "x");
    write(
        dir.path(),
        ".warden/config.toml",
        "[auto_review]\npolicy = \"a\"\npolicy_file = \"p.md\"\n",
    );
    let e = config::load(&opts("dev", dir.path())).unwrap_err();
    assert_eq!(
        e.location.as_ref().unwrap().to_string(),
        ".warden/config.toml:3:15"
    );
}

#[test]
fn codex_rules_files_are_imported_with_their_sources() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".codex/rules/default.rules",
        "# from codex\nprefix_rule(\n    pattern = [\"gh\", \"pr\", [\"merge\", \"close\"]],\n    decision = \"prompt\",\n    match = [\"gh pr merge 1\"],\n)\n",
    );
    write(
        dir.path(),
        ".codex/rules/extra.rules",
        "prefix_rule(pattern = [\"kubectl\"], decision = \"forbidden\")\n",
    );
    write(
        dir.path(),
        ".warden/config.toml",
        "rules_files = [\"../.codex/rules/*.rules\"]\n",
    );
    let loaded = config::load(&opts("ci", dir.path())).unwrap();
    let n = loaded.config.command_rules.len();
    let imported = &loaded.config.command_rules[n - 2..];
    assert_eq!(
        imported[0].source.to_string(),
        ".codex/rules/default.rules:2"
    );
    assert_eq!(imported[0].decision, RuleDecision::Prompt);
    assert_eq!(imported[1].source.to_string(), ".codex/rules/extra.rules:1");
    assert_eq!(imported[1].decision, RuleDecision::Forbidden);

    write(
        dir.path(),
        ".codex/rules/extra.rules",
        "prefix_rule(pattern = [\"kubectl\"])\nload(\"x\")\n",
    );
    let e = config::load(&opts("ci", dir.path())).unwrap_err();
    assert_eq!(
        e.location.as_ref().unwrap().to_string(),
        ".codex/rules/extra.rules:2:1"
    );
    assert!(e.message.contains("`load` is not supported"), "{e}");
}

#[test]
fn missing_rules_file_is_an_error_at_the_naming_key() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "\nrules_files = [\"missing.rules\"]\n",
    );
    let e = config::load(&opts("ci", dir.path())).unwrap_err();
    assert_eq!(
        e.location.as_ref().unwrap().to_string(),
        ".warden/config.toml:2:16"
    );
    assert!(
        e.message
            .contains("cannot read rules file `.warden/missing.rules`"),
        "{e}"
    );
}

#[test]
fn mcp_servers_merge_field_by_field_and_default_to_untrusted() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "[mcp_servers.everything]\ncommand = \"npx\"\nargs = [\"-y\", \"server\"]\nenv = { TOKEN = \"s3cr3t\" }\n",
    );
    let mut o = opts("dev", dir.path());
    o.overrides = vec!["mcp_servers.everything.enabled_tools=[\"echo\"]".into()];
    let loaded = config::load(&o).unwrap();
    let s = &loaded.config.mcp_servers["everything"];
    assert_eq!(s.command, "npx");
    assert_eq!(s.enabled_tools.as_deref(), Some(&["echo".to_owned()][..]));
    assert_eq!(s.trust, config::Trust::Untrusted);
    assert!(!s.network);
    assert_eq!(s.source.to_string(), ".warden/config.toml:2");
    assert_eq!(
        loaded
            .provenance_of("mcp_servers.everything.trust")
            .unwrap()
            .layer,
        LayerKind::Default
    );
    assert_eq!(
        loaded
            .provenance_of("mcp_servers.everything.env.TOKEN")
            .unwrap()
            .value,
        "\"<hidden>\""
    );

    let e = config::load(&LoadOptions {
        overrides: vec!["mcp_servers.x.network=true".into()],
        ..LoadOptions::builtin("dev")
    })
    .unwrap_err();
    assert!(e.message.contains("MCP server `x` has no `command`"), "{e}");
}

#[test]
fn breaker_limits_are_checked() {
    let e = config::load(&LoadOptions {
        overrides: vec!["auto_review.circuit_breaker.max_in_window=60".into()],
        ..LoadOptions::builtin("dev")
    })
    .unwrap_err();
    assert!(e.message.contains("larger than `window` (50)"), "{e}");
    assert_eq!(e.location.unwrap().to_string(), "-c:1:43");
    let e = config::load(&LoadOptions {
        overrides: vec!["auto_review.circuit_breaker.consecutive=0".into()],
        ..LoadOptions::builtin("dev")
    })
    .unwrap_err();
    assert!(e.message.contains("must be at least 1"), "{e}");
}

#[test]
fn digest_is_deterministic_and_tracks_changes() {
    let a = config::load(&LoadOptions::builtin("nightly")).unwrap();
    let b = config::load(&LoadOptions::builtin("nightly")).unwrap();
    assert_eq!(a.digest(), b.digest());
    let c = config::load(&LoadOptions {
        overrides: vec!["agent.max_turns=3".into()],
        ..LoadOptions::builtin("nightly")
    })
    .unwrap();
    assert_ne!(a.digest(), c.digest());
}

/// `warden sandbox` loads without the built-in rule tables
/// (`config::load_sandbox`); whatever the layers, it must resolve the very
/// sandbox the full load resolves, with the same warnings about it, and
/// refuse the same bad configurations.
#[test]
fn sandbox_load_resolves_the_same_sandbox_as_the_full_load() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "sandbox_mode = \"danger-full-access\"\n[sandbox]\nnetwork = \"on\"\ndeny_read = [\"~/.kube\", \"**/*.pem\"]\nwritable_roots = [\"~/cache\"]\n[sandbox.env]\npass = [\"RUSTFLAGS\"]\nset = { CI = \"1\" }\n\n[[command_rules]]\npattern = [\"make\"]\ndecision = \"allow\"\ngrants = { write = [\"out/\"] }\n",
    );
    write(
        dir.path(),
        "req.toml",
        "allow_network = false\ndeny_read = [\"~/.corp\"]\nprotected = [\"infra/\"]\n",
    );
    write(
        dir.path(),
        "extra.toml",
        "[sandbox]\ntimeout = \"7s\"\noutput_limit = 4096\n",
    );
    for (profile, _) in config::builtin_profiles() {
        let variants: Vec<LoadOptions> = vec![
            LoadOptions::builtin(profile),
            opts(profile, dir.path()),
            LoadOptions {
                requirements: Some(dir.path().join("req.toml")),
                config_files: vec![dir.path().join("extra.toml")],
                overrides: vec![
                    "sandbox_mode=read-only".into(),
                    "sandbox.network=\"off\"".into(),
                    "sandbox.protected=[\"docs/\"]".into(),
                ],
                ..opts(profile, dir.path())
            },
            // The project's network = "on" against allow_network = false.
            LoadOptions {
                requirements: Some(dir.path().join("req.toml")),
                ..opts(profile, dir.path())
            },
        ];
        let mut loaded = 0;
        for o in &variants {
            match (config::load(o), config::load_sandbox(o)) {
                (Ok(full), Ok(scoped)) => {
                    assert_eq!(scoped.sandbox_mode, full.config.sandbox_mode, "{profile}");
                    assert_eq!(scoped.sandbox, full.config.sandbox, "{profile}");
                    let about_sandbox = |w: &&String| w.contains("sandbox");
                    assert_eq!(
                        scoped
                            .warnings
                            .iter()
                            .filter(about_sandbox)
                            .collect::<Vec<_>>(),
                        full.warnings
                            .iter()
                            .filter(about_sandbox)
                            .collect::<Vec<_>>(),
                        "{profile}"
                    );
                    loaded += 1;
                }
                (Err(full), Err(scoped)) => assert_eq!(scoped.to_string(), full.to_string()),
                (full, scoped) => panic!("{profile}: full {full:?}, sandbox-only {scoped:?}"),
            }
        }
        assert_eq!(loaded, 3, "{profile}: only the last variant is refused");
    }

    // A bad rule in a user layer fails both loads, at the same place.
    write(
        dir.path(),
        ".warden/config.toml",
        "[[command_rules]]\npattern = [\"git\", \"push\"]\ndecision = \"forbidden\"\nmatch = [\"git status\"]\n",
    );
    let o = opts("ci", dir.path());
    let full = config::load(&o).unwrap_err().to_string();
    let scoped = config::load_sandbox(&o).unwrap_err().to_string();
    assert!(full.starts_with(".warden/config.toml:4:"), "{full}");
    assert_eq!(scoped, full);
}
