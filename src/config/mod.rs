//! Configuration: built-in profiles, layered TOML, managed requirements and
//! diagnostics that name file:line:col.

pub mod schema;

pub use schema::*;

use crate::decision::Source;

/// A configuration error, located where possible.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    pub location: Option<Source>,
    pub message: String,
    pub help: Option<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}
