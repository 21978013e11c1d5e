//! Layering: folding raw layers, lowest first, into one [`Builder`].
//!
//! Scalars: the highest layer that sets a key wins. Security lists
//! (`sandbox.writable_roots`, `deny_read`, `protected`, `env.pass`,
//! `command_rules`, `review_rules`, an MCP server's `disabled_tools`) are
//! appended and can never be removed by a higher layer. Maps (`env.set`,
//! `mcp_servers`, their `tools`) merge key by key. `extra_policy` texts are
//! concatenated in layer order. Every value remembers the layer and
//! `file:line:col` that set it.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::codex_rules;
use super::globs::{self, GlobKind};
use super::keys::Scalars;
use super::location::SourceText;
use super::provenance::{LayerKind, Set};
use super::raw::{HumanDuration, RawLayer, RawMcpServer};
use super::rules::{command_rule, review_rule};
use super::{ConfigError, Diagnostic};
use crate::config::schema::{
    CommandRule, NetworkMode, ReviewRule, RuleDecision, SandboxMode, Trust,
};

/// One layer to apply: its text, what kind it is and where relative paths
/// in it point.
pub struct LayerCtx<'a> {
    pub kind: LayerKind,
    pub src: &'a SourceText,
    /// Directory that relative `policy_file` / `rules_files` paths are read
    /// from; `None` for built-in layers, which may not name files.
    pub fs_base: Option<PathBuf>,
    /// The same directory as shown to the user (`.warden` for the project
    /// layer, the `--config` file's directory as given).
    pub display_base: PathBuf,
}

impl LayerCtx<'_> {
    pub(super) fn set<T>(&self, v: Spanned<T>) -> Set<T> {
        Set {
            layer: self.kind,
            source: self.src.source_of(&v.span()),
            value: v.into_inner(),
        }
    }

    /// A path named in this layer: the file to read and the name to show.
    fn resolve_path(
        &self,
        span: &std::ops::Range<usize>,
        key: &str,
        path: &str,
    ) -> Result<(PathBuf, String), ConfigError> {
        let Some(fs_base) = &self.fs_base else {
            return Err(ConfigError::at(
                self.src,
                span,
                format!("`{key}` cannot be used in a built-in profile"),
            ));
        };
        let expanded = expand_home(path);
        if expanded.is_absolute() {
            return Ok((expanded.clone(), expanded.display().to_string()));
        }
        let display = normalize(&self.display_base.join(&expanded));
        Ok((fs_base.join(&expanded), display.display().to_string()))
    }
}

/// The local reviewer policy (`[auto_review].policy` or `policy_file`).
#[derive(Debug, Clone)]
pub enum LocalPolicy {
    Inline(String),
    File { display: String, text: String },
}

/// An MCP server's settings, merged field by field.
#[derive(Debug, Default)]
pub struct McpBuilder {
    /// Header of the first layer that defined the server.
    pub first: Option<Set<()>>,
    pub command: Option<Set<String>>,
    pub args: Option<Set<Vec<String>>>,
    pub env: BTreeMap<String, Set<String>>,
    pub cwd: Option<Set<String>>,
    pub trust: Option<Set<Trust>>,
    pub enabled_tools: Option<Set<Vec<String>>>,
    pub disabled_tools: Vec<Set<String>>,
    pub network: Option<Set<bool>>,
    pub startup_timeout: Option<Set<Duration>>,
    pub tool_timeout: Option<Set<Duration>>,
    pub tools: BTreeMap<String, ToolBuilder>,
}

/// `[mcp_servers.NAME.tools.TOOL]`, merged field by field.
#[derive(Debug, Default)]
pub struct ToolBuilder {
    pub read_only: Option<Set<bool>>,
    pub decision: Option<Set<RuleDecision>>,
}

/// Everything the layers said so far.
#[derive(Debug, Default)]
pub struct Builder {
    /// The scalar keys, one slot per row of [`super::keys`].
    pub scalars: Scalars,
    pub writable_roots: Vec<Set<String>>,
    pub deny_read: Vec<Set<String>>,
    pub protected: Vec<Set<String>>,
    pub env_pass: Vec<Set<String>>,
    pub env_set: BTreeMap<String, Set<String>>,
    pub command_rules: Vec<CommandRule>,
    pub review_rules: Vec<ReviewRule>,
    pub policy: Option<Set<LocalPolicy>>,
    pub extra_policy: Vec<Set<String>>,
    pub mcp_servers: BTreeMap<String, McpBuilder>,
    /// Located warnings, in layer order.
    pub warnings: Vec<Diagnostic>,
    /// Every error so far: a layer goes on being applied after one, so a
    /// load reports them all.
    pub errors: Vec<ConfigError>,
}

fn put<T>(slot: &mut Option<Set<T>>, value: Option<Spanned<T>>, ctx: &LayerCtx<'_>) {
    if let Some(v) = value {
        *slot = Some(ctx.set(v));
    }
}

fn put_duration(
    slot: &mut Option<Set<Duration>>,
    value: Option<Spanned<HumanDuration>>,
    ctx: &LayerCtx<'_>,
) {
    if let Some(v) = value {
        *slot = Some(ctx.set(v).map(Into::into));
    }
}

/// Append non-empty strings; an empty one is an error in `errors`.
fn append(
    list: &mut Vec<Set<String>>,
    values: Option<Vec<Spanned<String>>>,
    ctx: &LayerCtx<'_>,
    key: &str,
    errors: &mut Vec<ConfigError>,
) {
    for v in values.unwrap_or_default() {
        if v.get_ref().trim().is_empty() {
            errors.push(ConfigError::at(
                ctx.src,
                &v.span(),
                format!("empty entry in `{key}`"),
            ));
            continue;
        }
        list.push(ctx.set(v));
    }
}

impl Builder {
    /// Keep the error of one step, if any.
    fn keep<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|e| self.errors.push(e)).ok()
    }

    /// Check the globs of a path list (empty entries are `append`'s error).
    fn check_globs(&mut self, ctx: &LayerCtx<'_>, list: Option<&[Spanned<String>]>, key: &str) {
        for entry in list.unwrap_or_default() {
            if !entry.get_ref().trim().is_empty() {
                let checked =
                    globs::check(ctx.src, &entry.span(), entry.get_ref(), key, GlobKind::Path);
                self.keep(checked);
            }
        }
    }

    /// Fold one layer in; its errors go to [`Builder::errors`].
    pub fn apply(&mut self, ctx: &LayerCtx<'_>, mut raw: RawLayer) {
        self.scalars.apply(ctx, &mut raw);

        if let Some(s) = raw.sandbox {
            append(
                &mut self.writable_roots,
                s.writable_roots,
                ctx,
                "sandbox.writable_roots",
                &mut self.errors,
            );
            // Built-in globs are compiled in and checked by the test suite;
            // checking them here would cost every `warden sandbox` start.
            if ctx.kind != LayerKind::Builtin {
                self.check_globs(ctx, s.deny_read.as_deref(), "sandbox.deny_read");
                self.check_globs(ctx, s.protected.as_deref(), "sandbox.protected");
            }
            let errors = &mut self.errors;
            append(
                &mut self.deny_read,
                s.deny_read,
                ctx,
                "sandbox.deny_read",
                errors,
            );
            append(
                &mut self.protected,
                s.protected,
                ctx,
                "sandbox.protected",
                errors,
            );
            if let Some(env) = s.env {
                let errors = &mut self.errors;
                append(
                    &mut self.env_pass,
                    env.pass,
                    ctx,
                    "sandbox.env.pass",
                    errors,
                );
                for (name, value) in env.set.unwrap_or_default() {
                    if !is_env_name(&name) {
                        self.errors.push(
                            ConfigError::at(
                                ctx.src,
                                &value.span(),
                                format!("`{name}` is not a valid environment variable name"),
                            )
                            .help("use letters, digits and `_`, not starting with a digit"),
                        );
                        continue;
                    }
                    self.env_set.insert(name, ctx.set(value));
                }
            }
        }

        for rule in raw.command_rules.unwrap_or_default() {
            if let Some(rule) = self.keep(command_rule(ctx.src, rule, false)) {
                self.command_rules.push(rule);
            }
        }
        for rule in raw.review_rules.unwrap_or_default() {
            if let Some(rule) = self.keep(review_rule(ctx.src, rule, false)) {
                self.review_rules.push(rule);
            }
        }
        for file in raw.rules_files.unwrap_or_default() {
            let imported = self.import_rules_files(ctx, file);
            self.keep(imported);
        }

        if let Some(a) = raw.auto_review {
            let policy = self.apply_policy(ctx, a.policy, a.policy_file);
            self.keep(policy);
            if let Some(extra) = a.extra_policy {
                if !extra.get_ref().trim().is_empty() {
                    self.extra_policy.push(ctx.set(extra));
                }
            }
        }

        for (name, server) in raw.mcp_servers.unwrap_or_default() {
            let header = server.span();
            let entry = self.mcp_servers.entry(name).or_default();
            if entry.first.is_none() {
                entry.first = Some(ctx.set(Spanned::new(header, ())));
            }
            entry.apply(ctx, server.into_inner(), &mut self.errors);
        }
        self.warn_if_project_weakens(ctx);
    }

    fn apply_policy(
        &mut self,
        ctx: &LayerCtx<'_>,
        policy: Option<Spanned<String>>,
        policy_file: Option<Spanned<String>>,
    ) -> Result<(), ConfigError> {
        match (policy, policy_file) {
            (Some(_), Some(file)) => Err(ConfigError::at(
                ctx.src,
                &file.span(),
                "`policy` and `policy_file` are both set in this file",
            )
            .help("keep one: `policy_file` reads the policy from a Markdown file")),
            (Some(text), None) => {
                if text.get_ref().trim().is_empty() {
                    return Err(ConfigError::at(ctx.src, &text.span(), "`policy` is empty")
                        .help("write the policy, or remove the key to use the default"));
                }
                let set = ctx.set(text);
                self.policy = Some(Set {
                    value: LocalPolicy::Inline(set.value),
                    layer: set.layer,
                    source: set.source,
                });
                Ok(())
            }
            (None, Some(file)) => {
                let span = file.span();
                let (path, display) = ctx.resolve_path(&span, "policy_file", file.get_ref())?;
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::at(
                        ctx.src,
                        &span,
                        format!("cannot read policy_file `{display}`: {e}"),
                    )
                    .help("the path is relative to the file that names it")
                })?;
                if text.trim().is_empty() {
                    return Err(ConfigError::at(
                        ctx.src,
                        &span,
                        format!("policy_file `{display}` is empty"),
                    ));
                }
                self.policy = Some(Set {
                    value: LocalPolicy::File { display, text },
                    layer: ctx.kind,
                    source: ctx.src.source_of(&span),
                });
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }

    /// `rules_files = ["x.rules", "../.codex/rules/*.rules"]`: `*` is allowed
    /// in the file name only; matches are read in name order.
    fn import_rules_files(
        &mut self,
        ctx: &LayerCtx<'_>,
        file: Spanned<String>,
    ) -> Result<(), ConfigError> {
        let span = file.span();
        let (path, display) = ctx.resolve_path(&span, "rules_files", file.get_ref())?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files = Vec::new();
        if name.contains('*') {
            let dir = path.parent().unwrap_or(Path::new("."));
            if dir.to_string_lossy().contains('*') {
                return Err(ConfigError::at(
                    ctx.src,
                    &span,
                    "`*` is only supported in the file name of a rules_files entry",
                ));
            }
            let entries = std::fs::read_dir(dir).map_err(|e| {
                ConfigError::at(
                    ctx.src,
                    &span,
                    format!("cannot read directory of `{display}`: {e}"),
                )
                .help("the path is relative to the file that names it")
            })?;
            for entry in entries.flatten() {
                let file_name = entry.file_name().to_string_lossy().into_owned();
                if crate::policy::command_rules::wildcard_match(&name, &file_name)
                    && entry.path().is_file()
                {
                    let shown = Path::new(&display)
                        .with_file_name(&file_name)
                        .display()
                        .to_string();
                    files.push((entry.path(), shown));
                }
            }
            files.sort();
            if files.is_empty() {
                self.warnings.push(Diagnostic::at(
                    ctx.src,
                    &span,
                    format!("rules_files `{display}` matches no file"),
                ));
            }
        } else {
            files.push((path, display));
        }
        for (path, shown) in files {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::at(
                    ctx.src,
                    &span,
                    format!("cannot read rules file `{shown}`: {e}"),
                )
                .help("the path is relative to the file that names it")
            })?;
            let src = SourceText::file(shown, text);
            for rule in codex_rules::parse(&src)? {
                if let Some(rule) = self.keep(command_rule(&src, rule, false)) {
                    self.command_rules.push(rule);
                }
            }
        }
        Ok(())
    }

    /// The project layer comes from the checkout: in a pull-request workflow
    /// its author controls it. Say so when it loosens the sandbox.
    fn warn_if_project_weakens(&mut self, ctx: &LayerCtx<'_>) {
        if ctx.kind != LayerKind::Project {
            return;
        }
        let note = "the project layer comes from the checkout (a pull request's author controls it); pin what must hold with --requirements";
        if let Some(m) = &self.scalars.sandbox_mode {
            if m.layer == LayerKind::Project && m.value == SandboxMode::DangerFullAccess {
                self.warnings.push(
                    Diagnostic::located(
                        m.source.clone(),
                        format!("sets sandbox_mode = \"danger-full-access\"; {note}"),
                    )
                    .label("set by the project layer"),
                );
            }
        }
        if let Some(n) = &self.scalars.network {
            if n.layer == LayerKind::Project && n.value == NetworkMode::On {
                self.warnings.push(
                    Diagnostic::located(
                        n.source.clone(),
                        format!("sets sandbox.network = \"on\"; {note}"),
                    )
                    .label("set by the project layer"),
                );
            }
        }
        for rule in &self.command_rules {
            if rule.source.file == ctx.src.name && rule.grants != Default::default() {
                self.warnings.push(Diagnostic::located(
                    rule.source.clone(),
                    format!("an allow rule with grants; {note}"),
                ));
            }
        }
    }
}

impl McpBuilder {
    fn apply(&mut self, ctx: &LayerCtx<'_>, raw: RawMcpServer, errors: &mut Vec<ConfigError>) {
        put(&mut self.command, raw.command, ctx);
        put(&mut self.args, raw.args, ctx);
        for (k, v) in raw.env.unwrap_or_default() {
            self.env.insert(k, ctx.set(v));
        }
        put(&mut self.cwd, raw.cwd, ctx);
        put(&mut self.trust, raw.trust, ctx);
        put(&mut self.enabled_tools, raw.enabled_tools, ctx);
        append(
            &mut self.disabled_tools,
            raw.disabled_tools,
            ctx,
            "disabled_tools",
            errors,
        );
        put(&mut self.network, raw.network, ctx);
        put_duration(&mut self.startup_timeout, raw.startup_timeout, ctx);
        put_duration(&mut self.tool_timeout, raw.tool_timeout, ctx);
        for (tool, o) in raw.tools.unwrap_or_default() {
            let o = o.into_inner();
            let entry = self.tools.entry(tool).or_default();
            put(&mut entry.read_only, o.read_only, ctx);
            put(&mut entry.decision, o.decision, ctx);
        }
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `~` or `~/x` against `$HOME`; anything else unchanged.
pub fn expand_home(path: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match (path, home) {
        ("~", Some(h)) => h,
        (p, Some(h)) if p.starts_with("~/") => h.join(&p[2..]),
        (p, _) => PathBuf::from(p),
    }
}

/// Remove `.` and fold `dir/..` without touching the file system (for
/// display only).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_parent_dirs() {
        assert_eq!(
            normalize(Path::new(".warden/../.codex/rules/a.rules")),
            PathBuf::from(".codex/rules/a.rules")
        );
        assert_eq!(normalize(Path::new("./x")), PathBuf::from("x"));
        assert_eq!(normalize(Path::new("../x")), PathBuf::from("../x"));
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("CI"));
        assert!(is_env_name("_X1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
    }
}
