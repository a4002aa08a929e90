//! `ClickHouse`: the `Source` over the exporter's tables. Each method is one to three queries
//! whose results are already aggregated (per bucket and group, per session, per model).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccscope_query::{
    Breakdown, Dimension, EventQuery, EventRow, Filter, GroupUsage, LatencySeries, PointRow,
    Report, SessionSummary, Source, SourceError, TimeSeries, Tokens,
};
use ccscope_telemetry::facts::{Fact, type_attributes};
use ccscope_telemetry::{MetricKind, TokenType};
use serde::Deserialize;
use serde_json::Value;

use crate::client::{Client, Query};
use crate::config::Config;
use ccscope_query::HOUR_NS;

use crate::rollup::{self, Kind};
use crate::schema::Schema;
use crate::sql::{self, Spans, USAGE_METRICS};
use crate::summary;

/// A ClickHouse database holding the exporter's tables. Cheap to clone: clones share the HTTP
/// connection pool and the detected schema.
#[derive(Clone)]
pub struct ClickHouse {
    client: Client,
    schema: Arc<Mutex<Option<Schema>>>,
    rollups: Arc<Mutex<Option<(Instant, rollup::Status)>>>,
}

/// How long the rollups' marks are taken as read (the views move them once a minute).
const ROLLUP_STATUS_TTL: Duration = Duration::from_secs(5);

/// The hours `[from, to)` (ns) of a query's events and points read from the rollups.
#[derive(Debug, Clone, Copy, Default)]
struct Plan {
    events: Option<(i64, i64)>,
    points: Option<(i64, i64)>,
    /// The hours the session-hour summary answers (only where it can answer exactly).
    sessions: Option<(i64, i64)>,
}

/// Where a query's rows of one kind come from: raw spans `[from, to)` and rolled-up hours.
#[derive(Debug, Default)]
struct Reach {
    raw: Vec<(i64, i64)>,
    rolled: Vec<(i64, i64)>,
}

impl Reach {
    /// The filter's range with the hours `cut` from a rollup: raw before and after them.
    fn of(filter: &Filter, cut: Option<(i64, i64)>) -> Reach {
        match cut {
            None => Reach {
                raw: vec![(filter.from_ns, filter.to_ns)],
                rolled: Vec::new(),
            },
            Some((from, to)) => Reach {
                raw: [(filter.from_ns, from), (to, filter.to_ns)]
                    .into_iter()
                    .filter(|(a, b)| a < b)
                    .collect(),
                rolled: vec![(from, to)],
            },
        }
    }

    fn add(&mut self, other: Reach) {
        self.raw.extend(other.raw);
        self.rolled.extend(other.rolled);
    }

    fn is_empty(&self) -> bool {
        self.raw.is_empty() && self.rolled.is_empty()
    }

    /// The row queries of this reach as one UNION ALL: `rolled` for each rolled-up range, and
    /// `raw` once over all the raw spans (bound), as ClickHouse spends
    /// ~50-100 ms analysing each row query, empty or not.
    fn union(
        &self,
        q: &mut Query,
        mut rolled: impl FnMut(&mut Query, i64, i64) -> String,
        raw: impl FnOnce(&mut Query, &Spans) -> String,
    ) -> String {
        let mut parts: Vec<String> = self.rolled.iter().map(|&(a, b)| rolled(q, a, b)).collect();
        if !self.raw.is_empty() {
            let spans = Spans(
                self.raw
                    .iter()
                    .map(|&(a, b)| (q.bind_i64(a), q.bind_i64(b)))
                    .collect(),
            );
            parts.push(raw(q, &spans));
        }
        parts.join(" UNION ALL ")
    }
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ClickHouse")
            .field(&self.client.config().display_url())
            .finish()
    }
}

/// Counts come back as numbers; some aggregates of empty sets as null.
fn num(v: Option<f64>) -> f64 {
    v.unwrap_or(0.0)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl ClickHouse {
    /// A client for `config`; fails only on its CA file (unreadable, or no certificate).
    pub fn new(config: Config) -> Result<ClickHouse, crate::ConfigError> {
        Ok(ClickHouse {
            client: Client::new(config)?,
            schema: Arc::new(Mutex::new(None)),
            rollups: Arc::new(Mutex::new(None)),
        })
    }

    pub fn config(&self) -> &Config {
        self.client.config()
    }

    /// Connects, checks the credentials and finds the tables: the clear error a user should see
    /// at startup rather than on the first chart.
    pub fn check(&self) -> Result<(), SourceError> {
        self.schema().map(|_| ())
    }

    /// The tables' shape, detected once (and again while the tables are missing).
    fn schema(&self) -> Result<Schema, SourceError> {
        if let Ok(guard) = self.schema.lock()
            && let Some(schema) = guard.as_ref()
        {
            return Ok(schema.clone());
        }
        let schema = Schema::detect(&self.client)?;
        if let Ok(mut guard) = self.schema.lock() {
            *guard = Some(schema.clone());
        }
        Ok(schema)
    }

    /// Creates ccscope's hourly rollups beside the exporter's tables and brings them up to
    /// date (see `rollup`): needs a user that may create tables and views. With `refresh`, the
    /// engine keeps them current with views that run as that definer; `until_ns` rolls up only
    /// the hours before it and, like no `refresh`, creates no views.
    pub fn install_rollups(
        &self,
        until_ns: Option<i64>,
        refresh: Option<&rollup::Definer>,
        rebuild: bool,
        progress: &mut dyn FnMut(&'static str, i64),
    ) -> Result<rollup::Installed, SourceError> {
        let schema = self.schema()?;
        let installed = rollup::install(
            &self.client,
            &schema,
            until_ns,
            refresh.filter(|_| until_ns.is_none()),
            rebuild,
            &mut |kind, mark| progress(kind.label(), mark),
        )?;
        if let Ok(mut guard) = self.rollups.lock() {
            *guard = None;
        }
        Ok(installed)
    }

    /// Whether rollups exist and how far they reach.
    pub fn rollups(&self) -> Result<rollup::Status, SourceError> {
        self.schema()?;
        rollup::status(&self.client)
    }

    /// Drops ccscope's rollup tables and views.
    pub fn drop_rollups(&self) -> Result<(), SourceError> {
        rollup::drop_all(&self.client)?;
        if let Ok(mut guard) = self.rollups.lock() {
            *guard = None;
        }
        Ok(())
    }

    /// The rollups' state, read at most every `ROLLUP_STATUS_TTL`.
    fn rollup_status(&self) -> Result<rollup::Status, SourceError> {
        if let Ok(guard) = self.rollups.lock()
            && let Some((at, status)) = guard.as_ref()
            && at.elapsed() < ROLLUP_STATUS_TTL
        {
            return Ok(status.clone());
        }
        let status = rollup::status(&self.client)?;
        if let Ok(mut guard) = self.rollups.lock() {
            *guard = Some((Instant::now(), status.clone()));
        }
        Ok(status)
    }

    /// Which whole hours of `filter`'s range the rollups answer: those below each table's
    /// mark, when the query's buckets (`bucket_ns`) are whole hours and no attribute it filters
    /// or groups by is a record attribute in the rolled-up hours (the rollups keep only
    /// resource attributes' values).
    fn plan(
        &self,
        filter: &Filter,
        bucket_ns: Option<i64>,
        groups: &[&Dimension],
    ) -> Result<Plan, SourceError> {
        if bucket_ns.is_some_and(|w| w <= 0 || w % HOUR_NS != 0) {
            return Ok(Plan::default());
        }
        let status = self.rollup_status()?;
        if !status.tables {
            return Ok(Plan::default());
        }
        let mut keys: Vec<&str> = filter.attributes.iter().map(|(k, _)| k.as_str()).collect();
        for g in groups {
            if let Dimension::Attribute(key) = g {
                keys.push(key);
            }
        }
        let (from, whole_to) = ccscope_query::whole_hours(filter);
        let cut = |kind: Kind, mark: i64| -> Result<Option<(i64, i64)>, SourceError> {
            let to = whole_to.min(mark);
            if from >= to || rollup::shadows(&self.client, kind, &keys, from, to)? {
                return Ok(None);
            }
            Ok(Some((from, to)))
        };
        // The summary keeps resource attributes only: neither events nor points may carry a
        // key it filters or splits by as a record attribute in its hours.
        let sessions = if status.sessions
            && filter.model.is_none()
            && groups.iter().all(|g| summary_splits(g))
        {
            match (
                cut(Kind::Events, status.sessions_mark)?,
                cut(Kind::Points, status.sessions_mark)?,
            ) {
                (Some(hours), Some(_)) => Some(hours),
                _ => None,
            }
        } else {
            None
        };
        Ok(Plan {
            events: cut(Kind::Events, status.events_mark)?,
            points: cut(Kind::Points, status.points_mark)?,
            sessions,
        })
    }

    /// Session-hour rows (`summary`, with the group `g` of `group`) of the filter: the
    /// summary's whole hours and, around them, rows made from `events_sql` / `points_sql`;
    /// and the sessions among them with usage metrics, read without making the edges' rows
    /// twice. None when the summary cannot answer (`plan`).
    fn session_hours_sql(
        &self,
        filter: &Filter,
        group: &Dimension,
        bucket_ns: Option<i64>,
        q: &mut Query,
    ) -> Result<Option<SessionHours>, SourceError> {
        filter.check()?;
        let plan = self.plan(filter, bucket_ns, &[group])?;
        let Some((from, to)) = plan.sessions else {
            return Ok(None);
        };
        let g = summary_group(group, q);
        let cond = sql::rollup_conditions(filter, q, "''");
        let (f, t) = (q.bind_i64(from), q.bind_i64(to));
        let stored = summary::stored(self.config(), &g, &cond, &f, &t);
        let mut metered = vec![format!(
            "SELECT session_id FROM ({stored}) WHERE metered = 1"
        )];
        let mut parts = vec![stored];
        // Both edges (the partial first hour, the hours after the summary's mark) in one set
        // of row queries: each raw or rolled-up row query costs ClickHouse ~50-100 ms just to
        // analyse, whether its span holds rows or not.
        let (mut events, mut points) = (Reach::default(), Reach::default());
        for (a, b) in [(filter.from_ns, from), (to, filter.to_ns)] {
            if a >= b {
                continue;
            }
            let edge = Filter {
                from_ns: a,
                to_ns: b,
                ..filter.clone()
            };
            let edge_plan = self.plan(&edge, bucket_ns, &[group])?;
            events.add(Reach::of(&edge, edge_plan.events));
            points.add(Reach::of(&edge, edge_plan.points));
        }
        if !events.is_empty() {
            let event_rows = self.events_rows(filter, &events, q)?;
            let point_rows = self.points_rows(filter, "", &points, q)?;
            let (ge, gp) = (sql::group(group, true, q), sql::group(group, false, q));
            parts.push(summary::rows(&event_rows, &point_rows, &ge, &gp));
            let usage = self.points_rows(filter, USAGE_METRICS, &points, q)?;
            metered.push(format!("SELECT session_id FROM ({usage})"));
        }
        Ok(Some(SessionHours {
            rows: parts.join(" UNION ALL "),
            metered: metered.join(" UNION ALL "),
        }))
    }

    /// The `events` rows of the filter: rolled-up hours (`plan`) and raw edges.
    fn events_sql(
        &self,
        filter: &Filter,
        plan: Plan,
        q: &mut Query,
    ) -> Result<String, SourceError> {
        self.events_rows(filter, &Reach::of(filter, plan.events), q)
    }

    /// The `events` rows of the filter read from the exporter's logs (no rollup), with their
    /// attributes (`attrs`), for queries on facts the rollups do not keep.
    pub(crate) fn raw_events_sql(
        &self,
        filter: &Filter,
        q: &mut Query,
    ) -> Result<String, SourceError> {
        self.events_sql(filter, Plan::default(), q)
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the exporter's traces table exists (no spans without it).
    pub(crate) fn has_traces(&self) -> Result<bool, SourceError> {
        Ok(self.schema()?.traces)
    }

    /// The `points` rows of the filter (only `metrics`, a SQL list, when not empty).
    fn points_sql(
        &self,
        filter: &Filter,
        metrics: &str,
        plan: Plan,
        q: &mut Query,
    ) -> Result<String, SourceError> {
        self.points_rows(filter, metrics, &Reach::of(filter, plan.points), q)
    }

    /// The `events` rows matching the filter's conditions other than time, read where `reach`
    /// says.
    fn events_rows(
        &self,
        filter: &Filter,
        reach: &Reach,
        q: &mut Query,
    ) -> Result<String, SourceError> {
        filter.check()?;
        let schema = self.schema()?;
        let config = self.config();
        Ok(reach.union(
            q,
            |q, from, to| {
                let cond = sql::rollup_conditions(filter, q, "model");
                rollup::events(config, &cond, &q.bind_i64(from), &q.bind_i64(to))
            },
            |q, spans| {
                let cond =
                    sql::conditions(filter, q, "LogAttributes", "ResourceAttributes", "model");
                sql::events(config, &schema, &cond, spans)
            },
        ))
    }

    /// The `points` rows (only `metrics`, a SQL list, when not empty) matching the filter's
    /// conditions other than time, read where `reach` says.
    fn points_rows(
        &self,
        filter: &Filter,
        metrics: &str,
        reach: &Reach,
        q: &mut Query,
    ) -> Result<String, SourceError> {
        filter.check()?;
        let schema = self.schema()?;
        let config = self.config();
        Ok(reach.union(
            q,
            |q, from, to| {
                let cond = sql::rollup_conditions(filter, q, "model");
                rollup::points(config, &cond, metrics, &q.bind_i64(from), &q.bind_i64(to))
            },
            |q, spans| {
                let cond = sql::conditions(
                    filter,
                    q,
                    "Attributes",
                    "ResourceAttributes",
                    "Attributes['model']",
                );
                sql::points(config, &schema, &cond, metrics, spans)
            },
        ))
    }

    /// The names condition and search of an event listing, on `events` rows.
    fn listing(&self, query: &EventQuery, q: &mut Query) -> Result<String, SourceError> {
        let rows = self.events_sql(&query.filter, Plan::default(), q)?;
        let mut cond = String::from("1");
        if !query.names.is_empty() {
            let names: Vec<String> = query.names.iter().map(|n| q.bind(n)).collect();
            cond.push_str(&format!(" AND name IN ({})", names.join(", ")));
        }
        if let Some(search) = &query.search {
            let s = q.bind(search);
            cond.push_str(&format!(
                " AND positionCaseInsensitiveUTF8(concat(toString(attrs), ' ', name, ' ', body), {s}) > 0"
            ));
        }
        Ok(format!("SELECT * FROM ({rows}) WHERE {cond}"))
    }
}

/// A row of the report's sums: a metric's sum (`kind` "p"), or an event name's count and
/// fallback usage ("e").
#[derive(Deserialize)]
struct ReportRow {
    kind: String,
    metric: String,
    model: String,
    point_type: String,
    decision: String,
    name: String,
    v: Option<f64>,
    unnamed: Option<f64>,
    #[serde(deserialize_with = "crate::lenient::int")]
    events_n: u64,
    #[serde(deserialize_with = "crate::lenient::int")]
    fallback: u64,
    cost: Option<f64>,
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_creation: Option<f64>,
}

#[derive(Deserialize)]
struct CountRow {
    #[serde(deserialize_with = "crate::lenient::int")]
    n: u64,
}

#[derive(Deserialize)]
struct SessionEventsRow {
    session_id: String,
    #[serde(deserialize_with = "crate::lenient::int")]
    first: i64,
    #[serde(deserialize_with = "crate::lenient::int")]
    last: i64,
    #[serde(deserialize_with = "crate::lenient::int")]
    #[serde(rename = "cnt")]
    n: u64,
    user_id: String,
    user_email: String,
    terminal_type: String,
    #[serde(deserialize_with = "crate::lenient::int")]
    prompts: u64,
    #[serde(deserialize_with = "crate::lenient::int")]
    api_errors: u64,
    cost: Option<f64>,
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_creation: Option<f64>,
    models: Vec<String>,
}

#[derive(Deserialize)]
struct SessionPointsRow {
    session_id: String,
    #[serde(deserialize_with = "crate::lenient::int")]
    first: i64,
    #[serde(deserialize_with = "crate::lenient::int")]
    last: i64,
    user_id: String,
    user_email: String,
    terminal_type: String,
    #[serde(deserialize_with = "crate::lenient::int")]
    metered: u8,
    cost: Option<f64>,
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_creation: Option<f64>,
    added: Option<f64>,
    removed: Option<f64>,
    models: Vec<String>,
}

#[derive(Deserialize)]
struct BucketGroupRow {
    #[serde(deserialize_with = "crate::lenient::int")]
    b: i64,
    g: String,
    v: Option<f64>,
}

#[derive(Deserialize)]
struct EventRowWire {
    #[serde(deserialize_with = "crate::lenient::int")]
    time_ns: i64,
    name: String,
    session_id: String,
    #[serde(deserialize_with = "crate::lenient::opt_int")]
    seq: Option<i64>,
    prompt_id: String,
    user_id: String,
    model: String,
    tool_name: String,
    cost_n: Option<f64>,
    duration_ms: Option<f64>,
    #[serde(deserialize_with = "crate::lenient::opt_int")]
    success: Option<u8>,
    #[serde(deserialize_with = "crate::lenient::opt_int")]
    status_code: Option<i64>,
    attrs: serde_json::Map<String, Value>,
    res: serde_json::Map<String, Value>,
    request_id: String,
    tool_use_id: String,
    decision: String,
    decision_source: String,
    error: String,
    prompt: String,
    #[serde(deserialize_with = "crate::lenient::int")]
    has_tokens: u8,
    t_input: f64,
    t_output: f64,
    t_cache_read: f64,
    t_cache_creation: f64,
}

#[derive(Deserialize)]
struct SpanRowWire {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    #[serde(deserialize_with = "crate::lenient::int")]
    start_ns: i64,
    #[serde(deserialize_with = "crate::lenient::int")]
    end_ns: i64,
    #[serde(deserialize_with = "crate::lenient::int")]
    status_code: i64,
    attrs: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct PointRowWire {
    metric: String,
    unit: String,
    #[serde(deserialize_with = "crate::lenient::int")]
    temporality: i32,
    #[serde(deserialize_with = "crate::lenient::int")]
    start_ns: i64,
    #[serde(deserialize_with = "crate::lenient::int")]
    time_ns: i64,
    value: f64,
    session_id: String,
    model: String,
    point_type: String,
    attrs: serde_json::Map<String, Value>,
    res: serde_json::Map<String, Value>,
}

/// Whether the summary can split by `dimension`: only by what is constant within a session.
fn summary_splits(dimension: &Dimension) -> bool {
    !matches!(
        dimension,
        Dimension::Model | Dimension::Type | Dimension::StatusCode | Dimension::Tool
    )
}

/// The group of `dimension` over summary rows (`summary_splits`; `''` for the others).
fn summary_group(dimension: &Dimension, q: &mut Query) -> String {
    match dimension {
        Dimension::Session => "session_id".into(),
        Dimension::User => USER.into(),
        Dimension::TerminalType => "terminal_type".into(),
        Dimension::Version => "version".into(),
        Dimension::Attribute(key) => {
            let k = q.bind(key);
            format!("res[{k}]")
        }
        Dimension::None
        | Dimension::Model
        | Dimension::Type
        | Dimension::StatusCode
        | Dimension::Tool => "''".into(),
    }
}

/// Session-hour rows, and the sessions among them with usage metrics.
struct SessionHours {
    rows: String,
    metered: String,
}

impl SessionHours {
    /// Summary rows' flag: the row's session has no usage metrics (its `api_request` events
    /// count for cost and tokens).
    fn fallback(&self) -> String {
        format!("session_id NOT IN ({})", self.metered)
    }
}

/// The condition, on `events` rows, of a session whose cost and tokens do not come from
/// metrics in the range.
fn unmetered(points_usage: &str) -> String {
    format!("session_id NOT IN (SELECT DISTINCT session_id FROM ({points_usage}))")
}

impl Source for ClickHouse {
    fn describe(&self) -> String {
        self.config().display_url()
    }

    fn report(&self, filter: &Filter) -> Result<Report, SourceError> {
        let mut q = Query::default();
        if let Some(hours) = self.session_hours_sql(filter, &Dimension::None, None, &mut q)? {
            return self.summary_report(&hours, q);
        }
        let mut report = Report::default();
        let plan = self.plan(filter, None, &[])?;
        // One pass: metric sums per metric, model, type and decision, and events per name and
        // model with the usage of sessions without usage metrics.
        let mut q = Query::default();
        let points = self.points_sql(filter, "", plan, &mut q)?;
        let events = self.events_sql(filter, plan, &mut q)?;
        let usage_points = self.points_sql(filter, USAGE_METRICS, plan, &mut q)?;
        let fallback = format!("name = 'api_request' AND {}", unmetered(&usage_points));
        q.sql = format!(
            "SELECT kind, metric, model, point_type, decision, name,
                    sum(value) AS v, sumIf(value, s = '') AS unnamed, sum(cnt) AS events_n,
                    sum(fb) AS fallback, sum(f_cost) AS cost, sum(f_input) AS input,
                    sum(f_output) AS output, sum(f_cache_read) AS cache_read,
                    sum(f_cache_creation) AS cache_creation
             FROM (
                SELECT 'p' AS kind, metric, model, point_type, decision, '' AS name,
                       session_id AS s, value, toUInt64(0) AS cnt, toUInt64(0) AS fb,
                       toFloat64(0) AS f_cost, toFloat64(0) AS f_input, toFloat64(0) AS f_output,
                       toFloat64(0) AS f_cache_read, toFloat64(0) AS f_cache_creation
                FROM ({points})
                UNION ALL
                SELECT 'e', '', model, '', '', name, session_id, toFloat64(0), n,
                       if(is_fallback, n, 0), if(is_fallback, cost, 0),
                       if(is_fallback, input_tokens, 0), if(is_fallback, output_tokens, 0),
                       if(is_fallback, cache_read_tokens, 0), if(is_fallback, cache_creation_tokens, 0)
                FROM (SELECT *, {fallback} AS is_fallback FROM ({events})))
             GROUP BY kind, metric, model, point_type, decision, name"
        );
        let mut by_model: HashMap<String, (f64, f64)> = HashMap::new();
        let mut unnamed_sessions = 0.0;
        for row in self.client.all::<ReportRow>(&q)? {
            let value = num(row.v);
            match row.kind.as_str() {
                "e" => {
                    *report.events.entry(row.name.clone()).or_default() += row.events_n;
                    if row.name == "api_request" && row.fallback > 0 {
                        let tokens = Tokens {
                            input: num(row.input),
                            output: num(row.output),
                            cache_read: num(row.cache_read),
                            cache_creation: num(row.cache_creation),
                        };
                        let cost = num(row.cost);
                        report.cost_usd += cost;
                        report.tokens.add(&tokens);
                        let m = by_model.entry(row.model).or_default();
                        m.0 += cost;
                        m.1 += tokens.total();
                    }
                }
                _ => match MetricKind::from_name(&row.metric) {
                    Some(MetricKind::CostUsage) => {
                        report.cost_usd += value;
                        by_model.entry(row.model).or_default().0 += value;
                    }
                    Some(MetricKind::TokenUsage) => {
                        if let Some(t) = TokenType::parse(&row.point_type) {
                            report.tokens.add_type(t, value);
                        }
                        by_model.entry(row.model).or_default().1 += value;
                    }
                    Some(MetricKind::LinesOfCode) => match row.point_type.as_str() {
                        "added" => report.lines_added += value,
                        "removed" => report.lines_removed += value,
                        _ => {}
                    },
                    Some(MetricKind::CommitCount) => report.commits += value,
                    Some(MetricKind::PullRequestCount) => report.pull_requests += value,
                    Some(MetricKind::ActiveTime) => match row.point_type.as_str() {
                        "user" => report.active_user_s += value,
                        "cli" => report.active_cli_s += value,
                        _ => {}
                    },
                    Some(MetricKind::CodeEditToolDecision) => match row.decision.as_str() {
                        "accept" => report.edits_accepted += value,
                        "reject" => report.edits_rejected += value,
                        _ => {}
                    },
                    Some(MetricKind::SessionCount) => unnamed_sessions += num(row.unnamed),
                    _ => {}
                },
            }
        }
        // Distinct sessions seen in events or points.
        let mut q = Query::default();
        let events = self.events_sql(filter, plan, &mut q)?;
        let points = self.points_sql(filter, "", plan, &mut q)?;
        q.sql = format!(
            "SELECT uniqExact(s) AS n FROM (
                SELECT session_id AS s FROM ({events}) WHERE s != ''
                UNION ALL SELECT session_id AS s FROM ({points}) WHERE s != '')"
        );
        let named = self
            .client
            .all::<CountRow>(&q)?
            .first()
            .map(|r| r.n)
            .unwrap_or(0);
        report.sessions = named + unnamed_sessions.round() as u64;
        report.by_model = ccscope_query::models_by_cost(by_model);
        Ok(report)
    }

    fn sessions(&self, filter: &Filter) -> Result<Vec<SessionSummary>, SourceError> {
        let mut out: BTreeMap<String, SessionSummary> = BTreeMap::new();
        let mut models: HashMap<String, BTreeSet<String>> = HashMap::new();
        let plan = self.plan(filter, None, &[])?;
        let mut q = Query::default();
        let events = self.events_sql(filter, plan, &mut q)?;
        q.sql = format!(
            "SELECT session_id, min(first_ns) AS first, max(last_ns) AS last, sum(n) AS cnt,
                    max(user_id) AS user_id, max(user_email) AS user_email,
                    max(terminal_type) AS terminal_type,
                    sumIf(n, name = 'user_prompt') AS prompts, sumIf(n, name = 'api_error') AS api_errors,
                    sumIf(cost, name = 'api_request') AS cost,
                    sumIf(input_tokens, name = 'api_request') AS input,
                    sumIf(output_tokens, name = 'api_request') AS output,
                    sumIf(cache_read_tokens, name = 'api_request') AS cache_read,
                    sumIf(cache_creation_tokens, name = 'api_request') AS cache_creation,
                    groupUniqArrayIf(model, name = 'api_request' AND model != '') AS models
             FROM ({events}) WHERE session_id != '' GROUP BY session_id"
        );
        let mut event_usage: HashMap<String, (f64, Tokens)> = HashMap::new();
        for row in self.client.all::<SessionEventsRow>(&q)? {
            models
                .entry(row.session_id.clone())
                .or_default()
                .extend(row.models);
            event_usage.insert(
                row.session_id.clone(),
                (
                    num(row.cost),
                    Tokens {
                        input: num(row.input),
                        output: num(row.output),
                        cache_read: num(row.cache_read),
                        cache_creation: num(row.cache_creation),
                    },
                ),
            );
            out.insert(
                row.session_id.clone(),
                SessionSummary {
                    session_id: row.session_id,
                    first_ns: row.first,
                    last_ns: row.last,
                    events: row.n,
                    user_id: non_empty(row.user_id),
                    user_email: non_empty(row.user_email),
                    terminal_type: non_empty(row.terminal_type),
                    prompts: row.prompts,
                    api_errors: row.api_errors,
                    usage_source: "events",
                    ..SessionSummary::default()
                },
            );
        }
        let mut q = Query::default();
        let points = self.points_sql(filter, "", plan, &mut q)?;
        let usage = format!("metric IN ({USAGE_METRICS})");
        let tokens = |ty: &str| {
            format!("sumIf(value, metric = 'claude_code.token.usage' AND point_type = '{ty}')")
        };
        q.sql = format!(
            "SELECT session_id, min(first_ns) AS first, max(last_ns) AS last,
                    max(user_id) AS user_id, max(user_email) AS user_email,
                    max(terminal_type) AS terminal_type,
                    max({usage}) AS metered,
                    sumIf(value, metric = 'claude_code.cost.usage') AS cost,
                    {input} AS input, {output} AS output, {cache_read} AS cache_read,
                    {cache_creation} AS cache_creation,
                    sumIf(value, metric = 'claude_code.lines_of_code.count' AND point_type = 'added') AS added,
                    sumIf(value, metric = 'claude_code.lines_of_code.count' AND point_type = 'removed') AS removed,
                    groupUniqArrayIf(model, {usage} AND model != '') AS models
             FROM ({points}) WHERE session_id != '' GROUP BY session_id",
            input = tokens("input"),
            output = tokens("output"),
            cache_read = tokens("cacheRead"),
            cache_creation = tokens("cacheCreation"),
        );
        for row in self.client.all::<SessionPointsRow>(&q)? {
            let s = out
                .entry(row.session_id.clone())
                .or_insert_with(|| SessionSummary {
                    session_id: row.session_id.clone(),
                    first_ns: row.first,
                    last_ns: row.last,
                    usage_source: "events",
                    ..SessionSummary::default()
                });
            s.first_ns = s.first_ns.min(row.first);
            s.last_ns = s.last_ns.max(row.last);
            s.user_id = s.user_id.take().or(non_empty(row.user_id));
            s.user_email = s.user_email.take().or(non_empty(row.user_email));
            s.terminal_type = s.terminal_type.take().or(non_empty(row.terminal_type));
            s.lines_added += num(row.added);
            s.lines_removed += num(row.removed);
            if row.metered == 1 {
                s.usage_source = "metrics";
                s.cost_usd = num(row.cost);
                s.tokens = Tokens {
                    input: num(row.input),
                    output: num(row.output),
                    cache_read: num(row.cache_read),
                    cache_creation: num(row.cache_creation),
                };
                models
                    .entry(row.session_id.clone())
                    .or_default()
                    .extend(row.models);
            }
        }
        for (session, s) in out.iter_mut() {
            if s.usage_source == "events"
                && let Some((cost, tokens)) = event_usage.get(session)
            {
                s.cost_usd = *cost;
                s.tokens = *tokens;
            }
        }
        let mut list: Vec<SessionSummary> = out
            .into_values()
            .map(|mut s| {
                s.models = models
                    .remove(&s.session_id)
                    .map(|m| m.into_iter().collect())
                    .unwrap_or_default();
                s
            })
            .collect();
        list.sort_by_key(|s| std::cmp::Reverse(s.last_ns));
        Ok(list)
    }

    fn events(
        &self,
        query: &EventQuery,
        each: &mut dyn FnMut(EventRow) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        let mut q = Query::default();
        let rows = self.listing(query, &mut q)?;
        let order = if query.newest_first { "DESC" } else { "ASC" };
        let limit = match (query.limit, query.offset) {
            (Some(l), o) => format!(" LIMIT {l} OFFSET {o}"),
            (None, 0) => String::new(),
            (None, o) => format!(" OFFSET {o}"),
        };
        // The facts the row set does not carry, from the table of facts.
        let fact = |f: Fact| crate::facts::fact_sql(f, "name", "attrs");
        let tokens = [
            fact(Fact::InputTokens),
            fact(Fact::OutputTokens),
            fact(Fact::CacheReadTokens),
            fact(Fact::CacheCreationTokens),
        ];
        q.sql = format!(
            "SELECT time_ns, name, session_id, seq, prompt_id, user_id, model, tool_name, cost_n,
                    duration_ms, success, status_code, attrs, res,
                    ifNull({request_id}, '') AS request_id, ifNull({tool_use_id}, '') AS tool_use_id,
                    ifNull({decision}, '') AS decision, ifNull({decision_source}, '') AS decision_source,
                    ifNull({error}, '') AS error, ifNull({prompt}, '') AS prompt,
                    toUInt8(isNotNull({t0}) OR isNotNull({t1}) OR isNotNull({t2}) OR isNotNull({t3})) AS has_tokens,
                    toFloat64(ifNull({t0}, 0)) AS t_input,
                    toFloat64(ifNull({t1}, 0)) AS t_output,
                    toFloat64(ifNull({t2}, 0)) AS t_cache_read,
                    toFloat64(ifNull({t3}, 0)) AS t_cache_creation
             FROM ({rows}) ORDER BY time_ns {order}, seq {order}{limit}",
            request_id = fact(Fact::RequestId),
            tool_use_id = fact(Fact::ToolUseId),
            decision = fact(Fact::Decision),
            decision_source = fact(Fact::DecisionSource),
            error = fact(Fact::Error),
            prompt = fact(Fact::PromptText),
            t0 = tokens[0],
            t1 = tokens[1],
            t2 = tokens[2],
            t3 = tokens[3],
        );
        self.client.rows(&q, |row: EventRowWire| {
            let mut attrs = row.attrs;
            // The exporter renders every value as text: known attributes get their type back.
            type_attributes(&mut attrs);
            each(EventRow {
                time_ns: row.time_ns,
                name: row.name,
                session_id: row.session_id,
                sequence: row.seq,
                prompt_id: non_empty(row.prompt_id),
                user_id: non_empty(row.user_id),
                model: non_empty(row.model),
                tool_name: non_empty(row.tool_name),
                cost_usd: row.cost_n,
                duration_ms: row.duration_ms,
                success: row.success.map(|s| s == 1),
                status_code: row.status_code,
                request_id: non_empty(row.request_id),
                tool_use_id: non_empty(row.tool_use_id),
                decision: non_empty(row.decision),
                decision_source: non_empty(row.decision_source),
                error: non_empty(row.error),
                tokens: (row.has_tokens == 1).then_some(Tokens {
                    input: row.t_input,
                    output: row.t_output,
                    cache_read: row.t_cache_read,
                    cache_creation: row.t_cache_creation,
                }),
                prompt: non_empty(row.prompt),
                prompt_length: attrs.get("prompt_length").and_then(Value::as_i64),
                attributes: Value::Object(attrs),
                resource: Value::Object(row.res),
            })
        })
    }

    fn spans(&self, filter: &Filter) -> Result<Vec<ccscope_query::SpanRow>, SourceError> {
        // The exporter's traces table: a span per row, its attributes rendered as text, its
        // start in `Timestamp` and its length in `Duration` (ns), its status by name.
        if !self.schema()?.traces {
            return Ok(Vec::new());
        }
        let mut q = Query::default();
        let from = q.bind_i64(filter.from_ns);
        let to = q.bind_i64(filter.to_ns);
        let session = match &filter.session {
            Some(session) => format!(" AND SpanAttributes['session.id'] = {}", q.bind(session)),
            None => String::new(),
        };
        q.sql = format!(
            "SELECT TraceId AS trace_id, SpanId AS span_id, ParentSpanId AS parent_span_id,
                    SpanName AS name, toUnixTimestamp64Nano(Timestamp) AS start_ns,
                    toInt64(toUnixTimestamp64Nano(Timestamp) + toInt64(Duration)) AS end_ns,
                    multiIf(lower(StatusCode) IN ('error', 'status_code_error'), 2,
                            lower(StatusCode) IN ('ok', 'status_code_ok'), 1, 0) AS status_code,
                    SpanAttributes AS attrs
             FROM {table}
             WHERE Timestamp >= fromUnixTimestamp64Nano({from})
               AND Timestamp < fromUnixTimestamp64Nano({to}){session}
             ORDER BY start_ns, span_id",
            table = sql::table(self.config(), &self.config().traces_table),
        );
        let rows: Vec<SpanRowWire> = self.client.all(&q)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let mut attrs = row.attrs;
                type_attributes(&mut attrs);
                ccscope_query::SpanRow {
                    trace_id: row.trace_id,
                    span_id: row.span_id,
                    parent_span_id: non_empty(row.parent_span_id),
                    name: row.name,
                    start_ns: row.start_ns,
                    end_ns: row.end_ns,
                    status_code: row.status_code,
                    attributes: Value::Object(attrs),
                }
            })
            .collect())
    }

    fn count_events(&self, query: &EventQuery) -> Result<u64, SourceError> {
        let mut q = Query::default();
        let rows = self.listing(query, &mut q)?;
        q.sql = format!("SELECT count() AS n FROM ({rows})");
        Ok(self
            .client
            .all::<CountRow>(&q)?
            .first()
            .map(|r| r.n)
            .unwrap_or(0))
    }

    fn points(
        &self,
        filter: &Filter,
        each: &mut dyn FnMut(PointRow) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        let mut q = Query::default();
        let points = self.points_sql(filter, "", Plan::default(), &mut q)?;
        q.sql = format!(
            "SELECT metric, unit, temporality, start_ns, time_ns, value, session_id, model,
                    point_type, attrs, res
             FROM ({points}) ORDER BY time_ns, metric"
        );
        self.client.rows(&q, |row: PointRowWire| {
            each(PointRow {
                metric: row.metric,
                unit: row.unit,
                temporality: if row.temporality == 2 {
                    "cumulative"
                } else {
                    "delta"
                }
                .to_owned(),
                start_ns: row.start_ns,
                time_ns: row.time_ns,
                value: row.value,
                session_id: row.session_id,
                model: non_empty(row.model),
                point_type: non_empty(row.point_type),
                attributes: Value::Object(row.attrs),
                resource: Value::Object(row.res),
            })
        })
    }

    fn newest_ns(&self) -> Result<Option<i64>, SourceError> {
        #[derive(Deserialize)]
        struct Newest {
            #[serde(deserialize_with = "crate::lenient::int")]
            t: i64,
        }
        let config = self.config();
        self.schema()?;
        let q = Query {
            sql: format!(
                "SELECT greatest(
                    (SELECT toUnixTimestamp64Nano(max(Timestamp)) FROM {logs}),
                    (SELECT toUnixTimestamp64Nano(toDateTime64(max(TimeUnix), 9)) FROM {sums})) AS t",
                logs = sql::table(config, &config.logs_table),
                sums = sql::table(config, &config.sums_table),
            ),
            params: Vec::new(),
        };
        Ok(self
            .client
            .all::<Newest>(&q)?
            .first()
            .map(|r| r.t)
            .filter(|t| *t > 0))
    }

    fn has_data(&self) -> Result<bool, SourceError> {
        Ok(self.newest_ns()?.is_some())
    }

    fn metric_series(
        &self,
        metric: MetricKind,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError> {
        let mut series = TimeSeries::new(filter);
        let plan = self.plan(filter, Some(series.bucket_ns), &[group])?;
        let mut q = Query::default();
        let m = q.bind(metric.name());
        let points = self.points_sql(filter, &m, plan, &mut q)?;
        let g = sql::group(group, false, &mut q);
        q.sql = format!(
            "SELECT {b} AS b, {g} AS g, sum(value) AS v FROM ({points}) GROUP BY b, g",
            b = sql::bucket(series.bucket_ns),
        );
        for row in self.client.all::<BucketGroupRow>(&q)? {
            series.add(row.g, row.b, num(row.v));
        }
        Ok(series)
    }

    fn usage_series(
        &self,
        tokens: bool,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError> {
        let metric = if tokens {
            MetricKind::TokenUsage
        } else {
            MetricKind::CostUsage
        };
        let mut series = self.metric_series(metric, group, filter)?;
        let plan = self.plan(filter, Some(series.bucket_ns), &[group])?;
        let mut q = Query::default();
        let events = self.events_sql(filter, plan, &mut q)?;
        // Whether a session is metered does not depend on the split or the attribute filter
        // (`Filter::usage_scope`).
        let usage_points = self.points_sql(&filter.usage_scope(), USAGE_METRICS, plan, &mut q)?;
        let b = sql::bucket(series.bucket_ns);
        let fallback = format!("name = 'api_request' AND {}", unmetered(&usage_points));
        if tokens && matches!(group, Dimension::Type) {
            q.sql = format!(
                "SELECT b, g, v FROM (
                    SELECT {b} AS b, sum(input_tokens) AS input, sum(output_tokens) AS output,
                           sum(cache_read_tokens) AS cacheRead, sum(cache_creation_tokens) AS cacheCreation
                    FROM ({events}) WHERE {fallback} GROUP BY b)
                 ARRAY JOIN ['input', 'output', 'cacheRead', 'cacheCreation'] AS g,
                            [input, output, cacheRead, cacheCreation] AS v
                 WHERE v != 0"
            );
        } else {
            let g = sql::group(group, true, &mut q);
            let value = if tokens {
                "sum(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens)"
            } else {
                "sum(cost)"
            };
            q.sql = format!(
                "SELECT {b} AS b, {g} AS g, {value} AS v FROM ({events}) WHERE {fallback} GROUP BY b, g"
            );
        }
        for row in self.client.all::<BucketGroupRow>(&q)? {
            series.add(row.g, row.b, num(row.v));
        }
        Ok(series)
    }

    fn event_series(
        &self,
        names: &[&str],
        group: &Dimension,
        distinct_sessions: bool,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError> {
        let mut series = TimeSeries::new(filter);
        let plan = self.plan(filter, Some(series.bucket_ns), &[group])?;
        let mut q = Query::default();
        let events = self.events_sql(filter, plan, &mut q)?;
        let g = sql::group(group, true, &mut q);
        let cond = if names.is_empty() {
            "1".to_owned()
        } else {
            let bound: Vec<String> = names.iter().map(|n| q.bind(n)).collect();
            format!("name IN ({})", bound.join(", "))
        };
        let count = if distinct_sessions {
            "uniqExactIf(session_id, session_id != '')"
        } else {
            "sum(n)"
        };
        q.sql = format!(
            "SELECT {b} AS b, {g} AS g, toFloat64({count}) AS v FROM ({events}) WHERE {cond} GROUP BY b, g",
            b = sql::bucket(series.bucket_ns),
        );
        for row in self.client.all::<BucketGroupRow>(&q)? {
            series.add(row.g, row.b, num(row.v));
        }
        Ok(series)
    }

    fn session_series(&self, filter: &Filter) -> Result<TimeSeries, SourceError> {
        let mut series = TimeSeries::new(filter);
        let plan = self.plan(filter, Some(series.bucket_ns), &[])?;
        let mut q = Query::default();
        let events = self.events_sql(filter, plan, &mut q)?;
        let points = self.points_sql(filter, "", plan, &mut q)?;
        let b = sql::bucket(series.bucket_ns);
        q.sql = format!(
            "SELECT b, 'sessions' AS g, toFloat64(uniqExact(s)) AS v FROM (
                SELECT {b} AS b, session_id AS s FROM ({events}) WHERE s != ''
                UNION ALL SELECT {b} AS b, session_id AS s FROM ({points}) WHERE s != '')
             GROUP BY b"
        );
        for row in self.client.all::<BucketGroupRow>(&q)? {
            series.add(row.g, row.b, num(row.v));
        }
        Ok(series)
    }

    fn latency_series(&self, filter: &Filter) -> Result<LatencySeries, SourceError> {
        #[derive(Deserialize)]
        struct BinRow {
            #[serde(deserialize_with = "crate::lenient::int")]
            b: i64,
            #[serde(deserialize_with = "crate::lenient::int")]
            bin: i64,
            #[serde(deserialize_with = "crate::lenient::int")]
            #[serde(rename = "cnt")]
            n: u64,
        }
        let width = ccscope_query::bucket_width(filter.from_ns, filter.to_ns);
        let plan = self.plan(filter, Some(width), &[])?;
        let mut q = Query::default();
        let events = self.events_sql(filter, plan, &mut q)?;
        q.sql = format!(
            "SELECT {b} AS b, duration_bin AS bin, sum(n) AS cnt
             FROM ({events}) WHERE name = 'api_request' AND isNotNull(duration_bin) GROUP BY b, bin",
            b = sql::bucket(width),
        );
        let mut histograms: BTreeMap<i64, Vec<(i64, u64)>> = BTreeMap::new();
        for row in self.client.all::<BinRow>(&q)? {
            histograms.entry(row.b).or_default().push((row.bin, row.n));
        }
        Ok(LatencySeries::from_histograms(width, histograms))
    }

    fn ttft_histograms(
        &self,
        bucket_ns: i64,
        filter: &Filter,
    ) -> Result<ccscope_query::latency::TtftHistograms, SourceError> {
        self.ttft(bucket_ns, filter)
    }

    fn tool_histograms(
        &self,
        filter: &Filter,
    ) -> Result<ccscope_query::latency::ToolHistograms, SourceError> {
        self.tools(filter)
    }

    fn prompt_spans(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<ccscope_query::latency::PromptSpan>, SourceError> {
        self.longest_prompts(filter, limit)
    }

    fn tool_breakdown(&self, filter: &Filter) -> Result<Vec<Breakdown>, SourceError> {
        #[derive(Deserialize)]
        struct ToolRow {
            key: String,
            #[serde(deserialize_with = "crate::lenient::int")]
            #[serde(rename = "cnt")]
            n: u64,
            #[serde(deserialize_with = "crate::lenient::int")]
            ok: u64,
            #[serde(deserialize_with = "crate::lenient::int")]
            failed: u64,
            mean: Option<f64>,
        }
        let plan = self.plan(filter, None, &[])?;
        let mut q = Query::default();
        let events = self.events_sql(filter, plan, &mut q)?;
        q.sql = format!(
            "SELECT if(tool_name = '', '?', tool_name) AS key, sum(n) AS cnt,
                    sumIf(n, success = 1) AS ok, sumIf(n, success = 0) AS failed,
                    if(sum(duration_n) > 0, sum(duration_sum) / sum(duration_n), NULL) AS mean
             FROM ({events}) WHERE name = 'tool_result' GROUP BY key ORDER BY cnt DESC, key"
        );
        Ok(self
            .client
            .all::<ToolRow>(&q)?
            .into_iter()
            .map(|r| Breakdown {
                key: r.key,
                count: r.n,
                success: r.ok,
                failure: r.failed,
                mean_ms: r.mean,
            })
            .collect())
    }

    fn decision_breakdown(
        &self,
        by_language: bool,
        filter: &Filter,
    ) -> Result<Vec<(String, f64, f64)>, SourceError> {
        #[derive(Deserialize)]
        struct DecisionRow {
            key: String,
            accepted: Option<f64>,
            rejected: Option<f64>,
        }
        let key = if by_language { "language" } else { "tool_name" };
        let plan = self.plan(filter, None, &[])?;
        let mut q = Query::default();
        let m = q.bind(MetricKind::CodeEditToolDecision.name());
        let points = self.points_sql(filter, &m, plan, &mut q)?;
        q.sql = format!(
            "SELECT if({key} = '', '?', {key}) AS key, sumIf(value, decision = 'accept') AS accepted,
                    sumIf(value, decision = 'reject') AS rejected
             FROM ({points}) GROUP BY key"
        );
        let mut out: Vec<(String, f64, f64)> = self
            .client
            .all::<DecisionRow>(&q)?
            .into_iter()
            .map(|r| (r.key, num(r.accepted), num(r.rejected)))
            .collect();
        out.sort_by(|a, b| {
            (b.1 + b.2)
                .total_cmp(&(a.1 + a.2))
                .then_with(|| a.0.cmp(&b.0))
        });
        Ok(out)
    }

    fn active_users(
        &self,
        bucket_ns: i64,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError> {
        let width = bucket_ns.max(1);
        let mut series = TimeSeries {
            bucket_ns: width,
            ..TimeSeries::new(filter)
        };
        let b = sql::bucket(width);
        let mut q = Query::default();
        if let Some(SessionHours { rows, .. }) =
            self.session_hours_sql(filter, group, Some(width), &mut q)?
        {
            q.sql = format!(
                "SELECT b, g, toFloat64(uniqExact(u)) AS v FROM (
                    SELECT {b} AS b, g, {USER} AS u FROM ({rows}) WHERE u != '')
                 GROUP BY b, g"
            );
            for row in self.client.all::<BucketGroupRow>(&q)? {
                series.add(row.g, row.b, num(row.v));
            }
            return Ok(series);
        }
        let plan = self.plan(filter, Some(width), &[group])?;
        let mut q = Query::default();
        let events = self.events_sql(filter, plan, &mut q)?;
        let points = self.points_sql(filter, "", plan, &mut q)?;
        let ge = sql::group(group, true, &mut q);
        let gp = sql::group(group, false, &mut q);
        q.sql = format!(
            "SELECT b, g, toFloat64(uniqExact(u)) AS v FROM (
                SELECT {b} AS b, {ge} AS g, {USER} AS u FROM ({events}) WHERE u != ''
                UNION ALL SELECT {b} AS b, {gp} AS g, {USER} AS u FROM ({points}) WHERE u != '')
             GROUP BY b, g"
        );
        for row in self.client.all::<BucketGroupRow>(&q)? {
            series.add(row.g, row.b, num(row.v));
        }
        Ok(series)
    }

    fn group_activity(
        &self,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<Vec<GroupUsage>, SourceError> {
        self.activity(group, filter, false)
    }

    /// One query instead of the five of `usage_by_parts` (the tokens-by-type split of events
    /// is theirs alone).
    fn usage_by(&self, group: &Dimension, filter: &Filter) -> Result<Vec<GroupUsage>, SourceError> {
        if matches!(group, Dimension::Type) {
            return ccscope_query::usage_by_parts(self, group, filter);
        }
        let mut rows = self.activity(group, filter, true)?;
        ccscope_query::sort_usage(&mut rows);
        Ok(rows)
    }
}

impl ClickHouse {
    /// The report from session-hour rows (`session_hours_sql`): one query.
    fn summary_report(&self, hours: &SessionHours, mut q: Query) -> Result<Report, SourceError> {
        #[derive(Deserialize)]
        struct SummaryRow {
            cost: Option<f64>,
            input: Option<f64>,
            output: Option<f64>,
            cache_read: Option<f64>,
            cache_creation: Option<f64>,
            lines_added: Option<f64>,
            lines_removed: Option<f64>,
            commits: Option<f64>,
            pull_requests: Option<f64>,
            active_user: Option<f64>,
            active_cli: Option<f64>,
            accepted: Option<f64>,
            rejected: Option<f64>,
            unnamed: Option<f64>,
            #[serde(deserialize_with = "crate::lenient::int")]
            sessions: u64,
            events: HashMap<String, f64>,
            model_cost: HashMap<String, f64>,
            model_tokens: HashMap<String, f64>,
        }
        let (fallback, rows) = (hours.fallback(), &hours.rows);
        let both = |m: &str, e: &str| format!("sum({m}) + sumIf({e}, fb) AS {m}");
        q.sql = format!(
            "SELECT {cost}, {input}, {output}, {cache_read}, {cache_creation},
                    sum(lines_added) AS lines_added, sum(lines_removed) AS lines_removed,
                    sum(commits) AS commits, sum(pull_requests) AS pull_requests,
                    sum(active_user) AS active_user, sum(active_cli) AS active_cli,
                    sum(accepted) AS accepted, sum(rejected) AS rejected,
                    sumIf(session_count, session_id = '') AS unnamed,
                    uniqExactIf(session_id, session_id != '') AS sessions,
                    sumMap(events) AS events,
                    mapAdd(sumMap(model_cost), sumMapIf(ev_model_cost, fb)) AS model_cost,
                    mapAdd(sumMap(model_tokens), sumMapIf(ev_model_tokens, fb)) AS model_tokens
             FROM (SELECT *, {fallback} AS fb FROM ({rows}))",
            cost = both("cost", "ev_cost"),
            input = both("input", "ev_input"),
            output = both("output", "ev_output"),
            cache_read = both("cache_read", "ev_cache_read"),
            cache_creation = both("cache_creation", "ev_cache_creation"),
        );
        let Some(row) = self.client.all::<SummaryRow>(&q)?.into_iter().next() else {
            return Ok(Report::default());
        };
        let mut report = Report {
            cost_usd: num(row.cost),
            lines_added: num(row.lines_added),
            lines_removed: num(row.lines_removed),
            commits: num(row.commits),
            pull_requests: num(row.pull_requests),
            active_user_s: num(row.active_user),
            active_cli_s: num(row.active_cli),
            edits_accepted: num(row.accepted),
            edits_rejected: num(row.rejected),
            sessions: row.sessions + num(row.unnamed).round() as u64,
            ..Report::default()
        };
        report.tokens = Tokens {
            input: num(row.input),
            output: num(row.output),
            cache_read: num(row.cache_read),
            cache_creation: num(row.cache_creation),
        };
        report.events = row
            .events
            .into_iter()
            .map(|(name, n)| (name, n.round() as u64))
            .collect();
        let models: BTreeSet<&String> = row
            .model_cost
            .keys()
            .chain(row.model_tokens.keys())
            .collect();
        report.by_model = ccscope_query::models_by_cost(models.into_iter().map(|model| {
            let cost = row.model_cost.get(model).copied().unwrap_or(0.0);
            let tokens = row.model_tokens.get(model).copied().unwrap_or(0.0);
            (model.clone(), (cost, tokens))
        }));
        Ok(report)
    }

    /// Per group: users, sessions, prompts, lines and decisions, and with `usage` cost and
    /// tokens (metrics, else the `api_request` events of sessions without usage metrics).
    fn activity(
        &self,
        group: &Dimension,
        filter: &Filter,
        usage: bool,
    ) -> Result<Vec<GroupUsage>, SourceError> {
        #[derive(Deserialize)]
        struct ActivityRow {
            g: String,
            #[serde(deserialize_with = "crate::lenient::int")]
            users: u64,
            #[serde(deserialize_with = "crate::lenient::int")]
            sessions: u64,
            #[serde(deserialize_with = "crate::lenient::int")]
            prompts: u64,
            added: Option<f64>,
            removed: Option<f64>,
            accepted: Option<f64>,
            rejected: Option<f64>,
            cost: Option<f64>,
            tokens: Option<f64>,
        }
        let mut q = Query::default();
        if let Some(hours) = self.session_hours_sql(filter, group, None, &mut q)? {
            let rows = &hours.rows;
            let fallback = if usage {
                hours.fallback()
            } else {
                "0".to_owned()
            };
            q.sql = format!(
                "SELECT g, uniqExactIf(u, u != '') AS users,
                        uniqExactIf(session_id, session_id != '') AS sessions,
                        toUInt64(round(sum(events['user_prompt']))) AS prompts,
                        sum(lines_added) AS added, sum(lines_removed) AS removed,
                        sum(accepted) AS accepted, sum(rejected) AS rejected,
                        sum(cost) + sumIf(ev_cost, fb) AS cost,
                        sum(tokens) + sumIf(ev_input + ev_output + ev_cache_read + ev_cache_creation, fb) AS tokens
                 FROM (SELECT *, {USER} AS u, {fallback} AS fb FROM ({rows}))
                 GROUP BY g"
            );
        } else {
            self.activity_sql(group, filter, usage, &mut q)?;
        }
        Ok(self
            .client
            .all::<ActivityRow>(&q)?
            .into_iter()
            .map(|r| GroupUsage {
                key: r.g,
                users: r.users,
                sessions: r.sessions,
                prompts: r.prompts,
                lines_added: num(r.added),
                lines_removed: num(r.removed),
                edits_accepted: num(r.accepted),
                edits_rejected: num(r.rejected),
                cost_usd: if usage { num(r.cost) } else { 0.0 },
                tokens: if usage { num(r.tokens) } else { 0.0 },
            })
            .collect())
    }

    /// `activity`'s query over `events` and `points` rows.
    fn activity_sql(
        &self,
        group: &Dimension,
        filter: &Filter,
        usage: bool,
        q: &mut Query,
    ) -> Result<(), SourceError> {
        let plan = self.plan(filter, None, &[group])?;
        let events = self.events_sql(filter, plan, q)?;
        let points = self.points_sql(filter, "", plan, q)?;
        let (event_cost, event_tokens) = if usage {
            let usage_points = self.points_sql(filter, USAGE_METRICS, plan, q)?;
            let fallback = format!("name = 'api_request' AND {}", unmetered(&usage_points));
            (
                format!("if({fallback}, cost, 0)"),
                format!(
                    "if({fallback}, input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens, 0)"
                ),
            )
        } else {
            ("toFloat64(0)".to_owned(), "toFloat64(0)".to_owned())
        };
        let ge = sql::group(group, true, q);
        let gp = sql::group(group, false, q);
        q.sql = format!(
            "SELECT g, uniqExactIf(u, u != '') AS users, uniqExactIf(s, s != '') AS sessions,
                    toUInt64(sum(prompt)) AS prompts,
                    sumIf(value, metric = 'claude_code.lines_of_code.count' AND point_type = 'added') AS added,
                    sumIf(value, metric = 'claude_code.lines_of_code.count' AND point_type = 'removed') AS removed,
                    sumIf(value, metric = 'claude_code.code_edit_tool.decision' AND decision = 'accept') AS accepted,
                    sumIf(value, metric = 'claude_code.code_edit_tool.decision' AND decision = 'reject') AS rejected,
                    sum(event_cost) + sumIf(value, metric = 'claude_code.cost.usage') AS cost,
                    sum(event_tokens) + sumIf(value, metric = 'claude_code.token.usage') AS tokens
             FROM (
                SELECT {ge} AS g, {USER} AS u, session_id AS s, if(name = 'user_prompt', n, 0) AS prompt,
                       '' AS metric, '' AS point_type, '' AS decision, toFloat64(0) AS value,
                       toFloat64({event_cost}) AS event_cost, toFloat64({event_tokens}) AS event_tokens
                FROM ({events})
                UNION ALL
                SELECT {gp} AS g, {USER} AS u, session_id AS s, toUInt64(0) AS prompt,
                       metric, point_type, decision, value, toFloat64(0), toFloat64(0)
                FROM ({points}))
             GROUP BY g"
        );
        Ok(())
    }
}

/// The user key of an `events` or `points` row: e-mail, else `user.id`.
const USER: &str = "if(user_email != '', user_email, user_id)";
