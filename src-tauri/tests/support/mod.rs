//! Drives the real app in a real window: Xvfb, `tauri-driver` (over `WebKitWebDriver`)
//! and a small W3C WebDriver client over blocking HTTP. Shared by `tests/window.rs`
//! and `benches/desktop.rs`. Everything started here is killed on drop.

// Each user (the test, the bench) uses a different part of the harness.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const INSTALL: &str = "`cargo xtask test` installs what the desktop tests need; by hand: \
     apt-get install xvfb webkit2gtk-driver && cargo install tauri-driver --version ^2 --locked";

/// A program on `PATH` (or in `~/.cargo/bin`), or a failure that says how to install it.
#[track_caller]
pub(crate) fn require_tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} is missing: the desktop tests need it. {INSTALL}"))
}

/// The app's and the drivers' stderr: shown with `SWITCHYARD_DESKTOP_LOG=1`.
pub(crate) fn log_stdio() -> Stdio {
    if std::env::var_os("SWITCHYARD_DESKTOP_LOG").is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    }
}

/// A free TCP port on loopback.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The workspace's target dir, from the app's path (`<target>/<profile>/switchyard-desktop`).
pub(crate) fn target_dir(app: &Path) -> PathBuf {
    app.parent()
        .and_then(Path::parent)
        .expect("the app is in <target>/<profile>/")
        .to_owned()
}

/// A child in its own process group, the whole group killed on drop (so what it
/// started, like WebKitWebDriver and the app under it, goes with it).
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) child: Child,
    name: &'static str,
}

impl Group {
    pub(crate) fn spawn(name: &'static str, command: &mut Command) -> Group {
        let child = command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Group { child, name }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    #[track_caller]
    pub(crate) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited: {status}", self.name);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (the leader may be gone, its children not).
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A virtual X display.
#[derive(Debug)]
pub(crate) struct Display {
    pub(crate) number: u32,
    _server: Group,
}

impl Display {
    /// Starts `Xvfb` on a display number nobody uses: Xvfb picks it (`-displayfd`) and
    /// says which on stdout, so parallel tests never race for one.
    pub(crate) fn start() -> Display {
        let xvfb = require_tool("Xvfb");
        let mut server = Group::spawn(
            "Xvfb",
            Command::new(xvfb)
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let mut line = String::new();
        BufReader::new(server.child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("Xvfb says its display");
        let number = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb did not start (it said {line:?})"));
        Display {
            number,
            _server: server,
        }
    }

    pub(crate) fn env(&self) -> String {
        format!(":{}", self.number)
    }
}

/// How to launch the app: its binary, arguments and environment.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) app: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

/// One app under test: its own temp dir (db, clusters file, config), free ports, the
/// agent beside it; a display and a driver of its own.
#[derive(Debug)]
pub(crate) struct Desktop {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) otlp_grpc: u16,
    pub(crate) otlp_http: u16,
    pub(crate) launch: Launch,
}

impl Desktop {
    /// A fresh app: no cluster configured, so it starts its demo cluster.
    pub(crate) fn new(app: &Path) -> Desktop {
        let agent = app.with_file_name("switchyard-agent");
        assert!(
            agent.is_file(),
            "{} is missing: the app runs it as its demo cluster; build it with \
             `cargo build -p switchyard-agent` (same profile as the app)",
            agent.display()
        );
        let dir = tempfile::tempdir().expect("a temp dir");
        let (otlp_grpc, otlp_http) = (free_port(), free_port());
        let path = |name: &str| dir.path().join(name).display().to_string();
        let launch = Launch {
            app: app.to_owned(),
            args: vec![
                "--db".into(),
                path("telemetry.db"),
                "--otlp-grpc".into(),
                format!("127.0.0.1:{otlp_grpc}"),
                "--otlp-http".into(),
                format!("127.0.0.1:{otlp_http}"),
            ],
            env: vec![
                ("SWITCHYARD_CLUSTERS".into(), path("clusters.toml")),
                ("SWITCHYARD_AGENT".into(), agent.display().to_string()),
                // Settings, WebKit's storage and caches: this run's own.
                ("XDG_CONFIG_HOME".into(), path("config")),
                ("XDG_DATA_HOME".into(), path("data")),
                ("XDG_CACHE_HOME".into(), path("cache")),
            ],
        };
        Desktop {
            dir,
            otlp_grpc,
            otlp_http,
            launch,
        }
    }
}

/// `tauri-driver` on a free port, drawing on `display`.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) url: String,
    pub(crate) process: Group,
    http: reqwest::blocking::Client,
}

impl Driver {
    pub(crate) fn start(display: &Display, launch: &Launch) -> Driver {
        let tauri_driver = require_tool("tauri-driver");
        let native = require_tool("WebKitWebDriver");
        let (port, native_port) = (free_port(), free_port());
        let mut command = Command::new(tauri_driver);
        command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .arg("--native-driver")
            .arg(native)
            .env("DISPLAY", display.env())
            // Inherited by WebKitWebDriver, then by the app it launches.
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log_stdio());
        let process = Group::spawn("tauri-driver", &mut command);
        let driver = Driver {
            url: format!("http://127.0.0.1:{port}"),
            process,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("an HTTP client"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = driver
                .http
                .get(format!("{}/status", driver.url))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return driver;
            }
            assert!(Instant::now() < deadline, "tauri-driver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Launches the app in a new session (WebKitWebDriver starts it).
    pub(crate) fn session(&self, launch: &Launch) -> Session {
        let capabilities = json!({"capabilities": {"alwaysMatch": {"tauri:options": {
            "application": launch.app,
            "args": launch.args,
        }}}});
        let answer = call(
            &self.http,
            "POST",
            &format!("{}/session", self.url),
            Some(capabilities),
        )
        .unwrap_or_else(|e| panic!("cannot launch the app: {e}"));
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {answer}"))
            .to_owned();
        Session {
            base: format!("{}/session/{id}", self.url),
            http: self.http.clone(),
            deleted: false,
        }
    }
}

/// Sends a WebDriver command and returns its `value` (or the error's message).
fn call(
    http: &reqwest::blocking::Client,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let request = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        _ => http.post(url).json(&body.unwrap_or_else(|| json!({}))),
    };
    let response = request.send().map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status();
    let answer: Value = response
        .json()
        .map_err(|e| format!("{method} {url}: {status}, not JSON: {e}"))?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        Ok(value)
    } else {
        Err(format!(
            "{method} {url}: {status} {} {}",
            value["error"].as_str().unwrap_or("?"),
            value["message"].as_str().unwrap_or("")
        ))
    }
}

/// A WebDriver session: the app's window. Deleted (the app closed) on drop.
#[derive(Debug)]
pub(crate) struct Session {
    base: String,
    http: reqwest::blocking::Client,
    deleted: bool,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub(crate) struct Element(String);

impl Session {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        call(&self.http, method, &format!("{}{path}", self.base), body)
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its value.
    #[track_caller]
    pub(crate) fn execute(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs an async `script` (it calls `arguments[arguments.length - 1]` with its value).
    #[track_caller]
    pub(crate) fn execute_async(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Goes to the UI's route `hash` (`#/sagas?failed`) without reloading the page.
    #[track_caller]
    pub(crate) fn route(&self, hash: &str) {
        self.execute("location.hash = arguments[0];", json!([hash]));
    }

    pub(crate) fn find_all(&self, css: &str) -> Vec<Element> {
        self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned())))
        .collect()
    }

    /// Elements matching `css` inside `parent`.
    pub(crate) fn find_in(&self, parent: &Element, css: &str) -> Vec<Element> {
        self.call(
            "POST",
            &format!("/element/{}/elements", parent.0),
            Some(json!({"using": "css selector", "value": css})),
        )
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned())))
        .collect()
    }

    /// A request through the app's own `api` command (the UI's transport), its reply.
    #[track_caller]
    pub(crate) fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let script = "const done = arguments[arguments.length - 1];
            window.__TAURI_INTERNALS__
              .invoke('api', {method: arguments[0], path: arguments[1], body: arguments[2], contentType: null})
              .then((reply) => done({reply}), (error) => done({error: String(error)}));";
        let body = body.map(|b| b.to_string());
        let answer = self
            .call(
                "POST",
                "/execute/async",
                Some(json!({"script": script, "args": [method, path, body]})),
            )
            .unwrap_or_else(|e| panic!("invoke failed: {e}"));
        if let Some(error) = answer.get("error") {
            panic!("the api command failed for {method} {path}: {error}");
        }
        answer["reply"].clone()
    }

    pub(crate) fn find(&self, css: &str) -> Option<Element> {
        self.find_all(css).into_iter().next()
    }

    /// Waits until `css` matches an element (and `accept` takes it), up to `timeout`.
    #[track_caller]
    pub(crate) fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        self.wait_until(css, timeout, |_, _| true)
    }

    /// Waits for an element matching `css` that `accept` takes.
    #[track_caller]
    pub(crate) fn wait_until(
        &self,
        css: &str,
        timeout: Duration,
        accept: impl Fn(&Session, &Element) -> bool,
    ) -> Element {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.find_all(css).into_iter().find(|e| accept(self, e)) {
                return found;
            }
            if Instant::now() >= deadline {
                let text = self.execute(
                    "return document.querySelector('main')?.innerText?.slice(0, 2000) ?? document.body.innerText.slice(0, 2000);",
                    json!([]),
                );
                panic!(
                    "no {css} (as expected) within {}s; the page shows:\n{}",
                    timeout.as_secs(),
                    text.as_str().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `script` returns something truthy; returns it.
    #[track_caller]
    pub(crate) fn wait_script(&self, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(script, json!([]));
            let truthy = !matches!(value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0);
            if truthy {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "not true within {}s: {script}",
                timeout.as_secs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `script` returns `true`; false if it never did within `timeout`.
    pub(crate) fn wait_script_for(&self, script: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.execute(script, json!([]));
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[track_caller]
    pub(crate) fn click(&self, element: &Element) {
        self.try_click(element)
            .unwrap_or_else(|e| panic!("cannot click: {e}"));
    }

    /// Clicks `element`, or says why not (e.g. "not interactable" while a dialog closes).
    pub(crate) fn try_click(&self, element: &Element) -> Result<(), String> {
        self.call("POST", &format!("/element/{}/click", element.0), None)
            .map(|_| ())
    }

    /// Types `text` into an input.
    #[track_caller]
    pub(crate) fn type_text(&self, element: &Element, text: &str) {
        self.call(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({"text": text})),
        )
        .unwrap_or_else(|e| panic!("cannot type: {e}"));
    }

    pub(crate) fn text(&self, element: &Element) -> String {
        self.call("GET", &format!("/element/{}/text", element.0), None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub(crate) fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.call(
            "GET",
            &format!("/element/{}/attribute/{name}", element.0),
            None,
        )
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
    }

    /// The window as a PNG file at `path`.
    #[track_caller]
    pub(crate) fn screenshot(&self, path: &Path) {
        let data = self
            .call("GET", "/screenshot", None)
            .unwrap_or_else(|e| panic!("no screenshot: {e}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64 PNG"))
            .expect("valid base64");
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// Closes the app.
    pub(crate) fn delete(mut self) {
        self.deleted = true;
        let _ = self.call("DELETE", "", None);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.deleted {
            let _ = self.call("DELETE", "", None);
        }
    }
}

/// Processes: the descendants of a pid (from /proc), their names and memory.
pub(crate) mod procs {
    use std::collections::HashMap;

    /// Every process's parent.
    fn parents() -> HashMap<u32, u32> {
        let mut parents = HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
            let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                parents.insert(pid, ppid);
            }
        }
        parents
    }

    /// `root` and everything under it.
    pub(crate) fn tree(root: u32) -> Vec<u32> {
        let parents = parents();
        let mut found = vec![root];
        let mut i = 0;
        while i < found.len() {
            let parent = found[i];
            found.extend(
                parents
                    .iter()
                    .filter(|(_, p)| **p == parent)
                    .map(|(c, _)| *c),
            );
            i += 1;
        }
        found
    }

    /// The executable's file name (`/proc/PID/exe`), else `comm`.
    pub(crate) fn name(pid: u32) -> String {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .or_else(|| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .ok()
                    .map(|s| s.trim().to_owned())
            })
            .unwrap_or_default()
    }

    /// The first process under `root` whose executable is `name`.
    pub(crate) fn find(root: u32, name: &str) -> Option<u32> {
        tree(root).into_iter().find(|pid| self::name(*pid) == name)
    }

    /// (RSS, PSS) in KiB from `/proc/PID/smaps_rollup`.
    pub(crate) fn memory_kib(pid: u32) -> (u64, u64) {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        (field("Rss:"), field("Pss:"))
    }

    pub(crate) fn alive(pid: u32) -> bool {
        std::fs::metadata(format!("/proc/{pid}")).is_ok()
    }
}
