//! Turning a policy plus one request into what the supervisor applies: the
//! effective writable set (mode, writable roots, grants, private temp
//! dir), the expanded deny list, the Landlock plan and rulesets, and the
//! guarded protected paths. Runs in warden, "when the sandbox starts".
//!
//! With [`Reuse::PerProcess`] (the commands of `warden run`), deny-read
//! globs come from the inotify-kept cache ([`super::deny`]) and the plan
//! and its ruleset from [`super::plan_cache`]: the plan makes the
//! per-process run directory writable (not the command's own temp dir, so
//! it is the same for every command), and a second Landlock layer that
//! handles only write rights — the workspace, writable roots, grants,
//! devices and the command's own temp dir — is stacked on it. Landlock
//! allows an access only when every layer does, so writes are exactly the
//! plan's with the run directory narrowed to the command's own temp dir;
//! reads, network and scopes are the plan's alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ExecRequest;
use super::SandboxError;
use super::deny;
use super::devices;
use super::env::{ScrubbedEnv, scrub};
use super::git_nested::NestedRepos;
use super::landlock_apply::{self, BuiltRuleset, Layer};
use super::network::{self, NetworkAccess};
use super::plan::{self, PlanInput, PlanRule, Rights};
use super::plan_cache::{self, CachedPlan};
use super::resolve::{SandboxPolicy, canonical_or_normal};
use super::tmp::PrivateTmp;
use crate::config::{GitMode, NetworkMode, SandboxMode};

/// Whether work is kept for the next command of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Many commands in one process (`warden run`): cached deny-read
    /// expansion, cached plan and ruleset, stacked writes-only layer.
    PerProcess,
    /// One command (`warden sandbox`, an MCP server): one plain walk, one
    /// plan, one ruleset; watching directories would only add cost.
    Off,
}

/// How the Landlock rulesets of a command are made.
#[derive(Clone)]
enum Layers {
    /// Not sandboxed.
    None,
    /// One ruleset built from the plan.
    Single,
    /// The cached plan's ruleset, then a writes-only layer over these rules.
    Stacked {
        plan: Arc<CachedPlan>,
        writes: Vec<PlanRule>,
    },
}

/// The per-command sandbox, resolved.
#[derive(Clone)]
pub struct Prepared {
    pub sandboxed: bool,
    pub network: NetworkAccess,
    pub mode_label: String,
    /// The plan (with [`Reuse::PerProcess`], the run directory stands for
    /// the command's temp dir in it).
    pub rules: Arc<Vec<PlanRule>>,
    /// Writable hierarchies granted (for the record).
    pub writable: Vec<PathBuf>,
    /// Protected paths a grant overlaps: snapshotted and verified.
    pub guarded: Vec<PathBuf>,
    /// Under `sandbox.git = "commit"`: the workspace's nested repositories
    /// before the command (guarded; new ones neutralised after it).
    pub(super) nested: Option<NestedRepos>,
    pub deny: Vec<PathBuf>,
    pub notes: Vec<String>,
    layers: Layers,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("sandboxed", &self.sandboxed)
            .field("mode", &self.mode_label)
            .field("rules", &self.rules.len())
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// The Landlock rulesets, in the order they are enforced (empty when
    /// unsandboxed).
    pub fn rulesets(&self) -> Result<Vec<Arc<BuiltRuleset>>, SandboxError> {
        // `Proxy` is refused by Landlock's TCP rules like `Off`: the one
        // connect it may make (to the proxy) is made for it by its
        // supervisor, which Landlock does not restrict.
        let deny_network = !self.network.is_on();
        let layers = match &self.layers {
            Layers::None => return Ok(Vec::new()),
            Layers::Single => vec![Arc::new(landlock_apply::build(&self.rules, deny_network)?)],
            Layers::Stacked { plan, writes } => vec![
                plan.ruleset(deny_network)?,
                Arc::new(landlock_apply::build_layer(writes, Layer::WritesOnly)?),
            ],
        };
        Ok(layers)
    }
}

impl From<String> for SandboxError {
    /// Building a ruleset failed: the supervisor could not be set up.
    fn from(message: String) -> Self {
        SandboxError::Supervisor(message)
    }
}

/// A checked request (cwd canonical), its sandbox and its environment: the
/// start that every way of running a command shares ([`begin`]).
pub(super) struct Begun {
    pub req: ExecRequest,
    pub prepared: Prepared,
    pub env: ScrubbedEnv,
}

/// Check `req`, resolve its sandbox, say so when it runs without one, keep
/// warden's own memory out of reach (non-dumpable) and scrub the
/// environment the command will get. `terminals`: the terminal devices the
/// command's stdin, stdout and stderr are ([`devices::given_terminals`]),
/// the only ones it may open.
pub(super) fn begin(
    policy: &SandboxPolicy,
    req: &ExecRequest,
    tmp: &PrivateTmp,
    reuse: Reuse,
    terminals: &[PathBuf],
) -> Result<Begun, SandboxError> {
    let cwd = check_request(req)?;
    let req = ExecRequest { cwd, ..req.clone() };
    let prepared = prepare(policy, &req, tmp, reuse, terminals)?;
    if !prepared.sandboxed {
        tracing::warn!(
            command = %req.argv[0],
            mode = %prepared.mode_label,
            "running without Landlock and seccomp (environment still scrubbed)"
        );
    }
    if !super::caps::protect_self() {
        tracing::warn!(
            "cannot mark warden non-dumpable; /proc/<pid>/environ relies on Landlock alone"
        );
    }
    let mut env = scrub(std::env::vars_os(), &policy.env_pass, &policy.env_set);
    if let Some(endpoint) = prepared.network.proxy() {
        for name in network::BYPASS_VARS {
            env.vars.remove(*name);
        }
        for (name, value) in network::proxy_env(endpoint) {
            env.vars.insert(name.to_string(), value);
        }
    }
    Ok(Begun { req, prepared, env })
}

/// The network of one command: the profile's `sandbox.network`, or what
/// its grants ask for. A `proxy`-mode command with no proxy running is
/// refused, never given the network.
fn network_access(
    policy: &SandboxPolicy,
    grants: &crate::decision::Grants,
    sandboxed: bool,
) -> Result<NetworkAccess, SandboxError> {
    let proxy = || {
        policy
            .proxy
            .clone()
            .map(NetworkAccess::Proxy)
            .ok_or_else(|| {
                SandboxError::Config(
                    "sandbox.network = \"proxy\" but warden's egress proxy is not running".into(),
                )
            })
    };
    Ok(match policy.network {
        _ if !sandboxed => NetworkAccess::On,
        NetworkMode::On => NetworkAccess::On,
        NetworkMode::Proxy => proxy()?,
        // A granted network goes through the proxy when one runs.
        // Without one, the grant still opens the network as before the
        // egress proxy existed (issue 15 replaces this with the proxy).
        NetworkMode::Off if grants.wants_network() => proxy().unwrap_or(NetworkAccess::On),
        NetworkMode::Off => NetworkAccess::Off,
    })
}

/// The request's argv is usable and its cwd an existing directory
/// (returned canonical).
fn check_request(req: &ExecRequest) -> Result<PathBuf, SandboxError> {
    if req.argv.is_empty() || req.argv[0].is_empty() {
        return Err(SandboxError::Request("no command given".into()));
    }
    std::fs::canonicalize(&req.cwd)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| {
            SandboxError::Request(format!(
                "working directory `{}` is not an existing directory",
                req.cwd.display()
            ))
        })
}

/// Resolve the sandbox for one command; `tmp` is its private temp dir,
/// `terminals` the terminals it is given (see [`begin`]).
pub fn prepare(
    policy: &SandboxPolicy,
    req: &ExecRequest,
    tmp: &PrivateTmp,
    reuse: Reuse,
    terminals: &[PathBuf],
) -> Result<Prepared, SandboxError> {
    let grants = &req.grants;
    let sandboxed = !policy.is_full_access() && !grants.unsandboxed;
    let network = network_access(policy, grants, sandboxed)?;
    let mode_label = if grants.unsandboxed {
        "unsandboxed".to_string()
    } else {
        policy.mode.as_str().to_string()
    };
    let mut notes = Vec::new();
    let deny = match reuse {
        Reuse::PerProcess => deny::expand(&policy.deny_read),
        Reuse::Off => deny::expand_once(&policy.deny_read),
    }
    .map_err(SandboxError::Config)?;
    // Most deny paths are missing `~/…` defaults: in a one-shot process
    // one listing answers for them. Not per command in a run: listing
    // HOME before every command costs more than the stats it saves.
    let mut listings = (reuse == Reuse::Off).then(super::listing::Listings::default);
    for d in &deny {
        if listings.as_mut().is_some_and(|l| l.surely_absent(d)) {
            continue;
        }
        if let Ok(meta) = std::fs::symlink_metadata(d) {
            use std::os::unix::fs::MetadataExt;
            if meta.is_file() && meta.nlink() > 1 {
                notes.push(format!(
                    "deny-read file `{}` has {} hard links; deny-read is path-based, so links \
                     elsewhere stay readable",
                    d.display(),
                    meta.nlink()
                ));
            }
        }
    }
    if !sandboxed {
        return Ok(Prepared {
            sandboxed,
            network,
            mode_label,
            rules: Arc::default(),
            writable: Vec::new(),
            guarded: Vec::new(),
            nested: None,
            deny,
            notes,
            layers: Layers::None,
        });
    }

    let with_protected: Vec<PathBuf> = deny.iter().chain(&policy.protected).cloned().collect();
    // Under `sandbox.git = "commit"` the workspace is granted whole: its
    // protected paths are guarded (snapshotted, then verified and restored
    // once the command and everything it started are dead) instead of
    // carved out, because a carve-out splits the workspace root and a split
    // directory takes no new entries (see the module doc of `plan`).
    let guards_workspace =
        policy.mode == SandboxMode::WorkspaceWrite && policy.git == GitMode::Commit;
    let (workspace_guarded, carved): (Vec<PathBuf>, Vec<PathBuf>) = policy
        .protected
        .iter()
        .cloned()
        .partition(|p| guards_workspace && p.starts_with(&policy.workspace));
    // A nested repository anywhere in the writable workspace is
    // configuration a later git executes (`super::git_nested`).
    let nested = match guards_workspace {
        true => Some(
            NestedRepos::scan(&policy.workspace, reuse == Reuse::PerProcess)
                .map_err(SandboxError::Config)?,
        ),
        false => None,
    };
    let mut writable: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    if policy.mode == SandboxMode::WorkspaceWrite {
        let carve = deny.iter().chain(&carved).cloned().collect();
        writable.push((policy.workspace.clone(), carve));
        for root in &policy.writable_roots {
            writable.push((root.clone(), with_protected.clone()));
        }
    }
    let stacked = reuse == Reuse::PerProcess && tmp.run_dir().is_some();
    let tmp_root = match tmp.run_dir() {
        Some(run_dir) if stacked => run_dir,
        _ => tmp.path(),
    };
    writable.push((tmp_root.to_path_buf(), deny.clone()));

    let mut granted = Vec::new();
    // Widening a missing grant stays inside what is the command's already
    // (the workspace in either mode, the writable roots, its temp dir);
    // anywhere else the grant is created exactly (`grant_paths`).
    let widen_within: Vec<PathBuf> = std::iter::once(policy.workspace.clone())
        .chain(writable.iter().map(|(root, _)| root.clone()))
        .collect();
    for raw in &grants.write {
        let asked = canonical_or_normal(&req.cwd.join(raw));
        let as_dir = raw.as_os_str().as_encoded_bytes().ends_with(b"/")
            || grants.create_dirs.contains(&asked);
        let resolved = super::grant_paths::resolve_grant(&asked, as_dir, &widen_within, &deny)
            .map_err(SandboxError::Request)?;
        notes.extend(resolved.note);
        let path = resolved.path;
        granted.push(path.clone());
        writable.push((path, deny.clone()));
    }
    let mut guarded = workspace_guarded;
    guarded.extend(
        carved
            .iter()
            .filter(|p| granted.iter().any(|g| p.starts_with(g) || g.starts_with(p)))
            .cloned(),
    );

    let input = PlanInput {
        read_root: Some(PathBuf::from("/")),
        writable,
        listed_only: vec![PathBuf::from(devices::DEVICE_DIR)],
        devices: devices::for_command(terminals),
        deny: deny.clone(),
    };
    // The record names the command's own temp dir, not the run directory.
    let record: Vec<PathBuf> = input
        .writable
        .iter()
        .map(|(p, _)| {
            if p == tmp_root {
                tmp.path()
            } else {
                p.as_path()
            }
        })
        .map(Path::to_path_buf)
        .collect();
    let (rules, layers) = if stacked {
        let plan = plan_cache::plan(&input);
        let writes = record
            .iter()
            .map(|p| (p, Rights::Write))
            .chain(input.devices.iter().map(|d| (d, Rights::Device)))
            .map(|(path, rights)| PlanRule {
                path: path.clone(),
                rights,
                required: rights == Rights::Write,
            })
            .collect();
        (plan.rules.clone(), Layers::Stacked { plan, writes })
    } else {
        (Arc::new(plan::build(&input)), Layers::Single)
    };
    Ok(Prepared {
        sandboxed,
        network,
        mode_label,
        rules,
        writable: record,
        guarded,
        nested,
        deny,
        notes,
        layers,
    })
}
