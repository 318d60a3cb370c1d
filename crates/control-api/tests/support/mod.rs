//! Test support: a small in-memory agent behind a real tonic server on loopback.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

pub mod backend;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use switchyard_control_api::proto::{self, state_change::Change};
use switchyard_control_api::{
    AuditLog, AuthConfig, ClientError, ClientTls, ControlClient, ControlServer, LiveAuth, ServerTls,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use backend::MemoryBackend;

pub const ALICE_TOKEN: &str = "alice-secret-token";

/// A running server over a [`MemoryBackend`].
pub struct Harness {
    pub addr: SocketAddr,
    pub backend: Arc<MemoryBackend>,
    pub audit: Arc<AuditLog>,
    /// The server's tokens, replaceable while it runs.
    pub auth: LiveAuth,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Harness {
    pub async fn start(backend: MemoryBackend) -> Harness {
        Harness::start_with(backend, None).await
    }

    pub async fn start_with(backend: MemoryBackend, tls: Option<ServerTls>) -> Harness {
        let backend = Arc::new(backend);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let auth = AuthConfig::new()
            .token("alice", ALICE_TOKEN)
            .token("bob", "bob-secret-token");
        let server = ControlServer::new(backend.clone(), auth);
        let audit = server.audit().clone();
        let live_auth = server.auth().clone();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(err) = server.serve(listener, tls, shutdown).await {
                panic!("server failed: {err}");
            }
        });
        Harness {
            addr,
            backend,
            audit,
            auth: live_auth,
            shutdown: Some(tx),
        }
    }

    pub async fn client(&self) -> ControlClient {
        self.client_with(ALICE_TOKEN).await.expect("connect")
    }

    pub async fn client_with(&self, token: &str) -> Result<ControlClient, ClientError> {
        ControlClient::connect(&format!("http://{}", self.addr), token, None).await
    }

    pub async fn tls_client(&self, ca_pem: &str) -> Result<ControlClient, ClientError> {
        let tls = ClientTls::with_ca(ca_pem).domain("localhost");
        ControlClient::connect(&format!("https://{}", self.addr), ALICE_TOKEN, Some(tls)).await
    }
}

/// The next change of the stream, within a few seconds.
pub async fn next_change(
    stream: &mut (impl Stream<Item = Result<proto::StateChange, ClientError>> + Unpin),
) -> Change {
    let item = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("a change within 5 s")
        .expect("stream open")
        .expect("no error");
    item.change.expect("change set")
}

/// Skips to the next breaker transition.
pub async fn next_breaker_transition(
    stream: &mut (impl Stream<Item = Result<proto::StateChange, ClientError>> + Unpin),
) -> proto::BreakerTransition {
    loop {
        if let Change::Breaker(t) = next_change(stream).await {
            return t;
        }
    }
}

/// A watch stream with its initial snapshot consumed and returned.
pub async fn watch(
    client: &ControlClient,
) -> (
    impl Stream<Item = Result<proto::StateChange, ClientError>> + Unpin + use<>,
    proto::Inventory,
) {
    let mut stream = Box::pin(client.watch().await.expect("watch"));
    match next_change(&mut stream).await {
        Change::Snapshot(inventory) => (stream, inventory),
        other => panic!("first message must be a snapshot, got {other:?}"),
    }
}

#[track_caller]
pub fn breaker<'a>(inventory: &'a proto::Inventory, name: &str) -> &'a proto::Breaker {
    inventory
        .breakers
        .iter()
        .find(|b| b.name == name)
        .unwrap_or_else(|| panic!("breaker {name} in inventory"))
}

#[track_caller]
pub fn route<'a>(inventory: &'a proto::Inventory, name: &str) -> &'a proto::Route {
    inventory
        .routes
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("route {name} in inventory"))
}
