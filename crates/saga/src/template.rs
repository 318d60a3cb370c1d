//! Templates for HTTP steps: strings with `{{ expr }}` placeholders filled from the saga's
//! context when a step runs.
//!
//! An expression is a path, optionally with fallbacks:
//!
//! - `input.a.b` — the saga's input;
//! - `steps.<step-name>.output.x.y` — the output of an earlier step (names may contain `-`);
//! - `saga.id`, `saga.name`;
//! - `step.input.x` — the step input an operator edited for a retry; `null` (and every path
//!   under it `null`) when there is none;
//! - array elements by index: `input.items.0.sku`;
//! - `a ?? b ?? "literal"` — the first alternative that has a non-null value; the last may
//!   be a JSON literal (`"EUR"`, `0`, `true`, `null`). Typical use:
//!   `{{ step.input.amount ?? input.amount }}`.
//!
//! A string that is exactly one `{{ expr }}` (no text or spaces around it) keeps the JSON
//! type of the value: `"{{ input.items }}"` becomes an array. Anything else renders to a
//! string: strings are inserted raw, other values as JSON text. Values are inserted
//! verbatim (no percent-encoding in URLs). `{{` always opens an expression; there is no
//! escape for a literal `{{`.
//!
//! Templates are parsed when the definition is loaded, so syntax errors and references to
//! unknown steps are found then ([`Template::step_refs`]); a path that has no value at run
//! time is a [`RenderError`].
//!
//! Hand-written rather than a template engine: engines (minijinja, handlebars, tera) render
//! to text only, and the type-preserving single expression is the point here; the grammar
//! is a dotted path.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::step::StepContext;

/// What a template's expressions can read: built from the [`StepContext`] of an attempt.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub saga_id: &'a str,
    pub saga_name: &'a str,
    pub input: &'a Value,
    pub step_input: Option<&'a Value>,
    pub outputs: &'a BTreeMap<String, Value>,
}

impl<'a> Scope<'a> {
    pub fn from_context(cx: &'a StepContext) -> Self {
        Scope {
            saga_id: &cx.saga_id,
            saga_name: &cx.saga_name,
            input: &cx.input,
            step_input: cx.step_input.as_ref(),
            outputs: &cx.outputs,
        }
    }
}

/// A template that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad template {template:?}: {reason}")]
pub struct TemplateError {
    pub template: String,
    pub reason: String,
}

/// An expression that has no value when rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {expression}: no value at {path}")]
pub struct RenderError {
    /// The expression as `{{ ... }}`.
    pub expression: String,
    /// The path up to the first segment that was missing.
    pub path: String,
}

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    Input,
    StepOutput(String),
    SagaId,
    SagaName,
    StepInput,
}

#[derive(Debug, Clone, PartialEq)]
enum Alternative {
    Path { root: Root, segments: Vec<String> },
    Literal(Value),
}

/// One `{{ ... }}`: alternatives separated by `??`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    source: String,
    alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Expression(Expression),
}

/// A parsed string template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// A JSON value whose strings are templates (an HTTP body).
#[derive(Debug, Clone, PartialEq)]
pub enum BodyTemplate {
    /// A number, boolean or null, sent as is.
    Literal(Value),
    String(Template),
    Array(Vec<BodyTemplate>),
    Object(Vec<(String, BodyTemplate)>),
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{ {} }}}}", self.source)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Expression {
    fn parse(source: &str) -> Result<Self, String> {
        let source = source.trim();
        if source.is_empty() {
            return Err("empty {{ }}".into());
        }
        let pieces: Vec<&str> = source.split("??").map(str::trim).collect();
        let mut alternatives = Vec::with_capacity(pieces.len());
        for (index, piece) in pieces.iter().enumerate() {
            let alternative = parse_alternative(piece)?;
            if matches!(alternative, Alternative::Literal(_)) && index + 1 < pieces.len() {
                return Err(format!(
                    "{{{{ {source} }}}}: the literal {piece} must be the last alternative"
                ));
            }
            alternatives.push(alternative);
        }
        Ok(Expression {
            source: source.to_owned(),
            alternatives,
        })
    }

    /// The step names this expression reads outputs of.
    pub fn step_refs(&self) -> impl Iterator<Item = &str> {
        self.alternatives
            .iter()
            .filter_map(|alternative| match alternative {
                Alternative::Path {
                    root: Root::StepOutput(step),
                    ..
                } => Some(step.as_str()),
                _ => None,
            })
    }

    /// The first alternative with a non-null value; else `null` if the last one is a
    /// present `null`; else the last alternative's missing path.
    pub fn evaluate<'s>(&self, scope: &Scope<'s>) -> Result<Cow<'s, Value>, RenderError> {
        let mut last = Err(String::new());
        for alternative in &self.alternatives {
            last = match alternative {
                Alternative::Literal(value) => return Ok(Cow::Owned(value.clone())),
                Alternative::Path { root, segments } => resolve(root, segments, scope),
            };
            if let Ok(value) = &last
                && !value.is_null()
            {
                break;
            }
        }
        last.map_err(|path| RenderError {
            expression: self.to_string(),
            path,
        })
    }
}

fn is_segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn parse_alternative(piece: &str) -> Result<Alternative, String> {
    if piece.is_empty() {
        return Err("empty alternative around `??`".into());
    }
    let first = piece.chars().next().unwrap_or(' ');
    if first == '"'
        || first == '-'
        || first.is_ascii_digit()
        || ["true", "false", "null"].contains(&piece)
    {
        return serde_json::from_str(piece)
            .map(Alternative::Literal)
            .map_err(|e| format!("{piece} is not a JSON literal: {e}"));
    }
    let segments: Vec<&str> = piece.split('.').collect();
    if let Some(bad) = segments
        .iter()
        .find(|segment| segment.is_empty() || !segment.chars().all(is_segment_char))
    {
        return Err(if bad.is_empty() {
            format!("{piece}: empty path segment")
        } else {
            format!("{piece}: path segment {bad:?} may only hold letters, digits, `_` and `-`")
        });
    }
    let rest = |from: usize| segments[from..].iter().map(|s| (*s).to_owned()).collect();
    let (root, segments) = match segments.as_slice() {
        ["input", ..] => (Root::Input, rest(1)),
        ["steps", step, "output", ..] => (Root::StepOutput((*step).to_owned()), rest(3)),
        ["steps", step, ..] => {
            return Err(format!(
                "{piece}: write steps.{step}.output to read that step's output"
            ));
        }
        ["saga", "id"] => (Root::SagaId, Vec::new()),
        ["saga", "name"] => (Root::SagaName, Vec::new()),
        ["step", "input", ..] => (Root::StepInput, rest(2)),
        _ => {
            return Err(format!(
                "{piece}: unknown path (expected input..., steps.<name>.output..., \
                 saga.id, saga.name or step.input...)"
            ));
        }
    };
    Ok(Alternative::Path { root, segments })
}

/// The value at a path, or the path up to the first missing segment.
fn resolve<'s>(
    root: &Root,
    segments: &[String],
    scope: &Scope<'s>,
) -> Result<Cow<'s, Value>, String> {
    let (mut path, start): (String, &'s Value) = match root {
        Root::SagaId => return Ok(Cow::Owned(Value::String(scope.saga_id.to_owned()))),
        Root::SagaName => return Ok(Cow::Owned(Value::String(scope.saga_name.to_owned()))),
        Root::Input => ("input".into(), scope.input),
        Root::StepInput => match scope.step_input {
            Some(value) => ("step.input".into(), value),
            // No operator edit: the whole subtree reads as null, so templates can fall
            // back with `??` instead of failing on every ordinary run.
            None => return Ok(Cow::Owned(Value::Null)),
        },
        Root::StepOutput(step) => {
            let path = format!("steps.{step}.output");
            match scope.outputs.get(step) {
                Some(value) => (path, value),
                None => return Err(format!("{path} (the step has no recorded output)")),
            }
        }
    };
    let mut current = start;
    for segment in segments {
        path.push('.');
        path.push_str(segment);
        let next = match current {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        current = next.ok_or_else(|| path.clone())?;
    }
    Ok(Cow::Borrowed(current))
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let error = |reason: String| TemplateError {
            template: source.to_owned(),
            reason,
        };
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after_open = &rest[open + 2..];
            let close = after_open
                .find("}}")
                .ok_or_else(|| error("`{{` without a closing `}}`".into()))?;
            let inner = &after_open[..close];
            if inner.contains("{{") {
                return Err(error("`{{` inside `{{ }}`".into()));
            }
            parts.push(Part::Expression(Expression::parse(inner).map_err(error)?));
            rest = &after_open[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template {
            source: source.to_owned(),
            parts,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The template's expressions, in order.
    pub fn expressions(&self) -> impl Iterator<Item = &Expression> {
        self.parts.iter().filter_map(|part| match part {
            Part::Expression(expression) => Some(expression),
            Part::Text(_) => None,
        })
    }

    /// Every `(expression, step name)` whose output this template reads.
    pub fn step_refs(&self) -> impl Iterator<Item = (&Expression, &str)> {
        self.expressions()
            .flat_map(|expression| expression.step_refs().map(move |step| (expression, step)))
    }

    /// The template with each expression replaced by `placeholder`, for static checks of
    /// the literal text (is this URL http?).
    pub fn with_placeholders(&self, placeholder: &str) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.as_str(),
                Part::Expression(_) => placeholder,
            })
            .collect()
    }

    /// True when the template starts with literal text (not an expression).
    pub fn starts_with_text(&self) -> bool {
        matches!(self.parts.first(), Some(Part::Text(_)))
    }

    /// Renders, keeping the value's JSON type when the template is exactly one expression.
    pub fn render(&self, scope: &Scope<'_>) -> Result<Value, RenderError> {
        if let [Part::Expression(expression)] = self.parts.as_slice() {
            return Ok(expression.evaluate(scope)?.into_owned());
        }
        self.render_string(scope).map(Value::String)
    }

    /// Renders to text (URLs, headers): strings raw, other values as JSON.
    pub fn render_string(&self, scope: &Scope<'_>) -> Result<String, RenderError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expression(expression) => match expression.evaluate(scope)?.as_ref() {
                    Value::String(text) => out.push_str(text),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Ok(out)
    }
}

impl BodyTemplate {
    /// A body template from JSON: every string is parsed as a [`Template`].
    pub fn parse(value: &Value) -> Result<Self, TemplateError> {
        Ok(match value {
            Value::String(text) => BodyTemplate::String(Template::parse(text)?),
            Value::Array(items) => BodyTemplate::Array(
                items
                    .iter()
                    .map(BodyTemplate::parse)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => BodyTemplate::Object(
                map.iter()
                    .map(|(key, value)| Ok((key.clone(), BodyTemplate::parse(value)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => BodyTemplate::Literal(other.clone()),
        })
    }

    pub fn render(&self, scope: &Scope<'_>) -> Result<Value, RenderError> {
        Ok(match self {
            BodyTemplate::Literal(value) => value.clone(),
            BodyTemplate::String(template) => template.render(scope)?,
            BodyTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.render(scope))
                    .collect::<Result<_, _>>()?,
            ),
            BodyTemplate::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), value.render(scope)?)))
                    .collect::<Result<_, RenderError>>()?,
            ),
        })
    }

    /// Every template in the body, depth first.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'t>(&'t self, out: &mut Vec<&'t Template>) {
        match self {
            BodyTemplate::Literal(_) => {}
            BodyTemplate::String(template) => out.push(template),
            BodyTemplate::Array(items) => items.iter().for_each(|item| item.collect(out)),
            BodyTemplate::Object(entries) => {
                entries.iter().for_each(|(_, value)| value.collect(out));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scope<'a>(
        input: &'a Value,
        step_input: Option<&'a Value>,
        outputs: &'a BTreeMap<String, Value>,
    ) -> Scope<'a> {
        Scope {
            saga_id: "s-1",
            saga_name: "checkout",
            input,
            step_input,
            outputs,
        }
    }

    #[test]
    fn single_expression_keeps_the_type_and_mixed_text_renders_a_string() {
        let input = json!({"items": [{"sku": "A", "qty": 2}], "total": 12.5});
        let outputs = BTreeMap::from([("reserve-stock".to_owned(), json!({"id": 7}))]);
        let scope = scope(&input, None, &outputs);
        let render = |source: &str| Template::parse(source).unwrap().render(&scope).unwrap();
        assert_eq!(render("{{ input.items }}"), json!([{"sku": "A", "qty": 2}]));
        assert_eq!(render("{{input.items.0.qty}}"), json!(2));
        assert_eq!(render("{{ steps.reserve-stock.output.id }}"), json!(7));
        assert_eq!(
            render("r-{{ steps.reserve-stock.output.id }}"),
            json!("r-7")
        );
        assert_eq!(
            render("{{ saga.name }}/{{ saga.id }}"),
            json!("checkout/s-1")
        );
        assert_eq!(render(" {{ input.total }}"), json!(" 12.5"));
        assert_eq!(
            render("{{ input.items.0 }}!"),
            json!(r#"{"sku":"A","qty":2}!"#)
        );
        assert_eq!(render("plain"), json!("plain"));
    }

    #[test]
    fn step_input_is_null_when_absent_and_fallbacks_apply() {
        let input = json!({"amount": 10});
        let outputs = BTreeMap::new();
        let template = Template::parse("{{ step.input.amount ?? input.amount }}").unwrap();
        assert_eq!(
            template.render(&scope(&input, None, &outputs)).unwrap(),
            json!(10)
        );
        let edited = json!({"amount": 8});
        assert_eq!(
            template
                .render(&scope(&input, Some(&edited), &outputs))
                .unwrap(),
            json!(8)
        );
        let bare = Template::parse("{{ step.input.amount }}").unwrap();
        assert_eq!(
            bare.render(&scope(&input, None, &outputs)).unwrap(),
            Value::Null
        );
        let literal = Template::parse(r#"{{ input.currency ?? "EUR" }}"#).unwrap();
        assert_eq!(
            literal.render(&scope(&input, None, &outputs)).unwrap(),
            json!("EUR")
        );
    }

    #[test]
    fn a_missing_path_names_the_first_missing_segment() {
        let input = json!({"a": {"b": 1}});
        let outputs = BTreeMap::new();
        let scope = scope(&input, None, &outputs);
        let error = Template::parse("x{{ input.a.c.d }}")
            .unwrap()
            .render(&scope)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "template {{ input.a.c.d }}: no value at input.a.c"
        );
        let error = Template::parse("{{ steps.pay.output.id }}")
            .unwrap()
            .render(&scope)
            .unwrap_err();
        assert!(error.path.starts_with("steps.pay.output"), "{error}");
    }

    #[test]
    fn syntax_errors_are_found_at_parse_time() {
        for bad in [
            "{{ input.a",
            "{{ }}",
            "{{ inptu.a }}",
            "{{ steps.pay.id }}",
            "{{ saga.owner }}",
            "{{ input..a }}",
            "{{ input.a b }}",
            r#"{{ "x" ?? input.a }}"#,
        ] {
            assert!(Template::parse(bad).is_err(), "{bad} parsed");
        }
        let template = Template::parse("{{ steps.a-b.output ?? steps.c.output.x }}").unwrap();
        let refs: Vec<&str> = template.step_refs().map(|(_, step)| step).collect();
        assert_eq!(refs, ["a-b", "c"]);
    }

    #[test]
    fn body_templates_render_recursively() {
        let input = json!({"sku": "A", "n": 3});
        let outputs = BTreeMap::new();
        let body = BodyTemplate::parse(&json!({
            "order": "{{ saga.id }}",
            "lines": [{"sku": "{{ input.sku }}", "qty": "{{ input.n }}", "gift": false}],
        }))
        .unwrap();
        assert_eq!(
            body.render(&scope(&input, None, &outputs)).unwrap(),
            json!({"order": "s-1", "lines": [{"sku": "A", "qty": 3, "gift": false}]})
        );
        assert_eq!(body.templates().len(), 3);
    }
}
