//! The `Source` trait and the one error type that crosses the seam.

use ccscope_telemetry::MetricKind;
use serde::Serialize;

use crate::model::{
    Breakdown, Dimension, EventQuery, EventRow, Filter, GroupUsage, LatencySeries, PointRow,
    Report, SessionSummary, TimeSeries,
};

/// A stable, machine-readable error class: what the API sends as `code` and the CLI maps to
/// its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The question was malformed (a filter, group or range).
    BadRequest,
    /// There is nothing to read yet: no database, or no telemetry tables.
    NoData,
    /// The backend could not be reached.
    Unreachable,
    /// The backend refused our credentials.
    Unauthorized,
    /// The backend answered with an error, or with something we cannot read.
    Backend,
    /// Writing the answer failed (e.g. the reader of a pipe went away).
    Output,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NoData => "no_data",
            ErrorCode::Unreachable => "unreachable",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Backend => "backend",
            ErrorCode::Output => "output",
        }
    }
}

/// Why a query failed. Every message names what failed (a path or a URL without its password)
/// and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NoData(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Backend(String),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl SourceError {
    pub fn code(&self) -> ErrorCode {
        match self {
            SourceError::BadRequest(_) => ErrorCode::BadRequest,
            SourceError::NoData(_) => ErrorCode::NoData,
            SourceError::Unreachable(_) => ErrorCode::Unreachable,
            SourceError::Unauthorized(_) => ErrorCode::Unauthorized,
            SourceError::Backend(_) => ErrorCode::Backend,
            SourceError::Output(_) => ErrorCode::Output,
        }
    }
}

/// Something that answers ccscope's questions about stored telemetry. Implementations push
/// aggregation into their engine: a chart receives at most `MAX_BUCKETS` buckets per group,
/// never raw rows. Methods block; async callers run them on a blocking thread.
pub trait Source: Send {
    /// What this source reads, for messages: a database path, or a URL without its password.
    fn describe(&self) -> String;

    /// Totals over the filter. Cost and tokens come from the metrics for every session that
    /// sent cost or token metrics in the range, and from `api_request` events for the others.
    fn report(&self, filter: &Filter) -> Result<Report, SourceError>;

    /// One summary per session, most recent first.
    fn sessions(&self, filter: &Filter) -> Result<Vec<SessionSummary>, SourceError>;

    /// Events matching the query, oldest first unless `newest_first`, each handed to `each`.
    fn events(
        &self,
        query: &EventQuery,
        each: &mut dyn FnMut(EventRow) -> Result<(), SourceError>,
    ) -> Result<(), SourceError>;

    /// How many events match the query (ignoring its limit and offset).
    fn count_events(&self, query: &EventQuery) -> Result<u64, SourceError>;

    /// Metric points matching the filter, oldest first (cumulative points as deltas).
    fn points(
        &self,
        filter: &Filter,
        each: &mut dyn FnMut(PointRow) -> Result<(), SourceError>,
    ) -> Result<(), SourceError>;

    /// The time of the newest event or metric point, if any.
    fn newest_ns(&self) -> Result<Option<i64>, SourceError>;

    /// True once anything at all has been stored.
    fn has_data(&self) -> Result<bool, SourceError>;

    /// Sum of a metric per bucket and group (metrics only).
    fn metric_series(
        &self,
        metric: MetricKind,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError>;

    /// Cost (or total tokens) per bucket and group, from the metrics for sessions that sent
    /// cost or token metrics in the range and from `api_request` events for the others.
    fn usage_series(
        &self,
        tokens: bool,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError>;

    /// Count of events of `names` per bucket and group; `distinct_sessions` counts sessions
    /// instead of events.
    fn event_series(
        &self,
        names: &[&str],
        group: &Dimension,
        distinct_sessions: bool,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError>;

    /// Sessions active per bucket: distinct session ids seen in events or metrics.
    fn session_series(&self, filter: &Filter) -> Result<TimeSeries, SourceError>;

    /// p50 and p95 of `api_request` durations per bucket.
    fn latency_series(&self, filter: &Filter) -> Result<LatencySeries, SourceError>;

    /// Time to first token (`api_request`'s `ttft_ms`) per model and bucket of `bucket_ns`,
    /// as counts per latency bin (`latency_bin`); one bucket, `0`, when `bucket_ns` is 0.
    fn ttft_histograms(
        &self,
        bucket_ns: i64,
        filter: &Filter,
    ) -> Result<crate::latency::TtftHistograms, SourceError>;

    /// Per tool: run-time bins (`tool_result`'s `duration_ms`), and the permission waits
    /// (`claude_code.tool.blocked_on_user` spans, named by their tool's span) as bins and a
    /// total. On spans the filter's time, session and user apply.
    fn tool_histograms(
        &self,
        filter: &Filter,
    ) -> Result<crate::latency::ToolHistograms, SourceError>;

    /// The `limit` longest `claude_code.interaction` spans starting in the range, longest
    /// first (the filter's time, session and user apply).
    fn prompt_spans(
        &self,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<crate::latency::PromptSpan>, SourceError>;

    /// Per tool: results, successes, failures and mean duration (from `tool_result`).
    fn tool_breakdown(&self, filter: &Filter) -> Result<Vec<Breakdown>, SourceError>;

    /// Edit decisions by `tool_name` or `language`: key -> (accepted, rejected), most
    /// decisions first.
    fn decision_breakdown(
        &self,
        by_language: bool,
        filter: &Filter,
    ) -> Result<Vec<(String, f64, f64)>, SourceError>;

    /// Distinct active users (e-mail, else `user.id`) per bucket of `bucket_ns` and group,
    /// seen in events or metrics: daily and weekly active users, adoption by terminal or
    /// version.
    fn active_users(
        &self,
        bucket_ns: i64,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<TimeSeries, SourceError>;

    /// Per group: users, sessions, prompts, lines and edit decisions (not cost or tokens: see
    /// `usage_by`), in no particular order.
    fn group_activity(
        &self,
        group: &Dimension,
        filter: &Filter,
    ) -> Result<Vec<GroupUsage>, SourceError>;

    /// The spans (Claude Code's beta traces) of the filter's session that start in its range,
    /// in start order.
    fn spans(&self, filter: &Filter) -> Result<Vec<crate::SpanRow>, SourceError>;

    /// Per group: activity, cost and tokens (from metrics, else `api_request` events, as
    /// everywhere), highest cost first.
    fn usage_by(&self, group: &Dimension, filter: &Filter) -> Result<Vec<GroupUsage>, SourceError> {
        usage_by_parts(self, group, filter)
    }
}

/// Cost and tokens of the points (and, for sessions without usage metrics, the `api_request`
/// events) that carry one value of an attribute; `value` is `None` for those without it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AttributeUsage {
    pub value: Option<String>,
    pub cost_usd: f64,
    pub tokens: crate::Tokens,
}

fn tokens_by_type(series: &TimeSeries) -> crate::Tokens {
    let mut tokens = crate::Tokens::default();
    for (kind, total) in series.totals() {
        if let Some(kind) = ccscope_telemetry::TokenType::parse(&kind) {
            tokens.add_type(kind, total);
        }
    }
    tokens
}

/// Where the money went: cost and tokens split by the values of attribute `key` (a point's or
/// an event's own attribute, else its resource's: `query_source`, `agent.name`, `skill.name`,
/// `mcp_server.name`, `effort`, `vcs.repository.name`, `department`, …), as every source
/// answers `usage_series`. The rows add up to the filter's totals; what lacks the key is the
/// row whose `value` is `None`. Highest cost first.
pub fn usage_by_attribute<S: Source + ?Sized>(
    source: &S,
    key: &str,
    filter: &Filter,
) -> Result<Vec<AttributeUsage>, SourceError> {
    let group = Dimension::Attribute(key.to_owned());
    let cost = source.usage_series(false, &group, filter)?.totals();
    let tokens = source.usage_series(true, &group, filter)?.totals();
    let all = tokens_by_type(&source.usage_series(true, &Dimension::Type, filter)?);
    let values: std::collections::BTreeSet<&String> = cost
        .keys()
        .chain(tokens.keys())
        .filter(|v| !v.is_empty())
        .collect();
    let mut named = crate::Tokens::default();
    let mut rows = Vec::new();
    for value in values {
        let mut only = filter.clone();
        only.attributes.push((key.to_owned(), value.clone()));
        let by_type = tokens_by_type(&source.usage_series(true, &Dimension::Type, &only)?);
        named.add(&by_type);
        rows.push(AttributeUsage {
            value: Some(value.clone()),
            cost_usd: cost.get(value).copied().unwrap_or(0.0),
            tokens: by_type,
        });
    }
    // What lacks the key: the cost grouped under no value, the tokens left over.
    let rest = |all: f64, named: f64| {
        let left = all - named;
        if left.abs() < 1e-9 * all.abs().max(1.0) {
            0.0
        } else {
            left
        }
    };
    let missing = AttributeUsage {
        value: None,
        cost_usd: cost.get("").copied().unwrap_or(0.0),
        tokens: crate::Tokens {
            input: rest(all.input, named.input),
            output: rest(all.output, named.output),
            cache_read: rest(all.cache_read, named.cache_read),
            cache_creation: rest(all.cache_creation, named.cache_creation),
        },
    };
    if missing.cost_usd != 0.0 || missing.tokens.total() != 0.0 {
        rows.push(missing);
    }
    rows.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then_with(|| a.value.cmp(&b.value))
    });
    Ok(rows)
}

/// Cost alone split by the values of attribute `key`, in one query (what `usage_by_attribute`
/// gives without the tokens, for panels that rank spend): highest first, what lacks the key
/// under `None`. The rows add up to the filter's cost.
pub fn cost_by_attribute<S: Source + ?Sized>(
    source: &S,
    key: &str,
    filter: &Filter,
) -> Result<Vec<(Option<String>, f64)>, SourceError> {
    let group = Dimension::Attribute(key.to_owned());
    let mut rows: Vec<(Option<String>, f64)> = source
        .usage_series(false, &group, filter)?
        .totals()
        .into_iter()
        .filter(|(_, cost)| *cost != 0.0)
        .map(|(value, cost)| ((!value.is_empty()).then_some(value), cost))
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows)
}

/// One session's spans as one tree per prompt, each prompt found through the events joined to
/// its spans (`api_request`'s `request_id`, `user_prompt`'s time), with its time split.
pub fn session_trace<S: Source + ?Sized>(
    source: &S,
    session: &str,
    filter: &Filter,
) -> Result<crate::SessionTrace, SourceError> {
    let filter = Filter {
        session: Some(session.to_owned()),
        ..filter.clone()
    };
    let spans = source.spans(&filter)?;
    let mut events = crate::trace::PromptEvents::default();
    source.events(
        &crate::EventQuery {
            filter,
            names: vec!["api_request".into(), "user_prompt".into()],
            ..crate::EventQuery::default()
        },
        &mut |event| {
            if let Some(prompt) = event.prompt_id {
                if let Some(request) = event.request_id {
                    events.prompt_of_request.insert(request, prompt.clone());
                }
                if event.name == "user_prompt" {
                    events.prompts_at.push((event.time_ns, prompt));
                }
            }
            Ok(())
        },
    )?;
    Ok(crate::trace::build(session, spans, &events))
}

/// `Source::usage_by` from the parts every source has (`group_activity` and the cost and
/// token series); a source may answer it in fewer queries.
pub fn usage_by_parts<S: Source + ?Sized>(
    source: &S,
    group: &Dimension,
    filter: &Filter,
) -> Result<Vec<GroupUsage>, SourceError> {
    let activity = source.group_activity(group, filter)?;
    let cost = source.usage_series(false, group, filter)?;
    let tokens = source.usage_series(true, group, filter)?;
    Ok(usage_rows(activity, &cost, &tokens))
}

/// The rows of `Source::usage_by`: each group's activity with the totals of its cost and token
/// series added (a group with usage and no activity gets a row too), highest cost first.
pub fn usage_rows(
    activity: Vec<GroupUsage>,
    cost: &TimeSeries,
    tokens: &TimeSeries,
) -> Vec<GroupUsage> {
    let mut rows: std::collections::BTreeMap<String, GroupUsage> =
        activity.into_iter().map(|g| (g.key.clone(), g)).collect();
    for (is_tokens, series) in [(false, cost), (true, tokens)] {
        for (key, total) in series.totals() {
            let row = rows.entry(key.clone()).or_insert_with(|| GroupUsage {
                key,
                ..GroupUsage::default()
            });
            if is_tokens {
                row.tokens += total;
            } else {
                row.cost_usd += total;
            }
        }
    }
    let mut out: Vec<GroupUsage> = rows.into_values().collect();
    sort_usage(&mut out);
    out
}

/// A report's `by_model` from cost and tokens per model (`(cost, tokens)`): named models
/// only, highest cost first (`sort_models`). Every source finishes its report with this.
pub fn models_by_cost(
    by_model: impl IntoIterator<Item = (String, (f64, f64))>,
) -> Vec<crate::ModelUsage> {
    let mut models: Vec<crate::ModelUsage> = by_model
        .into_iter()
        .filter(|(model, _)| !model.is_empty())
        .map(|(model, (cost_usd, tokens))| crate::ModelUsage {
            model,
            cost_usd,
            tokens,
        })
        .collect();
    sort_models(&mut models);
    models
}

/// Highest cost first, then by name: the order of a report's `by_model`.
pub fn sort_models(models: &mut [crate::ModelUsage]) {
    models.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then_with(|| a.model.cmp(&b.model))
    });
}

/// Highest cost first, then most sessions, then by name: the order of `usage_by`.
pub fn sort_usage(rows: &mut [GroupUsage]) {
    rows.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then_with(|| b.sessions.cmp(&a.sessions))
            .then_with(|| a.key.cmp(&b.key))
    });
}
