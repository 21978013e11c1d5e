//! The job summary: Markdown appended to the file named by
//! `GITHUB_STEP_SUMMARY`. The runner refuses a step's summary over 1 MiB, so
//! the report is rendered to fit what the step has left (see
//! [`available`]).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

/// The runner's limit on one step's summary, in bytes.
pub const MAX_STEP_SUMMARY: usize = 1024 * 1024;
/// Kept free for anything else the step writes after warden.
const MARGIN: usize = 1024;

/// Bytes warden may still append to the summary file at `path`.
pub fn available(path: &Path) -> usize {
    let used = std::fs::metadata(path).map_or(0, |m| m.len() as usize);
    MAX_STEP_SUMMARY.saturating_sub(used).saturating_sub(MARGIN)
}

/// Append `markdown` (and a blank line) to the summary file.
pub fn append(path: &Path, markdown: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    file.write_all(markdown.as_bytes())?;
    if !markdown.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    file.write_all(b"\n")
}
