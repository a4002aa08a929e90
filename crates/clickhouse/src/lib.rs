//! ccscope's read seam over ClickHouse: the tables the OpenTelemetry Collector's
//! `clickhouseexporter` creates and fills (`otel_logs`, `otel_metrics_sum`), read over
//! ClickHouse's HTTP interface. Every chart, total and list is aggregated by ClickHouse; only
//! results travel.
//!
//! Must never: count a re-sent export twice where ids allow telling; sum cumulative points as
//! they are stored (they are differenced per series, with resets); answer an error with an
//! empty result; put the password in a message.

mod client;
mod config;
mod facts;
mod latency;
mod lenient;
mod rollup;
mod schema;
mod source;
mod sql;
mod summary;

pub use config::{Config, ConfigError};
pub use rollup::{Definer, GRACE_S, Installed, Status as RollupStatus, grants as rollup_grants};
pub use source::ClickHouse;
