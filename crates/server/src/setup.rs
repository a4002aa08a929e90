//! GET/POST /api/setup[?traces=1]: what adding this receiver's settings to the user's
//! `~/.claude/settings.json` would change (the exact diff), and writing it (backup first, atomic
//! replace; the guard requires the page's Origin). With `traces=1` the settings turn Claude
//! Code's spans on too.

use axum::{
    Json,
    extract::{RawQuery, State},
    http::StatusCode,
};

use crate::claude_settings;
use crate::dto::{SetupPreview, SetupResult};
use crate::params::{Params, bad};
use crate::state::{ApiError, ApiState};

fn wants_traces(raw: Option<String>) -> Result<bool, ApiError> {
    match Params::parse(raw)?.get("traces") {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(bad(format!("traces must be 0 or 1, not {other:?}"))),
    }
}

fn plan(state: &ApiState, traces: bool) -> Result<claude_settings::Plan, ApiError> {
    let http = state
        .http_addr
        .map(|a| {
            if a.ip().is_unspecified() {
                format!("127.0.0.1:{}", a.port())
            } else {
                a.to_string()
            }
        })
        .ok_or_else(|| {
            ApiError::new(StatusCode::CONFLICT, "the OTLP/HTTP receiver is off".into())
        })?;
    let env = claude_settings::telemetry_env(&http, state.otlp_token.as_deref(), traces);
    let path = claude_settings::settings_path()
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
    claude_settings::plan(&path, &env)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))
}

fn join_failed(e: tokio::task::JoinError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

pub(crate) async fn preview(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SetupPreview>, ApiError> {
    let traces = wants_traces(raw)?;
    let plan = tokio::task::spawn_blocking(move || plan(&state, traces))
        .await
        .map_err(join_failed)??;
    Ok(Json(SetupPreview {
        path: plan.path.display().to_string(),
        exists: plan.current.is_some(),
        unchanged: plan.unchanged,
        diff: plan.diff,
        proposed: plan.proposed,
    }))
}

pub(crate) async fn apply(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SetupResult>, ApiError> {
    let traces = wants_traces(raw)?;
    let (plan, backup) = tokio::task::spawn_blocking(move || {
        let plan = plan(&state, traces)?;
        if plan.unchanged {
            return Ok::<_, ApiError>((plan, None));
        }
        let now_s = ccscope_store::now_ns() / 1_000_000_000;
        let backup = claude_settings::apply(&plan, now_s)
            .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
        Ok((plan, backup))
    })
    .await
    .map_err(join_failed)??;
    tracing::info!(path = %plan.path.display(), traces, "wrote Claude Code telemetry settings");
    Ok(Json(SetupResult {
        path: plan.path.display().to_string(),
        backup: backup.map(|b| b.display().to_string()),
        written: !plan.unchanged,
    }))
}
