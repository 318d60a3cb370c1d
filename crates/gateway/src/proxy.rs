//! One proxied request, from match to answer: route, span, auth, rate limit, side of a
//! split, adapter, forward with timeout and retries, shadow, counters.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue, StringValue};
use serde_json::{Value, json};
use switchyard_conventions::route as conv;

use crate::adapter;
use crate::auth::Denied;
use crate::cluster::Cluster;
use crate::config::AdapterFormat;
use crate::forward::{self, ForwardError, Outgoing};
use crate::gateway::Shared;
use crate::headers;
use crate::pool::{Pool, UpstreamBody};
use crate::route::{Route, Target, request_host};
use crate::split::{self, Side};
use crate::trace;

/// The body of the gateway's answers.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// Request bodies are read whole (for retries, shadows and adapters) up to this size.
pub(crate) const MAX_BODY: usize = 16 << 20;

/// What the span records about where the request went.
#[derive(Debug, Default)]
struct Trail {
    /// The side of a split (`legacy`/`new`) or the cluster's name.
    target: Option<TrailTarget>,
    upstream: Option<SocketAddr>,
    weight: Option<u8>,
}

/// Where a request went, without copying the cluster's name per request.
#[derive(Debug, Clone)]
enum TrailTarget {
    Side(&'static str),
    Cluster(Arc<str>),
}

impl From<TrailTarget> for StringValue {
    fn from(target: TrailTarget) -> Self {
        match target {
            TrailTarget::Side(side) => StringValue::from(side),
            TrailTarget::Cluster(name) => StringValue::from(name),
        }
    }
}

/// Serves one request; `client` is the calling worker's upstream pool.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    pool: Pool,
    request: http::Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let runtime = shared.runtime.load_full();
    let (parts, body) = request.into_parts();
    let mut misses = Vec::new();
    let route = runtime
        .routes
        .iter()
        .find(|route| match route.matcher.mismatch(&parts) {
            None => true,
            Some(why) => {
                misses.push(json!({"route": &*route.name, "mismatch": why}));
                false
            }
        });
    let Some(route) = route else {
        return error(
            StatusCode::NOT_FOUND,
            "no route matches the request",
            json!({
                "method": parts.method.as_str(),
                "host": request_host(&parts),
                "path": parts.uri.path(),
                "routes": misses,
            }),
        );
    };
    route.stats.request();
    let cx = trace::start_span(
        &shared.telemetry.tracer,
        &parts.headers,
        &route.name,
        parts.method.as_str(),
    );
    let mut trail = Trail::default();
    let response = serve(&pool, route, parts, body, peer, &cx, &mut trail).await;

    let span = cx.span();
    let status = response.status();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    // Answers given before a target was chosen (auth, rate limit) count as "none".
    let chosen = trail.target.is_some();
    let target = trail
        .target
        .map_or(StringValue::from("none"), StringValue::from);
    shared.telemetry.requests.add(
        1,
        &[
            KeyValue::new(conv::NAME, StringValue::from(route.name.clone())),
            KeyValue::new(conv::TARGET, target.clone()),
            KeyValue::new(trace::STATUS_CLASS, trace::status_class(status)),
        ],
    );
    if chosen {
        span.set_attribute(KeyValue::new(conv::TARGET, target));
    }
    if let Some(weight) = trail.weight {
        span.set_attribute(KeyValue::new(conv::WEIGHT, i64::from(weight)));
    }
    if let Some(upstream) = trail.upstream {
        span.set_attribute(KeyValue::new("server.address", upstream.ip().to_string()));
        span.set_attribute(KeyValue::new("server.port", i64::from(upstream.port())));
    }
    if status.is_server_error() {
        span.set_status(Status::error(status.to_string()));
    }
    span.end();
    response
}

async fn serve(
    pool: &Pool,
    route: &Route,
    mut parts: Parts,
    body: Incoming,
    peer: SocketAddr,
    cx: &Context,
    trail: &mut Trail,
) -> Response<Body> {
    if let Some(auth) = &route.auth
        && let Err(denied) = auth.check(&parts.headers)
    {
        return match denied {
            Denied::Unauthenticated(why) => {
                route.stats.unauthorized();
                let mut response = error(StatusCode::UNAUTHORIZED, why, json!({}));
                response
                    .headers_mut()
                    .insert("www-authenticate", HeaderValue::from_static("Bearer"));
                response
            }
            Denied::Forbidden(why) => {
                route.stats.forbidden();
                error(StatusCode::FORBIDDEN, why, json!({}))
            }
        };
    }
    if let Some(limit) = &route.limiter {
        let key = match &limit.key_header {
            Some(header) => parts
                .headers
                .get(header)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| peer.ip().to_string(), str::to_owned),
            None => String::new(),
        };
        if let Err(limited) = limit.limiter.check(&key) {
            route.stats.rate_limited();
            // Whole seconds, rounded up: a client that waits that long gets through.
            let secs = limited.retry_after.as_secs_f64().ceil().max(1.0) as u64;
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate limit exceeded",
                json!({"retry_after_seconds": secs}),
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
            return response;
        }
    }
    // Most proxied requests (GETs) have no body: skip the collect machinery.
    let body = if hyper::body::Body::is_end_stream(&body) {
        Bytes::new()
    } else {
        match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                let status = if e.is::<http_body_util::LengthLimitError>() {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                };
                return error(status, "cannot read the request body", json!({}));
            }
        }
    };

    // The request's headers move to the upstream request (no copy); what is still
    // needed from them (host, sticky key) is read from there.
    let forwarded_host = request_host(&parts).and_then(|h| HeaderValue::from_str(h).ok());
    let mut base_headers = std::mem::take(&mut parts.headers);
    headers::strip_hop_by_hop(&mut base_headers);
    base_headers.remove(CONTENT_LENGTH);
    headers::set_forwarded(&mut base_headers, peer.ip(), forwarded_host);
    trace::inject(cx, &mut base_headers);
    let base = Outgoing {
        method: parts.method.clone(),
        path_and_query: parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
        headers: base_headers,
        body,
    };

    // The primary side, and the other side when this request is shadowed.
    let (primary, side, shadow_to) = match &route.target {
        Target::Cluster(cluster) => (cluster, None, None),
        Target::Split {
            legacy,
            new,
            sticky_header,
            state,
        } => {
            let key = base
                .headers
                .get(sticky_header)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| peer.ip().to_string(), str::to_owned);
            let weight = state.weight();
            trail.weight = Some(weight);
            let side = split::side_for(&key, weight);
            let roll = rand::random_range(0..100u8);
            let (primary, other) = match side {
                Side::Legacy => (legacy, new),
                Side::New => (new, legacy),
            };
            let shadow = split::shadowed(roll, state.shadow()).then(|| (other, side.other()));
            (primary, Some(side), shadow)
        }
    };
    trail.target = Some(match side {
        Some(side) => TrailTarget::Side(side.as_str()),
        None => TrailTarget::Cluster(primary.name.clone()),
    });
    let adapts = |side: Option<Side>| route.adapter.is_some() && side != Some(Side::New);

    let outgoing = match adapt_request(route, &base, adapts(side)) {
        Ok(outgoing) => outgoing,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string(), json!({})),
    };
    let buffer = adapts(side) || shadow_to.is_some();
    let sent = tokio::time::timeout(
        route.timeout,
        exchange(pool, route, primary, &outgoing, buffer, adapts(side)),
    )
    .await;
    let response = match sent {
        Err(_) => {
            route.stats.answered(side, true);
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                "the upstream did not answer in time",
                json!({"timeout_ms": route.timeout.as_millis() as u64}),
            );
        }
        Ok(Err(e)) => {
            route.stats.answered(side, true);
            if let ForwardError::Upstream { addr, .. } = &e {
                trail.upstream = Some(*addr);
            }
            tracing::debug!(route = %route.name, error = %e, "upstream failed");
            return error(StatusCode::BAD_GATEWAY, &e.to_string(), json!({}));
        }
        Ok(Ok((response, addr))) => {
            trail.upstream = Some(addr);
            response
        }
    };
    route
        .stats
        .answered(side, response.parts.status.is_server_error());

    let Exchanged { parts: head, body } = response;
    match body {
        ExchangedBody::Streamed(incoming) => Response::from_parts(head, incoming.boxed()),
        ExchangedBody::Buffered(bytes) => {
            if let Some((other, other_side)) = shadow_to {
                match adapt_request(route, &base, adapts(Some(other_side))) {
                    Ok(shadow_out) => spawn_shadow(
                        pool,
                        route,
                        other.clone(),
                        shadow_out.into_owned(),
                        adapts(Some(other_side)),
                        (head.status, bytes.clone()),
                    ),
                    Err(e) => tracing::debug!(error = %e, "shadow request not adaptable"),
                }
            }
            Response::from_parts(head, full(bytes))
        }
    }
}

enum ExchangedBody {
    Streamed(UpstreamBody),
    Buffered(Bytes),
}

struct Exchanged {
    parts: http::response::Parts,
    body: ExchangedBody,
}

/// Sends and, when asked, reads the whole answer (and translates it back to JSON).
async fn exchange(
    pool: &Pool,
    route: &Route,
    cluster: &Cluster,
    outgoing: &Outgoing,
    buffer: bool,
    adapt: bool,
) -> Result<(Exchanged, SocketAddr), ForwardError> {
    let answer = forward::send(pool, cluster, route.retry.as_ref(), outgoing).await?;
    let (mut head, incoming) = answer.response.into_parts();
    headers::strip_hop_by_hop(&mut head.headers);
    if !buffer {
        return Ok((
            Exchanged {
                parts: head,
                body: ExchangedBody::Streamed(incoming),
            },
            answer.addr,
        ));
    }
    let bytes = incoming
        .collect()
        .await
        .map_err(|source| ForwardError::Body {
            addr: answer.addr,
            source,
        })?
        .to_bytes();
    let bytes = if adapt {
        adapt_response(route, &mut head, bytes)
    } else {
        bytes
    };
    head.headers.remove(CONTENT_LENGTH);
    Ok((
        Exchanged {
            parts: head,
            body: ExchangedBody::Buffered(bytes),
        },
        answer.addr,
    ))
}

/// The request as the upstream of that side wants it (borrowed when unchanged).
fn adapt_request<'a>(
    route: &Route,
    base: &'a Outgoing,
    adapt: bool,
) -> Result<Cow<'a, Outgoing>, adapter::AdaptError> {
    let Some(config) = route.adapter.as_ref().filter(|_| adapt) else {
        return Ok(Cow::Borrowed(base));
    };
    if base.body.is_empty() {
        return Ok(Cow::Borrowed(base));
    }
    let mut outgoing = base.clone();
    let json: Value = serde_json::from_slice(&base.body)
        .map_err(|e| adapter::AdaptError(format!("the body is not JSON: {e}")))?;
    let (body, content_type) = match config.format {
        AdapterFormat::Xml => (
            adapter::json_to_xml(&config.root, &config.fields, &json)?,
            "application/xml",
        ),
        AdapterFormat::Form => (
            adapter::json_to_form(&config.fields, &json)?,
            "application/x-www-form-urlencoded",
        ),
    };
    outgoing.body = Bytes::from(body);
    outgoing
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(Cow::Owned(outgoing))
}

/// An XML answer becomes JSON; anything else (or XML that does not parse) passes as is.
fn adapt_response(route: &Route, head: &mut http::response::Parts, body: Bytes) -> Bytes {
    let Some(config) = route
        .adapter
        .as_ref()
        .filter(|c| c.format == AdapterFormat::Xml)
    else {
        return body;
    };
    let is_xml = head
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("xml"));
    if !is_xml {
        return body;
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return body;
    };
    match adapter::xml_to_json(&config.fields, text) {
        Ok(json) => {
            head.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Bytes::from(json.to_string())
        }
        Err(e) => {
            tracing::debug!(route = %route.name, error = %e, "XML answer not translated");
            body
        }
    }
}

/// Sends the same request to the other side in the background and counts whether the
/// answers differ (JSON compared as values, anything else byte for byte).
fn spawn_shadow(
    pool: &Pool,
    route: &Route,
    cluster: Arc<Cluster>,
    outgoing: Outgoing,
    adapt: bool,
    primary: (StatusCode, Bytes),
) {
    let pool = pool.clone();
    let stats = route.stats.clone();
    let timeout = route.timeout;
    let fields = route.adapter.clone();
    tokio::spawn(async move {
        let tried = std::sync::Mutex::new(Vec::new());
        let answer = tokio::time::timeout(timeout, async {
            let answer = forward::attempt(&pool, &cluster, &tried, &outgoing).await?;
            let (mut head, incoming) = answer.response.into_parts();
            let bytes = incoming.collect().await.ok().map(|b| b.to_bytes());
            Ok::<_, ForwardError>((
                head.status,
                bytes.map(|b| match (&fields, adapt) {
                    (Some(config), true) if config.format == AdapterFormat::Xml => {
                        let is_xml = head
                            .headers
                            .get(CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .is_some_and(|v| v.contains("xml"));
                        match std::str::from_utf8(&b).ok().filter(|_| is_xml) {
                            Some(text) => adapter::xml_to_json(&config.fields, text)
                                .map(|json| Bytes::from(json.to_string()))
                                .unwrap_or(b),
                            None => b,
                        }
                    }
                    _ => {
                        head.headers.clear();
                        b
                    }
                }),
            ))
        })
        .await;
        let differs = match answer {
            Ok(Ok((status, Some(body)))) => status != primary.0 || !same_body(&body, &primary.1),
            _ => true,
        };
        stats.shadow(differs);
    });
}

fn same_body(a: &Bytes, b: &Bytes) -> bool {
    if a == b {
        return true;
    }
    match (
        serde_json::from_slice::<Value>(a),
        serde_json::from_slice::<Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A JSON error answer from the gateway itself.
pub(crate) fn error(status: StatusCode, message: &str, details: Value) -> Response<Body> {
    let mut body = json!({"error": message, "status": status.as_u16()});
    if let (Value::Object(body), Value::Object(details)) = (&mut body, details) {
        body.extend(details);
    }
    let mut response = Response::new(full(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
