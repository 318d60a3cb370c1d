//! A real store file and a real receiver on loopback ports, per test.

#![allow(dead_code)] // each test binary uses a different part of the support module

use std::net::SocketAddr;

use switchyard_receiver::{ApiKeys, Receiver, ReceiverConfig};
use switchyard_store::{Reader, Store, StoreConfig, TraceQuery};

#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) store: Store,
    pub(crate) receiver: Receiver,
}

impl Running {
    pub(crate) async fn start() -> Running {
        Self::start_with(|_, _| {}).await
    }

    /// Starts with the defaults changed by `adjust`, on ephemeral ports.
    pub(crate) async fn start_with(
        adjust: impl FnOnce(&mut StoreConfig, &mut ReceiverConfig),
    ) -> Running {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store_config = StoreConfig::new(dir.path().join("telemetry.db"));
        let mut receiver_config = ReceiverConfig {
            grpc: Some("127.0.0.1:0".parse().unwrap()),
            http: Some("127.0.0.1:0".parse().unwrap()),
            ..ReceiverConfig::default()
        };
        adjust(&mut store_config, &mut receiver_config);
        let store = Store::open(store_config).await.expect("store opens");
        let receiver = Receiver::start(receiver_config, store.ingest())
            .await
            .expect("receiver starts");
        Running {
            dir,
            store,
            receiver,
        }
    }

    pub(crate) fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.receiver.http_addr().unwrap())
    }

    pub(crate) fn grpc(&self) -> String {
        format!("http://{}", self.receiver.grpc_addr().unwrap())
    }

    pub(crate) fn grpc_addr(&self) -> SocketAddr {
        self.receiver.grpc_addr().unwrap()
    }

    pub(crate) fn reader(&self) -> &Reader {
        self.store.reader()
    }

    /// Every span stored, counted across all traces.
    pub(crate) async fn span_count(&self) -> u64 {
        let page = self
            .reader()
            .search_traces(&TraceQuery {
                limit: 10_000,
                ..Default::default()
            })
            .await
            .unwrap();
        page.traces.iter().map(|t| t.span_count).sum()
    }

    pub(crate) async fn stop(self) {
        self.receiver.shutdown().await;
        self.store.close().await.unwrap();
    }
}

pub(crate) fn keys(primary: &str, secondary: &str) -> ApiKeys {
    ApiKeys::new(Some(primary.into()), Some(secondary.into()))
}
