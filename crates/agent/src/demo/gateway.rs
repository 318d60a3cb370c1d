//! The gateway in front of every demo service: one route per service, per-instance
//! breakers in the agent's registry (`upstream.{cluster}.{ip:port}`), and the
//! strangler-fig split of `/catalog` between the monolith (adapted from XML) and the
//! new catalogue.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use switchyard_gateway::{Config, Gateway, RunningGateway};
use switchyard_resilience::breaker::Registry;

use super::catalog::ADAPTER_FIELDS;

/// The catalogue route's name.
pub const CATALOG_ROUTE: &str = "catalog";
/// Percent of users sent to the new catalogue at start.
pub(crate) const NEW_CATALOG_WEIGHT: u8 = 20;

/// The gateway's configuration for services at `addresses` (cluster name → address).
pub(crate) fn config_toml(addresses: &BTreeMap<&'static str, SocketAddr>) -> String {
    let mut toml = String::from("listeners = []\n");
    for (name, addr) in addresses {
        // Payments trips quickly and probes again soon, so an outage shows as an open
        // breaker within seconds and recovery within a few more.
        let breaker = if *name == "payments" {
            r#"{ window = 20, failure_rate = 50.0, minimum_calls = 10, open_for = "5s" }"#
        } else {
            r#"{ window = 20, failure_rate = 50.0, minimum_calls = 10, open_for = "10s" }"#
        };
        let _ = writeln!(
            toml,
            "\n[[cluster]]\nname = \"{name}\"\ninstances = [\"{addr}\"]\nbreaker = {breaker}"
        );
    }
    for name in ["orders", "inventory", "payments", "shipping"] {
        let _ = writeln!(
            toml,
            "\n[[route]]\nname = \"{name}\"\npath_prefix = \"/{name}\"\ncluster = \"{name}\"\ntimeout = \"10s\""
        );
    }
    let fields: Vec<String> = ADAPTER_FIELDS
        .iter()
        .map(|(json, xml)| format!("{json} = \"{xml}\""))
        .collect();
    let _ = write!(
        toml,
        r#"
[[route]]
name = "{CATALOG_ROUTE}"
path_prefix = "/catalog"
methods = ["GET"]
timeout = "5s"
retry = {{ attempts = 2 }}
adapter = {{ format = "xml", root = "Product", fields = {{ {fields} }} }}

[route.split]
legacy = "catalog-monolith"
new = "catalog"
weight = {NEW_CATALOG_WEIGHT}
shadow = 10
sticky_header = "x-user-id"
"#,
        fields = fields.join(", ")
    );
    toml
}

/// Builds the gateway with its breakers in `registry` and serves it on `listen`.
pub(crate) async fn start(
    addresses: &BTreeMap<&'static str, SocketAddr>,
    registry: Registry,
    listen: &str,
) -> anyhow::Result<RunningGateway> {
    let config = Config::from_toml(&config_toml(addresses))?;
    let gateway = Gateway::with_registry(config, registry)?;
    Ok(gateway.serve_on(&[listen.to_owned()]).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_is_valid() {
        let addresses: BTreeMap<_, _> = super::super::SERVICES
            .iter()
            .zip(9000u16..)
            .map(|(name, port)| (*name, SocketAddr::from(([127, 0, 0, 1], port))))
            .collect();
        let config = Config::from_toml(&config_toml(&addresses)).unwrap();
        assert_eq!(config.routes.len(), 5);
    }
}
