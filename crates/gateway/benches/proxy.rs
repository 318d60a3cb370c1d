//! Gateway vs nginx, proxying to the same upstream, driven by the same load generator
//! in one run (a noisy shared box: compare ratios within a run, not across runs).
//!
//! `cargo bench -p switchyard-gateway --bench proxy` (Debian package `nginx` for the
//! comparison; without it, only direct and gateway are measured). Knobs:
//! `BENCH_SECS` (per measurement, default 5, taken as that many one-second slices,
//! the targets taking turns), `BENCH_CONNECTIONS` (default 64),
//! `BENCH_GATEWAY_WORKERS` (default: cores), `NGINX` (default /usr/sbin/nginx).
//!
//! CPU per request is printed beside each peak: the proxy's own threads (the gateway's,
//! read from `/proc/self/task/*/schedstat`) or processes (nginx's workers), over the
//! measured seconds. It is the steadier figure on a shared box: throughput swings with
//! whatever else runs, the work done per request does not.
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

// The allocator `switchyard-agent` runs the gateway with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Nanoseconds of CPU used so far by this process's threads whose name starts with
/// `prefix` (Linux `schedstat`; 0 where it cannot be read).
fn threads_cpu_ns(prefix: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.starts_with(prefix))
        })
        .map(|task| schedstat_ns(&task.path()))
        .sum()
}

/// Nanoseconds of CPU used so far by the children of process `parent` (nginx's
/// workers, which are single-threaded).
fn children_cpu_ns(parent: u32) -> u64 {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return 0;
    };
    processes
        .flatten()
        .filter(|process| {
            // `pid (comm) state ppid ...`; comm may hold spaces, so split after ')'.
            std::fs::read_to_string(process.path().join("stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .is_some_and(|ppid| ppid == parent.to_string())
            })
        })
        .map(|process| schedstat_ns(&process.path()))
        .sum()
}

fn schedstat_ns(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[derive(Debug)]
struct Measured {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Measured {
    fn empty() -> Self {
        Measured {
            requests: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency: histogram(),
        }
    }

    /// Adds another slice of the same target.
    fn add(&mut self, other: Measured) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latency.add(other.latency).expect("same bounds");
    }

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
    let gateway_workers: usize = env_or("BENCH_GATEWAY_WORKERS", cores);
    let warmup = Duration::from_secs(1);

    let upstream_rt = runtime(1, "upstream");
    let upstream = start_upstream(&upstream_rt);

    // Hosts the accept loop; the workers are the gateway's own threads.
    let gateway_rt = runtime(1, "gateway");
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
    config.workers = Some(gateway_workers);
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
        "cores {cores}, gateway workers {gateway_workers}, nginx workers {cores}, \
         {connections} connections, {secs}s per measurement"
    );
    let nginx_pid = nginx.as_ref().map(|n| n.child.id());
    // The CPU a target's proxy has used so far (the upstream's, for "direct").
    let cpu_of = |name: &str| match name {
        "nginx" => nginx_pid.map_or(0, children_cpu_ns),
        "gateway" => threads_cpu_ns("gateway"),
        _ => threads_cpu_ns("upstream"),
    };
    // Measured in one-second slices, the targets taking turns, so that a burst of
    // other work on the box falls on all of them alike.
    let rounds = secs.max(1);
    let slice = Duration::from_secs(1);
    let mut peaks: Vec<(&str, Measured)> = targets
        .iter()
        .map(|&(name, _)| (name, Measured::empty()))
        .collect();
    let mut cpu_ns = vec![0u64; targets.len()];
    for &(_, addr) in &targets {
        drive(&load_rt, addr, connections, warmup, None);
    }
    for _ in 0..rounds {
        for (i, &(name, addr)) in targets.iter().enumerate() {
            let before = cpu_of(name);
            let measured = drive(&load_rt, addr, connections, slice, None);
            cpu_ns[i] += cpu_of(name) - before;
            peaks[i].1.add(measured);
        }
    }
    let mut cpu_per_request = Vec::new();
    for ((name, measured), cpu) in peaks.iter().zip(&cpu_ns) {
        let cpu_us = *cpu as f64 / 1000.0 / measured.requests.max(1) as f64;
        println!(
            "peak    {name:8} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  errors {}  \
             CPU {cpu_us:.1} µs/request ({})",
            measured.rate(),
            measured.micros(0.5),
            measured.micros(0.99),
            measured.errors,
            if *name == "direct" {
                "upstream"
            } else {
                "proxy"
            },
        );
        cpu_per_request.push((*name, cpu_us));
    }
    let reference = peaks
        .iter()
        .find(|(n, _)| *n == "nginx")
        .or_else(|| peaks.iter().find(|(n, _)| *n == "gateway"))
        .map_or(1000.0, |(_, m)| m.rate());
    let fixed = (reference / 2.0).max(100.0);
    let mut fixed_rate: Vec<(&str, Measured)> = targets
        .iter()
        .map(|&(name, _)| (name, Measured::empty()))
        .collect();
    for _ in 0..rounds {
        for (i, &(_, addr)) in targets.iter().enumerate() {
            let measured = drive(&load_rt, addr, connections, slice, Some(fixed));
            fixed_rate[i].1.add(measured);
        }
    }
    for (name, measured) in &fixed_rate {
        println!(
            "fixed   {name:8} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  errors {}",
            measured.rate(),
            measured.micros(0.5),
            measured.micros(0.99),
            measured.errors
        );
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
    let cpu = |n: &str| {
        cpu_per_request
            .iter()
            .find(|(name, _)| *name == n)
            .map(|(_, c)| *c)
    };
    if let (Some(gw), Some(ng)) = (cpu("gateway"), cpu("nginx"))
        && gw > 0.0
    {
        println!(
            "proxy CPU per request: gateway {gw:.1} µs, nginx {ng:.1} µs: nginx / gateway {:.2}x",
            ng / gw
        );
    }
    drop(nginx);
    drop(gateway);
}
