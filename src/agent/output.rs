//! Progress output of `warden run`: one JSON event per line on stdout with
//! `--json`, human progress on stderr otherwise (with `::group::` log groups
//! when `GITHUB_ACTIONS=true`). Everything is redacted first.

use std::io::Write;

use serde_json::{Value, json};

use crate::redact::redact;

pub struct Output {
    pub json: bool,
    pub github_actions: bool,
    group_open: bool,
}

impl Output {
    pub fn new(json: bool, github_actions: bool) -> Self {
        Output {
            json,
            github_actions,
            group_open: false,
        }
    }

    /// Emit one event: `kind` plus fields, and a human line.
    pub fn event(&mut self, kind: &str, fields: Value, human: impl FnOnce() -> String) {
        if self.json {
            let mut obj = json!({ "type": kind });
            if let (Some(o), Value::Object(f)) = (obj.as_object_mut(), fields) {
                o.extend(f);
            }
            let line = redact(&obj.to_string());
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        } else {
            let text = human();
            if !text.is_empty() {
                eprintln!("{}", redact(&text));
            }
        }
    }

    /// Open a log group (GitHub Actions) for one model turn.
    pub fn group(&mut self, title: &str) {
        if self.json {
            return;
        }
        self.end_group();
        if self.github_actions {
            eprintln!("::group::{}", redact(title));
            self.group_open = true;
        } else {
            eprintln!("── {}", redact(title));
        }
    }

    pub fn end_group(&mut self) {
        if self.group_open {
            eprintln!("::endgroup::");
            self.group_open = false;
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.end_group();
    }
}
