//! `warden sandbox` with a crowded system temp dir (issue 18, item 6): the
//! per-command `TMPDIR` is granted by one rule of its own, so the plan
//! does not grow with the temp dir's other entries, and the properties
//! hold next to them: the command's `TMPDIR` is private (mode 0700, in the
//! system temp dir, removed afterwards), every neighbour — files,
//! directories, another command's `warden-sbx-…` dir — stays unwritable
//! and no new entry can be made there, while reading them works as
//! everywhere else. Each write attempt is first shown to work without the
//! sandbox.

use crate::sandbox_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use sandbox_support::Fixture;

const ATTEMPTS: &str = r#"
base=$(dirname "$TMPDIR")
echo own > "$TMPDIR/own" && echo own-ok
stat -c 'mode=%a' "$TMPDIR"
cat "$base/sib-0" >/dev/null && echo read-ok
echo x >> "$base/sib-0" 2>/dev/null && echo wrote-sibling
echo x > "$base/sib-1/inner" 2>/dev/null && echo wrote-in-sibling-dir
echo x > "$base/warden-sbx-1-other/f" 2>/dev/null && echo wrote-other-tmp
mkdir "$base/new-entry" 2>/dev/null && echo created-entry
echo "tmpdir=$TMPDIR"
"#;

const WRITES: [&str; 4] = [
    "wrote-sibling",
    "wrote-in-sibling-dir",
    "wrote-other-tmp",
    "created-entry",
];

/// `n` unrelated entries (files and directories alternately) and another
/// command's temp dir, 0700 like warden makes them.
fn crowd(dir: &Path, n: usize) {
    for i in 0..n {
        let p = dir.join(format!("sib-{i}"));
        if i % 2 == 0 {
            std::fs::write(&p, "neighbour\n").unwrap();
        } else {
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join("inner"), "neighbour\n").unwrap();
        }
    }
    let other = dir.join("warden-sbx-1-other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("f"), "theirs\n").unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn sandbox(f: &Fixture, system_tmp: &Path, script: &str) -> Output {
    Command::new(sandbox_support::warden_exe())
        .args(["sandbox", "--profile", "ci", "--show-enforcement", "--cwd"])
        .arg(&f.ws)
        .args(["--", "bash", "-c", script])
        .env("TMPDIR", system_tmp)
        .env("HOME", &f.home)
        .output()
        .unwrap()
}

/// The `--show-enforcement` record warden printed on stderr.
fn enforcement(out: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (start, end) = (stderr.find('{').unwrap(), stderr.rfind('}').unwrap());
    serde_json::from_str(&stderr[start..=end]).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

fn rules(out: &Output) -> u64 {
    enforcement(out)["landlock_rules"]
        .as_u64()
        .expect("landlock_rules recorded")
}

#[test]
fn a_crowded_system_temp_dir_adds_no_rules_and_its_entries_stay_unwritable() {
    let f = Fixture::new();
    let roots = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(roots.path()).unwrap();
    let (empty, crowded) = (root.join("empty"), root.join("crowded"));
    std::fs::create_dir(&empty).unwrap();
    std::fs::create_dir(&crowded).unwrap();
    crowd(&empty, 2);
    crowd(&crowded, 600);

    // Control: without the sandbox every write attempt succeeds.
    let own = crowded.join("control-tmp");
    std::fs::create_dir(&own).unwrap();
    let direct = Command::new("bash")
        .args(["-c", ATTEMPTS])
        .env("TMPDIR", &own)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&direct.stdout);
    for done in WRITES {
        assert!(text.contains(done), "control: {done} missing: {text}");
    }
    // Put the neighbours back as they were.
    std::fs::remove_dir_all(&own).unwrap();
    std::fs::remove_dir(crowded.join("new-entry")).unwrap();
    std::fs::write(crowded.join("sib-0"), "neighbour\n").unwrap();
    std::fs::write(crowded.join("sib-1/inner"), "neighbour\n").unwrap();
    std::fs::write(crowded.join("warden-sbx-1-other/f"), "theirs\n").unwrap();

    let out = sandbox(&f, &crowded, ATTEMPTS);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("own-ok\nmode=700\nread-ok\n"), "{text}");
    for done in WRITES {
        assert!(!text.contains(done), "inside the sandbox: {done}: {text}");
    }
    assert_eq!(
        std::fs::read_to_string(crowded.join("warden-sbx-1-other/f")).unwrap(),
        "theirs\n"
    );
    assert!(!crowded.join("new-entry").exists());
    let tmpdir = text
        .lines()
        .find_map(|l| l.strip_prefix("tmpdir="))
        .expect("TMPDIR printed");
    let tmpdir = Path::new(tmpdir);
    assert_eq!(
        tmpdir.parent(),
        Some(crowded.as_path()),
        "in the system temp dir"
    );
    assert!(
        tmpdir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("warden-sbx-"),
        "{tmpdir:?}"
    );
    assert!(!tmpdir.exists(), "the private TMPDIR was not removed");

    // The plan does not grow with the 600 neighbours: splitting the temp
    // dir would add a rule for each of them. (Not an exact equality: the
    // fixture's HOME is under the real /tmp, which the plan splits, and
    // tests running alongside add and remove entries there.)
    let small = sandbox(&f, &empty, "true");
    assert!(small.status.success(), "{small:?}");
    let (crowded_rules, small_rules) = (rules(&out), rules(&small));
    assert!(small_rules > 0);
    assert!(
        crowded_rules < small_rules + 100,
        "the temp dir's neighbours are in the plan: {crowded_rules} rules next to 600 \
         entries, {small_rules} next to 2"
    );
}
