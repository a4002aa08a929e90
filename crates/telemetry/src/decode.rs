//! Bytes to OTLP request messages: protobuf or OTLP/JSON, optionally gzip-compressed, with a
//! hard cap on the decompressed size. Pure; every failure is a typed `DecodeError` that says
//! what was wrong, so the receiver can answer with a precise status.

use std::io::Read;

use opentelemetry_proto::tonic::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
use prost::Message;

/// The three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Logs,
    Metrics,
    Traces,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// A decoded export request of any signal.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportRequest {
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Traces(ExportTraceServiceRequest),
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("body is not valid gzip: {0}")]
    Gzip(std::io::Error),
    #[error("decompressed body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("body is not a valid OTLP {signal} protobuf message: {source}")]
    Protobuf {
        signal: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    #[error("body is not valid OTLP/JSON for {signal}: {source}")]
    Json {
        signal: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "OTLP/JSON body for {signal} has no recognised field (expected \"{expected}\"; found {found}); field names are case-sensitive lowerCamelCase"
    )]
    JsonUnrecognised {
        signal: &'static str,
        expected: &'static str,
        found: String,
    },
}

/// Inflates a gzip body, refusing to produce more than `limit` bytes (a gzip bomb stops at the
/// cap instead of exhausting memory).
pub fn gunzip_capped(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let decoder = flate2::read::MultiGzDecoder::new(body);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let read = decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(DecodeError::Gzip)?;
    if read > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// Decodes one export request body of the given signal and encoding.
pub fn decode_request(
    signal: Signal,
    encoding: Encoding,
    body: &[u8],
) -> Result<ExportRequest, DecodeError> {
    match encoding {
        Encoding::Protobuf => decode_protobuf(signal, body),
        Encoding::Json => decode_json(signal, body),
    }
}

fn decode_protobuf(signal: Signal, body: &[u8]) -> Result<ExportRequest, DecodeError> {
    let err = |source| DecodeError::Protobuf {
        signal: signal.as_str(),
        source,
    };
    Ok(match signal {
        Signal::Logs => ExportRequest::Logs(ExportLogsServiceRequest::decode(body).map_err(err)?),
        Signal::Metrics => {
            ExportRequest::Metrics(ExportMetricsServiceRequest::decode(body).map_err(err)?)
        }
        Signal::Traces => {
            ExportRequest::Traces(ExportTraceServiceRequest::decode(body).map_err(err)?)
        }
    })
}

fn decode_json(signal: Signal, body: &[u8]) -> Result<ExportRequest, DecodeError> {
    let err = |source| DecodeError::Json {
        signal: signal.as_str(),
        source,
    };
    let request = match signal {
        Signal::Logs => ExportRequest::Logs(crate::json_logs::decode(body).map_err(err)?),
        Signal::Metrics => ExportRequest::Metrics(serde_json::from_slice(body).map_err(err)?),
        Signal::Traces => ExportRequest::Traces(serde_json::from_slice(body).map_err(err)?),
    };
    if request.is_empty() {
        // OTLP/JSON decoders ignore unknown fields, so `{"resource_logs": [...]}` (wrong case)
        // decodes as an empty request. An empty request is legal, but one whose top level
        // holds only keys we do not know is a sender bug worth a clear error, not a silent 200.
        check_top_level_keys(signal, body)?;
    }
    Ok(request)
}

fn check_top_level_keys(signal: Signal, body: &[u8]) -> Result<(), DecodeError> {
    let expected = match signal {
        Signal::Logs => "resourceLogs",
        Signal::Metrics => "resourceMetrics",
        Signal::Traces => "resourceSpans",
    };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|source| DecodeError::Json {
            signal: signal.as_str(),
            source,
        })?;
    let Some(object) = value.as_object() else {
        return Ok(());
    };
    if object.is_empty() || object.contains_key(expected) {
        return Ok(());
    }
    let found = object
        .keys()
        .take(5)
        .map(|k| format!("\"{}\"", k.chars().take(64).collect::<String>()))
        .collect::<Vec<_>>()
        .join(", ");
    Err(DecodeError::JsonUnrecognised {
        signal: signal.as_str(),
        expected,
        found,
    })
}

impl ExportRequest {
    pub fn signal(&self) -> Signal {
        match self {
            ExportRequest::Logs(_) => Signal::Logs,
            ExportRequest::Metrics(_) => Signal::Metrics,
            ExportRequest::Traces(_) => Signal::Traces,
        }
    }

    /// Log records, metric data points and spans in the request.
    pub fn record_count(&self) -> usize {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        match self {
            ExportRequest::Logs(r) => r
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum(),
            ExportRequest::Metrics(r) => r
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| match &m.data {
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Histogram(h)) => h.data_points.len(),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                    None => 0,
                })
                .sum(),
            ExportRequest::Traces(r) => r
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum(),
        }
    }

    /// True when the request carries no record at all.
    pub fn is_empty(&self) -> bool {
        match self {
            ExportRequest::Logs(r) => r.resource_logs.is_empty(),
            ExportRequest::Metrics(r) => r.resource_metrics.is_empty(),
            ExportRequest::Traces(r) => r.resource_spans.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).expect("write");
        enc.finish().expect("finish")
    }

    #[test]
    fn gunzip_round_trips_and_caps() {
        let data = vec![b'a'; 10_000];
        assert_eq!(gunzip_capped(&gzip(&data), 10_000).expect("fits"), data);
        assert!(matches!(
            gunzip_capped(&gzip(&data), 9_999),
            Err(DecodeError::TooLarge { limit: 9_999 })
        ));
        assert!(matches!(
            gunzip_capped(b"not gzip", 100),
            Err(DecodeError::Gzip(_))
        ));
    }

    #[test]
    fn wrongly_cased_json_is_an_error_not_an_empty_success() {
        let err = decode_request(Signal::Logs, Encoding::Json, br#"{"resource_logs":[{}]}"#)
            .expect_err("wrong case");
        assert!(err.to_string().contains("resourceLogs"), "{err}");
        let ok = decode_request(Signal::Logs, Encoding::Json, br#"{}"#).expect("empty is legal");
        assert!(ok.is_empty());
    }

    #[test]
    fn garbage_is_a_precise_error() {
        let err = decode_request(Signal::Metrics, Encoding::Protobuf, &[0xff, 0xff, 0xff])
            .expect_err("garbage");
        assert!(err.to_string().contains("OTLP metrics protobuf"), "{err}");
        let err = decode_request(Signal::Traces, Encoding::Json, b"{\"resourceSpans\": [")
            .expect_err("cut");
        assert!(err.to_string().contains("OTLP/JSON for traces"), "{err}");
    }
}
