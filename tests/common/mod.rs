//! Helpers for the end-to-end tests: a real `ccscope serve` on loopback ports with its own data
//! directory, senders for every OTLP transport, the CLI's JSON output, and an independent
//! reading of the fixture payloads (plain JSON walking, not ccscope's decoder) to compare with.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_ccscope");

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-code-2.1.197")
}

/// A running `ccscope serve`.
pub struct Server {
    pub child: Child,
    pub data_dir: PathBuf,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// The dashboard's launch URL (with its token), unless started with `--no-ui`.
    pub ui_url: Option<String>,
    pub stdout_rest: std::sync::mpsc::Receiver<String>,
}

impl Server {
    /// Starts `ccscope serve` on free loopback ports with `extra` flags.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_on(data_dir, "127.0.0.1:0", "127.0.0.1:0", extra)
    }

    pub fn start_on(data_dir: &Path, grpc: &str, http: &str, extra: &[&str]) -> Server {
        let with_ui = !extra.contains(&"--no-ui");
        let ui_args: &[&str] = if with_ui && !extra.contains(&"--ui") {
            &["--ui", "127.0.0.1:0"]
        } else {
            &[]
        };
        let mut child = Command::new(BIN)
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args([
                "--otlp-grpc",
                grpc,
                "--otlp-http",
                http,
                "--retention-days",
                "0",
            ])
            .args(ui_args)
            .args(extra)
            .env("CCSCOPE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ccscope serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut grpc_addr = None;
        let mut http_addr = None;
        let mut ui_url = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        while grpc_addr.is_none() || http_addr.is_none() || (with_ui && ui_url.is_none()) {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("serve printed its addresses");
            if let Some(rest) = line.trim().strip_prefix("OTLP/gRPC  listening on ") {
                grpc_addr = Some(rest.parse().expect("grpc addr"));
            }
            if let Some(rest) = line.trim().strip_prefix("OTLP/HTTP  listening on ") {
                http_addr = Some(rest.parse().expect("http addr"));
            }
            if let Some(rest) = line.trim().strip_prefix("dashboard  ") {
                ui_url = Some(rest.to_owned());
            }
        }
        Server {
            child,
            data_dir: data_dir.to_path_buf(),
            grpc: grpc_addr.expect("grpc"),
            http: http_addr.expect("http"),
            ui_url,
            stdout_rest: rx,
        }
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// SIGTERM, then wait; returns the exit status and what serve printed after startup.
    pub fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("wait serve");
        let mut lines = Vec::new();
        while let Ok(line) = self.stdout_rest.recv_timeout(Duration::from_secs(10)) {
            lines.push(line);
        }
        (status, lines)
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill9(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the CLI; returns (exit code, stdout, stderr).
pub fn ccscope(args: &[&str]) -> (i32, String, String) {
    ccscope_env(args, &[])
}

/// `ccscope` with extra environment variables.
pub fn ccscope_env(args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .env("CCSCOPE_LOG", "warn")
        .envs(vars.iter().copied())
        .output()
        .expect("run ccscope");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `ccscope report --json` over all time (plus `extra` filters).
pub fn report(data_dir: &Path, extra: &[&str]) -> Value {
    let dir = data_dir.to_string_lossy().into_owned();
    let mut args = vec!["report", "--json", "--since", "all", "--data-dir", &dir];
    args.extend_from_slice(extra);
    let (code, out, err) = ccscope(&args);
    assert_eq!(code, 0, "report failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("report is not JSON ({e}): {out}"))
}

/// An HTTP/1.1 POST over a raw socket with a chunked body and no Content-Length, as Claude
/// Code sends it. Returns (status, headers, body).
pub fn post_chunked(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write head");
    for chunk in body.chunks(4096) {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .expect("chunk size");
        stream.write_all(chunk).expect("chunk");
        stream.write_all(b"\r\n").expect("chunk end");
    }
    stream.write_all(b"0\r\n\r\n").expect("last chunk");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..line_end]).unwrap_or("0").trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
    out
}

/// One recorded request.
pub struct Fixture {
    pub path: PathBuf,
    pub meta: Value,
    /// The bytes as they went on the wire (gzip body for the gzip variant).
    pub body: Vec<u8>,
    /// The payload as OTLP/JSON, for computing expectations.
    pub json: Value,
}

impl Fixture {
    pub fn signal(&self) -> &str {
        self.meta["signal"].as_str().expect("signal")
    }
    pub fn transport(&self) -> &str {
        self.meta["transport"].as_str().expect("transport")
    }
    pub fn content_type(&self) -> &str {
        self.meta["content_type"].as_str().unwrap_or("")
    }
    pub fn content_encoding(&self) -> &str {
        self.meta["content_encoding"].as_str().unwrap_or("")
    }
    pub fn http_path(&self) -> &str {
        self.meta["path"].as_str().expect("path")
    }
}

/// Every recorded request, in a stable order.
pub fn fixtures() -> Vec<Fixture> {
    let mut metas = Vec::new();
    let mut stack = vec![fixtures_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read fixtures") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".meta.json") {
                metas.push(path);
            }
        }
    }
    metas.sort();
    assert!(metas.len() >= 20, "fixtures missing: {}", metas.len());
    metas
        .into_iter()
        .map(|meta_path| {
            let meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).expect("meta"))
                .expect("meta json");
            let stem = meta_path
                .to_string_lossy()
                .trim_end_matches(".meta.json")
                .to_owned();
            let read = |ext: &str| std::fs::read(format!("{stem}{ext}")).ok();
            let json_text = read(".json")
                .or_else(|| read(".decoded.json"))
                .expect("json rendering");
            let json: Value = serde_json::from_slice(&json_text).expect("fixture json");
            let body = if meta["content_encoding"] == "gzip" {
                read(".body.gz").expect("gzip body")
            } else if meta["content_type"] == "application/json" {
                json_text
            } else {
                read(".pb").expect("protobuf body")
            };
            Fixture {
                path: PathBuf::from(stem),
                meta,
                body,
                json,
            }
        })
        .collect()
}

fn attr<'a>(attributes: &'a Value, key: &str) -> Option<&'a Value> {
    attributes
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

fn attr_string(attributes: &Value, key: &str) -> Option<String> {
    attr(attributes, key)?
        .get("stringValue")?
        .as_str()
        .map(str::to_owned)
}

fn number(v: &Value) -> f64 {
    for key in ["asDouble", "asInt", "doubleValue", "intValue"] {
        if let Some(x) = v.get(key) {
            return x
                .as_f64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                .expect("numeric");
        }
    }
    panic!("no number in {v}")
}

/// What the payloads contain, computed by walking their OTLP/JSON.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Expected {
    pub sessions: BTreeSet<String>,
    pub metric_cost: BTreeMap<String, f64>,
    pub event_cost: BTreeMap<String, f64>,
    pub metric_tokens: BTreeMap<String, BTreeMap<String, f64>>,
    pub event_tokens: BTreeMap<String, BTreeMap<String, f64>>,
    pub lines: BTreeMap<String, f64>,
    pub decisions: BTreeMap<String, f64>,
    pub active: BTreeMap<String, f64>,
    pub commits: f64,
    pub pull_requests: f64,
    pub events: BTreeMap<String, u64>,
}

impl Expected {
    pub fn add(&mut self, payload: &Value) {
        for rl in payload["resourceLogs"].as_array().into_iter().flatten() {
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                for rec in sl["logRecords"].as_array().into_iter().flatten() {
                    let a = &rec["attributes"];
                    let name = attr_string(a, "event.name").expect("event.name");
                    *self.events.entry(name.clone()).or_default() += 1;
                    let session = attr_string(a, "session.id").expect("session");
                    self.sessions.insert(session.clone());
                    if name == "api_request" {
                        *self.event_cost.entry(session.clone()).or_default() +=
                            number(attr(a, "cost_usd").expect("cost"));
                        let t = self.event_tokens.entry(session).or_default();
                        for (key, ty) in [
                            ("input_tokens", "input"),
                            ("output_tokens", "output"),
                            ("cache_read_tokens", "cacheRead"),
                            ("cache_creation_tokens", "cacheCreation"),
                        ] {
                            *t.entry(ty.into()).or_default() +=
                                number(attr(a, key).expect("tokens"));
                        }
                    }
                }
            }
        }
        for rm in payload["resourceMetrics"].as_array().into_iter().flatten() {
            for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
                for metric in sm["metrics"].as_array().into_iter().flatten() {
                    let name = metric["name"].as_str().expect("name");
                    for p in metric["sum"]["dataPoints"].as_array().into_iter().flatten() {
                        let a = &p["attributes"];
                        let v = number(p);
                        let session = attr_string(a, "session.id").expect("session");
                        self.sessions.insert(session.clone());
                        let ty = attr_string(a, "type").unwrap_or_default();
                        match name {
                            "claude_code.cost.usage" => {
                                *self.metric_cost.entry(session).or_default() += v
                            }
                            "claude_code.token.usage" => {
                                *self
                                    .metric_tokens
                                    .entry(session)
                                    .or_default()
                                    .entry(ty)
                                    .or_default() += v
                            }
                            "claude_code.lines_of_code.count" => {
                                *self.lines.entry(ty).or_default() += v
                            }
                            "claude_code.active_time.total" => {
                                *self.active.entry(ty).or_default() += v
                            }
                            "claude_code.commit.count" => self.commits += v,
                            "claude_code.pull_request.count" => self.pull_requests += v,
                            "claude_code.code_edit_tool.decision" => {
                                *self
                                    .decisions
                                    .entry(attr_string(a, "decision").expect("decision"))
                                    .or_default() += v
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    /// Cost: metrics for sessions that sent cost or token metrics, `api_request` otherwise.
    pub fn cost(&self) -> f64 {
        self.sessions
            .iter()
            .map(|s| {
                if self.metric_cost.contains_key(s) || self.metric_tokens.contains_key(s) {
                    self.metric_cost.get(s).copied().unwrap_or(0.0)
                } else {
                    self.event_cost.get(s).copied().unwrap_or(0.0)
                }
            })
            .sum()
    }

    pub fn tokens(&self, ty: &str) -> f64 {
        self.sessions
            .iter()
            .map(|s| {
                let source =
                    if self.metric_cost.contains_key(s) || self.metric_tokens.contains_key(s) {
                        &self.metric_tokens
                    } else {
                        &self.event_tokens
                    };
                source
                    .get(s)
                    .and_then(|t| t.get(ty))
                    .copied()
                    .unwrap_or(0.0)
            })
            .sum()
    }

    /// Asserts that a `report --json` document says exactly what the payloads contain.
    pub fn assert_report(&self, report: &Value) {
        assert_eq!(
            report["sessions"],
            self.sessions.len() as u64,
            "sessions in {report}"
        );
        let cost = report["cost_usd"].as_f64().expect("cost");
        assert!(
            (cost - self.cost()).abs() < 1e-9,
            "cost {cost} != {}",
            self.cost()
        );
        for ty in ["input", "output", "cacheRead", "cacheCreation"] {
            assert_eq!(
                report["tokens"][ty],
                self.tokens(ty).round() as u64,
                "tokens.{ty} in {report}"
            );
        }
        for ty in ["added", "removed"] {
            assert_eq!(
                report["lines"][ty],
                self.lines.get(ty).copied().unwrap_or(0.0) as u64,
                "lines.{ty}"
            );
        }
        for d in ["accept", "reject"] {
            assert_eq!(
                report["edit_decisions"][d],
                self.decisions.get(d).copied().unwrap_or(0.0) as u64,
                "decisions.{d}"
            );
        }
        for ty in ["user", "cli"] {
            let got = report["active_time_s"][ty].as_f64().expect("active");
            let want = self.active.get(ty).copied().unwrap_or(0.0);
            assert!(
                (got - want).abs() < 1e-9,
                "active_time_s.{ty} {got} != {want}"
            );
        }
        assert_eq!(report["commits"], self.commits as u64);
        assert_eq!(report["pull_requests"], self.pull_requests as u64);
        let events: BTreeMap<String, u64> =
            serde_json::from_value(report["events"].clone()).expect("events map");
        assert_eq!(events, self.events, "events by name");
        let by_model_cost: f64 = report["by_model"]
            .as_array()
            .expect("by_model")
            .iter()
            .map(|m| m["cost_usd"].as_f64().expect("c"))
            .sum();
        assert!(
            (by_model_cost - self.cost()).abs() < 1e-9,
            "by_model costs add up to the total"
        );
    }
}

/// Sends one fixture over the transport it was recorded on. Returns the HTTP status (200 for
/// a successful gRPC call).
pub async fn replay(server: &Server, fixture: &Fixture) -> u16 {
    if fixture.transport() == "grpc" {
        return send_grpc(server.grpc, fixture.signal(), &fixture.body, None)
            .await
            .map(|_| 200)
            .unwrap_or_else(|s| panic!("gRPC export failed: {s:?}"));
    }
    let mut headers = vec![("Content-Type", fixture.content_type())];
    if fixture.content_encoding() == "gzip" {
        headers.push(("Content-Encoding", "gzip"));
    }
    let (status, _, body) = post_chunked(server.http, fixture.http_path(), &headers, &fixture.body);
    assert_eq!(
        status,
        200,
        "{}: {}",
        fixture.path.display(),
        String::from_utf8_lossy(&body)
    );
    status
}

/// Sends a protobuf-encoded export over gRPC with the generated OTLP clients.
pub async fn send_grpc(
    addr: SocketAddr,
    signal: &str,
    body: &[u8],
    token: Option<&str>,
) -> Result<Vec<u8>, tonic::Status> {
    use opentelemetry_proto::tonic::collector::{
        logs::v1::{ExportLogsServiceRequest, logs_service_client::LogsServiceClient},
        metrics::v1::{ExportMetricsServiceRequest, metrics_service_client::MetricsServiceClient},
        trace::v1::{ExportTraceServiceRequest, trace_service_client::TraceServiceClient},
    };
    use prost::Message;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("grpc connect");
    fn with_token<T>(token: Option<&str>) -> impl Fn(T) -> tonic::Request<T> + '_ {
        move |message| {
            let mut r = tonic::Request::new(message);
            if let Some(t) = token {
                r.metadata_mut().insert(
                    "authorization",
                    format!("Bearer {t}").parse().expect("meta"),
                );
            }
            r
        }
    }
    match signal {
        "logs" => {
            let req = ExportLogsServiceRequest::decode(body).expect("logs pb");
            let resp = LogsServiceClient::new(channel)
                .export(with_token(token)(req))
                .await?;
            Ok(resp.into_inner().encode_to_vec())
        }
        "metrics" => {
            let req = ExportMetricsServiceRequest::decode(body).expect("metrics pb");
            let resp = MetricsServiceClient::new(channel)
                .export(with_token(token)(req))
                .await?;
            Ok(resp.into_inner().encode_to_vec())
        }
        _ => {
            let req = ExportTraceServiceRequest::decode(body).expect("traces pb");
            let resp = TraceServiceClient::new(channel)
                .export(with_token(token)(req))
                .await?;
            Ok(resp.into_inner().encode_to_vec())
        }
    }
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ccscope-test-")
        .tempdir()
        .expect("tempdir")
}

/// An OTLP/JSON `AnyValue` as plain JSON, the way ccscope lists attributes.
pub fn plain_value(v: &Value) -> Value {
    if let Some(s) = v.get("stringValue") {
        return s.clone();
    }
    if let Some(b) = v.get("boolValue") {
        return b.clone();
    }
    if let Some(i) = v.get("intValue") {
        return i
            .as_i64()
            .or_else(|| i.as_str().and_then(|s| s.parse().ok()))
            .map(Value::from)
            .expect("int");
    }
    if let Some(d) = v.get("doubleValue") {
        return d.clone();
    }
    if let Some(a) = v.get("arrayValue") {
        return Value::Array(
            a["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(plain_value)
                .collect(),
        );
    }
    if let Some(kv) = v.get("kvlistValue") {
        return plain_attributes(&kv["values"]);
    }
    Value::Null
}

/// An OTLP/JSON attribute list as a plain JSON object.
pub fn plain_attributes(list: &Value) -> Value {
    Value::Object(
        list.as_array()
            .into_iter()
            .flatten()
            .map(|kv| {
                (
                    kv["key"].as_str().expect("key").to_owned(),
                    plain_value(&kv["value"]),
                )
            })
            .collect(),
    )
}

/// Every log record of a payload as (session, sequence) -> plain attributes.
pub fn record_attributes(payload: &Value) -> Vec<((String, i64), Value)> {
    let mut out = Vec::new();
    for rl in payload["resourceLogs"].as_array().into_iter().flatten() {
        for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
            for rec in sl["logRecords"].as_array().into_iter().flatten() {
                let attrs = plain_attributes(&rec["attributes"]);
                let key = (
                    attrs["session.id"].as_str().expect("session").to_owned(),
                    attrs["event.sequence"].as_i64().expect("sequence"),
                );
                out.push((key, attrs));
            }
        }
    }
    out
}
