//! JSON shapes shared by the CLI (`report --json`) and the UI API. These are contracts: change
//! them only by adding fields.

use ccscope_store::{EventRow, Report, SessionSummary};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

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

fn tokens_json(t: &ccscope_store::Tokens) -> Value {
    json!({
        "input": t.input.round() as u64,
        "output": t.output.round() as u64,
        "cacheRead": t.cache_read.round() as u64,
        "cacheCreation": t.cache_creation.round() as u64,
    })
}

/// The `report --json` document.
pub fn report_json(report: &Report, from: &str, to: &str) -> Value {
    let events: serde_json::Map<String, Value> = report
        .events
        .iter()
        .map(|(name, n)| (name.clone(), json!(n)))
        .collect();
    json!({
        "from": from,
        "to": to,
        "sessions": report.sessions,
        "cost_usd": usd(report.cost_usd),
        "tokens": tokens_json(&report.tokens),
        "lines": {"added": report.lines_added.round() as u64, "removed": report.lines_removed.round() as u64},
        "commits": report.commits.round() as u64,
        "pull_requests": report.pull_requests.round() as u64,
        "active_time_s": {"user": seconds(report.active_user_s), "cli": seconds(report.active_cli_s)},
        "edit_decisions": {"accept": report.edits_accepted.round() as u64, "reject": report.edits_rejected.round() as u64},
        "events": events,
        "by_model": report.by_model.iter().map(|m| json!({
            "model": m.model, "cost_usd": usd(m.cost_usd), "tokens": m.tokens.round() as u64,
        })).collect::<Vec<_>>(),
    })
}

/// One event with every attribute, as `events --json` prints it.
pub fn event_json(row: &EventRow) -> Value {
    json!({
        "time": rfc3339(row.time_ns),
        "time_ns": row.time_ns,
        "name": row.name,
        "session_id": row.session_id,
        "sequence": row.sequence,
        "prompt_id": row.prompt_id,
        "attributes": row.attributes,
        "resource": row.resource,
    })
}

/// One session summary.
pub fn session_json(s: &SessionSummary) -> Value {
    json!({
        "session_id": s.session_id,
        "first": rfc3339(s.first_ns),
        "last": rfc3339(s.last_ns),
        "first_ns": s.first_ns,
        "last_ns": s.last_ns,
        "user_id": s.user_id,
        "user_email": s.user_email,
        "terminal_type": s.terminal_type,
        "models": s.models,
        "events": s.events,
        "prompts": s.prompts,
        "api_errors": s.api_errors,
        "cost_usd": usd(s.cost_usd),
        "tokens": tokens_json(&s.tokens),
        "lines": {"added": s.lines_added.round() as u64, "removed": s.lines_removed.round() as u64},
        "usage_source": s.usage_source,
    })
}
