//! Fault injection into the demo's services: an error rate and an added latency per
//! service, changed live through the control API ([`FaultControl`]), and the scheduled
//! outage of the payments card processor that makes a breaker open without an operator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use switchyard_control_api::backend::FaultControl;
use switchyard_control_api::{BackendError, Command, proto};
use tokio::time::Instant;

/// One service's injected fault.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Fault {
    error_rate: f64,
    added_latency: Duration,
    /// Bumped by every change, so a time-to-live revert only undoes its own change.
    generation: u64,
}

/// The faults in force on every demo service. Always enabled: the demo exists to be
/// broken on purpose.
#[derive(Debug)]
pub struct DemoFaults {
    faults: Arc<Mutex<BTreeMap<String, Fault>>>,
}

impl DemoFaults {
    /// No fault on any of `services`; other names are refused.
    pub fn new<'a>(services: impl IntoIterator<Item = &'a str>) -> Self {
        DemoFaults {
            faults: Arc::new(Mutex::new(
                services
                    .into_iter()
                    .map(|name| (name.to_owned(), Fault::default()))
                    .collect(),
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Fault>> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets `service`'s fault; returns the change's generation.
    fn set(
        &self,
        service: &str,
        error_rate: f64,
        added_latency: Duration,
    ) -> Result<u64, BackendError> {
        if !(0.0..=1.0).contains(&error_rate) {
            return Err(BackendError::InvalidArgument(format!(
                "error rate {error_rate} is not within 0..=1"
            )));
        }
        let mut faults = self.lock();
        let fault = faults
            .get_mut(service)
            .ok_or_else(|| BackendError::not_found("service", service))?;
        *fault = Fault {
            error_rate,
            added_latency,
            generation: fault.generation + 1,
        };
        Ok(fault.generation)
    }

    fn wire(service: &str, fault: &Fault) -> proto::Fault {
        proto::Fault {
            service: service.to_owned(),
            error_rate: fault.error_rate,
            added_latency_ms: u64::try_from(fault.added_latency.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Applies `service`'s fault to one request: waits the added latency, then answers
    /// `true` when the request is to fail.
    pub(crate) async fn strike(&self, service: &str) -> bool {
        let fault = self.lock().get(service).copied().unwrap_or_default();
        if !fault.added_latency.is_zero() {
            tokio::time::sleep(fault.added_latency).await;
        }
        fault.error_rate > 0.0 && rand::random::<f64>() < fault.error_rate
    }
}

#[async_trait]
impl FaultControl for DemoFaults {
    fn faults_enabled(&self) -> bool {
        true
    }

    async fn faults(&self) -> switchyard_control_api::error::Result<Vec<proto::Fault>> {
        Ok(self
            .lock()
            .iter()
            .map(|(service, fault)| DemoFaults::wire(service, fault))
            .collect())
    }

    async fn set_fault(
        &self,
        fault: proto::Fault,
        command: Command,
    ) -> switchyard_control_api::error::Result<proto::Fault> {
        let latency = Duration::from_millis(fault.added_latency_ms);
        let generation = self.set(&fault.service, fault.error_rate, latency)?;
        tracing::info!(
            service = %fault.service, error_rate = fault.error_rate, added_latency_ms = fault.added_latency_ms,
            by = %command.by, reason = %command.reason, "demo fault set"
        );
        if let Some(ttl) = command.ttl {
            // An override with a time to live clears itself, unless changed meanwhile.
            let faults = self.faults.clone();
            let service = fault.service.clone();
            tokio::spawn(async move {
                tokio::time::sleep(ttl).await;
                let mut faults = faults.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(fault) = faults
                    .get_mut(&service)
                    .filter(|fault| fault.generation == generation)
                {
                    *fault = Fault {
                        generation: generation + 1,
                        ..Fault::default()
                    };
                    tracing::info!(%service, "demo fault expired");
                }
            });
        }
        Ok(fault)
    }
}

/// Axum middleware: the service's fault, before its handler. A struck request gets a
/// 503, which the gateway's breakers count as a failure and the saga retries.
pub(crate) async fn inject(
    State((faults, service)): State<(Arc<DemoFaults>, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    if faults.strike(service).await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{service}: injected fault"),
        )
            .into_response();
    }
    next.run(request).await
}

/// A recurring outage: from `first_after` on, every `every`, for `lasting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    /// When the first one starts, after the demo starts.
    pub first_after: Duration,
    /// Time from the start of one to the start of the next.
    pub every: Duration,
    /// How long each lasts.
    pub lasting: Duration,
}

impl Outage {
    /// Whether an outage is on at `now`, for a demo started at `started`.
    pub(crate) fn active(&self, started: Instant, now: Instant) -> bool {
        let Some(since_first) = now
            .checked_duration_since(started)
            .and_then(|elapsed| elapsed.checked_sub(self.first_after))
        else {
            return false;
        };
        let every = self.every.as_nanos().max(1);
        Duration::from_nanos((since_first.as_nanos() % every) as u64) < self.lasting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_windows() {
        let outage = Outage {
            first_after: Duration::from_secs(10),
            every: Duration::from_secs(60),
            lasting: Duration::from_secs(5),
        };
        let t0 = Instant::now();
        let at = |s: u64| outage.active(t0, t0 + Duration::from_secs(s));
        assert!(!at(0) && !at(9));
        assert!(at(10) && at(14));
        assert!(!at(15) && !at(69));
        assert!(at(70) && !at(75));
    }

    #[tokio::test]
    async fn unknown_service_and_bad_rate_are_refused() {
        let faults = DemoFaults::new(["payments"]);
        let set = |service: &str, error_rate| proto::Fault {
            service: service.to_owned(),
            error_rate,
            added_latency_ms: 0,
        };
        let command = || Command::new("test", "why");
        assert!(matches!(
            faults.set_fault(set("nope", 0.5), command()).await,
            Err(BackendError::NotFound { .. })
        ));
        assert!(
            faults
                .set_fault(set("payments", 1.5), command())
                .await
                .is_err()
        );
        faults
            .set_fault(set("payments", 1.0), command())
            .await
            .unwrap();
        assert!(faults.strike("payments").await);
        assert_eq!(faults.faults().await.unwrap(), vec![set("payments", 1.0)]);
    }
}
