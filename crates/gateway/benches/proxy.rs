//! Gateway vs nginx, proxying to the same upstream, driven by the same load generator
//! in one run (a noisy shared box: compare ratios within a run, not across runs).
//!
//! `cargo bench -p switchyard-gateway --bench proxy` (Debian package `nginx` for the
//! comparison; without it, only direct and gateway are measured). Knobs:
//! `BENCH_SECS` (per measurement, default 5), `BENCH_CONNECTIONS` (default 64),
//! `BENCH_GATEWAY_THREADS` (default: cores), `NGINX` (default /usr/sbin/nginx).
//!
//! (a) peak: closed loop, N keep-alive connections, each sending its next request when
//!     the answer is in; (b) latency at a fixed rate, half of nginx's peak (or of the
//!     gateway's without nginx): open loop, each connection on a schedule, latency
//!     measured from the scheduled send time so a stall counts against the target.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use switchyard_gateway::{Config, Gateway};
use tokio::runtime::Runtime;

const BODY: &[u8] = br#"{"id":42,"name":"switchyard","ok":true}"#;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime(threads: usize, name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A fast upstream: a small JSON body on every path, keep-alive, HTTP/1.
fn start_upstream(rt: &Runtime) -> SocketAddr {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|_request| async {
                        let mut response = http::Response::new(Full::new(Bytes::from_static(BODY)));
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(response)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    })
}

/// nginx as a child process, killed on drop.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers; SIGKILL would orphan them.
        let stopped = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start_nginx(upstream: SocketAddr, workers: usize) -> Result<Nginx, String> {
    let binary = std::env::var("NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".to_owned());
    if !Path::new(&binary).exists() {
        return Err(format!(
            "{binary} not found (Debian package nginx: apt-get install -y nginx)"
        ));
    }
    let dir = std::env::temp_dir().join(format!("switchyard-bench-nginx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let dir = TempDir(dir);
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let d = dir.0.display();
    let conf = format!(
        r#"
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream backend {{
        server {upstream};
        keepalive 128;
    }}
    server {{
        listen {addr};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"#
    );
    let conf_path = dir.0.join("nginx.conf");
    std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let child = Command::new(&binary)
        .arg("-p")
        .arg(&dir.0)
        .arg("-e")
        .arg(dir.0.join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {binary}: {e}"))?;
    let nginx = Nginx {
        child,
        addr,
        _dir: dir,
    };
    for _ in 0..100 {
        if TcpStream::connect(addr).is_ok() {
            return Ok(nginx);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("nginx did not start listening".to_owned())
}

#[derive(Debug)]
struct Measured {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn micros(&self, quantile: f64) -> u64 {
        self.latency.value_at_quantile(quantile)
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// Drives `target` with `connections` keep-alive connections for `duration`; closed
/// loop when `rate` is `None`, else each connection sends on a schedule that adds up
/// to `rate` requests per second.
fn drive(
    rt: &Runtime,
    target: SocketAddr,
    connections: usize,
    duration: Duration,
    rate: Option<f64>,
) -> Measured {
    rt.block_on(async move {
        let start = Instant::now();
        let deadline = start + duration;
        let mut tasks = Vec::new();
        for _ in 0..connections {
            tasks.push(tokio::spawn(connection(
                target,
                deadline,
                rate.map(|r| r / connections as f64),
            )));
        }
        let mut total = Measured {
            requests: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency: histogram(),
        };
        for task in tasks {
            let (requests, errors, latency) = task.await.expect("load task");
            total.requests += requests;
            total.errors += errors;
            total.latency.add(latency).expect("same bounds");
        }
        total.elapsed = start.elapsed();
        total
    })
}

async fn connection(
    target: SocketAddr,
    deadline: Instant,
    per_second: Option<f64>,
) -> (u64, u64, Histogram<u64>) {
    let mut latency = histogram();
    let (mut requests, mut errors) = (0u64, 0u64);
    let stream = tokio::net::TcpStream::connect(target)
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let period = per_second.map(|r| Duration::from_secs_f64(1.0 / r));
    // Spread the connections' schedules so they do not all fire together.
    let mut next =
        Instant::now() + period.map_or(Duration::ZERO, |p| p.mul_f64(rand::random::<f64>()));
    let host = target.to_string();
    while Instant::now() < deadline {
        let scheduled = match period {
            Some(period) => {
                tokio::time::sleep_until(next.into()).await;
                let at = next;
                next += period;
                at
            }
            None => Instant::now(),
        };
        let request = http::Request::builder()
            .uri("/bench")
            .header(http::header::HOST, &host)
            .body(Empty::<Bytes>::new())
            .expect("request");
        let ok = match sender.send_request(request).await {
            Ok(response) => {
                let ok = response.status().is_success();
                ok && response.into_body().collect().await.is_ok()
            }
            Err(_) => false,
        };
        if ok {
            requests += 1;
            let _ = latency.record(scheduled.elapsed().as_micros().max(1) as u64);
        } else {
            errors += 1;
            if sender.ready().await.is_err() {
                // The server closed the connection: open another, as a client would.
                sender = connect(target).await;
            }
        }
    }
    (requests, errors, latency)
}

async fn connect(target: SocketAddr) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = tokio::net::TcpStream::connect(target)
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would run this too: skip.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let secs: u64 = env_or("BENCH_SECS", 5);
    let connections: usize = env_or("BENCH_CONNECTIONS", 64);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let gateway_threads: usize = env_or("BENCH_GATEWAY_THREADS", cores);
    let duration = Duration::from_secs(secs);
    let warmup = Duration::from_secs(1);

    let upstream_rt = runtime(1, "upstream");
    let upstream = start_upstream(&upstream_rt);

    let gateway_rt = runtime(gateway_threads, "gateway");
    let mut config = Config::from_toml(&format!(
        r#"
        [[cluster]]
        name = "bench"
        instances = ["{upstream}"]
        [[route]]
        name = "bench"
        cluster = "bench"
        "#
    ))
    .expect("bench config");
    config.listeners = vec!["127.0.0.1:0".to_owned()];
    let gateway = gateway_rt
        .block_on(Gateway::start(config))
        .expect("gateway starts");
    let gateway_addr = gateway.local_addr();

    let nginx = match start_nginx(upstream, cores) {
        Ok(nginx) => Some(nginx),
        Err(why) => {
            println!("nginx NOT MEASURED: {why}");
            None
        }
    };

    let load_rt = runtime(cores.min(2), "load");
    let mut targets = vec![("direct", upstream)];
    if let Some(nginx) = &nginx {
        targets.push(("nginx", nginx.addr));
    }
    targets.push(("gateway", gateway_addr));

    println!(
        "cores {cores}, gateway worker threads {gateway_threads}, nginx workers {cores}, \
         {connections} connections, {secs}s per measurement"
    );
    let mut peaks = Vec::new();
    for &(name, addr) in &targets {
        drive(&load_rt, addr, connections, warmup, None);
        let measured = drive(&load_rt, addr, connections, duration, None);
        println!(
            "peak    {name:8} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  errors {}",
            measured.rate(),
            measured.micros(0.5),
            measured.micros(0.99),
            measured.errors
        );
        peaks.push((name, measured));
    }
    let reference = peaks
        .iter()
        .find(|(n, _)| *n == "nginx")
        .or_else(|| peaks.iter().find(|(n, _)| *n == "gateway"))
        .map_or(1000.0, |(_, m)| m.rate());
    let fixed = (reference / 2.0).max(100.0);
    let mut fixed_rate = Vec::new();
    for &(name, addr) in &targets {
        drive(&load_rt, addr, connections, warmup, Some(fixed));
        let measured = drive(&load_rt, addr, connections, duration, Some(fixed));
        println!(
            "fixed   {name:8} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  errors {}",
            measured.rate(),
            measured.micros(0.5),
            measured.micros(0.99),
            measured.errors
        );
        fixed_rate.push((name, measured));
    }

    let direct_p50 = fixed_rate[0].1.micros(0.5) as i64;
    let direct_p99 = fixed_rate[0].1.micros(0.99) as i64;
    println!();
    println!(
        "| target  | peak req/s | p50 @ {fixed:.0}/s | p99 @ {fixed:.0}/s | added p50 | added p99 |"
    );
    println!("|---------|-----------:|------------:|------------:|----------:|----------:|");
    for ((name, peak), (_, at_rate)) in peaks.iter().zip(&fixed_rate) {
        let (p50, p99) = (at_rate.micros(0.5) as i64, at_rate.micros(0.99) as i64);
        println!(
            "| {name:7} | {:>10.0} | {:>8} µs | {:>8} µs | {:>6} µs | {:>6} µs |",
            peak.rate(),
            p50,
            p99,
            p50 - direct_p50,
            p99 - direct_p99
        );
    }
    let rate_of = |n: &str| {
        peaks
            .iter()
            .find(|(name, _)| *name == n)
            .map(|(_, m)| m.rate())
    };
    if let (Some(gw), Some(ng)) = (rate_of("gateway"), rate_of("nginx")) {
        println!(
            "\ngateway / nginx throughput: {:.2}x (goal ≥ 0.8x)",
            gw / ng
        );
    }
    drop(nginx);
    drop(gateway);
}
