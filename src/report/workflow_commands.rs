//! GitHub Actions workflow-command annotations (`::error file=…,line=…::msg`),
//! the fallback when warden may not create a check run (no token, or a
//! read-only token on a fork pull request). The runner turns each line on
//! stdout into an annotation.
//!
//! Escaping follows the runner's rules: in the message `%`, `\r` and `\n`
//! become `%25`, `%0D`, `%0A`; in property values `:` and `,` are escaped
//! too (`%3A`, `%2C`). An escaped line cannot start a second command, so
//! text from the agent cannot inject `::add-mask::` or `::stop-commands::`.
//!
//! The runner shows at most 10 annotations of each level per step.

use super::annotations::Annotation;

/// Escape a command's message.
pub fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escape a property value (`file=`, `title=` …).
pub fn escape_property(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' => out.push_str("%3A"),
            ',' => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

/// One annotation as a workflow command line (without the newline).
pub fn format(annotation: &Annotation) -> String {
    let mut props: Vec<String> = Vec::new();
    if let Some(loc) = &annotation.location {
        props.push(format!("file={}", escape_property(&loc.path)));
        props.push(format!("line={}", loc.start_line));
        props.push(format!("endLine={}", loc.end_line));
        if loc.start_line == loc.end_line
            && let (Some(start), Some(end)) = (loc.start_column, loc.end_column)
        {
            props.push(format!("col={start}"));
            props.push(format!("endColumn={end}"));
        }
    }
    props.push(format!("title={}", escape_property(&annotation.title)));
    format!(
        "::{} {}::{}",
        annotation.level.as_workflow_command(),
        props.join(","),
        escape_data(&annotation.message)
    )
}

/// All annotations as workflow command lines.
pub fn format_all(annotations: &[Annotation]) -> Vec<String> {
    annotations.iter().map(format).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::annotations::{Level, Location};

    #[test]
    fn escapes_like_the_runner() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn an_injected_command_stays_inside_the_message() {
        let a = Annotation {
            location: Some(Location {
                path: "src/a,b:c.rs".into(),
                start_line: 3,
                end_line: 3,
                start_column: Some(2),
                end_column: Some(2),
            }),
            level: Level::Failure,
            title: "warden denied D1: exec x".into(),
            message: "reason\n::add-mask::oops\n::stop-commands::t".into(),
            rule_id: "command_rules".into(),
            action_id: "a1".into(),
            denial_id: Some("D1".into()),
        };
        let line = format(&a);
        assert_eq!(line.lines().count(), 1);
        assert_eq!(
            line,
            "::error file=src/a%2Cb%3Ac.rs,line=3,endLine=3,col=2,endColumn=2,title=warden denied D1%3A exec x::reason%0A::add-mask::oops%0A::stop-commands::t"
        );
    }

    #[test]
    fn no_location_means_no_file_property() {
        let a = Annotation {
            location: None,
            level: Level::Warning,
            title: "t".into(),
            message: "m".into(),
            rule_id: "user".into(),
            action_id: "a1".into(),
            denial_id: None,
        };
        assert_eq!(format(&a), "::warning title=t::m");
    }
}
