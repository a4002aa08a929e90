//! The domain records ccscope stores: events (OTLP log records), metric points and spans, with
//! Claude Code's known names typed and everything else kept verbatim in `attributes`.
//! Plain Rust types: no protobuf, no SQL.

use std::sync::Arc;

use serde::Serialize;

use crate::value::Attributes;
use opentelemetry_proto::tonic::common::v1::KeyValue;

/// The metrics Claude Code exports (reference §3). Anything else is kept by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MetricKind {
    SessionCount,
    LinesOfCode,
    PullRequestCount,
    CommitCount,
    CostUsage,
    TokenUsage,
    CodeEditToolDecision,
    ActiveTime,
}

impl MetricKind {
    pub const ALL: [MetricKind; 8] = [
        MetricKind::SessionCount,
        MetricKind::LinesOfCode,
        MetricKind::PullRequestCount,
        MetricKind::CommitCount,
        MetricKind::CostUsage,
        MetricKind::TokenUsage,
        MetricKind::CodeEditToolDecision,
        MetricKind::ActiveTime,
    ];

    /// The OTLP metric name.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::SessionCount => "claude_code.session.count",
            MetricKind::LinesOfCode => "claude_code.lines_of_code.count",
            MetricKind::PullRequestCount => "claude_code.pull_request.count",
            MetricKind::CommitCount => "claude_code.commit.count",
            MetricKind::CostUsage => "claude_code.cost.usage",
            MetricKind::TokenUsage => "claude_code.token.usage",
            MetricKind::CodeEditToolDecision => "claude_code.code_edit_tool.decision",
            MetricKind::ActiveTime => "claude_code.active_time.total",
        }
    }

    pub fn from_name(name: &str) -> Option<MetricKind> {
        MetricKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The `type` attribute of `claude_code.token.usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TokenType {
    Input,
    Output,
    CacheRead,
    CacheCreation,
}

impl TokenType {
    pub const ALL: [TokenType; 4] = [
        TokenType::Input,
        TokenType::Output,
        TokenType::CacheRead,
        TokenType::CacheCreation,
    ];

    /// The attribute value as Claude Code sends it.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Input => "input",
            TokenType::Output => "output",
            TokenType::CacheRead => "cacheRead",
            TokenType::CacheCreation => "cacheCreation",
        }
    }

    pub fn parse(value: &str) -> Option<TokenType> {
        TokenType::ALL.into_iter().find(|t| t.as_str() == value)
    }
}

/// Claude Code's event kinds (reference §6.2). `Host` events (`host.<name>`) come from SDK
/// hosts; names outside this list are stored as unknown kinds, never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventKind {
    UserPrompt,
    AssistantResponse,
    ToolResult,
    ToolDecision,
    ApiRequest,
    ApiError,
    ApiRefusal,
    ApiRetriesExhausted,
    ApiRequestBody,
    ApiResponseBody,
    PermissionModeChanged,
    Auth,
    McpServerConnection,
    InternalError,
    PluginInstalled,
    PluginLoaded,
    SkillActivated,
    AtMention,
    HookRegistered,
    HookExecutionStart,
    HookExecutionComplete,
    HookPluginMetrics,
    Compaction,
    SubagentCompleted,
    FeedbackSurvey,
    RetentionSweep,
    ManagedSettingsResolved,
    SystemPrompt,
    Tool,
    SafetyEvent,
    Host,
}

impl EventKind {
    const NAMED: [(EventKind, &'static str); 30] = [
        (EventKind::UserPrompt, "user_prompt"),
        (EventKind::AssistantResponse, "assistant_response"),
        (EventKind::ToolResult, "tool_result"),
        (EventKind::ToolDecision, "tool_decision"),
        (EventKind::ApiRequest, "api_request"),
        (EventKind::ApiError, "api_error"),
        (EventKind::ApiRefusal, "api_refusal"),
        (EventKind::ApiRetriesExhausted, "api_retries_exhausted"),
        (EventKind::ApiRequestBody, "api_request_body"),
        (EventKind::ApiResponseBody, "api_response_body"),
        (EventKind::PermissionModeChanged, "permission_mode_changed"),
        (EventKind::Auth, "auth"),
        (EventKind::McpServerConnection, "mcp_server_connection"),
        (EventKind::InternalError, "internal_error"),
        (EventKind::PluginInstalled, "plugin_installed"),
        (EventKind::PluginLoaded, "plugin_loaded"),
        (EventKind::SkillActivated, "skill_activated"),
        (EventKind::AtMention, "at_mention"),
        (EventKind::HookRegistered, "hook_registered"),
        (EventKind::HookExecutionStart, "hook_execution_start"),
        (EventKind::HookExecutionComplete, "hook_execution_complete"),
        (EventKind::HookPluginMetrics, "hook_plugin_metrics"),
        (EventKind::Compaction, "compaction"),
        (EventKind::SubagentCompleted, "subagent_completed"),
        (EventKind::FeedbackSurvey, "feedback_survey"),
        (EventKind::RetentionSweep, "retention_sweep"),
        (
            EventKind::ManagedSettingsResolved,
            "managed_settings_resolved",
        ),
        (EventKind::SystemPrompt, "system_prompt"),
        (EventKind::Tool, "tool"),
        (EventKind::SafetyEvent, "safety_event"),
    ];

    /// Maps a short event name (`api_request`, `host.session_opened`) to its kind.
    pub fn from_name(name: &str) -> Option<EventKind> {
        if name.starts_with("host.") {
            return Some(EventKind::Host);
        }
        EventKind::NAMED
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(k, _)| *k)
    }

    /// Every known short name (without `host.*`).
    pub fn known_names() -> impl Iterator<Item = &'static str> {
        EventKind::NAMED.iter().map(|(_, n)| *n)
    }
}

/// Who and where a record came from. Claude Code copies these onto every point and record
/// (not onto the resource); a field is `None` when the sender left it out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Identity {
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub organization_id: Option<String>,
    pub account_uuid: Option<String>,
    pub terminal_type: Option<String>,
    pub app_version: Option<String>,
}

/// The OTLP resource a record came with, hashed so the store keeps each distinct set once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    pub attributes: Attributes,
    pub hash: u64,
}

/// The typed facts of an event that reports and the explorer query; which ones are set
/// depends on the kind. The attributes they are read from also stay in `Event::attributes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventFacts {
    pub model: Option<String>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_creation_tokens: Option<i64>,
    pub duration_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub success: Option<bool>,
    pub status_code: Option<i64>,
    pub attempt: Option<i64>,
    pub tool_name: Option<String>,
    pub tool_use_id: Option<String>,
    pub request_id: Option<String>,
    pub decision: Option<String>,
    pub decision_source: Option<String>,
    pub error: Option<String>,
    /// The user's prompt text, only when the sender sent it (Claude Code sends `<REDACTED>`
    /// unless `OTEL_LOG_USER_PROMPTS` is on).
    pub prompt_text: Option<String>,
}

/// One OTLP log record (a Claude Code event).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Short name: `api_request`, `host.x`, or an unknown record's own name.
    pub name: String,
    pub kind: Option<EventKind>,
    pub time_ns: i64,
    pub observed_ns: i64,
    /// `event.sequence`: per process, not per session.
    pub sequence: Option<i64>,
    pub prompt_id: Option<String>,
    pub identity: Identity,
    pub facts: EventFacts,
    pub severity: Option<String>,
    /// The body when it is not just `claude_code.<name>`.
    pub body: Option<serde_json::Value>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub scope: Option<String>,
    /// The record's attributes as sent, each key once (a repeated key keeps its last value),
    /// less those moved into fields: `identity`'s session, user, email, organization,
    /// terminal and version and `prompt_id` when they are non-empty strings, `sequence` when
    /// it is an integer. A reader puts those back from the fields to show the record whole.
    pub attributes: Vec<KeyValue>,
    pub resource: Arc<Resource>,
    /// Stable key for de-duplicating re-sent exports (see `normalize::event_dedup_key`).
    pub dedup_key: i64,
}

/// How a metric point's value relates to earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Temporality {
    /// The increase over `[start, time]`.
    Delta,
    /// The total since `start`; ccscope turns it into deltas per series.
    Cumulative,
    /// A sampled value (gauges); not summed across time by reports.
    Gauge,
}

impl Temporality {
    pub fn as_str(self) -> &'static str {
        match self {
            Temporality::Delta => "delta",
            Temporality::Cumulative => "cumulative",
            Temporality::Gauge => "gauge",
        }
    }
}

/// One metric data point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricPoint {
    pub metric: String,
    pub kind: Option<MetricKind>,
    pub unit: String,
    pub temporality: Temporality,
    pub start_ns: i64,
    pub time_ns: i64,
    /// For sums and gauges the point's value; for histograms and summaries their `sum`.
    pub value: f64,
    pub identity: Identity,
    /// `model` as sent, e.g. `claude-opus-4-8[1m]`.
    pub model: Option<String>,
    /// The `type` attribute (token type, lines added/removed, active time user/cli).
    pub point_type: Option<String>,
    pub attributes: Attributes,
    pub resource: Arc<Resource>,
    /// Identifies the series: metric name, unit, point attributes and resource.
    pub series_hash: u64,
    /// Histogram buckets, summary quantiles and counts; `None` for sums and gauges.
    pub extra: Option<serde_json::Value>,
}

/// One span (Claude Code's beta tracing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: i32,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status_code: i32,
    pub status_message: Option<String>,
    pub identity: Identity,
    pub attributes: Attributes,
    pub events: serde_json::Value,
    pub links: serde_json::Value,
    pub scope: Option<String>,
    pub resource: Arc<Resource>,
}

/// Records that were refused one by one (the rest of their export was accepted).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rejections {
    pub count: i64,
    /// The first few distinct reasons, for `partial_success.error_message`.
    pub reasons: Vec<String>,
}

impl Rejections {
    const MAX_REASONS: usize = 3;

    pub fn add(&mut self, reason: String) {
        self.count += 1;
        if self.reasons.len() < Self::MAX_REASONS && !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }

    pub fn message(&self) -> String {
        self.reasons.join("; ")
    }
}

/// Everything one export request normalises into.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Batch {
    pub events: Vec<Event>,
    pub points: Vec<MetricPoint>,
    pub spans: Vec<SpanRecord>,
    pub rejected: Rejections,
}

impl Batch {
    /// Records accepted into the batch.
    pub fn len(&self) -> usize {
        self.events.len() + self.points.len() + self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `claude-opus-4-8[1m]` -> `claude-opus-4-8`: the model without its context-window suffix.
pub fn plain_model_name(model: &str) -> &str {
    match model.find('[') {
        Some(i) if model.ends_with(']') => model[..i].trim_end(),
        _ => model,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_suffix_is_stripped_for_the_plain_name() {
        assert_eq!(plain_model_name("claude-opus-4-8[1m]"), "claude-opus-4-8");
        assert_eq!(plain_model_name("claude-opus-4-8"), "claude-opus-4-8");
        assert_eq!(plain_model_name("weird[x"), "weird[x");
    }

    #[test]
    fn names_round_trip() {
        for kind in MetricKind::ALL {
            assert_eq!(MetricKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(
            EventKind::from_name("api_request"),
            Some(EventKind::ApiRequest)
        );
        assert_eq!(EventKind::from_name("host.opened"), Some(EventKind::Host));
        assert_eq!(EventKind::from_name("brand_new_event"), None);
        assert_eq!(EventKind::known_names().count(), 30);
        for t in TokenType::ALL {
            assert_eq!(TokenType::parse(t.as_str()), Some(t));
        }
    }
}
