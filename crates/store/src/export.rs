//! Stored spans back into OTLP, for export.
//!
//! What `import` reads, `export` writes back field for field: resources and
//! scopes with their attributes, dropped counts and schema URLs, spans with
//! every field, events and links.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use crate::Reader;
use crate::attributes::Attributes;
use crate::error::{Result, StoreError};
use crate::query::SpanRecord;
use crate::query::records::{events_from_stored, links_from_stored};

impl Reader {
    /// The trace as one OTLP export request, or `None` if no span of it is stored.
    pub async fn export_trace(&self, trace_id: &[u8]) -> Result<Option<ExportTraceServiceRequest>> {
        let records = self.trace_records(trace_id).await?;
        if records.is_empty() {
            return Ok(None);
        }
        let mut resource_spans: Vec<ResourceSpans> = Vec::new();
        let mut resource_at: HashMap<i64, usize> = HashMap::new();
        let mut scope_at: HashMap<(i64, i64), usize> = HashMap::new();
        for record in records {
            let r = match resource_at.get(&record.resource_id) {
                Some(&r) => r,
                None => {
                    let (resource, schema_url) = self.otlp_resource(record.resource_id).await?;
                    resource_spans.push(ResourceSpans {
                        resource: Some(resource),
                        scope_spans: Vec::new(),
                        schema_url,
                    });
                    resource_at.insert(record.resource_id, resource_spans.len() - 1);
                    resource_spans.len() - 1
                }
            };
            let scopes = &mut resource_spans[r].scope_spans;
            let s = match scope_at.get(&(record.resource_id, record.scope_id)) {
                Some(&s) => s,
                None => {
                    let (scope, schema_url) = self.otlp_scope(record.scope_id).await?;
                    scopes.push(ScopeSpans {
                        scope: Some(scope),
                        spans: Vec::new(),
                        schema_url,
                    });
                    scope_at.insert((record.resource_id, record.scope_id), scopes.len() - 1);
                    scopes.len() - 1
                }
            };
            scopes[s].spans.push(otlp_span(record)?);
        }
        Ok(Some(ExportTraceServiceRequest { resource_spans }))
    }

    async fn otlp_resource(&self, id: i64) -> Result<(Resource, String)> {
        let (attributes, dropped, schema_url): (Option<String>, i64, Option<String>) =
            sqlx::query_as(
                "SELECT attributes, dropped_attributes_count, schema_url FROM resources WHERE id = ?",
            )
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        let resource = Resource {
            attributes: Attributes::from_stored(attributes.as_deref())?.to_otlp(),
            dropped_attributes_count: dropped as u32,
            ..Default::default()
        };
        Ok((resource, schema_url.unwrap_or_default()))
    }

    async fn otlp_scope(&self, id: i64) -> Result<(InstrumentationScope, String)> {
        let (name, version, attributes, dropped, schema_url): (
            String,
            Option<String>,
            Option<String>,
            i64,
            Option<String>,
        ) = sqlx::query_as(
            "SELECT name, version, attributes, dropped_attributes_count, schema_url
             FROM scopes WHERE id = ?",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        let scope = InstrumentationScope {
            name,
            version: version.unwrap_or_default(),
            attributes: Attributes::from_stored(attributes.as_deref())?.to_otlp(),
            dropped_attributes_count: dropped as u32,
        };
        Ok((scope, schema_url.unwrap_or_default()))
    }
}

fn otlp_span(record: SpanRecord) -> Result<Span> {
    let events = events_from_stored(record.events.as_deref())?
        .into_iter()
        .map(|e| Event {
            time_unix_nano: e.time_unix_nano as u64,
            name: e.name,
            attributes: e.attributes.to_otlp(),
            dropped_attributes_count: e.dropped_attributes_count,
        })
        .collect();
    let links = links_from_stored(record.links.as_deref())?
        .into_iter()
        .map(|l| {
            let id = |hex: &str| {
                const_hex::decode(hex).map_err(|e| {
                    StoreError::InvalidQuery(format!("stored link id {hex:?} is not hex: {e}"))
                })
            };
            Ok(Link {
                trace_id: id(&l.trace_id)?,
                span_id: id(&l.span_id)?,
                trace_state: l.trace_state,
                attributes: l.attributes.to_otlp(),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Span {
        trace_id: record.trace_id,
        span_id: record.span_id,
        trace_state: record.trace_state.unwrap_or_default(),
        parent_span_id: record.parent_span_id.unwrap_or_default(),
        flags: record.flags as u32,
        name: record.name,
        kind: record.kind as i32,
        start_time_unix_nano: record.start_time as u64,
        end_time_unix_nano: record.end_time as u64,
        attributes: Attributes::from_stored(record.attributes.as_deref())?.to_otlp(),
        dropped_attributes_count: record.dropped_attributes_count as u32,
        events,
        dropped_events_count: record.dropped_events_count as u32,
        links,
        dropped_links_count: record.dropped_links_count as u32,
        status: Some(Status {
            message: record.status_message.unwrap_or_default(),
            code: record.status_code as i32,
        }),
    })
}
