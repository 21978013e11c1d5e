//! Parsing one TOML text (a layer file, a requirements file or a `-c
//! key=value` argument) into its raw, span-carrying form, with errors located
//! at `file:line:col`.

use serde::de::DeserializeOwned;

use super::ConfigError;
use super::location::SourceText;
use super::suggest;

/// Deserialize `src` as `T`, turning toml/serde errors into located
/// [`ConfigError`]s with a `help:` line where one is useful.
pub fn parse_toml<T: DeserializeOwned>(src: &SourceText) -> Result<T, ConfigError> {
    toml::from_str(&src.text).map_err(|e| toml_error(src, &e))
}

/// A located error for a toml/serde failure in `src`.
pub fn toml_error(src: &SourceText, e: &toml::de::Error) -> ConfigError {
    let reworded = suggest::reword(e.message().trim_end());
    let mut message = reworded.message;
    if let Some(arg) = src.override_argument() {
        message = format!("{message} (in `-c {arg}`)");
    }
    match e.span() {
        Some(span) => ConfigError::at(src, &span, message),
        None => ConfigError::new(message),
    }
    .help_opt(reworded.help)
}

/// Build the TOML text for the `ordinal`-th `-c KEY=VALUE` argument.
///
/// The argument is read as the TOML line `KEY = VALUE`. When `VALUE` is not
/// valid TOML on its own (`-c sandbox_mode=read-only`), it is taken as a
/// string. The result must set exactly the one key named; anything else
/// (a second key smuggled in after a newline, say) is an error.
pub fn override_text(ordinal: u32, argument: &str) -> Result<SourceText, ConfigError> {
    let usage = |message: String| {
        ConfigError::new(message).help(
            "write `-c KEY=VALUE`, e.g. `-c sandbox_mode=read-only` or `-c 'sandbox.deny_read=[\"~/.kube\"]'`",
        )
    };
    let Some((key, value)) = argument.split_once('=') else {
        return Err(usage(format!("`-c {argument}`: expected KEY=VALUE")));
    };
    if key.trim().is_empty() {
        return Err(usage(format!("`-c {argument}`: the key is empty")));
    }
    // The key alone, with a placeholder value, tells us its dotted path and
    // whether it is a valid TOML key at all.
    let key_probe = SourceText::override_arg(ordinal, argument, key, "0", false);
    let probe: toml::Table = toml::from_str(&key_probe.text).map_err(|e| {
        let mut d = toml_error(&key_probe, &e);
        d.message = format!("invalid key `{}` (in `-c {argument}`)", key.trim());
        d
    })?;
    let path = key_path(&probe);

    let raw = SourceText::override_arg(ordinal, argument, key, value, false);
    if let Ok(table) = toml::from_str::<toml::Table>(&raw.text) {
        if sets_only(&table, &path) {
            return Ok(raw);
        }
        return Err(usage(format!(
            "`-c {argument}` sets more than the key `{}`",
            path.join(".")
        )));
    }
    let quoted = toml::Value::String(value.trim().to_owned()).to_string();
    let text = SourceText::override_arg(ordinal, argument, key, &quoted, true);
    match toml::from_str::<toml::Table>(&text.text) {
        Ok(table) if sets_only(&table, &path) => Ok(text),
        Ok(_) => Err(usage(format!(
            "`-c {argument}` sets more than the key `{}`",
            path.join(".")
        ))),
        Err(e) => Err(toml_error(&text, &e)),
    }
}

/// The dotted path of the single key a `KEY = 0` table sets.
fn key_path(table: &toml::Table) -> Vec<String> {
    let mut path = Vec::new();
    let mut current = table;
    while let Some((k, v)) = current.iter().next() {
        path.push(k.clone());
        match v {
            toml::Value::Table(t) => current = t,
            _ => break,
        }
    }
    path
}

/// Whether `table` sets exactly the key at `path` (whatever its value).
fn sets_only(table: &toml::Table, path: &[String]) -> bool {
    let mut current = table;
    for (i, segment) in path.iter().enumerate() {
        if current.len() != 1 {
            return false;
        }
        match current.get(segment) {
            Some(toml::Value::Table(t)) if i + 1 < path.len() => current = t,
            Some(_) if i + 1 == path.len() => return true,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawLayer;

    fn layer(arg: &str) -> Result<RawLayer, ConfigError> {
        parse_toml(&override_text(1, arg)?)
    }

    #[test]
    fn bare_words_become_strings() {
        let l = layer("sandbox_mode=read-only").unwrap();
        assert_eq!(
            l.sandbox_mode.unwrap().into_inner(),
            crate::config::SandboxMode::ReadOnly
        );
        let l = layer("sandbox.network=on").unwrap();
        assert!(l.sandbox.unwrap().network.is_some());
    }

    #[test]
    fn toml_values_are_parsed() {
        let l = layer("sandbox.deny_read=[\"~/.kube\", \"/srv\"]").unwrap();
        assert_eq!(l.sandbox.unwrap().deny_read.unwrap().len(), 2);
        let l = layer("agent.max_turns=7").unwrap();
        assert_eq!(*l.agent.unwrap().max_turns.unwrap().get_ref(), 7);
    }

    #[test]
    fn unknown_key_points_into_the_argument() {
        let e = layer("sandbox.netwrk=on").unwrap_err();
        assert_eq!(e.location.as_ref().unwrap().to_string(), "-c:1:9");
        assert_eq!(e.help.as_deref(), Some("did you mean `network`?"));
        assert!(e.message.contains("(in `-c sandbox.netwrk=on`)"));
    }

    #[test]
    fn type_error_points_at_the_value() {
        let e = layer("agent.max_turns=-3").unwrap_err();
        assert_eq!(e.location.as_ref().unwrap().to_string(), "-c:1:17");
    }

    #[test]
    fn smuggled_keys_are_refused() {
        let e = layer("sandbox_mode=\"read-only\"\nsandbox.network=\"on\"").unwrap_err();
        assert!(e.message.contains("sets more than"), "{e}");
        assert!(layer("no_equals_sign").is_err());
        assert!(layer("=x").is_err());
    }
}
