//! The home directory of the account warden runs as, from `/etc/passwd`,
//! when it is not `$HOME`.
//!
//! `~` in `deny_read` expands against `$HOME`, but `$HOME` is not always
//! the account's home: GitHub's container jobs set `HOME=/github/home` for
//! root, whose files are in `/root`; `sudo -E` and some self-hosted setups
//! keep another user's HOME. ssh, and anything that asks the account
//! database instead of the environment, keeps its credentials in the
//! account's home, so a `~/.ssh` denied only under `$HOME` left
//! `/root/.ssh` readable. [`super::resolve`] denies `~` entries under both.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The account's home when it differs from `home` (`$HOME`) and exists.
/// Read once per process (the account database does not change mid-run).
pub fn other_than(home: Option<&Path>) -> Option<PathBuf> {
    static ACCOUNT_HOME: OnceLock<Option<PathBuf>> = OnceLock::new();
    let account = ACCOUNT_HOME
        .get_or_init(|| {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            let text = std::fs::read_to_string("/etc/passwd").ok()?;
            home_of(&text, uid)
                .and_then(|h| std::fs::canonicalize(h).ok())
                // A daemon account's home of `/` would deny the root for `~`.
                .filter(|h| h != Path::new("/"))
        })
        .as_ref()?;
    let same = home.is_some_and(|h| std::fs::canonicalize(h).is_ok_and(|h| h == *account));
    (!same).then(|| account.clone())
}

/// The home field of `uid`'s line in a passwd(5) text (the first one).
fn home_of(passwd: &str, uid: u32) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let (Some(id), Some(home)) = (fields.get(2), fields.get(5)) else {
            return None;
        };
        (id.parse::<u32>().ok() == Some(uid) && home.starts_with('/')).then(|| PathBuf::from(home))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_home_field_of_the_uid() {
        let text = "root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\n\
                    runner:x:1001:1001::/home/runner:/bin/bash\nnohome:x:7:7::relative:/bin/sh\n";
        assert_eq!(home_of(text, 0), Some(PathBuf::from("/root")));
        assert_eq!(home_of(text, 1001), Some(PathBuf::from("/home/runner")));
        assert_eq!(home_of(text, 7), None, "not an absolute path");
        assert_eq!(home_of(text, 42), None);
    }
}
