//! `switchyard plot breaker`: breaker metrics sent over OTLP/gRPC to a running
//! `switchyard serve`, then charted from the store by the real binary.
//!
//! Set `SWITCHYARD_PLOTS_OUT=DIR` to keep the chart for a look.

mod support;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use support::{ServeProcess, db_in, path_str, serve, switchyard};
use switchyard_testkit as kit;

const SEC: u64 = 1_000_000_000;

/// Ten minutes of one breaker, a point every 10 s ending a minute ago: closed,
/// open from minute 3 (failure rate 60 %, 2 rejected calls/s), half-open at
/// minute 5, closed again from minute 6.
fn breaker_metrics(service: &str, breaker: &str, now: u64) -> ExportMetricsServiceRequest {
    let start = now - 11 * 60 * SEC;
    let times: Vec<u64> = (0..60).map(|i| start + i * 10 * SEC).collect();
    let minute = |t: u64| (t - start) / (60 * SEC);
    let point = |t: u64, value, outcome: Option<&str>| {
        let mut attributes = vec![kit::kv_str("breaker.name", breaker)];
        if let Some(outcome) = outcome {
            attributes.push(kit::kv_str("breaker.outcome", outcome));
        }
        NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: t,
            value: Some(value),
            ..Default::default()
        }
    };
    let state = |t| match minute(t) {
        3 | 4 => 1,
        5 => 2,
        _ => 0,
    };
    let rate = |t| {
        if (3..6).contains(&minute(t)) {
            60.0
        } else {
            2.0
        }
    };
    let mut rejected = 0;
    let rejected_so_far: Vec<i64> = times
        .iter()
        .map(|&t| {
            if state(t) == 1 {
                rejected += 20;
            }
            rejected
        })
        .collect();
    let metric = |name: &str, unit: &str, data| Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    };
    let metrics = vec![
        metric(
            "breaker.state",
            "1",
            metric::Data::Gauge(Gauge {
                data_points: times
                    .iter()
                    .map(|&t| point(t, number_data_point::Value::AsInt(state(t)), None))
                    .collect(),
            }),
        ),
        metric(
            "breaker.failure_rate",
            "%",
            metric::Data::Gauge(Gauge {
                data_points: times
                    .iter()
                    .map(|&t| point(t, number_data_point::Value::AsDouble(rate(t)), None))
                    .collect(),
            }),
        ),
        metric(
            "breaker.calls",
            "{call}",
            metric::Data::Sum(Sum {
                data_points: times
                    .iter()
                    .zip(&rejected_so_far)
                    .map(|(&t, &n)| point(t, number_data_point::Value::AsInt(n), Some("rejected")))
                    .collect(),
                aggregation_temporality: 2, // cumulative, as the agent exports
                is_monotonic: true,
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(kit::resource(service)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(kit::scope()),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// `switchyard ARGS`, expecting success; returns stderr.
#[track_caller]
fn plot(args: &[&str]) -> String {
    let output = switchyard(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "switchyard {args:?} failed: {stderr}"
    );
    stderr
}

/// Exports `requests` over OTLP/gRPC on a runtime of their own, closed
/// before returning: an open connection would hold up serve's shutdown.
fn export(serve: &ServeProcess, requests: Vec<ExportMetricsServiceRequest>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = MetricsServiceClient::connect(serve.grpc_url())
            .await
            .expect("connects");
        for request in requests {
            client.export(request).await.expect("accepted");
        }
    });
}

#[test]
fn plot_breaker_charts_stored_history_as_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let serve = serve(&db);
    let now = kit::now_nanos();
    export(
        &serve,
        vec![
            breaker_metrics("checkout", "payments", now),
            breaker_metrics("checkout", "inventory", now),
            breaker_metrics("orders", "payments", now),
        ],
    );
    let db = path_str(&db);

    let png = dir.path().join("payments.png");
    let stderr = plot(&[
        "plot",
        "breaker",
        "payments",
        "--service",
        "checkout",
        "--out",
        path_str(&png),
        "--db",
        db,
        "--since",
        "15m",
    ]);
    assert!(stderr.contains("wrote"), "{stderr}");
    let bytes = std::fs::read(&png).unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(&bytes))
        .read_info()
        .expect("a PNG");
    assert_eq!((reader.info().width, reader.info().height), (1000, 500));
    if let Some(keep) = std::env::var_os("SWITCHYARD_PLOTS_OUT") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&png, std::path::Path::new(&keep).join("cli-breaker.png")).unwrap();
    }

    let svg = dir.path().join("payments.svg");
    plot(&[
        "plot",
        "breaker",
        "payments",
        "--service",
        "checkout",
        "--out",
        path_str(&svg),
        "--db",
        db,
        "--since",
        "15m",
        "--size",
        "800x400",
    ]);
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.contains(r#"width="800""#), "sized as asked");
    for name in [
        "Breaker payments: state and failure rate",
        "failure rate (%)",
        "rejected calls/s",
        "state: closed",
        "state: open",
        "state: half_open",
    ] {
        assert!(svg.contains(name), "the chart shows {name:?}");
    }
    assert!(!svg.contains("no data in this range"));

    // Two services have a breaker "payments": the command asks which.
    let output = switchyard(&[
        "plot",
        "breaker",
        "payments",
        "--out",
        path_str(&dir.path().join("x.svg")),
        "--db",
        db,
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "services checkout, orders each have a breaker \"payments\": choose one with --service"
        ),
        "{stderr}"
    );

    // A breaker with no telemetry gets an empty chart that says so.
    let empty = dir.path().join("nothing.svg");
    let stderr = plot(&[
        "plot",
        "breaker",
        "ledger",
        "--out",
        path_str(&empty),
        "--db",
        db,
    ]);
    assert!(
        stderr.contains("no telemetry from breaker \"ledger\""),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(&empty)
            .unwrap()
            .contains("no data in this range")
    );

    // A file name that names no format is refused before anything is written.
    let jpg = dir.path().join("payments.jpg");
    let output = switchyard(&[
        "plot",
        "breaker",
        "inventory",
        "--out",
        path_str(&jpg),
        "--db",
        db,
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("name it .svg or .png"));
    assert!(!jpg.exists());
    serve.stop();
}

#[test]
fn plot_breaker_help_is_stable() {
    insta::assert_snapshot!(
        "plot_breaker_help",
        support::stdout(&["plot", "breaker", "--help"])
    );
}
