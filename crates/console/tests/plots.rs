//! The charts, rendered from realistic data to SVG and PNG: the PNG decodes at
//! the size asked for, and the SVG names the title, series and legend entries.
//! No pixel snapshots: fonts and anti-aliasing may change between versions.
//!
//! Set `SWITCHYARD_PLOTS_OUT=DIR` to keep the images for a look.

use std::path::PathBuf;

use switchyard_console::plot::{
    Annotation, BreakerTimeline, LatencyHistogram, OutcomeCounts, Plot, PlotError, RouteThroughput,
    SagaOutcomes, Sample, Size, StateChange, ThroughputSeries, TimeRange, render_png, render_svg,
    write_file,
};
use switchyard_conventions::breaker::BreakerState;

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
/// 2026-11-26T11:00:00Z
const T0: i64 = 1_795_690_800 * SEC;

fn hour() -> TimeRange {
    TimeRange::new(T0, T0 + 60 * MIN)
}

/// An incident: payments fail from 11:20, the breaker opens and probes until
/// it recovers at 11:25; alice trips it at 11:40 and bob resets it at 11:50.
fn breaker_incident() -> BreakerTimeline {
    use BreakerState::*;
    let states = [
        (-5, Closed),
        (21, Open),
        (22, HalfOpen),
        (22, Open),
        (24, HalfOpen),
        (25, Closed),
        (40, ForcedOpen),
        (50, Closed),
    ];
    let every_15s = (0..240).map(|i| T0 + i * 15 * SEC);
    let rate = |t: i64| match (t - T0) / MIN {
        20..=24 => 55.0 + ((t / SEC) % 7) as f64,
        _ => 1.5 + ((t / SEC) % 3) as f64 * 0.5,
    };
    let rejected = |t: i64| match (t - T0) / MIN {
        21 | 23 => 38.0,
        40..=49 => 52.0,
        _ => 0.0,
    };
    BreakerTimeline {
        breaker: "payments".into(),
        range: hour(),
        states: states
            .iter()
            .map(|&(m, s)| StateChange::new(T0 + m * MIN, s))
            .collect(),
        failure_rate: every_15s.clone().map(|t| Sample::new(t, rate(t))).collect(),
        rejected_per_s: every_15s.map(|t| Sample::new(t, rejected(t))).collect(),
        annotations: vec![
            Annotation::new(T0 + 40 * MIN, "trip by alice"),
            Annotation::new(T0 + 50 * MIN, "reset by bob"),
        ],
    }
}

fn checkout_latency() -> LatencyHistogram {
    // Mostly 20-60 ms, a slow tail to 400 ms.
    let durations: Vec<i64> = (0..2000)
        .map(|i: i64| {
            let base = 20 + (i * 37 % 41);
            let tail = if i % 50 == 0 { 300 + i % 100 } else { 0 };
            (base + tail) * 1_000_000 + i * 1_000
        })
        .collect();
    LatencyHistogram::from_durations("POST /checkout", &durations, 40)
}

/// A strangler-fig migration: traffic moves from legacy to new in steps.
fn catalogue_migration() -> RouteThroughput {
    let weight_new = |t: i64| match (t - T0) / MIN {
        ..15 => 0.0,
        15..30 => 0.1,
        30..45 => 0.5,
        _ => 1.0,
    };
    let every_30s: Vec<i64> = (0..120).map(|i| T0 + i * 30 * SEC).collect();
    let total = |t: i64| 200.0 + ((t / SEC) % 11) as f64;
    RouteThroughput {
        route: "catalogue".into(),
        range: hour(),
        series: vec![
            ThroughputSeries::new(
                "legacy",
                every_30s
                    .iter()
                    .map(|&t| Sample::new(t, total(t) * (1.0 - weight_new(t))))
                    .collect(),
            ),
            ThroughputSeries::new(
                "new",
                every_30s
                    .iter()
                    .map(|&t| Sample::new(t, total(t) * weight_new(t)))
                    .collect(),
            ),
        ],
        annotations: vec![
            Annotation::new(T0 + 15 * MIN, "new=10 by carol"),
            Annotation::new(T0 + 30 * MIN, "new=50 by carol"),
            Annotation::new(T0 + 45 * MIN, "new=100 by carol"),
        ],
    }
}

fn checkout_outcomes() -> SagaOutcomes {
    SagaOutcomes {
        saga_name: Some("checkout".into()),
        range: hour(),
        interval_ns: 5 * MIN,
        intervals: (0..12)
            .map(|i| OutcomeCounts {
                start_unix_nano: T0 + i * 5 * MIN,
                completed: 90 + (i as u64 * 7) % 13,
                compensated: if i == 4 { 35 } else { 3 },
                failed: u64::from(i == 4 || i == 5),
                running: if i == 11 { 6 } else { 0 },
            })
            .collect(),
        annotations: vec![Annotation::new(T0 + 26 * MIN, "retry 12 by dave")],
    }
}

/// Renders `plot` both ways, checks the PNG's size, and returns the SVG.
#[track_caller]
fn render_both(name: &str, plot: &impl Plot) -> String {
    let size = Size::new(1100, 520);
    let png = render_png(plot, size).expect("renders a PNG");
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let reader = decoder.read_info().expect("a valid PNG");
    let info = reader.info();
    assert_eq!((info.width, info.height), (1100, 520));
    let svg = render_svg(plot, size).expect("renders an SVG");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains(r#"width="1100""#) && svg.contains(r#"height="520""#));
    if let Some(dir) = std::env::var_os("SWITCHYARD_PLOTS_OUT") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        std::fs::write(dir.join(format!("{name}.svg")), &svg).unwrap();
    }
    svg
}

/// The contents of the SVG's `<text>` elements.
fn texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>'))
        .filter_map(|(_, rest)| rest.split_once("</text>"))
        .map(|(text, _)| text.trim())
        .collect()
}

#[track_caller]
fn assert_names(svg: &str, names: &[&str]) {
    let texts = texts(svg);
    for name in names {
        assert!(
            texts.contains(name),
            "the SVG shows {name:?} among {texts:?}"
        );
    }
}

/// The pixels of a PNG, as RGB triples.
fn pixels(png: &[u8]) -> Vec<[u8; 3]> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    buf[..frame.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect()
}

#[test]
fn breaker_timeline_shows_states_rates_and_commands() {
    let svg = render_both("breaker", &breaker_incident());
    assert_names(
        &svg,
        &[
            "Breaker payments: state and failure rate",
            "failure rate (%)",
            "rejected calls/s",
            "state: closed",
            "state: open",
            "state: half_open",
            "state: forced_open",
            "trip by alice",
            "reset by bob",
            "time (UTC, 2026-11-26)",
            "11:10",
            "11:50",
        ],
    );
    // States that never happened get no legend entry.
    assert!(!texts(&svg).contains(&"state: disabled"));

    // Open is red (Okabe & Ito's vermillion), closed green, in the PNG too.
    let png = render_png(&breaker_incident(), Size::default()).unwrap();
    let pixels = pixels(&png);
    assert!(pixels.contains(&[213, 94, 0]), "an open band");
    assert!(pixels.contains(&[0, 158, 115]), "a closed band");
}

#[test]
fn latency_histogram_marks_percentiles() {
    let histogram = checkout_latency();
    let p99 = histogram.percentiles.p99_ns.unwrap();
    assert!(p99 > 300_000_000, "the slow tail is the p99: {p99}");
    let svg = render_both("latency", &histogram);
    assert_names(
        &svg,
        &[
            "Latency of POST /checkout",
            "duration (ms)",
            "spans per bucket",
            "spans",
            "p50",
            "p95",
            "p99",
        ],
    );
    let p50 = texts(&svg).into_iter().find(|t| t.starts_with("p50 "));
    assert!(
        p50.is_some_and(|t| t.ends_with(" ms")),
        "p50 labelled with its value: {p50:?}"
    );
}

#[test]
fn route_throughput_has_a_line_per_target() {
    let svg = render_both("throughput", &catalogue_migration());
    assert_names(
        &svg,
        &[
            "Throughput of route catalogue",
            "requests/s",
            "legacy",
            "new",
            "new=50 by carol",
        ],
    );
}

#[test]
fn saga_outcomes_stack_every_outcome() {
    let svg = render_both("sagas", &checkout_outcomes());
    assert_names(
        &svg,
        &[
            "Outcomes of saga checkout",
            "sagas per 5m",
            "completed",
            "compensated",
            "failed",
            "running",
            "retry 12 by dave",
        ],
    );
}

#[test]
fn empty_data_says_so_instead_of_failing() {
    let empty_range = TimeRange::new(T0, T0);
    let breaker = BreakerTimeline {
        states: Vec::new(),
        failure_rate: Vec::new(),
        rejected_per_s: Vec::new(),
        ..breaker_incident()
    };
    let route = RouteThroughput {
        series: vec![ThroughputSeries::new("legacy", Vec::new())],
        ..catalogue_migration()
    };
    let sagas = SagaOutcomes {
        intervals: Vec::new(),
        ..checkout_outcomes()
    };
    let backwards = SagaOutcomes {
        range: empty_range,
        ..checkout_outcomes()
    };
    let latency = LatencyHistogram::from_durations("GET /nothing", &[], 20);

    for (name, svg) in [
        ("breaker-empty", render_both("breaker-empty", &breaker)),
        ("route-empty", render_both("route-empty", &route)),
        ("sagas-empty", render_both("sagas-empty", &sagas)),
        ("sagas-no-range", render_both("sagas-no-range", &backwards)),
        ("latency-empty", render_both("latency-empty", &latency)),
    ] {
        assert!(texts(&svg).contains(&"no data in this range"), "{name}");
    }
    let breaker_svg = render_svg(&breaker, Size::default()).unwrap();
    assert_names(
        &breaker_svg,
        &[
            "Breaker payments: state and failure rate",
            "2026-11-26 11:00:00 – 12:00:00 UTC",
        ],
    );

    // The message is drawn with the embedded font: dark text pixels exist
    // even on a machine without fonts.
    let png = render_png(&latency, Size::default()).unwrap();
    assert!(pixels(&png).iter().any(|p| p.iter().all(|&c| c < 80)));
}

#[test]
fn files_are_written_in_the_format_their_name_says() {
    let dir = tempfile::tempdir().unwrap();
    let plot = checkout_outcomes();
    let png = dir.path().join("sagas.PNG");
    let svg = dir.path().join("sagas.svg");
    write_file(&plot, Size::new(640, 360), &png).unwrap();
    write_file(&plot, Size::new(640, 360), &svg).unwrap();
    assert!(
        std::fs::read(&png)
            .unwrap()
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));

    let err = write_file(&plot, Size::default(), &dir.path().join("sagas.jpg")).unwrap_err();
    assert!(matches!(err, PlotError::UnknownFormat(_)));
    assert!(err.to_string().contains("name it .svg or .png"), "{err}");
}

#[test]
fn sizes_out_of_bounds_are_refused() {
    for size in [Size::new(0, 0), Size::new(100, 500), Size::new(9000, 500)] {
        let err = render_png(&checkout_outcomes(), size).unwrap_err();
        assert!(matches!(err, PlotError::Size { .. }), "{err}");
    }
    let err = render_svg(&checkout_outcomes(), Size::new(10, 10)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a plot must be 320x200 to 8000x8000 pixels, not 10x10"
    );
}
