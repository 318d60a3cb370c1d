//! `/api/clusters`: add, list, change, remove and test clusters; `/api/agents`: their
//! agents' health. Tokens are accepted on writes and never sent back.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, Result};
use super::extract::Body;
use crate::clusters::connect::connect;
use crate::clusters::views::AgentHealth;
use crate::clusters::{AgentEndpoint, ClusterConfig, CommandError, Secret, TlsSettings};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/clusters", get(list).post(add))
        .route("/clusters/{name}", put(update).delete(remove))
        .route("/clusters/{name}/test", post(test))
        .route("/agents", get(agents))
}

/// A cluster as the API shows it: no tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    pub name: String,
    pub view_only: bool,
    pub agents: Vec<AgentView>,
}

/// An agent's settings, without its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    pub endpoint: String,
    pub tls: Option<TlsSettings>,
}

impl From<&ClusterConfig> for ClusterView {
    fn from(cluster: &ClusterConfig) -> Self {
        ClusterView {
            name: cluster.name.clone(),
            view_only: cluster.view_only,
            agents: cluster
                .agents
                .iter()
                .map(|a| AgentView {
                    endpoint: a.endpoint.clone(),
                    tls: a.tls.clone(),
                })
                .collect(),
        }
    }
}

/// A cluster as written to the API. On `PUT`, an agent without a token keeps the token
/// it had (same endpoint), so the UI can edit a cluster without ever holding tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterInput {
    /// Required on `POST`; on `PUT` the path names the cluster.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub view_only: bool,
    pub agents: Vec<AgentInput>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    pub endpoint: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub tls: Option<TlsSettings>,
}

impl ClusterInput {
    /// The cluster to save; tokens missing here come from `old`.
    fn into_config(self, name: String, old: Option<&ClusterConfig>) -> Result<ClusterConfig> {
        let agents = self
            .agents
            .into_iter()
            .map(|agent| {
                let token = match agent.token {
                    Some(token) => Secret::new(token),
                    None => old
                        .and_then(|c| c.agents.iter().find(|a| a.endpoint == agent.endpoint))
                        .map(|a| a.token.clone())
                        .ok_or_else(|| {
                            ApiError::new(
                                StatusCode::BAD_REQUEST,
                                "invalid_cluster",
                                format!("agent {} needs a token", agent.endpoint),
                            )
                        })?,
                };
                Ok(AgentEndpoint {
                    endpoint: agent.endpoint,
                    token,
                    tls: agent.tls,
                })
            })
            .collect::<Result<_>>()?;
        Ok(ClusterConfig {
            name,
            view_only: self.view_only,
            agents,
        })
    }
}

async fn list(State(state): State<AppState>) -> Json<Vec<ClusterView>> {
    Json(
        state
            .clusters
            .list()
            .iter()
            .map(ClusterView::from)
            .collect(),
    )
}

fn find(state: &AppState, name: &str) -> Result<ClusterConfig> {
    state
        .clusters
        .list()
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_cluster",
                format!("no cluster named {name:?}"),
            )
        })
}

async fn add(
    State(state): State<AppState>,
    Body(input): Body<ClusterInput>,
) -> Result<(StatusCode, Json<ClusterView>)> {
    let name = input
        .name
        .clone()
        .ok_or_else(|| ApiError::bad_request("the cluster needs a name"))?;
    let cluster = input.into_config(name, None)?;
    state.clusters.add(cluster.clone())?;
    Ok((StatusCode::CREATED, Json(ClusterView::from(&cluster))))
}

async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(input): Body<ClusterInput>,
) -> Result<Json<ClusterView>> {
    if input.name.as_ref().is_some_and(|n| *n != name) {
        return Err(ApiError::bad_request(
            "a cluster cannot be renamed: remove it and add it under the new name",
        ));
    }
    let old = find(&state, &name)?;
    let cluster = input.into_config(name, Some(&old))?;
    state.clusters.update(cluster.clone())?;
    Ok(Json(ClusterView::from(&cluster)))
}

async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode> {
    state.clusters.remove(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

/// One agent's answer to a connection test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentTest {
    pub endpoint: String,
    pub ok: bool,
    pub agent_id: Option<String>,
    pub version: Option<String>,
    /// Why it failed, and the error's kind as the API names it.
    pub error: Option<String>,
    pub kind: Option<String>,
}

/// Connects to each agent with its token and asks who it is.
async fn test(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<AgentTest>>> {
    let cluster = find(&state, &name)?;
    let tests = futures::future::join_all(cluster.agents.iter().map(|agent| async move {
        let answer = match connect(agent).await {
            Ok(client) => client
                .identity()
                .await
                .map_err(|e| CommandError::from_client(&agent.endpoint, e)),
            Err(e) => Err(CommandError::from_connect(&agent.endpoint, e)),
        };
        match answer {
            Ok(identity) => AgentTest {
                endpoint: agent.endpoint.clone(),
                ok: true,
                agent_id: Some(identity.agent_id),
                version: Some(identity.version),
                error: None,
                kind: None,
            },
            Err(e) => {
                let e = ApiError::from(e);
                AgentTest {
                    endpoint: agent.endpoint.clone(),
                    ok: false,
                    agent_id: None,
                    version: None,
                    error: Some(e.message),
                    kind: Some(e.kind.to_owned()),
                }
            }
        }
    }))
    .await;
    Ok(Json(tests))
}

async fn agents(State(state): State<AppState>) -> Json<Vec<AgentHealth>> {
    Json(state.clusters.live().agents())
}
