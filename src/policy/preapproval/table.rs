//! The declared table of pre-approval exceptions, one entry per tool.
//!
//! An allow rule's `grants` (network for a package fetch, `target/` for a
//! build) pre-approve a command only while nothing in it can change where
//! the tool connects or what it runs. Each row below names such an input
//! and why; [`super::exception`] applies them. Adding an option, a variable
//! or a file is one line here (and a fixture in
//! `tests/fixtures/policy/preapproval.yaml`).

/// Which grants an exception withholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Any pre-approval (network or writes): the input changes what runs.
    Any,
    /// Only a pre-approved network: the input changes where it connects
    /// (or which packages it fetches), harmless offline.
    Network,
}

/// What an option does to the pre-approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Present at all: withheld.
    Withhold,
    /// Its value is a requirements or constraints file, whose lines may
    /// carry options: the file is read and judged line by line.
    RequirementsFile,
}

/// One option spelling (`--config`, `-Z`, go's `-modfile`).
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub spelling: &'static str,
    pub effect: Effect,
    pub scope: Scope,
    pub why: &'static str,
}

/// How a tool parses its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `--long[=v]` and bundled short options (`-qi URL`, `-ihttps://…`),
    /// exact long names (clap: cargo, uv).
    Gnu,
    /// [`Syntax::Gnu`], and any unambiguous prefix of a long option
    /// (Python's optparse: pip).
    Abbreviating,
    /// npm's nopt: abbreviations too, a single dash before a long name
    /// (`-registry=…`), and `--no-X` sets `X` to false.
    Nopt,
    /// Go's flag package: `-name`, `--name`, `-name=v`; no bundling.
    Go,
}

/// A file in the workspace that redirects the tool when the agent wrote
/// it this run (its committed content is the project's own configuration).
#[derive(Debug, Clone, Copy)]
pub struct Input {
    /// A file name, or a path suffix (`.cargo/config.toml`).
    pub name: &'static str,
    pub scope: Scope,
}

/// Everything that voids one tool's pre-approval.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub name: &'static str,
    /// `argv[0]` basenames (`*` wildcard).
    pub programs: &'static [&'static str],
    pub syntax: Syntax,
    pub options: &'static [Opt],
    /// Options whose value is not an operand (`-p serde`, `-w pkg`), so
    /// the value is neither classified nor mistaken for an option cluster.
    pub value_options: &'static [&'static str],
    /// Leading assignments (`NAME=…`, `*` wildcard, case-insensitive).
    pub env: &'static [&'static str],
    /// Assignments `env` matches that are harmless.
    pub env_harmless: &'static [&'static str],
    /// Whether operands (after the subcommand) are package specs, which
    /// must be plain registry names (no path, URL, VCS or archive).
    pub specs: bool,
    pub inputs: &'static [Input],
    pub why_inputs: &'static str,
}

const fn opt(spelling: &'static str, why: &'static str) -> Opt {
    Opt {
        spelling,
        effect: Effect::Withhold,
        scope: Scope::Any,
        why,
    }
}

const fn net(spelling: &'static str, why: &'static str) -> Opt {
    Opt {
        spelling,
        effect: Effect::Withhold,
        scope: Scope::Network,
        why,
    }
}

const fn requirements(spelling: &'static str) -> Opt {
    Opt {
        spelling,
        effect: Effect::RequirementsFile,
        scope: Scope::Network,
        why: "a requirements or constraints file can carry options",
    }
}

const fn any(name: &'static str) -> Input {
    Input {
        name,
        scope: Scope::Any,
    }
}

const fn network(name: &'static str) -> Input {
    Input {
        name,
        scope: Scope::Network,
    }
}

/// Variables every tool honours: proxies and trust anchors change where a
/// connection really goes.
pub const COMMON_ENV: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_*",
];

const REGISTRY: &str = "names the registry or index it fetches from";
const RUNS: &str = "changes which program it runs";
const PROJECT: &str = "points it at another project, with its own manifest and configuration";

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "cargo",
        programs: &["cargo"],
        syntax: Syntax::Gnu,
        options: &[
            opt(
                "--config",
                "sets cargo configuration: sources, registries, target runners, rustc wrappers",
            ),
            opt(
                "-Z",
                "unstable flags change cargo's configuration and what it runs",
            ),
            net("--manifest-path", PROJECT),
            net("-C", PROJECT),
            net("--registry", REGISTRY),
            net("--index", REGISTRY),
        ],
        value_options: &[
            "-p",
            "--package",
            "-j",
            "--jobs",
            "--target",
            "--target-dir",
            "-F",
            "--features",
            "--color",
            "--bin",
            "--example",
            "--test",
            "--bench",
            "--profile",
            "--message-format",
            "--exclude",
            "--precise",
        ],
        env: &[
            "CARGO_*",
            "RUSTC",
            "RUSTC_*",
            "RUSTDOC",
            "RUSTFLAGS",
            "RUSTDOCFLAGS",
            "RUSTUP_*",
        ],
        env_harmless: &[
            "CARGO_TERM_*",
            "CARGO_INCREMENTAL",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_JOBS",
            "CARGO_PROFILE_*",
            "CARGO_NET_OFFLINE",
        ],
        specs: false,
        inputs: &[
            any(".cargo/config.toml"),
            any(".cargo/config"),
            any("rust-toolchain.toml"),
            any("rust-toolchain"),
            network("Cargo.toml"),
        ],
        why_inputs: "sets sources, registries, git dependencies, runners or the toolchain",
    },
    Tool {
        name: "npm",
        programs: &["npm", "pnpm", "yarn", "bun", "npx", "corepack"],
        syntax: Syntax::Nopt,
        options: &[
            opt("--registry", REGISTRY),
            opt("--@*", "names a scope's registry (`--@scope:registry=`)"),
            opt("--replace-registry-host", REGISTRY),
            opt("--userconfig", "loads another configuration file"),
            opt("--globalconfig", "loads another configuration file"),
            opt("--config.*", "sets configuration (`--config.registry=`)"),
            opt("--script-shell", RUNS),
            opt("--git", RUNS),
            opt("--node-options", RUNS),
            opt("--proxy", "routes its connections through a proxy"),
            opt("--https-proxy", "routes its connections through a proxy"),
            opt("--strict-ssl", "turns off certificate checks"),
            opt("--ca", "changes which certificates it trusts"),
            opt("--cafile", "changes which certificates it trusts"),
            net("--prefix", PROJECT),
            net("-C", PROJECT),
            net("--dir", PROJECT),
            net("--cwd", PROJECT),
        ],
        value_options: &[
            "-w",
            "--workspace",
            "--omit",
            "--include",
            "--tag",
            "--loglevel",
            "--filter",
            "-F",
            "--save-prefix",
        ],
        env: &[
            "npm_config_*",
            "YARN_*",
            "PNPM_*",
            "COREPACK_*",
            "NODE_OPTIONS",
            "NODE_EXTRA_CA_CERTS",
        ],
        env_harmless: &[],
        specs: true,
        inputs: &[
            any(".npmrc"),
            any(".yarnrc"),
            any(".yarnrc.yml"),
            any(".pnpmfile.cjs"),
            network("package.json"),
            network("package-lock.json"),
            network("npm-shrinkwrap.json"),
            network("yarn.lock"),
            network("pnpm-lock.yaml"),
            network("pnpm-workspace.yaml"),
        ],
        why_inputs: "sets registries, `resolved` URLs, git or tarball dependencies, or the script shell",
    },
    Tool {
        name: "pip",
        programs: &["pip", "pip3", "pip3.*", "pipx", "uv"],
        syntax: Syntax::Abbreviating,
        options: &[
            net("--index-url", REGISTRY),
            net("-i", REGISTRY),
            net("--extra-index-url", REGISTRY),
            net("--index", REGISTRY),
            net("--default-index", REGISTRY),
            net("--find-links", "adds pages or directories to fetch from"),
            net("-f", "adds pages or directories to fetch from"),
            net("--trusted-host", "turns off certificate checks for a host"),
            opt("--proxy", "routes its connections through a proxy"),
            opt("--cert", "changes which certificates it trusts"),
            opt("--client-cert", "sends a client certificate"),
            opt("--editable", "installs a local directory or a VCS checkout"),
            opt("-e", "installs a local directory or a VCS checkout"),
            opt("--config-settings", "passes settings to the build backend"),
            opt("-C", "passes settings to the build backend"),
            opt("--global-option", "passes options to setup.py"),
            opt("--build-option", "passes options to setup.py"),
            opt("--config-file", "loads another configuration file"),
            requirements("--requirement"),
            requirements("-r"),
            requirements("--constraint"),
            requirements("-c"),
            requirements("--overrides"),
        ],
        value_options: &[
            "-t",
            "--target",
            "--prefix",
            "--root",
            "--cache-dir",
            "--python-version",
            "--platform",
            "--implementation",
            "--abi",
            "--progress-bar",
            "--log",
            "--timeout",
            "--retries",
            "--exists-action",
            "--upgrade-strategy",
            "--python",
            "--only-binary",
            "--no-binary",
            "--report",
            "-d",
            "--dest",
        ],
        env: &["PIP_*", "UV_*", "PIPX_*", "PYTHONPATH", "PYTHONHOME"],
        env_harmless: &[],
        specs: true,
        inputs: &[
            any("pip.conf"),
            any("uv.toml"),
            network("pyproject.toml"),
            network("uv.lock"),
        ],
        why_inputs: "sets indexes, sources or build settings",
    },
    Tool {
        name: "go",
        programs: &["go"],
        syntax: Syntax::Go,
        options: &[
            net("-modfile", "reads another go.mod"),
            opt("-overlay", "replaces source files"),
            opt("-toolexec", RUNS),
            opt("-exec", RUNS),
        ],
        value_options: &[],
        env: &[
            "GOPROXY",
            "GONOPROXY",
            "GOPRIVATE",
            "GONOSUMDB",
            "GONOSUMCHECK",
            "GOSUMDB",
            "GOINSECURE",
            "GOFLAGS",
            "GOTOOLCHAIN",
            "GOENV",
            "GOVCS",
        ],
        env_harmless: &[],
        specs: false,
        // Modules come through GOPROXY and are checked against the
        // checksum database whatever go.mod says; only the environment and
        // flags above change that.
        inputs: &[],
        why_inputs: "",
    },
    Tool {
        name: "gem",
        programs: &["gem", "bundle", "bundler"],
        syntax: Syntax::Gnu,
        options: &[
            net("--source", REGISTRY),
            net("-s", REGISTRY),
            net("--gemfile", PROJECT),
            opt("--config-file", "loads another configuration file"),
        ],
        value_options: &[
            "-v",
            "--version",
            "-i",
            "--install-dir",
            "--path",
            "-j",
            "--jobs",
        ],
        env: &["BUNDLE_*", "GEM_*", "RUBYOPT", "RUBYLIB"],
        env_harmless: &[],
        specs: true,
        inputs: &[
            any(".bundle/config"),
            any(".gemrc"),
            network("Gemfile"),
            network("Gemfile.lock"),
        ],
        why_inputs: "sets sources, git or path gems",
    },
];
