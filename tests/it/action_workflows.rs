//! Invariants of the example workflows that the linters do not check
//! (scripts/lint-workflows.sh runs actionlint and zizmor on them too):
//! least privilege per job, no persisted checkout credentials, one pinned
//! version of each action, the override flow sharing the review's sticky
//! comment, and nightly changes never going to the default branch.

use std::path::PathBuf;

use serde_norway::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workflows() -> Vec<(String, Value)> {
    let mut list: Vec<(String, Value)> = std::fs::read_dir(root().join("examples/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_norway::from_str(&text).unwrap())
        })
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list
}

fn workflow(name: &str) -> Value {
    workflows()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("examples/workflows/{name} is missing"))
        .1
}

fn jobs(w: &Value) -> Vec<(String, Value)> {
    w["jobs"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

fn steps(job: &Value) -> Vec<Value> {
    job["steps"].as_sequence().cloned().unwrap_or_default()
}

#[test]
fn the_four_uses_are_there() {
    let names: Vec<String> = workflows().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "decisions-check.yml",
            "nightly-maintenance.yml",
            "override.yml",
            "pr-review.yml"
        ]
    );
}

#[test]
fn least_privilege_and_no_persisted_credentials() {
    for (file, w) in workflows() {
        let top = &w["permissions"];
        assert!(
            top.as_mapping().is_some_and(|m| m.is_empty()),
            "{file}: top-level `permissions: {{}}` so a job gets only what it asks for"
        );
        for (id, job) in jobs(&w) {
            let perms = job["permissions"]
                .as_mapping()
                .unwrap_or_else(|| panic!("{file}/{id}: no job-level permissions"));
            for (scope, level) in perms {
                let level = level.as_str().unwrap();
                assert!(
                    matches!(level, "read" | "write"),
                    "{file}/{id}: {scope:?}: {level}"
                );
            }
            assert!(
                job["timeout-minutes"].as_u64().is_some(),
                "{file}/{id}: no timeout"
            );
            for step in steps(&job) {
                let Some(uses) = step["uses"].as_str() else {
                    continue;
                };
                if uses.starts_with("actions/checkout@") {
                    assert_eq!(
                        step["with"]["persist-credentials"].as_bool(),
                        Some(false),
                        "{file}/{id}: checkout must not leave the token in .git/config"
                    );
                }
            }
        }
    }
}

#[test]
fn each_action_is_pinned_to_one_commit_everywhere() {
    let action_text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let mut pins: std::collections::BTreeMap<String, String> = Default::default();
    let mut record = |uses: &str, whence: &str| {
        let (name, sha) = uses.split_once('@').unwrap();
        assert!(
            sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{whence}: {uses} is not pinned to a full commit SHA"
        );
        // actions/cache/restore and actions/cache/save are one repository.
        let repo: String = name.split('/').take(2).collect::<Vec<_>>().join("/");
        if let Some(seen) = pins.insert(repo.clone(), sha.to_owned()) {
            assert_eq!(seen, sha, "{whence}: {repo} pinned to two commits");
        }
    };
    let action: Value = serde_norway::from_str(&action_text).unwrap();
    for step in action["runs"]["steps"].as_sequence().unwrap() {
        if let Some(uses) = step["uses"].as_str() {
            record(uses, "action.yml");
        }
    }
    for (file, w) in workflows() {
        for (id, job) in jobs(&w) {
            for step in steps(&job) {
                if let Some(uses) = step["uses"].as_str() {
                    record(uses, &format!("{file}/{id}"));
                }
            }
        }
    }
    assert!(pins.contains_key("actions/checkout"));
    assert!(pins.contains_key("actions/download-artifact"));
}

#[test]
fn the_override_updates_the_reviews_sticky_comment() {
    // warden finds its comment by <!-- warden:WORKFLOW:JOB -->.
    let review = workflow("pr-review.yml");
    let over = workflow("override.yml");
    assert_eq!(review["name"], over["name"]);
    let job_ids = |w: &Value| jobs(w).into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(job_ids(&review), job_ids(&over));
    assert_eq!(
        over["on"]["issue_comment"]["types"][0].as_str(),
        Some("created")
    );
    // Authorization and parsing come before any checkout of the PR.
    let steps = steps(&jobs(&over)[0].1);
    let position = |needle: &str| {
        steps
            .iter()
            .position(|s| serde_norway::to_string(s).unwrap().contains(needle))
            .unwrap_or_else(|| panic!("override.yml: no step with {needle}"))
    };
    let authorize = position("gh authorize");
    let parse = position("gh approve-ids");
    let checkout = position("actions/checkout@");
    assert!(authorize < parse && parse < checkout);
    let approve = steps
        .iter()
        .find(|s| s["with"]["approve"].is_string())
        .unwrap();
    assert_eq!(
        approve["with"]["approve"].as_str(),
        Some("${{ steps.ids.outputs.ids }}")
    );
    // Both workflows serialise on the same group: they share denials.json.
    assert_eq!(
        review["concurrency"]["group"]
            .as_str()
            .unwrap()
            .split("${{")
            .next(),
        over["concurrency"]["group"]
            .as_str()
            .unwrap()
            .split("${{")
            .next()
    );
}

#[test]
fn nightly_changes_reach_a_branch_never_the_default_branch() {
    let nightly = workflow("nightly-maintenance.yml");
    let jobs = jobs(&nightly);
    let (_, maintain) = jobs.iter().find(|(id, _)| id == "maintain").unwrap();
    let (_, propose) = jobs.iter().find(|(id, _)| id == "propose").unwrap();
    assert_eq!(
        maintain["permissions"]["contents"].as_str(),
        Some("read"),
        "the agent's job cannot push"
    );
    let maintain_text = serde_norway::to_string(maintain).unwrap();
    assert!(maintain_text.contains("profile: nightly"));
    let propose_text = serde_norway::to_string(propose).unwrap();
    assert!(
        !propose_text.contains("your-org/warden@"),
        "no agent in the job that may push"
    );
    assert!(propose_text.contains("HEAD:refs/heads/${branch}"));
    assert!(propose_text.contains("branch=\"warden/nightly-${RUN_ID}\""));
    assert!(
        propose_text.contains("'^\\.github/'"),
        "a patch touching .github/ is refused"
    );
}

#[test]
fn the_decisions_check_runs_no_fork_code() {
    let check = workflow("decisions-check.yml");
    assert!(check["on"]["workflow_run"].is_mapping());
    for (id, job) in jobs(&check) {
        let text = serde_norway::to_string(&job).unwrap();
        assert!(!text.contains("actions/checkout@"), "{id}: checks out code");
        assert!(
            text.contains("audit verify"),
            "{id}: the log is verified first"
        );
        assert!(
            text.contains(
                "github.event.workflow_run.head_repository.full_name != github.repository"
            ),
            "{id}: only for forks"
        );
    }
}
