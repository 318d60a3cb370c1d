//! Optional TLS (rustls, via tonic) for both ends, from PEM files' contents.

use std::fmt;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The server's certificate chain and private key.
#[derive(Clone)]
pub struct ServerTls {
    identity: Identity,
}

impl fmt::Debug for ServerTls {
    // The key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

impl ServerTls {
    /// From a PEM certificate chain and its PEM private key.
    pub fn from_pem(cert: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Self {
        ServerTls {
            identity: Identity::from_pem(cert, key),
        }
    }

    pub(crate) fn config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new().identity(self.identity.clone())
    }
}

/// What the client trusts: a CA (e.g. the agent's self-signed certificate) and,
/// optionally, the name to check the server's certificate against.
#[derive(Debug, Clone)]
pub struct ClientTls {
    ca: Certificate,
    domain: Option<String>,
}

impl ClientTls {
    /// Trusts the PEM certificate `ca`.
    pub fn with_ca(ca: impl AsRef<[u8]>) -> Self {
        ClientTls {
            ca: Certificate::from_pem(ca),
            domain: None,
        }
    }

    /// Checks the server's certificate against `name` instead of the endpoint's host.
    pub fn domain(mut self, name: impl Into<String>) -> Self {
        self.domain = Some(name.into());
        self
    }

    pub(crate) fn config(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().ca_certificate(self.ca.clone());
        match &self.domain {
            Some(name) => config.domain_name(name.clone()),
            None => config,
        }
    }
}
