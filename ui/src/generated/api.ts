// Generated from crates/server/src/dto.rs by its test `typescript_types_are_current`
// (CCSCOPE_UPDATE_TYPES=1 cargo test -p ccscope-server typescript_types). Do not edit.

export type Tokens = { input: number, output: number, cacheRead: number, cacheCreation: number, };

export type Lines = { added: number, removed: number, };

export type ActiveTime = { user: number, cli: number, };

export type EditDecisions = { accept: number, reject: number, };

export type ModelCost = { model: string, cost_usd: number, tokens: number, };

export type ReportDoc = { from: string, to: string, sessions: number, cost_usd: number, tokens: Tokens, lines: Lines, commits: number, pull_requests: number, active_time_s: ActiveTime, edit_decisions: EditDecisions, 
/**
 * Events per name.
 */
events: { [key in string]: number }, 
/**
 * Cost and tokens per model, highest cost first.
 */
by_model: Array<ModelCost>, 
/**
 * With `--by KEY`: cost and tokens per value of that attribute (rows add up to the
 * totals; what lacks the key is the row whose value is null).
 */
by?: ByDoc, };

export type Totals = { 
/**
 * Accepted share of edit decisions, null without decisions.
 */
acceptance_rate: number | null, 
/**
 * API errors per API call, null without calls.
 */
api_error_rate: number | null, tokens_total: number, from: string, to: string, sessions: number, cost_usd: number, tokens: Tokens, lines: Lines, commits: number, pull_requests: number, active_time_s: ActiveTime, edit_decisions: EditDecisions, 
/**
 * Events per name.
 */
events: { [key in string]: number }, 
/**
 * Cost and tokens per model, highest cost first.
 */
by_model: Array<ModelCost>, 
/**
 * With `--by KEY`: cost and tokens per value of that attribute (rows add up to the
 * totals; what lacks the key is the row whose value is null).
 */
by?: ByDoc, };

export type Overview = { current: Totals, 
/**
 * The period of the same length just before.
 */
previous: Totals, has_data: boolean, };

export type EventDoc = { time: string, time_ns: number, name: string, session_id: string, sequence: number | null, prompt_id: string | null, attributes: Record<string, unknown>, resource: Record<string, unknown>, 
/**
 * The facts ccscope reads from the attributes, typed (also in `attributes` as sent).
 */
user_id: string | null, model: string | null, tool_name: string | null, cost_usd: number | null, duration_ms: number | null, success: boolean | null, status_code: number | null, request_id: string | null, tool_use_id: string | null, decision: string | null, decision_source: string | null, error: string | null, tokens: Tokens | null, 
/**
 * A prompt's text, when Claude Code sent it, and its length.
 */
prompt: string | null, prompt_length: number | null, };

export type EventPage = { 
/**
 * Events matching the query, on every page.
 */
total: number, offset: number, events: Array<EventDoc>, };

export type SessionDoc = { session_id: string, first: string, last: string, first_ns: number, last_ns: number, user_id: string | null, user_email: string | null, terminal_type: string | null, models: Array<string>, events: number, prompts: number, api_errors: number, cost_usd: number, tokens: Tokens, lines: Lines, 
/**
 * Where cost and tokens come from: "metrics", else "events".
 */
usage_source: string, };

export type SessionList = { sessions: Array<SessionDoc>, };

export type ToolDecision = { decision: string | null, source: string | null, };

export type RequestRef = { 
/**
 * The request's number in the session, from 1.
 */
index: number, request_id: string, model: string | null, cost_usd: number | null, duration_ms: number | null, };

export type TimelineEvent = { 
/**
 * A `tool_result`'s decision (from the `tool_decision` of the same tool use).
 */
tool_decision?: ToolDecision, 
/**
 * An `api_request`'s number in the session.
 */
request_index?: number, request?: RequestRef, time: string, time_ns: number, name: string, session_id: string, sequence: number | null, prompt_id: string | null, attributes: Record<string, unknown>, resource: Record<string, unknown>, 
/**
 * The facts ccscope reads from the attributes, typed (also in `attributes` as sent).
 */
user_id: string | null, model: string | null, tool_name: string | null, cost_usd: number | null, duration_ms: number | null, success: boolean | null, status_code: number | null, request_id: string | null, tool_use_id: string | null, decision: string | null, decision_source: string | null, error: string | null, tokens: Tokens | null, 
/**
 * A prompt's text, when Claude Code sent it, and its length.
 */
prompt: string | null, prompt_length: number | null, };

export type PromptGroup = { prompt_id: string | null, time: string, time_ns: number, 
/**
 * The prompt's text, when Claude Code sent it.
 */
prompt: string | null, prompt_length: number | null, cost_usd: number, tokens: number, api_requests: number, events: Array<TimelineEvent>, };

export type Timeline = { session_id: string, summary: SessionDoc | null, prompts: Array<PromptGroup>, };

export type SpanDoc = { name: string, span_id: string, parent_span_id: string | null, start_ns: number, end_ns: number, 
/**
 * OTLP's status code: 0 unset, 1 ok, 2 error.
 */
status_code: number, attributes: Record<string, unknown>, 
/**
 * The events about this span: an `llm_request`'s by its `request_id`, a tool's by its
 * `tool_use_id`, and a prompt's other events on its `interaction`.
 */
events: Array<EventDoc>, children: Array<SpanDoc>, };

export type TimeSplitDoc = { model: number, tools: number, waiting_for_user: number, other: number, };

export type PromptTraceDoc = { prompt_id: string | null, 
/**
 * The prompt's text, when Claude Code sent it.
 */
prompt: string | null, start_ns: number, end_ns: number, time_ms: TimeSplitDoc, spans: Array<SpanDoc>, };

export type TraceView = { session_id: string, prompts: Array<PromptTraceDoc>, };

export type ToolLatencyDoc = { tool: string, runs: number, run_p50_ms: number, run_p95_ms: number, waits: number, wait_p50_ms: number, wait_p95_ms: number, wait_total_ms: number, };

export type SlowPromptDoc = { session_id: string, prompt_id: string | null, start: string, duration_ms: number, time_ms: TimeSplitDoc, };

export type LatencyView = { 
/**
 * Most waited-for first, then most run.
 */
tools: Array<ToolLatencyDoc>, 
/**
 * Longest first.
 */
slowest: Array<SlowPromptDoc>, };

export type SetupPreview = { path: string, exists: boolean, 
/**
 * True when the file already holds every entry.
 */
unchanged: boolean, 
/**
 * A unified diff from the current text to the proposed one.
 */
diff: string, proposed: string, };

export type SetupResult = { path: string, 
/**
 * Where the previous file was saved, when there was one.
 */
backup: string | null, written: boolean, };

export type FleetRow = { key: string, users: number, sessions: number, prompts: number, cost_usd: number, tokens: number, lines_added: number, lines_removed: number, edits_accepted: number, edits_rejected: number, 
/**
 * Accepted share of edit decisions, null without decisions.
 */
acceptance: number | null, cost_per_user: number | null, };

export type FleetInfo = { group: string, 
/**
 * Distinct users and sessions over the whole range.
 */
users: number, sessions: number, rows: Array<FleetRow>, };

export type SourceInfo = { kind: "sqlite" | "clickhouse", 
/**
 * The database path, or the ClickHouse URL without its password.
 */
location: string, 
/**
 * Chosen on the command line: the page cannot change it.
 */
locked: boolean, 
/**
 * Set when the ClickHouse password goes over plain HTTP to another host.
 */
warning: string | null, };

export type RefusalDoc = { time: string, transport: string, signal: string, status: string, reason: string, };

export type ReceiverInfo = { grpc: string | null, http: string | null, database: string, source: SourceInfo, paused: boolean, exports_accepted: number, exports_refused: number, records_accepted: number, records_rejected: number, last_export: string | null, 
/**
 * When the newest stored event or metric point was made.
 */
newest_record: string | null, connections_refused: number, 
/**
 * Newest first.
 */
recent_refusals: Array<RefusalDoc>, };

export type LiveCommit = { events: number, points: number, spans: number, };

export type Budgets = { daily_usd: number | null, monthly_usd: number | null, };

export type Usage = { spent_usd: number, limit_usd: number | null, crossed: boolean, };

export type Status = { 
/**
 * The local day (`2026-11-24`) and month (`2026-11`) these figures are for.
 */
day: string, today: Usage, month: Usage, };

export type BudgetInfo = { budgets: Budgets, status: Status, };

export type ByDoc = { key: string, rows: Array<ByRow>, };

export type ByRow = { value: string | null, cost_usd: number, tokens: Tokens, };

export type CostShare = { value: string | null, cost_usd: number, };

export type CostSplit = { key: string, 
/**
 * Highest cost first; `value` null for the cost without the key.
 */
rows: Array<CostShare>, };

export type Attribution = { total_usd: number, splits: Array<CostSplit>, };

export type ApiErrorBody = { code: string, message: string, };
