//! The offline report formats of `warden report --format`: one function
//! picks the renderer, so the CLI and any other caller print the same
//! bytes. It may import `audit`, `config` and the rest of `report`.

use clap::ValueEnum;

use super::markdown::{MarkdownOptions, render};
use super::sarif;
use crate::audit::AuditSummary;
use crate::config::ReportConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Markdown,
    Json,
    Sarif,
}

/// The report in one of the offline formats, redacted, ending in a newline.
pub fn render_format(summary: &AuditSummary, config: &ReportConfig, format: Format) -> String {
    let mut text = match format {
        Format::Markdown => render(summary, config, &MarkdownOptions::default()),
        Format::Json => {
            let mut value = serde_json::to_value(summary).expect("summaries serialize");
            crate::redact::redact_json(&mut value);
            serde_json::to_string_pretty(&value).expect("JSON values serialize")
        }
        Format::Sarif => serde_json::to_string_pretty(&sarif::render(summary, config))
            .expect("JSON values serialize"),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}
