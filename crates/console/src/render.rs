//! Text output for people: tables and the trace tree. (`--json` output is the
//! store's model serialized as is.)

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use switchyard_store::model::{
    MetricSeries, ServiceSummary, Span, StatusCode, Trace, TraceSummary,
};

/// `2026-11-26T05:31:08.123Z`.
pub fn time(unix_nano: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_nanos(unix_nano.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

/// `850µs`, `12.3ms`, `1.20s`, `3m05s`.
pub fn duration(ns: i64) -> String {
    let ns = ns.max(0) as f64;
    if ns < 1_000.0 {
        format!("{ns:.0}ns")
    } else if ns < 1_000_000.0 {
        format!("{:.0}µs", ns / 1_000.0)
    } else if ns < 1_000_000_000.0 {
        format!("{:.1}ms", ns / 1_000_000.0)
    } else if ns < 60_000_000_000.0 {
        format!("{:.2}s", ns / 1_000_000_000.0)
    } else {
        let s = (ns / 1_000_000_000.0) as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Left-aligned columns separated by two spaces.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

pub fn trace_summaries(traces: &[TraceSummary]) -> String {
    if traces.is_empty() {
        return "no traces match\n".to_owned();
    }
    let rows: Vec<Vec<String>> = traces
        .iter()
        .map(|t| {
            vec![
                t.trace_id.clone(),
                time(t.start_unix_nano),
                duration(t.duration_ns),
                t.span_count.to_string(),
                if t.error {
                    format!(
                        "{} error{}",
                        t.error_count,
                        if t.error_count == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                },
                t.service.clone(),
                t.root_name.clone(),
            ]
        })
        .collect();
    table(
        &[
            "TRACE", "START", "DURATION", "SPANS", "ERRORS", "SERVICE", "ROOT",
        ],
        &rows,
    )
}

/// The trace as an indented tree: each span under its parent, children by
/// start time; spans whose parent is missing start their own tree.
pub fn trace_tree(trace: &Trace) -> String {
    let spans = &trace.spans;
    let start = spans.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_unix_nano).max().unwrap_or(start);
    let mut services: Vec<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let mut out = format!(
        "trace {} · {} span{} · {} · {}\n",
        trace.trace_id,
        spans.len(),
        if spans.len() == 1 { "" } else { "s" },
        duration(end - start),
        services.join(", ")
    );

    let index: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        match index.get(span.parent_span_id.as_str()) {
            Some(&parent) if parent != i => children[parent].push(i),
            _ => roots.push(i),
        }
    }
    // Spans are ordered by start time already; keep that order among siblings.
    // An explicit stack: traces can be deeper than the call stack is comfortable with.
    let mut stack: Vec<(usize, String, bool, bool)> = roots
        .iter()
        .rev()
        .enumerate()
        .map(|(n, &i)| (i, String::new(), n == 0, true))
        .collect();
    let mut visited = vec![false; spans.len()];
    while let Some((i, prefix, last, root)) = stack.pop() {
        if std::mem::replace(&mut visited[i], true) {
            continue; // a parent cycle in bad data
        }
        let branch = if root {
            ""
        } else if last {
            "└─ "
        } else {
            "├─ "
        };
        let _ = writeln!(out, "{prefix}{branch}{}", span_line(&spans[i], start));
        let child_prefix = if root {
            prefix.clone()
        } else if last {
            format!("{prefix}   ")
        } else {
            format!("{prefix}│  ")
        };
        for (n, &c) in children[i].iter().rev().enumerate() {
            stack.push((c, child_prefix.clone(), n == 0, false));
        }
    }
    out
}

fn span_line(span: &Span, trace_start: i64) -> String {
    let mut line = format!(
        "{} {} [{}] +{} {}",
        span.name,
        span.kind.as_str(),
        span.service,
        duration(span.start_unix_nano - trace_start),
        duration(span.duration_ns())
    );
    if span.status.code == StatusCode::Error {
        line.push_str("  ERROR");
        if !span.status.message.is_empty() {
            let _ = write!(line, ": {}", span.status.message);
        }
    }
    line
}

pub fn services(services: &[ServiceSummary]) -> String {
    if services.is_empty() {
        return "no services have sent telemetry yet\n".to_owned();
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.resources.to_string(),
                time(s.first_seen_unix_nano),
                time(s.last_seen_unix_nano),
            ]
        })
        .collect();
    table(&["SERVICE", "RESOURCES", "FIRST SEEN", "LAST SEEN"], &rows)
}

pub fn metric_series(name: &str, series: &[MetricSeries]) -> String {
    if series.is_empty() {
        return format!("no points of metric {name} match\n");
    }
    let mut out = String::new();
    for s in series {
        let attrs = serde_json::to_string(&s.attributes).unwrap_or_default();
        let mut kind = serde_json::to_value(s.metric_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if !s.temporality.is_empty() {
            let _ = write!(kind, ", {}", s.temporality);
        }
        if s.monotonic {
            kind.push_str(", monotonic");
        }
        let unit = if s.unit.is_empty() {
            String::new()
        } else {
            format!(" [{}]", s.unit)
        };
        let _ = writeln!(out, "{}{unit} ({kind}) · {} · {attrs}", s.name, s.service);
        let rows: Vec<Vec<String>> = s
            .points
            .iter()
            .map(|p| {
                vec![
                    time(p.time_unix_nano),
                    p.samples.to_string(),
                    number(p.min),
                    number(p.mean),
                    number(p.max),
                    number(p.last),
                    p.count.map(|c| c.to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        for line in table(
            &["TIME", "SAMPLES", "MIN", "MEAN", "MAX", "LAST", "COUNT"],
            &rows,
        )
        .lines()
        {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}").trim_end_matches('0').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850), "850ns");
        assert_eq!(duration(850_000), "850µs");
        assert_eq!(duration(12_300_000), "12.3ms");
        assert_eq!(duration(1_200_000_000), "1.20s");
        assert_eq!(duration(185_000_000_000), "3m05s");
        assert_eq!(time(1_700_000_000_123_000_000), "2023-11-14T22:13:20.123Z");
        assert_eq!(number(42.0), "42");
        assert_eq!(number(12.5), "12.5");
    }
}
