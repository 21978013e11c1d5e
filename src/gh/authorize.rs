//! `warden gh authorize`: may the actor who triggered this run make warden
//! act? A comment-triggered workflow runs with the repository's secrets and
//! a write token whoever wrote the comment, so before it does anything it
//! asks GitHub for the commenter's permission on the repository
//! (`GET /repos/{owner}/{repo}/collaborators/{username}/permission`) and
//! goes on only for write, maintain or admin.
//!
//! Fail closed throughout: no identifiable actor, a login that is not a
//! GitHub login, a bot that is not allow-listed, a user GitHub does not
//! know, an answer about someone else, and any API error are refusals.
//!
//! Who the actor is: every login the event names as acting
//! (`comment.user.login`, `review.user.login`, `sender.login`; they differ
//! when someone edits another's comment), each of which must pass; without
//! an event, `GITHUB_ACTOR`.

use std::fmt;

use serde_json::Value;

use crate::github::GithubEnv;
use crate::github::client::{Api, ApiError, Method, RetryPolicy};
use crate::github::event::{self, EnvMap, str_at};
use crate::github::login::{LoginKind, classify};

/// The least role an actor needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Required {
    /// write, maintain or admin.
    #[default]
    Write,
    /// maintain or admin.
    Maintain,
    /// admin only.
    Admin,
}

impl Required {
    /// Does GitHub's answer satisfy this? `permission` is the legacy field
    /// (admin, write, read, none: maintain reads as write, triage as read);
    /// `role_name` tells maintain apart.
    pub fn satisfied_by(self, permission: &str, role_name: Option<&str>) -> bool {
        match self {
            Required::Write => matches!(permission, "admin" | "write"),
            Required::Maintain => {
                permission == "admin" || matches!(role_name, Some("maintain" | "admin"))
            }
            Required::Admin => permission == "admin",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Required::Write => "write, maintain or admin",
            Required::Maintain => "maintain or admin",
            Required::Admin => "admin",
        }
    }
}

/// How to decide.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeOptions {
    pub required: Required,
    /// Bot logins trusted without a permission check (`renovate[bot]`; a
    /// name given without the suffix gets it). GitHub reserves the `[bot]`
    /// suffix for apps, so a person cannot take such a login.
    pub allowed_bots: Vec<String>,
    pub retry: RetryPolicy,
}

/// Someone the event says acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub login: String,
    pub bot: bool,
    /// Where the login was read (`comment.user.login`, `GITHUB_ACTOR` …).
    pub source: &'static str,
}

/// Why an actor passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// GitHub answered with this permission (and role name).
    Permission {
        permission: String,
        role_name: Option<String>,
    },
    /// An allow-listed bot.
    AllowListedBot,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Permission {
                permission,
                role_name: Some(role),
            } if role != permission => write!(f, "permission {permission}, role {role}"),
            Grant::Permission { permission, .. } => write!(f, "permission {permission}"),
            Grant::AllowListedBot => f.write_str("allow-listed bot"),
        }
    }
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every actor may act.
    Allowed(Vec<(Actor, Grant)>),
    /// Refused (exit 1), with the reason for the log.
    Refused(String),
}

/// Could not decide: the caller refuses with the matching exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    /// The job's environment is incomplete (exit 2).
    #[error("{0}")]
    Setup(String),
    /// GitHub did not answer usably (exit 5).
    #[error("{0}")]
    Api(String),
}

/// Decide for the run described by `env`.
pub async fn authorize(env: &EnvMap, opts: &AuthorizeOptions) -> Result<Verdict, AuthorizeError> {
    let event = event::read_event(env).map_err(AuthorizeError::Setup)?;
    let actors = match actors(env, event.as_ref()) {
        Ok(a) => a,
        Err(refusal) => return Ok(Verdict::Refused(refusal)),
    };
    let github = GithubEnv::from_map(env);
    let repository = match (&github.owner, &github.repo) {
        (Some(o), Some(r)) => format!("{o}/{r}"),
        _ => {
            return Err(AuthorizeError::Setup(
                "GITHUB_REPOSITORY is not set (or not owner/repo): cannot tell whose permissions to check"
                    .into(),
            ));
        }
    };
    let allowed_bots: Vec<String> = opts
        .allowed_bots
        .iter()
        .map(|b| b.trim())
        .filter(|b| !b.is_empty())
        .map(|b| {
            if b.ends_with("[bot]") {
                b.to_owned()
            } else {
                format!("{b}[bot]")
            }
        })
        .collect();
    let mut api: Option<Api> = None;
    let mut granted = Vec::new();
    for actor in actors {
        if actor.bot {
            if allowed_bots
                .iter()
                .any(|b| b.eq_ignore_ascii_case(&actor.login))
            {
                granted.push((actor, Grant::AllowListedBot));
                continue;
            }
            return Ok(Verdict::Refused(format!(
                "{} ({}) is a bot that is not allow-listed; add it with --allow-bot {} or WARDEN_ALLOWED_BOTS if it should trigger warden",
                actor.login, actor.source, actor.login
            )));
        }
        if api.is_none() {
            let token = github.token.as_ref().ok_or_else(|| {
                AuthorizeError::Setup(
                    "GITHUB_TOKEN is not set: cannot ask GitHub who may trigger this run; pass `env: GITHUB_TOKEN: ${{ github.token }}`"
                        .into(),
                )
            })?;
            api = Some(
                Api::new(&github, token, opts.retry)
                    .map_err(|e| AuthorizeError::Api(e.to_string()))?,
            );
        }
        let api = api.as_ref().expect("set above");
        let (permission, role_name) = match permission_of(api, &actor.login).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Ok(Verdict::Refused(format!(
                    "{} ({}) is not a collaborator on {repository}",
                    actor.login, actor.source
                )));
            }
            Err(e) => return Err(AuthorizeError::Api(e)),
        };
        if !opts
            .required
            .satisfied_by(&permission, role_name.as_deref())
        {
            let role = role_name
                .as_deref()
                .filter(|r| *r != permission)
                .map(|r| format!(" (role {r})"))
                .unwrap_or_default();
            return Ok(Verdict::Refused(format!(
                "{} ({}) has {permission} permission{role} on {repository}; this needs {}",
                actor.login,
                actor.source,
                opts.required.describe()
            )));
        }
        granted.push((
            actor,
            Grant::Permission {
                permission,
                role_name,
            },
        ));
    }
    Ok(Verdict::Allowed(granted))
}

/// The distinct acting logins of the event (else `GITHUB_ACTOR`); an error
/// is the refusal to report.
pub fn actors(env: &EnvMap, event: Option<&Value>) -> Result<Vec<Actor>, String> {
    let mut found: Vec<Actor> = Vec::new();
    if let Some(event) = event {
        for (pointer, type_pointer, source) in [
            (
                "/comment/user/login",
                "/comment/user/type",
                "comment.user.login",
            ),
            (
                "/review/user/login",
                "/review/user/type",
                "review.user.login",
            ),
            ("/sender/login", "/sender/type", "sender.login"),
        ] {
            let Some(login) = event.pointer(pointer) else {
                continue;
            };
            let login = login
                .as_str()
                .ok_or_else(|| format!("the event's {source} is not a string"))?;
            let typed_bot = str_at(event, type_pointer) == Some("Bot");
            push_actor(&mut found, login, typed_bot, source)?;
        }
    }
    if found.is_empty()
        && let Some(login) = event::var(env, "GITHUB_ACTOR")
    {
        push_actor(&mut found, &login, false, "GITHUB_ACTOR")?;
    }
    if found.is_empty() {
        return Err(
            "cannot tell who triggered this run: the event names no comment author or sender, and GITHUB_ACTOR is not set"
                .into(),
        );
    }
    Ok(found)
}

fn push_actor(
    found: &mut Vec<Actor>,
    login: &str,
    typed_bot: bool,
    source: &'static str,
) -> Result<(), String> {
    let Some(kind) = classify(login) else {
        return Err(format!(
            "{source} {:?} is not a GitHub login",
            login.chars().take(64).collect::<String>()
        ));
    };
    if found.iter().any(|a| a.login.eq_ignore_ascii_case(login)) {
        return Ok(());
    }
    found.push(Actor {
        login: login.to_owned(),
        bot: typed_bot || kind == LoginKind::Bot,
        source,
    });
    Ok(())
}

/// GitHub's answer for `login`: `Ok(None)` when it knows no such
/// collaborator (404), `Err` when it did not answer usably.
async fn permission_of(api: &Api, login: &str) -> Result<Option<(String, Option<String>)>, String> {
    let uri = api.repo_path(&format!("/collaborators/{login}/permission"));
    let reply = match api.request(Method::Get, &uri, None).await {
        Ok(r) => r,
        Err(ApiError::Status { status: 404, .. }) => return Ok(None),
        Err(e @ ApiError::Forbidden { .. }) => {
            return Err(format!(
                "{e}; the token needs read access to the repository's metadata"
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let malformed =
        |what: &str| format!("GitHub's answer to GET {uri} is malformed ({what}); refusing");
    let permission = str_at(&reply.body, "/permission")
        .ok_or_else(|| malformed("no permission"))?
        .to_owned();
    let answered_for = str_at(&reply.body, "/user/login").ok_or_else(|| malformed("no user"))?;
    if !answered_for.eq_ignore_ascii_case(login) {
        return Err(malformed(&format!(
            "it is about {answered_for}, not {login}"
        )));
    }
    let role_name = str_at(&reply.body, "/role_name").map(str::to_owned);
    Ok(Some((permission, role_name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_and_what_they_satisfy() {
        assert!(Required::Write.satisfied_by("write", Some("write")));
        assert!(Required::Write.satisfied_by("write", Some("maintain")));
        assert!(Required::Write.satisfied_by("admin", None));
        assert!(!Required::Write.satisfied_by("read", Some("triage")));
        assert!(!Required::Write.satisfied_by("none", None));
        assert!(!Required::Write.satisfied_by("WRITE", None));
        assert!(Required::Maintain.satisfied_by("write", Some("maintain")));
        assert!(!Required::Maintain.satisfied_by("write", Some("write")));
        assert!(Required::Admin.satisfied_by("admin", Some("admin")));
        assert!(!Required::Admin.satisfied_by("write", Some("admin")));
    }

    #[test]
    fn actors_from_the_event_then_github_actor() {
        let mut env = EnvMap::new();
        env.insert("GITHUB_ACTOR".into(), "pusher".into());
        let comment = json!({
            "comment": {"user": {"login": "alice", "type": "User"}},
            "sender": {"login": "Alice", "type": "User"}
        });
        let a = actors(&env, Some(&comment)).unwrap();
        assert_eq!(a.len(), 1, "same login in another case is one actor");
        assert_eq!(a[0].source, "comment.user.login");
        let edited = json!({
            "comment": {"user": {"login": "alice"}},
            "sender": {"login": "dependabot[bot]", "type": "Bot"}
        });
        let a = actors(&env, Some(&edited)).unwrap();
        assert_eq!(a.len(), 2);
        assert!(a[1].bot);
        let typed = json!({"sender": {"login": "some-app", "type": "Bot"}});
        assert!(actors(&env, Some(&typed)).unwrap()[0].bot);
        let none = json!({"action": "x"});
        assert_eq!(actors(&env, Some(&none)).unwrap()[0].source, "GITHUB_ACTOR");
        assert!(actors(&EnvMap::new(), None).is_err());
        let forged = json!({"comment": {"user": {"login": "x/../../admin"}}});
        assert!(
            actors(&env, Some(&forged))
                .unwrap_err()
                .contains("not a GitHub login")
        );
    }
}
