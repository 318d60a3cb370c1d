//! The checkout saga: reserve the stock, charge the card, create the shipment, each an
//! HTTP call through the gateway; on a failure the completed steps are undone in reverse
//! (cancel the shipment, refund the card, release the stock). Declared in TOML like a
//! user's own sagas, with the gateway's real address, and run by an orchestrator on a
//! SQLite log.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use switchyard_saga::{Orchestrator, OrchestratorOptions, SagaLog, load_definitions};

/// The saga's name.
pub const CHECKOUT: &str = "checkout";

/// The definition, calling the participants through the gateway at `gateway`.
pub(crate) fn definition_toml(gateway: SocketAddr) -> String {
    // Retries cover a short outage; a long one (or an open breaker: the gateway answers
    // 502) fails the step and the saga compensates. Compensations get a bigger budget:
    // an undo is not abandoned lightly.
    format!(
        r#"
[[saga]]
name = "{CHECKOUT}"
deadline = "60s"
compensation = "reverse"

[[saga.step]]
name = "reserve-stock"
timeout = "5s"
retry = {{ attempts = 3, backoff = "100ms", max_backoff = "1s" }}
compensation_retry = {{ attempts = 10, backoff = "250ms", max_backoff = "5s" }}

[saga.step.action]
method = "POST"
url = "http://{gateway}/inventory/reservations"
body = {{ order_id = "{{{{ input.order_id }}}}", items = "{{{{ input.items }}}}" }}
success = {{ status = [201], json_pointer = "/status", equals = "reserved" }}

[saga.step.compensation]
method = "DELETE"
url = "http://{gateway}/inventory/reservations/{{{{ steps.reserve-stock.output.reservation_id }}}}"
success = {{ status = [200, 404] }}

[[saga.step]]
name = "charge-card"
timeout = "5s"
retry = {{ attempts = 4, backoff = "200ms", max_backoff = "2s" }}
compensation_retry = {{ attempts = 10, backoff = "250ms", max_backoff = "5s" }}

[saga.step.action]
method = "POST"
url = "http://{gateway}/payments/charges"
success = {{ status = [201], json_pointer = "/state", equals = "captured" }}

[saga.step.action.body]
order_id = "{{{{ input.order_id }}}}"
card = "{{{{ input.card }}}}"
amount_cents = "{{{{ input.amount_cents }}}}"
currency = "{{{{ input.currency }}}}"

[saga.step.compensation]
method = "POST"
url = "http://{gateway}/payments/charges/{{{{ steps.charge-card.output.charge_id }}}}/refund"

[[saga.step]]
name = "create-shipment"
timeout = "5s"
retry = {{ attempts = 3, backoff = "100ms", max_backoff = "1s" }}
compensation_retry = {{ attempts = 10, backoff = "250ms", max_backoff = "5s" }}

[saga.step.action]
method = "POST"
url = "http://{gateway}/shipping/shipments"
success = {{ status = [201] }}

[saga.step.action.body]
order_id = "{{{{ input.order_id }}}}"
address = "{{{{ input.address }}}}"
items = "{{{{ input.items }}}}"
charge = "{{{{ steps.charge-card.output.charge_id }}}}"

[saga.step.compensation]
method = "POST"
url = "http://{gateway}/shipping/shipments/{{{{ steps.create-shipment.output.shipment_id }}}}/cancel"
"#
    )
}

/// An orchestrator with the checkout saga, on the log at `log_path`; resumes whatever
/// an earlier run on the same data directory left unfinished.
pub(crate) async fn orchestrator(
    log_path: &Path,
    gateway: SocketAddr,
) -> anyhow::Result<Orchestrator> {
    let log = SagaLog::connect(&log_path.display().to_string())
        .await
        .with_context(|| format!("opening the saga log {}", log_path.display()))?;
    let orchestrator = Orchestrator::new(log, OrchestratorOptions::default());
    for definition in load_definitions(&definition_toml(gateway), "demo checkout.toml")? {
        orchestrator.register(definition)?;
    }
    let resumed = orchestrator.recover().await?;
    if resumed > 0 {
        tracing::info!(resumed, "resumed unfinished checkout sagas");
    }
    Ok(orchestrator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_loads() {
        let definitions =
            load_definitions(&definition_toml("127.0.0.1:8080".parse().unwrap()), "t").unwrap();
        assert_eq!(definitions.len(), 1);
        assert_eq!(definitions[0].name, CHECKOUT);
    }
}
