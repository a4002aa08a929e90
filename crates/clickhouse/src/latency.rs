//! The latency panels' reads on ClickHouse: time to first token per model as histograms (from
//! the exporter's logs, the `ttft_ms` fact of the one table of facts), each tool's run and
//! permission-wait histograms, and the longest prompt spans (from `otel_traces`). The bins are
//! `ccscope_query::latency_bin`'s, so every source gives the same percentiles.
//!
//! On spans the filter's time, session and user apply (as on the SQLite store's `spans`), and a
//! span stored more than once (a re-sent export: the exporter keeps every copy) counts once, its
//! first copy (the store keeps the first and ignores the rest).

use std::collections::BTreeMap;

use ccscope_query::latency::{PromptSpan, ToolHistograms, TtftHistograms};
use ccscope_query::trace::{BLOCKED_ON_USER_SPAN, INTERACTION_SPAN, TOOL_SPAN};
use ccscope_query::{Filter, LATENCY_BINS_PER_OCTAVE, SourceError};
use ccscope_telemetry::facts::Fact;
use serde::Deserialize;

use crate::client::Query;
use crate::source::ClickHouse;
use crate::{facts, sql};

/// A latency bin of `ms` in SQL (as `ccscope_query::latency_bin` computes it).
fn bin_sql(ms: &str) -> String {
    format!(
        "toInt64(round(log2(greatest({ms}, 1)) * {bins}))",
        bins = LATENCY_BINS_PER_OCTAVE
    )
}

/// The filter's conditions on `otel_traces` (columns of `alias`): time of the span's start,
/// session and user.
fn span_conditions(alias: &str, filter: &Filter, q: &mut Query) -> String {
    let mut cond = format!(
        "{alias}.Timestamp >= fromUnixTimestamp64Nano({from}) AND {alias}.Timestamp < fromUnixTimestamp64Nano({to})",
        from = q.bind_i64(filter.from_ns),
        to = q.bind_i64(filter.to_ns),
    );
    if let Some(session) = &filter.session {
        cond.push_str(&format!(
            " AND {alias}.SpanAttributes['session.id'] = {}",
            q.bind(session)
        ));
    }
    if let Some(user) = &filter.user {
        let u = q.bind(user);
        cond.push_str(&format!(
            " AND ({alias}.SpanAttributes['user.id'] = {u} OR {alias}.SpanAttributes['user.email'] = {u})"
        ));
    }
    cond
}

#[derive(Deserialize)]
struct BinRow {
    key: String,
    #[serde(deserialize_with = "crate::lenient::int")]
    b: i64,
    #[serde(deserialize_with = "crate::lenient::int")]
    bin: i64,
    #[serde(deserialize_with = "crate::lenient::int")]
    cnt: u64,
    total: Option<f64>,
}

#[derive(Deserialize)]
struct PromptRow {
    session_id: String,
    span_id: String,
    #[serde(deserialize_with = "crate::lenient::int")]
    start_ns: i64,
    #[serde(deserialize_with = "crate::lenient::int")]
    end_ns: i64,
}

impl ClickHouse {
    pub(crate) fn ttft(
        &self,
        bucket_ns: i64,
        filter: &Filter,
    ) -> Result<TtftHistograms, SourceError> {
        let mut q = Query::default();
        let events = self.raw_events_sql(filter, &mut q)?;
        q.sql = format!(
            "SELECT model AS key, {b} AS b, {bin} AS bin, count() AS cnt, CAST(NULL, 'Nullable(Float64)') AS total
             FROM (SELECT time_ns, model, {ttft} AS ttft FROM ({events}) WHERE name = 'api_request')
             WHERE isNotNull(ttft) GROUP BY key, b, bin",
            b = sql::bucket(bucket_ns),
            bin = bin_sql("ttft"),
            ttft = facts::fact_sql(Fact::TtftMs, "name", "attrs"),
        );
        let mut out: TtftHistograms = BTreeMap::new();
        for row in self.client().all::<BinRow>(&q)? {
            out.entry(row.key)
                .or_default()
                .entry(row.b)
                .or_default()
                .push((row.bin, row.cnt));
        }
        Ok(out)
    }

    pub(crate) fn tools(&self, filter: &Filter) -> Result<ToolHistograms, SourceError> {
        let mut out = ToolHistograms::default();
        let mut q = Query::default();
        let events = self.raw_events_sql(filter, &mut q)?;
        q.sql = format!(
            "SELECT if(tool_name = '', '?', tool_name) AS key, toInt64(0) AS b, {bin} AS bin, count() AS cnt,
                    CAST(NULL, 'Nullable(Float64)') AS total
             FROM ({events}) WHERE name = 'tool_result' AND isNotNull(duration_ms) GROUP BY key, bin",
            bin = bin_sql("duration_ms"),
        );
        for row in self.client().all::<BinRow>(&q)? {
            out.run.entry(row.key).or_default().push((row.bin, row.cnt));
        }
        if !self.has_traces()? {
            return Ok(out);
        }
        let mut q = Query::default();
        let cond = span_conditions("w", filter, &mut q);
        let traces = sql::table(self.config(), &self.config().traces_table);
        q.sql = format!(
            "SELECT multiIf(t.SpanAttributes['tool_name_safe'] != '', t.SpanAttributes['tool_name_safe'],
                            t.SpanAttributes['tool_name'] != '', t.SpanAttributes['tool_name'], '?') AS key,
                    toInt64(0) AS b, {bin} AS bin, count() AS cnt, sum(w.Duration / 1e6) AS total
             FROM (SELECT * FROM {traces} AS w WHERE w.SpanName = '{BLOCKED_ON_USER_SPAN}' AND {cond}
                   ORDER BY w.Timestamp LIMIT 1 BY w.TraceId, w.SpanId) AS w
             INNER JOIN (SELECT TraceId, SpanId, SpanAttributes FROM {traces} WHERE SpanName = '{TOOL_SPAN}'
                         ORDER BY Timestamp LIMIT 1 BY TraceId, SpanId) AS t
                ON t.TraceId = w.TraceId AND t.SpanId = w.ParentSpanId
             GROUP BY key, bin",
            bin = bin_sql("w.Duration / 1e6"),
        );
        for row in self.client().all::<BinRow>(&q)? {
            *out.wait_total_ms.entry(row.key.clone()).or_default() += row.total.unwrap_or(0.0);
            out.wait
                .entry(row.key)
                .or_default()
                .push((row.bin, row.cnt));
        }
        Ok(out)
    }

    pub(crate) fn longest_prompts(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<PromptSpan>, SourceError> {
        if !self.has_traces()? {
            return Ok(Vec::new());
        }
        let mut q = Query::default();
        let cond = span_conditions("p", filter, &mut q);
        q.sql = format!(
            "SELECT p.SpanAttributes['session.id'] AS session_id, p.SpanId AS span_id,
                    toUnixTimestamp64Nano(p.Timestamp) AS start_ns,
                    toInt64(toUnixTimestamp64Nano(p.Timestamp) + toInt64(p.Duration)) AS end_ns
             FROM (SELECT * FROM {traces} AS p WHERE p.SpanName = '{INTERACTION_SPAN}' AND {cond}
                   ORDER BY p.Timestamp LIMIT 1 BY p.TraceId, p.SpanId) AS p
             ORDER BY end_ns - start_ns DESC, start_ns, span_id LIMIT {limit}",
            traces = sql::table(self.config(), &self.config().traces_table),
        );
        Ok(self
            .client()
            .all::<PromptRow>(&q)?
            .into_iter()
            .map(|r| PromptSpan {
                session_id: r.session_id,
                span_id: r.span_id,
                start_ns: r.start_ns,
                end_ns: r.end_ns,
            })
            .collect())
    }
}
