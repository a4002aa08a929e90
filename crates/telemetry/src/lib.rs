//! Claude Code's telemetry model. OTLP request bytes are decoded (`decode`), normalised into
//! typed records (`normalize` -> `model::Batch`), and cumulative sums are turned into deltas
//! (`cumulative`). Knows every metric and event name Claude Code sends and its value quirks.
//!
//! Must never: touch a socket, a file or SQL; panic on any input; drop an unknown metric,
//! event or attribute.

pub mod cumulative;
pub mod decode;
pub mod facts;
mod json_logs;
pub mod model;
pub mod normalize;
pub mod value;
pub mod wire;

pub use decode::{DecodeError, Encoding, ExportRequest, Signal, decode_request, gunzip_capped};
pub use model::{
    Batch, Event, EventFacts, EventKind, Identity, MetricKind, MetricPoint, Rejections, Resource,
    SpanRecord, Temporality, TokenType, plain_model_name,
};
pub use normalize::normalize;
pub use wire::{WireCounts, WireError, count_json, count_protobuf};

/// Re-exported so other crates name the same OTLP types.
pub use opentelemetry_proto as otlp;
