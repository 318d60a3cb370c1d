//! Impact preview, shown in a command's confirmation: which routes, calling services
//! and sagas (with the instances in flight) a breaker trip or a weight change touches,
//! from the call graph observed in recent traces and the routes' traffic.
//!
//! The call graph comes from a sample of recent traces that crossed the subject (a
//! gateway span to the breaker's instance, a span naming the breaker, or a span of the
//! route): for each crossing, the nearest ancestor in another service is the caller,
//! and the nearest `saga.step` ancestor names the saga and step.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;
use switchyard_conventions::{breaker as breaker_conv, route as route_conv, saga as saga_conv};
use switchyard_store::attributes::Value;
use switchyard_store::model::Span;
use switchyard_store::{AttrFilter, Reader, StoreError, TraceQuery, parse_trace_id};

use crate::clock::now_unix_ms;
use crate::clusters::LiveState;
use crate::clusters::command::Command;
use crate::counters::{attr, growth_since};

/// How far back traces and traffic are read.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Traces read per preview.
const SAMPLE: u32 = 60;

/// A route the command touches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteImpact {
    pub route: String,
    /// Of the sampled calls on this route, the share that crossed the subject (percent).
    pub share_percent: f64,
    /// The route's requests per second over the window, when its counter is stored.
    pub requests_per_second: Option<f64>,
}

/// A service whose calls cross the subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallerImpact {
    pub service: String,
    /// Sampled calls.
    pub calls: u64,
}

/// A saga whose steps cross the subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SagaImpact {
    pub saga_name: String,
    pub steps: Vec<String>,
    /// Instances of this saga the agents report running or compensating now.
    pub in_flight: Vec<String>,
}

/// What a command would touch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// One sentence for the confirmation dialog.
    pub summary: String,
    pub routes: Vec<RouteImpact>,
    pub callers: Vec<CallerImpact>,
    pub sagas: Vec<SagaImpact>,
    /// For a weight change: the share of clients that change sides (percent).
    pub clients_moving_percent: Option<u32>,
    pub sampled_traces: usize,
    pub window_seconds: u64,
}

/// The impact of `command` on `cluster`, from the store and the live view.
pub async fn preview(
    reader: &Reader,
    live: &LiveState,
    cluster: &str,
    command: &Command,
) -> Result<Impact, StoreError> {
    let now = now_unix_ms();
    let since = now - WINDOW.as_millis() as i64;
    let (filters, matches, moving): (Vec<Vec<AttrFilter>>, Matcher, Option<u32>) = match command {
        Command::Trip { breaker, .. }
        | Command::Disable { breaker, .. }
        | Command::Reset { breaker }
        | Command::Release { breaker } => {
            let mut filters = vec![vec![attr(breaker_conv::NAME, breaker)]];
            let instance = instance_of(breaker);
            if let Some((ip, port)) = &instance {
                filters.push(vec![attr("server.address", ip), attr("server.port", port)]);
            }
            (filters, Matcher::Breaker(breaker.clone(), instance), None)
        }
        Command::SetWeight { route, new_percent } => {
            let current = live
                .routes(Some(cluster))
                .into_iter()
                .find(|r| &r.name == route)
                .map_or(0, |r| r.new_percent);
            (
                vec![vec![attr(route_conv::NAME, route)]],
                Matcher::Route(route.clone()),
                Some(current.abs_diff(*new_percent)),
            )
        }
        Command::SetShadow { route, .. } => (
            vec![vec![attr(route_conv::NAME, route)]],
            Matcher::Route(route.clone()),
            None,
        ),
        // Saga and fault commands name their subject exactly: nothing to infer.
        _ => {
            return Ok(Impact {
                summary: format!("{} {}", command.action(), command.target()),
                routes: Vec::new(),
                callers: Vec::new(),
                sagas: Vec::new(),
                clients_moving_percent: None,
                sampled_traces: 0,
                window_seconds: WINDOW.as_secs(),
            });
        }
    };

    // A sample of recent traces that crossed the subject.
    let mut trace_ids = BTreeSet::new();
    for attributes in filters {
        let page = reader
            .search_traces(&TraceQuery {
                attributes,
                since_unix_nano: Some(since * 1_000_000),
                limit: SAMPLE,
                ..TraceQuery::default()
            })
            .await?;
        trace_ids.extend(page.traces.into_iter().map(|t| t.trace_id));
    }
    let mut graph = Graph::default();
    for id in trace_ids.iter().take(SAMPLE as usize) {
        if let Some(trace) = reader.trace(&parse_trace_id(id)?).await? {
            graph.add(&trace.spans, &matches);
        }
    }

    let mut routes = Vec::new();
    for (route, (crossed, all)) in &graph.routes {
        let requests = growth_since(
            reader,
            route_conv::REQUESTS_METRIC,
            vec![attr(route_conv::NAME, route)],
            since,
        )
        .await?
        .map(|n| n / WINDOW.as_secs_f64());
        routes.push(RouteImpact {
            route: route.clone(),
            share_percent: 100.0 * *crossed as f64 / (*all).max(1) as f64,
            requests_per_second: requests,
        });
    }
    let running: Vec<_> = live
        .recent_sagas(Some(cluster))
        .into_iter()
        .filter(|s| matches!(s.status.as_str(), "running" | "compensating"))
        .collect();
    let sagas: Vec<SagaImpact> = graph
        .sagas
        .into_iter()
        .map(|(saga_name, steps)| SagaImpact {
            in_flight: running
                .iter()
                .filter(|s| s.name == saga_name)
                .map(|s| s.id.clone())
                .collect(),
            saga_name,
            steps: steps.into_iter().collect(),
        })
        .collect();
    let callers: Vec<CallerImpact> = graph
        .callers
        .into_iter()
        .map(|(service, calls)| CallerImpact { service, calls })
        .collect();

    let mut summary = format!("{} {}", command.action(), command.target());
    if let Some(moving) = moving {
        summary.push_str(&format!(": {moving} % of clients change sides"));
    }
    if !routes.is_empty() {
        let names: Vec<_> = routes.iter().map(|r| r.route.as_str()).collect();
        summary.push_str(&format!("; routes {}", names.join(", ")));
    }
    if !callers.is_empty() {
        let names: Vec<_> = callers.iter().map(|c| c.service.as_str()).collect();
        summary.push_str(&format!("; called by {}", names.join(", ")));
    }
    let in_flight: usize = sagas.iter().map(|s| s.in_flight.len()).sum();
    if !sagas.is_empty() {
        let names: Vec<_> = sagas.iter().map(|s| s.saga_name.as_str()).collect();
        summary.push_str(&format!(
            "; sagas {} ({in_flight} in flight)",
            names.join(", ")
        ));
    }
    if trace_ids.is_empty() {
        summary.push_str(" (no traffic seen in the last 15 minutes)");
    }
    Ok(Impact {
        summary,
        routes,
        callers,
        sagas,
        clients_moving_percent: moving,
        sampled_traces: trace_ids.len().min(SAMPLE as usize),
        window_seconds: WINDOW.as_secs(),
    })
}

/// `upstream.{cluster}.{ip}:{port}` → (ip, port).
fn instance_of(breaker: &str) -> Option<(String, String)> {
    let rest = breaker.strip_prefix("upstream.")?;
    let (_, address) = rest.split_once('.')?;
    let (ip, port) = address.rsplit_once(':')?;
    Some((ip.to_owned(), port.to_owned()))
}

/// Which spans cross the subject.
enum Matcher {
    /// The breaker's name, and the instance address of a gateway breaker.
    Breaker(String, Option<(String, String)>),
    Route(String),
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

impl Matcher {
    fn crosses(&self, span: &Span) -> bool {
        let get = |key: &str| text(span.attributes.get(key));
        match self {
            Matcher::Breaker(name, instance) => {
                get(breaker_conv::NAME).as_deref() == Some(name.as_str())
                    || instance.as_ref().is_some_and(|(ip, port)| {
                        get("server.address").as_deref() == Some(ip.as_str())
                            && get("server.port").as_deref() == Some(port.as_str())
                    })
            }
            Matcher::Route(route) => get(route_conv::NAME).as_deref() == Some(route.as_str()),
        }
    }
}

/// Tallies of the sampled traces.
#[derive(Default)]
struct Graph {
    /// Route → (calls that crossed the subject, all calls of the route).
    routes: BTreeMap<String, (u64, u64)>,
    callers: BTreeMap<String, u64>,
    sagas: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn add(&mut self, spans: &[Span], matcher: &Matcher) {
        let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
        for span in spans {
            let crosses = matcher.crosses(span);
            if let Some(route) = text(span.attributes.get(route_conv::NAME)) {
                let tally = self.routes.entry(route).or_default();
                tally.1 += 1;
                if crosses {
                    tally.0 += 1;
                }
            }
            if !crosses {
                continue;
            }
            // Up the tree: the first span of another service is the caller; the first
            // saga step is the saga's.
            let mut caller = None;
            let mut step = None;
            let mut parent = by_id.get(span.parent_span_id.as_str());
            while let Some(p) = parent {
                if caller.is_none() && p.service != span.service {
                    caller = Some(p.service.clone());
                }
                if step.is_none()
                    && let (Some(saga), Some(name)) = (
                        text(p.attributes.get(saga_conv::NAME)),
                        text(p.attributes.get(saga_conv::STEP_NAME)),
                    )
                {
                    step = Some((saga, name));
                }
                parent = by_id.get(p.parent_span_id.as_str());
            }
            if let Some(caller) = caller {
                *self.callers.entry(caller).or_default() += 1;
            }
            if let Some((saga, name)) = step {
                self.sagas.entry(saga).or_default().insert(name);
            }
        }
    }
}
