//! Attribute values: OTLP `AnyValue`s, their stored JSON form, and the plain
//! JSON that the query API prints.
//!
//! The stored form is a JSON object in the attributes' order. Strings, bools,
//! integers and finite doubles are plain JSON (a double always keeps its `.0`,
//! so `5` and `5.0` stay apart); everything plain JSON cannot tell apart is
//! wrapped in a one-key object: `{"bytes":"<base64>"}`, `{"kvlist":{..}}` and
//! `{"double":"NaN"}`. An empty value is `null`. SQLite's JSON functions read
//! the plain values directly, which is what attribute filters use.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};

/// One attribute value, as the query API returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An `AnyValue` with nothing set.
    Empty,
    String(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    KvList(Attributes),
}

/// An ordered list of attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attributes(pub Vec<(String, Value)>);

impl Attributes {
    /// The first value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads the stored JSON form; `None` and `""` mean no attributes.
    pub fn from_stored(json: Option<&str>) -> Result<Self, StoredJsonError> {
        match json {
            None | Some("") => Ok(Self::default()),
            Some(text) => {
                let value: serde_json::Value = serde_json::from_str(text)?;
                match value {
                    serde_json::Value::Object(map) => Self::from_stored_map(map),
                    _ => Err(StoredJsonError::Shape("attributes are not a JSON object")),
                }
            }
        }
    }

    fn from_stored_map(
        map: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, StoredJsonError> {
        map.into_iter()
            .map(|(k, v)| Ok((k, Value::from_stored(v)?)))
            .collect::<Result<Vec<_>, _>>()
            .map(Attributes)
    }

    /// The OTLP form.
    pub fn to_otlp(&self) -> Vec<KeyValue> {
        self.0
            .iter()
            .map(|(key, value)| KeyValue {
                key: key.clone(),
                value: Some(value.to_otlp()),
                ..Default::default()
            })
            .collect()
    }

    /// From the OTLP form.
    pub fn from_otlp(kvs: &[KeyValue]) -> Self {
        Attributes(
            kvs.iter()
                .map(|kv| (kv.key.clone(), Value::from_otlp(kv.value.as_ref())))
                .collect(),
        )
    }
}

/// A stored JSON column that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum StoredJsonError {
    #[error("stored JSON is malformed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("stored JSON has the wrong shape: {0}")]
    Shape(&'static str),
    #[error("stored bytes are not base64: {0}")]
    Base64(#[from] base64::DecodeError),
}

impl Value {
    /// From an OTLP `AnyValue` (absent or unset: [`Value::Empty`]).
    pub fn from_otlp(value: Option<&AnyValue>) -> Self {
        use any_value::Value as V;
        match value.and_then(|v| v.value.as_ref()) {
            None | Some(V::StringValueStrindex(_)) => Value::Empty,
            Some(V::StringValue(s)) => Value::String(s.clone()),
            Some(V::BoolValue(b)) => Value::Bool(*b),
            Some(V::IntValue(i)) => Value::Int(*i),
            Some(V::DoubleValue(d)) => Value::Double(*d),
            Some(V::BytesValue(b)) => Value::Bytes(b.clone()),
            Some(V::ArrayValue(a)) => {
                Value::Array(a.values.iter().map(|v| Value::from_otlp(Some(v))).collect())
            }
            Some(V::KvlistValue(kv)) => Value::KvList(Attributes::from_otlp(&kv.values)),
        }
    }

    /// The OTLP `AnyValue`.
    pub fn to_otlp(&self) -> AnyValue {
        use any_value::Value as V;
        let value = match self {
            Value::Empty => None,
            Value::String(s) => Some(V::StringValue(s.clone())),
            Value::Bool(b) => Some(V::BoolValue(*b)),
            Value::Int(i) => Some(V::IntValue(*i)),
            Value::Double(d) => Some(V::DoubleValue(*d)),
            Value::Bytes(b) => Some(V::BytesValue(b.clone())),
            Value::Array(values) => Some(V::ArrayValue(ArrayValue {
                values: values.iter().map(Value::to_otlp).collect(),
            })),
            Value::KvList(attrs) => Some(V::KvlistValue(KeyValueList {
                values: attrs.to_otlp(),
            })),
        };
        AnyValue { value }
    }

    /// Reads one value of the stored JSON form.
    pub fn from_stored(json: serde_json::Value) -> Result<Self, StoredJsonError> {
        use serde_json::Value as J;
        Ok(match json {
            J::Null => Value::Empty,
            J::Bool(b) => Value::Bool(b),
            J::String(s) => Value::String(s),
            // serde_json keeps `5.0` a float and `5` an integer.
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(Value::from_stored)
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(mut map) => {
                let wrapped = map.len() == 1;
                if let (true, Some(J::String(b64))) = (wrapped, map.get("bytes")) {
                    Value::Bytes(BASE64.decode(b64)?)
                } else if let (true, Some(J::String(special))) = (wrapped, map.get("double")) {
                    Value::Double(special.parse().unwrap_or(f64::NAN))
                } else if let (true, Some(J::Object(_))) = (wrapped, map.get("kvlist")) {
                    let Some(J::Object(inner)) = map.remove("kvlist") else {
                        unreachable!("checked just above")
                    };
                    Value::KvList(Attributes::from_stored_map(inner)?)
                } else {
                    return Err(StoredJsonError::Shape("unknown wrapped attribute value"));
                }
            }
        })
    }

    /// The value as plain text, the way `--attr key=value` filters compare it.
    pub fn to_plain_string(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }
}

/// Writes the stored JSON form straight from OTLP values, without building an
/// intermediate tree: this runs for every attribute of every span ingested.
#[derive(Debug, Default)]
pub struct StoredJsonWriter {
    buf: Vec<u8>,
}

impl StoredJsonWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored form of a key-value list, or `None` when it is empty.
    pub fn attributes(&mut self, kvs: &[KeyValue]) -> Option<String> {
        if kvs.is_empty() {
            return None;
        }
        self.buf.clear();
        self.write_kvs(kvs);
        Some(self.take())
    }

    /// The stored form of one value (a log body), or `None` when it is absent.
    pub fn value(&mut self, value: Option<&AnyValue>) -> Option<String> {
        let value = value?;
        self.buf.clear();
        self.write_value(Some(value));
        Some(self.take())
    }

    fn take(&mut self) -> String {
        // The writer only emits UTF-8: JSON punctuation and serde_json's escaping.
        String::from_utf8(std::mem::take(&mut self.buf)).expect("JSON writer emits UTF-8")
    }

    /// Appends the stored form of `kvs` to a buffer being built by the caller.
    pub(crate) fn write_kvs_into(&mut self, out: &mut Vec<u8>, kvs: &[KeyValue]) {
        std::mem::swap(&mut self.buf, out);
        self.write_kvs(kvs);
        std::mem::swap(&mut self.buf, out);
    }

    fn write_kvs(&mut self, kvs: &[KeyValue]) {
        self.buf.push(b'{');
        for (i, kv) in kvs.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.write_str(&kv.key);
            self.buf.push(b':');
            self.write_value(kv.value.as_ref());
        }
        self.buf.push(b'}');
    }

    fn write_str(&mut self, s: &str) {
        let mut ser = serde_json::Serializer::new(&mut self.buf);
        s.serialize(&mut ser).expect("writing to a Vec cannot fail");
    }

    fn write_value(&mut self, value: Option<&AnyValue>) {
        use any_value::Value as V;
        match value.and_then(|v| v.value.as_ref()) {
            None | Some(V::StringValueStrindex(_)) => self.buf.extend_from_slice(b"null"),
            Some(V::StringValue(s)) => self.write_str(s),
            Some(V::BoolValue(b)) => {
                self.buf
                    .extend_from_slice(if *b { b"true" } else { b"false" })
            }
            Some(V::IntValue(i)) => self.buf.extend_from_slice(i.to_string().as_bytes()),
            Some(V::DoubleValue(d)) => self.write_double(*d),
            Some(V::BytesValue(b)) => {
                self.buf.extend_from_slice(b"{\"bytes\":\"");
                self.buf.extend_from_slice(BASE64.encode(b).as_bytes());
                self.buf.extend_from_slice(b"\"}");
            }
            Some(V::ArrayValue(a)) => {
                self.buf.push(b'[');
                for (i, v) in a.values.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(b',');
                    }
                    self.write_value(Some(v));
                }
                self.buf.push(b']');
            }
            Some(V::KvlistValue(kv)) => {
                self.buf.extend_from_slice(b"{\"kvlist\":");
                self.write_kvs(&kv.values);
                self.buf.push(b'}');
            }
        }
    }

    fn write_double(&mut self, d: f64) {
        if d.is_finite() {
            let mut ser = serde_json::Serializer::new(&mut self.buf);
            d.serialize(&mut ser).expect("writing to a Vec cannot fail");
        } else {
            let special = if d.is_nan() {
                "NaN"
            } else if d > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            self.buf.extend_from_slice(b"{\"double\":\"");
            self.buf.extend_from_slice(special.as_bytes());
            self.buf.extend_from_slice(b"\"}");
        }
    }
}

/// Plain JSON for people and scripts: bytes as base64, key-value lists as
/// objects, non-finite doubles as strings.
impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Empty => s.serialize_none(),
            Value::String(v) => s.serialize_str(v),
            Value::Bool(v) => s.serialize_bool(*v),
            Value::Int(v) => s.serialize_i64(*v),
            Value::Double(v) if v.is_finite() => s.serialize_f64(*v),
            Value::Double(v) => s.serialize_str(&v.to_string()),
            Value::Bytes(v) => s.serialize_str(&BASE64.encode(v)),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::KvList(attrs) => attrs.serialize(s),
        }
    }
}

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// How a `key=value` filter matches a stored attribute with SQLite's `->`
/// operator, which yields the JSON text of the value: the quoted string, or
/// the bare literal for numbers and booleans.
pub(crate) fn filter_candidates(value: &str) -> (String, Option<String>) {
    let quoted = serde_json::to_string(value).expect("a str always serializes");
    let literal = match value {
        "true" | "false" => Some(value.to_owned()),
        v if v.parse::<i64>().is_ok() => Some(v.to_owned()),
        v if v.parse::<f64>().is_ok_and(f64::is_finite) => {
            // Stored doubles keep their `.0`; match the way serde_json writes them.
            serde_json::to_string(&v.parse::<f64>().expect("checked")).ok()
        }
        _ => None,
    };
    (quoted, literal)
}

/// A JSON path for SQLite that selects one top-level key, whatever it contains.
pub(crate) fn json_path(key: &str) -> String {
    format!(
        "$.{}",
        serde_json::to_string(key).expect("a str always serializes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn every_kind() -> Vec<KeyValue> {
        use any_value::Value as V;
        vec![
            kv("s", V::StringValue("he said \"hi\"\n".into())),
            kv("b", V::BoolValue(true)),
            kv("i", V::IntValue(i64::MIN)),
            kv("d", V::DoubleValue(5.0)),
            kv("nan", V::DoubleValue(f64::NAN)),
            kv("inf", V::DoubleValue(f64::NEG_INFINITY)),
            kv("bytes", V::BytesValue(vec![0, 159, 146, 150])),
            kv(
                "arr",
                V::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(V::IntValue(1)),
                        },
                        AnyValue {
                            value: Some(V::StringValue("x".into())),
                        },
                        AnyValue { value: None },
                    ],
                }),
            ),
            kv(
                "kv",
                V::KvlistValue(KeyValueList {
                    values: vec![
                        kv("inner", V::DoubleValue(0.25)),
                        kv("bytes", V::IntValue(3)),
                    ],
                }),
            ),
            KeyValue {
                key: "empty".into(),
                value: None,
                ..Default::default()
            },
        ]
    }

    #[test]
    fn every_any_value_kind_survives_the_stored_form() {
        let original = every_kind();
        let stored = StoredJsonWriter::new().attributes(&original).unwrap();
        let back = Attributes::from_stored(Some(&stored)).unwrap();
        let expected = Attributes::from_otlp(&original);
        assert_eq!(back.0.len(), expected.0.len());
        for ((k1, v1), (k2, v2)) in back.0.iter().zip(&expected.0) {
            assert_eq!(k1, k2);
            match (v1, v2) {
                (Value::Double(a), Value::Double(b)) if a.is_nan() => assert!(b.is_nan()),
                _ => assert_eq!(v1, v2, "{k1}"),
            }
        }
        // Integer-valued doubles stay doubles.
        assert_eq!(back.get("d"), Some(&Value::Double(5.0)));
        assert_eq!(back.get("i"), Some(&Value::Int(i64::MIN)));
    }

    #[test]
    fn plain_json_is_readable() {
        let attrs = Attributes::from_otlp(&every_kind());
        let json = serde_json::to_value(&attrs).unwrap();
        assert_eq!(json["b"], serde_json::json!(true));
        assert_eq!(json["bytes"], serde_json::json!("AJ+Slg=="));
        assert_eq!(json["kv"]["inner"], serde_json::json!(0.25));
        assert_eq!(json["nan"], serde_json::json!("NaN"));
        assert_eq!(json["empty"], serde_json::Value::Null);
    }

    #[test]
    fn filter_candidates_match_the_stored_literals() {
        assert_eq!(filter_candidates("GET"), ("\"GET\"".into(), None));
        assert_eq!(
            filter_candidates("200"),
            ("\"200\"".into(), Some("200".into()))
        );
        assert_eq!(filter_candidates("5"), ("\"5\"".into(), Some("5".into())));
        assert_eq!(filter_candidates("0.5").1, Some("0.5".into()));
        assert_eq!(filter_candidates("true").1, Some("true".into()));
        assert_eq!(json_path("http.route"), "$.\"http.route\"");
    }
}
