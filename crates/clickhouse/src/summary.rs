//! The session-hour summary: one row per hour, session and the session's identity (user,
//! e-mail, terminal, version, resource attributes) holding everything the overview, the fleet
//! tables and active users need — metric sums, the `api_request` usage of events for sessions
//! without usage metrics, event counts per name, cost and tokens per model. A month of a
//! 1,000-developer fleet is ~0.4M such rows against ~13M hourly rollup rows, which is what
//! brings those views within a second.
//!
//! The same SQL (`rows`) makes the rows from any `sql::events` / `sql::points` rows: the
//! table's steps make them from the hourly rollups (`rollup`), a reader from the raw edges of
//! its range. A reader asks the summary only when it can answer exactly (`ClickHouse::plan`):
//! no model filter, groups that are constant within a session (user, terminal, version,
//! session, resource attribute) and whole-hour buckets.

use crate::config::Config;
use crate::sql::{self, USAGE_METRICS};

/// The summary table and its view.
pub const TABLE: &str = "ccscope_sessions_hourly";
pub(crate) const VIEW: &str = "ccscope_sessions_hourly_refresh";

const MAP: &str = "Map(LowCardinality(String), Float64)";

/// The identity columns of a summary row, in order.
const IDENTITY: &str = "time_ns, session_id, user_id, user_email, terminal_type, version, res";
/// Its measures, in order (after the identity).
const MEASURES: &str = "cost, tokens, input, output, cache_read, cache_creation, metered, lines_added, lines_removed, commits, pull_requests, active_user, active_cli, accepted, rejected, session_count, model_cost, model_tokens, events, ev_cost, ev_input, ev_output, ev_cache_read, ev_cache_creation, ev_model_cost, ev_model_tokens";

/// The columns the table's INSERTs name.
pub(crate) fn columns() -> String {
    format!("{}, mark", columns_without_mark())
}

/// The identity and measure columns.
pub(crate) fn columns_without_mark() -> String {
    format!("{IDENTITY}, {MEASURES}")
}

pub(crate) fn ddl(config: &Config) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            time_ns Int64, session_id String, user_id String, user_email String,
            terminal_type LowCardinality(String), version LowCardinality(String),
            res Map(LowCardinality(String), String),
            cost Float64, tokens Float64, input Float64, output Float64, cache_read Float64,
            cache_creation Float64, metered UInt8, lines_added Float64, lines_removed Float64,
            commits Float64, pull_requests Float64, active_user Float64, active_cli Float64,
            accepted Float64, rejected Float64, session_count Float64,
            model_cost {MAP}, model_tokens {MAP}, events {MAP},
            ev_cost Float64, ev_input Float64, ev_output Float64, ev_cache_read Float64,
            ev_cache_creation Float64, ev_model_cost {MAP}, ev_model_tokens {MAP},
            mark Int64
         ) ENGINE = MergeTree
         PARTITION BY toYYYYMM(fromUnixTimestamp64Nano(time_ns, 'UTC'))
         ORDER BY (mark, time_ns, session_id)",
        table = sql::table(config, TABLE)
    )
}

/// A one-entry map of `key` to `value` where `cond` holds, else an empty one.
fn map_if(cond: &str, key: &str, value: &str) -> String {
    format!(
        "CAST(if({cond}, map({key}, toFloat64({value})), CAST(map(), 'Map(String, Float64)')), '{MAP}')"
    )
}

fn is_map(measure: &str) -> bool {
    measure.ends_with("model_cost") || measure.ends_with("model_tokens") || measure == "events"
}

/// `expr` as the column type of `measure`, named `_<measure>` (so that it never shadows a
/// column of the rows it is computed from, such as the events' `cost`).
fn typed(measure: &str, expr: &str) -> String {
    match measure {
        "metered" => format!("toUInt8({expr}) AS _{measure}"),
        m if is_map(m) => format!("{expr} AS _{measure}"),
        _ => format!("toFloat64({expr}) AS _{measure}"),
    }
}

/// Summary rows (`g`, then the table's identity and measures) of the `events` and `points`
/// rows (`sql::EVENT_COLUMNS`, `sql::POINT_COLUMNS`), with `g_events` / `g_points` a group
/// computed from those rows and kept apart (`''` for the table).
pub(crate) fn rows(events: &str, points: &str, g_events: &str, g_points: &str) -> String {
    let metric = |name: &str| format!("metric = 'claude_code.{name}'");
    let of = |cond: String| format!("if({cond}, value, 0)");
    let typed_point =
        |name: &str, ty: &str| of(format!("{} AND point_type = '{ty}'", metric(name)));
    let decision = |d: &str| {
        of(format!(
            "{} AND decision = '{d}'",
            metric("code_edit_tool.decision")
        ))
    };
    let api = |column: &str| format!("if(name = 'api_request', {column}, 0)");
    let api_tokens = "input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens";
    let empty = format!("CAST(map(), '{MAP}')");
    // Each measure from points, and from events.
    let measures: [(&str, String, String); 26] = [
        ("cost", of(metric("cost.usage")), "0".into()),
        ("tokens", of(metric("token.usage")), "0".into()),
        ("input", typed_point("token.usage", "input"), "0".into()),
        ("output", typed_point("token.usage", "output"), "0".into()),
        (
            "cache_read",
            typed_point("token.usage", "cacheRead"),
            "0".into(),
        ),
        (
            "cache_creation",
            typed_point("token.usage", "cacheCreation"),
            "0".into(),
        ),
        (
            "metered",
            format!("metric IN ({USAGE_METRICS})"),
            "0".into(),
        ),
        (
            "lines_added",
            typed_point("lines_of_code.count", "added"),
            "0".into(),
        ),
        (
            "lines_removed",
            typed_point("lines_of_code.count", "removed"),
            "0".into(),
        ),
        ("commits", of(metric("commit.count")), "0".into()),
        (
            "pull_requests",
            of(metric("pull_request.count")),
            "0".into(),
        ),
        (
            "active_user",
            typed_point("active_time.total", "user"),
            "0".into(),
        ),
        (
            "active_cli",
            typed_point("active_time.total", "cli"),
            "0".into(),
        ),
        ("accepted", decision("accept"), "0".into()),
        ("rejected", decision("reject"), "0".into()),
        ("session_count", of(metric("session.count")), "0".into()),
        (
            "model_cost",
            map_if(&metric("cost.usage"), "model", "value"),
            empty.clone(),
        ),
        (
            "model_tokens",
            map_if(&metric("token.usage"), "model", "value"),
            empty.clone(),
        ),
        ("events", empty.clone(), map_if("1", "name", "n")),
        ("ev_cost", "0".into(), api("cost")),
        ("ev_input", "0".into(), api("input_tokens")),
        ("ev_output", "0".into(), api("output_tokens")),
        ("ev_cache_read", "0".into(), api("cache_read_tokens")),
        (
            "ev_cache_creation",
            "0".into(),
            api("cache_creation_tokens"),
        ),
        (
            "ev_model_cost",
            empty.clone(),
            map_if("name = 'api_request'", "model", "cost"),
        ),
        (
            "ev_model_tokens",
            empty,
            map_if("name = 'api_request'", "model", api_tokens),
        ),
    ];
    let side = |points: bool| {
        measures
            .iter()
            .map(|(m, p, e)| typed(m, if points { p } else { e }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sums = measures
        .iter()
        .map(|(m, _, _)| match *m {
            "metered" => "max(_metered) AS metered".to_owned(),
            m if is_map(m) => format!("CAST(sumMap(_{m}), '{MAP}') AS {m}"),
            m => format!("sum(_{m}) AS {m}"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let hour = ccscope_query::HOUR_NS;
    format!(
        "SELECT g, hour AS time_ns, session_id, user_id, user_email, terminal_type, version,
                any(res) AS res, {sums}
         FROM (
            SELECT {g_points} AS g, intDiv(time_ns, {hour}) * {hour} AS hour, session_id,
                   user_id, user_email, terminal_type, version, res, cityHash64(res) AS res_hash,
                   {points_side}
            FROM ({points})
            UNION ALL
            SELECT {g_events} AS g, intDiv(time_ns, {hour}) * {hour} AS hour, session_id,
                   user_id, user_email, terminal_type, version, res, cityHash64(res) AS res_hash,
                   {events_side}
            FROM ({events}))
         GROUP BY g, hour, session_id, user_id, user_email, terminal_type, version, res_hash",
        points_side = side(true),
        events_side = side(false),
    )
}

/// The table's rows of `[from, to)` (whole hours) matching `cond` (`sql::rollup_conditions`
/// without a model), as `rows` gives them, with the group `g` computed from their columns.
pub(crate) fn stored(config: &Config, g: &str, cond: &str, from: &str, to: &str) -> String {
    format!(
        "SELECT {g} AS g, {IDENTITY}, {MEASURES} FROM {table}
         WHERE mark = 0 AND time_ns >= {from} AND time_ns < {to}{cond}",
        table = sql::table(config, TABLE)
    )
}

/// The mark row of a step ending at `e`.
pub(crate) fn mark_row(e: &str) -> String {
    let zeros = MEASURES
        .split(", ")
        .map(|n| match n {
            "metered" => "toUInt8(0)".to_owned(),
            n if is_map(n) => format!("CAST(map(), '{MAP}')"),
            _ => "toFloat64(0)".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {e}, '', '', '', '', '', CAST(map(), 'Map(LowCardinality(String), String)'), {zeros}, {e}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_give_the_measures_in_the_tables_order() {
        let sql = rows("E", "P", "''", "''");
        let mut at = 0;
        for m in MEASURES.split(", ") {
            let found = sql[at..]
                .find(&format!(" AS {m},"))
                .or_else(|| sql[at..].find(&format!(" AS {m}\n")))
                .unwrap_or_else(|| panic!("{m} out of order"));
            at += found;
        }
    }
}
