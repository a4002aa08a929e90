//! The SQL every read shares: a filter's and a group's conditions and expressions over the
//! store's tables, where an event's attributes live (its JSON text or a column), and the SQL
//! functions the queries use. No query runs here.

use ccscope_query::{Dimension, EventQuery, Filter, latency_bin};
use rusqlite::types::Value as SqlValue;

use crate::StoreError;
use crate::prepare::{
    EVENT_COLUMN_KEYS, FORM_INTEGER, FORM_NATIVE, FORM_TEXT, FactColumn, MOVED_KEYS,
};

/// Events keep some attributes in columns only (`prepare::EVENT_COLUMN_KEYS` and
/// `prepare::MOVED_KEYS`): the SQL for the column that may hold attribute `key` of an event row
/// `e`, or `None` when only the JSON text can.
pub(crate) fn event_column_sql(key: &str) -> Option<String> {
    if let Some((_, column)) = EVENT_COLUMN_KEYS.iter().find(|(k, _)| *k == key) {
        return Some(format!("e.{column}"));
    }
    MOVED_KEYS
        .iter()
        .position(|(k, _, _)| *k == key)
        .map(moved_value_sql)
}

/// SQL for the text an attribute filter compares for `MOVED_KEYS[index]` of an event row `e`
/// whose JSON text left it out: the column, rendered as `json_extract` would have rendered the
/// value as sent (NULL when the row did not move it).
fn moved_value_sql(index: usize) -> String {
    let (_, column, kind) = MOVED_KEYS[index];
    let column = format!("e.{column}");
    let text = match kind {
        FactColumn::Text => column.clone(),
        FactColumn::Integer => format!("CAST({column} AS TEXT)"),
        FactColumn::Real => format!(
            "CASE WHEN {column} = CAST({column} AS INTEGER) THEN CAST(CAST({column} AS INTEGER) AS TEXT)
                  ELSE CAST({column} AS TEXT) END"
        ),
        FactColumn::Boolean => format!("CASE {column} WHEN 1 THEN 'true' ELSE 'false' END"),
    };
    format!(
        "(CASE (e.moved >> {shift}) & 3 WHEN {FORM_TEXT} THEN {text}
              WHEN {FORM_INTEGER} THEN CAST(CAST({column} AS INTEGER) AS TEXT)
              WHEN {FORM_NATIVE} THEN CAST({column} AS TEXT) END)",
        shift = 2 * index
    )
}

/// ` AND ` the events aliased `alias` are the session bound twice after it: by its key for
/// the events written since migration 7 (`events_by_session_key`), by its text for those from
/// before, whose key is NULL (`events_by_session`, partial). SQLite answers the OR from both
/// indexes (EXPLAIN QUERY PLAN: MULTI-INDEX OR).
pub(crate) fn event_session_condition(alias: &str) -> String {
    format!(
        " AND ({alias}.session_key = (SELECT id FROM sessions WHERE session_id = ?) \
         OR ({alias}.session_key IS NULL AND {alias}.session_id = ?))"
    )
}

/// A filter's SQL on SQLite.
pub(crate) trait FilterSql {
    fn sql(&self, alias: &str, time: &str) -> Result<(String, Vec<SqlValue>), StoreError>;
    fn conditions(&self, alias: &str) -> Result<(String, Vec<SqlValue>), StoreError>;
}

impl FilterSql for Filter {
    /// Builds the SQL condition for a table aliased `alias` (`s` is `series`) with the shared
    /// column names (`session_id`, `user_id`, `user_email`, `model`, `model_base`,
    /// `attributes`, `resource_id`), and the time expression given (e.g. `p.time_ns`).
    fn sql(&self, alias: &str, time: &str) -> Result<(String, Vec<SqlValue>), StoreError> {
        let (conditions, mut args) = self.conditions(alias)?;
        let mut all = vec![
            SqlValue::Integer(self.from_ns),
            SqlValue::Integer(self.to_ns),
        ];
        all.append(&mut args);
        Ok((format!("{time} >= ? AND {time} < ?{conditions}"), all))
    }

    /// The filter's conditions other than time, each starting with ` AND `.
    fn conditions(&self, alias: &str) -> Result<(String, Vec<SqlValue>), StoreError> {
        let mut sql = String::new();
        let mut args = Vec::new();
        if let Some(session) = &self.session {
            if alias == "s" {
                // Series are found by session through their key (`series_by_key`).
                sql.push_str(" AND s.session_key = (SELECT id FROM sessions WHERE session_id = ?)");
            } else {
                sql.push_str(&event_session_condition(alias));
                args.push(SqlValue::Text(session.clone()));
            }
            args.push(SqlValue::Text(session.clone()));
        }
        if let Some(user) = &self.user {
            sql.push_str(&format!(
                " AND ({alias}.user_id = ? OR {alias}.user_email = ?)"
            ));
            args.push(SqlValue::Text(user.clone()));
            args.push(SqlValue::Text(user.clone()));
        }
        if let Some(model) = &self.model {
            sql.push_str(&format!(
                " AND ({alias}.model = ? OR {alias}.model_base = ?)"
            ));
            args.push(SqlValue::Text(model.clone()));
            args.push(SqlValue::Text(model.clone()));
        }
        // The one check every source makes (`ccscope_query::Filter::check`).
        self.check()
            .map_err(|e| StoreError::BadFilter(e.to_string()))?;
        for (key, value) in &self.attributes {
            let path = format!("$.\"{key}\"");
            if alias == "e"
                && let Some(column) = event_column_sql(key)
            {
                sql.push_str(&format!(
                    " AND (CAST(COALESCE(json_extract(e.attributes, ?), {column}) AS TEXT) = ?
                           OR CAST(json_extract((SELECT r.attributes FROM resources r
                                                 WHERE r.id = e.resource_id), ?) AS TEXT) = ?)"
                ));
                args.extend([
                    SqlValue::Text(path.clone()),
                    SqlValue::Text(value.clone()),
                    SqlValue::Text(path),
                    SqlValue::Text(value.clone()),
                ]);
                continue;
            }
            sql.push_str(&format!(
                " AND (CAST(json_extract({alias}.attributes, ?) AS TEXT) = ?
                       OR CAST(json_extract((SELECT r.attributes FROM resources r
                                             WHERE r.id = {alias}.resource_id), ?) AS TEXT) = ?)"
            ));
            args.extend([
                SqlValue::Text(path.clone()),
                SqlValue::Text(value.clone()),
                SqlValue::Text(path),
                SqlValue::Text(value.clone()),
            ]);
        }
        Ok((sql, args))
    }
}

/// The SQL condition of an event listing on the events table `e`.
pub(crate) fn event_condition(query: &EventQuery) -> Result<(String, Vec<SqlValue>), StoreError> {
    let (mut cond, mut args) = query.filter.sql("e", "e.time_ns")?;
    if !query.names.is_empty() {
        // A session's events are few: with a session, its index must lead, not the names'
        // (which would walk every event of those names in the range; `+` keeps SQLite off it).
        let name = if query.filter.session.is_some() {
            "+e.name"
        } else {
            "e.name"
        };
        cond.push_str(&format!(
            " AND {name} IN ({})",
            vec!["?"; query.names.len()].join(", ")
        ));
        args.extend(query.names.iter().map(|n| SqlValue::Text(n.clone())));
    }
    if let Some(search) = &query.search {
        // The identity and fact columns are searched too: the JSON text leaves out what
        // they hold.
        cond.push_str(
            " AND instr(lower(e.attributes || ' ' || e.session_id || ' ' || COALESCE(e.prompt_id, '')
                             || ' ' || COALESCE(e.user_id, '') || ' ' || COALESCE(e.user_email, '')
                             || ' ' || e.name || ' ' || COALESCE(e.model, '')
                             || ' ' || COALESCE(e.request_id, '') || ' ' || COALESCE(e.tool_name, '')
                             || ' ' || COALESCE(e.tool_use_id, '') || ' ' || COALESCE(e.decision, '')
                             || ' ' || COALESCE(e.error, '')),
                        lower(?)) > 0",
        );
        args.push(SqlValue::Text(search.clone()));
    }
    Ok((cond, args))
}

/// A group's SQL on SQLite.
pub(crate) trait DimensionSql {
    fn sql(&self, alias: &str) -> String;
}

impl DimensionSql for Dimension {
    /// The SQL expression of the group for a table aliased `alias` (`s` series, `e` events).
    fn sql(&self, alias: &str) -> String {
        let type_expr = if alias == "s" { "s.point_type" } else { "NULL" };
        match self {
            Dimension::None => "''".into(),
            Dimension::Model => format!("COALESCE({alias}.model, '')"),
            Dimension::Type => format!("COALESCE({type_expr}, '')"),
            Dimension::Session => format!("{alias}.session_id"),
            Dimension::User => format!("COALESCE({alias}.user_email, {alias}.user_id, '')"),
            Dimension::TerminalType => format!("COALESCE({alias}.terminal_type, '')"),
            Dimension::StatusCode if alias == "e" => {
                "COALESCE(CAST(e.status_code AS TEXT), 'no status')".into()
            }
            Dimension::Tool if alias == "e" => "COALESCE(e.tool_name, '')".into(),
            Dimension::StatusCode => "''".into(),
            Dimension::Tool => "COALESCE(json_extract(s.attributes, '$.tool_name'), '')".into(),
            Dimension::Version => format!(
                "COALESCE({alias}.app_version, (SELECT json_extract(r.attributes, '$.\"service.version\"') FROM resources r WHERE r.id = {alias}.resource_id), '')"
            ),
            Dimension::Attribute(key)
                if alias == "e"
                    && let Some(column) = event_column_sql(key) =>
            {
                format!(
                    "COALESCE(CAST(json_extract(e.attributes, '$.\"{key}\"') AS TEXT), CAST({column} AS TEXT), (SELECT CAST(json_extract(r.attributes, '$.\"{key}\"') AS TEXT) FROM resources r WHERE r.id = e.resource_id), '')"
                )
            }
            Dimension::Attribute(key) => format!(
                "COALESCE(CAST(json_extract({alias}.attributes, '$.\"{key}\"') AS TEXT), (SELECT CAST(json_extract(r.attributes, '$.\"{key}\"') AS TEXT) FROM resources r WHERE r.id = {alias}.resource_id), '')"
            ),
        }
    }
}

/// SQL functions the queries use that SQLite does not build in: `ccscope_latency_bin(ms)`, the
/// log-scale histogram bin of a duration.
pub(crate) fn register_functions(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "ccscope_latency_bin",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(latency_bin(ctx.get::<Option<f64>>(0)?.unwrap_or(1.0))),
    )?;
    Ok(())
}
