//! The UI's JSON API, chart SVGs, live feed (Server-Sent Events) and the embedded web UI.
//! Every route sits behind `guard::check`. Queries run on blocking threads with their own
//! read-only connection, so the API never slows the writer.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::{
    Json, Router,
    extract::{Path, RawQuery, State},
    http::{StatusCode, header},
    middleware,
    response::{IntoResponse, Response, sse},
    routing::{get, post},
};
use ccscope_charts::{BarChart, Size, Theme, Unit};
use ccscope_query::{Dimension, EventQuery, Filter, TimeSeries};
use ccscope_store::Committed;
use ccscope_telemetry::MetricKind;
use tokio::sync::broadcast;
use tokio_stream::StreamExt as _;

use crate::charts::time_chart_from;
use crate::dto::{
    BudgetInfo, EventDoc, EventPage, FleetInfo, FleetRow, LiveCommit, Overview, PromptGroup,
    ReceiverInfo, RefusalDoc, RequestRef, SessionDoc, SessionList, SourceInfo, Timeline,
    TimelineEvent, ToolDecision, Totals, rfc3339, usd,
};
use crate::export;
use crate::guard::{self, Guard};
use crate::params::{Params, bad};
use crate::source::{DataSource, SavedSource};
use crate::state::query;
pub use crate::state::{ApiError, ApiState};

const DAY_NS: i64 = 86_400_000_000_000;

/// Longest page of events the API returns at once.
pub const MAX_EVENT_PAGE: usize = 1000;
/// The live feed sends at most one message per this interval, coalescing commits.
pub const LIVE_COALESCE: Duration = Duration::from_millis(250);
/// Messages a live client may fall behind before it is sent a "reload everything" message.
const LIVE_CLIENT_BUFFER: usize = 16;

/// The router of the UI listener.
pub fn router(state: ApiState, guard: Guard) -> Router {
    Router::new()
        .route("/api/overview", get(overview))
        .route("/api/charts/{name}", get(chart))
        .route("/api/events", get(events))
        .route("/api/events/export", get(export_events))
        .route("/api/sessions", get(sessions))
        .route("/api/fleet", get(fleet))
        .route("/api/attribution", get(crate::attribution::attribution))
        .route("/api/latency", get(crate::latency::latency))
        .route("/api/source", get(source_get).post(source_set))
        .route("/api/sessions/{id}/timeline", get(timeline))
        .route("/api/sessions/{id}/trace", get(crate::waterfall::trace))
        .route("/api/receiver", get(receiver))
        .route("/api/stream", get(stream))
        .route(
            "/api/setup",
            get(crate::setup::preview).post(crate::setup::apply),
        )
        .route("/api/report", get(usage_report))
        .route("/api/budgets", get(budgets_get).post(budgets_set))
        .route("/api/settings", get(crate::managed::state))
        .route("/api/settings/schema", get(crate::managed::schema))
        .route(
            "/api/settings/preview",
            post(crate::managed::preview_document),
        )
        .route("/api/settings/apply", post(crate::managed::apply))
        .route("/api/settings/export", post(crate::managed::export))
        .route("/api/settings/restore", post(crate::managed::restore))
        .fallback(crate::assets::serve)
        .with_state(state)
        .layer(middleware::from_fn_with_state(guard, guard::check))
}

async fn overview(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Overview>, ApiError> {
    let params = Params::parse(raw)?;
    let filter = params.filter()?;
    let previous = Params::previous(&filter);
    // The two periods on two connections at once: the overview costs one report, not two.
    let (current, before) = (filter.clone(), previous.clone());
    let (current, (before, has_data)) = tokio::try_join!(
        query(&state, move |reader| Ok(reader.report(&current)?)),
        query(&state, move |reader| Ok((
            reader.report(&before)?,
            reader.has_data()?
        ))),
    )?;
    Ok(Json(Overview {
        current: Totals::new(&current, filter.from_ns, filter.to_ns),
        previous: Totals::new(&before, previous.from_ns, previous.to_ns),
        has_data,
    }))
}

/// The chart catalogue: `cost`, `tokens`, `cache`, `sessions`, `lines`, `active`, `decisions`,
/// `latency`, `errors`, `tools`, `tool-durations`.
async fn chart(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw)?;
    let filter = params.filter()?;
    let theme = Theme::parse(params.get("theme").unwrap_or("light"));
    let width = params.int("width")?.unwrap_or(640).clamp(240, 2000) as u32;
    let height = params.int("height")?.unwrap_or(280).clamp(160, 1200) as u32;
    let size = Size { width, height };
    let group = params.get("group").map(Dimension::parse).transpose()?;
    let by_language = params.get("by") == Some("language");
    let params_per = params.get("per").unwrap_or("day").to_owned();
    let svg = query(&state, move |reader| {
        let svg = match name.as_str() {
            "cost" => {
                let s = reader.usage_series(false, &group.unwrap_or(Dimension::Model), &filter)?;
                ccscope_charts::time_chart(
                    &time_chart_from(&s, "Cost (USD)", Unit::Usd, true),
                    theme,
                    size,
                )
            }
            "tokens" => {
                let s = reader.usage_series(true, &group.unwrap_or(Dimension::Type), &filter)?;
                ccscope_charts::time_chart(
                    &time_chart_from(&s, "Tokens", Unit::Count, true),
                    theme,
                    size,
                )
            }
            "cache" => {
                let s = reader.metric_series(MetricKind::TokenUsage, &Dimension::Type, &filter)?;
                let mut ratio = TimeSeries {
                    groups: BTreeMap::new(),
                    ..s.clone()
                };
                for bucket in s.buckets() {
                    let get = |t: &str| {
                        s.groups
                            .get(t)
                            .and_then(|b| b.get(&bucket))
                            .copied()
                            .unwrap_or(0.0)
                    };
                    let prompt = get("input") + get("cacheRead") + get("cacheCreation");
                    if prompt > 0.0 {
                        ratio
                            .groups
                            .entry("cache hit ratio".into())
                            .or_default()
                            .insert(bucket, get("cacheRead") / prompt);
                    }
                }
                ccscope_charts::time_chart(
                    &time_chart_from(&ratio, "Cache hit ratio", Unit::Percent, false),
                    theme,
                    size,
                )
            }
            "sessions" => {
                let s = reader.session_series(&filter)?;
                ccscope_charts::time_chart(
                    &time_chart_from(&s, "Sessions", Unit::Count, true),
                    theme,
                    size,
                )
            }
            "lines" => {
                let s = reader.metric_series(
                    MetricKind::LinesOfCode,
                    &group.unwrap_or(Dimension::Type),
                    &filter,
                )?;
                ccscope_charts::time_chart(
                    &time_chart_from(&s, "Lines of code", Unit::Count, true),
                    theme,
                    size,
                )
            }
            "active" => {
                let s = reader.metric_series(
                    MetricKind::ActiveTime,
                    &group.unwrap_or(Dimension::Type),
                    &filter,
                )?;
                ccscope_charts::time_chart(
                    &time_chart_from(&s, "Active time", Unit::Seconds, true),
                    theme,
                    size,
                )
            }
            "commits" => {
                let mut s =
                    reader.metric_series(MetricKind::CommitCount, &Dimension::None, &filter)?;
                let prs = reader.metric_series(
                    MetricKind::PullRequestCount,
                    &Dimension::None,
                    &filter,
                )?;
                let commits = s.groups.remove("").unwrap_or_default();
                s.groups.insert("commits".into(), commits);
                s.groups.insert(
                    "pull requests".into(),
                    prs.groups.get("").cloned().unwrap_or_default(),
                );
                ccscope_charts::time_chart(
                    &time_chart_from(&s, "Commits and pull requests", Unit::Count, true),
                    theme,
                    size,
                )
            }
            "decisions" => {
                let rows = reader.decision_breakdown(by_language, &filter)?;
                let chart = BarChart {
                    title: if by_language {
                        "Edit decisions by language"
                    } else {
                        "Edit decisions by tool"
                    }
                    .into(),
                    unit: Unit::Count,
                    segments: vec!["accept".into(), "reject".into()],
                    rows: rows.into_iter().map(|(k, a, r)| (k, vec![a, r])).collect(),
                };
                ccscope_charts::bar_chart(&chart, theme, size)
            }
            "users" => {
                let per = match params_per.as_str() {
                    "week" => 7 * DAY_NS,
                    _ => DAY_NS,
                };
                let width = per.max(ccscope_query::bucket_width(filter.from_ns, filter.to_ns));
                let group = group.unwrap_or(Dimension::None);
                let mut s = reader.active_users(width, &group, &filter)?;
                if let Some(all) = s.groups.remove("") {
                    let name = if group == Dimension::None {
                        "active users"
                    } else {
                        "(none)"
                    };
                    s.groups.insert(name.into(), all);
                }
                let title = match (&group, width) {
                    (Dimension::None, DAY_NS) => "Daily active users".to_owned(),
                    (Dimension::None, w) if w == 7 * DAY_NS => "Weekly active users".to_owned(),
                    (Dimension::None, _) => "Active users".to_owned(),
                    (Dimension::TerminalType, _) => "Active users by terminal".to_owned(),
                    (Dimension::Version, _) => "Active users by Claude Code version".to_owned(),
                    (Dimension::Attribute(key), _) => format!("Active users by {key}"),
                    _ => "Active users".to_owned(),
                };
                ccscope_charts::time_chart(
                    &time_chart_from(&s, &title, Unit::Count, true),
                    theme,
                    size,
                )
            }
            "latency" => {
                let l = reader.latency_series(&filter)?;
                let mut s = TimeSeries {
                    from_ns: filter.from_ns,
                    to_ns: filter.to_ns,
                    bucket_ns: l.bucket_ns,
                    groups: BTreeMap::new(),
                };
                for (bucket, (p50, p95, _)) in &l.buckets {
                    s.groups
                        .entry("p50".into())
                        .or_default()
                        .insert(*bucket, *p50);
                    s.groups
                        .entry("p95".into())
                        .or_default()
                        .insert(*bucket, *p95);
                }
                ccscope_charts::time_chart(
                    &time_chart_from(&s, "API latency", Unit::Milliseconds, false),
                    theme,
                    size,
                )
            }
            "ttft" => {
                let mut s = TimeSeries {
                    from_ns: filter.from_ns,
                    to_ns: filter.to_ns,
                    bucket_ns: ccscope_query::bucket_width(filter.from_ns, filter.to_ns),
                    groups: BTreeMap::new(),
                };
                for (model, l) in ccscope_query::latency::ttft_by_model(reader, &filter)? {
                    s.bucket_ns = l.bucket_ns;
                    for (bucket, (p50, p95, _)) in &l.buckets {
                        for (name, value) in [("p50", p50), ("p95", p95)] {
                            s.groups
                                .entry(format!("{model} {name}"))
                                .or_default()
                                .insert(*bucket, *value);
                        }
                    }
                }
                ccscope_charts::time_chart(
                    &time_chart_from(&s, "Time to first token", Unit::Milliseconds, false),
                    theme,
                    size,
                )
            }
            "errors" => {
                let s = reader.event_series(
                    &["api_error"],
                    &group.unwrap_or(Dimension::StatusCode),
                    false,
                    &filter,
                )?;
                ccscope_charts::time_chart(
                    &time_chart_from(&s, "API errors", Unit::Count, true),
                    theme,
                    size,
                )
            }
            "tools" => {
                let rows = reader.tool_breakdown(&filter)?;
                let chart = BarChart {
                    title: "Tool results".into(),
                    unit: Unit::Count,
                    segments: vec!["success".into(), "failure".into()],
                    rows: rows
                        .into_iter()
                        .map(|b| (b.key, vec![b.success as f64, b.failure as f64]))
                        .collect(),
                };
                ccscope_charts::bar_chart(&chart, theme, size)
            }
            "tool-durations" => {
                let rows = reader.tool_breakdown(&filter)?;
                let chart = BarChart {
                    title: "Mean tool duration".into(),
                    unit: Unit::Milliseconds,
                    segments: vec!["mean duration".into()],
                    rows: rows
                        .into_iter()
                        .map(|b| (b.key, vec![b.mean_ms.unwrap_or(0.0)]))
                        .collect(),
                };
                ccscope_charts::bar_chart(&chart, theme, size)
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no chart named {other:?}"),
                ));
            }
        };
        svg.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}

fn event_query(params: &Params) -> Result<EventQuery, ApiError> {
    let limit = params
        .int("limit")?
        .unwrap_or(200)
        .clamp(1, MAX_EVENT_PAGE as i64) as usize;
    let offset = params.int("offset")?.unwrap_or(0).max(0) as usize;
    Ok(EventQuery {
        filter: params.filter()?,
        names: params.all("name").into_iter().map(str::to_owned).collect(),
        search: params.get("search").map(str::to_owned),
        limit: Some(limit),
        offset,
        newest_first: params.get("order") != Some("oldest"),
    })
}

async fn events(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    let params = Params::parse(raw)?;
    let q = event_query(&params)?;
    let body = query(&state, move |reader| {
        let total = reader.count_events(&q)?;
        let mut events = Vec::new();
        reader.events(&q, &mut |row| {
            events.push(EventDoc::from(&row));
            Ok(())
        })?;
        Ok(EventPage {
            total,
            offset: q.offset as u64,
            events,
        })
    })
    .await?;
    Ok(Json(body))
}

async fn export_events(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw)?;
    let (format, csv) = match params.get("format").unwrap_or("json") {
        "csv" => (export::Format::Csv, true),
        "json" => (export::Format::Json, false),
        other => return Err(bad(format!("format {other:?}: use csv or json"))),
    };
    let mut q = event_query(&params)?;
    q.limit = None;
    q.offset = 0;
    // The same document as `ccscope export --format csv|json`.
    let body = query(&state, move |reader| {
        let mut w = export::Writer::events(format, Vec::new())?;
        reader.events(&q, &mut |row| w.event(&row))?;
        Ok(w.finish()?)
    })
    .await?;
    let (content_type, file) = if csv {
        ("text/csv", "ccscope-events.csv")
    } else {
        ("application/json", "ccscope-events.json")
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response())
}

async fn sessions(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SessionList>, ApiError> {
    let params = Params::parse(raw)?;
    let filter = params.filter()?;
    let body = query(&state, move |reader| {
        let sessions = reader
            .sessions(&filter)?
            .iter()
            .map(SessionDoc::from)
            .collect();
        Ok(SessionList { sessions })
    })
    .await?;
    Ok(Json(body))
}

/// A session's events in order, grouped by prompt, with cost and tokens per prompt and the
/// joins Claude Code's ids allow: tool decision -> tool result (`tool_use_id`); API request ->
/// the events carrying its `request_id` (assistant response, response body, tool decisions and
/// results), each pointing back to the request's number in the session.
async fn timeline(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Timeline>, ApiError> {
    let body = query(&state, move |reader| {
        let all_time = Filter {
            from_ns: 0,
            to_ns: i64::MAX,
            session: Some(id.clone()),
            ..Filter::default()
        };
        let q = EventQuery {
            filter: all_time.clone(),
            newest_first: false,
            ..EventQuery::default()
        };
        let mut rows = Vec::new();
        reader.events(&q, &mut |row| {
            rows.push(row);
            Ok(())
        })?;
        if rows.is_empty() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no events for session {id:?}"),
            ));
        }
        let summary = reader.sessions(&all_time)?.first().map(SessionDoc::from);
        // Tool decisions by tool use, for their results.
        let decisions: BTreeMap<&str, ToolDecision> = rows
            .iter()
            .filter(|r| r.name == "tool_decision")
            .filter_map(|r| {
                let id = r.tool_use_id.as_deref()?;
                Some((
                    id,
                    ToolDecision {
                        decision: r.decision.clone(),
                        source: r.decision_source.clone(),
                    },
                ))
            })
            .collect();
        // API requests numbered in session order; events that carry a request's `request_id`
        // (its assistant response, response body, and the tool decisions and results it asked
        // for) point back to it.
        let mut requests: BTreeMap<&str, RequestRef> = BTreeMap::new();
        let mut ordinals: Vec<Option<u64>> = Vec::with_capacity(rows.len());
        let mut count = 0;
        for row in &rows {
            let ordinal = (row.name == "api_request").then(|| {
                count += 1;
                count
            });
            if let (Some(index), Some(request_id)) = (ordinal, row.request_id.as_deref()) {
                requests.insert(
                    request_id,
                    RequestRef {
                        index,
                        request_id: request_id.to_owned(),
                        model: row.model.clone(),
                        cost_usd: row.cost_usd,
                        duration_ms: row.duration_ms,
                    },
                );
            }
            ordinals.push(ordinal);
        }
        let mut prompts: Vec<PromptGroup> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for (row, ordinal) in rows.iter().zip(ordinals) {
            let key = row.prompt_id.clone().unwrap_or_default();
            let i = *index.entry(key.clone()).or_insert_with(|| {
                prompts.push(PromptGroup {
                    prompt_id: (!key.is_empty()).then_some(key),
                    time: rfc3339(row.time_ns),
                    time_ns: row.time_ns,
                    prompt: None,
                    prompt_length: None,
                    cost_usd: 0.0,
                    tokens: 0,
                    api_requests: 0,
                    events: Vec::new(),
                });
                prompts.len() - 1
            });
            let p = &mut prompts[i];
            if row.name == "user_prompt" {
                p.prompt = row.prompt.clone();
                p.prompt_length = row.prompt_length;
            }
            if row.name == "api_request" {
                p.api_requests += 1;
                p.cost_usd = usd(p.cost_usd + row.cost_usd.unwrap_or(0.0));
                p.tokens += row.tokens.map(|t| t.total().round() as u64).unwrap_or(0);
            }
            let tool_decision = (row.name == "tool_result")
                .then(|| {
                    row.tool_use_id
                        .as_deref()
                        .and_then(|id| decisions.get(id))
                        .cloned()
                })
                .flatten();
            let request = match ordinal {
                Some(_) => None,
                None => row
                    .request_id
                    .as_deref()
                    .and_then(|id| requests.get(id))
                    .cloned(),
            };
            p.events.push(TimelineEvent {
                event: EventDoc::from(row),
                tool_decision,
                request_index: ordinal,
                request,
            });
        }
        Ok(Timeline {
            session_id: id,
            summary,
            prompts,
        })
    })
    .await?;
    Ok(Json(body))
}

/// GET /api/fleet?group=user|terminal|version|model|attr:KEY (+ the filter): per group, its
/// users, sessions, prompts, cost, tokens, lines and edit acceptance, highest cost first; and
/// the fleet's totals (distinct users and sessions over the whole range).
async fn fleet(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<FleetInfo>, ApiError> {
    let params = Params::parse(raw)?;
    let filter = params.filter()?;
    let group = Dimension::parse(params.get("group").unwrap_or("user"))?;
    let group_name = params.get("group").unwrap_or("user").to_owned();
    let body = query(&state, move |reader| {
        let rows = reader.usage_by(&group, &filter)?;
        let totals = reader
            .group_activity(&Dimension::None, &filter)?
            .into_iter()
            .next()
            .unwrap_or_default();
        Ok(FleetInfo {
            group: group_name,
            users: totals.users,
            sessions: totals.sessions,
            rows: rows.iter().map(FleetRow::from).collect(),
        })
    })
    .await?;
    Ok(Json(body))
}

fn source_json(state: &ApiState) -> SourceInfo {
    let current = state.source.get();
    SourceInfo {
        kind: current.kind(),
        location: current.describe(),
        locked: state.source.locked,
        warning: current.cleartext_warning(),
    }
}

/// GET /api/source: what the dashboard reads, and whether the page may change it.
async fn source_get(State(state): State<ApiState>) -> Json<SourceInfo> {
    Json(source_json(&state))
}

#[derive(serde::Deserialize)]
struct SourceChoice {
    /// A `clickhouse://` URL, or empty for this machine's store.
    url: String,
    #[serde(default)]
    password: Option<String>,
}

/// POST /api/source {url, password}: checks the ClickHouse source (reachable, credentials,
/// tables), then switches the dashboard to it and remembers it in the data directory; an
/// empty URL goes back to this machine's store.
async fn source_set(
    State(state): State<ApiState>,
    Json(choice): Json<SourceChoice>,
) -> Result<Json<SourceInfo>, ApiError> {
    if state.source.locked {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the source was chosen on the command line (--source or CCSCOPE_SOURCE); restart without it to choose here".into(),
        ));
    }
    let data_dir = state
        .database
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let url = choice.url.trim().to_owned();
    let (source, saved) = if url.is_empty() {
        (DataSource::Sqlite(state.database.clone()), None)
    } else {
        let saved = SavedSource {
            url,
            password: choice.password.filter(|p| !p.is_empty()),
        };
        let source = saved.open().map_err(|e| bad(e.to_string()))?;
        let check = source.clone();
        tokio::task::spawn_blocking(move || check.check())
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
        (source, Some(saved))
    };
    let dir = data_dir.clone();
    tokio::task::spawn_blocking(move || SavedSource::store(&dir, saved.as_ref()))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    tracing::info!(source = %source.describe(), "dashboard source changed");
    if let Some(warning) = source.cleartext_warning() {
        tracing::warn!("{warning}");
    }
    state.source.set(source);
    let _ = state.changes.send(Committed::default());
    Ok(Json(source_json(&state)))
}

async fn receiver(State(state): State<ApiState>) -> Result<Json<ReceiverInfo>, ApiError> {
    let stats = state.stats.snapshot();
    let newest = query(&state, |reader| Ok(reader.newest_ns()?)).await?;
    Ok(Json(ReceiverInfo {
        grpc: state.grpc_addr.map(|a| a.to_string()),
        http: state.http_addr.map(|a| a.to_string()),
        database: state.database.display().to_string(),
        source: source_json(&state),
        paused: state.paused.load(std::sync::atomic::Ordering::Relaxed),
        exports_accepted: stats.exports_accepted,
        exports_refused: stats.exports_refused,
        records_accepted: stats.records_accepted,
        records_rejected: stats.records_rejected,
        last_export: stats.last_export_ns.map(rfc3339),
        newest_record: newest.map(rfc3339),
        connections_refused: stats.connections_refused,
        recent_refusals: stats
            .recent_refusals
            .iter()
            .rev()
            .map(|r| RefusalDoc {
                time: rfc3339(r.time_ns),
                transport: r.transport.to_string(),
                signal: r.signal.to_string(),
                status: r.status.to_string(),
                reason: r.reason.to_string(),
            })
            .collect(),
    }))
}

/// Server-Sent Events: a `commit` message (with what was added) at most every
/// `LIVE_COALESCE`, after the records are committed; `reload` if this client fell behind.
async fn stream(
    State(state): State<ApiState>,
) -> sse::Sse<impl tokio_stream::Stream<Item = Result<sse::Event, Infallible>>> {
    let mut commits = state.changes.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<sse::Event>(LIVE_CLIENT_BUFFER);
    tokio::spawn(async move {
        loop {
            let event = match commits.recv().await {
                Ok(mut total) => {
                    tokio::time::sleep(LIVE_COALESCE).await;
                    loop {
                        match commits.try_recv() {
                            Ok(c) => {
                                total.events += c.events;
                                total.points += c.points;
                                total.spans += c.spans;
                            }
                            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        }
                    }
                    let commit = LiveCommit {
                        events: total.events,
                        points: total.points,
                        spans: total.spans,
                    };
                    sse::Event::default()
                        .event("commit")
                        .data(serde_json::to_string(&commit).unwrap_or_default())
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    sse::Event::default().event("reload").data("{}")
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if tx.send(event).await.is_err() {
                break;
            }
        }
    });
    sse::Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok::<_, Infallible>))
        .keep_alive(sse::KeepAlive::default())
}

/// The usage report for the range and filters, as a downloadable HTML page or Markdown file;
/// `team=<group>` adds a section per team.
async fn usage_report(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw)?;
    let filter = params.filter()?;
    let format = match params.get("format").unwrap_or("html") {
        "html" => crate::report::Format::Html,
        "md" | "markdown" => crate::report::Format::Markdown,
        other => return Err(bad(format!("format {other:?}: use html or md"))),
    };
    // `team=attr:department` (or terminal, version…) adds a per-team section.
    let team = params.get("team").map(Dimension::parse).transpose()?;
    let text = query(&state, move |reader| {
        Ok(crate::report::build(
            reader,
            &filter,
            team.as_ref(),
            format,
        )?)
    })
    .await?;
    let (content_type, file) = match format {
        crate::report::Format::Html => ("text/html; charset=utf-8", "ccscope-report.html"),
        crate::report::Format::Markdown => ("text/markdown; charset=utf-8", "ccscope-report.md"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        text,
    )
        .into_response())
}

/// GET /api/budgets: the budgets and today's and this month's spend against them.
async fn budgets_get(State(state): State<ApiState>) -> Result<Json<BudgetInfo>, ApiError> {
    let database = state.database.clone();
    let budgets = crate::budgets::load(&database)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let status = query(&state, move |reader| {
        Ok(crate::budgets::status(
            reader,
            &budgets,
            chrono::Local::now(),
        )?)
    })
    .await?;
    Ok(Json(BudgetInfo { budgets, status }))
}

/// POST /api/budgets {daily_usd, monthly_usd}: stores new budgets (null for none).
async fn budgets_set(
    State(state): State<ApiState>,
    Json(budgets): Json<crate::budgets::Budgets>,
) -> Result<Json<BudgetInfo>, ApiError> {
    crate::budgets::save(&state.database, &budgets).map_err(|e| match e {
        crate::budgets::BudgetError::Invalid(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
        }
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    })?;
    budgets_get(State(state)).await
}
