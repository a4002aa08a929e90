//! Ingest benchmark: sustained throughput and export latency of a real `ccscope serve` (release
//! build, durable commits) fed Claude-Code-shaped log records and metric points over gRPC and
//! HTTP from this process, plus peak memory under overload. Prints figures; asserts nothing.
//!
//!     cargo bench --bench ingest               # full run (about a minute)
//!     CCSCOPE_BENCH_SCALE=0.1 cargo bench --bench ingest   # quick look
//!     CCSCOPE_BENCH_SERVER=/path/to/other/ccscope cargo bench --bench ingest   # A/B against another build
//!     CCSCOPE_BENCH_ONLY="logs gRPC" cargo bench --bench ingest   # only the runs whose label holds it
//!
//! Sender and server share the machine's cores, so the figures are a lower bound.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

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
        .unwrap_or(16)
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

/// One export of `BATCH` api_request events, unique by (session, sequence).
fn logs_request(run: &str, n: usize) -> ExportLogsServiceRequest {
    logs_request_sized(run, n, BATCH)
}

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

/// One export of `BATCH` delta token-usage points, each its own series.
fn metrics_request(run: &str, n: usize) -> ExportMetricsServiceRequest {
    // Like Claude Code: a session's series recur in every export, with a new interval each time.
    let session = format!("{run}-{:04}", n % 100);
    let start = 1_795_000_000_000_000_000u64 + (n as u64) * 1_000_000_000;
    let types = ["input", "output", "cacheRead", "cacheCreation"];
    let points = (0..BATCH)
        .map(|k| NumberDataPoint {
            attributes: vec![
                kv(
                    "user.id",
                    s("a07480c8e540498252b187001b07f745395119019e009a7912b8a67d04ee5e9b"),
                ),
                kv("session.id", s(&session)),
                kv("terminal.type", s("xterm-256color")),
                kv("model", s(&format!("claude-opus-4-8-{}", k / 4))),
                kv("query_source", s("main")),
                kv("type", s(types[k % 4])),
            ],
            start_time_unix_nano: start,
            time_unix_nano: start + 60_000_000_000,
            value: Some(number_data_point::Value::AsDouble(100.0)),
            ..NumberDataPoint::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "com.anthropic.claude_code".into(),
                    ..Default::default()
                }),
                metrics: vec![Metric {
                    name: "claude_code.token.usage".into(),
                    unit: "tokens".into(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: points,
                        aggregation_temporality: 1,
                        is_monotonic: true,
                    })),
                    ..Metric::default()
                }],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

struct Serve {
    child: Child,
    grpc: String,
    http: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(dir: &std::path::Path) -> Serve {
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
    Serve { child, grpc, http }
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

#[derive(Clone)]
struct Sender {
    transport: Transport,
    metrics: bool,
    grpc: tonic::transport::Channel,
    http: reqwest::Client,
    url: String,
}

impl Sender {
    fn new(
        serve: &Serve,
        channel: tonic::transport::Channel,
        transport: Transport,
        metrics: bool,
    ) -> Sender {
        let path = if metrics { "/v1/metrics" } else { "/v1/logs" };
        Sender {
            transport,
            metrics,
            grpc: channel,
            http: reqwest::Client::new(),
            url: format!("http://{}{path}", serve.http),
        }
    }

    /// Encodes the `n`th request body ahead of time (encoding is the sender's cost, not ccscope's).
    fn body(&self, run: &str, n: usize) -> Vec<u8> {
        match (self.metrics, self.transport) {
            (false, Transport::HttpJson) => {
                serde_json::to_vec(&logs_request(run, n)).expect("json")
            }
            (false, _) => logs_request(run, n).encode_to_vec(),
            (true, Transport::HttpJson) => {
                serde_json::to_vec(&metrics_request(run, n)).expect("json")
            }
            (true, _) => metrics_request(run, n).encode_to_vec(),
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

/// Closed loop: `CONCURRENCY` senders as fast as the server answers. Returns records/s.
async fn throughput(sender: &Sender, run: &str, requests: usize) -> (f64, usize) {
    let bodies: Vec<Vec<u8>> = (0..requests).map(|n| sender.body(run, n)).collect();
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency() {
        let queue = Arc::clone(&queue);
        let sender = sender.clone();
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
    (
        (requests * BATCH) as f64 / started.elapsed().as_secs_f64(),
        refused,
    )
}

/// Open loop at `rate` requests/s for `seconds`; returns sorted latencies in ms.
async fn latency(sender: &Sender, run: &str, rate: f64, seconds: f64) -> Vec<f64> {
    let count = (rate * seconds) as usize;
    let bodies: Vec<Vec<u8>> = (0..count).map(|n| sender.body(run, n)).collect();
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(count);
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

fn main() {
    let scale: f64 = std::env::var("CCSCOPE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let requests = ((2000.0 * scale) as usize).max(20);
    let dir = tempfile::tempdir().expect("tmp");
    let serve = start_serve(dir.path());
    let pid = serve.child.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", serve.grpc))
            .expect("endpoint")
            .tcp_nodelay(true)
            .connect()
            .await
            .expect("connect");
        println!("ccscope ingest benchmark: batch {BATCH}, {} concurrent senders, {requests} exports per run, durable commits", concurrency());
        println!("idle RSS of ccscope serve: {} MiB", rss_kib(pid, "VmRSS:") / 1024);
        let mut best_logs_rate = 0.0f64;
        for (label, transport, metrics) in [
            ("logs    gRPC         ", Transport::Grpc, false),
            ("logs    HTTP protobuf", Transport::HttpProtobuf, false),
            ("logs    HTTP JSON    ", Transport::HttpJson, false),
            ("metrics gRPC         ", Transport::Grpc, true),
            ("metrics HTTP protobuf", Transport::HttpProtobuf, true),
        ] {
            if !selected(label) {
                continue;
            }
            let sender = Sender::new(&serve, channel.clone(), transport, metrics);
            let run = label.replace(' ', "");
            let cpu_before = cpu_seconds(pid);
            let (rate, refused) = throughput(&sender, &run, requests).await;
            let cpu = cpu_seconds(pid) - cpu_before;
            let unit = if metrics { "points" } else { "records" };
            let per_record_us = cpu * 1e6 / (requests * BATCH) as f64;
            println!("{label}  {:>9.0} {unit}/s  ({refused} retries after 503/UNAVAILABLE; server CPU {per_record_us:.2} µs per {})", rate, &unit[..unit.len() - 1]);
            if !metrics && matches!(transport, Transport::Grpc) {
                best_logs_rate = rate;
            }
        }
        // Latency at half the sustained gRPC log rate (or at CCSCOPE_BENCH_RATE records/s, to
        // compare builds at the same load).
        if selected("latency gRPC logs") {
            let sender = Sender::new(&serve, channel.clone(), Transport::Grpc, false);
            let records_per_s = std::env::var("CCSCOPE_BENCH_RATE")
                .ok()
                .and_then(|r| r.parse::<f64>().ok())
                .unwrap_or(best_logs_rate / 2.0);
            let rate = (records_per_s / BATCH as f64).max(1.0);
            let lat = latency(&sender, "latency", rate, 10.0 * scale.max(0.3)).await;
            println!(
                "latency gRPC logs at {:.0} exports/s ({:.0} records/s): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} exports)",
                rate, rate * BATCH as f64, pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 1.0), lat.len()
            );
        }
        if !selected("overload") {
            return;
        }
        // Overload: 64 HTTP senders with 5,000-record JSON bodies (about 3.5 MB each) at once,
        // far more than the in-flight budget: the excess is refused with 503 and retried.
        const OVERLOAD_BATCH: usize = 5_000;
        let sender = Sender::new(&serve, channel.clone(), Transport::HttpJson, false);
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
                    while !sender.send(body.clone()).await {
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
            "overload: 64 senders x {OVERLOAD_BATCH}-record JSON exports ({} MiB each): {} exports stored in {:.1} s, {} answered 503 and retried; peak RSS of ccscope serve {} MiB",
            body_bytes[0].len() >> 20,
            exports,
            started.elapsed().as_secs_f64(),
            refused.load(std::sync::atomic::Ordering::Relaxed),
            rss_kib(pid, "VmHWM:") / 1024
        );
    });
    let size_mib = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .map(|m| m.len())
            .unwrap_or(0)
            / (1 << 20)
    };
    println!(
        "database after the run: {} MiB (WAL file {} MiB: restarted past 64 MiB, so it stays near that)",
        size_mib("ccscope.db"),
        size_mib("ccscope.db-wal")
    );
}
