//! The query API over a store file.

mod breakers;
mod durations;
mod filter;
mod metrics;
pub(crate) mod records;
mod sagas;
mod services;
mod traces;

use std::str::FromStr;

use crate::error::StoreError;

pub use breakers::{BreakerKey, BreakerPointRecord, TransitionRecord};
pub(crate) use records::SpanRecord;
pub use sagas::{SagaInstanceRecord, SagaQuery, StepBucketCount};

/// What to search traces for. A trace matches when any of its spans matches
/// every filter given.
#[derive(Debug, Clone, Default)]
pub struct TraceQuery {
    /// The span's service (`service.name` of its resource).
    pub service: Option<String>,
    /// The span's name, exactly.
    pub span_name: Option<String>,
    /// Only spans with status ERROR.
    pub errors_only: bool,
    /// Spans that started at or after this time.
    pub since_unix_nano: Option<i64>,
    /// Spans that started at or before this time.
    pub until_unix_nano: Option<i64>,
    /// Spans that lasted at least this long.
    pub min_duration_ns: Option<i64>,
    /// Span (or resource) attributes, all of which must match.
    pub attributes: Vec<AttrFilter>,
    /// Traces per page.
    pub limit: u32,
    /// Where the previous page ended ([`crate::model::TracePage::next_cursor`]).
    pub cursor: Option<String>,
}

/// `key=value`: the attribute `key` whose value, printed plainly, is `value`
/// (`200` matches the integer 200 and the string "200"; `true` the boolean).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrFilter {
    pub key: String,
    pub value: String,
}

impl FromStr for AttrFilter {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok(AttrFilter {
                key: key.to_owned(),
                value: value.to_owned(),
            }),
            _ => Err(StoreError::InvalidQuery(format!(
                "attribute filter {s:?} is not KEY=VALUE"
            ))),
        }
    }
}

/// What metric series to read.
#[derive(Debug, Clone)]
pub struct MetricQuery {
    pub name: String,
    /// Point attributes that must match (see [`AttrFilter`]).
    pub attributes: Vec<AttrFilter>,
    pub service: Option<String>,
    pub since_unix_nano: i64,
    pub until_unix_nano: i64,
    /// Number of equal time buckets to downsample into.
    pub buckets: u32,
}

/// A trace id from its 32 hex digits.
pub fn parse_trace_id(hex: &str) -> Result<Vec<u8>, StoreError> {
    let bytes = const_hex::decode(hex.trim())
        .map_err(|e| StoreError::InvalidQuery(format!("trace id {hex:?} is not hex: {e}")))?;
    if bytes.len() != 16 {
        return Err(StoreError::InvalidQuery(format!(
            "trace id {hex:?} is {} bytes, must be 16",
            bytes.len()
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_filters_parse() {
        let f: AttrFilter = "http.route=/a=b".parse().unwrap();
        assert_eq!(f.key, "http.route");
        assert_eq!(f.value, "/a=b");
        assert!("novalue".parse::<AttrFilter>().is_err());
        assert!("=x".parse::<AttrFilter>().is_err());
    }

    #[test]
    fn trace_ids_parse() {
        assert_eq!(
            parse_trace_id("0102030405060708090a0b0c0d0e0f10").unwrap()[15],
            16
        );
        assert!(parse_trace_id("0102").is_err());
        assert!(parse_trace_id("zz").is_err());
    }
}
