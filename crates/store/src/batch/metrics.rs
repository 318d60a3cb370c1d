//! Metric data points to rows.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, Metric, NumberDataPoint, exemplar, exponential_histogram_data_point::Buckets,
    metric::Data, number_data_point,
};
use serde_json::json;

use super::{Batch, check_id, non_empty, time};
use crate::attributes::StoredJsonWriter;
use crate::error::InvalidRequest;
use crate::model::MetricType;

/// A metric stream's descriptor; the writer prefixes `key` with the resolved
/// resource and scope ids to identify it.
#[derive(Debug)]
pub(crate) struct MetricRow {
    pub(crate) key: String,
    pub(crate) resource: u32,
    pub(crate) scope: u32,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) unit: Option<String>,
    pub(crate) metric_type: MetricType,
    pub(crate) temporality: i32,
    pub(crate) monotonic: bool,
    pub(crate) metadata: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct PointRow {
    /// Index into the batch's metrics.
    pub(crate) metric: u32,
    pub(crate) time: i64,
    pub(crate) start_time: i64,
    pub(crate) attributes: Option<String>,
    pub(crate) flags: u32,
    pub(crate) int_value: Option<i64>,
    pub(crate) double_value: Option<f64>,
    pub(crate) count: Option<i64>,
    pub(crate) sum: Option<f64>,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) buckets: Option<String>,
    pub(crate) exemplars: Option<String>,
}

impl PointRow {
    fn approx_bytes(&self) -> usize {
        fn len(s: &Option<String>) -> usize {
            s.as_ref().map_or(0, String::len)
        }
        112 + len(&self.attributes) + len(&self.buckets) + len(&self.exemplars)
    }
}

/// Fields every OTLP data point kind has.
struct Common<'a> {
    attributes: &'a [KeyValue],
    start_time_unix_nano: u64,
    time_unix_nano: u64,
    flags: u32,
    exemplars: &'a [Exemplar],
}

impl Batch {
    /// Validates and encodes a metrics export request. Malformed exemplar ids
    /// refuse the whole request; data points without a value or with
    /// timestamps or counts SQLite cannot hold are refused one by one.
    pub fn from_metrics(request: ExportMetricsServiceRequest) -> Result<Batch, InvalidRequest> {
        let mut batch = Batch::default();
        let mut json = StoredJsonWriter::new();
        for (ri, resource_metrics) in request.resource_metrics.into_iter().enumerate() {
            let resource = batch.push_resource(
                &mut json,
                resource_metrics.resource,
                resource_metrics.schema_url,
            );
            for (si, scope_metrics) in resource_metrics.scope_metrics.into_iter().enumerate() {
                let scope =
                    batch.push_scope(&mut json, scope_metrics.scope, scope_metrics.schema_url);
                for (mi, metric) in scope_metrics.metrics.into_iter().enumerate() {
                    let at = format!(
                        "resource_metrics[{ri}].scope_metrics[{si}].metrics[{mi}] ({})",
                        metric.name
                    );
                    batch.push_metric(&mut json, metric, resource, scope, &at)?;
                }
            }
        }
        Ok(batch)
    }

    fn push_metric(
        &mut self,
        json: &mut StoredJsonWriter,
        metric: Metric,
        resource: u32,
        scope: u32,
        at: &str,
    ) -> Result<(), InvalidRequest> {
        let Some(data) = metric.data else {
            self.rejected.add(at, "metric has no data");
            return Ok(());
        };
        let (metric_type, temporality, monotonic) = match &data {
            Data::Gauge(_) => (MetricType::Gauge, 0, false),
            Data::Sum(s) => (MetricType::Sum, s.aggregation_temporality, s.is_monotonic),
            Data::Histogram(h) => (MetricType::Histogram, h.aggregation_temporality, false),
            Data::ExponentialHistogram(h) => (
                MetricType::ExponentialHistogram,
                h.aggregation_temporality,
                false,
            ),
            Data::Summary(_) => (MetricType::Summary, 0, false),
        };
        let metadata = json.attributes(&metric.metadata);
        let key = super::identity_key(&[
            &metric.name,
            &metric.description,
            &metric.unit,
            &(metric_type as i32).to_string(),
            &temporality.to_string(),
            if monotonic { "1" } else { "0" },
            metadata.as_deref().unwrap_or(""),
        ]);
        let index = self.metrics.len() as u32;
        self.approx_bytes += 64 + key.len() * 2;
        self.metrics.push(MetricRow {
            key,
            resource,
            scope,
            name: metric.name,
            description: non_empty(metric.description),
            unit: non_empty(metric.unit),
            metric_type,
            temporality,
            monotonic,
            metadata,
        });

        // Every kind's points as (shared fields, values); `None` values are
        // number points without a value, refused one by one.
        macro_rules! common {
            ($p:expr, $exemplars:expr) => {
                Common {
                    attributes: &$p.attributes,
                    start_time_unix_nano: $p.start_time_unix_nano,
                    time_unix_nano: $p.time_unix_nano,
                    flags: $p.flags,
                    exemplars: $exemplars,
                }
            };
        }
        let number = |p: &NumberDataPoint| {
            let values = match p.value? {
                number_data_point::Value::AsInt(v) => Values {
                    int: Some(v),
                    ..Values::default()
                },
                number_data_point::Value::AsDouble(v) => Values {
                    double: Some(v),
                    ..Values::default()
                },
            };
            Some(values)
        };
        let side = |b: &Option<Buckets>| {
            b.as_ref()
                .map(|b| json!({ "offset": b.offset, "counts": b.bucket_counts }))
        };
        let points: Vec<(Common<'_>, Option<Values>)> = match &data {
            Data::Gauge(g) => g
                .data_points
                .iter()
                .map(|p| (common!(p, &p.exemplars), number(p)))
                .collect(),
            Data::Sum(s) => s
                .data_points
                .iter()
                .map(|p| (common!(p, &p.exemplars), number(p)))
                .collect(),
            Data::Histogram(h) => h
                .data_points
                .iter()
                .map(|p| {
                    let values = Values {
                        count: Some(p.count),
                        sum: p.sum,
                        min: p.min,
                        max: p.max,
                        buckets: Some(
                            json!({ "bounds": p.explicit_bounds, "counts": p.bucket_counts }),
                        ),
                        ..Values::default()
                    };
                    (common!(p, &p.exemplars), Some(values))
                })
                .collect(),
            Data::ExponentialHistogram(h) => h
                .data_points
                .iter()
                .map(|p| {
                    let values = Values {
                        count: Some(p.count),
                        sum: p.sum,
                        min: p.min,
                        max: p.max,
                        buckets: Some(json!({
                            "scale": p.scale,
                            "zero_count": p.zero_count,
                            "zero_threshold": p.zero_threshold,
                            "positive": side(&p.positive),
                            "negative": side(&p.negative),
                        })),
                        ..Values::default()
                    };
                    (common!(p, &p.exemplars), Some(values))
                })
                .collect(),
            Data::Summary(s) => s
                .data_points
                .iter()
                .map(|p| {
                    let quantiles: Vec<[f64; 2]> = p
                        .quantile_values
                        .iter()
                        .map(|q| [q.quantile, q.value])
                        .collect();
                    let values = Values {
                        count: Some(p.count),
                        sum: Some(p.sum),
                        buckets: Some(json!({ "quantiles": quantiles })),
                        ..Values::default()
                    };
                    (common!(p, &[]), Some(values))
                })
                .collect(),
        };
        for (i, (common, values)) in points.into_iter().enumerate() {
            let at_point = || format!("{at}.data_points[{i}]");
            match values {
                Some(values) => self.push_point(json, index, common, values, at_point)?,
                None => {
                    self.rejected.data_points += 1;
                    self.rejected.add(&at_point(), "data point has no value");
                }
            }
        }
        Ok(())
    }

    fn push_point(
        &mut self,
        json: &mut StoredJsonWriter,
        metric: u32,
        common: Common<'_>,
        values: Values,
        at: impl Fn() -> String,
    ) -> Result<(), InvalidRequest> {
        let exemplars = exemplars_json(json, common.exemplars, &at)?;
        let times = (
            time(common.time_unix_nano),
            time(common.start_time_unix_nano),
        );
        let count = values.count.map(i64::try_from).transpose();
        let (time, start_time, count) = match (times, count) {
            ((Ok(t), Ok(s)), Ok(c)) => (t, s, c),
            ((Err(why), _), _) | ((_, Err(why)), _) => {
                self.rejected.data_points += 1;
                self.rejected.add(&at(), why);
                return Ok(());
            }
            (_, Err(_)) => {
                self.rejected.data_points += 1;
                self.rejected.add(&at(), "count beyond 2^63");
                return Ok(());
            }
        };
        let row = PointRow {
            metric,
            time,
            start_time,
            attributes: json.attributes(common.attributes),
            flags: common.flags,
            int_value: values.int,
            double_value: values.double,
            count,
            sum: values.sum,
            min: values.min,
            max: values.max,
            buckets: values.buckets.map(|b| b.to_string()),
            exemplars,
        };
        self.approx_bytes += row.approx_bytes();
        self.points.push(row);
        Ok(())
    }
}

#[derive(Default)]
struct Values {
    int: Option<i64>,
    double: Option<f64>,
    count: Option<u64>,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    buckets: Option<serde_json::Value>,
}

/// Stored form of exemplars: `[{"t":ns,"i"|"d":value,"tr":hex,"sp":hex,"a":{..}}]`.
fn exemplars_json(
    json: &mut StoredJsonWriter,
    exemplars: &[Exemplar],
    at: &impl Fn() -> String,
) -> Result<Option<String>, InvalidRequest> {
    if exemplars.is_empty() {
        return Ok(None);
    }
    let mut items = Vec::with_capacity(exemplars.len());
    for (i, e) in exemplars.iter().enumerate() {
        let at_e = || format!("{}.exemplars[{i}]", at());
        let has_trace = check_id(&e.trace_id, 16, false, "trace_id", at_e)?;
        let has_span = check_id(&e.span_id, 8, false, "span_id", at_e)?;
        let mut item = serde_json::Map::new();
        item.insert("t".into(), json!(e.time_unix_nano));
        match e.value {
            Some(exemplar::Value::AsInt(v)) => item.insert("i".into(), json!(v)),
            Some(exemplar::Value::AsDouble(v)) => item.insert("d".into(), json!(v)),
            None => None,
        };
        if has_trace {
            item.insert("tr".into(), json!(const_hex::encode(&e.trace_id)));
        }
        if has_span {
            item.insert("sp".into(), json!(const_hex::encode(&e.span_id)));
        }
        if let Some(attrs) = json.attributes(&e.filtered_attributes) {
            let value: serde_json::Value =
                serde_json::from_str(&attrs).expect("the JSON writer emits valid JSON");
            item.insert("a".into(), value);
        }
        items.push(serde_json::Value::Object(item));
    }
    Ok(Some(serde_json::Value::Array(items).to_string()))
}
