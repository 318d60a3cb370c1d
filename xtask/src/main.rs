//! `cargo xtask <task>`: the one entry point for Switchyard's dev tasks.
//! `.ci/run` calls `cargo xtask test`, so what passes here passes in CI.

use std::process::Command;

use anyhow::{Context as _, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  test    install what the tests need (Debian packages, tauri-driver, the UI's npm
          packages), build the UI, then: the UI's unit tests, fmt check, clippy
          -D warnings, every test of the workspace (the desktop app's window tests
          under Xvfb among them), doc tests, the browser-mode tests in Chromium
  run     install what is missing, build in release mode and open the desktop app,
          which starts the bundled demo cluster and its own OTLP receiver
          (127.0.0.1:4317/4318); without a display, the console in browser mode
          (`switchyard ui` on http://127.0.0.1:7788) on the demo cluster
  bench   run the benchmarks whose figures the README quotes
  fmt     format the workspace
  proto   regenerate the control API's checked-in gRPC code from its .proto files";

/// Debian packages the tests need beyond a Rust toolchain and a C compiler. The tests start
/// their own private servers from them (testkit's `NatsServer` and `PostgresServer`), so
/// nothing is left running and no test sees another's data.
const TEST_PACKAGES: &[&str] = &["nats-server", "postgresql"];

/// Debian packages that build and run the desktop app (Tauri 2 on webkit2gtk 4.1).
const DESKTOP_PACKAGES: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
];

/// Debian packages the window and browser tests drive: WebKitWebDriver (under
/// tauri-driver), a virtual display, and Chromium for playwright-core.
const UI_TEST_PACKAGES: &[&str] = &["webkit2gtk-driver", "xvfb", "xauth", "chromium"];

/// Debian packages the benchmarks compare against (the gateway's bench runs nginx).
const BENCH_PACKAGES: &[&str] = &["nginx"];

fn main() -> anyhow::Result<()> {
    // Paths below (ui/, target/) are the workspace's, wherever cargo was started.
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask lives inside the workspace")?;
    std::env::set_current_dir(workspace)?;
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "test" => test(),
        "run" => run(),
        "bench" => bench(),
        "fmt" => cargo(&["fmt", "--all"]),
        "proto" => proto(),
        "" | "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown task {other:?}\n\n{USAGE}"),
    }
}

/// The control API's bootstrap test rewrites the generated code when it is stale (and
/// fails); a second run then passes on the fresh code.
fn proto() -> anyhow::Result<()> {
    let bootstrap = [
        "test",
        "--package",
        "switchyard-control-api",
        "--test",
        "bootstrap",
    ];
    if cargo(&bootstrap).is_err() {
        cargo(&bootstrap)?;
        eprintln!("xtask: regenerated crates/control-api/src/generated; review and commit it");
    }
    Ok(())
}

fn test() -> anyhow::Result<()> {
    let packages: Vec<&str> = [TEST_PACKAGES, DESKTOP_PACKAGES, UI_TEST_PACKAGES].concat();
    install_debian_packages(&packages)?;
    install_tauri_driver()?;
    build_ui()?;
    npm(&["test"])?;
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    if has_nextest() {
        cargo(&["nextest", "run", "--workspace", "--no-fail-fast"])?;
    } else {
        cargo(&["test", "--workspace", "--no-fail-fast"])?;
    }
    cargo(&["test", "--workspace", "--doc"])?;
    // The browser-mode tests run the programs the workspace's test build just built.
    let bin_dir = target_dir().join("debug");
    npm_with_env(
        &["run", "e2e"],
        &[("SWITCHYARD_BIN_DIR", bin_dir.as_os_str())],
    )
}

/// The cargo target directory (`CARGO_TARGET_DIR`, else `target`), absolute: npm
/// runs in `ui/`.
fn target_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("target"));
    std::path::absolute(&dir).unwrap_or(dir)
}

/// The UI's npm packages (exactly the lock file's) and its build in `ui/dist`, which
/// the desktop app embeds and `switchyard ui` serves.
fn build_ui() -> anyhow::Result<()> {
    npm(&["ci", "--no-audit", "--no-fund"])?;
    npm(&["run", "build"])
}

fn npm(args: &[&str]) -> anyhow::Result<()> {
    npm_with_env(args, &[])
}

fn npm_with_env(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> anyhow::Result<()> {
    eprintln!("xtask: (ui) npm {}", args.join(" "));
    let status = Command::new("npm")
        .args(args)
        .current_dir("ui")
        .envs(env.iter().copied())
        .status()
        .context("cannot run npm: install Node.js 20 or later with npm")?;
    if !status.success() {
        bail!("npm {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// `tauri-driver` (the WebDriver server for the desktop app's window tests), from
/// crates.io, unless it is on the PATH or in cargo's bin dir already.
fn install_tauri_driver() -> anyhow::Result<()> {
    let found = Command::new("tauri-driver")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success())
        || cargo_bin_dir().is_some_and(|dir| dir.join("tauri-driver").is_file());
    if found {
        return Ok(());
    }
    cargo(&["install", "tauri-driver", "--version", "^2", "--locked"])
}

/// `$CARGO_HOME/bin`, else `~/.cargo/bin`.
fn cargo_bin_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))
        .map(|home| home.join("bin"))
}

/// The desktop app on the demo cluster it starts itself: a clusters file of this
/// run's own (empty at first, so the app starts the bundled `switchyard-agent demo`
/// beside it). Without a display, the console in browser mode instead.
fn run() -> anyhow::Result<()> {
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !has_display {
        eprintln!("xtask: no display (DISPLAY is not set): running the console in browser mode");
        return run_browser_mode();
    }
    install_debian_packages(DESKTOP_PACKAGES)?;
    build_ui()?;
    cargo(&[
        "build",
        "--release",
        "--package",
        "switchyard-desktop",
        "--package",
        "switchyard-agent",
    ])?;
    let bin = target_dir().join("release");
    let dir = target_dir().join("xtask-run");
    std::fs::create_dir_all(&dir)?;
    let extra: Vec<String> = std::env::args().skip(2).skip_while(|a| a == "--").collect();
    eprintln!("xtask: opening the desktop app on the demo cluster");
    let status = Command::new(bin.join("switchyard-desktop"))
        .args(&extra)
        .env("SWITCHYARD_CLUSTERS", dir.join("clusters.toml"))
        .status()
        .context("cannot start switchyard-desktop")?;
    if !status.success() {
        bail!("switchyard-desktop exited with {status}");
    }
    Ok(())
}

/// The console in browser mode on the embedded demo cluster: builds both programs
/// (release), starts `switchyard-agent demo` (exporting to the console's receiver),
/// registers it as the cluster `demo` in a clusters file of this run's own, then runs
/// `switchyard ui` until Ctrl-C and stops the demo.
fn run_browser_mode() -> anyhow::Result<()> {
    build_ui()?;
    cargo(&[
        "build",
        "--release",
        "--package",
        "switchyard-console",
        "--package",
        "switchyard-agent",
    ])?;
    let bin = target_dir().join("release");
    let dir = target_dir().join("xtask-run-browser");
    std::fs::create_dir_all(&dir)?;
    let clusters = dir.join("clusters.toml");
    let _ = std::fs::remove_file(&clusters);
    let token = format!("demo-{}", std::process::id());
    let control = "127.0.0.1:7700";

    let mut demo = Command::new(bin.join("switchyard-agent"))
        .args(["demo", "--control", control, "--token", &token])
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("cannot start switchyard-agent demo")?;
    let added = Command::new(bin.join("switchyard"))
        .args([
            "clusters",
            "add",
            "demo",
            "--agent",
            &format!("http://{control}"),
            "--token",
            &token,
        ])
        .env("SWITCHYARD_CLUSTERS", &clusters)
        .status();
    // `cargo xtask run -- --db x` and `cargo xtask run --db x` both pass `--db x` on.
    let extra: Vec<String> = std::env::args().skip(2).skip_while(|a| a == "--").collect();
    eprintln!(
        "xtask: the console is at http://127.0.0.1:7788 (API under /api), on the demo cluster"
    );
    let ui = match added {
        Ok(status) if status.success() => Command::new(bin.join("switchyard"))
            .args(["ui", "--ui-dir", "ui/dist"])
            .args(&extra)
            .env("SWITCHYARD_CLUSTERS", &clusters)
            .status()
            .context("cannot start switchyard ui"),
        Ok(status) => Err(anyhow::anyhow!("switchyard clusters add failed: {status}")),
        Err(e) => Err(e).context("cannot run switchyard"),
    };
    let _ = demo.kill();
    let _ = demo.wait();
    let status = ui?;
    if !status.success() {
        bail!("switchyard ui exited with {status}");
    }
    Ok(())
}

fn bench() -> anyhow::Result<()> {
    let benches = [
        ("switchyard-console", "ingest"),
        ("switchyard-resilience", "breaker"),
        ("switchyard-eventing", "store"),
        ("switchyard-eventing", "bus"),
        ("switchyard-saga", "saga"),
        ("switchyard-gateway", "proxy"),
        ("switchyard-console", "sagas"),
        ("switchyard-desktop", "desktop"),
    ];
    // The desktop bench drives the app, which starts the demo agent beside it, under
    // Xvfb through tauri-driver.
    let packages: Vec<&str> = [BENCH_PACKAGES, DESKTOP_PACKAGES, UI_TEST_PACKAGES].concat();
    install_debian_packages(&packages)?;
    install_tauri_driver()?;
    build_ui()?;
    cargo(&["build", "--release", "--package", "switchyard-agent"])?;
    for (package, bench) in benches {
        cargo(&["bench", "--package", package, "--bench", bench])?;
    }
    Ok(())
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn has_nextest() -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs the Debian packages that are missing (as root or through sudo).
fn install_debian_packages(packages: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        let status = command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("cannot run apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install)
}
