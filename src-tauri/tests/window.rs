//! The desktop app end to end, in a real window: Xvfb, tauri-driver and WebKitWebDriver
//! drive the built app, which starts its store, its receiver and the demo cluster.
//!
//! Needs `Xvfb`, `tauri-driver` and `WebKitWebDriver` (the test fails, saying how to
//! install them, when one is missing), and `switchyard-agent` built beside the app.
//! Screenshots of every view go to `<target>/screenshots/desktop/`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Desktop, Display, Driver, Group, Session, procs};

const APP: &str = env!("CARGO_BIN_EXE_switchyard-desktop");
/// The demo must connect and report; the UI must load and ask.
const STARTUP: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_secs(20);

fn screenshots() -> PathBuf {
    let dir = support::target_dir(Path::new(APP)).join("screenshots/desktop");
    std::fs::create_dir_all(&dir).expect("the screenshots folder");
    dir
}

/// Waits until the overview shows the demo cluster's agent connected.
#[track_caller]
fn wait_for_demo(session: &Session) {
    session.wait_for("[data-cluster=demo]", STARTUP);
    session.wait_until("[data-testid=agent-health]", STARTUP, |s, e| {
        s.text(e).trim() == "connected"
    });
}

fn shoot(session: &Session, dir: &Path, name: &str) {
    // Let the view's first answers arrive before the picture.
    std::thread::sleep(Duration::from_millis(600));
    let path = dir.join(format!("{name}.png"));
    session.screenshot(&path);
    println!("screenshot {}", path.display());
}

#[test]
fn the_app_opens_on_the_demo_cluster_and_drives_it() {
    let display = Display::start();
    let desktop = Desktop::new(Path::new(APP));
    let driver = Driver::start(&display, &desktop.launch);
    let session = driver.session(&desktop.launch);
    let shots = screenshots();
    println!("screenshots in {}", shots.display());

    wait_for_demo(&session);
    session.wait_for("main[data-view=overview]", SHORT);
    shoot(&session, &shots, "overview");

    // The api command answers like the HTTP API, errors included.
    let clusters = session.api("GET", "/api/clusters", None);
    assert_eq!(clusters["status"], 200, "{clusters}");
    assert!(
        clusters["contentType"]
            .as_str()
            .unwrap_or("")
            .contains("json")
    );
    assert!(
        clusters["body"].as_str().unwrap_or("").contains("\"demo\""),
        "{clusters}"
    );
    let missing = session.api("GET", "/api/no-such-endpoint", None);
    assert_eq!(missing["status"], 404, "{missing}");

    failed_saga(&session, &shots);
    traces(&session, &shots);
    for view in ["routes", "findings", "history", "settings"] {
        open_view(&session, view);
        shoot(&session, &shots, view);
    }
    // The dark theme, on the views with the most colour.
    let theme = session.wait_for("[data-testid=theme]", SHORT);
    session.click(&theme);
    session.wait_script(
        "return document.documentElement.dataset.theme === 'dark';",
        SHORT,
    );
    open_view(&session, "overview");
    shoot(&session, &shots, "overview-dark");
    session.route("#/sagas?failed");
    session.wait_for("tr[data-saga-id]", SHORT);
    shoot(&session, &shots, "sagas-dark");
    let theme = session.wait_for("[data-testid=theme]", SHORT);
    session.click(&theme);
    breaker_trip_and_reset(&session, &shots);
    session.delete();
}

/// Opens a view through its nav link and waits for it.
#[track_caller]
fn open_view(session: &Session, view: &str) {
    let link = session.wait_for(&format!("a[data-nav={view}]"), SHORT);
    session.click(&link);
    session.wait_for(&format!("main[data-view={view}]"), SHORT);
}

/// The demo's checkout saga fails sometimes: open a failed one, check its failing step.
fn failed_saga(session: &Session, shots: &Path) {
    session.route("#/sagas?failed");
    let row = session.wait_for("tr[data-saga-id]", STARTUP);
    shoot(session, shots, "sagas");
    let id = session
        .attribute(&row, "data-saga-id")
        .expect("the row's saga id");
    let listed = session.api("GET", "/api/sagas?failed&limit=500", None);
    let sagas: Value = serde_json::from_str(listed["body"].as_str().unwrap_or("null")).unwrap();
    let sagas = sagas
        .get("sagas")
        .unwrap_or(&sagas)
        .as_array()
        .cloned()
        .unwrap_or_default();
    let saga = sagas
        .iter()
        .find(|s| s["saga_id"] == id.as_str())
        .unwrap_or_else(|| panic!("saga {id} is not among the failed sagas the API lists"));
    let failed_step = saga["failed_step"].as_str().unwrap_or_default().to_owned();

    // The row's link to its saga (WebKitWebDriver finds a bare <tr> not interactable).
    match session.find_in(&row, "a[data-open]").into_iter().next() {
        Some(link) => session.click(&link),
        None => session.click(&row),
    }
    let flow = session.wait_for("[data-testid=saga-flow]", SHORT);
    let shown = session.wait_for("[data-testid=failing-step]", SHORT);
    assert_eq!(
        session.text(&shown).trim(),
        failed_step,
        "saga {id}'s failing step"
    );
    assert!(
        !session
            .find_in(&flow, "[data-step-status=failed]")
            .is_empty(),
        "saga {id}'s flow marks no failed step"
    );
    shoot(session, shots, "saga");
}

/// Trips a closed breaker from the board, sees it open, resets it, sees it closed.
fn breaker_trip_and_reset(session: &Session, shots: &Path) {
    open_view(session, "breakers");
    let closed = session.wait_until("[data-breaker]", STARTUP, |s, e| {
        s.attribute(e, "data-state").as_deref() == Some("closed")
    });
    let name = session
        .attribute(&closed, "data-breaker")
        .expect("a breaker name");
    shoot(session, shots, "breakers");
    let row = format!("[data-breaker=\"{name}\"]");
    command(session, &row, "trip");
    session.wait_until(&row, SHORT, |s, e| {
        s.attribute(e, "data-state").as_deref() == Some("open")
    });
    shoot(session, shots, "breaker-open");
    command(session, &row, "reset");
    session.wait_until(&row, SHORT, |s, e| {
        s.attribute(e, "data-state").as_deref() == Some("closed")
    });
}

/// Clicks `action` on the board row, confirms, reads the agent's answer, closes.
#[track_caller]
fn command(session: &Session, row: &str, action: &str) {
    // The row re-renders on live changes, and the last dialog may still be closing:
    // find the button again until a click lands.
    let deadline = Instant::now() + SHORT;
    loop {
        let row_element = session.wait_for(row, SHORT);
        let button = session
            .find_in(&row_element, &format!("button[data-action={action}]"))
            .into_iter()
            .next();
        let clicked = match button {
            Some(button) => session.try_click(&button),
            None => Err(format!("no {action} button on {row}")),
        };
        match clicked {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => panic!("cannot {action} {row}: {e}"),
        }
    }
    let confirm = session.wait_for("[data-testid=confirm]", SHORT);
    session.click(&confirm);
    let answer = session.wait_for("[data-testid=answer]", SHORT);
    assert!(
        !session.text(&answer).trim().is_empty(),
        "an empty answer to {action}"
    );
    let close = session.wait_for("[data-testid=close]", SHORT);
    session.click(&close);
}

/// The trace search, then one trace's waterfall (the demo's traces).
fn traces(session: &Session, shots: &Path) {
    open_view(session, "traces");
    shoot(session, shots, "traces");
    let listed = session.api("GET", "/api/traces?limit=1", None);
    let body: Value = serde_json::from_str(listed["body"].as_str().unwrap_or("null")).unwrap();
    let trace_id = body["traces"][0]["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace in {body}"))
        .to_owned();
    session.route(&format!("#/traces/{trace_id}"));
    session.wait_for("[data-testid=waterfall] [data-span-id]", SHORT);
    shoot(session, shots, "trace");
}

/// The app without WebDriver, on `display`.
fn launch(display: &Display, desktop: &Desktop) -> Group {
    Group::spawn(
        "switchyard-desktop",
        Command::new(APP)
            .args(&desktop.launch.args)
            .envs(desktop.launch.env.iter().map(|(k, v)| (k, v)))
            .env("DISPLAY", display.env())
            .stdout(Stdio::null())
            .stderr(support::log_stdio()),
    )
}

/// Waits for the app's demo cluster: its agent's pid, and the clusters file's endpoint.
#[track_caller]
fn wait_for_demo_process(app: &mut Group, desktop: &Desktop) -> (u32, String) {
    let file = desktop.dir.path().join("clusters.toml");
    let deadline = Instant::now() + STARTUP;
    loop {
        app.assert_running();
        let agent = procs::find(app.pid(), "switchyard-agent");
        let endpoint = std::fs::read_to_string(&file).ok().and_then(|text| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix("endpoint = "))
                .map(|e| e.trim_matches('"').to_owned())
        });
        if let (Some(agent), Some(endpoint)) = (agent, endpoint) {
            return (agent, endpoint);
        }
        assert!(Instant::now() < deadline, "the app started no demo cluster");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[track_caller]
fn signal(app: &Group, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(app.pid() as i32), signal)
        .expect("signal the app");
}

#[track_caller]
fn wait_gone(pid: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while procs::alive(pid) && !is_zombie(pid) {
        assert!(
            Instant::now() < deadline,
            "{what} (pid {pid}) is still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Closing the app (SIGTERM, as a session manager does) ends its demo cluster and
/// removes it from the clusters file, so the next launch starts a fresh one.
#[test]
fn a_closed_app_stops_its_demo_cluster_and_forgets_it() {
    let display = Display::start();
    let desktop = Desktop::new(Path::new(APP));
    let mut app = launch(&display, &desktop);
    let (agent, _) = wait_for_demo_process(&mut app, &desktop);
    signal(&app, nix::sys::signal::Signal::SIGTERM);
    let status = app.child.wait().expect("the app exits");
    assert!(status.success(), "the app exited with {status}");
    wait_gone(agent, "the demo");
    let file =
        std::fs::read_to_string(desktop.dir.path().join("clusters.toml")).unwrap_or_default();
    assert!(
        !file.contains("endpoint"),
        "the demo cluster is still in the clusters file:\n{file}"
    );
    assert!(
        !desktop.dir.path().join("clusters.toml.demo").exists(),
        "the marker is left"
    );
}

/// A killed app leaves no demo running (the kernel ends it with the app), and the next
/// launch replaces the demo cluster the killed one left in the clusters file.
#[test]
fn a_killed_app_takes_its_demo_cluster_with_it() {
    let display = Display::start();
    let desktop = Desktop::new(Path::new(APP));
    let mut app = launch(&display, &desktop);
    let (agent, endpoint) = wait_for_demo_process(&mut app, &desktop);
    // SIGKILL: no exit handler runs; only the parent-death signal can end the demo.
    signal(&app, nix::sys::signal::Signal::SIGKILL);
    let _ = app.child.wait();
    wait_gone(agent, "the demo outlived the killed app:");
    drop(app);

    let mut again = launch(&display, &desktop);
    let (_, fresh) = wait_for_demo_process(&mut again, &desktop);
    assert_ne!(fresh, endpoint, "the stale demo cluster was kept");
    signal(&again, nix::sys::signal::Signal::SIGTERM);
    let _ = again.child.wait();
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}
