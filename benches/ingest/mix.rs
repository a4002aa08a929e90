//! Claude Code's real traffic for the ingest benchmark, built from the recorded exports in
//! `tests/fixtures/claude-code-2.1.197/grpc`: the 14 events of a tools turn (user_prompt,
//! api_request ×4, assistant_response ×2, tool_decision ×3, tool_result ×3…) and the 3 of an
//! error turn (user_prompt, api_error, api_retries_exhausted), with every attribute Claude Code
//! sent, in turns of sessions of a chosen length. Every turn gets its own `prompt.id`,
//! `request_id`s and `tool_use_id`s (pairs stay paired), every session its own `session.id`,
//! and `event.sequence` counts per session. Metrics: the 12 points of an export cycle (active
//! time ×2, edit decisions ×2, cost, lines ×2, session count, tokens ×4) with their attribute
//! sets, one cycle a minute per session.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, metric};
use prost::Message;

/// One in this many turns is an error turn; the rest are tools turns.
const ERROR_TURN_EVERY: usize = 10;
pub const BASE_NS: u64 = 1_795_000_000_000_000_000;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-code-2.1.197/grpc")
}

fn decode_logs(turn: &str, file: &str) -> ExportLogsServiceRequest {
    let path = fixtures().join(turn).join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ExportLogsServiceRequest::decode(bytes.as_slice()).expect("recorded logs export")
}

/// The records of one recorded turn, in order, and the resource and scope they came with.
struct Turn {
    records: Vec<LogRecord>,
}

fn turn(name: &str) -> (Turn, ResourceLogs) {
    let mut records = Vec::new();
    let mut shell = None;
    for file in ["00001-logs.pb", "00002-logs.pb"] {
        let export = decode_logs(name, file);
        for rl in export.resource_logs {
            for sl in &rl.scope_logs {
                records.extend(sl.log_records.iter().cloned());
            }
            if shell.is_none() {
                let mut empty = rl.clone();
                for sl in &mut empty.scope_logs {
                    sl.log_records.clear();
                }
                empty.scope_logs.truncate(1);
                shell = Some(empty);
            }
        }
    }
    (Turn { records }, shell.expect("a resource"))
}

fn string(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.to_owned())),
    })
}

fn text_of(v: &Option<AnyValue>) -> Option<&str> {
    match v.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// The `session.id` of a `LogMix`'s `n`th session in `run`.
pub fn session_id(run: u64, n: u64) -> String {
    id(1, run, n)
}

/// A UUID-v4-shaped id, unique per (kind, run, n), its bits as well mixed as a random UUID's:
/// Claude Code's session, prompt and request ids are random, so consecutive ones land anywhere
/// in an index on them (a counter-like id would let every insert append, which real traffic
/// never does).
fn id(kind: u64, run: u64, n: u64) -> String {
    let a = mix64(kind.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ run.rotate_left(17) ^ n);
    let b = mix64(a ^ n.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) ^ run);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0xfff) as u16,
        (b >> 52) as u16 & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// SplitMix64's finaliser: a bijection on u64, so distinct inputs stay distinct.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Log exports of Claude Code turns, `BATCH` records each.
pub struct LogMix {
    tools: Turn,
    error: Turn,
    shell: ResourceLogs,
    turns_per_session: usize,
    run: u64,
    turn: usize,
    sequence: i64,
    record: u64,
    /// Nanoseconds between consecutive records' timestamps.
    step_ns: u64,
    pending: Vec<LogRecord>,
}

impl LogMix {
    /// `run` keeps the ids of separate runs apart (the store would otherwise see re-sends).
    pub fn new(run: u64, turns_per_session: usize) -> LogMix {
        let (tools, shell) = turn("tools");
        let (error, _) = turn("error");
        LogMix {
            tools,
            error,
            shell,
            turns_per_session: turns_per_session.max(1),
            run,
            turn: 0,
            sequence: 0,
            record: 0,
            step_ns: 1_000_000,
            pending: Vec::new(),
        }
    }

    /// Spreads the records `step_ns` apart (1 ms by default), e.g. over 30 days.
    pub fn with_record_step(mut self, step_ns: u64) -> LogMix {
        self.step_ns = step_ns.max(1);
        self
    }

    /// Events per turn, averaged over the mix.
    pub fn events_per_turn(&self) -> f64 {
        let n = ERROR_TURN_EVERY as f64;
        ((n - 1.0) * self.tools.records.len() as f64 + self.error.records.len() as f64) / n
    }

    fn next_turn(&mut self) {
        let t = self.turn;
        self.turn += 1;
        let session_no = (t / self.turns_per_session) as u64;
        if t.is_multiple_of(self.turns_per_session) {
            self.sequence = 0;
        }
        let session = id(1, self.run, session_no);
        let prompt = id(2, self.run, t as u64);
        let template = if t % ERROR_TURN_EVERY == ERROR_TURN_EVERY - 1 {
            &self.error
        } else {
            &self.tools
        };
        let mut renamed: HashMap<String, String> = HashMap::new();
        for r in &template.records {
            let mut r = r.clone();
            let time = BASE_NS + self.record * self.step_ns;
            self.record += 1;
            r.time_unix_nano = time;
            r.observed_time_unix_nano = time;
            for kv in &mut r.attributes {
                match kv.key.as_str() {
                    "session.id" => kv.value = string(&session),
                    "prompt.id" => kv.value = string(&prompt),
                    "event.sequence" => {
                        kv.value = Some(AnyValue {
                            value: Some(any_value::Value::IntValue(self.sequence)),
                        })
                    }
                    "request_id" | "tool_use_id" => {
                        let old = text_of(&kv.value).unwrap_or_default().to_owned();
                        let next = renamed.len() as u64;
                        let new = renamed
                            .entry(old.clone())
                            .or_insert_with(|| {
                                let prefix = if kv.key == "request_id" {
                                    "req_"
                                } else {
                                    "toolu_"
                                };
                                format!(
                                    "{prefix}{}",
                                    id(3, self.run, (t as u64) << 8 | next).replace('-', "")
                                )
                            })
                            .clone();
                        kv.value = string(&new);
                    }
                    _ => {}
                }
            }
            self.sequence += 1;
            self.pending.push(r);
        }
    }

    /// The next export of `batch` records.
    pub fn export(&mut self, batch: usize) -> ExportLogsServiceRequest {
        while self.pending.len() < batch {
            self.next_turn();
        }
        let records: Vec<LogRecord> = self.pending.drain(..batch).collect();
        let mut rl = self.shell.clone();
        match rl.scope_logs.first_mut() {
            Some(sl) => sl.log_records = records,
            None => rl.scope_logs.push(ScopeLogs {
                log_records: records,
                ..ScopeLogs::default()
            }),
        }
        ExportLogsServiceRequest {
            resource_logs: vec![rl],
        }
    }
}

/// Metric exports: Claude Code's export cycles, `cycles_per_session` cycles a session.
pub struct MetricMix {
    cycle: ResourceMetrics,
    points_per_cycle: usize,
    cycles_per_session: usize,
    run: u64,
    n: usize,
}

impl MetricMix {
    pub fn new(run: u64, cycles_per_session: usize) -> MetricMix {
        let path = fixtures().join("tools/00003-metrics.pb");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let export = ExportMetricsServiceRequest::decode(bytes.as_slice()).expect("metrics");
        let cycle = export
            .resource_metrics
            .into_iter()
            .next()
            .expect("resource metrics");
        let points_per_cycle = cycle
            .scope_metrics
            .iter()
            .flat_map(|sm| &sm.metrics)
            .map(|m| match &m.data {
                Some(metric::Data::Sum(s)) => s.data_points.len(),
                _ => 0,
            })
            .sum();
        MetricMix {
            cycle,
            points_per_cycle,
            cycles_per_session: cycles_per_session.max(1),
            run,
            n: 0,
        }
    }

    pub fn points_per_cycle(&self) -> usize {
        self.points_per_cycle
    }

    /// The next export: the cycles of `cycles` sessions' minute (as a collector batches them).
    pub fn export(&mut self, cycles: usize) -> ExportMetricsServiceRequest {
        let mut resource_metrics = Vec::with_capacity(cycles);
        for _ in 0..cycles {
            let n = self.n;
            self.n += 1;
            let session = id(4, self.run, (n / self.cycles_per_session) as u64);
            let start = BASE_NS + (n as u64) * 60_000_000_000;
            let mut rm = self.cycle.clone();
            for sm in &mut rm.scope_metrics {
                for m in &mut sm.metrics {
                    if let Some(metric::Data::Sum(sum)) = &mut m.data {
                        for p in &mut sum.data_points {
                            p.start_time_unix_nano = start;
                            p.time_unix_nano = start + 60_000_000_000;
                            for kv in &mut p.attributes {
                                if kv.key == "session.id" {
                                    kv.value = string(&session);
                                }
                            }
                        }
                    }
                }
            }
            resource_metrics.push(rm);
        }
        ExportMetricsServiceRequest { resource_metrics }
    }
}
