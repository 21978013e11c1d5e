//! `warden run --demo`: the README's first command. An embedded scenario is
//! replayed offline against a tiny embedded project in a fresh temporary
//! workspace, through the real pipeline, sandbox, breaker, audit log and
//! report. Nothing outside the temporary directory is written.

use std::path::PathBuf;

use crate::error::Error;
use crate::model::ScriptProvider;

/// Where the embedded scenario says it comes from.
pub const SCENARIO_ORIGIN: &str = "builtin:examples/scenarios/exfiltration.yaml";
const SCENARIO: &str = include_str!("../../examples/scenarios/exfiltration.yaml");

const FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../../examples/demo/README.md")),
    ("greet.sh", include_str!("../../examples/demo/greet.sh")),
    ("test.sh", include_str!("../../examples/demo/test.sh")),
    ("NOTES.md", include_str!("../../examples/demo/NOTES.md")),
];

/// Create the demo workspace; returns its path (kept after the run so it
/// can be inspected).
pub fn workspace() -> Result<PathBuf, Error> {
    let dir = tempfile::Builder::new()
        .prefix("warden-demo-")
        .tempdir()
        .map_err(|e| Error::infra(format!("cannot create the demo workspace: {e}")))?
        .keep();
    for (name, text) in FILES {
        std::fs::write(dir.join(name), text)
            .map_err(|e| Error::infra(format!("cannot write the demo workspace: {e}")))?;
    }
    Ok(dir)
}

/// The embedded scenario.
pub fn provider() -> Result<ScriptProvider, Error> {
    Ok(ScriptProvider::from_yaml(SCENARIO, SCENARIO_ORIGIN)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_scenario_parses() {
        let p = super::provider().unwrap();
        assert!(p.prompt().unwrap().contains("failing test"));
    }
}
