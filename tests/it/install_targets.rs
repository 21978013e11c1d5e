//! What `cargo install` puts in a user's PATH: every `[[bin]]` of the
//! package, and nothing else. `scripts/install-release.sh` (so the GitHub
//! Action) is a `cargo install --path`, so the package's bin targets are
//! exactly what users get: warden alone, no test tool (issue 18, item 2).

use std::process::Command;

fn package_targets() -> Vec<(Vec<String>, String)> {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--locked",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let package = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "warden")
        .expect("the warden package");
    package["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            let kinds = t["kind"]
                .as_array()
                .expect("kind")
                .iter()
                .map(|k| k.as_str().expect("kind string").to_owned())
                .collect();
            (kinds, t["name"].as_str().expect("name").to_owned())
        })
        .collect()
}

#[test]
fn install_puts_only_warden_in_bin() {
    let targets = package_targets();
    let bins: Vec<&str> = targets
        .iter()
        .filter(|(kinds, _)| kinds.iter().any(|k| k == "bin"))
        .map(|(_, name)| name.as_str())
        .collect();
    assert_eq!(
        bins,
        ["warden"],
        "cargo install would install these: {bins:?}"
    );
    // The MCP test server still exists for the tests, as an example
    // (built by `cargo test`, never installed).
    assert!(
        targets
            .iter()
            .any(|(kinds, name)| kinds.iter().any(|k| k == "example")
                && name == "warden-mcp-test-server"),
        "the MCP test server must stay an example target: {targets:?}"
    );
}

#[test]
fn install_release_installs_every_bin_of_the_package_and_no_example() {
    // The script must not widen `cargo install` to examples (or pick bins by
    // hand, which would hide a new bin from the test above).
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/install-release.sh"
    ))
    .expect("read install-release.sh");
    let install_line = script
        .lines()
        .find(|l| l.trim_start().starts_with("args=("))
        .expect("the cargo install arguments");
    for flag in ["--example", "--examples", "--bin ", "--bins"] {
        assert!(
            !install_line.contains(flag),
            "install-release.sh passes {flag}: {install_line}"
        );
    }
    assert!(
        script.contains("cargo install \"${args[@]}\""),
        "install-release.sh runs cargo install"
    );
}
