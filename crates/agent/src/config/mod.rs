//! The agent's configuration file (TOML): who it is, where the control API listens and
//! who may use it, where telemetry goes, and the gateway and saga files it runs.
//!
//! ```toml
//! id = "shop-agent"
//!
//! [control]
//! listen = "127.0.0.1:7700"                    # default
//! tokens = [{ name = "console", token = "a-long-random-secret" }]   # at least one
//! tls_cert = "cert.pem"                        # optional, with tls_key
//! tls_key = "key.pem"
//! audit_file = "audit.jsonl"                   # optional: JSON lines, appended
//!
//! [telemetry]
//! enabled = true                               # default
//! otlp_endpoint = "http://127.0.0.1:4317"      # default: the console's receiver
//! service_name = "shop-agent"                  # default: the agent's id
//! max_queue = 2048                             # spans buffered while the endpoint is down
//!
//! [gateway]
//! file = "gateway.toml"                        # optional: no gateway without it
//!                                              # its [sidecar], if any, runs the egress
//!                                              # listener (crates/gateway/README.md)
//!
//! [sagas]
//! log = "sagas.db"                             # default; or sqlite:..., postgres://...
//! definitions = ["checkout.toml"]
//! max_concurrent = 256
//!
//! [faults]
//! enabled = false                              # default
//! ```
//!
//! Applied live when the file changes (`src/reload.rs`): `control.tokens`,
//! `faults.enabled`, `sagas.definitions` (and the files' contents), `gateway.file` (and
//! its contents); anything else takes effect at the next start.
//!
//! Relative paths are relative to the file's directory. Unknown keys are errors, and
//! every error names the line and the field: `agent.toml:7: control.tokens: ...`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use switchyard_gateway::config::locate::{self, FieldPath, Seg};

/// The control API's default address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7700";
/// The default OTLP endpoint: the console's gRPC receiver.
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://127.0.0.1:4317";
/// The default saga log: a SQLite file next to the configuration.
pub const DEFAULT_SAGA_LOG: &str = "sagas.db";

/// A configuration that is refused: where and why.
///
/// `line` is 1-based; 0 when the problem has no place in the file (it cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}{}{message}", if .field.is_empty() { "" } else { ": " })]
pub struct ConfigError {
    /// The file, as given.
    pub file: String,
    /// The line of the offending value (0: none).
    pub line: usize,
    /// The field, as a path (`control.tokens[0].token`); empty for syntax errors.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Names the agent in the console, the audit log and telemetry.
    pub id: String,
    /// The control API.
    #[serde(default)]
    pub control: ControlConfig,
    /// Telemetry export.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// The gateway.
    #[serde(default)]
    pub gateway: GatewaySection,
    /// The saga orchestrator.
    #[serde(default)]
    pub sagas: SagasConfig,
    /// Fault injection.
    #[serde(default)]
    pub faults: FaultsConfig,
}

/// `[control]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// `ip:port` to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Bearer tokens, each with the caller name recorded in the audit log.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// PEM certificate chain, for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key, for TLS.
    pub tls_key: Option<PathBuf>,
    /// Where audit entries are appended as JSON lines (kept in memory regardless).
    pub audit_file: Option<PathBuf>,
}

impl ControlConfig {
    /// The tokens as the control server takes them.
    pub fn auth(&self) -> switchyard_control_api::AuthConfig {
        self.tokens
            .iter()
            .fold(switchyard_control_api::AuthConfig::new(), |auth, t| {
                auth.token(t.name.clone(), t.token.clone())
            })
    }
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            listen: default_listen(),
            tokens: Vec::new(),
            tls_cert: None,
            tls_key: None,
            audit_file: None,
        }
    }
}

/// One accepted token.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The caller's name.
    pub name: String,
    /// The secret.
    pub token: String,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("TokenConfig")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Whether to export at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The OTLP/gRPC endpoint.
    #[serde(default = "default_otlp_endpoint")]
    pub otlp_endpoint: String,
    /// The resource's `service.name` (default: the agent's id).
    pub service_name: Option<String>,
    /// Spans buffered for export; past it the oldest are dropped and counted.
    #[serde(default = "default_max_queue")]
    pub max_queue: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            enabled: true,
            otlp_endpoint: default_otlp_endpoint(),
            service_name: None,
            max_queue: default_max_queue(),
        }
    }
}

/// `[gateway]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySection {
    /// The gateway's own TOML file; no gateway without one.
    pub file: Option<PathBuf>,
}

/// `[sagas]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagasConfig {
    /// The log: a file path (SQLite, created if missing), `sqlite:...` or `postgres://...`.
    #[serde(default = "default_saga_log")]
    pub log: String,
    /// Saga definition files (TOML with HTTP steps).
    #[serde(default)]
    pub definitions: Vec<PathBuf>,
    /// Sagas executing at once.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
}

impl Default for SagasConfig {
    fn default() -> Self {
        SagasConfig {
            log: default_saga_log(),
            definitions: Vec::new(),
            max_concurrent: default_max_concurrent(),
        }
    }
}

/// `[faults]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsConfig {
    /// Whether the control API may inject faults.
    #[serde(default)]
    pub enabled: bool,
}

fn default_listen() -> String {
    DEFAULT_LISTEN.to_owned()
}
fn default_otlp_endpoint() -> String {
    DEFAULT_OTLP_ENDPOINT.to_owned()
}
fn default_saga_log() -> String {
    DEFAULT_SAGA_LOG.to_owned()
}
fn default_max_queue() -> usize {
    2048
}
fn default_max_concurrent() -> usize {
    256
}
fn yes() -> bool {
    true
}

/// A semantic problem: the field's path and what is wrong.
type Invalid = (Vec<Seg>, String);

impl AgentConfig {
    /// Reads and checks `path`; relative paths inside are resolved against its directory.
    pub fn load(path: impl AsRef<Path>) -> Result<AgentConfig, ConfigError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            field: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        let mut config = AgentConfig::from_toml(&source, &file)?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// Parses and checks `source`; `file` names it in errors. Paths stay as written.
    pub fn from_toml(source: &str, file: &str) -> Result<AgentConfig, ConfigError> {
        let config: AgentConfig = toml::from_str(source).map_err(|e| ConfigError {
            file: file.to_owned(),
            line: e.span().map_or(0, |s| locate::line_of(source, s.start)),
            field: String::new(),
            message: e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        config.check().map_err(|(path, message)| {
            let path = FieldPath(path);
            ConfigError {
                file: file.to_owned(),
                line: locate::line_of_path(source, &path),
                field: path.to_string(),
                message,
            }
        })?;
        Ok(config)
    }

    /// The control API's address (checked when loaded).
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.control.listen.parse().map_err(|_| ConfigError {
            file: String::new(),
            line: 0,
            field: "control.listen".to_owned(),
            message: format!("{:?} is not an ip:port address", self.control.listen),
        })
    }

    /// The `service.name` telemetry is exported under.
    pub fn service_name(&self) -> &str {
        self.telemetry.service_name.as_deref().unwrap_or(&self.id)
    }

    fn check(&self) -> Result<(), Invalid> {
        use Seg::{Index, Key};
        let at = |path: &[Seg], message: String| Err((path.to_vec(), message));
        if self.id.trim().is_empty() || self.id.chars().any(char::is_whitespace) {
            return at(
                &[Key("id")],
                "must be a non-empty name without spaces".into(),
            );
        }
        let control = &self.control;
        if control.listen.parse::<SocketAddr>().is_err() {
            return at(
                &[Key("control"), Key("listen")],
                format!("{:?} is not an ip:port address", control.listen),
            );
        }
        if control.tokens.is_empty() {
            return at(
                &[Key("control"), Key("tokens")],
                "at least one token is required: tokens = [{ name = \"console\", token = \"...\" }]"
                    .into(),
            );
        }
        for (i, token) in control.tokens.iter().enumerate() {
            let path = [Key("control"), Key("tokens"), Index(i)];
            if token.name.trim().is_empty() {
                return at(&[&path[..], &[Key("name")]].concat(), "is empty".into());
            }
            // It travels in a header: visible ASCII only.
            if token.token.is_empty() || !token.token.bytes().all(|b| b.is_ascii_graphic()) {
                return at(
                    &[&path[..], &[Key("token")]].concat(),
                    "must be non-empty printable ASCII without spaces".into(),
                );
            }
            if control.tokens[..i].iter().any(|t| t.token == token.token) {
                return at(
                    &[&path[..], &[Key("token")]].concat(),
                    "the same token is configured twice".into(),
                );
            }
        }
        match (&control.tls_cert, &control.tls_key) {
            (Some(_), None) => {
                return at(
                    &[Key("control"), Key("tls_cert")],
                    "tls_key is needed too".into(),
                );
            }
            (None, Some(_)) => {
                return at(
                    &[Key("control"), Key("tls_key")],
                    "tls_cert is needed too".into(),
                );
            }
            _ => {}
        }
        let endpoint = &self.telemetry.otlp_endpoint;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return at(
                &[Key("telemetry"), Key("otlp_endpoint")],
                format!("{endpoint:?} is not an http:// or https:// URL"),
            );
        }
        if self.telemetry.max_queue == 0 {
            return at(
                &[Key("telemetry"), Key("max_queue")],
                "must be at least 1".into(),
            );
        }
        if self.sagas.max_concurrent == 0 {
            return at(
                &[Key("sagas"), Key("max_concurrent")],
                "must be at least 1".into(),
            );
        }
        let log = &self.sagas.log;
        if log.is_empty()
            || (log.contains("://")
                && !["sqlite:", "postgres://", "postgresql://"]
                    .iter()
                    .any(|p| log.starts_with(p)))
        {
            return at(
                &[Key("sagas"), Key("log")],
                format!("{log:?} is not a file path, sqlite: or postgres:// URL"),
            );
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let control = &mut self.control;
        for path in [
            &mut control.tls_cert,
            &mut control.tls_key,
            &mut control.audit_file,
            &mut self.gateway.file,
        ]
        .into_iter()
        .flatten()
        {
            resolve(path);
        }
        self.sagas.definitions.iter_mut().for_each(resolve);
        // A plain path is a SQLite file; URLs stay as they are.
        let log = &self.sagas.log;
        if !log.starts_with("sqlite:") && !log.contains("://") && Path::new(log).is_relative() {
            self.sagas.log = base.join(log).display().to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "a1"
[control]
tokens = [{ name = "console", token = "s3cret" }]
[sagas]
definitions = ["checkout.toml"]
"#;

    #[test]
    fn defaults_fill_in() {
        let config = AgentConfig::from_toml(GOOD, "agent.toml").expect("valid");
        assert_eq!(config.control.listen, DEFAULT_LISTEN);
        assert_eq!(config.telemetry.otlp_endpoint, DEFAULT_OTLP_ENDPOINT);
        assert!(config.telemetry.enabled);
        assert_eq!(config.service_name(), "a1");
        assert!(!config.faults.enabled);
        assert_eq!(config.sagas.max_concurrent, 256);
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, GOOD).expect("write");
        let config = AgentConfig::load(&path).expect("valid");
        assert_eq!(
            config.sagas.definitions,
            vec![dir.path().join("checkout.toml")]
        );
        assert_eq!(
            config.sagas.log,
            dir.path().join(DEFAULT_SAGA_LOG).display().to_string()
        );
    }

    #[track_caller]
    fn refused(source: &str) -> ConfigError {
        AgentConfig::from_toml(source, "agent.toml").expect_err("must be refused")
    }

    #[test]
    fn errors_name_line_and_field() {
        let err = refused(
            "id = \"a\"\n[control]\nlisten = \"nowhere\"\ntokens = [{ name = \"c\", token = \"t\" }]\n",
        );
        assert_eq!((err.line, err.field.as_str()), (3, "control.listen"));
        assert_eq!(
            err.to_string(),
            "agent.toml:3: control.listen: \"nowhere\" is not an ip:port address"
        );

        let err = refused("id = \"a\"\n[control]\ntokens = []\n");
        assert_eq!((err.line, err.field.as_str()), (3, "control.tokens"));

        let err = refused("id = \"a\"\n");
        assert_eq!(err.field, "control.tokens");

        let err = refused(
            "id = \"a\"\n[control]\ntokens = [\n  { name = \"c\", token = \"t\" },\n  { name = \"d\", token = \"has space\" },\n]\n",
        );
        assert_eq!(
            (err.line, err.field.as_str()),
            (5, "control.tokens[1].token")
        );
    }

    #[test]
    fn unknown_keys_and_bad_types_are_refused_with_their_line() {
        let err = refused("id = \"a\"\n\n[control]\nlisten = \"127.0.0.1:1\"\ntoken = \"x\"\n");
        assert_eq!(err.line, 5);
        assert!(err.message.contains("unknown field"), "{err}");

        let err = refused("id = \"a\"\n[faults]\nenabled = \"yes\"\n");
        assert_eq!(err.line, 3);
    }

    #[test]
    fn tls_needs_both_halves() {
        let err = refused(
            "id = \"a\"\n[control]\ntokens = [{ name = \"c\", token = \"t\" }]\ntls_cert = \"c.pem\"\n",
        );
        assert_eq!((err.line, err.field.as_str()), (4, "control.tls_cert"));
    }

    #[test]
    fn tokens_are_not_printed() {
        let config = AgentConfig::from_toml(GOOD, "agent.toml").expect("valid");
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
