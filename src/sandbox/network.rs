//! What network one command gets ([`NetworkAccess`]), and the environment
//! that points its clients at warden's egress proxy ([`proxy_env`]).
//!
//! `sandbox.network = "proxy"` means the command may reach one address
//! only: the proxy's, always `127.0.0.1:<port>`, started by warden outside
//! the sandbox. Clients find it through the proxy variables below; the
//! kernel side (which connects are refused) is in the launch code and
//! `docs/threat-model.md`. The token authenticates the command to the
//! proxy (`Proxy-Authorization: Basic`, user `warden`); it is opaque here,
//! so the proxy may issue one per command and know whose connection it is.

use std::net::SocketAddrV4;

use serde::{Deserialize, Serialize};

/// Where a `proxy`-mode command may connect.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyEndpoint {
    /// The proxy's listening address (loopback IPv4).
    pub addr: SocketAddrV4,
    /// Sent by clients as the proxy URL's password.
    pub token: String,
}

impl std::fmt::Debug for ProxyEndpoint {
    // The token is a credential of the run: never in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyEndpoint")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ProxyEndpoint {
    /// `http://warden:<token>@127.0.0.1:<port>`, what every proxy variable
    /// holds.
    pub fn url(&self) -> String {
        format!("http://warden:{}@{}", self.token, self.addr)
    }
}

/// The network of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkAccess {
    /// No network.
    Off,
    /// The egress proxy only.
    Proxy(ProxyEndpoint),
    /// Any destination (`sandbox.network = "on"`, or unsandboxed).
    On,
}

impl NetworkAccess {
    /// Whether the kernel must refuse every destination (also in
    /// `Proxy`, until a connect to the proxy is allowed by the launch).
    pub fn is_off(&self) -> bool {
        matches!(self, NetworkAccess::Off)
    }

    pub fn is_on(&self) -> bool {
        matches!(self, NetworkAccess::On)
    }

    pub fn proxy(&self) -> Option<&ProxyEndpoint> {
        match self {
            NetworkAccess::Proxy(p) => Some(p),
            _ => None,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            NetworkAccess::Off => "off",
            NetworkAccess::Proxy(_) => "proxy",
            NetworkAccess::On => "on",
        }
    }
}

/// Variables that would send a client around the proxy: removed from a
/// `proxy`-mode command's environment.
pub const BYPASS_VARS: &[&str] = &[
    "NO_PROXY",
    "no_proxy",
    "npm_config_noproxy",
    "NPM_CONFIG_NOPROXY",
];

/// The proxy variables set in a `proxy`-mode command's environment: the
/// generic ones in both cases (curl, git, pip, uv, go, cargo through
/// libcurl honour them) and the tool-specific ones that take precedence
/// over them in their tools.
pub fn proxy_env(endpoint: &ProxyEndpoint) -> Vec<(&'static str, String)> {
    let url = endpoint.url();
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        // cargo reads `http.proxy` before the generic variables.
        "CARGO_HTTP_PROXY",
        // npm, pnpm and yarn 1 read npm's config from the environment.
        "npm_config_proxy",
        "npm_config_https_proxy",
        // yarn berry.
        "YARN_HTTP_PROXY",
        "YARN_HTTPS_PROXY",
        "PIP_PROXY",
    ]
    .into_iter()
    .map(|name| (name, url.clone()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> ProxyEndpoint {
        ProxyEndpoint {
            addr: "127.0.0.1:4242".parse().unwrap(),
            token: "s3cr3t-token".into(),
        }
    }

    #[test]
    fn every_variable_holds_the_authenticated_url() {
        let env = proxy_env(&endpoint());
        assert!(env.iter().any(|(k, _)| *k == "HTTPS_PROXY"));
        assert!(env.iter().any(|(k, _)| *k == "http_proxy"));
        for (_, v) in &env {
            assert_eq!(v, "http://warden:s3cr3t-token@127.0.0.1:4242");
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        assert!(!format!("{:?}", endpoint()).contains("s3cr3t"));
        let access = NetworkAccess::Proxy(endpoint());
        assert!(!format!("{access:?}").contains("s3cr3t"));
    }
}
