//! Metric series, downsampled.

use std::collections::HashMap;

use super::MetricQuery;
use super::filter::{Arg, BindArgs as _, Conditions};
use crate::Reader;
use crate::attributes::Attributes;
use crate::error::{Result, StoreError};
use crate::model::{MetricSeries, MetricType, SeriesPoint};

/// One stored point, as the downsampler needs it.
#[derive(Debug, sqlx::FromRow)]
struct PointRecord {
    metric_type: i64,
    temporality: i64,
    monotonic: bool,
    unit: Option<String>,
    description: Option<String>,
    service_name: String,
    attributes: Option<String>,
    time: i64,
    int_value: Option<i64>,
    double_value: Option<f64>,
    count: Option<i64>,
    sum: Option<f64>,
}

impl Reader {
    /// The series of metric `query.name` between the query's times, one per
    /// service and set of point attributes, each in `query.buckets` equal
    /// time buckets (empty buckets left out).
    pub async fn metric_series(&self, query: &MetricQuery) -> Result<Vec<MetricSeries>> {
        if query.until_unix_nano <= query.since_unix_nano {
            return Err(StoreError::InvalidQuery(
                "the time range is empty: its end is not after its start".into(),
            ));
        }
        let buckets = query.buckets.clamp(1, 100_000);
        let mut c = Conditions::default();
        c.push("m.name = ?", [Arg::Text(query.name.clone())]);
        c.push(
            "p.time >= ? AND p.time < ?",
            [
                Arg::Int(query.since_unix_nano),
                Arg::Int(query.until_unix_nano),
            ],
        );
        if let Some(service) = &query.service {
            c.push("r.service_name = ?", [Arg::Text(service.clone())]);
        }
        for filter in &query.attributes {
            c.push_attribute("p.attributes", None, filter);
        }
        let sql = format!(
            "SELECT m.type AS metric_type, m.temporality, m.monotonic, m.unit, m.description,
                    r.service_name, p.attributes, p.time, p.int_value, p.double_value,
                    p.count, p.sum
             FROM metric_points p
             JOIN metrics m ON m.id = p.metric_id
             JOIN resources r ON r.id = m.resource_id
             WHERE {}
             ORDER BY p.time",
            c.sql()
        );
        let points: Vec<PointRecord> = sqlx::query_as(&sql)
            .bind_args(&c.args)
            .fetch_all(self.pool())
            .await?;

        let width = (query.until_unix_nano - query.since_unix_nano) as i128;
        let mut series: Vec<MetricSeries> = Vec::new();
        let mut index: HashMap<(String, Option<String>, i64), usize> = HashMap::new();
        for p in points {
            let key = (p.service_name.clone(), p.attributes.clone(), p.metric_type);
            let at = match index.get(&key) {
                Some(&at) => at,
                None => {
                    series.push(MetricSeries {
                        name: query.name.clone(),
                        service: p.service_name.clone(),
                        metric_type: MetricType::from_stored(p.metric_type)
                            .unwrap_or(MetricType::Gauge),
                        unit: p.unit.clone().unwrap_or_default(),
                        description: p.description.clone().unwrap_or_default(),
                        temporality: match p.temporality {
                            1 => "delta",
                            2 => "cumulative",
                            _ => "",
                        },
                        monotonic: p.monotonic,
                        attributes: Attributes::from_stored(p.attributes.as_deref())?,
                        points: Vec::new(),
                    });
                    index.insert(key, series.len() - 1);
                    series.len() - 1
                }
            };
            let bucket =
                ((p.time - query.since_unix_nano) as i128 * buckets as i128 / width) as i64;
            let bucket_start =
                query.since_unix_nano + (bucket as i128 * width / buckets as i128) as i64;
            let value = p
                .double_value
                .or(p.int_value.map(|v| v as f64))
                .or(p.sum)
                .unwrap_or(0.0);
            let points = &mut series[at].points;
            match points.last_mut() {
                Some(last) if last.time_unix_nano == bucket_start => {
                    last.samples += 1;
                    last.min = last.min.min(value);
                    last.max = last.max.max(value);
                    last.sum += value;
                    last.mean = last.sum / last.samples as f64;
                    last.last = value;
                    if let Some(count) = p.count {
                        // Cumulative counts already include the earlier points.
                        if p.temporality == 2 {
                            last.count = Some(count);
                        } else {
                            *last.count.get_or_insert(0) += count;
                        }
                    }
                }
                _ => points.push(SeriesPoint {
                    time_unix_nano: bucket_start,
                    samples: 1,
                    min: value,
                    max: value,
                    mean: value,
                    last: value,
                    sum: value,
                    count: p.count,
                }),
            }
        }
        Ok(series)
    }
}
