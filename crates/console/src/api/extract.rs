//! Request extractors whose rejections are [`ApiError`]s, so a bad parameter or body
//! gets the same `{error, kind}` answer as everything else.
//!
//! [`Params`] keeps the query string as pairs: repeated keys (`attr=a=1&attr=b=2`) are
//! how the CLI's repeatable flags look on a URL, and serde's urlencoded structs cannot
//! hold them.

use std::str::FromStr;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::clock::now_unix_ms;

/// A JSON body.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(value)| Body(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// The query string's parameters, in order.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|Query(pairs)| Params(pairs))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

impl Params {
    /// The last value of `key` (empty counts as absent: `?cluster=` from an empty
    /// form field means "any").
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }

    /// `key`, which must be present.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .ok_or_else(|| ApiError::bad_request(format!("the {key:?} parameter is required")))
    }

    /// `key` parsed as `T`.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.get(key)
            .map(|v| {
                v.parse().map_err(|e| {
                    ApiError::bad_request(format!("parameter {key}={v:?} is invalid: {e}"))
                })
            })
            .transpose()
    }

    /// Every value of `key` parsed as `T`.
    pub fn parse_all<T>(&self, key: &str) -> Result<Vec<T>, ApiError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.all(key)
            .map(|v| {
                v.parse().map_err(|e| {
                    ApiError::bad_request(format!("parameter {key}={v:?} is invalid: {e}"))
                })
            })
            .collect()
    }

    /// `true`/`1`/`yes` or a bare key (`?errors`) is true.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        let Some((_, value)) = self.0.iter().rev().find(|(k, _)| k == key) else {
            return Ok(false);
        };
        match value.as_str() {
            "" | "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            other => Err(ApiError::bad_request(format!(
                "parameter {key}={other:?} is not true or false"
            ))),
        }
    }

    /// A duration like the CLI's: `250ms`, `15m`, `2h`, `7days`.
    pub fn duration(&self, key: &str) -> Result<Option<Duration>, ApiError> {
        self.get(key)
            .map(|v| {
                crate::cli::parse_duration(v).map_err(|e| {
                    ApiError::bad_request(format!("parameter {key}={v:?} is invalid: {e}"))
                })
            })
            .transpose()
    }

    /// A point in time as Unix milliseconds: a plain integer is one already; anything
    /// else is a duration back from now (`since=15m`).
    pub fn time_unix_ms(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        if let Ok(ms) = value.parse::<i64>() {
            return Ok(Some(ms));
        }
        let ago = self.duration(key)?.unwrap_or_default();
        Ok(Some(now_unix_ms() - ago.as_millis() as i64))
    }

    /// Like [`Params::time_unix_ms`], in Unix nanoseconds (the telemetry's unit).
    pub fn time_unix_nano(&self, key: &str) -> Result<Option<i64>, ApiError> {
        Ok(self
            .time_unix_ms(key)?
            .map(|ms| ms.saturating_mul(1_000_000)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn repeated_keys_flags_and_times() {
        let p = params(&[
            ("attr", "a=1"),
            ("attr", "b=2"),
            ("errors", ""),
            ("since", "1700000000000"),
            ("until", "15m"),
            ("cluster", ""),
        ]);
        assert_eq!(p.all("attr").collect::<Vec<_>>(), ["a=1", "b=2"]);
        assert!(p.flag("errors").unwrap());
        assert!(!p.flag("missing").unwrap());
        assert_eq!(p.time_unix_ms("since").unwrap(), Some(1_700_000_000_000));
        let until = p.time_unix_ms("until").unwrap().unwrap();
        assert!(until < now_unix_ms() - 14 * 60_000);
        assert_eq!(p.get("cluster"), None, "empty means any");
        let bad = params(&[("limit", "many")])
            .parse::<u32>("limit")
            .unwrap_err();
        assert!(bad.message.contains("limit"), "{bad}");
    }
}
