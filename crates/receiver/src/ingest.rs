//! The path every export takes, whatever its transport: memory budget -> gunzip (capped) ->
//! decode -> normalise -> sink (which answers only after the records are durable) -> stats.
//! Transports only translate `IngestError` into their own status codes.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use ccscope_telemetry::{
    Batch, Encoding, Rejections, Signal, count_json, count_protobuf, decode_request, gunzip_capped,
    normalize,
    otlp::tonic::collector::{
        logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse},
        metrics::v1::{ExportMetricsPartialSuccess, ExportMetricsServiceResponse},
        trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse},
    },
};
use prost::Message;
use serde::Serialize;

pub use crate::budget::{Budget, Reservation};
pub use crate::error::{IngestError, SinkError};

/// Where normalised batches go. `accept` must resolve only once the batch is durable.
pub trait ExportSink: Send + Sync + 'static {
    fn accept(
        &self,
        batch: Batch,
        received_ns: i64,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// Size limits of the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted as sent (compressed or not).
    pub max_body_bytes: usize,
    /// Largest body after gunzip, and largest gRPC message.
    pub max_decompressed_bytes: usize,
    /// Total bytes of exports being decoded or waiting for the store at once; beyond it new
    /// exports are refused with "retry later", which bounds memory under overload.
    pub max_inflight_bytes: usize,
}

/// Default cap on a body as sent.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Default cap on a body after decompression.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 32 * 1024 * 1024;
/// Default in-flight budget.
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 128 * 1024 * 1024;
/// An export and the records it decodes into take about this many times the bytes of its
/// encoded form, protobuf (measured with the ingest benchmark's overload run) and JSON (whose
/// objects bound it: 17.9x for Claude Code's log export); a body is first charged this, and
/// the charge grows to what the body is counted to hold when that is more.
const PROTOBUF_EXPANSION: usize = 6;
const JSON_EXPANSION: usize = 18;
/// Reserved for a body whose length is not declared (chunked), before it is read; the
/// reservation grows as the body arrives.
pub const UNDECLARED_BODY_ESTIMATE: usize = 64 * 1024;
/// What one record costs once normalised and prepared for the store, beyond the decoded
/// request: an `Event` (808 bytes) or `MetricPoint` (456 bytes), its prepared row and their
/// strings. Measured with the hostile-input test's empty records.
pub const RECORD_BYTES: usize = 2048;
/// Records (log records, data points, spans) one export may carry. Claude Code sends at most
/// a few hundred; OpenTelemetry SDKs batch 512 by default.
pub const MAX_RECORDS_PER_EXPORT: usize = 100_000;
/// Most recent refusals kept for `ccscope doctor` and the receiver panel.
pub const REFUSAL_LOG_CAPACITY: usize = 50;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
        }
    }
}

/// A refused export or a partially rejected one, as shown to the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    pub time_ns: i64,
    pub transport: &'static str,
    pub signal: &'static str,
    pub status: String,
    pub reason: String,
}

/// Counters of what the receiver has seen since it started.
#[derive(Debug, Default)]
pub struct ReceiverStats {
    pub exports_accepted: AtomicU64,
    pub exports_refused: AtomicU64,
    pub records_accepted: AtomicU64,
    pub records_rejected: AtomicU64,
    pub last_export_ns: AtomicI64,
    /// Connections closed at once because `conn::MAX_CONNECTIONS` were open.
    pub connections_refused: Arc<AtomicU64>,
    refusals: Mutex<VecDeque<Refusal>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatsSnapshot {
    pub exports_accepted: u64,
    pub exports_refused: u64,
    pub records_accepted: u64,
    pub records_rejected: u64,
    pub last_export_ns: Option<i64>,
    pub connections_refused: u64,
    pub recent_refusals: Vec<Refusal>,
}

impl ReceiverStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let last = self.last_export_ns.load(Ordering::Relaxed);
        StatsSnapshot {
            exports_accepted: self.exports_accepted.load(Ordering::Relaxed),
            exports_refused: self.exports_refused.load(Ordering::Relaxed),
            records_accepted: self.records_accepted.load(Ordering::Relaxed),
            records_rejected: self.records_rejected.load(Ordering::Relaxed),
            last_export_ns: (last != 0).then_some(last),
            connections_refused: self.connections_refused.load(Ordering::Relaxed),
            recent_refusals: self
                .refusals
                .lock()
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }

    pub(crate) fn refused(&self, refusal: Refusal) {
        self.exports_refused.fetch_add(1, Ordering::Relaxed);
        self.log(refusal);
    }

    fn log(&self, refusal: Refusal) {
        tracing::info!(transport = refusal.transport, signal = refusal.signal, status = %refusal.status, reason = %refusal.reason, "export refused");
        if let Ok(mut log) = self.refusals.lock() {
            if log.len() == REFUSAL_LOG_CAPACITY {
                log.pop_front();
            }
            log.push_back(refusal);
        }
    }
}

/// Shared by both transports.
pub struct Ingest<S> {
    sink: S,
    limits: Limits,
    budget: Arc<Budget>,
    pub stats: Arc<ReceiverStats>,
}

/// What an export of `body_bytes` as received (before gunzip) is first charged.
pub fn estimate(encoding: Encoding, body_bytes: usize) -> usize {
    body_bytes.saturating_mul(match encoding {
        Encoding::Protobuf => PROTOBUF_EXPANSION,
        Encoding::Json => JSON_EXPANSION,
    })
}

impl<S> Ingest<S> {
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

impl<S: ExportSink> Ingest<S> {
    pub fn new(sink: S, limits: Limits, stats: Arc<ReceiverStats>) -> Ingest<S> {
        Ingest {
            sink,
            limits,
            budget: Budget::new(limits.max_inflight_bytes),
            stats,
        }
    }

    /// Admits an export expected to hold about `bytes` (see `estimate`) before its body is
    /// read. Refused at once (`Busy`) when the budget is spent.
    pub fn reserve(&self, bytes: usize) -> Result<Reservation, IngestError> {
        self.budget.admit(bytes)
    }

    /// Takes one export body, within a reservation. Returns the records rejected one by one
    /// (for `partial_success`).
    pub async fn export(
        &self,
        mut reservation: Reservation,
        transport: &'static str,
        signal: Signal,
        encoding: Encoding,
        gzip: bool,
        body: &[u8],
    ) -> Result<Rejections, IngestError> {
        let received_ns = now_ns();
        reservation.grow_to(estimate(encoding, body.len())).await?;
        let inflated;
        let body = if gzip {
            inflated = gunzip_capped(body, self.limits.max_decompressed_bytes)?;
            reservation
                .grow_to(estimate(encoding, inflated.len()))
                .await?;
            &inflated[..]
        } else {
            body
        };
        if body.len() > self.limits.max_decompressed_bytes {
            return Err(IngestError::TooLarge {
                size: body.len(),
                limit: self.limits.max_decompressed_bytes,
            });
        }
        // What the body decodes to, counted before decoding (an upper bound with room for
        // vector growth, ~6.5x the wire size for Claude Code's exports); the body stays alive
        // while it is decoded.
        let counts = match encoding {
            Encoding::Protobuf => {
                count_protobuf(signal, body).map_err(|source| IngestError::Wire {
                    signal: signal.as_str(),
                    source,
                })?
            }
            Encoding::Json => count_json(body),
        };
        let too_many = |records: usize| IngestError::TooManyRecords {
            records,
            limit: MAX_RECORDS_PER_EXPORT,
        };
        if counts.records > MAX_RECORDS_PER_EXPORT {
            return Err(too_many(counts.records));
        }
        let decoded = body.len().saturating_add(counts.decoded_bytes);
        let normalised =
            |records: usize| decoded.saturating_add(records.saturating_mul(RECORD_BYTES));
        // Protobuf records are counted before decoding; JSON ones once decoded (the objects
        // bound the decoding itself).
        self.charge_exactly(&mut reservation, normalised(counts.records))
            .await?;
        let request = decode_request(signal, encoding, body)?;
        if encoding == Encoding::Json {
            let records = request.record_count();
            if records > MAX_RECORDS_PER_EXPORT {
                return Err(too_many(records));
            }
            self.charge_exactly(&mut reservation, normalised(records))
                .await?;
        }
        let batch = normalize(request, received_ns);
        let rejected = batch.rejected.clone();
        let records = batch.len() as u64;
        if records > 0 {
            self.sink.accept(batch, received_ns).await?;
        }
        self.stats.exports_accepted.fetch_add(1, Ordering::Relaxed);
        self.stats
            .records_accepted
            .fetch_add(records, Ordering::Relaxed);
        self.stats
            .last_export_ns
            .store(received_ns, Ordering::Relaxed);
        if rejected.count > 0 {
            self.stats
                .records_rejected
                .fetch_add(rejected.count as u64, Ordering::Relaxed);
            self.stats.log(Refusal {
                time_ns: received_ns,
                transport,
                signal: signal.as_str(),
                status: format!("partial success ({} rejected)", rejected.count),
                reason: rejected.message(),
            });
        }
        Ok(rejected)
    }

    /// Grows the reservation to `bytes` (what the export was counted to hold), refusing an
    /// export that could never fit the budget. Never shrinks it: the first estimate stays
    /// charged when it is higher, as the memory bound was measured with it.
    async fn charge_exactly(
        &self,
        reservation: &mut Reservation,
        bytes: usize,
    ) -> Result<(), IngestError> {
        if bytes > self.budget.max() {
            return Err(IngestError::DecodesTooLarge {
                bytes,
                limit: self.budget.max(),
            });
        }
        reservation.grow_to(bytes).await
    }
}

/// The success answer to an export: the signal's `Export*ServiceResponse`, with
/// `partial_success` when some records were rejected.
pub enum ExportResponse {
    Logs(ExportLogsServiceResponse),
    Metrics(ExportMetricsServiceResponse),
    Traces(ExportTraceServiceResponse),
}

impl ExportResponse {
    pub fn new(signal: Signal, rejected: &Rejections) -> ExportResponse {
        let partial = rejected.count > 0;
        let (count, error_message) = (rejected.count, rejected.message());
        match signal {
            Signal::Logs => ExportResponse::Logs(ExportLogsServiceResponse {
                partial_success: partial.then_some(ExportLogsPartialSuccess {
                    rejected_log_records: count,
                    error_message,
                }),
            }),
            Signal::Metrics => ExportResponse::Metrics(ExportMetricsServiceResponse {
                partial_success: partial.then_some(ExportMetricsPartialSuccess {
                    rejected_data_points: count,
                    error_message,
                }),
            }),
            Signal::Traces => ExportResponse::Traces(ExportTraceServiceResponse {
                partial_success: partial.then_some(ExportTracePartialSuccess {
                    rejected_spans: count,
                    error_message,
                }),
            }),
        }
    }

    /// The response in the request's encoding.
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        match (self, encoding) {
            (ExportResponse::Logs(r), Encoding::Protobuf) => r.encode_to_vec(),
            (ExportResponse::Metrics(r), Encoding::Protobuf) => r.encode_to_vec(),
            (ExportResponse::Traces(r), Encoding::Protobuf) => r.encode_to_vec(),
            (ExportResponse::Logs(r), Encoding::Json) => json_bytes(r),
            (ExportResponse::Metrics(r), Encoding::Json) => json_bytes(r),
            (ExportResponse::Traces(r), Encoding::Json) => json_bytes(r),
        }
    }
}

/// Serialises a response message as OTLP/JSON (cannot fail for these plain structs).
pub fn json_bytes<T: serde::Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec())
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
