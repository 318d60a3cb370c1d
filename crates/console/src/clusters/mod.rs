//! Clusters of agents: the clusters file, a link per agent that keeps the live view up
//! to date (and records what changed in the store), and commands sent to the agent
//! that has their subject.

pub mod command;
pub mod config;
pub mod connect;
mod link;
pub mod live;
pub mod views;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use switchyard_store::records::{CommandQuery, CommandRecord, Records};
use tokio::task::JoinHandle;

pub use command::{Command, CommandError, CommandRequest, current_user};
pub use config::{AgentEndpoint, ClusterConfig, ClustersError, ClustersFile, Secret, TlsSettings};
pub use live::LiveState;

/// The console's clusters while it runs: their links, the live view, the audit history.
#[derive(Debug)]
pub struct Clusters {
    file: Mutex<ClustersFile>,
    live: LiveState,
    records: Option<Records>,
    links: Mutex<HashMap<String, Vec<JoinHandle<()>>>>,
}

impl Drop for Clusters {
    fn drop(&mut self) {
        let links = self.links.get_mut().unwrap_or_else(PoisonError::into_inner);
        for handle in links.drain().flat_map(|(_, handles)| handles) {
            handle.abort();
        }
    }
}

impl Clusters {
    /// Connects to every agent of every cluster in `file` (in the background; the live
    /// view fills as they answer). Changes and commands are recorded in `records`.
    pub fn start(file: ClustersFile, records: Option<Records>) -> Clusters {
        let clusters = Clusters {
            live: LiveState::default(),
            records,
            links: Mutex::default(),
            file: Mutex::new(file.clone()),
        };
        for cluster in file.clusters() {
            clusters.link(cluster);
        }
        clusters
    }

    fn link(&self, cluster: &ClusterConfig) {
        let handles = cluster
            .agents
            .iter()
            .map(|agent| {
                link::spawn(
                    cluster.name.clone(),
                    agent.clone(),
                    self.live.clone(),
                    self.records.clone(),
                )
            })
            .collect();
        let old = self
            .links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(cluster.name.clone(), handles);
        for handle in old.into_iter().flatten() {
            handle.abort();
        }
    }

    fn unlink(&self, name: &str) {
        let old = self
            .links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        for handle in old.into_iter().flatten() {
            handle.abort();
        }
        self.live.forget(name);
    }

    /// The live view.
    pub fn live(&self) -> &LiveState {
        &self.live
    }

    /// The configured clusters.
    pub fn list(&self) -> Vec<ClusterConfig> {
        self.file().clusters().to_vec()
    }

    fn file(&self) -> std::sync::MutexGuard<'_, ClustersFile> {
        self.file.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a cluster to the file and connects to it.
    pub fn add(&self, cluster: ClusterConfig) -> Result<(), ClustersError> {
        self.file().add(cluster.clone())?;
        self.link(&cluster);
        Ok(())
    }

    /// Replaces a cluster's settings and reconnects.
    pub fn update(&self, cluster: ClusterConfig) -> Result<(), ClustersError> {
        self.file().update(cluster.clone())?;
        self.unlink(&cluster.name);
        self.link(&cluster);
        Ok(())
    }

    /// Removes a cluster and disconnects from it.
    pub fn remove(&self, name: &str) -> Result<(), ClustersError> {
        self.file().remove(name)?;
        self.unlink(name);
        Ok(())
    }

    /// Sends a command to the cluster's agent that has its subject.
    pub async fn execute(&self, request: &CommandRequest) -> Result<CommandRecord, CommandError> {
        let cluster = self
            .file()
            .get(&request.cluster)
            .cloned()
            .ok_or_else(|| CommandError::UnknownCluster(request.cluster.clone()))?;
        command::execute(&cluster, request, self.records.as_ref(), Some(&self.live)).await
    }

    /// The audit history of commands, newest first (empty without a store).
    pub async fn history(
        &self,
        query: &CommandQuery,
    ) -> Result<Vec<CommandRecord>, switchyard_store::StoreError> {
        match &self.records {
            Some(records) => records.commands(query).await,
            None => Ok(Vec::new()),
        }
    }
}
