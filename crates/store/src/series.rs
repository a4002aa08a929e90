//! Time series and breakdowns for the dashboard, aggregated in SQL so a chart never receives raw
//! points: values are summed per time bucket (at most `MAX_BUCKETS` of them) and per group.
//! Latency percentiles come from a log-scale histogram per bucket, not from raw durations.

use std::collections::{BTreeMap, HashMap, HashSet};

use ccscope_telemetry::MetricKind;
use rusqlite::{Connection, params_from_iter, types::Value as SqlValue};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::Reader;
use crate::StoreError;
use crate::sql::{DimensionSql, FilterSql};
use ccscope_query::{
    Breakdown, Dimension, Filter, LatencySeries, TimeSeries, bucket_width, latency_bin,
};

pub(crate) use ccscope_query::{HOUR_NS, hour_of, whole_hours};

/// The bucket of `time_ns` for a `width` (as `bucket_expr` computes it in SQL; one bucket `0`
/// when `width` is 0).
fn bucket_of(time_ns: i64, width: i64) -> i64 {
    if width == 0 {
        0
    } else {
        time_ns - time_ns % width
    }
}

/// What `point_sums` keeps per (series, bucket): a plain sum, or a sum with the times of the
/// first and last point added (a session's exact start and end, to the nanosecond).
pub(crate) trait BucketSum: Default + Copy {
    /// Whether the hourly rows must carry their first and last point times.
    const TIMES: bool;
    fn add(&mut self, value: f64, first_ns: i64, last_ns: i64);
}

impl BucketSum for f64 {
    const TIMES: bool = false;
    fn add(&mut self, value: f64, _: i64, _: i64) {
        *self += value;
    }
}

/// A bucket's sum with the times of its first and last point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimedSum {
    pub value: f64,
    pub first_ns: i64,
    pub last_ns: i64,
}

impl Default for TimedSum {
    fn default() -> Self {
        TimedSum {
            value: 0.0,
            first_ns: i64::MAX,
            last_ns: i64::MIN,
        }
    }
}

impl BucketSum for TimedSum {
    const TIMES: bool = true;
    fn add(&mut self, value: f64, first_ns: i64, last_ns: i64) {
        self.value += value;
        self.first_ns = self.first_ns.min(first_ns);
        self.last_ns = self.last_ns.max(last_ns);
    }
}

/// The sum of points per (series, bucket) within the filter's time range, for every series
/// (callers keep the series they want). Rows are streamed and added up here rather than by
/// SQLite's GROUP BY, which would sort every hourly row first: over 30 days that sort was
/// most of a report's time. Whole hours come from `point_hours` when the buckets are whole
/// hours; only the partial hours at the edges read raw points. `series_condition` (` AND …` on
/// alias `s`, with `series_args`) and the filter's session, model, user and attribute
/// conditions narrow the rows read to the series they match; with neither, every series.
fn point_sums<A: BucketSum>(
    conn: &Connection,
    filter: &Filter,
    width: i64,
    series_condition: &str,
    series_args: &[SqlValue],
) -> Result<FxHashMap<(i64, i64), A>, StoreError> {
    // The filter's own conditions (session, model, user, attributes) narrow the rows too: for
    // one session that is a few series instead of every row of the range.
    let (filter_conditions, filter_args) = filter.conditions("s")?;
    let condition = format!("{series_condition}{filter_conditions}");
    let series_args: Vec<SqlValue> = series_args.iter().cloned().chain(filter_args).collect();
    let in_series = if condition.is_empty() {
        String::new()
    } else {
        format!(" AND series_id IN (SELECT s.id FROM series s WHERE 1{condition})")
    };
    let mut sums: FxHashMap<(i64, i64), A> = FxHashMap::default();
    let mut add = |sql: &str, range: [i64; 2]| -> Result<(), StoreError> {
        let mut stmt = conn.prepare(&format!("{sql}{in_series}"))?;
        let args = range
            .into_iter()
            .map(SqlValue::Integer)
            .chain(series_args.iter().cloned());
        let mut rows = stmt.query(params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            let series_id: i64 = row.get(0)?;
            let time_ns: i64 = row.get(1)?;
            let value: f64 = row.get(2)?;
            let (first_ns, last_ns) = if A::TIMES {
                (row.get(3)?, row.get(4)?)
            } else {
                (time_ns, time_ns)
            };
            sums.entry((series_id, bucket_of(time_ns, width)))
                .or_default()
                .add(value, first_ns, last_ns);
        }
        Ok(())
    };
    let raw = if A::TIMES {
        "SELECT series_id, time_ns, value, time_ns, time_ns FROM points WHERE time_ns >= ? AND time_ns < ?"
    } else {
        "SELECT series_id, time_ns, value FROM points WHERE time_ns >= ? AND time_ns < ?"
    };
    let hourly = if A::TIMES {
        "SELECT series_id, hour_ns, value, first_ns, last_ns FROM point_hours WHERE hour_ns >= ? AND hour_ns < ?"
    } else {
        "SELECT series_id, hour_ns, value FROM point_hours WHERE hour_ns >= ? AND hour_ns < ?"
    };
    let (first_hour, last_hour) = whole_hours(filter);
    if (width == 0 || width % HOUR_NS == 0) && first_hour < last_hour {
        add(hourly, [first_hour, last_hour])?;
        add(raw, [filter.from_ns, first_hour])?;
        add(raw, [last_hour, filter.to_ns])?;
    } else {
        add(raw, [filter.from_ns, filter.to_ns])?;
    }
    Ok(sums)
}

/// Column `index` of `row` as borrowed text ('' for NULL), without allocating.
pub(crate) fn text<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<&'r str, StoreError> {
    match row.get_ref(index)? {
        rusqlite::types::ValueRef::Null => Ok(""),
        value => value.as_str().map_err(|e| {
            StoreError::Sqlite(rusqlite::Error::FromSqlConversionFailure(
                index,
                value.data_type(),
                Box::new(e),
            ))
        }),
    }
}

/// Series looked up one by one by id when at most this many are wanted; more are read in one
/// scan of the series table.
const SERIES_LOOKUPS_MAX: usize = 2_000;

/// Calls `each` with the id and a row of `columns` (SQL over alias `s`) of every series among
/// `ids` that matches `condition` (` AND …` on alias `s`, with `args`).
fn for_each_series(
    conn: &Connection,
    ids: &FxHashSet<i64>,
    columns: &str,
    condition: &str,
    args: &[SqlValue],
    mut each: impl FnMut(i64, &rusqlite::Row<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    if ids.len() <= SERIES_LOOKUPS_MAX {
        let mut stmt = conn.prepare(&format!(
            "SELECT s.id, {columns} FROM series s WHERE s.id = ?{condition}"
        ))?;
        for &id in ids {
            let mut params = Vec::with_capacity(args.len() + 1);
            params.push(SqlValue::Integer(id));
            params.extend(args.iter().cloned());
            let mut rows = stmt.query(params_from_iter(params))?;
            if let Some(row) = rows.next()? {
                each(id, row)?;
            }
        }
        return Ok(());
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT s.id, {columns} FROM series s WHERE 1{condition}"
    ))?;
    let mut rows = stmt.query(params_from_iter(args))?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        if ids.contains(&id) {
            each(id, row)?;
        }
    }
    Ok(())
}

/// Which series `series_sums` reads, and which of their columns.
pub(crate) struct SeriesSelection<'a> {
    /// ` AND …` on alias `s`, with `args`: with the filter's conditions, limits the points read
    /// to the series it matches.
    pub narrowing: &'a str,
    pub args: &'a [SqlValue],
    /// ` AND …` on alias `s`, without arguments, checked on the series rows alone: for a
    /// condition such as "not a gauge" that would narrow nothing and cost an `IN` over every
    /// series.
    pub only: &'a str,
    /// SQL over alias `s`: the row's columns after column 0, the series id.
    pub columns: &'a str,
}

/// Each series' point sums per bucket (see `point_sums`) with a row of its selected columns:
/// `each(row, buckets)` once for every series with points in the range that matches the
/// filter and the selection.
pub(crate) fn series_sums<A: BucketSum>(
    conn: &Connection,
    filter: &Filter,
    width: i64,
    selection: SeriesSelection<'_>,
    mut each: impl FnMut(&rusqlite::Row<'_>, &[(i64, A)]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let SeriesSelection {
        narrowing,
        args,
        only,
        columns,
    } = selection;
    let sums = point_sums(conn, filter, width, narrowing, args)?;
    if width == 0 {
        // One bucket per series: looked up, not regrouped (a report meets tens of thousands
        // of series, and a vector each cost about 12 % of its time).
        let ids: FxHashSet<i64> = sums.keys().map(|&(id, _)| id).collect();
        return for_each_series(conn, &ids, columns, only, &[], |id, row| {
            match sums.get(&(id, 0)) {
                Some(&value) => each(row, &[(0, value)]),
                None => Ok(()),
            }
        });
    }
    let mut buckets_by_series: FxHashMap<i64, Vec<(i64, A)>> = FxHashMap::default();
    for ((series_id, bucket), value) in sums {
        buckets_by_series
            .entry(series_id)
            .or_default()
            .push((bucket, value));
    }
    let ids: FxHashSet<i64> = buckets_by_series.keys().copied().collect();
    // The points read already belong to series matching `narrowing` and the filter.
    for_each_series(
        conn,
        &ids,
        columns,
        only,
        &[],
        |id, row| match buckets_by_series.get(&id) {
            Some(buckets) => each(row, buckets),
            None => Ok(()),
        },
    )
}

/// What `event_hours` keeps apart within a session, name and model: the tool of tool events,
/// the status of API errors, the latency bin of API requests (see `schema::EVENT_DETAIL_SQL`).
pub fn event_detail(name: &str, facts: &ccscope_telemetry::EventFacts) -> String {
    match name {
        "tool_result" | "tool_decision" => facts.tool_name.clone().unwrap_or_default(),
        "api_error" => facts.status_code.map(|c| c.to_string()).unwrap_or_default(),
        "api_request" => facts
            .duration_ms
            .map(|d| latency_bin(d).to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The events whose `detail` (see `event_detail`) is kept in `event_detail_hours`.
pub const DETAILED_EVENTS: [&str; 4] = ["api_request", "api_error", "tool_result", "tool_decision"];

/// Which hourly event sums a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventRollup {
    /// `event_hours`: `n`, `cost_usd` and the four token sums per session, name and model.
    Usage,
    /// `event_detail_hours`: `n`, `successes`, `failures`, `duration_ms_sum`, `duration_n`
    /// per session, name, model and `detail`, for `DETAILED_EVENTS` only.
    Detail,
}

/// SQL giving, per bucket `b` (as `point_sums` buckets points), `session_id`, `name`, `model` (and
/// `detail` for `EventRollup::Detail`), the sums that rollup keeps, for the events matching
/// `name_condition` (on alias `e`, e.g. ` AND e.name = 'api_request'`). Whole hours come from
/// the hourly table; only the partial hours at the edges read events. `None` when the filter
/// needs the events themselves (a user or attribute filter).
pub(crate) fn event_rows_sql(
    rollup: EventRollup,
    filter: &Filter,
    width: i64,
    name_condition: &str,
) -> Option<(String, Vec<SqlValue>)> {
    event_rows_sql_grouped(rollup, filter, width, name_condition, true)
}

/// `event_rows_sql`, with `grouped` false: the rows of the hourly table and of the partial
/// hours as they are, a key possibly several times (one row per hour), for callers that only
/// add: SQL's GROUP BY over them sorts every row on its texts first.
pub(crate) fn event_rows_sql_grouped(
    rollup: EventRollup,
    filter: &Filter,
    width: i64,
    name_condition: &str,
    grouped: bool,
) -> Option<(String, Vec<SqlValue>)> {
    if filter.user.is_some() || !filter.attributes.is_empty() {
        return None;
    }
    let bucket = |t: &str| {
        if width == 0 {
            "0".to_owned()
        } else {
            bucket_expr(t, width)
        }
    };
    // The same keys on the rollup (`keys`) and on the raw events (`raw_keys`), which find a
    // session through its key (`sql::event_session_condition`).
    let mut keys = String::new();
    let mut key_args = Vec::new();
    let mut raw_keys = String::new();
    let mut raw_key_args = Vec::new();
    if let Some(session) = &filter.session {
        keys.push_str(" AND e.session_id = ?");
        key_args.push(SqlValue::Text(session.clone()));
        raw_keys.push_str(&crate::sql::event_session_condition("e"));
        raw_key_args.extend([
            SqlValue::Text(session.clone()),
            SqlValue::Text(session.clone()),
        ]);
    }
    if let Some(model) = &filter.model {
        let model_keys = " AND (e.model = ? OR e.model_base = ?)";
        keys.push_str(model_keys);
        raw_keys.push_str(model_keys);
        for args in [&mut key_args, &mut raw_key_args] {
            args.extend([SqlValue::Text(model.clone()), SqlValue::Text(model.clone())]);
        }
    }
    // (table, key columns, sums over the table, the same sums over raw events). The raw
    // expressions use unqualified columns: that part reads one table, `events e`.
    let (table, key_columns, columns, sums, raw_sums) = match rollup {
        EventRollup::Usage => (
            "event_hours",
            "session_id, name, model",
            "n, cost_usd, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens",
            "SUM(n) AS n, SUM(cost_usd) AS cost_usd, SUM(input_tokens) AS input_tokens,
             SUM(output_tokens) AS output_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
             SUM(cache_creation_tokens) AS cache_creation_tokens",
            "COUNT(*) AS n, TOTAL(cost_usd) AS cost_usd, TOTAL(input_tokens) AS input_tokens,
             TOTAL(output_tokens) AS output_tokens, TOTAL(cache_read_tokens) AS cache_read_tokens,
             TOTAL(cache_creation_tokens) AS cache_creation_tokens"
                .to_owned(),
        ),
        EventRollup::Detail => (
            "event_detail_hours",
            "session_id, name, model, detail",
            "detail, n, successes, failures, duration_ms_sum, duration_n",
            "SUM(n) AS n, SUM(successes) AS successes, SUM(failures) AS failures,
             SUM(duration_ms_sum) AS duration_ms_sum, SUM(duration_n) AS duration_n",
            format!(
                "{} AS detail, COUNT(*) AS n, COALESCE(SUM(success = 1), 0) AS successes,
                 COALESCE(SUM(success = 0), 0) AS failures, TOTAL(duration_ms) AS duration_ms_sum,
                 COUNT(duration_ms) AS duration_n",
                crate::schema::EVENT_DETAIL_SQL
            ),
        ),
    };
    let groups = if rollup == EventRollup::Detail {
        "1, 2, 3, 4, 5"
    } else {
        "1, 2, 3, 4"
    };
    let raw = |time_condition: &str| {
        format!(
            "SELECT {} AS b, session_id, name, COALESCE(model, '') AS model, {raw_sums}
             FROM events e WHERE {time_condition}{name_condition}{raw_keys} GROUP BY {groups}",
            bucket("e.time_ns")
        )
    };
    let (first_hour, last_hour) = whole_hours(filter);
    let mut args = Vec::new();
    if (width == 0 || width % HOUR_NS == 0) && first_hour < last_hour {
        args.extend([SqlValue::Integer(first_hour), SqlValue::Integer(last_hour)]);
        args.extend(key_args.iter().cloned());
        for (from, to) in [(filter.from_ns, first_hour), (last_hour, filter.to_ns)] {
            args.extend([SqlValue::Integer(from), SqlValue::Integer(to)]);
            args.extend(raw_key_args.iter().cloned());
        }
        let union = format!(
            "SELECT {} AS b, session_id, name, model, {columns}
                FROM {table} e WHERE e.hour_ns >= ? AND e.hour_ns < ?{name_condition}{keys}
                UNION ALL SELECT * FROM ({})
                UNION ALL SELECT * FROM ({})",
            bucket("e.hour_ns"),
            raw("e.time_ns >= ? AND e.time_ns < ?"),
            raw("e.time_ns >= ? AND e.time_ns < ?"),
        );
        let sql = if grouped {
            format!("SELECT b, {key_columns}, {sums} FROM ({union}) GROUP BY {groups}")
        } else {
            union
        };
        Some((sql, args))
    } else {
        args.extend([
            SqlValue::Integer(filter.from_ns),
            SqlValue::Integer(filter.to_ns),
        ]);
        args.extend(raw_key_args);
        Some((raw("e.time_ns >= ? AND e.time_ns < ?"), args))
    }
}

fn bucket_expr(time: &str, width: i64) -> String {
    format!("({time} - ({time} % {width}))")
}

impl Reader {
    /// Sum of a metric per bucket and group (metrics only).
    pub fn metric_series(
        &self,
        metric: MetricKind,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, StoreError> {
        let mut series = TimeSeries::new(filter);
        series_sums::<f64>(
            self.conn(),
            filter,
            series.bucket_ns,
            SeriesSelection {
                narrowing: " AND s.metric = ?",
                args: &[SqlValue::Text(metric.name().to_owned())],
                only: " AND s.temporality != 'gauge'",
                columns: &group.sql("s"),
            },
            |row, buckets| {
                let g: String = row.get(1)?;
                for &(bucket, value) in buckets {
                    series.add(g.clone(), bucket, value);
                }
                Ok(())
            },
        )?;
        Ok(series)
    }

    /// The sessions whose cost and tokens come from their metrics: those that sent cost or token
    /// metrics in the range (the others' come from their `api_request` events).
    pub(crate) fn metered_sessions(&self, filter: &Filter) -> Result<HashSet<String>, StoreError> {
        let usage_metrics =
            " AND s.metric IN ('claude_code.cost.usage', 'claude_code.token.usage')";
        let mut metered: HashSet<String> = HashSet::new();
        series_sums::<f64>(
            self.conn(),
            filter,
            0,
            SeriesSelection {
                narrowing: usage_metrics,
                args: &[],
                only: "",
                columns: "s.session_id",
            },
            |row, _| {
                metered.insert(row.get(1)?);
                Ok(())
            },
        )?;
        Ok(metered)
    }

    /// Cost (or total tokens) per bucket and group, from the metrics for sessions that sent cost
    /// or token metrics in the range and from `api_request` events for the others.
    pub fn usage_series(
        &self,
        tokens: bool,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, StoreError> {
        let metric = if tokens {
            MetricKind::TokenUsage
        } else {
            MetricKind::CostUsage
        };
        let mut series = TimeSeries::new(filter);
        let metered = self.metered_sessions(&filter.usage_scope())?;
        let metric_part = self.metric_series(metric, group, filter)?;
        for (g, buckets) in metric_part.groups {
            for (b, v) in buckets {
                series.add(g.clone(), b, v);
            }
        }
        if tokens && matches!(group, Dimension::Type) {
            self.add_event_tokens_by_type(&mut series, filter, &metered)?;
            return Ok(series);
        }
        let rolled_up = match group {
            Dimension::None | Dimension::Model | Dimension::Session => event_rows_sql(
                EventRollup::Usage,
                filter,
                series.bucket_ns,
                " AND e.name = 'api_request'",
            ),
            _ => None,
        };
        let (sql, args) = match rolled_up {
            Some((rows, args)) => {
                let value = if tokens {
                    "SUM(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens)"
                } else {
                    "SUM(cost_usd)"
                };
                let g = match group {
                    Dimension::Model => "model",
                    Dimension::Session => "session_id",
                    _ => "''",
                };
                (
                    format!("SELECT b, {g}, session_id, {value} FROM ({rows}) GROUP BY 1, 2, 3"),
                    args,
                )
            }
            None => {
                // Only sessions without cost or token metrics count here: find them from the
                // hourly sums (a superset when the filter has user or attribute conditions),
                // then read just their events.
                let relaxed = Filter {
                    user: None,
                    attributes: Vec::new(),
                    ..filter.clone()
                };
                let mut unmetered: Vec<String> = Vec::new();
                if let Some((rows, args)) = event_rows_sql(
                    EventRollup::Usage,
                    &relaxed,
                    0,
                    " AND e.name = 'api_request'",
                ) {
                    let mut stmt = self
                        .conn()
                        .prepare(&format!("SELECT DISTINCT session_id FROM ({rows})"))?;
                    for session in
                        stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?
                    {
                        let session = session?;
                        if !metered.contains(&session) {
                            unmetered.push(session);
                        }
                    }
                }
                if unmetered.is_empty() {
                    return Ok(series);
                }
                let (cond, mut args) = filter.sql("e", "e.time_ns")?;
                args.push(SqlValue::Text(
                    serde_json::Value::from(unmetered).to_string(),
                ));
                let value = if tokens {
                    "TOTAL(e.input_tokens) + TOTAL(e.output_tokens) + TOTAL(e.cache_read_tokens) + TOTAL(e.cache_creation_tokens)"
                } else {
                    "TOTAL(e.cost_usd)"
                };
                let sql = format!(
                    "SELECT {}, {} AS g, e.session_id, {value} FROM events e
                     WHERE e.name = 'api_request' AND {cond}
                       AND e.session_id IN (SELECT value FROM json_each(?)) GROUP BY 1, 2, 3",
                    bucket_expr("e.time_ns", series.bucket_ns),
                    group.sql("e"),
                );
                (sql, args)
            }
        };
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, f64>(3)?,
            ))
        })?;
        for row in rows {
            let (bucket, g, session, value) = row?;
            if !metered.contains(&session) {
                series.add(g, bucket, value);
            }
        }
        Ok(series)
    }

    /// Adds the tokens of `api_request` events, split into Claude Code's token types, for the
    /// sessions not in `metered` (the fallback of the token-type chart).
    fn add_event_tokens_by_type(
        &self,
        series: &mut TimeSeries,
        filter: &Filter,
        metered: &HashSet<String>,
    ) -> Result<(), StoreError> {
        const SUMS: &str = "TOTAL(input_tokens), TOTAL(output_tokens), TOTAL(cache_read_tokens), TOTAL(cache_creation_tokens)";
        let (sql, args) = match event_rows_sql(
            EventRollup::Usage,
            filter,
            series.bucket_ns,
            " AND e.name = 'api_request'",
        ) {
            Some((rows, args)) => (
                format!("SELECT b, session_id, {SUMS} FROM ({rows}) GROUP BY 1, 2"),
                args,
            ),
            None => {
                let (cond, args) = filter.sql("e", "e.time_ns")?;
                let sums = SUMS.replace("TOTAL(", "TOTAL(e.");
                (
                    format!(
                        "SELECT {}, e.session_id, {sums} FROM events e WHERE e.name = 'api_request' AND {cond} GROUP BY 1, 2",
                        bucket_expr("e.time_ns", series.bucket_ns)
                    ),
                    args,
                )
            }
        };
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                [
                    r.get::<_, f64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, f64>(5)?,
                ],
            ))
        })?;
        for row in rows {
            let (bucket, session, sums) = row?;
            if metered.contains(&session) {
                continue;
            }
            for (kind, value) in ["input", "output", "cacheRead", "cacheCreation"]
                .into_iter()
                .zip(sums)
            {
                if value != 0.0 {
                    series.add(kind.to_owned(), bucket, value);
                }
            }
        }
        Ok(())
    }

    /// Count of events of `names` per bucket and group; `distinct_sessions` counts sessions
    /// instead of events.
    pub fn event_series(
        &self,
        names: &[&str],
        group: &Dimension,
        distinct_sessions: bool,
        filter: &Filter,
    ) -> Result<TimeSeries, StoreError> {
        let mut series = TimeSeries::new(filter);
        let only =
            |allowed: &[&str]| !names.is_empty() && names.iter().all(|n| allowed.contains(n));
        let rollup_group = match group {
            Dimension::None => Some((EventRollup::Usage, "''")),
            Dimension::Model => Some((EventRollup::Usage, "model")),
            Dimension::Session => Some((EventRollup::Usage, "session_id")),
            Dimension::StatusCode if only(&["api_error"]) => Some((
                EventRollup::Detail,
                "CASE detail WHEN '' THEN 'no status' ELSE detail END",
            )),
            Dimension::Tool if only(&["tool_result", "tool_decision"]) => {
                Some((EventRollup::Detail, "detail"))
            }
            _ => None,
        };
        let name_condition = if names.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = names
                .iter()
                .map(|n| format!("'{}'", n.replace('\'', "''")))
                .collect();
            format!(" AND e.name IN ({})", quoted.join(", "))
        };
        let rolled = rollup_group.and_then(|(kind, g)| {
            event_rows_sql(kind, filter, series.bucket_ns, &name_condition).map(|r| (g, r))
        });
        let (sql, args) = match rolled {
            Some((g, (rows, args))) => {
                let count = if distinct_sessions {
                    "COUNT(DISTINCT NULLIF(session_id, ''))"
                } else {
                    "SUM(n)"
                };
                (
                    format!("SELECT b, {g}, {count} FROM ({rows}) GROUP BY 1, 2"),
                    args,
                )
            }
            None => {
                let (cond, args) = filter.sql("e", "e.time_ns")?;
                let count = if distinct_sessions {
                    "COUNT(DISTINCT NULLIF(e.session_id, ''))"
                } else {
                    "COUNT(*)"
                };
                let sql = format!(
                    "SELECT {}, {} AS g, {count} FROM events e WHERE {cond}{name_condition} GROUP BY 1, 2",
                    bucket_expr("e.time_ns", series.bucket_ns),
                    group.sql("e"),
                );
                (sql, args)
            }
        };
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (bucket, g, n) = row?;
            series.add(g, bucket, n as f64);
        }
        Ok(series)
    }

    /// Sessions active per bucket: distinct session ids seen in events or metrics.
    pub fn session_series(&self, filter: &Filter) -> Result<TimeSeries, StoreError> {
        let mut series = TimeSeries::new(filter);
        let width = series.bucket_ns;
        let (event_part, args) = match event_rows_sql(
            EventRollup::Usage,
            filter,
            width,
            " AND e.session_id != ''",
        ) {
            Some((rows, args)) => (format!("SELECT b, session_id AS sid FROM ({rows})"), args),
            None => {
                let (econd, args) = filter.sql("e", "e.time_ns")?;
                let sql = format!(
                    "SELECT {} AS b, e.session_id AS sid FROM events e WHERE {econd} AND e.session_id != ''",
                    bucket_expr("e.time_ns", width)
                );
                (sql, args)
            }
        };
        // Distinct (bucket, session) pairs from both sides, counted here: cheaper than
        // SQLite's UNION plus COUNT(DISTINCT) over text keys.
        let mut seen: HashSet<(i64, String)> = HashSet::new();
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT DISTINCT b, sid FROM ({event_part})"))?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            seen.insert(row?);
        }
        series_sums::<f64>(
            self.conn(),
            filter,
            width,
            SeriesSelection {
                narrowing: "",
                args: &[],
                only: " AND s.session_id != ''",
                columns: "s.session_id",
            },
            |row, buckets| {
                let session = text(row, 1)?;
                for &(bucket, _) in buckets {
                    seen.insert((bucket, session.to_owned()));
                }
                Ok(())
            },
        )?;
        let mut counts: BTreeMap<i64, f64> = BTreeMap::new();
        for (bucket, _) in &seen {
            *counts.entry(*bucket).or_default() += 1.0;
        }
        for (bucket, n) in counts {
            series.add("sessions".into(), bucket, n);
        }
        Ok(series)
    }

    /// p50 and p95 of `api_request` durations per bucket, from a log-scale histogram.
    pub fn latency_series(&self, filter: &Filter) -> Result<LatencySeries, StoreError> {
        let width = bucket_width(filter.from_ns, filter.to_ns);
        let (sql, args) = match event_rows_sql(
            EventRollup::Detail,
            filter,
            width,
            " AND e.name = 'api_request'",
        ) {
            Some((rows, args)) => (
                format!(
                    "SELECT b, CAST(detail AS INTEGER), SUM(n) FROM ({rows}) WHERE detail != '' GROUP BY 1, 2"
                ),
                args,
            ),
            None => {
                let (cond, args) = filter.sql("e", "e.time_ns")?;
                let sql = format!(
                    "SELECT {}, ccscope_latency_bin(e.duration_ms), COUNT(*)
                     FROM events e WHERE e.name = 'api_request' AND e.duration_ms IS NOT NULL AND {cond}
                     GROUP BY 1, 2",
                    bucket_expr("e.time_ns", width),
                );
                (sql, args)
            }
        };
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut histograms: BTreeMap<i64, Vec<(i64, u64)>> = BTreeMap::new();
        for row in rows {
            let (bucket, bin, n) = row?;
            histograms.entry(bucket).or_default().push((bin, n as u64));
        }
        Ok(LatencySeries::from_histograms(width, histograms))
    }

    /// Per tool: results, successes, failures and mean duration (from `tool_result`).
    pub fn tool_breakdown(&self, filter: &Filter) -> Result<Vec<Breakdown>, StoreError> {
        let (sql, args) = match event_rows_sql(EventRollup::Detail, filter, 0, " AND e.name = 'tool_result'") {
            Some((rows, args)) => (
                format!(
                    "SELECT CASE detail WHEN '' THEN '?' ELSE detail END, SUM(n), SUM(successes), SUM(failures),
                            SUM(duration_ms_sum) / NULLIF(SUM(duration_n), 0)
                     FROM ({rows}) GROUP BY 1 ORDER BY 2 DESC, 1"
                ),
                args,
            ),
            None => {
                let (cond, args) = filter.sql("e", "e.time_ns")?;
                let sql = format!(
                    "SELECT COALESCE(e.tool_name, '?'), COUNT(*), SUM(e.success = 1), SUM(e.success = 0), AVG(e.duration_ms)
                     FROM events e WHERE e.name = 'tool_result' AND {cond} GROUP BY 1 ORDER BY 2 DESC, 1"
                );
                (sql, args)
            }
        };
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok(Breakdown {
                key: r.get(0)?,
                count: r.get::<_, i64>(1)? as u64,
                success: r.get::<_, Option<i64>>(2)?.unwrap_or(0) as u64,
                failure: r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
                mean_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Edit decisions (from the `code_edit_tool.decision` metric) by `tool_name` or `language`:
    /// key -> (accepted, rejected).
    pub fn decision_breakdown(
        &self,
        by_language: bool,
        filter: &Filter,
    ) -> Result<Vec<(String, f64, f64)>, StoreError> {
        let key = if by_language { "language" } else { "tool_name" };
        let mut by_key: HashMap<String, (f64, f64)> = HashMap::new();
        series_sums::<f64>(
            self.conn(),
            filter,
            0,
            SeriesSelection {
                narrowing: " AND s.metric = ?",
                args: &[SqlValue::Text(
                    MetricKind::CodeEditToolDecision.name().to_owned(),
                )],
                only: "",
                columns: &format!(
                    "COALESCE(json_extract(s.attributes, '$.{key}'), '?'), json_extract(s.attributes, '$.decision')"
                ),
            },
            |row, buckets| {
                let k: String = row.get(1)?;
                let decision: Option<String> = row.get(2)?;
                let v: f64 = buckets.iter().map(|&(_, value)| value).sum();
                let e = by_key.entry(k).or_default();
                match decision.as_deref() {
                    Some("accept") => e.0 += v,
                    Some("reject") => e.1 += v,
                    _ => {}
                }
                Ok(())
            },
        )?;
        let mut out: Vec<(String, f64, f64)> =
            by_key.into_iter().map(|(k, (a, r))| (k, a, r)).collect();
        out.sort_by(|a, b| {
            (b.1 + b.2)
                .total_cmp(&(a.1 + a.2))
                .then_with(|| a.0.cmp(&b.0))
        });
        Ok(out)
    }
}
