//! The run's model client, built from `[agent]`: an OpenAI-compatible or
//! Anthropic client (key from the environment only), or a scripted
//! scenario replayed offline. It may import `config` and `model`.

use std::path::Path;
use std::time::Duration;

use crate::config::{Config, ProviderKind};
use crate::error::Error;
use crate::model::{
    AnthropicClient, ApiKeyFor, ClientSettings, OpenAiClient, Provider, ScriptProvider,
    api_key_from_env,
};

/// The provider `[agent]` names; `scenario` is what `--provider script`
/// replays.
pub fn build_provider(config: &Config, scenario: Option<&Path>) -> Result<Provider, Error> {
    let agent = &config.agent;
    let env = |k: &str| std::env::var(k).ok();
    let settings = |base: &str, kind: ApiKeyFor| ClientSettings {
        base_url: agent.base_url.clone().unwrap_or_else(|| base.to_owned()),
        api_key: api_key_from_env(kind, &env),
        timeout: agent.request_timeout,
        max_attempts: agent.max_attempts.max(1),
        retry_base_delay: Duration::from_millis(500),
    };
    match agent.provider {
        ProviderKind::Script => {
            let path = scenario.ok_or_else(|| {
                Error::usage(
                    "--provider script needs --scenario FILE (a YAML scenario of model turns)",
                )
            })?;
            Ok(Provider::Script(ScriptProvider::load(path)?))
        }
        ProviderKind::Openai => {
            require_model(config)?;
            OpenAiClient::new(settings(
                crate::model::openai::DEFAULT_BASE_URL,
                ApiKeyFor::Agent(ProviderKind::Openai),
            ))
            .map(Provider::OpenAi)
            .map_err(|e| Error::infra(e.to_string()))
        }
        ProviderKind::Anthropic => {
            require_model(config)?;
            AnthropicClient::new(settings(
                crate::model::anthropic::DEFAULT_BASE_URL,
                ApiKeyFor::Agent(ProviderKind::Anthropic),
            ))
            .map(Provider::Anthropic)
            .map_err(|e| Error::infra(e.to_string()))
        }
    }
}

fn require_model(config: &Config) -> Result<(), Error> {
    if config.agent.model.is_none() {
        return Err(Error::usage(
            "no model: pass --model M or set [agent].model in the config",
        ));
    }
    Ok(())
}
