//! HTTP steps and TOML saga definitions against real HTTP participants: axum servers on
//! 127.0.0.1 that record what they receive and answer like an inventory, a payment and a
//! shipping service would.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use switchyard_conventions::saga::StepPhase;
use switchyard_saga::http_step::{self, SuccessCriteria};
use switchyard_saga::template::{BodyTemplate, Template};
use switchyard_saga::{
    CompensationOrder, HttpStep, OnStepFailure, SagaDefinition, StepAction, StepContext, StepError,
    TomlDefinitionError, load_definition_file, load_definitions,
};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const EXAMPLE: &str = include_str!("../examples/checkout.toml");

// ---- participants -------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Debug)]
struct Participant {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Participant {
    async fn start() -> Participant {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let router = Router::new().fallback(answer).with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Participant { addr, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn last(&self) -> Seen {
        self.seen().pop().expect("the participant saw no request")
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// One handler for every participant: it records the request, then answers by path.
async fn answer(State(seen): State<Arc<Mutex<Vec<Seen>>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
    };
    let path = parts.uri.path().to_owned();
    seen.lock().unwrap().push(Seen {
        method: parts.method.clone(),
        path: path.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (parts.method.as_str(), segments.as_slice()) {
        ("POST", ["reservations"]) => {
            if body["items"]
                .as_array()
                .is_none_or(|items| items.is_empty())
            {
                json_response(StatusCode::OK, json!({"status": "out_of_stock"}))
            } else {
                let id = format!("r-{}", body["order_id"].as_str().unwrap_or("?"));
                json_response(
                    StatusCode::CREATED,
                    json!({"status": "reserved", "reservation_id": id}),
                )
            }
        }
        ("DELETE", ["reservations", _]) => StatusCode::NO_CONTENT.into_response(),
        ("POST", ["charges"]) => json_response(
            StatusCode::CREATED,
            json!({"state": "captured", "charge_id": "ch-7", "amount_cents": body["amount_cents"]}),
        ),
        ("POST", ["charges", id, "refund"]) => {
            json_response(StatusCode::OK, json!({"refunded": id}))
        }
        ("POST", ["shipments"]) => {
            json_response(StatusCode::CREATED, json!({"shipment_id": "sh-9"}))
        }
        ("POST", ["shipments", _, "cancel"]) => StatusCode::NO_CONTENT.into_response(),
        (_, ["echo"]) => json_response(StatusCode::OK, json!({"echo": body})),
        (_, ["text"]) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            "plain ok",
        )
            .into_response(),
        (_, ["status", code]) => {
            let status = StatusCode::from_u16(code.parse().unwrap()).unwrap();
            let text = format!("failure {code}: {}", "details ".repeat(100));
            (
                status,
                [(header::CONTENT_TYPE, "text/plain")],
                Body::from(text),
            )
                .into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

// ---- contexts -----------------------------------------------------------------------

fn context(step: &str, index: usize, phase: StepPhase, input: Value) -> StepContext {
    StepContext {
        saga_id: "saga-1".into(),
        saga_name: "checkout".into(),
        step_name: step.into(),
        step_index: index,
        phase,
        attempt: 1,
        idempotency_key: format!("saga-1:{step}:{phase}"),
        input,
        step_input: None,
        outputs: BTreeMap::new(),
        trace_headers: BTreeMap::from([
            ("traceparent".to_owned(), TRACEPARENT.to_owned()),
            ("tracestate".to_owned(), "switchyard=1".to_owned()),
        ]),
    }
}

fn forward(step: &str, input: Value) -> StepContext {
    context(step, 0, StepPhase::Forward, input)
}

fn step(method: Method, url: &str) -> HttpStep {
    HttpStep::new(
        http_step::build_client().unwrap(),
        method,
        Template::parse(url).unwrap(),
    )
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

// ---- HttpStep -----------------------------------------------------------------------

#[tokio::test]
async fn posts_a_templated_body_with_the_idempotency_key_and_trace_headers() {
    let server = Participant::start().await;
    let action = step(Method::POST, &server.url("/echo"))
        .header(
            header::HeaderName::from_static("x-order-id"),
            Template::parse("{{ input.order_id }}").unwrap(),
        )
        .body(
            BodyTemplate::parse(&json!({
                "order": "{{ input.order_id }}",
                "items": "{{ input.items }}",
                "first_qty": "{{ input.items.0.qty }}",
                "note": "saga {{ saga.name }}/{{ saga.id }}",
                "gift": false,
            }))
            .unwrap(),
        );
    let input = json!({"order_id": "o-1", "items": [{"sku": "TEA", "qty": 2}]});

    let output = action.run(forward("reserve", input)).await.unwrap();

    let seen = server.last();
    assert_eq!(seen.method, Method::POST);
    let expected = json!({
        "order": "o-1",
        "items": [{"sku": "TEA", "qty": 2}],
        "first_qty": 2,
        "note": "saga checkout/saga-1",
        "gift": false,
    });
    assert_eq!(seen.body, expected);
    assert_eq!(
        header(&seen.headers, "idempotency-key"),
        "saga-1:reserve:forward"
    );
    assert_eq!(header(&seen.headers, "traceparent"), TRACEPARENT);
    assert_eq!(header(&seen.headers, "tracestate"), "switchyard=1");
    assert_eq!(header(&seen.headers, "content-type"), "application/json");
    assert_eq!(header(&seen.headers, "x-order-id"), "o-1");
    assert_eq!(output, json!({"echo": expected}));
}

#[tokio::test]
async fn a_request_without_body_has_no_content_type() {
    let server = Participant::start().await;
    let action = step(Method::DELETE, &server.url("/reservations/{{ input.id }}"));

    let output = action
        .run(forward("release", json!({"id": "r-5"})))
        .await
        .unwrap();

    let seen = server.last();
    assert_eq!(
        (seen.method, seen.path.as_str()),
        (Method::DELETE, "/reservations/r-5")
    );
    assert!(seen.headers.get("content-type").is_none());
    assert_eq!(
        header(&seen.headers, "idempotency-key"),
        "saga-1:release:forward"
    );
    // 204 has no body: the output records the status.
    assert_eq!(output, json!({"status": 204, "body": ""}));
}

#[tokio::test]
async fn failures_are_classified_by_status() {
    let server = Participant::start().await;
    for (code, retryable) in [
        (500, true),
        (502, true),
        (503, true),
        (429, true),
        (400, false),
        (404, false),
        (409, false),
        (422, false),
    ] {
        let action = step(Method::POST, &server.url(&format!("/status/{code}")));
        let error = action.run(forward("charge", json!({}))).await.unwrap_err();
        assert_eq!(error.is_retryable(), retryable, "{code}: {error:?}");
        let reason = error.reason();
        assert!(reason.contains(&format!("status {code}")), "{reason}");
        assert!(
            reason.contains(&format!("failure {code}: details")),
            "{reason}"
        );
        // A short excerpt, not the whole 800-byte body.
        assert!(reason.len() < 400, "{} bytes: {reason}", reason.len());
    }
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // A port that was just free: nothing listens on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let action = step(Method::POST, &format!("http://{addr}/charges"));

    let error = action.run(forward("charge", json!({}))).await.unwrap_err();

    assert!(matches!(error, StepError::Retryable(_)), "{error:?}");
    assert!(error.reason().contains(&addr.to_string()), "{error}");
}

#[tokio::test]
async fn a_non_json_response_becomes_status_and_text() {
    let server = Participant::start().await;
    let output = step(Method::GET, &server.url("/text"))
        .run(forward("read", json!({})))
        .await
        .unwrap();
    assert_eq!(output, json!({"status": 200, "body": "plain ok"}));
}

#[tokio::test]
async fn success_criteria_check_status_and_json_pointer() {
    let server = Participant::start().await;
    let reserve = step(Method::POST, &server.url("/reservations"))
        .body(
            BodyTemplate::parse(&json!({"order_id": "o-2", "items": "{{ input.items }}"})).unwrap(),
        )
        .success(SuccessCriteria {
            status: vec![200, 201],
            json_pointer: Some("/status".into()),
            equals: Some(json!("reserved")),
        });

    let output = reserve
        .run(forward("reserve", json!({"items": [{"sku": "A"}]})))
        .await
        .unwrap();
    assert_eq!(output["reservation_id"], "r-o-2");

    // 200, but the participant said no: a refusal, not worth repeating.
    let error = reserve
        .run(forward("reserve", json!({"items": []})))
        .await
        .unwrap_err();
    assert!(matches!(error, StepError::Permanent(_)), "{error:?}");
    assert!(
        error
            .reason()
            .contains(r#"/status is "out_of_stock", expected "reserved""#),
        "{error}"
    );

    // A pointer that must merely exist.
    let needs_field = step(Method::POST, &server.url("/shipments")).success(SuccessCriteria {
        json_pointer: Some("/tracking".into()),
        ..SuccessCriteria::default()
    });
    let error = needs_field
        .run(forward("ship", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(error, StepError::Permanent(_)), "{error:?}");
    assert!(error.reason().contains("no value at /tracking"), "{error}");

    // An accepted status outside 2xx is a success; a 2xx outside the list is not.
    let gone_is_fine = step(Method::GET, &server.url("/status/404")).success(SuccessCriteria {
        status: vec![404],
        ..SuccessCriteria::default()
    });
    let output = gone_is_fine
        .run(forward("cancel", json!({})))
        .await
        .unwrap();
    assert_eq!(output["status"], 404);
    let only_201 = step(Method::GET, &server.url("/text")).success(SuccessCriteria {
        status: vec![201],
        ..SuccessCriteria::default()
    });
    let error = only_201.run(forward("read", json!({}))).await.unwrap_err();
    assert!(matches!(error, StepError::Permanent(_)), "{error:?}");
}

#[tokio::test]
async fn a_template_without_a_value_fails_permanently_before_sending() {
    let server = Participant::start().await;
    let action = step(Method::POST, &server.url("/echo"))
        .body(BodyTemplate::parse(&json!({"amount": "{{ input.payment.amount }}"})).unwrap());

    let error = action
        .run(forward("charge", json!({"payment": {}})))
        .await
        .unwrap_err();

    assert_eq!(
        error,
        StepError::Permanent(
            "template {{ input.payment.amount }}: no value at input.payment.amount".into()
        )
    );
    assert!(server.seen().is_empty());
}

// ---- the checkout file --------------------------------------------------------------

struct Checkout {
    inventory: Participant,
    payments: Participant,
    shipping: Participant,
}

impl Checkout {
    async fn start() -> Checkout {
        Checkout {
            inventory: Participant::start().await,
            payments: Participant::start().await,
            shipping: Participant::start().await,
        }
    }

    /// The example file pointed at this test's participants.
    fn source(&self) -> String {
        EXAMPLE
            .replace("127.0.0.1:8081", &self.inventory.addr.to_string())
            .replace("127.0.0.1:8082", &self.payments.addr.to_string())
            .replace("127.0.0.1:8083", &self.shipping.addr.to_string())
    }
}

fn checkout_input() -> Value {
    json!({
        "order_id": "o-1001",
        "customer": "c-42",
        "items": [{"sku": "TEA-01", "qty": 2}],
        "amount_cents": 2400,
        "currency": "EUR",
        "address": {"name": "Ada", "street": "1 Rail Way", "city": "Leeds"},
    })
}

#[tokio::test]
async fn the_checkout_file_loads_and_its_steps_and_compensations_call_the_participants() {
    let participants = Checkout::start().await;
    let definitions = load_definitions(&participants.source(), "checkout.toml").unwrap();
    let [saga]: [SagaDefinition; 1] = definitions.try_into().unwrap();

    assert_eq!(saga.name, "checkout");
    assert_eq!(saga.deadline, Some(std::time::Duration::from_secs(30)));
    assert_eq!(saga.compensation_order, CompensationOrder::Reverse);
    assert_eq!(saga.on_step_failure, OnStepFailure::Compensate);
    assert!(!saga.continue_past_failed_compensation);
    let names: Vec<&str> = saga.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["reserve-stock", "charge-card", "create-shipment"]);
    assert_eq!(saga.steps[1].timeout, std::time::Duration::from_secs(10));
    assert_eq!(saga.steps[1].retry.max_attempts, 4);
    assert_eq!(saga.steps[0].compensation_retry.max_attempts, 5);
    assert!(saga.steps.iter().all(|s| s.compensation.is_some()));

    // Forward, as the orchestrator would: each step sees the outputs before it.
    let input = checkout_input();
    let mut outputs = BTreeMap::new();
    for (index, step) in saga.steps.iter().enumerate() {
        let mut cx = context(&step.name, index, StepPhase::Forward, input.clone());
        cx.outputs = outputs.clone();
        if step.name == "charge-card" {
            // An operator's edited input wins over the saga's input.
            cx.step_input = Some(json!({"amount_cents": 1999}));
        }
        let output = step.action.run(cx).await.unwrap();
        outputs.insert(step.name.clone(), output);
    }
    assert_eq!(outputs["reserve-stock"]["reservation_id"], "r-o-1001");
    assert_eq!(outputs["charge-card"]["charge_id"], "ch-7");
    assert_eq!(outputs["create-shipment"]["shipment_id"], "sh-9");

    let reserve = participants.inventory.last();
    assert_eq!(reserve.path, "/reservations");
    assert_eq!(
        reserve.body,
        json!({"order_id": "o-1001", "items": [{"sku": "TEA-01", "qty": 2}]})
    );
    assert_eq!(header(&reserve.headers, "x-order-id"), "o-1001");
    assert_eq!(
        header(&reserve.headers, "idempotency-key"),
        "saga-1:reserve-stock:forward"
    );
    let charge = participants.payments.last();
    assert_eq!(
        charge.body,
        json!({
            "order_id": "o-1001",
            "customer": "c-42",
            "amount_cents": 1999,
            "currency": "EUR",
            "reservation": "r-o-1001",
        })
    );
    assert_eq!(header(&charge.headers, "traceparent"), TRACEPARENT);
    let shipment = participants.shipping.last();
    assert_eq!(shipment.body["address"]["city"], "Leeds");
    assert_eq!(shipment.body["charge"], "ch-7");

    // Compensations in reverse; each also sees its own step's forward output.
    for (index, step) in saga.steps.iter().enumerate().rev() {
        let mut cx = context(&step.name, index, StepPhase::Compensate, input.clone());
        cx.outputs = outputs.clone();
        let compensation = step.compensation.as_ref().unwrap();
        compensation.run(cx).await.unwrap();
    }
    let cancel = participants.shipping.last();
    assert_eq!(
        (cancel.method, cancel.path.as_str()),
        (Method::POST, "/shipments/sh-9/cancel")
    );
    assert_eq!(
        header(&cancel.headers, "idempotency-key"),
        "saga-1:create-shipment:compensate"
    );
    let refund = participants.payments.last();
    assert_eq!(refund.path, "/charges/ch-7/refund");
    assert_eq!(
        refund.body,
        json!({"amount_cents": 1999, "reason": "saga checkout saga-1 compensated"})
    );
    let release = participants.inventory.last();
    assert_eq!(
        (release.method, release.path.as_str()),
        (Method::DELETE, "/reservations/r-o-1001")
    );
}

#[tokio::test]
async fn a_refusal_from_a_participant_in_the_file_is_permanent() {
    let participants = Checkout::start().await;
    let saga = load_definitions(&participants.source(), "checkout.toml")
        .unwrap()
        .remove(0);
    let mut input = checkout_input();
    input["items"] = json!([]);

    let error = saga.steps[0]
        .action
        .run(context("reserve-stock", 0, StepPhase::Forward, input))
        .await
        .unwrap_err();

    assert!(matches!(error, StepError::Permanent(_)), "{error:?}");
    assert!(error.reason().contains("out_of_stock"), "{error}");
}

#[test]
fn the_example_file_loads_from_disk() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/checkout.toml");
    let definitions = load_definition_file(path).unwrap();
    assert_eq!(definitions.len(), 1);

    let error = load_definition_file("/nonexistent/sagas.toml").unwrap_err();
    assert_eq!(error.line, 0);
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/sagas.toml: cannot read the file"),
        "{error}"
    );
}

#[test]
fn a_file_may_hold_several_sagas() {
    let source = r#"
[[saga]]
name = "one"
compensation = "parallel"
on_step_failure = "hold"
continue_past_failed_compensation = true

[[saga.step]]
name = "a"
compensation = "none"
action = { method = "get", url = "http://127.0.0.1:9/a" }

[[saga]]
name = "two"

[[saga.step]]
name = "b"
compensation = "none"
action = { method = "POST", url = "{{ input.base_url }}/b", body = "{{ input }}" }
"#;
    let definitions = load_definitions(source, "two.toml").unwrap();
    assert_eq!(definitions.len(), 2);
    assert_eq!(
        definitions[0].compensation_order,
        CompensationOrder::Parallel
    );
    assert_eq!(definitions[0].on_step_failure, OnStepFailure::Hold);
    assert!(definitions[0].continue_past_failed_compensation);
    assert!(definitions[0].steps[0].compensation.is_none());
    assert_eq!(definitions[1].name, "two");
}

// ---- load errors --------------------------------------------------------------------

/// The 1-based line of the `nth` (from 0) occurrence of `needle`.
fn line_of(source: &str, needle: &str, nth: usize) -> usize {
    let (offset, _) = source
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} #{nth} is not in the source"));
    source[..offset].matches('\n').count() + 1
}

/// The example with the `nth` occurrence of `from` replaced by `to`.
fn edit(from: &str, nth: usize, to: &str) -> String {
    let (offset, _) = EXAMPLE
        .match_indices(from)
        .nth(nth)
        .unwrap_or_else(|| panic!("{from:?} #{nth} is not in the example"));
    format!(
        "{}{to}{}",
        &EXAMPLE[..offset],
        &EXAMPLE[offset + from.len()..]
    )
}

fn load_error(source: &str) -> TomlDefinitionError {
    load_definitions(source, "checkout.toml").expect_err("the file loaded")
}

#[track_caller]
fn assert_error(source: &str, line: usize, field: &str, message: &str) {
    let error = load_error(source);
    assert_eq!(error.file, "checkout.toml", "{error}");
    assert_eq!(error.line, line, "{error}");
    assert_eq!(error.field, field, "{error}");
    assert!(error.message.contains(message), "{error}");
    let display = error.to_string();
    let prefix = if field.is_empty() {
        format!("checkout.toml:{line}: ")
    } else {
        format!("checkout.toml:{line}: {field}: ")
    };
    assert!(display.starts_with(&prefix), "{display}");
}

#[test]
fn the_documented_error_format() {
    let source = edit(
        r#"url = "http://127.0.0.1:8082/charges""#,
        0,
        r#"url = "http://127.0.0.1:8082/charges/{{ steps.create-shipment.output.shipment_id }}""#,
    );
    let error = load_error(&source);
    assert_eq!(
        error.to_string(),
        format!(
            "checkout.toml:{}: saga \"checkout\" step \"charge-card\" action.url: template \
             {{{{ steps.create-shipment.output.shipment_id }}}} refers to step \
             \"create-shipment\", which runs later",
            line_of(&source, "/charges/{{", 0)
        )
    );
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let source = edit(r#"deadline = "30s""#, 0, r#"deadline = "30s"#);
    let error = load_error(&source);
    assert_eq!(error.line, line_of(&source, "deadline", 0), "{error}");
    assert_eq!(error.field, "", "{error}");
    assert!(!error.message.is_empty());

    let source = edit(
        "[[saga.step]]\nname = \"charge-card\"",
        0,
        "[[saga.step]\nname = \"charge-card\"",
    );
    let error = load_error(&source);
    assert_eq!(error.line, line_of(&source, "[[saga.step]\n", 0), "{error}");
}

#[test]
fn unknown_fields_are_rejected_with_their_path() {
    let source = edit(
        "deadline = \"30s\"\n",
        0,
        "deadline = \"30s\"\nowner = \"ops\"\n",
    );
    assert_error(
        &source,
        line_of(&source, "owner", 0),
        "saga \"checkout\" owner",
        "unknown field `owner`",
    );

    let source = edit(
        "method = \"DELETE\"\n",
        0,
        "method = \"DELETE\"\ncolour = \"red\"\n",
    );
    assert_error(
        &source,
        line_of(&source, "colour", 0),
        "saga \"checkout\" step \"reserve-stock\" compensation.colour",
        "unknown field `colour`",
    );

    let source = edit("timeout = \"10s\"\n", 0, "timeout = \"10s\"\nretries = 3\n");
    assert_error(
        &source,
        line_of(&source, "retries", 0),
        "saga \"checkout\" step \"charge-card\" retries",
        "unknown field `retries`",
    );

    let source = edit(
        r#"success = { status = [201], json_pointer"#,
        0,
        r#"success = { codes = [201], json_pointer"#,
    );
    assert_error(
        &source,
        line_of(&source, "codes", 0),
        "saga \"checkout\" step \"charge-card\" action.success.codes",
        "unknown field `codes`",
    );
}

#[test]
fn wrong_types_and_missing_fields_name_the_field() {
    let source = edit(r#"timeout = "10s""#, 0, "timeout = 10");
    assert_error(
        &source,
        line_of(&source, "timeout = 10", 0),
        "saga \"checkout\" step \"charge-card\" timeout",
        "invalid type",
    );

    let source = edit("url = \"http://127.0.0.1:8083/shipments\"\n", 0, "");
    // toml points at the table that lacks the field: create-shipment's action header.
    assert_error(
        &source,
        line_of(&source, "[saga.step.action]", 2),
        "saga \"checkout\" step \"create-shipment\" action",
        "missing field `url`",
    );
}

#[test]
fn template_references_to_unknown_or_later_steps_are_rejected() {
    let source = edit(
        r#"reservation = "{{ steps.reserve-stock.output.reservation_id }}""#,
        0,
        r#"reservation = "{{ steps.reserve-stok.output.reservation_id }}""#,
    );
    assert_error(
        &source,
        line_of(&source, "reserve-stok.", 0),
        "saga \"checkout\" step \"charge-card\" action.body.reservation",
        "template {{ steps.reserve-stok.output.reservation_id }} refers to unknown step \"reserve-stok\"",
    );

    let source = edit(
        r#"order_id = "{{ input.order_id }}", items"#,
        0,
        r#"order_id = "{{ steps.charge-card.output.charge_id }}", items"#,
    );
    assert_error(
        &source,
        line_of(&source, "steps.charge-card.output.charge_id }}\", items", 0),
        "saga \"checkout\" step \"reserve-stock\" action.body.order_id",
        "refers to step \"charge-card\", which runs later",
    );

    // An action cannot read its own output; its compensation can (as the example does).
    let source = edit(
        r#"charge = "{{ steps.charge-card.output.charge_id }}""#,
        0,
        r#"charge = "{{ steps.create-shipment.output.shipment_id }}""#,
    );
    assert_error(
        &source,
        line_of(&source, "charge = ", 0),
        "saga \"checkout\" step \"create-shipment\" action.body.charge",
        "itself",
    );

    let source = edit(
        r#"headers = { x-order-id = "{{ input.order_id }}" }"#,
        0,
        r#"headers = { x-order-id = "{{ steps.nope.output.id }}" }"#,
    );
    assert_error(
        &source,
        line_of(&source, "x-order-id", 0),
        "saga \"checkout\" step \"reserve-stock\" action.headers.x-order-id",
        "refers to unknown step \"nope\"",
    );
}

#[test]
fn bad_url_templates_are_rejected() {
    let cases = [
        (
            "http://127.0.0.1:8083/shipments\"",
            "http://127.0.0.1:8083/shipments/{{ input.order_id\"",
            "without a closing `}}`",
        ),
        (
            "http://127.0.0.1:8083/shipments\"",
            "http://127.0.0.1:8083/shipments/{{ input..id }}\"",
            "empty path segment",
        ),
        (
            "http://127.0.0.1:8083/shipments\"",
            "ftp://127.0.0.1:8083/shipments\"",
            "is not an http URL (scheme \"ftp\")",
        ),
        (
            "http://127.0.0.1:8083/shipments\"",
            "127.0.0.1:8083/shipments\"",
            "is not an http URL",
        ),
        (
            "http://127.0.0.1:8083/shipments\"",
            "http://127.0.0.1:port/shipments\"",
            "is not an http URL",
        ),
        (
            "http://127.0.0.1:8083/shipments\"",
            "https://127.0.0.1:8083/shipments\"",
            "https is not supported",
        ),
    ];
    for (from, to, message) in cases {
        let source = edit(from, 0, to);
        assert_error(
            &source,
            line_of(&source, to, 0),
            "saga \"checkout\" step \"create-shipment\" action.url",
            message,
        );
    }

    // Expressions in the host, port or path are fine; the rendered URL is checked at run time.
    let source = edit(
        "http://127.0.0.1:8083/shipments\"",
        0,
        "http://{{ input.host }}:{{ input.port }}/shipments\"",
    );
    load_definitions(&source, "checkout.toml").unwrap();
}

#[test]
fn bad_methods_are_rejected() {
    let source = edit(r#"method = "DELETE""#, 0, r#"method = "REMOVE""#);
    assert_error(
        &source,
        line_of(&source, "REMOVE", 0),
        "saga \"checkout\" step \"reserve-stock\" compensation.method",
        "bad method \"REMOVE\"",
    );
}

#[test]
fn duplicate_step_names_are_rejected() {
    let source = edit(r#"name = "create-shipment""#, 0, r#"name = "charge-card""#);
    let first = line_of(&source, r#"name = "charge-card""#, 0);
    assert_error(
        &source,
        line_of(&source, r#"name = "charge-card""#, 1),
        "saga \"checkout\" step \"charge-card\" name",
        &format!("duplicate step name (first on line {first})"),
    );
}

#[test]
fn a_step_without_compensation_or_opt_out_is_rejected() {
    // Drop charge-card's compensation table.
    let start = EXAMPLE
        .find("[saga.step.compensation]\nmethod = \"POST\"\nurl = \"http://127.0.0.1:8082")
        .unwrap();
    let end = start + EXAMPLE[start..].find("# ---- 3.").unwrap();
    let source = format!("{}{}", &EXAMPLE[..start], &EXAMPLE[end..]);
    assert_error(
        &source,
        line_of(&source, "[[saga.step]]", 1),
        "saga \"checkout\" step \"charge-card\" compensation",
        "missing compensation where required",
    );

    // `compensation = "none"` is the explicit opt-out; anything else is an error.
    let opted_out = source.replace(
        "name = \"charge-card\"\n",
        "name = \"charge-card\"\ncompensation = \"none\"\n",
    );
    let saga = load_definitions(&opted_out, "checkout.toml")
        .unwrap()
        .remove(0);
    assert!(saga.steps[1].compensation.is_none());
    let typo = source.replace(
        "name = \"charge-card\"\n",
        "name = \"charge-card\"\ncompensation = \"nothing\"\n",
    );
    assert_error(
        &typo,
        line_of(&typo, "\"nothing\"", 0),
        "saga \"checkout\" step \"charge-card\" compensation",
        "\"none\"",
    );
}

#[test]
fn bad_durations_are_rejected() {
    let source = edit(r#"timeout = "10s""#, 0, r#"timeout = "10 sex""#);
    assert_error(
        &source,
        line_of(&source, "10 sex", 0),
        "saga \"checkout\" step \"charge-card\" timeout",
        "bad duration \"10 sex\"",
    );

    let source = edit(r#"deadline = "30s""#, 0, r#"deadline = "soon""#);
    assert_error(
        &source,
        line_of(&source, "soon", 0),
        "saga \"checkout\" deadline",
        "bad duration \"soon\"",
    );

    let source = edit(
        r#"max_backoff = "2s""#,
        0,
        r#"max_backoff = "2 fortnights""#,
    );
    assert_error(
        &source,
        line_of(&source, "fortnights", 0),
        "saga \"checkout\" step \"charge-card\" retry.max_backoff",
        "bad duration",
    );

    let source = edit(r#"timeout = "5s""#, 0, r#"timeout = "0s""#);
    assert_error(
        &source,
        line_of(&source, "\"0s\"", 0),
        "saga \"checkout\" step \"reserve-stock\" timeout",
        "longer than zero",
    );

    let source = edit(r#"backoff = "200ms""#, 1, r#"backoff = "5s""#);
    assert_error(
        &source,
        // On the line of the retry table (where max_backoff is).
        line_of(&source, "attempts = 4", 0),
        "saga \"checkout\" step \"charge-card\" retry.max_backoff",
        "is shorter than backoff 5s",
    );
}

#[test]
fn other_bad_values_are_rejected_with_their_field() {
    let cases: [(&str, usize, &str, &str, &str, &str); 7] = [
        (
            r#"compensation = "reverse""#,
            0,
            r#"compensation = "backwards""#,
            "backwards",
            "saga \"checkout\" compensation",
            r#"is not "reverse" or "parallel""#,
        ),
        (
            r#"on_step_failure = "compensate""#,
            0,
            r#"on_step_failure = "panic""#,
            "panic",
            "saga \"checkout\" on_step_failure",
            r#"is not "compensate" or "hold""#,
        ),
        (
            "attempts = 4",
            0,
            "attempts = 0",
            "attempts = 0",
            "saga \"checkout\" step \"charge-card\" retry.attempts",
            "not a number of attempts",
        ),
        (
            "headers = { x-order-id",
            0,
            "headers = { idempotency-key",
            "idempotency-key",
            "saga \"checkout\" step \"reserve-stock\" action.headers.idempotency-key",
            "set by the step itself",
        ),
        (
            "status = [200, 202, 204]",
            0,
            "status = [200, 2020]",
            "2020",
            "saga \"checkout\" step \"create-shipment\" compensation.success.status",
            "2020 is not an HTTP status code",
        ),
        (
            r#"success = { status = [201], json_pointer = "/state", equals"#,
            0,
            r#"success = { status = [201], equals"#,
            "status = [201], equals",
            "saga \"checkout\" step \"charge-card\" action.success.equals",
            "needs a json_pointer",
        ),
        (
            r#"json_pointer = "/state""#,
            0,
            r#"json_pointer = "state""#,
            r#""state""#,
            "saga \"checkout\" step \"charge-card\" action.success.json_pointer",
            "is not a JSON pointer",
        ),
    ];
    for (from, nth, to, needle, field, message) in cases {
        let source = edit(from, nth, to);
        assert_error(&source, line_of(&source, needle, 0), field, message);
    }
}

#[test]
fn a_file_without_sagas_or_with_a_saga_twice_is_rejected() {
    let error = load_error("# nothing here\n");
    assert!(error.message.contains("defines no saga"), "{error}");

    let source = format!(
        "{EXAMPLE}\n{}",
        &EXAMPLE[EXAMPLE.find("[[saga]]").unwrap()..]
    );
    assert_error(
        &source,
        line_of(&source, r#"name = "checkout""#, 1),
        "saga \"checkout\" name",
        &format!(
            "saga name used twice (first on line {})",
            line_of(&source, r#"name = "checkout""#, 0)
        ),
    );

    let source = edit(
        "[[saga.step]]\nname = \"reserve-stock\"",
        0,
        "[saga.extra]\n[[saga.step]]\nname = \"reserve-stock\"",
    );
    let error = load_error(&source);
    assert!(error.message.contains("unknown field `extra`"), "{error}");
}
