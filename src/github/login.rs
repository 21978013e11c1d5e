//! GitHub logins: the one check of whether a string is a login GitHub
//! could have issued, before it reaches an API path (`warden gh authorize`)
//! or a report (`WARDEN_APPROVED_BY` in `warden run`).
//!
//! GitHub's rule for user and organisation names: letters, digits and
//! single hyphens, no hyphen first or last, at most 39 characters. A GitHub
//! App acts as `<slug>[bot]`, its slug following the same rule.
//!
//! May import: nothing of warden's.

/// What a valid login names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// A user or organisation (`octo-cat`).
    User,
    /// A GitHub App acting as a bot (`dependabot[bot]`).
    Bot,
}

/// The longest login GitHub issues.
pub const MAX_LOGIN_LEN: usize = 39;

/// `Some(kind)` for a login GitHub could have issued, `None` for anything
/// else: nothing that fails this can reach an API path.
pub fn classify(login: &str) -> Option<LoginKind> {
    let (name, kind) = match login.strip_suffix("[bot]") {
        Some(slug) => (slug, LoginKind::Bot),
        None => (login, LoginKind::User),
    };
    let shaped = !name.is_empty()
        && name.len() <= MAX_LOGIN_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    shaped.then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_bots_at_the_edges_of_the_rule() {
        let longest = "a".repeat(MAX_LOGIN_LEN);
        for user in ["a", "0", "octo-cat", "a-b-c", "Octo9", longest.as_str()] {
            assert_eq!(classify(user), Some(LoginKind::User), "{user:?}");
        }
        let longest_bot = format!("{longest}[bot]");
        for bot in [
            "dependabot[bot]",
            "github-actions[bot]",
            longest_bot.as_str(),
        ] {
            assert_eq!(classify(bot), Some(LoginKind::Bot), "{bot:?}");
        }
        let too_long = "a".repeat(MAX_LOGIN_LEN + 1);
        let too_long_bot = format!("{too_long}[bot]");
        for bad in [
            "",
            "-",
            "-x",
            "x-",
            "a--b",
            "a_b",
            "a.b",
            "a/b",
            "../admin",
            "a b",
            " a",
            "x?y",
            "é",
            "[bot]",
            "-x[bot]",
            "a[bot][bot]",
            "a[bot]x",
            "a[BOT]",
            too_long.as_str(),
            too_long_bot.as_str(),
        ] {
            assert_eq!(classify(bad), None, "{bad:?}");
        }
    }
}
