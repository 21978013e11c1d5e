//! `warden run` and the credentials `actions/checkout` persists (issue 12,
//! class 8), laid out exactly as the action does it, with real git:
//!
//! - v5: `http.https://github.com/.extraheader = AUTHORIZATION: basic
//!   <base64 of x-access-token:TOKEN>` in the checkout's `.git/config`;
//! - v6: the same entry in `$RUNNER_TEMP/git-credentials-<uuid>.config`,
//!   which `.git/config` includes with `includeIf "gitdir:<ws>/.git"`,
//!   `"gitdir:<ws>/.git/worktrees/*"` and the container forms
//!   `"gitdir:/github/workspace/.git"` (→ `/github/runner_temp/…`); each
//!   submodule's config with `includeIf "gitdir:<ws>/.git/modules/<name>"`.
//!
//! Each layout is first shown to hand git the token (the control), then
//! `warden run` must refuse with exit 2 naming the file, never the value,
//! and start once the token is gone.

use crate::run_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::{RunFixture, read_jsonl};

const UUID: &str = "6f1d2c3b-4a5e-4f60-9b8c-7d6e5f4a3b2c";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard base64 with padding (what `Buffer.toString('base64')` gives).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Checkout {
    f: RunFixture,
    runner_temp: PathBuf,
    token: String,
    /// `AUTHORIZATION: basic <base64>` as the action computes it.
    header: String,
    scenario: PathBuf,
}

fn checkout() -> Checkout {
    let f = RunFixture::new();
    let runner_temp = f.home.parent().unwrap().join("_temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let token = format!("ghs_{}", f.canary);
    let basic = base64(format!("x-access-token:{token}").as_bytes());
    let header = format!("AUTHORIZATION: basic {basic}");
    git(&f.ws, &["init", "-q", "-b", "main"]);
    git(
        &f.ws,
        &["remote", "add", "origin", "https://github.com/o/r"],
    );
    let scenario = f.write("s.yaml", "prompt: hi\nturns:\n  - text: done\n");
    Checkout {
        f,
        runner_temp,
        token,
        header,
        scenario,
    }
}

impl Checkout {
    /// Write the placeholder with git, then replace it in the file, as
    /// `configureToken` does.
    fn write_token(&self, config_file: &Path) {
        let file = config_file.to_str().unwrap();
        git(
            &self.f.ws,
            &[
                "config",
                "--file",
                file,
                "http.https://github.com/.extraheader",
                "AUTHORIZATION: basic ***",
            ],
        );
        let text = std::fs::read_to_string(config_file).unwrap();
        assert_eq!(text.matches("AUTHORIZATION: basic ***").count(), 1);
        std::fs::write(
            config_file,
            text.replace("AUTHORIZATION: basic ***", &self.header),
        )
        .unwrap();
    }

    fn credentials_file(&self) -> PathBuf {
        self.runner_temp
            .join(format!("git-credentials-{UUID}.config"))
    }

    /// The v6 layout: token in RUNNER_TEMP, includeIf entries for the host
    /// and container paths of the checkout and its worktrees.
    fn v6(&self) {
        let creds = self.credentials_file();
        self.write_token(&creds);
        let container = format!("/github/runner_temp/git-credentials-{UUID}.config");
        let gitdir = format!("{}/.git", self.f.ws.display());
        for (key, value) in [
            (
                format!("includeIf.gitdir:{gitdir}.path"),
                creds.display().to_string(),
            ),
            (
                format!("includeIf.gitdir:{gitdir}/worktrees/*.path"),
                creds.display().to_string(),
            ),
            (
                "includeIf.gitdir:/github/workspace/.git.path".into(),
                container.clone(),
            ),
            (
                "includeIf.gitdir:/github/workspace/.git/worktrees/*.path".into(),
                container,
            ),
        ] {
            git(&self.f.ws, &["config", "--local", &key, &value]);
        }
    }

    fn run(&self) -> assert_cmd::assert::Assert {
        self.f
            .scripted("ci", &self.scenario)
            .env("RUNNER_TEMP", &self.runner_temp)
            .assert()
    }

    /// Exit 2, the message names `file`, and neither the token nor its
    /// base64 appears; no run started.
    fn assert_refused_naming(&self, file: &Path) {
        let out = self.run().code(2).get_output().clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("{}:", file.display())), "{stderr}");
        assert!(!stderr.contains(&self.token), "{stderr}");
        assert!(!stderr.contains(&self.header), "{stderr}");
        assert!(!self.f.audit.exists(), "no run started");
    }
}

#[test]
fn the_test_s_base64_is_the_standard_one() {
    // RFC 4648, section 10.
    for (plain, encoded) in [
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(plain.as_bytes()), encoded);
    }
}

#[test]
fn checkout_v5_extraheader_in_git_config_is_refused() {
    let c = checkout();
    c.write_token(&c.f.ws.join(".git/config"));
    let seen = git(
        &c.f.ws,
        &["config", "--get", "http.https://github.com/.extraheader"],
    );
    assert_eq!(seen.trim(), c.header, "control: git hands out the token");
    c.assert_refused_naming(&c.f.ws.join(".git/config"));
    git(
        &c.f.ws,
        &[
            "config",
            "--unset-all",
            "http.https://github.com/.extraheader",
        ],
    );
    c.run().success();
}

#[test]
fn checkout_v6_included_credentials_file_is_refused_until_the_token_is_gone() {
    let c = checkout();
    c.v6();
    // Control: git reads the token through the include (`git var -l` too).
    let listed = git(&c.f.ws, &["var", "-l"]);
    assert!(listed.contains(&c.header), "control: {listed}");
    let out = c.run().code(2).get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let creds = c.credentials_file();
    assert!(
        stderr.contains(&format!("{}:2:", creds.display())),
        "names the credentials file and line: {stderr}"
    );
    assert!(stderr.contains(".git/config:"), "and the include: {stderr}");
    assert!(
        !stderr.contains(&c.token) && !stderr.contains(&c.header),
        "{stderr}"
    );
    assert!(!c.f.audit.exists(), "no run started");

    // The post-job cleanup empties the file: the run starts, and a command
    // cannot read the runner's temp directory.
    let step_script = c.runner_temp.join(format!("{UUID}.sh"));
    std::fs::write(&step_script, format!("echo {}\n", c.f.canary)).unwrap();
    git(
        &c.f.ws,
        &[
            "config",
            "--file",
            creds.to_str().unwrap(),
            "--unset-all",
            "http.https://github.com/.extraheader",
        ],
    );
    let scenario = c.f.write(
        "read.yaml",
        &format!(
            // Spelled so that the pipeline does not see the path (a plain
            // `cat $RUNNER_TEMP/…` is denied before it runs): the sandbox
            // must refuse it.
            "prompt: hi\nturns:\n  - tool_calls:\n      - name: shell\n        arguments: {{ command: \"cd {} && cat _te*/*.sh _te*/git-credentials-*\" }}\n  - text: done\n",
            c.runner_temp.parent().unwrap().display(),
        ),
    );
    c.f.scripted("ci", &scenario)
        .env("RUNNER_TEMP", &c.runner_temp)
        .assert()
        .success();
    let log = std::fs::read_to_string(&c.f.audit).unwrap();
    assert!(!log.contains(&c.f.canary), "the step script leaked");
    let executed = read_jsonl(&c.f.audit)
        .into_iter()
        .filter(|r| r["event"] == "executed")
        .collect::<Vec<_>>();
    assert_eq!(executed.len(), 1, "the command ran");
    assert_eq!(executed[0]["exit_code"], 1, "and was refused the reads");
}

#[test]
fn a_submodule_s_included_credentials_are_refused() {
    let c = checkout();
    let module = c.f.ws.join(".git/modules/lib");
    std::fs::create_dir_all(&module).unwrap();
    git(&module, &["init", "-q", "--bare", "."]);
    let creds = c.credentials_file();
    c.write_token(&creds);
    git(
        &c.f.ws,
        &[
            "config",
            "--file",
            module.join("config").to_str().unwrap(),
            &format!("includeIf.gitdir:{}.path", module.display()),
            creds.to_str().unwrap(),
        ],
    );
    c.assert_refused_naming(&creds);
}

#[test]
fn a_relative_include_from_the_user_s_gitconfig_is_followed() {
    let c = checkout();
    std::fs::create_dir_all(c.f.home.join(".config/git")).unwrap();
    std::fs::write(
        c.f.home.join(".gitconfig"),
        "[include]\n\tpath = .config/git/work.inc\n",
    )
    .unwrap();
    let inc = c.f.home.join(".config/git/work.inc");
    c.write_token(&inc);
    c.assert_refused_naming(&inc);
}

/// The pipeline knows the sandbox denies `RUNNER_TEMP`: a command naming a
/// file there is a deny-read crossing (rejected in `ci`), not routine.
#[test]
fn the_pipeline_treats_runner_temp_as_deny_read() {
    let c = checkout();
    let creds = c.credentials_file();
    let check = |runner_temp: Option<&Path>| {
        let mut cmd = c.f.warden();
        cmd.args(["check", "--profile", "ci", "--", "cat"])
            .arg(&creds);
        if let Some(rt) = runner_temp {
            cmd.env("RUNNER_TEMP", rt);
        }
        cmd.assert().get_output().clone()
    };
    let without = check(None);
    assert_eq!(without.status.code(), Some(0), "control: {without:?}");
    let with = check(Some(&c.runner_temp));
    assert_eq!(with.status.code(), Some(1), "{with:?}");
    assert!(
        String::from_utf8_lossy(&with.stdout).contains("reads deny-read"),
        "{with:?}"
    );
}
