//! Ingest benchmark on Claude Code's real traffic (`ingest/mix.rs`: the events of tools and
//! error turns and the metric export cycles recorded from the Claude Code CLI, unique ids, in
//! sessions of 1 turn and of 50), sent over gRPC, HTTP/protobuf and HTTP/JSON to a real
//! `ccscope serve` (release build, durable commits) and, in the same run and alternating with
//! it, to rotel (PyPI's `rotel`, the OpenTelemetry collector in Rust) with its blackhole
//! exporter, which stores nothing: the ceiling. Prints records/s, the ccscope/rotel ratio, CPU
//! µs per record and peak RSS of both, latency when paced, and ccscope's peak memory under
//! overload. Asserts nothing.
//!
//!     scripts/bench-ingest.sh                  # installs rotel, then the full run (a few minutes)
//!     CCSCOPE_BENCH_SCALE=0.2 cargo bench --bench ingest   # quick look
//!     CCSCOPE_BENCH_SERVER=/path/to/other/ccscope cargo bench --bench ingest   # A/B against another build
//!     CCSCOPE_BENCH_ONLY="logs gRPC" cargo bench --bench ingest   # only the runs whose label holds it
//!     CCSCOPE_BENCH_ROTEL=/path/to/rotel-agent (default: the one `pip install rotel` ships)
//!     CCSCOPE_BENCH_GROWTH=1,10,30 cargo bench --bench ingest   # only growth (`ingest/growth.rs`):
//!                                              # rate, query times and bytes/event at 1M, 10M, 30M events
//!
//! Sender and receivers share the machine's cores, so the figures are lower bounds; the ratio
//! is what carries over between hosts.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

#[path = "ingest/growth.rs"]
mod growth;
#[path = "ingest/mix.rs"]
mod mix;
#[path = "../tests/common/raw_grpc.rs"]
mod raw_grpc;
use raw_grpc::RawBytes;

const BATCH: usize = 100;
/// Exporters sending at once (each waits for its answer before sending again, as OTLP
/// exporters do); `CCSCOPE_BENCH_SENDERS` overrides.
fn concurrency() -> usize {
    std::env::var("CCSCOPE_BENCH_SENDERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn i(v: i64) -> any_value::Value {
    any_value::Value::IntValue(v)
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", s("claude-code")),
            kv("service.version", s("2.1.330")),
            kv("os.type", s("linux")),
            kv("host.arch", s("amd64")),
        ],
        ..Resource::default()
    })
}

/// Synthetic api_request exports of `batch` records, for the overload run (size, not realism).
fn logs_request_sized(run: &str, n: usize, batch: usize) -> ExportLogsServiceRequest {
    let session = format!("{run}-{n:08}");
    let base = 1_795_000_000_000_000_000u64 + (n as u64) * 1_000_000_000;
    let records = (0..batch)
        .map(|k| LogRecord {
            time_unix_nano: base + k as u64 * 1000,
            observed_time_unix_nano: base + k as u64 * 1000,
            body: Some(AnyValue {
                value: Some(s("claude_code.api_request")),
            }),
            attributes: vec![
                kv(
                    "user.id",
                    s("a07480c8e540498252b187001b07f745395119019e009a7912b8a67d04ee5e9b"),
                ),
                kv("session.id", s(&session)),
                kv("terminal.type", s("xterm-256color")),
                kv("event.name", s("api_request")),
                kv("event.timestamp", s("2026-11-24T03:48:32.056Z")),
                kv("event.sequence", i(k as i64)),
                kv("prompt.id", s("6d36c48f-0591-4cf7-a8bf-4bdadb2b6e5f")),
                kv("model", s("claude-opus-4-8")),
                kv("input_tokens", i(120)),
                kv("output_tokens", i(42)),
                kv("cache_read_tokens", i(1200)),
                kv("cache_creation_tokens", i(200)),
                kv("cost_usd", any_value::Value::DoubleValue(0.002375)),
                kv("cost_usd_micros", i(2375)),
                kv("duration_ms", i(51)),
                kv("ttft_ms", i(20)),
                kv("request_id", s("req_8763d14a26cd44f1a0f7ef70")),
                kv("speed", s("normal")),
                kv("query_source", s("sdk")),
                kv("effort", s("high")),
            ],
            ..LogRecord::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "com.anthropic.claude_code.events".into(),
                    version: "2.1.330".into(),
                    ..Default::default()
                }),
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

/// A receiver under test: `ccscope serve` or rotel.
struct Receiver {
    name: &'static str,
    child: Child,
    grpc: String,
    http: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(dir: &std::path::Path) -> Receiver {
    use std::io::BufRead;
    // CCSCOPE_BENCH_SERVER runs another build (e.g. the previous commit's) for an A/B run.
    let server = std::env::var("CCSCOPE_BENCH_SERVER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_ccscope").to_owned());
    let mut child = Command::new(server)
        .args([
            "serve",
            "--otlp-grpc",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--retention-days",
            "0",
            "--max-db-size",
            "0",
            "--no-ui",
            "--data-dir",
        ])
        .arg(dir)
        .env("CCSCOPE_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut grpc, mut http) = (String::new(), String::new());
    while grpc.is_empty() || http.is_empty() {
        let line = lines.next().expect("serve output").expect("line");
        if let Some(a) = line.trim().strip_prefix("OTLP/gRPC  listening on ") {
            grpc = a.to_owned();
        }
        if let Some(a) = line.trim().strip_prefix("OTLP/HTTP  listening on ") {
            http = a.to_owned();
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Receiver {
        name: "ccscope",
        child,
        grpc,
        http,
    }
}

/// The rotel collector `pip install rotel` ships (or `CCSCOPE_BENCH_ROTEL`).
fn rotel_binary() -> Option<String> {
    if let Ok(path) = std::env::var("CCSCOPE_BENCH_ROTEL") {
        return Some(path);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
        ])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && std::path::Path::new(&path).exists()).then_some(path)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// rotel with the blackhole exporter: receives, decodes and batches, stores nothing.
fn start_rotel(binary: &str) -> Receiver {
    let (grpc, http) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let child = Command::new(binary)
        .args([
            "start",
            "--exporter",
            "blackhole",
            "--otlp-grpc-endpoint",
            &grpc,
            "--otlp-http-endpoint",
            &http,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rotel");
    for _ in 0..200 {
        if std::net::TcpStream::connect(&grpc).is_ok()
            && std::net::TcpStream::connect(&http).is_ok()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Receiver {
        name: "rotel",
        child,
        grpc,
        http,
    }
}

/// CPU time (user + system) `ccscope serve` has used so far, from /proc (0 elsewhere). Steadier
/// than throughput on a shared host: it does not count the time spent waiting for a core.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    // /proc counts in USER_HZ, which is 100 on every Linux architecture.
    ticks / 100.0
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

fn channel(addr: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .tcp_nodelay(true)
        .connect_lazy()
}

#[derive(Clone)]
struct Sender {
    transport: Transport,
    metrics: bool,
    grpc_addr: String,
    grpc: tonic::transport::Channel,
    http: reqwest::Client,
    url: String,
}

impl Sender {
    fn new(receiver: &Receiver, transport: Transport, metrics: bool) -> Sender {
        let path = if metrics { "/v1/metrics" } else { "/v1/logs" };
        Sender {
            transport,
            metrics,
            grpc_addr: receiver.grpc.clone(),
            grpc: channel(&receiver.grpc),
            http: reqwest::Client::new(),
            url: format!("http://{}{path}", receiver.http),
        }
    }

    /// The same sender on connections of its own, as each exporter has.
    fn own_connection(&self) -> Sender {
        Sender {
            grpc: channel(&self.grpc_addr),
            http: reqwest::Client::new(),
            ..self.clone()
        }
    }

    /// Sends one body; returns true when it was accepted.
    async fn send(&self, body: Vec<u8>) -> bool {
        match self.transport {
            Transport::Grpc => {
                // The pre-encoded message goes out as is (no decode and re-encode here).
                let path = if self.metrics {
                    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
                } else {
                    "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
                };
                let mut grpc = tonic::client::Grpc::new(self.grpc.clone());
                if grpc.ready().await.is_err() {
                    return false;
                }
                let path = http::uri::PathAndQuery::from_static(path);
                let result: Result<tonic::Response<Vec<u8>>, tonic::Status> =
                    grpc.unary(tonic::Request::new(body), path, RawBytes).await;
                result.is_ok()
            }
            Transport::HttpProtobuf | Transport::HttpJson => {
                let ct = if matches!(self.transport, Transport::HttpJson) {
                    "application/json"
                } else {
                    "application/x-protobuf"
                };
                match self
                    .http
                    .post(&self.url)
                    .header("content-type", ct)
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) => r.status().is_success(),
                    Err(_) => false,
                }
            }
        }
    }
}

/// What a run sends: Claude Code's log turns or metric cycles, and how long its sessions are.
#[derive(Clone, Copy)]
struct Workload {
    metrics: bool,
    /// Turns (logs) or export cycles (metrics) per session.
    per_session: usize,
}

/// `count` export bodies of the workload, encoded for `transport` ahead of time (encoding is
/// the sender's cost), and the records (or points) they hold. `run` keeps ids unique.
fn bodies(w: Workload, transport: Transport, run: u64, count: usize) -> (Vec<Vec<u8>>, usize) {
    let mut out = Vec::with_capacity(count);
    let mut records = 0;
    if w.metrics {
        let mut mix = mix::MetricMix::new(run, w.per_session);
        let cycles = BATCH.div_ceil(mix.points_per_cycle());
        for _ in 0..count {
            let export = mix.export(cycles);
            records += cycles * mix.points_per_cycle();
            out.push(match transport {
                Transport::HttpJson => serde_json::to_vec(&export).expect("json"),
                _ => export.encode_to_vec(),
            });
        }
    } else {
        let mut mix = mix::LogMix::new(run, w.per_session);
        for _ in 0..count {
            let export = mix.export(BATCH);
            records += BATCH;
            out.push(match transport {
                Transport::HttpJson => serde_json::to_vec(&export).expect("json"),
                _ => export.encode_to_vec(),
            });
        }
    }
    (out, records)
}

/// Closed loop: `concurrency()` senders as fast as the receiver answers, each waiting for its
/// answer before sending again (as OTLP exporters do). Returns records/s and retries.
async fn throughput(sender: &Sender, mut queue: Vec<Vec<u8>>, records: usize) -> (f64, usize) {
    queue.reverse();
    let queue = Arc::new(std::sync::Mutex::new(queue));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency() {
        let queue = Arc::clone(&queue);
        let sender = sender.own_connection();
        tasks.push(tokio::spawn(async move {
            let mut refused = 0;
            loop {
                let Some(body) = queue.lock().expect("queue").pop() else {
                    break;
                };
                while !sender.send(body.clone()).await {
                    refused += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            refused
        }));
    }
    let mut refused = 0;
    for t in tasks {
        refused += t.await.expect("sender");
    }
    (records as f64 / started.elapsed().as_secs_f64(), refused)
}

/// Open loop: `bodies` sent at `rate` exports/s; returns sorted latencies in ms.
async fn latency(sender: &Sender, bodies: Vec<Vec<u8>>, rate: f64) -> Vec<f64> {
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(bodies.len());
    for body in bodies {
        interval.tick().await;
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = sender.send(body).await;
            (ok, t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        let (ok, ms) = t.await.expect("latency task");
        if ok {
            out.push(ms);
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Whether a run is wanted: `CCSCOPE_BENCH_ONLY=<text>` runs those whose label holds the text
/// (spaces squeezed), e.g. `logs gRPC` or `metrics`.
fn selected(label: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    match std::env::var("CCSCOPE_BENCH_ONLY") {
        Ok(only) => squeeze(label).contains(&squeeze(&only)),
        Err(_) => true,
    }
}

/// One receiver's figures on one run.
#[derive(Clone, Copy, Default)]
struct Figures {
    rate: f64,
    cpu_us: f64,
    refused: usize,
}

fn mean(list: &[Figures]) -> Figures {
    let n = list.len().max(1) as f64;
    Figures {
        rate: list.iter().map(|f| f.rate).sum::<f64>() / n,
        cpu_us: list.iter().map(|f| f.cpu_us).sum::<f64>() / n,
        refused: list.iter().map(|f| f.refused).sum(),
    }
}

fn main() {
    let scale: f64 = std::env::var("CCSCOPE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let requests = ((1500.0 * scale) as usize).max(20);
    let dir = tempfile::tempdir().expect("tmp");
    let serve = start_serve(dir.path());
    if let Some(checkpoints) = growth::checkpoints() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(growth::run(&serve, dir.path(), &checkpoints));
        return;
    }
    let rotel = rotel_binary().map(|b| start_rotel(&b));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let receivers: Vec<&Receiver> = std::iter::once(&serve).chain(rotel.as_ref()).collect();
    runtime.block_on(async {
        println!(
            "ingest benchmark on Claude Code's real traffic: batch {BATCH}, {} senders on connections of their own, {requests} exports per run, durable commits",
            concurrency()
        );
        let logs = mix::LogMix::new(0, 1);
        println!(
            "mix: tools turns (14 events) and every {}th an error turn (3 events), {:.1} events a turn; metrics: 12 points an export cycle",
            10,
            logs.events_per_turn()
        );
        if rotel.is_none() {
            println!("rotel not found (pip install rotel, or set CCSCOPE_BENCH_ROTEL): ccscope alone, no ratios");
        }
        for r in &receivers {
            println!("idle RSS of {}: {} MiB", r.name, rss_kib(r.child.id(), "VmRSS:") / 1024);
        }
        let mut run = 0u64;
        let mut ccscope_logs_rate = 0.0f64;
        for (label, workload, transport) in [
            ("logs    gRPC           1 turn/session  ", Workload { metrics: false, per_session: 1 }, Transport::Grpc),
            ("logs    HTTP protobuf  1 turn/session  ", Workload { metrics: false, per_session: 1 }, Transport::HttpProtobuf),
            ("logs    HTTP JSON      1 turn/session  ", Workload { metrics: false, per_session: 1 }, Transport::HttpJson),
            ("logs    gRPC          50 turns/session ", Workload { metrics: false, per_session: 50 }, Transport::Grpc),
            ("metrics gRPC           1 cycle/session ", Workload { metrics: true, per_session: 1 }, Transport::Grpc),
            ("metrics HTTP protobuf  1 cycle/session ", Workload { metrics: true, per_session: 1 }, Transport::HttpProtobuf),
            ("metrics gRPC        1000 cycles/session", Workload { metrics: true, per_session: 1000 }, Transport::Grpc),
        ] {
            if !selected(label) {
                continue;
            }
            // Alternating, twice: ccscope, rotel, ccscope, rotel.
            let mut figures: Vec<Vec<Figures>> = vec![Vec::new(); receivers.len()];
            for _round in 0..2 {
                for (i, r) in receivers.iter().enumerate() {
                    run += 1;
                    let (b, records) = bodies(workload, transport, run, requests);
                    let sender = Sender::new(r, transport, workload.metrics);
                    let pid = r.child.id();
                    let cpu_before = cpu_seconds(pid);
                    let (rate, refused) = throughput(&sender, b, records).await;
                    let cpu_us = (cpu_seconds(pid) - cpu_before) * 1e6 / records as f64;
                    figures[i].push(Figures { rate, cpu_us, refused });
                }
            }
            let ours = mean(&figures[0]);
            if !workload.metrics && workload.per_session == 1 && matches!(transport, Transport::Grpc) {
                ccscope_logs_rate = ours.rate;
            }
            let unit = if workload.metrics { "points" } else { "records" };
            let mut line = format!(
                "{label}  ccscope {:>8.0} {unit}/s, {:>5.1} µs CPU each ({} retries)",
                ours.rate, ours.cpu_us, ours.refused
            );
            if let Some(peer) = figures.get(1).map(|f| mean(f)) {
                line.push_str(&format!(
                    " | rotel {:>8.0}/s, {:>5.1} µs | ratio {:.2}",
                    peer.rate,
                    peer.cpu_us,
                    ours.rate / peer.rate
                ));
            }
            println!("{line}");
        }
        // Latency, paced: 5,000 records/s, and half of ccscope's own maximum (or
        // CCSCOPE_BENCH_RATE records/s), new session every turn, gRPC.
        if selected("latency gRPC logs") {
            let seconds = 10.0 * scale.max(0.3);
            let half = std::env::var("CCSCOPE_BENCH_RATE")
                .ok()
                .and_then(|r| r.parse::<f64>().ok())
                .unwrap_or(ccscope_logs_rate / 2.0);
            for records_per_s in [5_000.0, half] {
                if records_per_s < BATCH as f64 {
                    continue;
                }
                let rate = records_per_s / BATCH as f64;
                for r in &receivers {
                    run += 1;
                    let (b, _) = bodies(Workload { metrics: false, per_session: 1 }, Transport::Grpc, run, (rate * seconds) as usize);
                    let sender = Sender::new(r, Transport::Grpc, false);
                    let lat = latency(&sender, b, rate).await;
                    println!(
                        "latency gRPC logs at {:>6.0} records/s, {:<7}: p50 {:>6.1} ms, p99 {:>6.1} ms, max {:>6.1} ms ({} exports)",
                        records_per_s, r.name, pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 1.0), lat.len()
                    );
                }
            }
        }
        for r in &receivers {
            println!("peak RSS of {} over the runs: {} MiB", r.name, rss_kib(r.child.id(), "VmHWM:") / 1024);
        }
        if !selected("overload") {
            return;
        }
        // Overload: 64 HTTP senders with 1,000-record JSON bodies (about 0.7 MB each, each
        // charged about 28 MB of the 128 MiB in-flight budget once counted) at once, far more
        // than the budget: the excess is refused with 503 and retried; any other answer is a
        // failure of the run.
        const OVERLOAD_BATCH: usize = 1_000;
        let sender = Sender::new(&serve, Transport::HttpJson, false);
        let exports = ((128.0 * scale) as usize).max(64);
        let body_bytes: Vec<Vec<u8>> =
            (0..exports).map(|n| serde_json::to_vec(&logs_request_sized("overload", n, OVERLOAD_BATCH)).expect("json")).collect();
        let started = Instant::now();
        let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for chunk in body_bytes.chunks(exports.div_ceil(64)) {
            let chunk = chunk.to_vec();
            let sender = sender.clone();
            let refused = Arc::clone(&refused);
            tasks.push(tokio::spawn(async move {
                for body in chunk {
                    loop {
                        let answer = sender
                            .http
                            .post(&sender.url)
                            .header("content-type", "application/json")
                            .body(body.clone())
                            .send()
                            .await;
                        match answer {
                            Ok(a) if a.status().is_success() => break,
                            Ok(a) if a.status().as_u16() == 503 => {}
                            Ok(a) => panic!("overload export answered {}: {}", a.status(), a.text().await.unwrap_or_default()),
                            // A connection closed on an early refusal: retried like a 503.
                            Err(_) => {}
                        }
                        refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("overload sender");
        }
        println!(
            "overload: 64 senders x {OVERLOAD_BATCH}-record JSON exports ({} KiB each): {} exports stored in {:.1} s, {} refused (503) and retried; peak RSS of ccscope serve {} MiB",
            body_bytes[0].len() >> 10,
            exports,
            started.elapsed().as_secs_f64(),
            refused.load(std::sync::atomic::Ordering::Relaxed),
            rss_kib(serve.child.id(), "VmHWM:") / 1024
        );
    });
    let size_mib = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .map(|m| m.len())
            .unwrap_or(0)
            / (1 << 20)
    };
    println!(
        "database after the run: {} MiB (WAL file {} MiB)",
        size_mib("ccscope.db"),
        size_mib("ccscope.db-wal")
    );
}
