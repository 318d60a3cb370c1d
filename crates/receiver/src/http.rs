//! OTLP/HTTP: `POST /v1/traces`, `/v1/metrics` and `/v1/logs` with protobuf
//! or JSON bodies, optionally gzip-compressed.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use prost::Message as _;

use crate::Shared;
use crate::auth::API_KEY_HEADER;
use crate::signal::{Logs, Metrics, Refusal, Signal, Traces, accept};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/traces", post(handle::<Traces>))
        .route("/v1/metrics", post(handle::<Metrics>))
        .route("/v1/logs", post(handle::<Logs>))
        .with_state(shared)
}

/// The body encodings OTLP/HTTP defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn from_headers(headers: &HeaderMap) -> Option<Encoding> {
        let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        // Parameters such as `; charset=utf-8` don't change the encoding.
        let mime = value.split(';').next()?.trim();
        if mime.eq_ignore_ascii_case(PROTOBUF) {
            Some(Encoding::Protobuf)
        } else if mime.eq_ignore_ascii_case(JSON) {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => PROTOBUF,
            Encoding::Json => JSON,
        }
    }
}

async fn handle<S: Signal>(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let key = headers.get(API_KEY_HEADER).map(HeaderValue::as_bytes);
    // Until the content type is known, errors are answered in JSON.
    let fallback = Encoding::from_headers(&headers).unwrap_or(Encoding::Json);
    if !shared.keys.allows(key) {
        shared.stats.unauthenticated();
        return error(
            fallback,
            StatusCode::UNAUTHORIZED,
            format!("missing or wrong API key in the {API_KEY_HEADER} header"),
        );
    }
    let Some(encoding) = Encoding::from_headers(&headers) else {
        shared.stats.invalid();
        return error(
            fallback,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be {PROTOBUF} or {JSON}"),
        );
    };
    let Ok(_permit) = shared.in_flight.clone().try_acquire_owned() else {
        shared.stats.refused();
        return retry_later(
            encoding,
            "too many requests in flight".into(),
            shared.retry_after,
        );
    };
    let body = match read_body(&headers, body, shared.max_body_bytes).await {
        Ok(body) => body,
        Err((status, message)) => {
            shared.stats.invalid();
            return error(encoding, status, message);
        }
    };
    let request = match encoding {
        Encoding::Protobuf => S::Request::decode(body)
            .map_err(|e| format!("the body is not a valid {} request: {e}", S::NAME)),
        Encoding::Json => serde_json::from_slice(&body)
            .map_err(|e| format!("the body is not a valid OTLP JSON {} request: {e}", S::NAME)),
    };
    let request = match request {
        Ok(request) => request,
        Err(message) => {
            shared.stats.invalid();
            return error(encoding, StatusCode::BAD_REQUEST, message);
        }
    };
    match accept::<S>(&shared, request).await {
        Ok(rejected) => {
            let body = match encoding {
                Encoding::Protobuf => S::response(&rejected).encode_to_vec(),
                Encoding::Json => S::response_json(&rejected).to_string().into_bytes(),
            };
            respond(encoding, StatusCode::OK, body)
        }
        Err(Refusal::Invalid(message)) => error(encoding, StatusCode::BAD_REQUEST, message),
        Err(Refusal::TooLarge(message)) => error(encoding, StatusCode::PAYLOAD_TOO_LARGE, message),
        Err(Refusal::Busy {
            message,
            retry_after,
        }) => retry_later(encoding, message, retry_after),
    }
}

/// Reads the body, refusing it past `limit` bytes before or after gzip.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, (StatusCode, String)> {
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let raw = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Err(e) => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("the body could not be read: {e}"),
            ));
        }
    };
    let coding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match coding.as_deref() {
        None | Some("") | Some("identity") => Ok(raw),
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&raw[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    (
                        StatusCode::BAD_REQUEST,
                        format!("the body is not valid gzip: {e}"),
                    )
                })?;
            if out.len() > limit {
                return Err(too_large());
            }
            Ok(Bytes::from(out))
        }
        Some(other) => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding {other:?} is not supported; use gzip or none"),
        )),
    }
}

/// google.rpc.Status, the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn error(encoding: Encoding, status: StatusCode, message: String) -> Response {
    // The gRPC code that matches the HTTP status, as google.rpc.Status carries.
    let code = match status {
        StatusCode::BAD_REQUEST => tonic::Code::InvalidArgument,
        StatusCode::UNAUTHORIZED => tonic::Code::Unauthenticated,
        StatusCode::PAYLOAD_TOO_LARGE => tonic::Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => tonic::Code::Unavailable,
        _ => tonic::Code::InvalidArgument,
    } as i32;
    let body = match encoding {
        Encoding::Protobuf => RpcStatus { code, message }.encode_to_vec(),
        Encoding::Json => serde_json::json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    };
    respond(encoding, status, body)
}

/// 503 with Retry-After: OTLP/HTTP senders retry after the delay.
fn retry_later(encoding: Encoding, message: String, retry_after: Duration) -> Response {
    let mut response = error(encoding, StatusCode::SERVICE_UNAVAILABLE, message);
    let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn respond(encoding: Encoding, status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}
