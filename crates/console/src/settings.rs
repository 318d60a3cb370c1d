//! The console's saved settings: where the embedded receiver listens and how long
//! telemetry is kept. The desktop app's Settings view edits them; `switchyard ui`,
//! `serve` and the desktop app read them at start, below their command-line flags.
//! They take effect at the next start: a running receiver keeps its ports.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `$SWITCHYARD_SETTINGS` names the file instead of the OS config dir's.
pub const SETTINGS_FILE_ENV: &str = "SWITCHYARD_SETTINGS";

/// Built-in defaults, used where neither a flag nor the file says.
pub const DEFAULT_RETENTION_AGE: &str = "7days";
pub const DEFAULT_RETENTION_SIZE_MIB: u64 = 2048;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no config directory for the settings file; set {SETTINGS_FILE_ENV}")]
    NoConfigDir,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid settings file: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// What the file holds; every field may be absent (then the built-in default applies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// OTLP/gRPC listen address.
    pub otlp_grpc: Option<SocketAddr>,
    /// OTLP/HTTP listen address.
    pub otlp_http: Option<SocketAddr>,
    /// Delete telemetry older than this (`7days`, `12h`), or `off`.
    pub retention_age: Option<String>,
    /// Keep the database under this many MiB; 0 for no limit.
    pub retention_size_mib: Option<u64>,
}

/// Settings with every field decided: what a console runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// `None` when this console does not receive (another process does).
    pub otlp_grpc: Option<SocketAddr>,
    pub otlp_http: Option<SocketAddr>,
    pub retention_age: String,
    pub retention_size_mib: u64,
}

impl Settings {
    /// Checks the values a user typed; the message names the field.
    pub fn check(&self) -> Result<(), SettingsError> {
        if let Some(age) = &self.retention_age {
            parse_retention_age(age)
                .map_err(|e| SettingsError::Invalid(format!("retention_age: {e}")))?;
        }
        if let (Some(grpc), Some(http)) = (self.otlp_grpc, self.otlp_http)
            && grpc == http
            && grpc.port() != 0
        {
            return Err(SettingsError::Invalid(format!(
                "otlp_grpc and otlp_http are both {grpc}: they need two ports"
            )));
        }
        Ok(())
    }

    /// Every field decided: these settings over the built-in defaults.
    pub fn resolved(&self) -> Resolved {
        Resolved {
            otlp_grpc: Some(self.otlp_grpc.unwrap_or_else(default_grpc)),
            otlp_http: Some(self.otlp_http.unwrap_or_else(default_http)),
            retention_age: self
                .retention_age
                .clone()
                .unwrap_or_else(|| DEFAULT_RETENTION_AGE.to_owned()),
            retention_size_mib: self
                .retention_size_mib
                .unwrap_or(DEFAULT_RETENTION_SIZE_MIB),
        }
    }
}

fn default_grpc() -> SocketAddr {
    switchyard_receiver::DEFAULT_GRPC_ADDR
        .parse()
        .expect("the default gRPC address parses")
}

fn default_http() -> SocketAddr {
    switchyard_receiver::DEFAULT_HTTP_ADDR
        .parse()
        .expect("the default HTTP address parses")
}

/// `off` (keep everything) or a duration (`7days`, `12h`).
pub fn parse_retention_age(s: &str) -> Result<Option<Duration>, String> {
    if s == "off" {
        Ok(None)
    } else {
        humantime::parse_duration(s)
            .map(Some)
            .map_err(|e| format!("{e} (try 12h, 7days or off)"))
    }
}

/// The settings file, loaded.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
    settings: Settings,
}

impl SettingsFile {
    /// Where the file is: `$SWITCHYARD_SETTINGS`, else the OS config dir.
    pub fn default_path() -> Result<PathBuf, SettingsError> {
        if let Some(path) = std::env::var_os(SETTINGS_FILE_ENV) {
            return Ok(PathBuf::from(path));
        }
        dirs::config_dir()
            .map(|dir| dir.join("switchyard").join("settings.toml"))
            .ok_or(SettingsError::NoConfigDir)
    }

    /// Reads `path`; a missing file holds no settings.
    pub fn load(path: impl Into<PathBuf>) -> Result<SettingsFile, SettingsError> {
        let path = path.into();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(SettingsError::Read { path, source }),
        };
        let settings: Settings = toml::from_str(&text).map_err(|e| SettingsError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        settings.check().map_err(|e| SettingsError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(SettingsFile { path, settings })
    }

    /// The default file, or no settings when there is no config dir.
    pub fn load_default() -> Result<SettingsFile, SettingsError> {
        match Self::default_path() {
            Ok(path) => Self::load(path),
            Err(SettingsError::NoConfigDir) => Ok(SettingsFile {
                path: PathBuf::new(),
                settings: Settings::default(),
            }),
            Err(e) => Err(e),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Checks and saves `settings` (atomically).
    pub fn replace(&mut self, settings: Settings) -> Result<(), SettingsError> {
        settings.check()?;
        if self.path.as_os_str().is_empty() {
            return Err(SettingsError::NoConfigDir);
        }
        let text = toml::to_string_pretty(&settings).map_err(|e| SettingsError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        crate::config_file::write_atomically(&self.path, &text).map_err(|source| {
            SettingsError::Write {
                path: self.path.clone(),
                source,
            }
        })?;
        self.settings = settings;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_the_defaults_and_a_saved_one_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        let mut file = SettingsFile::load(&path).unwrap();
        assert_eq!(file.settings(), &Settings::default());
        assert_eq!(file.settings().resolved().retention_age, "7days");

        let settings = Settings {
            otlp_grpc: Some("127.0.0.1:5317".parse().unwrap()),
            retention_age: Some("off".into()),
            ..Settings::default()
        };
        file.replace(settings.clone()).unwrap();
        assert_eq!(SettingsFile::load(&path).unwrap().settings(), &settings);
    }

    #[test]
    fn bad_values_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        let mut file = SettingsFile::load(&path).unwrap();
        let err = file
            .replace(Settings {
                retention_age: Some("a week".into()),
                ..Settings::default()
            })
            .unwrap_err();
        assert!(err.to_string().starts_with("retention_age:"), "{err}");
        let same: SocketAddr = "127.0.0.1:4317".parse().unwrap();
        let err = file
            .replace(Settings {
                otlp_grpc: Some(same),
                otlp_http: Some(same),
                ..Settings::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains("two ports"), "{err}");
        assert!(!path.exists());

        std::fs::write(&path, "otlp_grpc = \"nowhere\"\n").unwrap();
        let err = SettingsFile::load(&path).unwrap_err();
        assert!(
            err.to_string().contains("not a valid settings file"),
            "{err}"
        );
    }
}
