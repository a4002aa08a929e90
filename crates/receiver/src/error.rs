//! Why an export was refused, shared by the ingest path, the memory budget and both
//! transports (its own module, so `budget` and `ingest` do not import each other).

use ccscope_telemetry::{DecodeError, WireError};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Too much is waiting; the sender should retry after a pause.
    #[error("the store is saturated; retry later")]
    Saturated,
    /// The sink cannot take records now (shutting down, disk error); retryable.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// Why an export was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("ccscope is busy: {0} bytes of exports are in flight; retry later")]
    Busy(usize),
    #[error("export of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("body is not a valid OTLP {signal} protobuf message: {source}")]
    Wire {
        signal: &'static str,
        #[source]
        source: WireError,
    },
    #[error(
        "export of {records} records exceeds the limit of {limit} records per export; send smaller batches"
    )]
    TooManyRecords { records: usize, limit: usize },
    #[error(
        "export would take {bytes} bytes once decoded, more than the receiver's in-flight limit of {limit} bytes; send smaller batches"
    )]
    DecodesTooLarge { bytes: usize, limit: usize },
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl IngestError {
    /// The OTLP/gRPC code of this refusal (OTLP/HTTP maps it onto its HTTP status).
    pub fn grpc_code(&self) -> tonic::Code {
        match self {
            IngestError::Decode(DecodeError::TooLarge { .. })
            | IngestError::TooLarge { .. }
            | IngestError::TooManyRecords { .. }
            | IngestError::DecodesTooLarge { .. } => tonic::Code::ResourceExhausted,
            IngestError::Decode(_) | IngestError::Wire { .. } => tonic::Code::InvalidArgument,
            IngestError::Busy(_) | IngestError::Sink(_) => tonic::Code::Unavailable,
        }
    }
}
