//! Hourly rollups beside the exporter's tables (and the session-hour summary made from them,
//! `summary`): ccscope's two hourly tables (`ccscope_events_hourly`,
//! `ccscope_points_hourly`) hold the same normalised rows every query reads (`sql::events`,
//! `sql::points`: re-sends dropped, cumulative points differenced), summed per hour and per
//! every column a query groups or filters by. A reader takes whole hours below the rollup's
//! mark from them and reads the raw tables only at the range's edges, as the SQLite store does.
//!
//! The engine fills them: a refreshable materialized view per table runs one *step* a minute,
//! rolling up the hours between the table's mark and the last hour that ended more than
//! `GRACE_S` ago (at most `STEP_HOURS` at a time, skipping hours without data). A step is one
//! INSERT of fewer rows than a block, so it lands as one part: its rows and its mark row (the
//! step's end in `mark`, the record-attribute keys it saw in `attr_keys`) arrive together or
//! not at all. `install` runs the same step from the client until it catches up, then creates
//! the views. Rows that arrive for an hour after it was rolled up are not in the rollup
//! (`--rebuild` recomputes).

use ccscope_query::{HOUR_NS, SourceError};
use serde::Deserialize;

use crate::client::{Client, Query};
use crate::config::Config;
use crate::schema::Schema;
use crate::sql::{self, Spans};
use crate::summary;

/// The rollup tables and their views.
pub const EVENTS_TABLE: &str = "ccscope_events_hourly";
pub const POINTS_TABLE: &str = "ccscope_points_hourly";
const EVENTS_VIEW: &str = "ccscope_events_hourly_refresh";
const POINTS_VIEW: &str = "ccscope_points_hourly_refresh";

/// How long after an hour ends it is rolled up: exports in flight (Claude Code's logs every
/// 5 s, metrics every 60 s, a Collector's batch and retry) have landed by then.
pub const GRACE_S: i64 = 15 * 60;
/// The most hours one step rolls up (steps stay aligned to this grid, so never span two
/// months, the tables' partition).
const STEP_HOURS: i64 = 6;
/// How often the views run a step.
const REFRESH_EVERY: &str = "1 MINUTE";

/// The columns a rollup table stores, in order (its INSERTs name them).
const EVENT_ROLLUP_COLUMNS: &str = "time_ns, name, session_id, user_id, user_email, terminal_type, version, model, model_attr, tool_name, success, status_code, duration_bin, attr_keys, res, n, first_ns, last_ns, cost, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, duration_sum, duration_n, mark";
const POINT_ROLLUP_COLUMNS: &str = "time_ns, metric, session_id, model, point_type, user_id, user_email, terminal_type, version, decision, tool_name, language, attr_keys, res, value, first_ns, last_ns, mark";

fn events_ddl(config: &Config) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            time_ns Int64, name LowCardinality(String), session_id String, user_id String,
            user_email String, terminal_type LowCardinality(String), version LowCardinality(String),
            model LowCardinality(String), model_attr LowCardinality(String),
            tool_name LowCardinality(String), success Nullable(UInt8), status_code Nullable(Int64),
            duration_bin Nullable(Int64), attr_keys Array(LowCardinality(String)),
            res Map(LowCardinality(String), String),
            n UInt64, first_ns Int64, last_ns Int64, cost Float64, input_tokens Float64,
            output_tokens Float64, cache_read_tokens Float64, cache_creation_tokens Float64,
            duration_sum Float64, duration_n UInt64, mark Int64
         ) ENGINE = MergeTree
         PARTITION BY toYYYYMM(fromUnixTimestamp64Nano(time_ns, 'UTC'))
         ORDER BY (mark, time_ns, name, session_id)",
        table = sql::table(config, EVENTS_TABLE)
    )
}

fn points_ddl(config: &Config) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            time_ns Int64, metric LowCardinality(String), session_id String,
            model LowCardinality(String), point_type LowCardinality(String), user_id String,
            user_email String, terminal_type LowCardinality(String), version LowCardinality(String),
            decision LowCardinality(String), tool_name LowCardinality(String),
            language LowCardinality(String), attr_keys Array(LowCardinality(String)),
            res Map(LowCardinality(String), String),
            value Float64, first_ns Int64, last_ns Int64, mark Int64
         ) ENGINE = MergeTree
         PARTITION BY toYYYYMM(fromUnixTimestamp64Nano(time_ns, 'UTC'))
         ORDER BY (mark, time_ns, metric, session_id)",
        table = sql::table(config, POINTS_TABLE)
    )
}

/// Which kind of rows a rollup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Events,
    Points,
    /// The session-hour summary (`summary`), made from the two hourly rollups.
    Sessions,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Events => "events",
            Kind::Points => "metric points",
            Kind::Sessions => "session hours",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Kind::Events => EVENTS_TABLE,
            Kind::Points => POINTS_TABLE,
            Kind::Sessions => summary::TABLE,
        }
    }

    fn view(self) -> &'static str {
        match self {
            Kind::Events => EVENTS_VIEW,
            Kind::Points => POINTS_VIEW,
            Kind::Sessions => summary::VIEW,
        }
    }
}

/// The SELECT of one step: `WITH` the step's bounds `w` (the mark, or the first hour with data
/// when nothing is rolled up) and `e`, the rows of `[w, e)` per hour, and the mark row.
/// `cutoff` is a nanosecond SQL expression: the end of the last hour to roll up.
fn step_select(config: &Config, schema: &Schema, kind: Kind, cutoff: &str) -> String {
    // The raw table an hourly step reads and its time column.
    let (raw, time) = match kind {
        Kind::Events => (sql::table(config, &config.logs_table), "Timestamp"),
        Kind::Points => (sql::table(config, &config.sums_table), "TimeUnix"),
        Kind::Sessions => return sessions_step_select(config, cutoff),
    };
    let rollup = sql::table(config, kind.table());
    let first_after = |bound: &str| {
        format!(
            "(SELECT intDiv(toUnixTimestamp64Nano(toDateTime64(min({time}), 9)), {HOUR_NS}) * {HOUR_NS} FROM {raw} WHERE {time} >= fromUnixTimestamp64Nano({bound}))"
        )
    };
    let step = STEP_HOURS * HOUR_NS;
    let bounds = format!(
        "WITH (SELECT max(mark) FROM {rollup}) AS w0,
              if(w0 > 0, w0, {first_any}) AS w,
              {first_after_w} AS s,
              {cutoff} AS cutoff,
              if(s > 0, least(cutoff, intDiv(s, {step}) * {step} + {step}), cutoff) AS e",
        first_any = first_after("0"),
        first_after_w = first_after("w"),
    );
    let spans = Spans(vec![("w".into(), "e".into())]);
    if kind == Kind::Events {
        let rows = sql::events(config, schema, "", &spans);
        format!(
                "{bounds}
                 SELECT * FROM (
                    SELECT hour AS time_ns, name, session_id, user_id, user_email, terminal_type,
                           version, model, model_attr, tool_name, success, status_code, duration_bin,
                           attr_keys, any(res) AS res, sum(n) AS n, min(first_ns) AS first_ns,
                           max(last_ns) AS last_ns, sum(cost) AS cost,
                           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
                           sum(cache_read_tokens) AS cache_read_tokens,
                           sum(cache_creation_tokens) AS cache_creation_tokens,
                           sum(duration_sum) AS duration_sum, sum(duration_n) AS duration_n,
                           toInt64(0) AS mark
                    FROM (SELECT *, intDiv(time_ns, {HOUR_NS}) * {HOUR_NS} AS hour, cityHash64(res) AS res_hash FROM ({rows}))
                    WHERE e > w
                    GROUP BY hour, name, session_id, user_id, user_email, terminal_type, version, model,
                             model_attr, tool_name, success, status_code, duration_bin, attr_keys,
                             res_hash
                    UNION ALL
                    SELECT e, '', '', '', '', '', '', '', '', '', NULL, NULL, NULL,
                           (SELECT groupUniqArrayArray(attr_keys) FROM ({rows})),
                           CAST(map(), 'Map(LowCardinality(String), String)'), toUInt64(0), e, e,
                           0, 0, 0, 0, 0, 0, toUInt64(0), e
                    WHERE e > w)"
            )
    } else {
        let rows = sql::points(config, schema, "", "", &spans);
        format!(
                "{bounds}
                 SELECT * FROM (
                    SELECT hour AS time_ns, metric, session_id, model, point_type, user_id,
                           user_email, terminal_type, version, decision, tool_name, language,
                           attr_keys, any(res) AS res, sum(value) AS value,
                           min(first_ns) AS first_ns, max(last_ns) AS last_ns, toInt64(0) AS mark
                    FROM (SELECT *, intDiv(time_ns, {HOUR_NS}) * {HOUR_NS} AS hour, cityHash64(res) AS res_hash FROM ({rows}))
                    WHERE e > w
                    GROUP BY hour, metric, session_id, model, point_type, user_id, user_email,
                             terminal_type, version, decision, tool_name, language, attr_keys,
                             res_hash
                    UNION ALL
                    SELECT e, '', '', '', '', '', '', '', '', '', '', '',
                           (SELECT groupUniqArrayArray(attr_keys) FROM ({rows})),
                           CAST(map(), 'Map(LowCardinality(String), String)'), 0, e, e, e
                    WHERE e > w)"
            )
    }
}

/// The step of the session-hour summary: the hours between its mark and the hourly rollups'
/// (and `cutoff`), made from the hourly rollups' rows.
fn sessions_step_select(config: &Config, cutoff: &str) -> String {
    let (table, events_table, points_table) = (
        sql::table(config, summary::TABLE),
        sql::table(config, EVENTS_TABLE),
        sql::table(config, POINTS_TABLE),
    );
    let step = STEP_HOURS * HOUR_NS;
    let rows = summary::rows(
        &events(config, "", "w", "e"),
        &points(config, "", "", "w", "e"),
        "''",
        "''",
    );
    format!(
        "WITH (SELECT max(mark) FROM {table} WHERE mark > 0) AS w0,
              (SELECT min(time_ns) FROM (
                  SELECT time_ns FROM {events_table} WHERE mark = 0 AND time_ns >= w0
                  UNION ALL SELECT time_ns FROM {points_table} WHERE mark = 0 AND time_ns >= w0)) AS s,
              if(w0 > 0, w0, s) AS w,
              least({cutoff}, (SELECT max(mark) FROM {events_table} WHERE mark > 0),
                    (SELECT max(mark) FROM {points_table} WHERE mark > 0)) AS c,
              if(s > 0, least(c, intDiv(s, {step}) * {step} + {step}), c) AS e
         SELECT * FROM (
            SELECT {columns}, toInt64(0) AS mark FROM ({rows}) WHERE e > w
            UNION ALL
            {mark} WHERE e > w)",
        columns = summary::columns_without_mark(),
        mark = summary::mark_row("e"),
    )
}

fn columns(kind: Kind) -> String {
    match kind {
        Kind::Events => EVENT_ROLLUP_COLUMNS.to_owned(),
        Kind::Points => POINT_ROLLUP_COLUMNS.to_owned(),
        Kind::Sessions => summary::columns(),
    }
}

/// The settings that keep a step one block (one part): squash everything, one insert thread.
const ONE_BLOCK: &str = "SETTINGS max_insert_threads = 1, min_insert_block_size_rows = 1000000000, min_insert_block_size_bytes = 1000000000000";

/// The end of the last hour that ended `GRACE_S` ago, as SQL.
fn cutoff_now() -> String {
    format!(
        "toInt64(toUnixTimestamp(toStartOfHour(now() - INTERVAL {GRACE_S} SECOND))) * 1000000000"
    )
}

#[derive(Deserialize)]
struct MarkRow {
    #[serde(deserialize_with = "crate::lenient::int")]
    mark: i64,
}

#[derive(Deserialize)]
struct HitsRow {
    #[serde(deserialize_with = "crate::lenient::int")]
    hits: i64,
}

#[derive(Deserialize)]
struct NameRow {
    name: String,
}

/// The rollups' state in a database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Hours before these marks (ns) are rolled up (0: none, or the table is missing).
    pub events_mark: i64,
    pub points_mark: i64,
    /// Hours before this mark are in the session-hour summary.
    pub sessions_mark: i64,
    /// Which tables exist: the hourly rollups, the session-hour summary.
    pub tables: bool,
    pub sessions: bool,
    /// Whether every table has its refreshing view.
    pub views: bool,
}

/// What `status` finds: tables, views and marks.
pub(crate) fn status(client: &Client) -> Result<Status, SourceError> {
    let config = client.config();
    let mut q = Query::default();
    let db = q.bind(&config.database);
    let names: Vec<String> = [
        EVENTS_TABLE,
        POINTS_TABLE,
        summary::TABLE,
        EVENTS_VIEW,
        POINTS_VIEW,
        summary::VIEW,
    ]
    .iter()
    .map(|n| q.bind(n))
    .collect();
    q.sql = format!(
        "SELECT name FROM system.tables WHERE database = {db} AND name IN ({})",
        names.join(", ")
    );
    let found: Vec<String> = client
        .all::<NameRow>(&q)?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let has = |n: &str| found.iter().any(|f| f == n);
    let mut status = Status {
        tables: has(EVENTS_TABLE) && has(POINTS_TABLE),
        sessions: has(summary::TABLE),
        views: has(EVENTS_VIEW) && has(POINTS_VIEW) && has(summary::VIEW),
        ..Status::default()
    };
    if status.tables {
        status.events_mark = mark(client, Kind::Events)?;
        status.points_mark = mark(client, Kind::Points)?;
    }
    if status.sessions {
        status.sessions_mark = mark(client, Kind::Sessions)?;
    }
    Ok(status)
}

/// Whether `kind`'s refreshing view exists.
fn has_view(client: &Client, kind: Kind) -> Result<bool, SourceError> {
    let config = client.config();
    let mut q = Query::default();
    let (db, name) = (q.bind(&config.database), q.bind(kind.view()));
    q.sql = format!("SELECT name FROM system.tables WHERE database = {db} AND name = {name}");
    Ok(!client.all::<NameRow>(&q)?.is_empty())
}

fn mark(client: &Client, kind: Kind) -> Result<i64, SourceError> {
    let q = Query {
        sql: format!(
            "SELECT max(mark) AS mark FROM (SELECT mark FROM {} WHERE mark > 0)",
            sql::table(client.config(), kind.table())
        ),
        params: Vec::new(),
    };
    Ok(client
        .all::<MarkRow>(&q)?
        .first()
        .map(|r| r.mark)
        .unwrap_or(0))
}

/// Whether any rolled-up row of `kind` in `[from, to)` came from records carrying one of
/// `keys` as a record attribute (whose values the rollup does not keep).
pub(crate) fn shadows(
    client: &Client,
    kind: Kind,
    keys: &[&str],
    from: i64,
    to: i64,
) -> Result<bool, SourceError> {
    if keys.is_empty() {
        return Ok(false);
    }
    let mut q = Query::default();
    let bound: Vec<String> = keys.iter().map(|k| q.bind(k)).collect();
    let (f, t) = (q.bind_i64(from), q.bind_i64(to));
    // Mark rows list the keys their step saw; a step ending in the range may have started
    // before it, which only makes the answer more careful.
    q.sql = format!(
        "SELECT count() AS hits FROM {} WHERE mark > {f} AND mark - {step} < {t} AND hasAny(attr_keys, [{}])",
        sql::table(client.config(), kind.table()),
        bound.join(", "),
        step = STEP_HOURS * HOUR_NS,
    );
    Ok(client
        .all::<HitsRow>(&q)?
        .first()
        .is_some_and(|r| r.hits > 0))
}

/// The ClickHouse user the refreshing views run as (`DEFINER = …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definer(String);

impl Definer {
    /// A user name of letters, digits, `_`, `-`, `.` and `@` (at most 128), else why not.
    pub fn new(name: &str) -> Result<Definer, String> {
        let ok = !name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
        if ok {
            Ok(Definer(name.to_owned()))
        } else {
            Err(format!(
                "{name:?} is not a user name ccscope accepts (letters, digits, _ - . @)"
            ))
        }
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    fn quoted(&self) -> String {
        format!("`{}`", self.0)
    }
}

/// The statements that make `definer` a least-privilege user for the refreshing views: a user
/// nobody can log in as, allowed to read the exporter's two tables and to read and append to
/// ccscope's three, and nothing else; then what the installing user needs (`installer`).
pub fn grants(config: &Config, definer: &Definer, installer: &str) -> Vec<String> {
    let user = definer.quoted();
    let db = format!("`{}`", config.database);
    let mut out = vec![format!(
        "CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH no_password HOST NONE"
    )];
    for raw in [&config.logs_table, &config.sums_table] {
        out.push(format!("GRANT SELECT ON {db}.`{raw}` TO {user}"));
    }
    for table in [EVENTS_TABLE, POINTS_TABLE, summary::TABLE] {
        out.push(format!("GRANT SELECT, INSERT ON {db}.`{table}` TO {user}"));
    }
    let installer = format!("`{}`", installer.replace('`', ""));
    out.push(format!(
        "GRANT CREATE TABLE, CREATE VIEW, DROP TABLE, DROP VIEW, SELECT, INSERT ON {db}.* TO {installer}"
    ));
    out.push(format!("GRANT SET DEFINER ON {user} TO {installer}"));
    out
}

/// What one `install` did.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    pub steps: u64,
    pub status: Status,
}

/// Creates the tables, rolls up everything before `until_ns` (default: the last hour that
/// ended `GRACE_S` ago) from the client, step by step (`progress` hears each), then creates
/// the refreshing views unless `refresh` is false. `rebuild` first empties the tables.
/// Refuses to roll up from the client while the views exist (two writers would double rows).
pub(crate) fn install(
    client: &Client,
    schema: &Schema,
    until_ns: Option<i64>,
    refresh: Option<&Definer>,
    rebuild: bool,
    progress: &mut dyn FnMut(Kind, i64),
) -> Result<Installed, SourceError> {
    let config = client.config();
    let before = status(client)?;
    if before.views && !rebuild {
        return Ok(Installed {
            steps: 0,
            status: before,
        });
    }
    if rebuild {
        drop_all(client)?;
    }
    for ddl in [events_ddl(config), points_ddl(config), summary::ddl(config)] {
        client.execute(&Query {
            sql: ddl,
            params: Vec::new(),
        })?;
    }
    let cutoff = match until_ns {
        Some(ns) => (ns.div_euclid(HOUR_NS) * HOUR_NS).to_string(),
        None => cutoff_now(),
    };
    let mut steps = 0;
    // The summary last: it is made from the hourly rollups. A table whose view exists (an
    // install from before the summary) is left to its view.
    for kind in [Kind::Events, Kind::Points, Kind::Sessions] {
        if has_view(client, kind)? {
            continue;
        }
        loop {
            let before = mark(client, kind)?;
            client.execute(&Query {
                sql: format!(
                    "INSERT INTO {} ({}) {} {ONE_BLOCK}",
                    sql::table(config, kind.table()),
                    columns(kind),
                    step_select(config, schema, kind, &cutoff)
                ),
                params: Vec::new(),
            })?;
            let after = mark(client, kind)?;
            if after <= before {
                break;
            }
            steps += 1;
            progress(kind, after);
        }
    }
    if let Some(definer) = refresh {
        for kind in [Kind::Events, Kind::Points, Kind::Sessions] {
            // The view runs its steps as the definer, forever: a user with only the rights
            // `grants` lists, not the installing administrator.
            client.execute(&Query {
                sql: format!(
                    "CREATE MATERIALIZED VIEW IF NOT EXISTS {view} REFRESH EVERY {REFRESH_EVERY} APPEND TO {table} DEFINER = {user} SQL SECURITY DEFINER AS {select} {ONE_BLOCK}",
                    view = sql::table(config, kind.view()),
                    table = sql::table(config, kind.table()),
                    user = definer.quoted(),
                    select = step_select(config, schema, kind, &cutoff_now()),
                ),
                params: Vec::new(),
            })?;
        }
    }
    Ok(Installed {
        steps,
        status: status(client)?,
    })
}

/// Drops ccscope's views and tables (never the exporter's).
pub(crate) fn drop_all(client: &Client) -> Result<(), SourceError> {
    let config = client.config();
    for name in [
        EVENTS_VIEW,
        POINTS_VIEW,
        summary::VIEW,
        EVENTS_TABLE,
        POINTS_TABLE,
        summary::TABLE,
    ] {
        client.execute(&Query {
            sql: format!("DROP TABLE IF EXISTS {}", sql::table(config, name)),
            params: Vec::new(),
        })?;
    }
    Ok(())
}

/// The rolled-up `events` rows of `[from, to)` (whole hours) matching the filter's
/// conditions `cond` (on the rollup's columns), as `sql::EVENT_COLUMNS`.
pub(crate) fn events(config: &Config, cond: &str, from: &str, to: &str) -> String {
    format!(
        "SELECT {cols} FROM (
            SELECT time_ns, name, session_id, user_id, user_email, terminal_type, version, model,
                   model_attr, CAST(NULL, 'Nullable(Int64)') AS seq, '' AS prompt_id,
                   CAST(NULL, 'Nullable(Float64)') AS cost_n, cost, input_tokens, output_tokens,
                   cache_read_tokens, cache_creation_tokens,
                   CAST(NULL, 'Nullable(Float64)') AS duration_ms, success, status_code, tool_name,
                   CAST(map(), 'Map(LowCardinality(String), String)') AS attrs, res, '' AS body, n,
                   first_ns, last_ns, duration_sum, duration_n, duration_bin, attr_keys
            FROM {table}
            WHERE mark = 0 AND time_ns >= {from} AND time_ns < {to}{cond})",
        cols = sql::EVENT_COLUMNS,
        table = sql::table(config, EVENTS_TABLE),
    )
}

/// The rolled-up `points` rows of `[from, to)`, as `sql::POINT_COLUMNS`.
pub(crate) fn points(config: &Config, cond: &str, metrics: &str, from: &str, to: &str) -> String {
    let narrowing = if metrics.is_empty() {
        String::new()
    } else {
        format!(" AND metric IN ({metrics})")
    };
    format!(
        "SELECT {cols} FROM (
            SELECT metric, '' AS unit, toInt32(0) AS temporality, toInt64(0) AS start_ns, time_ns,
                   value, session_id, model, point_type, user_id, user_email, terminal_type, version,
                   decision, tool_name, language,
                   CAST(map(), 'Map(LowCardinality(String), String)') AS attrs, res, first_ns,
                   last_ns, attr_keys
            FROM {table}
            WHERE mark = 0 AND time_ns >= {from} AND time_ns < {to}{narrowing}{cond})",
        cols = sql::POINT_COLUMNS,
        table = sql::table(config, POINTS_TABLE),
    )
}
