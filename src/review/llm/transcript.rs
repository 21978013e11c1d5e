//! Which part of the transcript the reviewer sees, within
//! `auto_review.transcript_budget` characters.
//!
//! - The first and the last user message are always kept: the task, and
//!   the latest thing the user said.
//! - The rest is filled newest first until the budget is spent; the first
//!   entry that does not fit (even cut down) ends the selection, so what is
//!   shown is one recent, contiguous stretch plus the pinned messages.
//! - A long entry is cut in the middle (head and tail kept: the start says
//!   what it is, the end holds errors and conclusions) with a marker saying
//!   how much was cut.
//! - The result is in chronological order, with a gap marker wherever
//!   entries were left out.
//!
//! The budget counts the characters of entry text; warden's own markers and
//! fence lines are not counted.

use crate::review::TranscriptEntry;

/// Shortest cut-down entry worth showing; below this an entry that does not
/// fit is left out instead.
pub const MIN_ENTRY_CHARS: usize = 200;

/// One item of the selected transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An entry: its 1-based number in the full transcript, role and text
    /// (possibly cut).
    Entry {
        number: usize,
        role: String,
        text: String,
        /// The entry is the user's request itself (shown once, above).
        same_as_request: bool,
    },
    /// `count` consecutive entries left out.
    Gap { count: usize },
}

/// Select what fits in `budget` characters. `user_request` is shown to the
/// reviewer on its own, so a transcript entry identical to it is not
/// repeated.
pub fn select(entries: &[TranscriptEntry], user_request: &str, budget: usize) -> Vec<Item> {
    let n = entries.len();
    let first_user = entries.iter().position(|e| e.role == "user");
    let last_user = entries.iter().rposition(|e| e.role == "user");
    let pinned = |i: usize| Some(i) == first_user || Some(i) == last_user;
    let pin_cap = (budget / 3).max(MIN_ENTRY_CHARS);
    let entry_cap = (budget / 4).max(MIN_ENTRY_CHARS);

    let mut kept: Vec<Option<(String, bool)>> = vec![None; n];
    let mut used = 0usize;
    for i in (0..n).filter(|&i| pinned(i)) {
        let same = entries[i].content == user_request;
        let text = if same {
            String::new()
        } else {
            cut_middle(&entries[i].content, pin_cap)
        };
        used += text.chars().count();
        kept[i] = Some((text, same));
    }
    let mut remaining = budget.saturating_sub(used);
    for i in (0..n).rev().filter(|&i| !pinned(i)) {
        let content = &entries[i].content;
        let room = entry_cap.min(remaining);
        let full = content.chars().count();
        let text = if full <= room {
            content.clone()
        } else if room >= MIN_ENTRY_CHARS {
            cut_middle(content, room)
        } else {
            break;
        };
        remaining -= text.chars().count().min(remaining);
        kept[i] = Some((text, false));
    }

    let mut items = Vec::new();
    let mut gap = 0;
    for (i, slot) in kept.into_iter().enumerate() {
        match slot {
            None => gap += 1,
            Some((text, same_as_request)) => {
                if gap > 0 {
                    items.push(Item::Gap { count: gap });
                    gap = 0;
                }
                items.push(Item::Entry {
                    number: i + 1,
                    role: entries[i].role.clone(),
                    text,
                    same_as_request,
                });
            }
        }
    }
    if gap > 0 {
        items.push(Item::Gap { count: gap });
    }
    items
}

/// `text` cut to `max` characters of content by removing the middle, with
/// a marker saying how much was removed. Shorter text is returned as is.
pub fn cut_middle(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_owned();
    }
    let head = max * 2 / 3;
    let tail = max - head;
    let head_end = text.char_indices().nth(head).map_or(text.len(), |(b, _)| b);
    let tail_start = text
        .char_indices()
        .nth(total - tail)
        .map_or(text.len(), |(b, _)| b);
    format!(
        "{}\n[… warden: {} of {total} characters cut here …]\n{}",
        &text[..head_end],
        total - max,
        &text[tail_start..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(role: &str, content: &str) -> TranscriptEntry {
        TranscriptEntry {
            role: role.into(),
            content: content.into(),
        }
    }

    fn numbers(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Entry { number, .. } => number.to_string(),
                Item::Gap { count } => format!("gap{count}"),
            })
            .collect()
    }

    #[test]
    fn keeps_pinned_users_and_the_newest_entries_within_budget() {
        let mut t = vec![entry("user", "fix the build")];
        for i in 0..20 {
            t.push(entry(
                "assistant",
                &format!("step {i:03} {}", "a".repeat(90)),
            ));
        }
        t.push(entry("user", "also update the changelog"));
        t.push(entry("tool", &"t".repeat(100)));
        // 1000 chars: the two users (short), then ~9 entries of ~100.
        let items = select(&t, "fix the build", 1000);
        let n = numbers(&items);
        assert_eq!(n.first().unwrap(), "1", "{n:?}");
        assert!(n.contains(&"22".to_owned()) && n.contains(&"23".to_owned()));
        assert!(n[1].starts_with("gap"), "older entries dropped: {n:?}");
        let shown: usize = items
            .iter()
            .map(|i| match i {
                Item::Entry { text, .. } => text.chars().count(),
                Item::Gap { .. } => 0,
            })
            .sum();
        assert!(shown <= 1000, "{shown}");
        // The first user message equals the request: not repeated.
        assert!(
            matches!(&items[0], Item::Entry { same_as_request: true, text, .. } if text.is_empty())
        );
    }

    #[test]
    fn pinned_messages_survive_a_tiny_budget_cut_down() {
        let t = vec![
            entry("user", &"u".repeat(5000)),
            entry("tool", "out"),
            entry("user", &"v".repeat(5000)),
        ];
        let items = select(&t, "something else", 0);
        let n = numbers(&items);
        assert_eq!(n, vec!["1", "gap1", "3"]);
        for item in &items {
            if let Item::Entry { text, .. } = item {
                assert!(text.contains("characters cut here"), "{text}");
                assert!(text.chars().count() < 400);
            }
        }
    }

    #[test]
    fn long_entries_are_cut_with_head_and_tail() {
        let text = format!("HEAD{}TAIL", "x".repeat(10_000));
        let cut = cut_middle(&text, 300);
        assert!(cut.starts_with("HEAD") && cut.ends_with("TAIL"), "{cut}");
        assert!(cut.contains("9708 of 10008 characters cut"), "{cut}");
        assert_eq!(cut_middle("short", 300), "short");
        // Multi-byte text is cut on character boundaries.
        let wide = "é".repeat(1000);
        assert!(cut_middle(&wide, 10).starts_with("éééééé\n"));
    }

    #[test]
    fn an_empty_transcript_selects_nothing() {
        assert!(select(&[], "x", 8000).is_empty());
    }
}
