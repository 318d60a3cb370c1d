//! The clusters file: each cluster's name, its agents (endpoint, token, TLS) and whether
//! it is view-only. TOML in the OS config dir (`~/.config/switchyard/clusters.toml` on
//! Linux), written atomically and readable by its owner only, since it holds tokens.
//!
//! ```toml
//! [[cluster]]
//! name = "shop"
//! view_only = false
//!
//! [[cluster.agent]]
//! endpoint = "http://127.0.0.1:7700"
//! token = "secret"
//! # tls = { ca = "/path/ca.pem", domain = "agent.internal" }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The environment variable that overrides where the clusters file is.
pub const CLUSTERS_FILE_ENV: &str = "SWITCHYARD_CLUSTERS";

/// Why the clusters file cannot be used or changed.
#[derive(Debug, thiserror::Error)]
pub enum ClustersError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a cluster named {0:?} exists already")]
    Exists(String),
    #[error("no cluster named {0:?}")]
    Unknown(String),
    #[error("invalid cluster: {0}")]
    Invalid(String),
    #[error("no OS config directory: set {CLUSTERS_FILE_ENV} to the clusters file's path")]
    NoConfigDir,
}

/// A token: sent to agents, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(token: impl Into<String>) -> Self {
        Secret(token.into())
    }

    /// The token itself, to send.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// TLS to an agent: the CA that signed its certificate and the name in it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub ca: Option<PathBuf>,
    pub domain: Option<String>,
}

/// One agent of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEndpoint {
    /// `http://host:port`, or `https://…` with `tls`.
    pub endpoint: String,
    pub token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSettings>,
}

/// A cluster: a name and its agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    pub name: String,
    /// Every write command is refused locally.
    #[serde(default)]
    pub view_only: bool,
    #[serde(default, rename = "agent")]
    pub agents: Vec<AgentEndpoint>,
}

impl ClusterConfig {
    fn check(&self) -> Result<(), ClustersError> {
        if self.name.trim().is_empty() {
            return Err(ClustersError::Invalid("the name is empty".into()));
        }
        if self.agents.is_empty() {
            return Err(ClustersError::Invalid(format!(
                "cluster {:?} has no agent",
                self.name
            )));
        }
        for agent in &self.agents {
            let scheme_ok =
                agent.endpoint.starts_with("http://") || agent.endpoint.starts_with("https://");
            if !scheme_ok {
                return Err(ClustersError::Invalid(format!(
                    "endpoint {:?} must start with http:// or https://",
                    agent.endpoint
                )));
            }
            if agent.token.expose().is_empty() {
                return Err(ClustersError::Invalid(format!(
                    "agent {} has an empty token",
                    agent.endpoint
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContents {
    #[serde(default, rename = "cluster")]
    clusters: Vec<ClusterConfig>,
}

/// The clusters file, loaded.
#[derive(Debug, Clone)]
pub struct ClustersFile {
    path: PathBuf,
    clusters: Vec<ClusterConfig>,
}

impl ClustersFile {
    /// Where the file is: `$SWITCHYARD_CLUSTERS`, else the OS config dir.
    pub fn default_path() -> Result<PathBuf, ClustersError> {
        if let Some(path) = std::env::var_os(CLUSTERS_FILE_ENV) {
            return Ok(PathBuf::from(path));
        }
        dirs::config_dir()
            .map(|dir| dir.join("switchyard").join("clusters.toml"))
            .ok_or(ClustersError::NoConfigDir)
    }

    /// Reads `path`; a missing file is an empty list.
    pub fn load(path: impl Into<PathBuf>) -> Result<ClustersFile, ClustersError> {
        let path = path.into();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ClustersError::Read { path, source }),
        };
        let contents: FileContents = toml::from_str(&text).map_err(|e| ClustersError::Parse {
            path: path.clone(),
            message: e.to_string().trim().to_owned(),
        })?;
        for cluster in &contents.clusters {
            cluster.check().map_err(|e| ClustersError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(ClustersFile {
            path,
            clusters: contents.clusters,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn clusters(&self) -> &[ClusterConfig] {
        &self.clusters
    }

    pub fn get(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// Adds a new cluster (its name must be new) and saves.
    pub fn add(&mut self, cluster: ClusterConfig) -> Result<(), ClustersError> {
        cluster.check()?;
        if self.get(&cluster.name).is_some() {
            return Err(ClustersError::Exists(cluster.name));
        }
        self.clusters.push(cluster);
        self.save()
    }

    /// Replaces the cluster of the same name and saves.
    pub fn update(&mut self, cluster: ClusterConfig) -> Result<(), ClustersError> {
        cluster.check()?;
        let slot = self
            .clusters
            .iter_mut()
            .find(|c| c.name == cluster.name)
            .ok_or_else(|| ClustersError::Unknown(cluster.name.clone()))?;
        *slot = cluster;
        self.save()
    }

    /// Removes a cluster and saves.
    pub fn remove(&mut self, name: &str) -> Result<ClusterConfig, ClustersError> {
        let index = self
            .clusters
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| ClustersError::Unknown(name.to_owned()))?;
        let removed = self.clusters.remove(index);
        self.save()?;
        Ok(removed)
    }

    /// Writes the file atomically, owner-only (it holds tokens).
    fn save(&self) -> Result<(), ClustersError> {
        let write_error = |source| ClustersError::Write {
            path: self.path.clone(),
            source,
        };
        let text = toml::to_string_pretty(&FileContents {
            clusters: self.clusters.clone(),
        })
        .map_err(|e| write_error(std::io::Error::other(e)))?;
        crate::config_file::write_atomically(&self.path, &text).map_err(write_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(name: &str) -> ClusterConfig {
        ClusterConfig {
            name: name.into(),
            view_only: false,
            agents: vec![AgentEndpoint {
                endpoint: "http://127.0.0.1:7700".into(),
                token: Secret::new("s3cret-token"),
                tls: None,
            }],
        }
    }

    #[test]
    fn add_update_remove_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("clusters.toml");
        let mut file = ClustersFile::load(&path).unwrap();
        assert!(file.clusters().is_empty());
        file.add(cluster("shop")).unwrap();
        file.add(cluster("prod")).unwrap();
        assert!(matches!(
            file.add(cluster("shop")),
            Err(ClustersError::Exists(_))
        ));
        let mut prod = cluster("prod");
        prod.view_only = true;
        file.update(prod).unwrap();
        file.remove("shop").unwrap();

        let again = ClustersFile::load(&path).unwrap();
        assert_eq!(again.clusters().len(), 1);
        assert!(again.get("prod").unwrap().view_only);
        assert_eq!(
            again.get("prod").unwrap().agents[0].token.expose(),
            "s3cret-token"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the tokens");
        }
    }

    #[test]
    fn tokens_stay_out_of_debug_output() {
        assert!(!format!("{:?}", cluster("shop")).contains("s3cret"));
    }

    #[test]
    fn bad_clusters_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = ClustersFile::load(dir.path().join("c.toml")).unwrap();
        let mut no_scheme = cluster("x");
        no_scheme.agents[0].endpoint = "127.0.0.1:7700".into();
        assert!(matches!(
            file.add(no_scheme),
            Err(ClustersError::Invalid(_))
        ));
        let mut no_agents = cluster("y");
        no_agents.agents.clear();
        assert!(file.add(no_agents).is_err());
        std::fs::write(dir.path().join("bad.toml"), "[[cluster]]\nnme = 1\n").unwrap();
        let err = ClustersFile::load(dir.path().join("bad.toml")).unwrap_err();
        assert!(err.to_string().contains("bad.toml"), "{err}");
    }
}
