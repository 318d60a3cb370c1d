//! One outgoing call through the sidecar: find its destination, send it with the
//! destination's policies, and record a client span.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, HeaderValue, VIA};
use http::uri::PathAndQuery;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use serde_json::json;
use switchyard_conventions::breaker as breaker_conv;

use super::direct::{self, DirectError};
use super::{Destination, Sidecar, Target, direct_breaker};
use crate::config::sidecar::split_host_port;
use crate::forward::{self, ForwardError, Outgoing};
use crate::gateway::Shared;
use crate::headers;
use crate::pool::Pool;
use crate::proxy::{Body, MAX_BODY, error};
use crate::trace;

/// What the sidecar adds to `Via`, and looks for to find loops.
const VIA_VALUE: &str = "1.1 switchyard-sidecar";
const VIA_NAME: &str = "switchyard-sidecar";
/// Attribute: the service that owns the sidecar (whose call this is).
const SERVICE: &str = "sidecar.service";
/// Attribute: the destination's cluster, or `pass_through`.
const DESTINATION: &str = "sidecar.destination";

pub(crate) async fn handle(
    shared: Arc<Shared>,
    pool: Pool,
    request: http::Request<Incoming>,
    _peer: SocketAddr,
) -> Response<Body> {
    let runtime = shared.runtime.load_full();
    let Some(sidecar) = runtime.sidecar.as_ref() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "sidecar mode is not configured",
            json!({}),
        );
    };
    let (parts, body) = request.into_parts();
    // A call that already went through a sidecar and came back (a destination that is
    // the sidecar itself, or two sidecars proxying to each other) would loop forever.
    if parts
        .headers
        .get_all(VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(VIA_NAME))
    {
        return error(
            StatusCode::LOOP_DETECTED,
            "the call came back to a sidecar it already went through",
            json!({}),
        );
    }
    if parts.method == Method::CONNECT {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            "CONNECT (HTTPS through the proxy) is not supported: call http:// URLs",
            json!({}),
        );
    }
    if parts.uri.scheme_str().is_some_and(|s| s != "http") {
        return error(
            StatusCode::BAD_REQUEST,
            "only http:// destinations are supported",
            json!({"uri": parts.uri.to_string()}),
        );
    }
    // Absolute-form (a client using the sidecar as its proxy) names the destination in
    // the URI; otherwise the Host header does.
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
    let Some((host, port)) = authority.as_deref().and_then(destination_of) else {
        return error(
            StatusCode::BAD_REQUEST,
            "no destination: send an absolute http:// URI or a Host header",
            json!({}),
        );
    };
    let Some((destination, listed)) = sidecar.find(&host, port) else {
        return error(
            StatusCode::FORBIDDEN,
            "destination not allowed by the sidecar",
            json!({"destination": format!("{host}:{port}")}),
        );
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));

    let tracer = &shared.telemetry.tracer;
    let parent = trace::extract(&parts.headers);
    let target_name = match &destination.target {
        Target::Cluster { cluster, .. } => cluster.name.to_string(),
        Target::Direct { .. } => "pass_through".to_owned(),
    };
    let span = tracer
        .span_builder(format!("{} {host}", parts.method))
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new(SERVICE, sidecar.service.to_string()),
            KeyValue::new(DESTINATION, target_name),
            KeyValue::new("http.request.method", parts.method.to_string()),
            KeyValue::new("server.address", host.clone()),
            KeyValue::new("server.port", i64::from(port)),
            KeyValue::new("url.full", format!("http://{host}:{port}{path_and_query}")),
            KeyValue::new("sidecar.listed", listed),
        ])
        .start_with_context(tracer, &parent);
    let cx = parent.with_span(span);

    let body = if hyper::body::Body::is_end_stream(&body) {
        Bytes::new()
    } else {
        match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return finish(
                    &cx,
                    error(
                        StatusCode::BAD_REQUEST,
                        "cannot read the request body",
                        json!({}),
                    ),
                );
            }
        }
    };
    let mut outgoing_headers = parts.headers;
    headers::strip_hop_by_hop(&mut outgoing_headers);
    // Sent by clients that talk to a proxy; it means nothing past it.
    outgoing_headers.remove("proxy-connection");
    outgoing_headers.remove(CONTENT_LENGTH);
    // Every proxy adds itself to Via (RFC 9110 §7.6.3); it also shows loops.
    outgoing_headers.append(VIA, HeaderValue::from_static(VIA_VALUE));
    trace::inject(&cx, &mut outgoing_headers);
    let out = Outgoing {
        method: parts.method,
        path_and_query,
        headers: outgoing_headers,
        body,
    };
    let response = match tokio::time::timeout(
        destination.timeout,
        send(&shared, &pool, sidecar, destination, &host, port, &out, &cx),
    )
    .await
    {
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "the destination did not answer in time",
            json!({"timeout_ms": destination.timeout.as_millis() as u64}),
        ),
        Ok(response) => response,
    };
    finish(&cx, response)
}

/// Sends to the destination's target and turns failures into the sidecar's answers.
#[allow(clippy::too_many_arguments)] // one call site, each argument named there
async fn send(
    shared: &Shared,
    pool: &Pool,
    sidecar: &Sidecar,
    destination: &Destination,
    host: &str,
    port: u16,
    out: &Outgoing,
    cx: &opentelemetry::Context,
) -> Response<Body> {
    let span = cx.span();
    match &destination.target {
        Target::Cluster { cluster, retry } => {
            match forward::send(pool, cluster, retry.as_ref(), out).await {
                Ok(answer) => {
                    span.set_attribute(KeyValue::new(
                        "network.peer.address",
                        answer.addr.ip().to_string(),
                    ));
                    span.set_attribute(KeyValue::new(
                        "network.peer.port",
                        i64::from(answer.addr.port()),
                    ));
                    streamed(answer.response)
                }
                Err(ForwardError::NoInstance(name)) => error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no instance of the destination's cluster is available (breakers open or unhealthy)",
                    json!({"cluster": &*name}),
                ),
                Err(e) => error(StatusCode::BAD_GATEWAY, &e.to_string(), json!({})),
            }
        }
        Target::Direct { breaker, retry } => {
            let Some(breaker) = direct_breaker(&shared.registry, host, port, breaker) else {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot create the destination's breaker",
                    json!({}),
                );
            };
            span.set_attribute(KeyValue::new(breaker_conv::NAME, breaker.name().to_owned()));
            let authority = format!("{host}:{port}");
            match direct::send(sidecar.client(), &breaker, retry.as_ref(), &authority, out).await {
                Ok(response) => streamed(response),
                Err(e @ DirectError::Open(_)) => error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &e.to_string(),
                    json!({"breaker": breaker.name()}),
                ),
                Err(e) => error(StatusCode::BAD_GATEWAY, &e.to_string(), json!({})),
            }
        }
    }
}

fn streamed<B>(response: Response<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes, Error = hyper::Error> + Send + Sync + 'static,
{
    let (mut head, incoming) = response.into_parts();
    headers::strip_hop_by_hop(&mut head.headers);
    Response::from_parts(head, incoming.boxed())
}

/// Ends the span with the answer's status.
fn finish(cx: &opentelemetry::Context, response: Response<Body>) -> Response<Body> {
    let span = cx.span();
    let status = response.status();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    if status.is_server_error() {
        span.set_status(Status::error(status.to_string()));
    }
    span.end();
    response
}

/// `host[:port]` of a request, lowercased, port 80 when absent. (IPv6 literals are
/// not routed.)
fn destination_of(authority: &str) -> Option<(String, u16)> {
    let (host, port) = split_host_port(authority);
    if host.is_empty() || host.contains(':') || host.contains('[') {
        return None;
    }
    Some((host, port.unwrap_or(80)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_default_to_port_80() {
        assert_eq!(
            destination_of("Payments.Internal"),
            Some(("payments.internal".to_owned(), 80))
        );
        assert_eq!(
            destination_of("127.0.0.1:9000"),
            Some(("127.0.0.1".to_owned(), 9000))
        );
        assert_eq!(destination_of(""), None);
    }
}
