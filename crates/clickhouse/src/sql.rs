//! The two normalised row sets every query starts from, as ClickHouse SQL over the exporter's
//! tables: events (from the logs table, re-sent copies dropped) and metric points (from the
//! sums table, cumulative points differenced per series), with the same facts and the same
//! filter as the SQLite store.

use ccscope_query::{Dimension, Filter};

use ccscope_telemetry::facts::Fact;

use crate::client::Query;
use crate::config::Config;
use crate::facts;
use crate::schema::Schema;

/// How far before a range a cumulative series' earlier points are read, to difference the
/// range's first point against them. Claude Code exports every minute while it runs, so a run
/// never goes this long without a point.
pub(crate) const CUMULATIVE_LOOKBACK_NS: i64 = 24 * 3_600_000_000_000;

/// The metrics whose points make a session's usage "from metrics".
pub(crate) const USAGE_METRICS: &str = "'claude_code.cost.usage', 'claude_code.token.usage'";

pub(crate) fn table(config: &Config, name: &str) -> String {
    format!("`{}`.`{}`", config.database, name)
}

/// `model` without its context-window suffix (`claude-opus-4-8[1m]` -> `claude-opus-4-8`),
/// as `ccscope_telemetry::plain_model_name` computes it.
fn plain_model(expr: &str) -> String {
    format!(
        "if(endsWith({expr}, ']') AND position({expr}, '[') > 0, trimRight(substring({expr}, 1, position({expr}, '[') - 1)), {expr})"
    )
}

/// The filter's conditions other than time on a table whose record attributes are `attrs` and
/// resource attributes `res`, each starting with ` AND `. `model` is what `--model` matches:
/// an event's model fact (the table of facts' `Model`), a point's `model` attribute.
pub(crate) fn conditions(
    filter: &Filter,
    q: &mut Query,
    attrs: &str,
    res: &str,
    model: &str,
) -> String {
    let mut sql = String::new();
    if let Some(session) = &filter.session {
        let p = q.bind(session);
        sql.push_str(&format!(" AND {attrs}['session.id'] = {p}"));
    }
    if let Some(user) = &filter.user {
        let p = q.bind(user);
        sql.push_str(&format!(
            " AND ({attrs}['user.id'] = {p} OR {attrs}['user.email'] = {p})"
        ));
    }
    if let Some(wanted) = &filter.model {
        let p = q.bind(wanted);
        sql.push_str(&format!(
            " AND ({model} = {p} OR {} = {p})",
            plain_model(model)
        ));
    }
    for (key, value) in &filter.attributes {
        let k = q.bind(key);
        let v = q.bind(value);
        sql.push_str(&format!(
            " AND (({attrs}[{k}] = {v} AND mapContains({attrs}, {k})) OR ({res}[{k}] = {v} AND mapContains({res}, {k})))"
        ));
    }
    sql
}

/// The filter's conditions other than time on a rollup table (`model` the model column it
/// filters: the model fact for events, as on raw rows). Attributes are resource attributes
/// there (`ClickHouse::plan` reads raw rows for record attributes).
pub(crate) fn rollup_conditions(filter: &Filter, q: &mut Query, model: &str) -> String {
    let mut sql = String::new();
    if let Some(session) = &filter.session {
        let p = q.bind(session);
        sql.push_str(&format!(" AND session_id = {p}"));
    }
    if let Some(user) = &filter.user {
        let p = q.bind(user);
        sql.push_str(&format!(" AND (user_id = {p} OR user_email = {p})"));
    }
    if let Some(m) = &filter.model {
        let p = q.bind(m);
        sql.push_str(&format!(
            " AND ({model} = {p} OR {} = {p})",
            plain_model(model)
        ));
    }
    for (key, value) in &filter.attributes {
        let k = q.bind(key);
        let v = q.bind(value);
        sql.push_str(&format!(" AND res[{k}] = {v} AND mapContains(res, {k})"));
    }
    sql
}

/// Events in `[from, to)` matching the filter, one row per event (a re-sent copy has the same
/// session, name, time and sequence — or, without a sequence, the same attributes and body).
pub(crate) fn events(config: &Config, schema: &Schema, cond: &str, spans: &Spans) -> String {
    let time = spans.condition("Timestamp");
    let (event_name, claude) = if schema.logs_event_name {
        (
            "EventName != '', replaceRegexpOne(EventName, '^claude_code\\\\.', ''), ",
            "(startsWith(Body, 'claude_code.') OR startsWith(EventName, 'claude_code.'))",
        )
    } else {
        ("", "startsWith(Body, 'claude_code.')")
    };
    let a = |key: &str| format!("LogAttributes['{key}']");
    // The facts, from the table of facts (`crate::facts`).
    let fact = |f: Fact| facts::fact_sql(f, "name", "LogAttributes");
    format!(
        "SELECT {EVENT_COLUMNS} FROM (SELECT
            toUnixTimestamp64Nano(Timestamp) AS time_ns,
            multiIf({en} != '', {en}, {event_name}startsWith(Body, 'claude_code.'), substring(Body, 13), 'log') AS name,
            {session} AS session_id,
            {user} AS user_id,
            {email} AS user_email,
            {terminal} AS terminal_type,
            if({app} != '', {app}, ResourceAttributes['service.version']) AS version,
            ifNull({model_fact}, '') AS model,
            toInt64OrNull({seq}) AS seq,
            {prompt} AS prompt_id,
            {cost_fact} AS cost_n,
            ifNull(cost_n, 0) AS cost,
            toFloat64(ifNull({input_fact}, 0)) AS input_tokens,
            toFloat64(ifNull({output_fact}, 0)) AS output_tokens,
            toFloat64(ifNull({cache_read_fact}, 0)) AS cache_read_tokens,
            toFloat64(ifNull({cache_creation_fact}, 0)) AS cache_creation_tokens,
            {duration_fact} AS duration_ms,
            {success_fact} AS success,
            {status_fact} AS status_code,
            ifNull({tool_fact}, '') AS tool_name,
            LogAttributes AS attrs,
            ResourceAttributes AS res,
            Body AS body,
            {model} AS model_attr,
            toUInt64(1) AS n, time_ns AS first_ns, time_ns AS last_ns,
            ifNull(duration_ms, 0) AS duration_sum, toUInt64(isNotNull(duration_ms)) AS duration_n,
            if(name = 'api_request' AND isNotNull(duration_ms),
               toInt64(round(log2(greatest(duration_ms, 1)) * {bins})), NULL) AS duration_bin,
            arraySort(mapKeys(LogAttributes)) AS attr_keys
         FROM {table}
         WHERE ({time})
           AND {claude}{cond}
         LIMIT 1 BY session_id, name, time_ns, seq, if(isNull(seq), cityHash64(LogAttributes, Body), 0))",
        bins = ccscope_query::LATENCY_BINS_PER_OCTAVE,
        en = a("event.name"),
        session = a("session.id"),
        user = a("user.id"),
        email = a("user.email"),
        terminal = a("terminal.type"),
        app = a("app.version"),
        model = a("model"),
        seq = a("event.sequence"),
        prompt = a("prompt.id"),
        model_fact = fact(Fact::Model),
        cost_fact = fact(Fact::CostUsd),
        input_fact = fact(Fact::InputTokens),
        output_fact = fact(Fact::OutputTokens),
        cache_read_fact = fact(Fact::CacheReadTokens),
        cache_creation_fact = fact(Fact::CacheCreationTokens),
        duration_fact = fact(Fact::DurationMs),
        success_fact = fact(Fact::Success),
        status_fact = fact(Fact::StatusCode),
        tool_fact = fact(Fact::ToolName),
        table = table(config, &config.logs_table),
    )
}

/// Metric points in `[from, to)` matching the filter and `narrowing` (` AND …` on the sums
/// table's columns), one row per point with `value` its delta. Delta points (most of Claude
/// Code's) are read as stored, a re-sent copy dropped: same series, start, time *and value*, since
/// the current exporter DDL keeps whole seconds and Claude Code often sends two different
/// exports of a series within one second (a periodic export and the flush at exit). Cumulative
/// points are differenced per series and run: a point minus the previous point of its series
/// and start time (the first point of a run, or one below its predecessor — a reset — counts in
/// full); re-sent copies, and points of one series sharing a whole-second time, collapse into
/// the highest value.
pub(crate) fn points(
    config: &Config,
    schema: &Schema,
    cond: &str,
    metrics: &str,
    spans: &Spans,
) -> String {
    let narrowing = if metrics.is_empty() {
        String::new()
    } else {
        format!(" AND MetricName IN ({metrics})")
    };
    let temporality = if schema.sums_temporality {
        "toInt32(AggregationTemporality)"
    } else {
        "toInt32(1)"
    };
    let unit = if schema.sums_unit { "MetricUnit" } else { "''" };
    let table = table(config, &config.sums_table);
    let time = spans.condition("TimeUnix");
    // Each span from a lookback before it (not the whole stretch between the first and the
    // last span: a month's edges would read the month).
    let lookback = spans.join(|from, to| {
        format!(
            "TimeUnix >= fromUnixTimestamp64Nano(({from}) - {CUMULATIVE_LOOKBACK_NS}) AND TimeUnix < fromUnixTimestamp64Nano({to})"
        )
    });
    let keep = spans.condition_ns("time_ns");
    // The facts every query groups or filters by, from a point's attribute maps `a` and `r`.
    let facts = |a: &str, r: &str| {
        format!(
            "{a}['session.id'] AS session_id, {a}['model'] AS model, {a}['type'] AS point_type,
             {a}['user.id'] AS user_id, {a}['user.email'] AS user_email,
             {a}['terminal.type'] AS terminal_type,
             if({a}['app.version'] != '', {a}['app.version'], {r}['service.version']) AS version,
             {a}['decision'] AS decision, {a}['tool_name'] AS tool_name, {a}['language'] AS language"
        )
    };
    let base =
        format!("FROM {table} WHERE startsWith(MetricName, 'claude_code.'){narrowing}{cond}");
    format!(
        "SELECT {POINT_COLUMNS} FROM (
         SELECT metric, unit, temporality, start_ns, time_ns, value, session_id, model, point_type,
                user_id, user_email, terminal_type, version, decision, tool_name, language, attrs, res,
                time_ns AS first_ns, time_ns AS last_ns, arraySort(mapKeys(attrs)) AS attr_keys
         FROM (
            SELECT MetricName AS metric, {unit} AS unit, {temporality} AS temporality,
                   toUnixTimestamp64Nano(toDateTime64(StartTimeUnix, 9)) AS start_ns,
                   toUnixTimestamp64Nano(toDateTime64(TimeUnix, 9)) AS time_ns,
                   Value AS value, {delta_facts},
                   Attributes AS attrs, ResourceAttributes AS res
            {base} AND {temporality} != 2 AND ({time})
            LIMIT 1 BY cityHash64(MetricName, Attributes, ResourceAttributes), StartTimeUnix, TimeUnix, Value
         UNION ALL
            SELECT metric, unit, temporality, start_ns, time_ns, value, {cumulative_facts}, attrs, res
            FROM (
               SELECT metric, unit, temporality, start_ns, time_ns, attrs, res,
                      if(row_number() OVER run > 1 AND v >= lagInFrame(v) OVER run,
                         v - lagInFrame(v) OVER run, v) AS value
               FROM (
                  SELECT MetricName AS metric, any({unit}) AS unit, 2 AS temporality,
                         toUnixTimestamp64Nano(toDateTime64(StartTimeUnix, 9)) AS start_ns,
                         toUnixTimestamp64Nano(toDateTime64(TimeUnix, 9)) AS time_ns,
                         cityHash64(MetricName, Attributes, ResourceAttributes) AS series,
                         any(Attributes) AS attrs, any(ResourceAttributes) AS res, max(Value) AS v
                  {base} AND {temporality} = 2 AND ({lookback})
                  GROUP BY metric, series, start_ns, time_ns)
               WINDOW run AS (PARTITION BY series, start_ns ORDER BY time_ns))
            WHERE {keep}))",
        delta_facts = facts("Attributes", "ResourceAttributes"),
        cumulative_facts = facts("attrs", "res"),
    )
}

/// The columns of an `events` row set, raw or rolled up, in the order both give them. A raw
/// row is one event (`n` = 1, `first_ns` = `last_ns` = `time_ns`); a rolled-up row is the
/// events of one hour sharing every other column, `time_ns` the hour, sums in the numbers.
pub(crate) const EVENT_COLUMNS: &str = "time_ns, name, session_id, user_id, user_email, terminal_type, version, model, model_attr, seq, prompt_id, cost_n, cost, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, duration_ms, success, status_code, tool_name, attrs, res, body, n, first_ns, last_ns, duration_sum, duration_n, duration_bin, attr_keys";

/// The columns of a `points` row set, raw or rolled up (`value` a sum, `time_ns` the hour).
pub(crate) const POINT_COLUMNS: &str = "metric, unit, temporality, start_ns, time_ns, value, session_id, model, point_type, user_id, user_email, terminal_type, version, decision, tool_name, language, attrs, res, first_ns, last_ns, attr_keys";

/// Where in time raw rows are read: half-open spans `[from, to)` of nanosecond SQL expressions
/// (bound parameters, or expressions of a refresh), in order.
pub(crate) struct Spans(pub Vec<(String, String)>);

impl Spans {
    /// The condition on a DateTime64 column.
    fn condition(&self, column: &str) -> String {
        self.join(|from, to| {
            format!(
                "{column} >= fromUnixTimestamp64Nano({from}) AND {column} < fromUnixTimestamp64Nano({to})"
            )
        })
    }

    /// The condition on a nanosecond column.
    fn condition_ns(&self, column: &str) -> String {
        self.join(|from, to| format!("{column} >= {from} AND {column} < {to}"))
    }

    fn join(&self, each: impl Fn(&str, &str) -> String) -> String {
        if self.0.is_empty() {
            return "0".into();
        }
        self.0
            .iter()
            .map(|(from, to)| format!("({})", each(from, to)))
            .collect::<Vec<_>>()
            .join(" OR ")
    }
}

/// The SQL of a bucket start for `width` (0: one bucket, 0).
pub(crate) fn bucket(width: i64) -> String {
    if width == 0 {
        "toInt64(0)".into()
    } else {
        format!("intDiv(time_ns, {width}) * {width}")
    }
}

/// The group of a `Dimension` over `events` (`for_events`) or `points` rows.
pub(crate) fn group(dimension: &Dimension, for_events: bool, q: &mut Query) -> String {
    match dimension {
        Dimension::None => "''".into(),
        Dimension::Model => "model".into(),
        Dimension::Type if for_events => "''".into(),
        Dimension::Type => "point_type".into(),
        Dimension::Session => "session_id".into(),
        Dimension::User => "if(user_email != '', user_email, user_id)".into(),
        Dimension::TerminalType => "terminal_type".into(),
        Dimension::Version => "version".into(),
        Dimension::StatusCode if for_events => {
            "if(isNull(status_code), 'no status', toString(status_code))".into()
        }
        Dimension::StatusCode => "''".into(),
        Dimension::Tool => "tool_name".into(),
        Dimension::Attribute(key) => {
            let k = q.bind(key);
            format!("if(mapContains(attrs, {k}), attrs[{k}], res[{k}])")
        }
    }
}
