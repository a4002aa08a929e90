//! GET /api/latency + the filter: each tool's run time with the developer's permission wait
//! apart, and the slowest prompts of the range with where their time went (time to first token
//! by model is the `ttft` chart). Engine-neutral: `ccscope_query::latency` on any source.

use axum::{
    Json,
    extract::{RawQuery, State},
};

use crate::dto::{LatencyView, SlowPromptDoc, TimeSplitDoc, ToolLatencyDoc, rfc3339};
use crate::params::{Params, bad};
use crate::state::{ApiError, ApiState, query};

/// How many of the slowest prompts the page lists by default, and at most.
pub const SLOWEST_PROMPTS: usize = 10;
pub const MAX_SLOWEST_PROMPTS: usize = 100;

pub(crate) async fn latency(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<LatencyView>, ApiError> {
    let params = Params::parse(raw)?;
    let filter = params.filter()?;
    let limit = match params.int("limit")? {
        None => SLOWEST_PROMPTS,
        Some(n) if (1..=MAX_SLOWEST_PROMPTS as i64).contains(&n) => n as usize,
        Some(_) => return Err(bad(format!("limit must be 1 to {MAX_SLOWEST_PROMPTS}"))),
    };
    let body = query(&state, move |source| {
        let tools = ccscope_query::latency::tool_latency(source, &filter)?
            .into_iter()
            .map(|t| ToolLatencyDoc {
                tool: t.tool,
                runs: t.runs,
                run_p50_ms: t.run_p50_ms,
                run_p95_ms: t.run_p95_ms,
                waits: t.waits,
                wait_p50_ms: t.wait_p50_ms,
                wait_p95_ms: t.wait_p95_ms,
                wait_total_ms: t.wait_total_ms,
            })
            .collect();
        let slowest = ccscope_query::latency::slowest_prompts(source, &filter, limit)?
            .into_iter()
            .map(|p| SlowPromptDoc {
                session_id: p.session_id,
                prompt_id: p.prompt_id,
                start: rfc3339(p.start_ns),
                duration_ms: (p.end_ns - p.start_ns) as f64 / 1e6,
                time_ms: TimeSplitDoc {
                    model: p.time_ms.model,
                    tools: p.time_ms.tools,
                    waiting_for_user: p.time_ms.waiting_for_user,
                    other: p.time_ms.other,
                },
            })
            .collect();
        Ok(LatencyView { tools, slowest })
    })
    .await?;
    Ok(Json(body))
}
