//! The `switchyard` command line: import and export, searches, errors, and
//! snapshots of what scripts rely on (help and `--json` output).

mod support;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use support::{db_in, json, path_str, stdout, switchyard};
use switchyard_testkit as kit;

fn write(dir: &tempfile::TempDir, name: &str, contents: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    path_str(&path).to_owned()
}

#[test]
fn export_writes_back_exactly_what_import_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let db = path_str(&db);
    let now = kit::now_nanos();
    let trace_id = vec![0x42; 16];
    let original = kit::traces_request(
        "checkout",
        vec![
            kit::full_span(&trace_id, &[1; 8], &[], "checkout", now),
            kit::full_span(&trace_id, &[2; 8], &[1; 8], "charge-card", now + 10),
        ],
    );
    let file = write(
        &dir,
        "trace.json",
        &serde_json::to_string_pretty(&original).unwrap(),
    );
    let out = stdout(&["import", &file, "--db", db]);
    assert!(
        out.contains("imported 2 spans, 0 data points, 0 log records from 1 requests"),
        "{out}"
    );

    let hex = "42".repeat(16);
    let first = dir.path().join("first.json");
    stdout(&[
        "export",
        "trace",
        &hex,
        "--out",
        path_str(&first),
        "--db",
        db,
    ]);
    let exported: ExportTraceServiceRequest =
        serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    assert_eq!(exported, original, "every field survives import and export");

    // Import the export into a new store and export again: the same bytes.
    let second_db = dir.path().join("second.db");
    stdout(&["import", path_str(&first), "--db", path_str(&second_db)]);
    let second = stdout(&[
        "export",
        "trace",
        &hex,
        "--out",
        "-",
        "--db",
        path_str(&second_db),
    ]);
    assert_eq!(second, std::fs::read_to_string(&first).unwrap());
}

#[test]
fn collector_file_exporter_lines_import_with_all_signals() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let db = path_str(&db);
    let now = kit::now_nanos();
    let lines = [
        serde_json::to_string(&kit::load_request(&mut rand::rng(), 40, now)).unwrap(),
        serde_json::to_string(&kit::metrics_request("payments", now)).unwrap(),
        serde_json::to_string(&kit::logs_request("payments", 3, now, None)).unwrap(),
        serde_json::to_string(&kit::load_request(&mut rand::rng(), 24, now)).unwrap(),
    ];
    let file = write(&dir, "collector.jsonl", &(lines.join("\n") + "\n"));
    let out = stdout(&["import", &file, "--db", db]);
    assert!(
        out.contains("imported 64 spans, 6 data points, 3 log records from 4 requests"),
        "{out}"
    );
    let traces = json(&["traces", "--db", db, "--limit", "100"]);
    assert_eq!(traces.as_array().unwrap().len(), 8);

    // The same file gzipped.
    let gz_db = dir.path().join("gz.db");
    let gz = dir.path().join("collector.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, std::fs::read(&file).unwrap().as_slice()).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    let out = stdout(&["import", path_str(&gz), "--db", path_str(&gz_db)]);
    assert!(out.contains("imported 64 spans"), "{out}");
}

#[test]
fn a_bad_file_is_refused_whole_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let db = path_str(&db);
    let good =
        serde_json::to_string(&kit::load_request(&mut rand::rng(), 8, kit::now_nanos())).unwrap();
    let file = write(
        &dir,
        "bad.jsonl",
        &format!("{good}\n{{\"resourceSpans\": [ nope ]}}\n"),
    );
    let output = switchyard(&["import", &file, "--db", db]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.jsonl:2:"), "{stderr}");
    assert!(
        !std::path::Path::new(db).exists(),
        "nothing was stored, not even a database"
    );

    let short = kit::TRACE_JSON.replace(kit::TRACE_JSON_ID, "5b8e");
    let file = write(&dir, "short.json", &short);
    let output = switchyard(&["import", &file, "--db", db]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("trace_id is 2 bytes, must be 16"),
        "{stderr}"
    );
}

#[test]
fn clear_errors_for_missing_data_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let db = path_str(&db);
    let missing = switchyard(&["traces", "--db", db]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no telemetry database at"));

    let file = write(&dir, "trace.json", kit::TRACE_JSON);
    stdout(&["import", &file, "--db", db]);
    let unknown = switchyard(&["trace", &"ab".repeat(16), "--db", db]);
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains(&format!("no trace {} is stored", "ab".repeat(16)))
    );
    let bad_id = switchyard(&["trace", "xyz", "--db", db]);
    assert!(String::from_utf8_lossy(&bad_id.stderr).contains("is not hex"));
    let bad_attr = switchyard(&["traces", "--attr", "novalue", "--db", db]);
    assert!(String::from_utf8_lossy(&bad_attr.stderr).contains("is not KEY=VALUE"));
    let bad_since = switchyard(&["traces", "--since", "yesterday", "--db", db]);
    assert!(String::from_utf8_lossy(&bad_since.stderr).contains("try 30s, 15m, 2h or 7days"));

    // Beyond loopback, serve wants an API key.
    let open = switchyard(&[
        "serve",
        "--otlp-grpc",
        "0.0.0.0:0",
        "--otlp-http",
        "127.0.0.1:0",
        "--db",
        db,
    ]);
    assert!(!open.status.success());
    assert!(String::from_utf8_lossy(&open.stderr).contains("without an API key"));
}

#[test]
fn search_flags_reach_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let db = path_str(&db);
    let file = write(&dir, "trace.json", kit::TRACE_JSON);
    stdout(&["import", &file, "--db", db]);
    let one = |args: &[&str]| {
        let mut all = vec!["traces", "--db", db];
        all.extend_from_slice(args);
        json(&all).as_array().unwrap().len()
    };
    assert_eq!(one(&[]), 1);
    assert_eq!(one(&["--errors"]), 1);
    assert_eq!(one(&["--service", "checkout"]), 1);
    assert_eq!(one(&["--service", "payments"]), 0);
    assert_eq!(one(&["--name", "saga.step charge-card"]), 1);
    assert_eq!(one(&["--attr", "saga.step.index=1"]), 1);
    assert_eq!(one(&["--attr", "saga.step.index=2"]), 0);
    assert_eq!(one(&["--attr", "deployment.environment=staging"]), 1);
    assert_eq!(one(&["--min-duration", "900ms"]), 1);
    assert_eq!(one(&["--min-duration", "2s"]), 0);
    // The hand-written trace is from 2018.
    assert_eq!(one(&["--since", "1h"]), 0);

    let text = stdout(&["traces", "--db", db]);
    assert!(text.starts_with("TRACE"), "{text}");
    assert!(
        text.contains(kit::TRACE_JSON_ID) && text.contains("2 errors"),
        "{text}"
    );
    let none = stdout(&["traces", "--db", db, "--service", "nobody"]);
    assert_eq!(none, "no traces match\n");
}

#[test]
fn snapshots_of_json_output_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let db = path_str(&db);
    let file = write(&dir, "trace.json", kit::TRACE_JSON);
    stdout(&["import", &file, "--db", db]);
    insta::assert_json_snapshot!(
        "trace_json",
        json(&["trace", kit::TRACE_JSON_ID, "--db", db])
    );
    insta::assert_json_snapshot!("traces_json", json(&["traces", "--db", db]));
    insta::assert_snapshot!(
        "trace_tree",
        stdout(&["trace", kit::TRACE_JSON_ID, "--db", db])
    );
    insta::assert_snapshot!("help", stdout(&["--help"]));
    insta::assert_snapshot!("traces_help", stdout(&["traces", "--help"]));
    insta::assert_snapshot!("serve_help", stdout(&["serve", "--help"]));
    insta::assert_snapshot!("ui_help", stdout(&["ui", "--help"]));
}
