//! Configuration: built-in profiles, layered TOML, managed requirements and
//! diagnostics that name file:line:col.
//!
//! Layers, lowest first (see `docs/configuration.md`):
//! `builtin:profiles/common.toml` → `builtin:profiles/NAME.toml` →
//! `WORKSPACE/.warden/config.toml` → each `--config FILE` → each `-c
//! key=value`; managed requirements sit on top and can only tighten.
//! [`load`] returns the resolved [`Config`] with the provenance of every
//! value; [`Loaded::digest`] fingerprints the result.
//!
//! Errors and warnings are [`Diagnostic`]s: a load reports every error of
//! every layer at once ([`diagnostic`]); scalar keys are defined once in
//! [`keys`]. Imports: `decision` (sources, categories), `action` (kinds) and
//! `policy::command_rules` (rule examples are run while loading); never
//! `cli`, whose flags become [`LoadOptions`] in `cli::GlobalArgs`.

pub mod builtin;
pub mod codex_rules;
pub mod diagnostic;
pub mod globs;
pub mod keys;
pub mod location;
mod merge;
pub mod parse;
pub mod provenance;
pub mod raw;
pub mod requirements;
mod resolve;
pub mod rules;
pub mod schema;
mod suggest;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use builtin::builtin_profiles;
pub use diagnostic::{ConfigError, Diagnostic};
pub use provenance::{LayerInfo, LayerKind, Provenance};
pub use schema::*;

use diagnostic::SourceFiles;
use location::SourceText;
use merge::{Builder, LayerCtx};
use requirements::{Requirements, SYSTEM_REQUIREMENTS};

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Built-in profile at the bottom of the stack (default `dev`).
    pub profile: Option<String>,
    /// Workspace whose `.warden/config.toml` is the project layer; `None`:
    /// no project layer.
    pub workspace: Option<PathBuf>,
    /// `--config FILE`s, lowest first.
    pub config_files: Vec<PathBuf>,
    /// `-c key=value` arguments, lowest first.
    pub overrides: Vec<String>,
    /// Managed requirements file (`--requirements` / `WARDEN_REQUIREMENTS`).
    pub requirements: Option<PathBuf>,
    /// When no requirements file is given, use
    /// `/etc/warden/requirements.toml` if it exists (false in tests).
    pub system_requirements: bool,
}

impl LoadOptions {
    /// Just a built-in profile: no project layer, no files, no requirements.
    pub fn builtin(profile: &str) -> Self {
        LoadOptions {
            profile: Some(profile.to_owned()),
            ..Default::default()
        }
    }
}

/// The resolved configuration and how it came to be.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Key path → layer and `file:line:col` that set it.
    pub provenance: Vec<Provenance>,
    /// Things that load but deserve attention, as `file:line:col: message`
    /// (`profiles show --json`); the headlines of [`Loaded::diagnostics`].
    pub warnings: Vec<String>,
    /// The same warnings with their excerpts (printed by the CLI).
    pub diagnostics: Vec<Diagnostic>,
    /// Layers applied, lowest first (requirements last).
    pub layers: Vec<LayerInfo>,
}

impl Loaded {
    /// The provenance of one key, if it was set.
    pub fn provenance_of(&self, key: &str) -> Option<&Provenance> {
        self.provenance.iter().find(|p| p.key == key)
    }

    /// SHA-256 (hex) of the canonical JSON of `config`. Computed on demand:
    /// `warden sandbox` never needs it, and it is ≈ 50 µs of every start.
    pub fn digest(&self) -> String {
        digest(&self.config)
    }
}

/// The project layer's path relative to the workspace.
pub const PROJECT_CONFIG: &str = ".warden/config.toml";

/// Load, merge, check and resolve the configuration.
pub fn load(opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    load_layers(opts, BuiltinRules::Parse)
}

/// What one command under a profile's sandbox needs from the configuration
/// (`warden sandbox`), and nothing that decides policy.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub sandbox_mode: SandboxMode,
    pub sandbox: SandboxConfig,
    /// As in [`Loaded::warnings`].
    pub warnings: Vec<String>,
    /// As in [`Loaded::diagnostics`] (printed by the CLI).
    pub diagnostics: Vec<Diagnostic>,
}

/// [`load`] for `warden sandbox`: the same layers, requirements and checks,
/// except that the built-in profiles' `[[command_rules]]` and
/// `[[review_rules]]` are not parsed. They decide nothing about the
/// sandbox, they are compiled in and checked by the test suite, and parsing
/// them is most of a load (≈ 0.3 ms of every `warden sandbox`). Every other
/// layer (project, `--config`, `-c`, requirements) is parsed and checked in
/// full, so a bad project config still fails. Only the sandbox settings come
/// back: a configuration without the built-in rules never reaches a policy
/// decision.
pub fn load_sandbox(opts: &LoadOptions) -> Result<SandboxSettings, ConfigError> {
    let loaded = load_layers(opts, BuiltinRules::Skip)?;
    Ok(SandboxSettings {
        sandbox_mode: loaded.config.sandbox_mode,
        sandbox: loaded.config.sandbox,
        warnings: loaded.warnings,
        diagnostics: loaded.diagnostics,
    })
}

/// Whether the built-in layers' rule tables are parsed ([`load_sandbox`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum BuiltinRules {
    Parse,
    Skip,
}

/// Every layer is read, parsed and applied even after an error, so one run
/// reports every error of every layer (a layer that does not parse adds
/// nothing, so errors that follow from it are not invented).
fn load_layers(opts: &LoadOptions, builtin_rules: BuiltinRules) -> Result<Loaded, ConfigError> {
    let profile = opts.profile.as_deref().unwrap_or(builtin::DEFAULT_PROFILE);
    let Some((profile_name, profile_text)) = builtin::profile(profile) else {
        let names = builtin::names();
        let help = match suggest::closest(profile, &names) {
            Some(n) => format!("did you mean `{n}`? (`warden profiles list` shows all)"),
            None => format!("built-in profiles: {}", names.join(", ")),
        };
        return Err(ConfigError::new(format!("unknown profile `{profile}`")).help(help));
    };
    let mut errors = Vec::new();

    let requirements_path = match (&opts.requirements, opts.system_requirements) {
        (Some(path), _) => Some(path.as_path()),
        (None, true) if Path::new(SYSTEM_REQUIREMENTS).exists() => {
            Some(Path::new(SYSTEM_REQUIREMENTS))
        }
        _ => None,
    };
    let requirements_text =
        requirements_path.and_then(|p| keep(&mut errors, Requirements::read(p)));

    let builtin_text = |text: &'static str| match builtin_rules {
        BuiltinRules::Parse => text.to_owned(),
        BuiltinRules::Skip => builtin::before_rules(text).to_owned(),
    };
    let mut layers: Vec<(LayerKind, SourceText, Option<PathBuf>, PathBuf)> = vec![
        (
            LayerKind::Builtin,
            SourceText::file(builtin::COMMON_NAME, builtin_text(builtin::COMMON)),
            None,
            PathBuf::new(),
        ),
        (
            LayerKind::Builtin,
            SourceText::file(profile_name, builtin_text(profile_text)),
            None,
            PathBuf::new(),
        ),
    ];
    if let Some(ws) = &opts.workspace {
        let path = ws.join(PROJECT_CONFIG);
        if path.exists() {
            if let Some(text) = keep(
                &mut errors,
                read(&path, PROJECT_CONFIG, "the project layer"),
            ) {
                layers.push((
                    LayerKind::Project,
                    SourceText::file(PROJECT_CONFIG, text),
                    Some(ws.join(".warden")),
                    PathBuf::from(".warden"),
                ));
            }
        }
    }
    for file in &opts.config_files {
        let shown = file.display().to_string();
        let Some(text) = keep(&mut errors, read(file, &shown, "--config")) else {
            continue;
        };
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let fs_dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.clone()
        };
        layers.push((
            LayerKind::ConfigFile,
            SourceText::file(shown, text),
            Some(fs_dir),
            dir,
        ));
    }
    for (i, arg) in opts.overrides.iter().enumerate() {
        let ordinal = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if let Some(text) = keep(&mut errors, parse::override_text(ordinal, arg)) {
            layers.push((
                LayerKind::Override,
                text,
                Some(PathBuf::from(".")),
                PathBuf::new(),
            ));
        }
    }

    let mut builder = Builder::default();
    let mut infos = Vec::new();
    for (kind, src, fs_base, display_base) in &layers {
        let Some(raw) = keep(&mut errors, parse::parse_toml::<raw::RawLayer>(src)) else {
            continue;
        };
        let ctx = LayerCtx {
            kind: *kind,
            src,
            fs_base: fs_base.clone(),
            display_base: display_base.clone(),
        };
        builder.apply(&ctx, raw);
        infos.push(LayerInfo {
            kind: *kind,
            name: src.name.clone(),
        });
    }
    let requirements = requirements_text
        .as_ref()
        .and_then(|src| keep(&mut errors, Requirements::parse(src.clone())));
    if let Some(req) = &requirements {
        requirements::apply(&mut builder, req);
        infos.push(LayerInfo {
            kind: LayerKind::Requirements,
            name: req.file.clone(),
        });
    }

    let mut files = SourceFiles::default();
    for (_, src, _, _) in &layers {
        files.add(src);
    }
    if let Some(src) = &requirements_text {
        files.add(src);
    }
    errors.append(&mut builder.errors);
    errors.extend(resolve::check(&builder));
    let resolved = if errors.is_empty() {
        resolve::finish(builder, profile, requirements.as_ref())
            .map_err(|mut e| errors.append(&mut e))
            .ok()
    } else {
        None
    };
    match resolved {
        Some((config, provenance, mut diagnostics)) => {
            for w in &mut diagnostics {
                files.attach(w);
            }
            Ok(Loaded {
                config,
                provenance,
                warnings: diagnostics.iter().map(Diagnostic::headline).collect(),
                diagnostics,
                layers: infos,
            })
        }
        None => {
            errors.sort_by_key(|e| files.order_of(e.location.as_ref()));
            for e in &mut errors {
                files.attach(e);
            }
            Err(Diagnostic::all(errors)
                .unwrap_or_else(|| ConfigError::new("the configuration did not resolve")))
        }
    }
}

/// The value of `result`, or `None` with its error kept for the report.
fn keep<T>(errors: &mut Vec<ConfigError>, result: Result<T, ConfigError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// SHA-256 of the canonical JSON form of a resolved configuration (struct
/// fields in declaration order, maps sorted).
pub fn digest(config: &Config) -> String {
    let json = serde_json::to_vec(config).expect("a Config always serializes");
    hex::encode(Sha256::digest(&json))
}

fn read(path: &Path, shown: &str, what: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(format!("cannot read {what} file `{shown}`: {e}"))
            .help("check the path; warden does not run with a configuration it could not read")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_loads() {
        for (name, _) in builtin_profiles() {
            let loaded =
                load(&LoadOptions::builtin(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(loaded.config.profile, *name);
            assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
            assert_eq!(loaded.digest().len(), 64);
        }
    }

    #[test]
    fn unknown_profile_suggests_a_name() {
        let e = load(&LoadOptions::builtin("nighlty")).unwrap_err();
        assert_eq!(e.message, "unknown profile `nighlty`");
        assert!(e.help.unwrap().contains("`nightly`"));
    }
}
