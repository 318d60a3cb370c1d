//! Saga definitions in TOML, with [`HttpStep`] actions and compensations.
//!
//! A file holds one or more `[[saga]]` tables; each has its steps as `[[saga.step]]`
//! tables, in the order they run. Every error names the file, the line and the field:
//!
//! ```text
//! checkout.toml:14: saga "checkout" step "charge-card" action.url: template {{ steps.ship.output.id }} refers to step "ship", which runs later
//! ```
//!
//! # Format
//!
//! ```toml
//! [[saga]]
//! name = "checkout"
//! deadline = "30s"                          # optional, humantime: "500ms", "2m 30s"
//! compensation = "reverse"                  # or "parallel"; default "reverse"
//! continue_past_failed_compensation = false # default false
//! on_step_failure = "compensate"            # or "hold"; default "compensate"
//!
//! [[saga.step]]
//! name = "reserve-stock"
//! timeout = "5s"                            # per attempt; default 30s
//! retry = { attempts = 3, backoff = "100ms", max_backoff = "2s" }  # default 3, 100ms, 5s
//! compensation_retry = { attempts = 5 }     # default 5, 200ms, 10s
//!
//! [saga.step.action]
//! method = "POST"                           # GET POST PUT PATCH DELETE HEAD OPTIONS
//! url = "http://127.0.0.1:8081/reservations"
//! headers = { x-tenant = "{{ input.tenant }}" }
//! body = { order = "{{ saga.id }}", items = "{{ input.items }}" }
//! success = { status = [200, 201], json_pointer = "/state", equals = "reserved" }
//!
//! [saga.step.compensation]
//! method = "DELETE"
//! url = "http://127.0.0.1:8081/reservations/{{ steps.reserve-stock.output.id }}"
//!
//! [[saga.step]]
//! name = "notify"
//! compensation = "none"                     # nothing to undo: an explicit opt-out
//!
//! [saga.step.action]
//! method = "POST"
//! url = "{{ input.notify_url }}"
//! body = "{{ steps.reserve-stock.output }}"
//! ```
//!
//! - `action` is required. `compensation` is required too: either a table like `action`,
//!   or `compensation = "none"` for a step with nothing to undo.
//! - `success`: `status` lists the accepted codes (default any 2xx); `json_pointer`
//!   (RFC 6901) must exist in the response JSON and, with `equals`, equal that value.
//! - Strings in `url`, `headers` and `body` are templates (see [`crate::template`]). An
//!   action may read the outputs of earlier steps; a compensation also its own step's
//!   output. References to unknown or later steps are load errors.
//! - `url` must be `http://` (this build has no TLS); when the URL starts with a template
//!   (`{{ input.base_url }}/x`) the scheme is checked when the step runs.
//! - Unknown keys are errors.
//!
//! One `reqwest::Client` is built per load and shared by every step of the file.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderName;
use reqwest::{Client, Method, Url};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use switchyard_resilience::retry::Backoff;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::definition::{
    CompensationOrder, OnStepFailure, RetryPolicy, SagaDefinition, StepDefinition,
};
use crate::http_step::{
    self, HTTPS_SUPPORTED, HttpStep, METHODS, RESERVED_HEADERS, SuccessCriteria,
};
use crate::step::StepAction;
use crate::template::{BodyTemplate, Template};

/// A definition file that cannot be loaded: where, which field, and why.
///
/// `line` is 1-based; 0 when the error is about the file as a whole (it cannot be read).
/// `field` is empty for TOML syntax errors and whole-file errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {}{message}", line_suffix(*.line), field_prefix(.field))]
pub struct TomlDefinitionError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("{field}: ")
    }
}

/// Loads every saga in `source`; `file_name` is used in error messages.
pub fn load_definitions(
    source: &str,
    file_name: &str,
) -> Result<Vec<SagaDefinition>, TomlDefinitionError> {
    let client = http_step::build_client().map_err(|e| TomlDefinitionError {
        file: file_name.to_owned(),
        line: 0,
        field: String::new(),
        message: format!("cannot build the HTTP client: {e}"),
    })?;
    load_definitions_with_client(source, file_name, &client)
}

/// Like [`load_definitions`], with a client of the caller's (to share it, or to set
/// proxies); its clones share one connection pool.
pub fn load_definitions_with_client(
    source: &str,
    file_name: &str,
    client: &Client,
) -> Result<Vec<SagaDefinition>, TomlDefinitionError> {
    let loader = Loader {
        source,
        file: file_name,
        client,
    };
    let raw: RawFile = toml::from_str(source).map_err(|e| loader.toml_error(&e))?;
    loader.file(raw)
}

/// Reads and loads a definition file; errors name the path as given.
pub fn load_definition_file(
    path: impl AsRef<Path>,
) -> Result<Vec<SagaDefinition>, TomlDefinitionError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| TomlDefinitionError {
        file: file.clone(),
        line: 0,
        field: String::new(),
        message: format!("cannot read the file: {e}"),
    })?;
    load_definitions(&source, &file)
}

// ---- the file as written -------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    saga: Vec<Spanned<RawSaga>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSaga {
    name: Spanned<String>,
    deadline: Option<Spanned<String>>,
    compensation: Option<Spanned<String>>,
    continue_past_failed_compensation: Option<bool>,
    on_step_failure: Option<Spanned<String>>,
    #[serde(default)]
    step: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Spanned<String>,
    timeout: Option<Spanned<String>>,
    retry: Option<Spanned<RawRetry>>,
    compensation_retry: Option<Spanned<RawRetry>>,
    action: RawHttp,
    compensation: Option<Spanned<RawCompensation>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    attempts: Option<Spanned<i64>>,
    backoff: Option<Spanned<String>>,
    max_backoff: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    method: Spanned<String>,
    url: Spanned<String>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    body: Option<Spanned<BodyNode>>,
    success: Option<Spanned<RawSuccess>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuccess {
    status: Option<Vec<Spanned<i64>>>,
    json_pointer: Option<Spanned<String>>,
    equals: Option<Spanned<BodyNode>>,
}

/// A step's `compensation`: a request, or the string `"none"`.
#[derive(Debug)]
enum RawCompensation {
    None,
    Http(Box<RawHttp>),
}

impl<'de> Deserialize<'de> for RawCompensation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CompensationVisitor;

        impl<'de> Visitor<'de> for CompensationVisitor {
            type Value = RawCompensation;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a table (method, url, ...) or "none""#)
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                if value == "none" {
                    Ok(RawCompensation::None)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(value), &self))
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                // Not `#[serde(untagged)]`: it buffers the value and loses the spans.
                RawHttp::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|http| RawCompensation::Http(Box::new(http)))
            }
        }

        deserializer.deserialize_any(CompensationVisitor)
    }
}

/// A JSON-like value with the span of every node, so an error inside a body names its
/// line and path.
#[derive(Debug)]
enum BodyNode {
    Null,
    Bool(bool),
    Integer(i64),
    Unsigned(u64),
    Float(f64),
    String(String),
    Array(Vec<Spanned<BodyNode>>),
    Table(Vec<(String, Spanned<BodyNode>)>),
}

/// How toml hands a datetime to `deserialize_any`: a one-entry map with this key.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for BodyNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BodyVisitor;

        impl<'de> Visitor<'de> for BodyVisitor {
            type Value = BodyNode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(BodyNode::Null)
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(BodyNode::Bool(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(BodyNode::Integer(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(BodyNode::Unsigned(v))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(BodyNode::Float(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BodyNode::String(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(BodyNode::String(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<BodyNode>>()? {
                    items.push(item);
                }
                Ok(BodyNode::Array(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == TOML_DATETIME_KEY {
                        // A TOML date/time goes into JSON as its RFC 3339 text.
                        return Ok(BodyNode::String(map.next_value()?));
                    }
                    entries.push((key, map.next_value::<Spanned<BodyNode>>()?));
                }
                Ok(BodyNode::Table(entries))
            }
        }

        deserializer.deserialize_any(BodyVisitor)
    }
}

// ---- checking and building -----------------------------------------------------------

/// Where a value sits, for error messages: `saga "checkout" step "charge-card"`.
#[derive(Debug, Clone)]
struct Context {
    saga: String,
    step: Option<String>,
}

impl Context {
    fn field(&self, relative: &str) -> String {
        let mut field = format!("saga {:?}", self.saga);
        if let Some(step) = &self.step {
            field.push_str(&format!(" step {step:?}"));
        }
        if !relative.is_empty() {
            field.push(' ');
            field.push_str(relative);
        }
        field
    }
}

/// Which step outputs an HTTP spec may read.
#[derive(Debug, Clone, Copy)]
struct Visibility<'a> {
    /// Every step of the saga, in order.
    steps: &'a [String],
    index: usize,
    /// A compensation also sees its own step's forward output.
    compensation: bool,
}

struct Loader<'a> {
    source: &'a str,
    file: &'a str,
    client: &'a Client,
}

type Result<T, E = TomlDefinitionError> = std::result::Result<T, E>;

impl Loader<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.source.len());
        self.source.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error(
        &self,
        span: Range<usize>,
        field: String,
        message: impl Into<String>,
    ) -> TomlDefinitionError {
        TomlDefinitionError {
            file: self.file.to_owned(),
            line: self.line(span.start),
            field,
            message: message.into(),
        }
    }

    /// A syntax or shape error from toml, with the field found from its position.
    fn toml_error(&self, error: &toml::de::Error) -> TomlDefinitionError {
        let span = error.span().unwrap_or(0..0);
        let message = error
            .message()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        TomlDefinitionError {
            file: self.file.to_owned(),
            line: self.line(span.start),
            field: field_at(self.source, span.start),
            message,
        }
    }

    fn file(&self, raw: RawFile) -> Result<Vec<SagaDefinition>> {
        if raw.saga.is_empty() {
            return Err(self.error(
                0..0,
                String::new(),
                "the file defines no saga (expected [[saga]] tables)",
            ));
        }
        let mut definitions: Vec<(SagaDefinition, usize)> = Vec::new();
        for saga in raw.saga {
            let span = saga.span();
            let name_span = saga.get_ref().name.span();
            let definition = self.saga(span, saga.into_inner())?;
            if let Some((_, first)) = definitions.iter().find(|(d, _)| d.name == definition.name) {
                return Err(self.error(
                    name_span,
                    format!("saga {:?} name", definition.name),
                    format!("saga name used twice (first on line {first})"),
                ));
            }
            let line = self.line(name_span.start);
            definitions.push((definition, line));
        }
        Ok(definitions.into_iter().map(|(d, _)| d).collect())
    }

    fn saga(&self, span: Range<usize>, raw: RawSaga) -> Result<SagaDefinition> {
        let name = raw.name.get_ref().trim().to_owned();
        if name.is_empty() {
            return Err(self.error(raw.name.span(), "saga name".into(), "is empty"));
        }
        let cx = Context {
            saga: name.clone(),
            step: None,
        };
        let mut builder = SagaDefinition::builder(name.clone());

        if let Some(deadline) = &raw.deadline {
            builder = builder.deadline(self.duration(deadline, &cx, "deadline")?);
        }
        if let Some(order) = &raw.compensation {
            builder = builder.compensation_order(match order.get_ref().as_str() {
                "reverse" => CompensationOrder::Reverse,
                "parallel" => CompensationOrder::Parallel,
                other => {
                    return Err(self.error(
                        order.span(),
                        cx.field("compensation"),
                        format!(r#"{other:?} is not "reverse" or "parallel""#),
                    ));
                }
            });
        }
        if let Some(policy) = &raw.on_step_failure {
            builder = builder.on_step_failure(match policy.get_ref().as_str() {
                "compensate" => OnStepFailure::Compensate,
                "hold" => OnStepFailure::Hold,
                other => {
                    return Err(self.error(
                        policy.span(),
                        cx.field("on_step_failure"),
                        format!(r#"{other:?} is not "compensate" or "hold""#),
                    ));
                }
            });
        }
        builder = builder.continue_past_failed_compensation(
            raw.continue_past_failed_compensation.unwrap_or(false),
        );

        if raw.step.is_empty() {
            return Err(self.error(
                span,
                cx.field("step"),
                "the saga has no steps (add [[saga.step]] tables)",
            ));
        }
        // Names first, so a reference to a later step can be told from an unknown one.
        let names: Vec<String> = raw
            .step
            .iter()
            .map(|step| step.get_ref().name.get_ref().trim().to_owned())
            .collect();
        for (index, step) in raw.step.iter().enumerate() {
            let name_span = step.get_ref().name.span();
            if names[index].is_empty() {
                return Err(self.error(
                    name_span,
                    format!("saga {name:?} step #{} name", index + 1),
                    "is empty",
                ));
            }
            if let Some(first) = raw.step[..index]
                .iter()
                .position(|other| other.get_ref().name.get_ref().trim() == names[index])
            {
                let first_line = self.line(raw.step[first].get_ref().name.span().start);
                return Err(self.error(
                    name_span,
                    format!("saga {name:?} step {:?} name", names[index]),
                    format!("duplicate step name (first on line {first_line})"),
                ));
            }
        }
        for (index, step) in raw.step.into_iter().enumerate() {
            let visibility = Visibility {
                steps: &names,
                index,
                compensation: false,
            };
            builder = builder.step(self.step(&cx, step, visibility)?);
        }
        builder
            .build()
            .map_err(|e| self.error(span, cx.field(""), e.reason))
    }

    fn step(
        &self,
        saga: &Context,
        raw: Spanned<RawStep>,
        visibility: Visibility<'_>,
    ) -> Result<StepDefinition> {
        let span = raw.span();
        let raw = raw.into_inner();
        let name = visibility.steps[visibility.index].clone();
        let cx = Context {
            saga: saga.saga.clone(),
            step: Some(name.clone()),
        };

        let action = self.http(&cx, "action", raw.action, visibility)?;
        let mut step = StepDefinition::new(name, action);
        if let Some(timeout) = &raw.timeout {
            step = step.timeout(self.duration(timeout, &cx, "timeout")?);
        }
        if let Some(retry) = &raw.retry {
            step = step.retry(self.retry(retry, &cx, "retry", RetryDefaults::FORWARD)?);
        }
        if let Some(retry) = &raw.compensation_retry {
            step = step.compensation_retry(self.retry(
                retry,
                &cx,
                "compensation_retry",
                RetryDefaults::COMPENSATION,
            )?);
        }
        match raw.compensation {
            None => {
                return Err(self.error(
                    span,
                    cx.field("compensation"),
                    "missing compensation where required: add a [saga.step.compensation] \
                     table, or compensation = \"none\" when the step has nothing to undo",
                ));
            }
            Some(compensation) => match compensation.into_inner() {
                RawCompensation::None => {}
                RawCompensation::Http(http) => {
                    let visibility = Visibility {
                        compensation: true,
                        ..visibility
                    };
                    let compensation = self.http(&cx, "compensation", *http, visibility)?;
                    step = step.compensate_with(compensation);
                }
            },
        }
        Ok(step)
    }

    fn duration(&self, value: &Spanned<String>, cx: &Context, field: &str) -> Result<Duration> {
        let text = value.get_ref();
        let duration = humantime::parse_duration(text).map_err(|e| {
            self.error(
                value.span(),
                cx.field(field),
                format!("bad duration {text:?}: {e}"),
            )
        })?;
        if duration.is_zero() {
            return Err(self.error(value.span(), cx.field(field), "must be longer than zero"));
        }
        Ok(duration)
    }

    fn retry(
        &self,
        raw: &Spanned<RawRetry>,
        cx: &Context,
        field: &str,
        defaults: RetryDefaults,
    ) -> Result<RetryPolicy> {
        let retry = raw.get_ref();
        let attempts = match &retry.attempts {
            None => defaults.attempts,
            Some(attempts) => u32::try_from(*attempts.get_ref())
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| {
                    self.error(
                        attempts.span(),
                        cx.field(&format!("{field}.attempts")),
                        format!(
                            "{} is not a number of attempts (1 or more)",
                            attempts.get_ref()
                        ),
                    )
                })?,
        };
        let backoff = match &retry.backoff {
            None => defaults.backoff,
            Some(value) => self.duration(value, cx, &format!("{field}.backoff"))?,
        };
        let max_backoff = match &retry.max_backoff {
            None => defaults.max_backoff.max(backoff),
            Some(value) => self.duration(value, cx, &format!("{field}.max_backoff"))?,
        };
        if max_backoff < backoff {
            let span = retry.max_backoff.as_ref().map_or(raw.span(), Spanned::span);
            return Err(self.error(
                span,
                cx.field(&format!("{field}.max_backoff")),
                format!(
                    "{} is shorter than backoff {}",
                    humantime::format_duration(max_backoff),
                    humantime::format_duration(backoff)
                ),
            ));
        }
        Ok(RetryPolicy::new(
            attempts,
            Backoff::new(backoff, max_backoff),
        ))
    }

    /// An action or compensation; `field` is `action` or `compensation`.
    fn http(
        &self,
        cx: &Context,
        field: &str,
        raw: RawHttp,
        visibility: Visibility<'_>,
    ) -> Result<Arc<dyn StepAction>> {
        let at = |sub: &str| cx.field(&format!("{field}.{sub}"));

        let method_text = raw.method.get_ref().trim().to_ascii_uppercase();
        if !METHODS.contains(&method_text.as_str()) {
            return Err(self.error(
                raw.method.span(),
                at("method"),
                format!(
                    "bad method {:?} (expected one of {})",
                    raw.method.get_ref(),
                    METHODS.join(", ")
                ),
            ));
        }
        let method = Method::from_bytes(method_text.as_bytes())
            .map_err(|e| self.error(raw.method.span(), at("method"), format!("bad method: {e}")))?;

        let url = self.template(&raw.url, &at("url"), visibility)?;
        self.check_url(&url, raw.url.span(), &at("url"))?;
        let mut step = HttpStep::new(self.client.clone(), method, url);

        for (name, value) in &raw.headers {
            let field = at(&format!("headers.{name}"));
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                self.error(
                    value.span(),
                    field.clone(),
                    format!("{name:?} is not a header name"),
                )
            })?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(self.error(
                    value.span(),
                    field,
                    format!("{header} is set by the step itself"),
                ));
            }
            step = step.header(header, self.template(value, &field, visibility)?);
        }

        if let Some(body) = &raw.body {
            step = step.body(self.body(body, &at("body"), visibility)?);
        }

        if let Some(success) = &raw.success {
            step = step.success(self.success(success, &at("success"))?);
        }
        Ok(Arc::new(step))
    }

    fn template(
        &self,
        value: &Spanned<String>,
        field: &str,
        visibility: Visibility<'_>,
    ) -> Result<Template> {
        let template = Template::parse(value.get_ref())
            .map_err(|e| self.error(value.span(), field.to_owned(), e.to_string()))?;
        for (expression, step) in template.step_refs() {
            let problem = match visibility.steps.iter().position(|name| name == step) {
                None => Some(format!("refers to unknown step {step:?}")),
                Some(at) if at > visibility.index => {
                    Some(format!("refers to step {step:?}, which runs later"))
                }
                Some(at) if at == visibility.index && !visibility.compensation => Some(format!(
                    "refers to step {step:?} itself (only its compensation can read its output)"
                )),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                return Err(self.error(
                    value.span(),
                    field.to_owned(),
                    format!("template {expression} {problem}"),
                ));
            }
        }
        Ok(template)
    }

    /// The URL's literal text must make an http URL; expressions are stood in for by `0`,
    /// which is valid as a host, a port and a path segment.
    fn check_url(&self, url: &Template, span: Range<usize>, field: &str) -> Result<()> {
        if !url.starts_with_text() {
            return Ok(());
        }
        let text = url.with_placeholders("0");
        let parsed = Url::parse(&text).map_err(|e| {
            self.error(
                span.clone(),
                field.to_owned(),
                format!("{:?} is not an http URL: {e}", url.source()),
            )
        })?;
        match parsed.scheme() {
            "http" => Ok(()),
            "https" if HTTPS_SUPPORTED => Ok(()),
            "https" => Err(self.error(
                span,
                field.to_owned(),
                format!(
                    "{:?}: https is not supported by this build (no TLS); use http",
                    url.source()
                ),
            )),
            other => Err(self.error(
                span,
                field.to_owned(),
                format!("{:?} is not an http URL (scheme {other:?})", url.source()),
            )),
        }
    }

    fn body(
        &self,
        node: &Spanned<BodyNode>,
        field: &str,
        visibility: Visibility<'_>,
    ) -> Result<BodyTemplate> {
        Ok(match node.get_ref() {
            BodyNode::String(text) => {
                let spanned = Spanned::new(node.span(), text.clone());
                BodyTemplate::String(self.template(&spanned, field, visibility)?)
            }
            BodyNode::Array(items) => BodyTemplate::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.body(item, &format!("{field}[{i}]"), visibility))
                    .collect::<Result<_>>()?,
            ),
            BodyNode::Table(entries) => BodyTemplate::Object(
                entries
                    .iter()
                    .map(|(key, value)| {
                        Ok((
                            key.clone(),
                            self.body(value, &format!("{field}.{key}"), visibility)?,
                        ))
                    })
                    .collect::<Result<_>>()?,
            ),
            _ => BodyTemplate::Literal(self.json(node, field)?),
        })
    }

    /// A node as plain JSON (no templates), for `equals` and body scalars.
    fn json(&self, node: &Spanned<BodyNode>, field: &str) -> Result<Value> {
        Ok(match node.get_ref() {
            BodyNode::Null => Value::Null,
            BodyNode::Bool(v) => Value::Bool(*v),
            BodyNode::Integer(v) => Value::from(*v),
            BodyNode::Unsigned(v) => Value::from(*v),
            BodyNode::Float(v) => serde_json::Number::from_f64(*v)
                .map(Value::Number)
                .ok_or_else(|| {
                    self.error(
                        node.span(),
                        field.to_owned(),
                        format!("{v} has no JSON form"),
                    )
                })?,
            BodyNode::String(v) => Value::String(v.clone()),
            BodyNode::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.json(item, &format!("{field}[{i}]")))
                    .collect::<Result<_>>()?,
            ),
            BodyNode::Table(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| {
                        Ok((key.clone(), self.json(value, &format!("{field}.{key}"))?))
                    })
                    .collect::<Result<_>>()?,
            ),
        })
    }

    fn success(&self, raw: &Spanned<RawSuccess>, field: &str) -> Result<SuccessCriteria> {
        let success = raw.get_ref();
        let mut criteria = SuccessCriteria::default();
        if let Some(codes) = &success.status {
            if codes.is_empty() {
                return Err(self.error(
                    raw.span(),
                    format!("{field}.status"),
                    "is empty (leave it out to accept any 2xx)",
                ));
            }
            for code in codes {
                let value = u16::try_from(*code.get_ref())
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .ok_or_else(|| {
                        self.error(
                            code.span(),
                            format!("{field}.status"),
                            format!("{} is not an HTTP status code", code.get_ref()),
                        )
                    })?;
                criteria.status.push(value);
            }
        }
        if let Some(pointer) = &success.json_pointer {
            let text = pointer.get_ref();
            if !(text.is_empty() || text.starts_with('/')) {
                return Err(self.error(
                    pointer.span(),
                    format!("{field}.json_pointer"),
                    format!(
                        "{text:?} is not a JSON pointer (it starts with `/`, e.g. \"/status\")"
                    ),
                ));
            }
            criteria.json_pointer = Some(text.clone());
        }
        if let Some(equals) = &success.equals {
            if criteria.json_pointer.is_none() {
                return Err(self.error(
                    equals.span(),
                    format!("{field}.equals"),
                    "needs a json_pointer to say what must equal it",
                ));
            }
            criteria.equals = Some(self.json(equals, &format!("{field}.equals"))?);
        }
        Ok(criteria)
    }
}

#[derive(Debug, Clone, Copy)]
struct RetryDefaults {
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
}

impl RetryDefaults {
    /// As [`RetryPolicy::default`].
    const FORWARD: RetryDefaults = RetryDefaults {
        attempts: 3,
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(5),
    };
    /// As [`StepDefinition::new`]'s compensation retry.
    const COMPENSATION: RetryDefaults = RetryDefaults {
        attempts: 5,
        backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(10),
    };
}

// ---- the field at a position, for toml's own errors -----------------------------------

/// The field path at byte `offset` (`saga "checkout" step "charge-card" action.colour`):
/// the innermost key or value of the parsed document whose span holds it. Empty when the
/// document does not parse (a syntax error) or nothing holds the offset.
fn field_at(source: &str, offset: usize) -> String {
    let Ok(document) = DeTable::parse(source) else {
        return String::new();
    };
    let mut located = Vec::new();
    collect_table(document.get_ref(), "", &mut located);
    located
        .into_iter()
        .filter(|(span, _)| span.start <= offset && offset < span.end.max(span.start + 1))
        // Innermost: the shortest span; among equal spans, the longest path.
        .min_by_key(|(span, path)| (span.len(), std::cmp::Reverse(path.len())))
        .map(|(_, path)| path)
        .unwrap_or_default()
}

/// Every key and value with its path. Tables from `[header]`s span only their header,
/// which is why this does not descend by containment.
fn collect_table(table: &DeTable<'_>, prefix: &str, out: &mut Vec<(Range<usize>, String)>) {
    for (key, value) in table {
        let path = join_key(prefix, key.get_ref());
        out.push((key.span(), path.clone()));
        collect_value(value, path, out);
    }
}

fn collect_value(
    value: &Spanned<DeValue<'_>>,
    path: String,
    out: &mut Vec<(Range<usize>, String)>,
) {
    match value.get_ref() {
        DeValue::Table(table) => collect_table(table, &path, out),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                // Elements of `[[saga]]` and `[[saga.step]]` read as `saga "checkout"`.
                let name = item
                    .get_ref()
                    .as_table()
                    .and_then(|table| table.get("name"))
                    .and_then(|name| name.get_ref().as_str());
                let item_path = match name {
                    Some(name) => format!("{path} {name:?}"),
                    None => format!("{path}[{index}]"),
                };
                collect_value(item, item_path, out);
            }
        }
        _ => {}
    }
    out.push((value.span(), path));
}

/// Appends a key: after a named element with a space, else with a dot.
fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else if prefix.ends_with('"') {
        format!("{prefix} {key}")
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::template::Scope;

    fn body_of(body: &str) -> Result<Value> {
        let source = format!(
            "[[saga]]\nname = \"s\"\n[[saga.step]]\nname = \"a\"\ncompensation = \"none\"\n\
             [saga.step.action]\nmethod = \"POST\"\nurl = \"http://127.0.0.1:1/\"\n{body}\n"
        );
        let client = http_step::build_client().expect("client");
        let loader = Loader {
            source: &source,
            file: "t.toml",
            client: &client,
        };
        let raw: RawFile = toml::from_str(&source).map_err(|e| loader.toml_error(&e))?;
        let saga = raw.saga.into_iter().next().expect("a saga").into_inner();
        let step = saga.step.into_iter().next().expect("a step").into_inner();
        let node = step.action.body.expect("a body");
        let names = ["a".to_owned()];
        let visibility = Visibility {
            steps: &names,
            index: 0,
            compensation: false,
        };
        let template = loader.body(&node, "action.body", visibility)?;
        let outputs = BTreeMap::new();
        let scope = Scope {
            saga_id: "id",
            saga_name: "s",
            input: &json!({"n": 5}),
            step_input: None,
            outputs: &outputs,
        };
        Ok(template.render(&scope).expect("renders"))
    }

    #[test]
    fn bodies_keep_toml_types_and_dates_become_text() {
        let body = body_of(
            "body = { n = \"{{ input.n }}\", when = 2026-01-02T03:04:05Z, list = [1, 2.5, true] }",
        )
        .unwrap();
        assert_eq!(
            body,
            json!({"n": 5, "when": "2026-01-02T03:04:05Z", "list": [1, 2.5, true]})
        );
    }

    #[test]
    fn a_float_without_json_form_is_an_error_at_its_line() {
        let error = body_of("[saga.step.action.body]\nok = 1\nbad = nan").unwrap_err();
        assert_eq!((error.line, error.field.as_str()), (11, "action.body.bad"));
    }
}
