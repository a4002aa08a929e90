//! The read seam: what every reader of ccscope's telemetry asks (totals, series, breakdowns,
//! sessions, events, points) and the domain types that cross it. The embedded SQLite store and
//! ClickHouse each implement [`Source`]; the dashboard API, the CLI's reading commands and the
//! usage report ask a `&dyn Source` and never see SQL.
//!
//! Must never: let a backend's wire or SQL types cross the seam; answer a failed query with an
//! empty result.

pub mod latency;
mod model;
mod source;
pub mod trace;

pub use model::{
    Breakdown, Dimension, EventQuery, EventRow, Filter, GroupUsage, HOUR_NS,
    LATENCY_BINS_PER_OCTAVE, LatencySeries, MAX_BUCKETS, MINUTE_NS, ModelUsage, PointRow, Report,
    SessionSummary, TimeSeries, Tokens, bin_ms, bucket_width, hour_of, latency_bin, whole_hours,
};
pub use source::{
    AttributeUsage, ErrorCode, Source, SourceError, cost_by_attribute, models_by_cost,
    session_trace, sort_models, sort_usage, usage_by_attribute, usage_by_parts, usage_rows,
};
pub use trace::{SessionTrace, SpanRow};
