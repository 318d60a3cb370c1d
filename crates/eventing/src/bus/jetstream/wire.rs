//! How the bus maps onto NATS: consumer and stream names, headers, stored messages.

use std::collections::BTreeMap;

use async_nats::header::{HeaderMap, HeaderName, HeaderValue, NATS_MESSAGE_ID};
use bytes::Bytes;

use crate::bus::{BusError, MESSAGE_ID_HEADER, Message};

/// The durable consumer's name: readable, and unique per (topic, group) thanks to a hash
/// (sanitizing alone would map `a.b` and `a_b` together).
pub(super) fn consumer_name(topic: &str, group: &str) -> String {
    let short = |s: &str| sanitize(s).chars().take(40).collect::<String>();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a: stable across releases
    for byte in topic.bytes().chain([0]).chain(group.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{}__{}__{hash:016x}", short(topic), short(group))
}

/// Keeps `[A-Za-z0-9_-]`, replaces the rest with `_` (consumer and stream names).
pub(super) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(super) fn header_value(value: &str) -> Result<HeaderValue, BusError> {
    value.parse().map_err(|_| BusError::Invalid {
        what: "header",
        reason: format!("value {value:?} contains a line break"),
    })
}

pub(super) fn to_nats_headers(headers: &BTreeMap<String, String>) -> Result<HeaderMap, BusError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name: HeaderName = name.parse().map_err(|_| BusError::Invalid {
            what: "header",
            reason: format!("name {name:?} must be printable ASCII without ':'"),
        })?;
        map.insert(name, header_value(value)?);
    }
    Ok(map)
}

/// Application headers of a stored message: without the transport's own (`Nats-*`,
/// the message id) and without those listed in `internal`.
pub(super) fn from_nats_headers(
    headers: Option<&HeaderMap>,
    internal: &[&str],
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (name, values) in headers.into_iter().flat_map(HeaderMap::iter) {
        let name: &str = name.as_ref();
        let transport = name.len() >= 5 && name[..5].eq_ignore_ascii_case("nats-");
        if transport
            || name.eq_ignore_ascii_case(MESSAGE_ID_HEADER)
            || internal.iter().any(|h| name.eq_ignore_ascii_case(h))
        {
            continue;
        }
        if let Some(value) = values.last() {
            map.insert(name.to_owned(), value.as_str().to_owned());
        }
    }
    map
}

/// The message a stored NATS message carries.
pub(super) fn decode_message(
    topic: &str,
    headers: Option<&HeaderMap>,
    payload: Bytes,
    internal: &[&str],
) -> Message {
    let id = headers
        .and_then(|h| h.get(MESSAGE_ID_HEADER).or_else(|| h.get(NATS_MESSAGE_ID)))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default();
    Message {
        id,
        topic: topic.to_owned(),
        payload,
        headers: from_nats_headers(headers, internal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_names_are_valid_and_distinct() {
        let a = consumer_name("orders.created", "billing");
        let b = consumer_name("orders_created", "billing");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert!(consumer_name(&"t".repeat(300), &"g".repeat(300)).len() < 110);
    }

    #[test]
    fn transport_headers_are_not_application_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, "id-1");
        headers.insert(MESSAGE_ID_HEADER, "id-1");
        headers.insert("traceparent", "00-abc");
        let message = decode_message("t", Some(&headers), Bytes::new(), &[]);
        assert_eq!(message.id, "id-1");
        assert_eq!(
            message.headers.keys().collect::<Vec<_>>(),
            vec!["traceparent"]
        );
    }
}
