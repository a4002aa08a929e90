//! The JSON shapes of the CLI (`report --json`, `sessions --json`, `events --json`) and the
//! UI's API, as Rust structs. These are contracts: change them only by adding fields. The UI's
//! TypeScript types are generated from them (`ui/src/generated/api.ts`; the test
//! `typescript_types_are_current` fails when the file is stale, `CCSCOPE_UPDATE_TYPES=1`
//! rewrites it).

use std::collections::BTreeMap;

use ccscope_query::GroupUsage;
use ccscope_query::{EventRow, Report, SessionSummary};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
#[cfg(test)]
use ts_rs::TS;

/// Sums of floats pick up noise in their last bits (0.07850000000000001); money is shown to
/// 1e-10 USD and time to the microsecond, far below anything Claude Code measures.
pub fn usd(value: f64) -> f64 {
    (value * 1e10).round() / 1e10
}

pub fn seconds(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Unix nanoseconds as RFC 3339 UTC with milliseconds.
pub fn rfc3339(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `part / whole`, or none without a whole.
pub fn rate(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

/// Tokens by type, whole numbers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    #[serde(rename = "cacheRead")]
    pub cache_read: u64,
    #[serde(rename = "cacheCreation")]
    pub cache_creation: u64,
}

impl From<&ccscope_query::Tokens> for Tokens {
    fn from(t: &ccscope_query::Tokens) -> Tokens {
        Tokens {
            input: t.input.round() as u64,
            output: t.output.round() as u64,
            cache_read: t.cache_read.round() as u64,
            cache_creation: t.cache_creation.round() as u64,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct Lines {
    pub added: u64,
    pub removed: u64,
}

/// Active time in seconds.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ActiveTime {
    pub user: f64,
    pub cli: f64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct EditDecisions {
    pub accept: u64,
    pub reject: u64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ModelCost {
    pub model: String,
    pub cost_usd: f64,
    pub tokens: u64,
}

/// The `report --json` document: totals over a range.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ReportDoc {
    pub from: String,
    pub to: String,
    pub sessions: u64,
    pub cost_usd: f64,
    pub tokens: Tokens,
    pub lines: Lines,
    pub commits: u64,
    pub pull_requests: u64,
    pub active_time_s: ActiveTime,
    pub edit_decisions: EditDecisions,
    /// Events per name.
    pub events: BTreeMap<String, u64>,
    /// Cost and tokens per model, highest cost first.
    pub by_model: Vec<ModelCost>,
    /// With `--by KEY`: cost and tokens per value of that attribute (rows add up to the
    /// totals; what lacks the key is the row whose value is null).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub by: Option<ByDoc>,
}

/// Cost and tokens split by one attribute's values.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ByDoc {
    pub key: String,
    pub rows: Vec<ByRow>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ByRow {
    pub value: Option<String>,
    pub cost_usd: f64,
    pub tokens: Tokens,
}

/// One attribute's split of the range's cost (GET /api/attribution).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct CostSplit {
    pub key: String,
    /// Highest cost first; `value` null for the cost without the key.
    pub rows: Vec<CostShare>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct CostShare {
    pub value: Option<String>,
    pub cost_usd: f64,
}

/// GET /api/attribution: the range's cost, split by each key asked for.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct Attribution {
    pub total_usd: f64,
    pub splits: Vec<CostSplit>,
}

impl ByDoc {
    pub fn new(key: &str, rows: &[ccscope_query::AttributeUsage]) -> ByDoc {
        ByDoc {
            key: key.to_owned(),
            rows: rows
                .iter()
                .map(|r| ByRow {
                    value: r.value.clone(),
                    cost_usd: usd(r.cost_usd),
                    tokens: (&r.tokens).into(),
                })
                .collect(),
        }
    }
}

impl ReportDoc {
    pub fn new(report: &Report, from: &str, to: &str) -> ReportDoc {
        ReportDoc {
            from: from.to_owned(),
            to: to.to_owned(),
            sessions: report.sessions,
            cost_usd: usd(report.cost_usd),
            tokens: (&report.tokens).into(),
            lines: Lines {
                added: report.lines_added.round() as u64,
                removed: report.lines_removed.round() as u64,
            },
            commits: report.commits.round() as u64,
            pull_requests: report.pull_requests.round() as u64,
            active_time_s: ActiveTime {
                user: seconds(report.active_user_s),
                cli: seconds(report.active_cli_s),
            },
            edit_decisions: EditDecisions {
                accept: report.edits_accepted.round() as u64,
                reject: report.edits_rejected.round() as u64,
            },
            events: report.events.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            by_model: report
                .by_model
                .iter()
                .map(|m| ModelCost {
                    model: m.model.clone(),
                    cost_usd: usd(m.cost_usd),
                    tokens: m.tokens.round() as u64,
                })
                .collect(),
            by: None,
        }
    }
}

/// The overview's tiles for one period: the report and the rates the tiles show.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct Totals {
    #[serde(flatten)]
    pub report: ReportDoc,
    /// Accepted share of edit decisions, null without decisions.
    pub acceptance_rate: Option<f64>,
    /// API errors per API call, null without calls.
    pub api_error_rate: Option<f64>,
    pub tokens_total: u64,
}

impl Totals {
    pub fn new(report: &Report, from_ns: i64, to_ns: i64) -> Totals {
        let decisions = report.edits_accepted + report.edits_rejected;
        let requests = *report.events.get("api_request").unwrap_or(&0) as f64;
        let errors = *report.events.get("api_error").unwrap_or(&0) as f64;
        Totals {
            report: ReportDoc::new(report, &rfc3339(from_ns), &rfc3339(to_ns)),
            acceptance_rate: rate(report.edits_accepted, decisions),
            api_error_rate: rate(errors, requests + errors),
            tokens_total: report.tokens.total().round() as u64,
        }
    }
}

/// GET /api/overview.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct Overview {
    pub current: Totals,
    /// The period of the same length just before.
    pub previous: Totals,
    pub has_data: bool,
}

/// One event with every attribute, as `events --json` prints it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct EventDoc {
    pub time: String,
    pub time_ns: i64,
    pub name: String,
    pub session_id: String,
    pub sequence: Option<i64>,
    pub prompt_id: Option<String>,
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub attributes: Value,
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub resource: Value,
    /// The facts ccscope reads from the attributes, typed (also in `attributes` as sent).
    pub user_id: Option<String>,
    pub model: Option<String>,
    pub tool_name: Option<String>,
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<f64>,
    pub success: Option<bool>,
    pub status_code: Option<i64>,
    pub request_id: Option<String>,
    pub tool_use_id: Option<String>,
    pub decision: Option<String>,
    pub decision_source: Option<String>,
    pub error: Option<String>,
    pub tokens: Option<Tokens>,
    /// A prompt's text, when Claude Code sent it, and its length.
    pub prompt: Option<String>,
    pub prompt_length: Option<i64>,
}

impl From<&EventRow> for EventDoc {
    fn from(row: &EventRow) -> EventDoc {
        EventDoc {
            time: rfc3339(row.time_ns),
            time_ns: row.time_ns,
            name: row.name.clone(),
            session_id: row.session_id.clone(),
            sequence: row.sequence,
            prompt_id: row.prompt_id.clone(),
            attributes: row.attributes.clone(),
            resource: row.resource.clone(),
            user_id: row.user_id.clone(),
            model: row.model.clone(),
            tool_name: row.tool_name.clone(),
            cost_usd: row.cost_usd,
            duration_ms: row.duration_ms,
            success: row.success,
            status_code: row.status_code,
            request_id: row.request_id.clone(),
            tool_use_id: row.tool_use_id.clone(),
            decision: row.decision.clone(),
            decision_source: row.decision_source.clone(),
            error: row.error.clone(),
            tokens: row.tokens.as_ref().map(Tokens::from),
            prompt: row.prompt.clone(),
            prompt_length: row.prompt_length,
        }
    }
}

/// GET /api/events: a page of the listing.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct EventPage {
    /// Events matching the query, on every page.
    pub total: u64,
    pub offset: u64,
    pub events: Vec<EventDoc>,
}

/// One session summary.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct SessionDoc {
    pub session_id: String,
    pub first: String,
    pub last: String,
    pub first_ns: i64,
    pub last_ns: i64,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub terminal_type: Option<String>,
    pub models: Vec<String>,
    pub events: u64,
    pub prompts: u64,
    pub api_errors: u64,
    pub cost_usd: f64,
    pub tokens: Tokens,
    pub lines: Lines,
    /// Where cost and tokens come from: "metrics", else "events".
    pub usage_source: String,
}

impl From<&SessionSummary> for SessionDoc {
    fn from(s: &SessionSummary) -> SessionDoc {
        SessionDoc {
            session_id: s.session_id.clone(),
            first: rfc3339(s.first_ns),
            last: rfc3339(s.last_ns),
            first_ns: s.first_ns,
            last_ns: s.last_ns,
            user_id: s.user_id.clone(),
            user_email: s.user_email.clone(),
            terminal_type: s.terminal_type.clone(),
            models: s.models.clone(),
            events: s.events,
            prompts: s.prompts,
            api_errors: s.api_errors,
            cost_usd: usd(s.cost_usd),
            tokens: (&s.tokens).into(),
            lines: Lines {
                added: s.lines_added.round() as u64,
                removed: s.lines_removed.round() as u64,
            },
            usage_source: s.usage_source.to_owned(),
        }
    }
}

/// A tool decision joined to the `tool_result` of the same tool use.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ToolDecision {
    pub decision: Option<String>,
    pub source: Option<String>,
}

/// The API request an event carries the `request_id` of.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct RequestRef {
    /// The request's number in the session, from 1.
    pub index: u64,
    pub request_id: String,
    pub model: Option<String>,
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<f64>,
}

/// An event on a session's timeline, with what the server joined to it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct TimelineEvent {
    #[serde(flatten)]
    pub event: EventDoc,
    /// A `tool_result`'s decision (from the `tool_decision` of the same tool use).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub tool_decision: Option<ToolDecision>,
    /// An `api_request`'s number in the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub request_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub request: Option<RequestRef>,
}

/// The events of one prompt (or of none: `prompt_id` null), with its usage.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct PromptGroup {
    pub prompt_id: Option<String>,
    pub time: String,
    pub time_ns: i64,
    /// The prompt's text, when Claude Code sent it.
    pub prompt: Option<String>,
    pub prompt_length: Option<i64>,
    pub cost_usd: f64,
    pub tokens: u64,
    pub api_requests: u64,
    pub events: Vec<TimelineEvent>,
}

/// GET /api/sessions/{id}/timeline.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct Timeline {
    pub session_id: String,
    pub summary: Option<SessionDoc>,
    pub prompts: Vec<PromptGroup>,
}

/// One span of a prompt's waterfall, with the events joined to it and the spans it started.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct SpanDoc {
    pub name: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub start_ns: i64,
    pub end_ns: i64,
    /// OTLP's status code: 0 unset, 1 ok, 2 error.
    pub status_code: i64,
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub attributes: Value,
    /// The events about this span: an `llm_request`'s by its `request_id`, a tool's by its
    /// `tool_use_id`, and a prompt's other events on its `interaction`.
    pub events: Vec<EventDoc>,
    pub children: Vec<SpanDoc>,
}

/// Where a prompt's time went, in milliseconds (the four add up to its duration).
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct TimeSplitDoc {
    pub model: f64,
    pub tools: f64,
    pub waiting_for_user: f64,
    pub other: f64,
}

/// One prompt's waterfall.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct PromptTraceDoc {
    pub prompt_id: Option<String>,
    /// The prompt's text, when Claude Code sent it.
    pub prompt: Option<String>,
    pub start_ns: i64,
    pub end_ns: i64,
    pub time_ms: TimeSplitDoc,
    pub spans: Vec<SpanDoc>,
}

/// GET /api/sessions/{id}/trace: the session's spans as one waterfall per prompt (none when
/// Claude Code sent no spans).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct TraceView {
    pub session_id: String,
    pub prompts: Vec<PromptTraceDoc>,
}

/// One tool's run time and, with traces on, its permission wait (GET /api/latency).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ToolLatencyDoc {
    pub tool: String,
    pub runs: u64,
    pub run_p50_ms: f64,
    pub run_p95_ms: f64,
    pub waits: u64,
    pub wait_p50_ms: f64,
    pub wait_p95_ms: f64,
    pub wait_total_ms: f64,
}

/// One of the range's slowest prompts, with where its time went.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct SlowPromptDoc {
    pub session_id: String,
    pub prompt_id: Option<String>,
    pub start: String,
    pub duration_ms: f64,
    pub time_ms: TimeSplitDoc,
}

/// GET /api/latency.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct LatencyView {
    /// Most waited-for first, then most run.
    pub tools: Vec<ToolLatencyDoc>,
    /// Longest first.
    pub slowest: Vec<SlowPromptDoc>,
}

/// GET /api/setup: what adding the receiver's settings to `~/.claude/settings.json` changes.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct SetupPreview {
    pub path: String,
    pub exists: bool,
    /// True when the file already holds every entry.
    pub unchanged: bool,
    /// A unified diff from the current text to the proposed one.
    pub diff: String,
    pub proposed: String,
}

/// POST /api/setup: what was written.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct SetupResult {
    pub path: String,
    /// Where the previous file was saved, when there was one.
    pub backup: Option<String>,
    pub written: bool,
}

/// GET /api/sessions.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct SessionList {
    pub sessions: Vec<SessionDoc>,
}

/// One row of the fleet table: a user or a team.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct FleetRow {
    pub key: String,
    pub users: u64,
    pub sessions: u64,
    pub prompts: u64,
    pub cost_usd: f64,
    pub tokens: f64,
    pub lines_added: f64,
    pub lines_removed: f64,
    pub edits_accepted: f64,
    pub edits_rejected: f64,
    /// Accepted share of edit decisions, null without decisions.
    pub acceptance: Option<f64>,
    pub cost_per_user: Option<f64>,
}

impl From<&GroupUsage> for FleetRow {
    fn from(g: &GroupUsage) -> FleetRow {
        FleetRow {
            key: g.key.clone(),
            users: g.users,
            sessions: g.sessions,
            prompts: g.prompts,
            cost_usd: usd(g.cost_usd),
            tokens: g.tokens,
            lines_added: g.lines_added,
            lines_removed: g.lines_removed,
            edits_accepted: g.edits_accepted,
            edits_rejected: g.edits_rejected,
            acceptance: rate(g.edits_accepted, g.edits_accepted + g.edits_rejected),
            cost_per_user: (g.users > 0).then(|| usd(g.cost_usd / g.users as f64)),
        }
    }
}

/// GET /api/fleet.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct FleetInfo {
    pub group: String,
    /// Distinct users and sessions over the whole range.
    pub users: u64,
    pub sessions: u64,
    pub rows: Vec<FleetRow>,
}

/// What the dashboard reads.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct SourceInfo {
    #[cfg_attr(test, ts(type = "\"sqlite\" | \"clickhouse\""))]
    pub kind: &'static str,
    /// The database path, or the ClickHouse URL without its password.
    pub location: String,
    /// Chosen on the command line: the page cannot change it.
    pub locked: bool,
    /// Set when the ClickHouse password goes over plain HTTP to another host.
    pub warning: Option<String>,
}

/// An export the receiver refused lately (GET /api/receiver).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct RefusalDoc {
    pub time: String,
    pub transport: String,
    pub signal: String,
    pub status: String,
    pub reason: String,
}

/// GET /api/receiver: where the receiver listens, what it took, and what the dashboard reads.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ReceiverInfo {
    pub grpc: Option<String>,
    pub http: Option<String>,
    pub database: String,
    pub source: SourceInfo,
    pub paused: bool,
    pub exports_accepted: u64,
    pub exports_refused: u64,
    pub records_accepted: u64,
    pub records_rejected: u64,
    pub last_export: Option<String>,
    /// When the newest stored event or metric point was made.
    pub newest_record: Option<String>,
    pub connections_refused: u64,
    /// Newest first.
    pub recent_refusals: Vec<RefusalDoc>,
}

/// The live feed's `commit` message (GET /api/stream): what was stored since the last one.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct LiveCommit {
    pub events: u64,
    pub points: u64,
    pub spans: u64,
}

/// GET/POST /api/budgets: the budgets and today's and this month's spend against them.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct BudgetInfo {
    pub budgets: crate::budgets::Budgets,
    pub status: crate::budgets::Status,
}

/// Every API error: a stable code and a message for people.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(TS))]
pub struct ApiErrorBody {
    pub code: String,
    pub message: String,
}

/// The `report --json` document.
pub fn report_json(report: &Report, from: &str, to: &str) -> ReportDoc {
    ReportDoc::new(report, from, to)
}

/// One event as a JSON value (the timeline adds to it).
pub fn event_json(row: &EventRow) -> Value {
    serde_json::to_value(EventDoc::from(row)).unwrap_or(Value::Null)
}

/// One session summary as a JSON value.
pub fn session_json(s: &SessionSummary) -> Value {
    serde_json::to_value(SessionDoc::from(s)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every type the UI reads, in the order the generated file declares them.
    fn declarations() -> String {
        let cfg = ts_rs::Config::new().with_large_int("number");
        let decls = [
            Tokens::decl(&cfg),
            Lines::decl(&cfg),
            ActiveTime::decl(&cfg),
            EditDecisions::decl(&cfg),
            ModelCost::decl(&cfg),
            ReportDoc::decl(&cfg),
            Totals::decl(&cfg),
            Overview::decl(&cfg),
            EventDoc::decl(&cfg),
            EventPage::decl(&cfg),
            SessionDoc::decl(&cfg),
            SessionList::decl(&cfg),
            ToolDecision::decl(&cfg),
            RequestRef::decl(&cfg),
            TimelineEvent::decl(&cfg),
            PromptGroup::decl(&cfg),
            Timeline::decl(&cfg),
            SpanDoc::decl(&cfg),
            TimeSplitDoc::decl(&cfg),
            PromptTraceDoc::decl(&cfg),
            TraceView::decl(&cfg),
            ToolLatencyDoc::decl(&cfg),
            SlowPromptDoc::decl(&cfg),
            LatencyView::decl(&cfg),
            SetupPreview::decl(&cfg),
            SetupResult::decl(&cfg),
            FleetRow::decl(&cfg),
            FleetInfo::decl(&cfg),
            SourceInfo::decl(&cfg),
            RefusalDoc::decl(&cfg),
            ReceiverInfo::decl(&cfg),
            LiveCommit::decl(&cfg),
            crate::budgets::Budgets::decl(&cfg),
            crate::budgets::Usage::decl(&cfg),
            crate::budgets::Status::decl(&cfg),
            BudgetInfo::decl(&cfg),
            ByDoc::decl(&cfg),
            ByRow::decl(&cfg),
            CostShare::decl(&cfg),
            CostSplit::decl(&cfg),
            Attribution::decl(&cfg),
            ApiErrorBody::decl(&cfg),
        ];
        let mut out = String::from(
            "// Generated from crates/server/src/dto.rs by its test `typescript_types_are_current`\n\
             // (CCSCOPE_UPDATE_TYPES=1 cargo test -p ccscope-server typescript_types). Do not edit.\n",
        );
        for d in decls {
            out.push_str("\nexport ");
            out.push_str(&d);
            out.push('\n');
        }
        out
    }

    #[test]
    fn typescript_types_are_current() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/generated/api.ts");
        let want = declarations();
        if std::env::var("CCSCOPE_UPDATE_TYPES").as_deref() == Ok("1") {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, &want).expect("write");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run CCSCOPE_UPDATE_TYPES=1 cargo test -p ccscope-server typescript_types",
            path.display()
        );
    }

    #[test]
    fn the_report_document_keeps_its_field_order() {
        let report = Report::default();
        let text = serde_json::to_string(&report_json(&report, "a", "b")).expect("json");
        assert!(
            text.starts_with(r#"{"from":"a","to":"b","sessions":0,"cost_usd":0.0,"tokens":{"input":0,"output":0,"cacheRead":0,"cacheCreation":0},"lines""#),
            "{text}"
        );
    }
}
