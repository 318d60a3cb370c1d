//! A control-API client for one configured agent (TLS when the endpoint is `https://`).

use switchyard_control_api::{ClientTls, ControlClient};

use super::config::AgentEndpoint;

/// Why an agent cannot be talked to at all.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read the CA certificate {path}: {source}")]
    Ca {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("TLS to an agent needs its CA certificate (tls.ca)")]
    NoCa,
    #[error(transparent)]
    Client(#[from] switchyard_control_api::ClientError),
}

/// Connects to `agent` with its token.
pub async fn connect(agent: &AgentEndpoint) -> Result<ControlClient, ConnectError> {
    let tls = match &agent.tls {
        Some(settings) => {
            let path = settings.ca.as_ref().ok_or(ConnectError::NoCa)?;
            let mut tls =
                ClientTls::with_ca(std::fs::read(path).map_err(|source| ConnectError::Ca {
                    path: path.clone(),
                    source,
                })?);
            if let Some(domain) = &settings.domain {
                tls = tls.domain(domain.clone());
            }
            Some(tls)
        }
        None => None,
    };
    Ok(ControlClient::connect(&agent.endpoint, agent.token.expose(), tls).await?)
}
