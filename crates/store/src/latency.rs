//! The latency panels' reads on SQLite: time to first token per model as histograms, each
//! tool's run and permission-wait histograms, and the longest prompt spans (the percentiles and
//! the prompts' splits are computed by `ccscope_query::latency`, alike for every source).
//!
//! Spans carry no model and no resource row here: on them the filter's time, session and user
//! apply (as on ClickHouse's `otel_traces`).

use std::collections::BTreeMap;

use ccscope_query::Filter;
use ccscope_query::latency::{PromptSpan, ToolHistograms, TtftHistograms};
use ccscope_query::trace::{BLOCKED_ON_USER_SPAN, INTERACTION_SPAN, TOOL_SPAN};
use rusqlite::{params_from_iter, types::Value as SqlValue};

use crate::sql::FilterSql;
use crate::{Reader, StoreError};

/// A latency bin of `ms` in SQL (as `ccscope_query::latency_bin` computes it).
fn bin_sql(ms: &str) -> String {
    format!("ccscope_latency_bin({ms})")
}

/// The filter's conditions on `spans` aliased `alias`: time (of the span's start), session
/// and user.
fn span_conditions(alias: &str, filter: &Filter) -> (String, Vec<SqlValue>) {
    let mut sql = format!("{alias}.start_ns >= ? AND {alias}.start_ns < ?");
    let mut args = vec![
        SqlValue::Integer(filter.from_ns),
        SqlValue::Integer(filter.to_ns),
    ];
    if let Some(session) = &filter.session {
        sql.push_str(&format!(" AND {alias}.session_id = ?"));
        args.push(SqlValue::Text(session.clone()));
    }
    if let Some(user) = &filter.user {
        sql.push_str(&format!(
            " AND ({alias}.user_id = ? OR json_extract({alias}.attributes, '$.\"user.email\"') = ?)"
        ));
        args.push(SqlValue::Text(user.clone()));
        args.push(SqlValue::Text(user.clone()));
    }
    (sql, args)
}

impl Reader {
    /// Time to first token (`api_request`'s `ttft_ms`) per model and bucket, per latency bin.
    pub fn ttft_histograms(
        &self,
        bucket_ns: i64,
        filter: &Filter,
    ) -> Result<TtftHistograms, StoreError> {
        let (cond, args) = filter.sql("e", "e.time_ns")?;
        let bucket = if bucket_ns == 0 {
            "0".to_owned()
        } else {
            format!("e.time_ns - (e.time_ns % {bucket_ns})")
        };
        let sql = format!(
            "SELECT {bucket}, COALESCE(e.model, ''), {bin}, COUNT(*)
             FROM events e
             WHERE e.name = 'api_request' AND e.ttft_ms IS NOT NULL AND {cond}
             GROUP BY 1, 2, 3",
            bin = bin_sql("e.ttft_ms"),
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        let mut out: TtftHistograms = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let (bucket, model, bin, n): (i64, String, i64, i64) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            out.entry(model)
                .or_default()
                .entry(bucket)
                .or_default()
                .push((bin, n as u64));
        }
        Ok(out)
    }

    /// Per tool: run-time bins (`tool_result`'s `duration_ms`), and the permission waits
    /// (`claude_code.tool.blocked_on_user` spans, named by their tool's span) as bins and a
    /// total.
    pub fn tool_histograms(&self, filter: &Filter) -> Result<ToolHistograms, StoreError> {
        let mut out = ToolHistograms::default();
        let (cond, args) = filter.sql("e", "e.time_ns")?;
        let sql = format!(
            "SELECT COALESCE(e.tool_name, '?'), {bin}, COUNT(*)
             FROM events e
             WHERE e.name = 'tool_result' AND e.duration_ms IS NOT NULL AND {cond}
             GROUP BY 1, 2",
            bin = bin_sql("e.duration_ms"),
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            let (tool, bin, n): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            out.run.entry(tool).or_default().push((bin, n as u64));
        }
        let (cond, args) = span_conditions("w", filter);
        let sql = format!(
            "SELECT COALESCE(json_extract(t.attributes, '$.tool_name_safe'),
                             json_extract(t.attributes, '$.tool_name'), '?') AS tool,
                    {bin}, COUNT(*), SUM((w.end_ns - w.start_ns) / 1e6)
             FROM spans w JOIN spans t ON t.trace_id = w.trace_id AND t.span_id = w.parent_span_id
             WHERE w.name = '{BLOCKED_ON_USER_SPAN}' AND t.name = '{TOOL_SPAN}' AND {cond}
             GROUP BY 1, 2",
            bin = bin_sql("(w.end_ns - w.start_ns) / 1e6"),
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            let (tool, bin, n, total): (String, i64, i64, f64) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            *out.wait_total_ms.entry(tool.clone()).or_default() += total;
            out.wait.entry(tool).or_default().push((bin, n as u64));
        }
        Ok(out)
    }

    /// The `limit` longest prompt spans starting in the range, longest first.
    pub fn prompt_spans(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<PromptSpan>, StoreError> {
        let (cond, mut args) = span_conditions("p", filter);
        args.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT p.session_id, p.span_id, p.start_ns, p.end_ns FROM spans p
             WHERE p.name = '{INTERACTION_SPAN}' AND {cond}
             ORDER BY p.end_ns - p.start_ns DESC, p.start_ns, p.span_id LIMIT ?"
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok(PromptSpan {
                session_id: r.get(0)?,
                span_id: r.get(1)?,
                start_ns: r.get(2)?,
                end_ns: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
