//! Reading single attributes off OTLP key-value lists, without encoding them.

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};

fn find<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

/// A string attribute (empty strings count as absent).
pub(super) fn string<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match find(kvs, key)? {
        Value::StringValue(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// An integer attribute; also accepts an integer sent as a string or a
/// whole double, since not every SDK keeps the type.
pub(super) fn int(kvs: &[KeyValue], key: &str) -> Option<i64> {
    match find(kvs, key)? {
        Value::IntValue(i) => Some(*i),
        Value::StringValue(s) => s.parse().ok(),
        Value::DoubleValue(d) if d.fract() == 0.0 => Some(*d as i64),
        _ => None,
    }
}

pub(super) fn bool(kvs: &[KeyValue], key: &str) -> Option<bool> {
    match find(kvs, key)? {
        Value::BoolValue(b) => Some(*b),
        Value::StringValue(s) => s.parse().ok(),
        _ => None,
    }
}

/// Whether `key` is present at all (a cheap pre-check on every span).
pub(super) fn has(kvs: &[KeyValue], key: &str) -> bool {
    kvs.iter().any(|kv| kv.key == key)
}
