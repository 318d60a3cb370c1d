//! SQL conditions built from a query, with their bound values.

use sqlx::Sqlite;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::sqlite::SqliteArguments;

use super::{AttrFilter, TraceQuery};
use crate::attributes::{filter_candidates, json_path};

/// A value to bind.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    OptText(Option<String>),
}

/// `AND`-joined conditions and the values their placeholders take, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    terms: Vec<String>,
    pub(crate) args: Vec<Arg>,
}

impl Conditions {
    pub(crate) fn push(&mut self, term: impl Into<String>, args: impl IntoIterator<Item = Arg>) {
        self.terms.push(term.into());
        self.args.extend(args);
    }

    /// The conditions as SQL, `1` when there are none.
    pub(crate) fn sql(&self) -> String {
        if self.terms.is_empty() {
            "1".to_owned()
        } else {
            self.terms.join(" AND ")
        }
    }

    /// A condition on the JSON attributes in `column` (and, when given, on
    /// the attributes of the row's resource).
    pub(crate) fn push_attribute(
        &mut self,
        column: &str,
        resource_column: Option<&str>,
        filter: &AttrFilter,
    ) {
        let path = json_path(&filter.key);
        let (quoted, literal) = filter_candidates(&filter.value);
        let on_row = format!("{column} -> ? IN (?, ?)");
        let args = [
            Arg::Text(path.clone()),
            Arg::Text(quoted.clone()),
            Arg::OptText(literal.clone()),
        ];
        match resource_column {
            None => self.push(on_row, args),
            Some(resource_id) => self.push(
                format!(
                    "({on_row} OR {resource_id} IN \
                     (SELECT id FROM resources WHERE attributes -> ? IN (?, ?)))"
                ),
                args.into_iter()
                    .chain([Arg::Text(path), Arg::Text(quoted), Arg::OptText(literal)]),
            ),
        }
    }
}

/// The conditions a span (alias `s`) must meet to match a trace search.
pub(crate) fn span_conditions(q: &TraceQuery) -> Conditions {
    let mut c = Conditions::default();
    if let Some(service) = &q.service {
        c.push(
            "s.resource_id IN (SELECT id FROM resources WHERE service_name = ?)",
            [Arg::Text(service.clone())],
        );
    }
    if let Some(name) = &q.span_name {
        c.push("s.name = ?", [Arg::Text(name.clone())]);
    }
    if q.errors_only {
        // Literal, not bound: lets SQLite use the partial index on errors.
        c.push("s.status_code = 2", []);
    }
    if let Some(since) = q.since_unix_nano {
        c.push("s.start_time >= ?", [Arg::Int(since)]);
    }
    if let Some(until) = q.until_unix_nano {
        c.push("s.start_time <= ?", [Arg::Int(until)]);
    }
    if let Some(min) = q.min_duration_ns {
        c.push("s.end_time - s.start_time >= ?", [Arg::Int(min)]);
    }
    for filter in &q.attributes {
        c.push_attribute("s.attributes", Some("s.resource_id"), filter);
    }
    c
}

/// Binding [`Arg`]s onto the kinds of sqlx query this crate uses.
pub(crate) trait BindArgs: Sized {
    fn bind_arg(self, arg: &Arg) -> Self;

    fn bind_args<'a>(mut self, args: impl IntoIterator<Item = &'a Arg>) -> Self {
        for arg in args {
            self = self.bind_arg(arg);
        }
        self
    }
}

macro_rules! impl_bind_args {
    ($($ty:ty),*) => {$(
        impl<'q, T> BindArgs for $ty {
            fn bind_arg(self, arg: &Arg) -> Self {
                match arg {
                    Arg::Int(v) => self.bind(*v),
                    Arg::Text(v) => self.bind(v.clone()),
                    Arg::OptText(v) => self.bind(v.clone()),
                }
            }
        }
    )*};
}

impl_bind_args!(
    QueryAs<'q, Sqlite, T, SqliteArguments<'q>>,
    QueryScalar<'q, Sqlite, T, SqliteArguments<'q>>
);

impl<'q> BindArgs for Query<'q, Sqlite, SqliteArguments<'q>> {
    fn bind_arg(self, arg: &Arg) -> Self {
        match arg {
            Arg::Int(v) => self.bind(*v),
            Arg::Text(v) => self.bind(v.clone()),
            Arg::OptText(v) => self.bind(v.clone()),
        }
    }
}
