//! How one argument reads to a tool's option parser ([`Syntax`]): which
//! listed option of [`super::table`] it selects, with its value, whatever
//! the spelling (`--opt=v`, `--opt v`, bundled `-qi URL`, `-ihttps://…`,
//! abbreviations, nopt's `-long` and `--no-X`, go's `-name`).

use super::table::{Opt, Syntax, Tool};
use crate::policy::command_rules::wildcard_match;

pub(super) enum Parsed {
    /// A listed option, its value if any, and whether the value is the
    /// next argument.
    Listed(&'static Opt, Option<String>, bool),
    /// An option whose value is not an operand.
    Value {
        takes_next: bool,
    },
    Other,
}

pub(super) fn option(tool: &'static Tool, arg: &str, next: Option<&str>) -> Parsed {
    let with_value = |opt: &'static Opt, inline: Option<&str>| match inline {
        Some(v) => Parsed::Listed(opt, Some(v.to_owned()), false),
        None => Parsed::Listed(opt, next.map(str::to_owned), next.is_some()),
    };
    let go = tool.syntax == Syntax::Go;
    let nopt = tool.syntax == Syntax::Nopt;
    let long = arg.strip_prefix("--");
    // Go takes `-name` like `--name`; npm's parser takes a single-dash
    // option name too (`-registry=…`).
    let as_long = long.or_else(|| (go || (nopt && arg.len() > 2)).then(|| &arg[1..]));
    if let Some(body) = as_long {
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        for opt in tool.options {
            let listed = opt.spelling.trim_start_matches('-');
            if long_matches(
                listed,
                name,
                tool.syntax,
                go || opt.spelling.starts_with("--"),
            ) {
                return with_value(opt, inline);
            }
        }
        if tool
            .value_options
            .iter()
            .any(|v| v.starts_with("--") && v.trim_start_matches('-') == name)
        {
            return Parsed::Value {
                takes_next: inline.is_none() && next.is_some(),
            };
        }
        if long.is_some() || go {
            return Parsed::Other;
        }
    }
    // A cluster of short options: `-qi URL`, `-ihttps://…`, `-Zflag`.
    let cluster = &arg[1..];
    for (at, c) in cluster.char_indices() {
        let rest = &cluster[at + c.len_utf8()..];
        let inline = (!rest.is_empty()).then_some(rest);
        let short = |s: &&str| s.len() == 2 && s.ends_with(c) && !s.starts_with("--");
        if let Some(opt) = tool.options.iter().find(|o| short(&o.spelling)) {
            return with_value(opt, inline);
        }
        if tool.value_options.iter().any(short) {
            return Parsed::Value {
                takes_next: inline.is_none() && next.is_some(),
            };
        }
    }
    Parsed::Other
}

/// Whether a long option `name` (without dashes) given on the command
/// line selects the listed option.
fn long_matches(listed: &str, name: &str, syntax: Syntax, listed_is_long: bool) -> bool {
    if !listed_is_long {
        return false;
    }
    if wildcard_match(listed, name) {
        return true;
    }
    if !matches!(syntax, Syntax::Abbreviating | Syntax::Nopt) || listed.contains('*') {
        return false;
    }
    // optparse and nopt accept an unambiguous prefix; nopt also `--no-X`
    // (optparse's `--no-index` is an option of its own).
    let prefix = |n: &str| n.len() >= 2 && listed.starts_with(n);
    prefix(name) || (syntax == Syntax::Nopt && name.strip_prefix("no-").is_some_and(prefix))
}
