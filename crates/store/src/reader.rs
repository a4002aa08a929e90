//! Read-only queries: totals, sessions, event listings and exports. A `Reader` opens its own
//! read-only connection, so it works while `ccscope serve` writes (WAL readers never block
//! the writer).
//!
//! Cost and tokens come from the metrics for every session that sent cost or token metrics in
//! the range, and from `api_request` events for the sessions that did not: never both.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use ccscope_telemetry::{MetricKind, TokenType};
use rusqlite::{params_from_iter, types::Value as SqlValue};
use serde::Serialize;

use crate::prepare::{EventColumns, MOVED_KEYS, restore_event_columns, restore_moved};
use crate::sql::{FilterSql, event_condition};
use crate::{Reader, StoreError, retention, schema};
use ccscope_query::{EventQuery, EventRow, Filter, PointRow, Report, SessionSummary, Tokens};

/// Store health, for `ccscope doctor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Health {
    pub schema_version: i64,
    pub integrity: String,
    pub used_bytes: u64,
    pub file_bytes: u64,
    pub events: u64,
    pub points: u64,
    pub spans: u64,
    pub sessions: u64,
    pub newest_ns: Option<i64>,
}

/// Count, cost and tokens of events of one name, session and model, over part of the range
/// (the same key may come again: callers add).
struct EventUsage<'r> {
    name: &'r str,
    session: &'r str,
    model: &'r str,
    count: u64,
    cost: f64,
    tokens: Tokens,
}

/// One session's sum of one metric, model and type, with the hours it covers and the
/// session's identity as its series carry it.
struct SessionMetricSum {
    value: f64,
    first: i64,
    last: i64,
    identity: (Option<String>, Option<String>, Option<String>),
}

/// Per-session usage gathered from the metrics.
#[derive(Default)]
struct MetricUsage {
    cost: f64,
    tokens: Tokens,
    by_model: HashMap<String, (f64, f64)>,
    has_usage: bool,
}

impl Reader {
    /// Per event name, session and model: the count, cost and tokens of the events matching
    /// `name_condition` (` AND …` on alias `e`) within the filter, handed to `each` row by row.
    /// Whole hours come from the hourly sums, one row per hour; they are not grouped in SQL,
    /// whose GROUP BY sorts every row on three texts first (a 30-day report over 30M events
    /// reads ten million of them), while every caller only adds.
    fn for_each_event_usage(
        &self,
        filter: &Filter,
        name_condition: &str,
        mut each: impl FnMut(EventUsage<'_>),
    ) -> Result<(), StoreError> {
        let (sql, args) = match crate::series::event_rows_sql_grouped(
            crate::series::EventRollup::Usage,
            filter,
            0,
            name_condition,
            false,
        ) {
            Some((rows, args)) => (
                format!(
                    "SELECT name, session_id, model, n, cost_usd, input_tokens, output_tokens,
                            cache_read_tokens, cache_creation_tokens
                     FROM ({rows})"
                ),
                args,
            ),
            None => {
                let (cond, args) = filter.sql("e", "e.time_ns")?;
                let sql = format!(
                    "SELECT e.name, e.session_id, COALESCE(e.model, ''), COUNT(*), TOTAL(e.cost_usd),
                            TOTAL(e.input_tokens), TOTAL(e.output_tokens), TOTAL(e.cache_read_tokens),
                            TOTAL(e.cache_creation_tokens)
                     FROM events e WHERE {cond}{name_condition} GROUP BY 1, 2, 3"
                );
                (sql, args)
            }
        };
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            use crate::series::text;
            each(EventUsage {
                name: text(r, 0)?,
                session: text(r, 1)?,
                model: text(r, 2)?,
                count: r.get::<_, i64>(3)? as u64,
                cost: r.get(4)?,
                tokens: Tokens {
                    input: r.get(5)?,
                    output: r.get(6)?,
                    cache_read: r.get(7)?,
                    cache_creation: r.get(8)?,
                },
            });
        }
        Ok(())
    }

    /// Totals over the filter.
    pub fn report(&self, filter: &Filter) -> Result<Report, StoreError> {
        let mut report = Report::default();
        let mut usage: HashMap<String, MetricUsage> = HashMap::new();
        let mut sessions: HashSet<String> = HashSet::new();
        let mut unnamed_sessions = 0.0;
        // Sums per series, then each series' identity read once and borrowed, not copied:
        // a 30-day report meets tens of thousands of series.
        crate::series::series_sums::<f64>(
            &self.conn,
            filter,
            0,
            crate::series::SeriesSelection {
                narrowing: "",
                args: &[],
                only: " AND s.temporality != 'gauge'",
                columns: "s.metric, s.session_id, s.model, s.point_type,
                    CASE WHEN s.metric = 'claude_code.code_edit_tool.decision'
                         THEN json_extract(s.attributes, '$.decision') END",
            },
            |row, buckets| {
                use crate::series::text;
                let value: f64 = buckets.iter().map(|&(_, value)| value).sum();
                let session = text(row, 2)?;
                if !session.is_empty() && !sessions.contains(session) {
                    sessions.insert(session.to_owned());
                }
                let kind = MetricKind::from_name(text(row, 1)?);
                let point_type = text(row, 4)?;
                match kind {
                    Some(MetricKind::CostUsage | MetricKind::TokenUsage) => {
                        if !usage.contains_key(session) {
                            usage.insert(session.to_owned(), MetricUsage::default());
                        }
                        let Some(u) = usage.get_mut(session) else {
                            return Ok(());
                        };
                        u.has_usage = true;
                        let model = text(row, 3)?;
                        if !u.by_model.contains_key(model) {
                            u.by_model.insert(model.to_owned(), (0.0, 0.0));
                        }
                        let per_model = u.by_model.get_mut(model);
                        if kind == Some(MetricKind::CostUsage) {
                            u.cost += value;
                            if let Some(m) = per_model {
                                m.0 += value;
                            }
                        } else {
                            if let Some(t) = TokenType::parse(point_type) {
                                u.tokens.add_type(t, value);
                            }
                            if let Some(m) = per_model {
                                m.1 += value;
                            }
                        }
                    }
                    Some(MetricKind::LinesOfCode) => match point_type {
                        "added" => report.lines_added += value,
                        "removed" => report.lines_removed += value,
                        _ => {}
                    },
                    Some(MetricKind::CommitCount) => report.commits += value,
                    Some(MetricKind::PullRequestCount) => report.pull_requests += value,
                    Some(MetricKind::ActiveTime) => match point_type {
                        "user" => report.active_user_s += value,
                        "cli" => report.active_cli_s += value,
                        _ => {}
                    },
                    Some(MetricKind::CodeEditToolDecision) => match text(row, 5)? {
                        "accept" => report.edits_accepted += value,
                        "reject" => report.edits_rejected += value,
                        _ => {}
                    },
                    Some(MetricKind::SessionCount) if session.is_empty() => {
                        unnamed_sessions += value
                    }
                    _ => {}
                }
                Ok(())
            },
        )?;
        let mut by_model: HashMap<String, (f64, f64)> = HashMap::new();
        for u in usage.values() {
            report.cost_usd += u.cost;
            report.tokens.add(&u.tokens);
            for (model, (cost, tokens)) in &u.by_model {
                let m = by_model.entry(model.clone()).or_default();
                m.0 += cost;
                m.1 += tokens;
            }
        }
        self.for_each_event_usage(filter, "", |row| {
            match report.events.get_mut(row.name) {
                Some(count) => *count += row.count,
                None => {
                    report.events.insert(row.name.to_owned(), row.count);
                }
            }
            if row.name == "api_request" && !usage.get(row.session).is_some_and(|u| u.has_usage) {
                report.cost_usd += row.cost;
                report.tokens.add(&row.tokens);
                if !by_model.contains_key(row.model) {
                    by_model.insert(row.model.to_owned(), (0.0, 0.0));
                }
                if let Some(m) = by_model.get_mut(row.model) {
                    m.0 += row.cost;
                    m.1 += row.tokens.total();
                }
            }
            if !row.session.is_empty() && !sessions.contains(row.session) {
                sessions.insert(row.session.to_owned());
            }
        })?;
        report.sessions = sessions.len() as u64 + unnamed_sessions.round() as u64;
        report.by_model = ccscope_query::models_by_cost(by_model);
        Ok(report)
    }

    /// The time of the newest event or metric point, if any (two index lookups).
    pub fn newest_ns(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT max(t) FROM (SELECT max(time_ns) AS t FROM events UNION ALL SELECT max(time_ns) FROM points)",
            [],
            |r| r.get(0),
        )?)
    }

    /// One summary per session, most recent first.
    pub fn sessions(&self, filter: &Filter) -> Result<Vec<SessionSummary>, StoreError> {
        let mut out: BTreeMap<String, SessionSummary> = BTreeMap::new();
        let mut models: HashMap<String, BTreeSet<String>> = HashMap::new();
        let (cond, args) = filter.sql("e", "e.time_ns")?;
        let sql = format!(
            "SELECT e.session_id, MIN(e.time_ns), MAX(e.time_ns), COUNT(*), MAX(e.user_id),
                    MAX(e.user_email), MAX(e.terminal_type),
                    SUM(e.name = 'user_prompt'), SUM(e.name = 'api_error')
             FROM events e WHERE {cond} AND e.session_id != '' GROUP BY 1"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok(SessionSummary {
                session_id: r.get(0)?,
                first_ns: r.get(1)?,
                last_ns: r.get(2)?,
                events: r.get::<_, i64>(3)? as u64,
                user_id: r.get(4)?,
                user_email: r.get(5)?,
                terminal_type: r.get(6)?,
                prompts: r.get::<_, i64>(7)? as u64,
                api_errors: r.get::<_, i64>(8)? as u64,
                usage_source: "events",
                ..SessionSummary::default()
            })
        })?;
        for row in rows {
            let s = row?;
            out.insert(s.session_id.clone(), s);
        }
        // Metric usage per session, with the times of its first and last point: a session's
        // start and end are those of its first and last record, event or point.
        let mut grouped: HashMap<(String, String, String, String), SessionMetricSum> =
            HashMap::new();
        crate::series::series_sums(
            &self.conn,
            filter,
            crate::series::HOUR_NS,
            crate::series::SeriesSelection {
                narrowing: "",
                args: &[],
                only: " AND s.session_id != '' AND s.temporality != 'gauge'",
                columns:
                    "s.session_id, s.metric, COALESCE(s.model, ''), COALESCE(s.point_type, ''),
                    s.user_id, s.user_email, s.terminal_type",
            },
            |row, buckets: &[(i64, crate::series::TimedSum)]| {
                let value: f64 = buckets.iter().map(|(_, sum)| sum.value).sum();
                // The exact times of the series' first and last point in the range.
                let first = buckets.iter().map(|(_, sum)| sum.first_ns).min();
                let last = buckets.iter().map(|(_, sum)| sum.last_ns).max();
                let (Some(first), Some(last)) = (first, last) else {
                    return Ok(());
                };
                let key = (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?);
                let identity: (Option<String>, Option<String>, Option<String>) =
                    (row.get(5)?, row.get(6)?, row.get(7)?);
                let e = grouped.entry(key).or_insert(SessionMetricSum {
                    value: 0.0,
                    first,
                    last,
                    identity: (None, None, None),
                });
                e.value += value;
                e.first = e.first.min(first);
                e.last = e.last.max(last);
                // The greatest non-null value of each, as SQL's MAX would pick.
                e.identity.0 = e.identity.0.take().max(identity.0);
                e.identity.1 = e.identity.1.take().max(identity.1);
                e.identity.2 = e.identity.2.take().max(identity.2);
                Ok(())
            },
        )?;
        let rows = grouped
            .into_iter()
            .map(|((session, metric, model, point_type), sum)| {
                Ok::<_, StoreError>((
                    session,
                    metric,
                    model,
                    point_type,
                    sum.value,
                    sum.first,
                    sum.last,
                    sum.identity,
                ))
            });
        for row in rows {
            let (session, metric, model, point_type, value, first, last, (user, email, terminal)) =
                row?;
            let s = out
                .entry(session.clone())
                .or_insert_with(|| SessionSummary {
                    session_id: session.clone(),
                    first_ns: first,
                    last_ns: last,
                    usage_source: "events",
                    ..SessionSummary::default()
                });
            s.first_ns = s.first_ns.min(first);
            s.last_ns = s.last_ns.max(last);
            s.user_id = s.user_id.take().or(user);
            s.user_email = s.user_email.take().or(email);
            s.terminal_type = s.terminal_type.take().or(terminal);
            match MetricKind::from_name(&metric) {
                Some(MetricKind::CostUsage) | Some(MetricKind::TokenUsage) => {
                    if s.usage_source != "metrics" {
                        s.usage_source = "metrics";
                        s.cost_usd = 0.0;
                        s.tokens = Tokens::default();
                    }
                    if metric == MetricKind::CostUsage.name() {
                        s.cost_usd += value;
                    } else if let Some(t) = TokenType::parse(&point_type) {
                        s.tokens.add_type(t, value);
                    }
                    if !model.is_empty() {
                        models.entry(session).or_default().insert(model);
                    }
                }
                Some(MetricKind::LinesOfCode) if point_type == "added" => s.lines_added += value,
                Some(MetricKind::LinesOfCode) if point_type == "removed" => {
                    s.lines_removed += value
                }
                _ => {}
            }
        }
        self.for_each_event_usage(filter, " AND e.name = 'api_request'", |row| {
            let Some(s) = out.get_mut(row.session) else {
                return;
            };
            if !row.model.is_empty() {
                let session_models = match models.get_mut(row.session) {
                    Some(m) => m,
                    None => models.entry(row.session.to_owned()).or_default(),
                };
                if !session_models.contains(row.model) {
                    session_models.insert(row.model.to_owned());
                }
            }
            if s.usage_source == "events" {
                s.cost_usd += row.cost;
                s.tokens.add(&row.tokens);
            }
        })?;
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

    /// Events matching the query, oldest first unless `newest_first`.
    pub fn events(
        &self,
        query: &EventQuery,
        mut each: impl FnMut(EventRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let (cond, args) = event_condition(query)?;
        let order = if query.newest_first { "DESC" } else { "ASC" };
        let limit = match (query.limit, query.offset) {
            (Some(l), o) => format!(" LIMIT {l} OFFSET {o}"),
            (None, 0) => String::new(),
            (None, o) => format!(" LIMIT -1 OFFSET {o}"),
        };
        let sql = format!(
            "SELECT e.time_ns, e.name, e.session_id, e.seq, e.prompt_id, e.user_id, e.model,
                    e.tool_name, e.cost_usd, e.duration_ms, e.success, e.status_code,
                    e.attributes, r.attributes, e.user_email, e.organization_id,
                    e.terminal_type, e.app_version, e.moved, {moved_columns},
                    e.decision_source, e.prompt_text
             FROM events e JOIN resources r ON r.id = e.resource_id
             WHERE {cond} ORDER BY e.time_ns {order}, e.seq {order}, e.id {order}{limit}",
            moved_columns = MOVED_KEYS
                .iter()
                .map(|(_, column, _)| format!("e.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // Where the `MOVED_KEYS` columns start in each row.
        const MOVED_FROM: usize = 19;
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            let attributes: String = r.get(12)?;
            let resource: String = r.get(13)?;
            let mut attributes: serde_json::Value = serde_json::from_str(&attributes)?;
            let session_id: String = r.get(2)?;
            let sequence: Option<i64> = r.get(3)?;
            let prompt_id: Option<String> = r.get(4)?;
            let user_id: Option<String> = r.get(5)?;
            restore_event_columns(
                &mut attributes,
                EventColumns {
                    text: [
                        Some(session_id.clone()),
                        user_id.clone(),
                        r.get(14)?,
                        r.get(15)?,
                        r.get(16)?,
                        r.get(17)?,
                        prompt_id.clone(),
                    ],
                    seq: sequence,
                },
            );
            let moved_columns = (MOVED_FROM..MOVED_FROM + MOVED_KEYS.len())
                .map(|i| r.get::<_, SqlValue>(i))
                .collect::<Result<Vec<_>, _>>()?;
            restore_moved(&mut attributes, r.get(18)?, &moved_columns);
            // Known attributes as the table of facts types them, whatever the sender sent.
            if let Some(map) = attributes.as_object_mut() {
                ccscope_telemetry::facts::type_attributes(map);
            }
            let after_moved = MOVED_FROM + MOVED_KEYS.len();
            let facts = TypedFacts::of(
                &moved_columns,
                r.get(after_moved)?,
                r.get(after_moved + 1)?,
                &attributes,
            );
            each(EventRow {
                time_ns: r.get(0)?,
                name: r.get(1)?,
                session_id,
                sequence,
                prompt_id,
                user_id,
                model: r.get(6)?,
                tool_name: r.get(7)?,
                cost_usd: r.get(8)?,
                duration_ms: r.get(9)?,
                success: r.get(10)?,
                status_code: r.get(11)?,
                request_id: facts.request_id,
                tool_use_id: facts.tool_use_id,
                decision: facts.decision,
                decision_source: facts.decision_source,
                error: facts.error,
                tokens: facts.tokens,
                prompt: facts.prompt,
                prompt_length: facts.prompt_length,
                attributes,
                resource: serde_json::from_str(&resource)?,
            })?;
        }
        Ok(())
    }

    /// The spans of the filter's session (all sessions without one) that start in its range,
    /// in start order; known attributes typed by the table of facts.
    pub fn spans(&self, filter: &Filter) -> Result<Vec<ccscope_query::SpanRow>, StoreError> {
        let mut sql = String::from(
            "SELECT trace_id, span_id, parent_span_id, name, start_ns, end_ns, status_code, attributes
             FROM spans WHERE start_ns >= ?1 AND start_ns < ?2",
        );
        let mut args = vec![
            SqlValue::Integer(filter.from_ns),
            SqlValue::Integer(filter.to_ns),
        ];
        if let Some(session) = &filter.session {
            sql.push_str(" AND session_id = ?3");
            args.push(SqlValue::Text(session.clone()));
        }
        sql.push_str(" ORDER BY start_ns, span_id");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let text: String = r.get(7)?;
            let mut attributes: serde_json::Value = serde_json::from_str(&text)?;
            if let Some(map) = attributes.as_object_mut() {
                ccscope_telemetry::facts::type_attributes(map);
            }
            out.push(ccscope_query::SpanRow {
                trace_id: r.get(0)?,
                span_id: r.get(1)?,
                parent_span_id: r.get(2)?,
                name: r.get(3)?,
                start_ns: r.get(4)?,
                end_ns: r.get(5)?,
                status_code: r.get(6)?,
                attributes,
            });
        }
        Ok(out)
    }

    /// True once anything at all has been stored.
    pub fn has_data(&self) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM points)",
            [],
            |r| r.get(0),
        )?)
    }

    /// How many events match the query (ignoring its limit and offset).
    pub fn count_events(&self, query: &EventQuery) -> Result<u64, StoreError> {
        let (cond, args) = event_condition(query)?;
        let sql = format!("SELECT COUNT(*) FROM events e WHERE {cond}");
        Ok(self
            .conn
            .query_row(&sql, params_from_iter(args), |r| r.get::<_, i64>(0))? as u64)
    }

    /// Metric points matching the filter, oldest first.
    pub fn points(
        &self,
        filter: &Filter,
        mut each: impl FnMut(PointRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let (cond, args) = filter.sql("s", "p.time_ns")?;
        let sql = format!(
            "SELECT s.metric, s.unit, s.temporality, p.start_ns, p.time_ns, p.value, s.session_id,
                    s.model, s.point_type, s.attributes, r.attributes
             FROM points p JOIN series s ON s.id = p.series_id JOIN resources r ON r.id = s.resource_id
             WHERE {cond} ORDER BY p.time_ns, s.id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            let attributes: String = r.get(9)?;
            let resource: String = r.get(10)?;
            each(PointRow {
                metric: r.get(0)?,
                unit: r.get(1)?,
                temporality: r.get(2)?,
                start_ns: r.get(3)?,
                time_ns: r.get(4)?,
                value: r.get(5)?,
                session_id: r.get(6)?,
                model: r.get(7)?,
                point_type: r.get(8)?,
                attributes: serde_json::from_str(&attributes)?,
                resource: serde_json::from_str(&resource)?,
            })?;
        }
        Ok(())
    }

    /// Counts and integrity, for `ccscope doctor`.
    pub fn health(&self, path: &Path) -> Result<Health, StoreError> {
        let count = |sql: &str| -> Result<u64, StoreError> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        Ok(Health {
            schema_version: schema::check_version(&self.conn)?,
            integrity: self
                .conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))?,
            used_bytes: retention::used_bytes(&self.conn)?,
            file_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            events: count("SELECT COUNT(*) FROM events")?,
            points: count("SELECT COUNT(*) FROM points")?,
            spans: count("SELECT COUNT(*) FROM spans")?,
            sessions: count(
                "SELECT COUNT(*) FROM (SELECT session_id FROM events WHERE session_id != ''
                                      UNION SELECT k.session_id FROM sessions k WHERE k.session_id != ''
                                        AND EXISTS (SELECT 1 FROM series s WHERE s.session_key = k.id))",
            )?,
            newest_ns: self.newest_ns()?,
        })
    }
}

/// The typed facts of an event row that `EventRow` carries beside its attributes: the fact
/// columns, filled at ingest by the table of facts (`telemetry::facts`), and the prompt's
/// length from the typed attributes.
struct TypedFacts {
    request_id: Option<String>,
    tool_use_id: Option<String>,
    decision: Option<String>,
    decision_source: Option<String>,
    error: Option<String>,
    tokens: Option<ccscope_query::Tokens>,
    prompt: Option<String>,
    prompt_length: Option<i64>,
}

impl TypedFacts {
    fn of(
        columns: &[SqlValue],
        decision_source: Option<String>,
        prompt_text: Option<String>,
        attributes: &serde_json::Value,
    ) -> TypedFacts {
        let column = |key: &str| crate::prepare::moved_index(key).and_then(|i| columns.get(i));
        let text = |key: &str| match column(key) {
            Some(SqlValue::Text(t)) => Some(t.clone()),
            _ => None,
        };
        let number = |key: &str| match column(key) {
            Some(SqlValue::Integer(i)) => Some(*i as f64),
            Some(SqlValue::Real(r)) => Some(*r),
            _ => None,
        };
        let counts = [
            number("input_tokens"),
            number("output_tokens"),
            number("cache_read_tokens"),
            number("cache_creation_tokens"),
        ];
        let tokens = counts
            .iter()
            .any(Option::is_some)
            .then(|| ccscope_query::Tokens {
                input: counts[0].unwrap_or(0.0),
                output: counts[1].unwrap_or(0.0),
                cache_read: counts[2].unwrap_or(0.0),
                cache_creation: counts[3].unwrap_or(0.0),
            });
        TypedFacts {
            request_id: text("request_id"),
            tool_use_id: text("tool_use_id"),
            decision: text("decision"),
            decision_source,
            error: text("error"),
            tokens,
            prompt: prompt_text,
            prompt_length: attributes
                .get("prompt_length")
                .and_then(serde_json::Value::as_i64),
        }
    }
}
