//! The domain types that cross the seam: what a query asks (`Filter`, `EventQuery`,
//! `Dimension`) and what it answers (`Report`, `SessionSummary`, `TimeSeries`, …).

use std::collections::BTreeMap;

use ccscope_telemetry::TokenType;
use serde::Serialize;

use crate::SourceError;

/// Which records a query looks at. Times are Unix nanoseconds, `[from_ns, to_ns)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub from_ns: i64,
    pub to_ns: i64,
    pub session: Option<String>,
    /// Matches `user.id` or `user.email`.
    pub user: Option<String>,
    /// Matches the model as sent (`claude-opus-4-8[1m]`) or its plain name.
    pub model: Option<String>,
    /// `key=value` pairs matched against record attributes or resource attributes.
    pub attributes: Vec<(String, String)>,
}

impl Filter {
    /// The filter's range and session only: what decides whether a session's cost and tokens
    /// come from its metrics (it sent any in the range) or from its `api_request` events. The
    /// user, model and attribute conditions do not: Claude Code 2.1.x puts `query_source=main` on
    /// a request's metrics and `sdk` on its event, so deciding under them would count both.
    pub fn usage_scope(&self) -> Filter {
        Filter {
            from_ns: self.from_ns,
            to_ns: self.to_ns,
            session: self.session.clone(),
            ..Filter::default()
        }
    }

    /// Refuses attribute keys no backend can address safely (empty, quotes, backslashes).
    pub fn check(&self) -> Result<(), SourceError> {
        for (key, _) in &self.attributes {
            check_key(key)?;
        }
        Ok(())
    }
}

fn check_key(key: &str) -> Result<(), SourceError> {
    if key.is_empty() || key.contains('"') || key.contains('\\') || key.contains('\'') {
        return Err(SourceError::BadRequest(format!(
            "attribute key {key:?} must be non-empty and contain no quote or backslash"
        )));
    }
    Ok(())
}

/// Token totals by type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tokens {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_creation: f64,
}

impl Tokens {
    pub fn total(&self) -> f64 {
        self.input + self.output + self.cache_read + self.cache_creation
    }

    pub fn add_type(&mut self, token_type: TokenType, value: f64) {
        match token_type {
            TokenType::Input => self.input += value,
            TokenType::Output => self.output += value,
            TokenType::CacheRead => self.cache_read += value,
            TokenType::CacheCreation => self.cache_creation += value,
        }
    }

    pub fn add(&mut self, other: &Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_creation += other.cache_creation;
    }
}

/// Cost and tokens of one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelUsage {
    pub model: String,
    pub cost_usd: f64,
    pub tokens: f64,
}

/// Totals over a filter: what `ccscope report` prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub sessions: u64,
    pub cost_usd: f64,
    pub tokens: Tokens,
    pub lines_added: f64,
    pub lines_removed: f64,
    pub commits: f64,
    pub pull_requests: f64,
    pub active_user_s: f64,
    pub active_cli_s: f64,
    pub edits_accepted: f64,
    pub edits_rejected: f64,
    pub events: BTreeMap<String, u64>,
    /// Highest cost first.
    pub by_model: Vec<ModelUsage>,
}

/// One session's summary: what `ccscope sessions` lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SessionSummary {
    pub session_id: String,
    pub first_ns: i64,
    pub last_ns: i64,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub terminal_type: Option<String>,
    pub models: Vec<String>,
    pub events: u64,
    pub prompts: u64,
    pub api_errors: u64,
    pub cost_usd: f64,
    pub tokens: Tokens,
    pub lines_added: f64,
    pub lines_removed: f64,
    /// `metrics` or `events`: where cost and tokens came from.
    pub usage_source: &'static str,
}

/// One stored event with everything it carried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub time_ns: i64,
    pub name: String,
    pub session_id: String,
    pub sequence: Option<i64>,
    pub prompt_id: Option<String>,
    pub user_id: Option<String>,
    pub model: Option<String>,
    pub tool_name: Option<String>,
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<f64>,
    pub success: Option<bool>,
    pub status_code: Option<i64>,
    /// The API request an event belongs to (`api_request`, its response, the tool decisions
    /// and results it asked for).
    pub request_id: Option<String>,
    /// The tool use a `tool_decision` or `tool_result` is about.
    pub tool_use_id: Option<String>,
    /// A tool decision (`accept`, `reject`) and where it came from (`source`).
    pub decision: Option<String>,
    pub decision_source: Option<String>,
    pub error: Option<String>,
    /// An `api_request`'s tokens.
    pub tokens: Option<Tokens>,
    /// A `user_prompt`'s text, when Claude Code sent it (`OTEL_LOG_USER_PROMPTS=1`), and its
    /// length (always sent).
    pub prompt: Option<String>,
    pub prompt_length: Option<i64>,
    pub attributes: serde_json::Value,
    pub resource: serde_json::Value,
}

/// One stored metric point with its series. Cumulative points carry the increase since the
/// series' previous point (their delta), whatever the backend stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointRow {
    pub metric: String,
    pub unit: String,
    pub temporality: String,
    pub start_ns: i64,
    pub time_ns: i64,
    pub value: f64,
    pub session_id: String,
    pub model: Option<String>,
    pub point_type: Option<String>,
    pub attributes: serde_json::Value,
    pub resource: serde_json::Value,
}

/// Listing options for events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    pub filter: Filter,
    /// Only these event names (all when empty).
    pub names: Vec<String>,
    /// Case-insensitive substring searched in the attributes.
    pub search: Option<String>,
    pub limit: Option<usize>,
    /// Rows skipped before the first returned (for paging).
    pub offset: usize,
    /// Newest first when true.
    pub newest_first: bool,
}

/// What a chart is split by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    /// One group holding everything.
    None,
    Model,
    /// The `type` attribute (token type, lines added/removed, active time user/cli).
    Type,
    Session,
    User,
    TerminalType,
    Version,
    /// The HTTP status of API errors (events only).
    StatusCode,
    /// The tool of tool events (events only).
    Tool,
    /// Any record or resource attribute, e.g. `department`.
    Attribute(String),
}

impl Dimension {
    /// Parses `model`, `type`, `session`, `user`, `terminal`, `version`, `none` or
    /// `attr:<key>`.
    pub fn parse(text: &str) -> Result<Dimension, SourceError> {
        Ok(match text {
            "" | "none" => Dimension::None,
            "model" => Dimension::Model,
            "type" => Dimension::Type,
            "session" => Dimension::Session,
            "user" => Dimension::User,
            "terminal" => Dimension::TerminalType,
            "version" => Dimension::Version,
            "status" => Dimension::StatusCode,
            "tool" => Dimension::Tool,
            other => match other.strip_prefix("attr:") {
                Some(key) if check_key(key).is_ok() => Dimension::Attribute(key.to_owned()),
                _ => {
                    return Err(SourceError::BadRequest(format!(
                        "unknown group {other:?}: use model, type, session, user, terminal, version, status, tool or attr:<key>"
                    )));
                }
            },
        })
    }
}

/// Charts get at most this many buckets across their range.
pub const MAX_BUCKETS: i64 = 120;
pub const MINUTE_NS: i64 = 60_000_000_000;
/// An hour: the width of every source's hourly sums.
pub const HOUR_NS: i64 = 3_600_000_000_000;

/// The start of the hour holding `ns`.
pub fn hour_of(ns: i64) -> i64 {
    ns - ns.rem_euclid(HOUR_NS)
}

/// The whole hours inside the filter's range, `[first, end)` (empty when none fits): what every
/// source reads from its hourly sums, the rest from raw rows.
pub fn whole_hours(filter: &Filter) -> (i64, i64) {
    let first = hour_of(filter.from_ns)
        + if filter.from_ns.rem_euclid(HOUR_NS) == 0 {
            0
        } else {
            HOUR_NS
        };
    (first, hour_of(filter.to_ns))
}
/// Bucket widths a range is cut into: the smallest giving at most `MAX_BUCKETS` buckets.
const BUCKET_WIDTHS_NS: [i64; 10] = [
    MINUTE_NS,
    5 * MINUTE_NS,
    15 * MINUTE_NS,
    60 * MINUTE_NS,
    3 * 60 * MINUTE_NS,
    6 * 60 * MINUTE_NS,
    12 * 60 * MINUTE_NS,
    24 * 60 * MINUTE_NS,
    7 * 24 * 60 * MINUTE_NS,
    30 * 24 * 60 * MINUTE_NS,
];
/// Histogram bins per doubling of latency: percentiles are exact to within ±9 %.
pub const LATENCY_BINS_PER_OCTAVE: f64 = 4.0;

/// The bucket width for a range.
pub fn bucket_width(from_ns: i64, to_ns: i64) -> i64 {
    let span = (to_ns - from_ns).max(1);
    BUCKET_WIDTHS_NS
        .into_iter()
        .find(|w| span / w < MAX_BUCKETS)
        .unwrap_or(BUCKET_WIDTHS_NS[BUCKET_WIDTHS_NS.len() - 1])
}

/// The latency histogram bin of a duration: `LATENCY_BINS_PER_OCTAVE` bins per doubling.
pub fn latency_bin(ms: f64) -> i64 {
    (ms.max(1.0).log2() * LATENCY_BINS_PER_OCTAVE).round() as i64
}

/// The milliseconds a latency bin stands for.
pub fn bin_ms(bin: i64) -> f64 {
    2f64.powf(bin as f64 / LATENCY_BINS_PER_OCTAVE)
}

/// Values per bucket and group.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TimeSeries {
    pub from_ns: i64,
    pub to_ns: i64,
    pub bucket_ns: i64,
    /// Group name -> (bucket start -> value). Groups sorted by name.
    pub groups: BTreeMap<String, BTreeMap<i64, f64>>,
}

impl TimeSeries {
    /// An empty series over the filter's range, with its bucket width.
    pub fn new(filter: &Filter) -> TimeSeries {
        let bucket_ns = bucket_width(filter.from_ns, filter.to_ns);
        TimeSeries {
            from_ns: filter.from_ns,
            to_ns: filter.to_ns,
            bucket_ns,
            groups: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, group: String, bucket: i64, value: f64) {
        *self
            .groups
            .entry(group)
            .or_default()
            .entry(bucket)
            .or_default() += value;
    }

    /// Each group's total over the range.
    pub fn totals(&self) -> BTreeMap<String, f64> {
        self.groups
            .iter()
            .map(|(g, b)| (g.clone(), b.values().sum()))
            .collect()
    }

    /// The start of every bucket in the range.
    pub fn buckets(&self) -> Vec<i64> {
        let first = self.from_ns - self.from_ns.rem_euclid(self.bucket_ns);
        (0..)
            .map(|i| first + i * self.bucket_ns)
            .take_while(|b| *b < self.to_ns)
            .collect()
    }
}

/// Latency percentiles per bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencySeries {
    pub bucket_ns: i64,
    /// Bucket start -> (p50 ms, p95 ms, requests).
    pub buckets: BTreeMap<i64, (f64, f64, u64)>,
}

impl LatencySeries {
    /// Percentiles from a histogram per bucket: bucket start -> [(latency bin, requests)].
    pub fn from_histograms(bucket_ns: i64, histograms: BTreeMap<i64, Vec<(i64, u64)>>) -> Self {
        let mut out = LatencySeries {
            bucket_ns,
            buckets: BTreeMap::new(),
        };
        for (bucket, bins) in histograms {
            out.buckets
                .insert(bucket, crate::latency::percentiles(&bins));
        }
        out
    }
}

/// One group's activity and usage (a user, a team, a terminal, a version…): the rows of the
/// fleet views and of the usage report's per-team section.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupUsage {
    pub key: String,
    /// Distinct users (e-mail, else `user.id`).
    pub users: u64,
    pub sessions: u64,
    pub prompts: u64,
    pub cost_usd: f64,
    pub tokens: f64,
    pub lines_added: f64,
    pub lines_removed: f64,
    pub edits_accepted: f64,
    pub edits_rejected: f64,
}

/// One row of a per-category breakdown (tools, edit decisions).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Breakdown {
    pub key: String,
    pub count: u64,
    pub success: u64,
    pub failure: u64,
    pub mean_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_widths_keep_charts_under_the_cap() {
        let hour = 60 * MINUTE_NS;
        assert_eq!(bucket_width(0, hour), MINUTE_NS);
        assert_eq!(bucket_width(0, 24 * hour), 15 * MINUTE_NS);
        assert_eq!(bucket_width(0, 7 * 24 * hour), 3 * hour);
        assert_eq!(bucket_width(0, 30 * 24 * hour), 12 * hour);
        for span in [1, hour, 24 * hour, 90 * 24 * hour, 3650 * 24 * hour] {
            assert!(
                span / bucket_width(0, span) <= MAX_BUCKETS
                    || bucket_width(0, span) == BUCKET_WIDTHS_NS[9]
            );
        }
    }

    #[test]
    fn dimensions_parse_and_refuse_unknowns() {
        assert_eq!(Dimension::parse("model").expect("model"), Dimension::Model);
        assert_eq!(
            Dimension::parse("attr:department").expect("attr"),
            Dimension::Attribute("department".into())
        );
        assert!(Dimension::parse("attr:").is_err());
        assert!(Dimension::parse("attr:a\"b").is_err());
        assert!(Dimension::parse("attr:a'b").is_err());
        assert!(Dimension::parse("colour").is_err());
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = BTreeMap::new();
        h.insert(0, vec![(latency_bin(100.0), 9), (latency_bin(1000.0), 1)]);
        let s = LatencySeries::from_histograms(60, h);
        let (p50, p95, n) = s.buckets[&0];
        assert_eq!(n, 10);
        assert!((p50 - 100.0).abs() / 100.0 < 0.1, "{p50}");
        assert!((p95 - 1000.0).abs() / 1000.0 < 0.1, "{p95}");
    }
}
