//! What `warden run` keeps from one command to the next (the inotify-kept
//! deny-read expansion, the cached plan and ruleset, the per-process run
//! directory of temp dirs) never lets a later command see or do more than
//! a fresh sandbox would.

use crate::sandbox_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sandbox_support::{Fixture, runtime};
use warden::sandbox::{ExecRequest, RefusalKind, execute};

#[tokio::test]
async fn a_file_created_under_a_deny_glob_is_hidden_from_the_next_command() {
    let f = Fixture::new();
    // Warm every cache with a first command.
    assert_eq!(f.run("cat README.md").await.exit_code, Some(0));
    // A command creates `.env` files (the fixture denies `**/.env`): in a
    // new directory, and by renaming a file onto the name.
    let out = f
        .run(&format!(
            "mkdir -p src/new/deeper && echo 'TOKEN={c}' > src/new/deeper/.env && \
             touch src/new/keep && \
             echo 'TOKEN={c}' > src/plain && mv src/plain src/.env",
            c = f.canary
        ))
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let out = f.assert_read_blocked("cat src/new/deeper/.env").await;
    assert!(
        out.refusals.iter().any(|r| r.kind == RefusalKind::Read),
        "{:?}",
        out.refusals
    );
    f.assert_read_blocked("cat src/.env").await;
    // The rest of the new directory stays usable (existing entries: a
    // directory split around a denied one takes no new entries).
    let out = f.run("echo ok > src/new/keep && cat src/new/keep").await;
    assert_eq!(out.stdout, "ok\n", "{out:?}");
}

#[tokio::test]
async fn a_directory_added_where_the_plan_splits_is_readable_by_the_next_command() {
    let f = Fixture::new();
    assert_eq!(f.run("ls \"$HOME\"").await.exit_code, Some(0));
    // HOME is split around ~/.ssh: a new entry there needs a new rule.
    std::fs::create_dir_all(f.home.join("docs")).unwrap();
    std::fs::write(f.home.join("docs/notes"), "fresh\n").unwrap();
    let out = f.run("cat \"$HOME/docs/notes\"").await;
    assert_eq!(
        (out.exit_code, out.stdout.as_str()),
        (Some(0), "fresh\n"),
        "{out:?}"
    );
    // And ~/.ssh is still out of reach after the new plan.
    f.assert_read_blocked(&format!("cat {}", f.key.display()))
        .await;
}

#[tokio::test]
async fn a_command_writes_only_its_own_temp_dir() {
    let f = Fixture::new();
    let policy = f.policy();
    let rt = runtime();
    // A long-running command owns a temp dir...
    let mut req = ExecRequest::new(
        vec![
            "bash".into(),
            "-c".into(),
            "echo \"$TMPDIR\" > src/a-tmp && echo mine > \"$TMPDIR/f\" && sleep 3".into(),
        ],
        f.ws.clone(),
    );
    req.timeout = Some(Duration::from_secs(30));
    let a = {
        let (rt, policy) = (rt.clone(), policy.clone());
        tokio::spawn(async move { execute(&rt, &policy, &req).await })
    };
    let started = Instant::now();
    while !f.ws.join("src/a-tmp").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "A did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a_tmp = PathBuf::from(
        std::fs::read_to_string(f.ws.join("src/a-tmp"))
            .unwrap()
            .trim(),
    );
    // ...which a concurrent command cannot write, nor the directory both
    // temp dirs live in; its own temp dir it can.
    let out = f
        .run(
            "t=$(cat src/a-tmp); \
             echo x > \"$t/evil\"; echo x > \"$t/f\"; \
             echo x > \"$(dirname \"$TMPDIR\")/evil\"; \
             echo own > \"$TMPDIR/own\" && cat \"$TMPDIR/own\"",
        )
        .await;
    assert!(out.stdout.ends_with("own\n"), "{out:?}");
    assert!(
        !a_tmp.join("evil").exists(),
        "wrote into another command's TMPDIR"
    );
    assert_eq!(std::fs::read_to_string(a_tmp.join("f")).unwrap(), "mine\n");
    let run_dir = a_tmp.parent().unwrap();
    assert!(
        !run_dir.join("evil").exists(),
        "wrote into the run directory"
    );
    assert!(
        out.stderr.matches("Permission denied").count() >= 3,
        "{}",
        out.stderr
    );
    let a = a.await.unwrap().unwrap();
    assert_eq!(a.exit_code, Some(0), "{a:?}");
    assert!(!a_tmp.exists(), "A's temp dir was removed");
}
