//! What an encoded export will cost once decoded, found before decoding it: a walk over the
//! protobuf wire format with OTLP's message table, or a count of JSON objects. The receiver
//! reserves this much memory before it decodes, so hostile input (tiny empty records, empty
//! attributes, deep values) cannot decode to many times its size outside the in-flight budget.
//!
//! Must never: allocate per message, recurse without a bound, or under-count a message that
//! prost would decode.

use std::mem::size_of;

use opentelemetry_proto::tonic::{
    collector::{
        logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
        trace::v1::ExportTraceServiceRequest,
    },
    common::v1::{AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    metrics::v1::{
        Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
        HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
        SummaryDataPoint, exponential_histogram_data_point::Buckets,
        summary_data_point::ValueAtQuantile,
    },
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span},
};

use crate::decode::Signal;

/// Nesting deeper than this is refused (prost's own recursion limit is 100).
pub const MAX_DEPTH: usize = 100;
/// Each JSON object (`{`) is charged this many bytes: the largest OTLP struct with room for
/// the vector it sits in and serde's transient state.
pub const JSON_BYTES_PER_OBJECT: usize = 512;
/// A vector's capacity may be up to twice its length while prost pushes into it.
const VEC_SLACK: usize = 2;

/// What an encoded export holds, counted without decoding it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireCounts {
    /// Log records, metric data points and spans.
    pub records: usize,
    /// An upper bound of the bytes the decoded request occupies.
    pub decoded_bytes: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("truncated or malformed protobuf at byte {offset}")]
    Malformed { offset: usize },
    #[error("protobuf nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Msg {
    LogsRequest,
    MetricsRequest,
    TracesRequest,
    ResourceLogs,
    ResourceMetrics,
    ResourceSpans,
    Resource,
    EntityRef,
    Scope,
    ScopeLogs,
    ScopeMetrics,
    ScopeSpans,
    LogRecord,
    Metric,
    Gauge,
    Sum,
    Histogram,
    ExpHistogram,
    Summary,
    NumberPoint,
    HistogramPoint,
    ExpHistogramPoint,
    Buckets,
    SummaryPoint,
    Quantile,
    Exemplar,
    Span,
    SpanEvent,
    SpanLink,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

/// How a field of a message is decoded.
enum Field {
    /// A sub-message (repeated or not).
    Message(Msg),
    /// Repeated 8-byte numbers, packed or not.
    Repeated8,
    /// Repeated varints decoded to 8 bytes each, packed or not.
    RepeatedVarint,
    /// A repeated string: each element is its own `String`.
    RepeatedString,
    /// Anything else: a scalar inside the struct, or a string or bytes of its own length.
    Plain,
}

impl Msg {
    fn size(self) -> usize {
        match self {
            Msg::LogsRequest => size_of::<ExportLogsServiceRequest>(),
            Msg::MetricsRequest => size_of::<ExportMetricsServiceRequest>(),
            Msg::TracesRequest => size_of::<ExportTraceServiceRequest>(),
            Msg::ResourceLogs => size_of::<ResourceLogs>(),
            Msg::ResourceMetrics => size_of::<ResourceMetrics>(),
            Msg::ResourceSpans => size_of::<ResourceSpans>(),
            Msg::Resource => size_of::<Resource>(),
            Msg::EntityRef => size_of::<EntityRef>(),
            Msg::Scope => size_of::<InstrumentationScope>(),
            Msg::ScopeLogs => size_of::<ScopeLogs>(),
            Msg::ScopeMetrics => size_of::<ScopeMetrics>(),
            Msg::ScopeSpans => size_of::<ScopeSpans>(),
            Msg::LogRecord => size_of::<LogRecord>(),
            Msg::Metric => size_of::<Metric>(),
            Msg::Gauge => size_of::<Gauge>(),
            Msg::Sum => size_of::<Sum>(),
            Msg::Histogram => size_of::<Histogram>(),
            Msg::ExpHistogram => size_of::<ExponentialHistogram>(),
            Msg::Summary => size_of::<Summary>(),
            Msg::NumberPoint => size_of::<NumberDataPoint>(),
            Msg::HistogramPoint => size_of::<HistogramDataPoint>(),
            Msg::ExpHistogramPoint => size_of::<ExponentialHistogramDataPoint>(),
            Msg::Buckets => size_of::<Buckets>(),
            Msg::SummaryPoint => size_of::<SummaryDataPoint>(),
            Msg::Quantile => size_of::<ValueAtQuantile>(),
            Msg::Exemplar => size_of::<Exemplar>(),
            Msg::Span => size_of::<Span>(),
            Msg::SpanEvent => size_of::<span::Event>(),
            Msg::SpanLink => size_of::<span::Link>(),
            Msg::Status => size_of::<Status>(),
            Msg::KeyValue => size_of::<KeyValue>(),
            Msg::AnyValue => size_of::<AnyValue>(),
            Msg::ArrayValue => size_of::<ArrayValue>(),
            Msg::KeyValueList => size_of::<KeyValueList>(),
        }
    }

    fn is_record(self) -> bool {
        matches!(
            self,
            Msg::LogRecord
                | Msg::NumberPoint
                | Msg::HistogramPoint
                | Msg::ExpHistogramPoint
                | Msg::SummaryPoint
                | Msg::Span
        )
    }

    /// OTLP's message table: which field numbers hold what.
    fn field(self, number: u32) -> Field {
        use Field::{Message as M, Plain};
        match (self, number) {
            (Msg::LogsRequest, 1) => M(Msg::ResourceLogs),
            (Msg::MetricsRequest, 1) => M(Msg::ResourceMetrics),
            (Msg::TracesRequest, 1) => M(Msg::ResourceSpans),
            (Msg::ResourceLogs | Msg::ResourceMetrics | Msg::ResourceSpans, 1) => M(Msg::Resource),
            (Msg::ResourceLogs, 2) => M(Msg::ScopeLogs),
            (Msg::ResourceMetrics, 2) => M(Msg::ScopeMetrics),
            (Msg::ResourceSpans, 2) => M(Msg::ScopeSpans),
            (Msg::Resource, 1) => M(Msg::KeyValue),
            (Msg::Resource, 3) => M(Msg::EntityRef),
            (Msg::EntityRef, 3 | 4) => Field::RepeatedString,
            (Msg::ScopeLogs | Msg::ScopeMetrics | Msg::ScopeSpans, 1) => M(Msg::Scope),
            (Msg::ScopeLogs, 2) => M(Msg::LogRecord),
            (Msg::ScopeMetrics, 2) => M(Msg::Metric),
            (Msg::ScopeSpans, 2) => M(Msg::Span),
            (Msg::Scope, 3) => M(Msg::KeyValue),
            (Msg::LogRecord, 5) => M(Msg::AnyValue),
            (Msg::LogRecord, 6) => M(Msg::KeyValue),
            (Msg::Metric, 5) => M(Msg::Gauge),
            (Msg::Metric, 7) => M(Msg::Sum),
            (Msg::Metric, 9) => M(Msg::Histogram),
            (Msg::Metric, 10) => M(Msg::ExpHistogram),
            (Msg::Metric, 11) => M(Msg::Summary),
            (Msg::Metric, 12) => M(Msg::KeyValue),
            (Msg::Gauge | Msg::Sum, 1) => M(Msg::NumberPoint),
            (Msg::Histogram, 1) => M(Msg::HistogramPoint),
            (Msg::ExpHistogram, 1) => M(Msg::ExpHistogramPoint),
            (Msg::Summary, 1) => M(Msg::SummaryPoint),
            (Msg::NumberPoint, 7) => M(Msg::KeyValue),
            (Msg::NumberPoint, 5) => M(Msg::Exemplar),
            (Msg::HistogramPoint, 9) => M(Msg::KeyValue),
            (Msg::HistogramPoint, 8) => M(Msg::Exemplar),
            (Msg::HistogramPoint, 6 | 7) => Field::Repeated8,
            (Msg::ExpHistogramPoint, 1) => M(Msg::KeyValue),
            (Msg::ExpHistogramPoint, 8 | 9) => M(Msg::Buckets),
            (Msg::ExpHistogramPoint, 11) => M(Msg::Exemplar),
            (Msg::Buckets, 2) => Field::RepeatedVarint,
            (Msg::SummaryPoint, 7) => M(Msg::KeyValue),
            (Msg::SummaryPoint, 6) => M(Msg::Quantile),
            (Msg::Exemplar, 7) => M(Msg::KeyValue),
            (Msg::Span, 9) => M(Msg::KeyValue),
            (Msg::Span, 11) => M(Msg::SpanEvent),
            (Msg::Span, 13) => M(Msg::SpanLink),
            (Msg::Span, 15) => M(Msg::Status),
            (Msg::SpanEvent, 3) => M(Msg::KeyValue),
            (Msg::SpanLink, 4) => M(Msg::KeyValue),
            (Msg::KeyValue, 2) => M(Msg::AnyValue),
            (Msg::AnyValue, 5) => M(Msg::ArrayValue),
            (Msg::AnyValue, 6) => M(Msg::KeyValueList),
            (Msg::ArrayValue, 1) => M(Msg::AnyValue),
            (Msg::KeyValueList, 1) => M(Msg::KeyValue),
            _ => Plain,
        }
    }
}

/// Counts an encoded export of `signal` without decoding it.
pub fn count_protobuf(signal: Signal, bytes: &[u8]) -> Result<WireCounts, WireError> {
    let root = match signal {
        Signal::Logs => Msg::LogsRequest,
        Signal::Metrics => Msg::MetricsRequest,
        Signal::Traces => Msg::TracesRequest,
    };
    let mut counts = WireCounts {
        records: 0,
        decoded_bytes: root.size(),
    };
    walk(root, bytes, 0, 0, &mut counts)?;
    Ok(counts)
}

/// Counts an OTLP/JSON export without parsing it: every decoded message needs an object, so
/// the objects bound what it decodes to. Records are not counted here (0).
pub fn count_json(bytes: &[u8]) -> WireCounts {
    // `bytecount` compares a word at a time: a plain `filter().count()` went a byte a cycle
    // (7.7 µs for a 13 KB body, 3 % of the receiver's CPU on HTTP/JSON logs; now 0.8 µs).
    let objects = bytecount::count(bytes, b'{');
    WireCounts {
        records: 0,
        decoded_bytes: objects
            .saturating_mul(JSON_BYTES_PER_OBJECT)
            .saturating_add(bytes.len().saturating_mul(VEC_SLACK)),
    }
}

fn varint(bytes: &[u8], at: &mut usize, base: usize) -> Result<u64, WireError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes
            .get(*at)
            .ok_or(WireError::Malformed { offset: base + *at })?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(WireError::Malformed { offset: base + *at })
}

fn walk(
    msg: Msg,
    bytes: &[u8],
    base: usize,
    depth: usize,
    counts: &mut WireCounts,
) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::TooDeep);
    }
    let mut at = 0;
    while at < bytes.len() {
        let key = varint(bytes, &mut at, base)?;
        let (number, wire_type) = ((key >> 3) as u32, key & 7);
        let field = msg.field(number);
        let add = |counts: &mut WireCounts, n: usize| {
            counts.decoded_bytes = counts.decoded_bytes.saturating_add(n);
        };
        match wire_type {
            0 => {
                varint(bytes, &mut at, base)?;
                if matches!(field, Field::RepeatedVarint) {
                    add(counts, 8 * VEC_SLACK);
                }
            }
            1 | 5 => {
                let width = if wire_type == 1 { 8 } else { 4 };
                if at + width > bytes.len() {
                    return Err(WireError::Malformed { offset: base + at });
                }
                at += width;
                if matches!(field, Field::Repeated8) {
                    add(counts, 8 * VEC_SLACK);
                }
            }
            2 => {
                let len = usize::try_from(varint(bytes, &mut at, base)?)
                    .map_err(|_| WireError::Malformed { offset: base + at })?;
                let end = at
                    .checked_add(len)
                    .filter(|&end| end <= bytes.len())
                    .ok_or(WireError::Malformed { offset: base + at })?;
                let body = &bytes[at..end];
                match field {
                    Field::Message(child) => {
                        if child.is_record() {
                            counts.records += 1;
                        }
                        add(counts, child.size() * VEC_SLACK);
                        walk(child, body, base + at, depth + 1, counts)?;
                    }
                    Field::RepeatedVarint => add(counts, len * 8 * VEC_SLACK),
                    Field::Repeated8 => add(counts, len * VEC_SLACK),
                    Field::RepeatedString => add(counts, (size_of::<String>() + len) * VEC_SLACK),
                    Field::Plain => add(counts, len),
                }
                at = end;
            }
            _ => return Err(WireError::Malformed { offset: base + at }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// One resource and scope holding `records`.
    fn logs(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn empty_records(n: usize) -> Vec<u8> {
        logs(vec![LogRecord::default(); n]).encode_to_vec()
    }

    #[test]
    fn counts_records_and_bounds_what_they_decode_to() {
        let bytes = empty_records(10_000);
        let counts = count_protobuf(Signal::Logs, &bytes).expect("count");
        assert_eq!(counts.records, 10_000);
        // Two wire bytes each, a LogRecord each once decoded.
        assert!(counts.decoded_bytes >= 10_000 * size_of::<LogRecord>());
        assert!(counts.decoded_bytes > 50 * bytes.len());
    }

    #[test]
    fn real_claude_code_exports_are_counted_exactly() {
        for (signal, name) in [
            (Signal::Logs, "00001-logs.pb"),
            (Signal::Logs, "00002-logs.pb"),
            (Signal::Metrics, "00003-metrics.pb"),
        ] {
            let path = format!(
                "{}/../../tests/fixtures/claude-code-2.1.197/grpc/tools/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let bytes = std::fs::read(&path).expect("fixture");
            let counts = count_protobuf(signal, &bytes).expect("count");
            let batch = crate::normalize(
                crate::decode_request(signal, crate::Encoding::Protobuf, &bytes).expect("decode"),
                1,
            );
            assert_eq!(counts.records, batch.len() + batch.rejected.count as usize);
            assert!(counts.decoded_bytes >= bytes.len(), "{name}");
        }
    }

    #[test]
    fn nested_values_attributes_and_packed_numbers_are_charged() {
        // AnyValue nesting beyond prost's limit is refused before decoding.
        let mut value = AnyValue::default();
        for _ in 0..(MAX_DEPTH + 5) {
            value = AnyValue {
                value: Some(
                    opentelemetry_proto::tonic::common::v1::any_value::Value::ArrayValue(
                        ArrayValue {
                            values: vec![value],
                        },
                    ),
                ),
            };
        }
        let request = logs(vec![LogRecord {
            body: Some(value),
            ..Default::default()
        }]);
        assert_eq!(
            count_protobuf(Signal::Logs, &request.encode_to_vec()),
            Err(WireError::TooDeep)
        );
        // Empty attributes: two bytes on the wire, a KeyValue each once decoded.
        let request = logs(vec![LogRecord {
            attributes: vec![KeyValue::default(); 5_000],
            ..Default::default()
        }]);
        let counts = count_protobuf(Signal::Logs, &request.encode_to_vec()).expect("count");
        assert_eq!(counts.records, 1);
        assert!(counts.decoded_bytes >= 5_000 * size_of::<KeyValue>());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bytes in [&[0x0a, 0x05, 0x01][..], &[0xff; 11], &[0x0b]] {
            assert!(count_protobuf(Signal::Logs, bytes).is_err(), "{bytes:?}");
        }
        assert_eq!(
            count_protobuf(Signal::Metrics, &[]),
            Ok(WireCounts {
                records: 0,
                decoded_bytes: size_of::<ExportMetricsServiceRequest>()
            })
        );
    }

    #[test]
    fn json_objects_bound_what_it_decodes_to() {
        let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{},{}]}]}]}"#;
        let counts = count_json(body);
        assert_eq!(
            counts.decoded_bytes,
            6 * JSON_BYTES_PER_OBJECT + 2 * body.len()
        );
    }

    #[test]
    fn every_object_of_a_long_body_is_counted() {
        // 300 objects in a row (more than a byte-wide counter holds) amid other text.
        let mut body = b"{\"resourceLogs\":[".to_vec();
        body.extend(vec![&b"{}"[..]; 150].join(&b","[..]));
        body.extend(b"],\"pad\":\"");
        body.extend(std::iter::repeat_n(b'{', 300));
        body.extend(b"\"}");
        let counts = count_json(&body);
        assert_eq!(
            counts.decoded_bytes,
            451 * JSON_BYTES_PER_OBJECT + VEC_SLACK * body.len()
        );
    }
}
