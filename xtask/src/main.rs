//! `cargo xtask <task>`: the one entry point for Switchyard's dev tasks.
//! `.ci/run` calls `cargo xtask test`, so what passes here passes in CI.

use std::process::Command;

use anyhow::{Context as _, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  test    install what the tests need (Debian packages), then fmt check,
          clippy -D warnings, every test of the workspace, doc tests
  run     build in release mode and run the console in browser mode
          (`switchyard ui` on http://127.0.0.1:7788, OTLP on 127.0.0.1:4317/4318)
          on the embedded demo cluster (`switchyard-agent demo`)
  bench   run the benchmarks whose figures the README quotes
  fmt     format the workspace
  proto   regenerate the control API's checked-in gRPC code from its .proto files";

/// Debian packages the tests need beyond a Rust toolchain and a C compiler. The tests start
/// their own private servers from them (testkit's `NatsServer` and `PostgresServer`), so
/// nothing is left running and no test sees another's data.
const TEST_PACKAGES: &[&str] = &["nats-server", "postgresql"];

/// Debian packages the benchmarks compare against (the gateway's bench runs nginx).
const BENCH_PACKAGES: &[&str] = &["nginx"];

fn main() -> anyhow::Result<()> {
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
    install_debian_packages(TEST_PACKAGES)?;
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
    cargo(&["test", "--workspace", "--doc"])
}

/// The console in browser mode on the embedded demo cluster: builds both programs
/// (release), starts `switchyard-agent demo` (exporting to the console's receiver),
/// registers it as the cluster `demo` in a clusters file of this run's own, then runs
/// `switchyard ui` until Ctrl-C and stops the demo.
fn run() -> anyhow::Result<()> {
    cargo(&[
        "build",
        "--release",
        "--package",
        "switchyard-console",
        "--package",
        "switchyard-agent",
    ])?;
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    let bin = std::path::Path::new(&target).join("release");
    let dir = std::path::Path::new(&target).join("xtask-run");
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
            .arg("ui")
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
    install_debian_packages(BENCH_PACKAGES)?;
    let benches = [
        ("switchyard-console", "ingest"),
        ("switchyard-resilience", "breaker"),
        ("switchyard-eventing", "store"),
        ("switchyard-eventing", "bus"),
        ("switchyard-saga", "saga"),
        ("switchyard-gateway", "proxy"),
        ("switchyard-console", "sagas"),
    ];
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
