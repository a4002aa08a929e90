//! GET /api/attribution?key=K (repeatable) + the filter: where the money went — the range's
//! cost split by each attribute Claude Code puts on its cost points (`query_source`,
//! `agent.name`, `skill.name`, `mcp_server.name`, …), one query per key, the keys side by side,
//! on any source.
//!
//! Must never: give a split whose rows do not add up to the range's cost (what lacks the key
//! is the row with no value).

use axum::{
    Json,
    extract::{RawQuery, State},
};

use crate::dto::{Attribution, CostShare, CostSplit, usd};
use crate::params::{Params, bad};
use crate::state::{ApiError, ApiState, query};

/// Most keys one request may split by.
pub const MAX_ATTRIBUTION_KEYS: usize = 12;

pub(crate) async fn attribution(
    State(state): State<ApiState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Attribution>, ApiError> {
    let params = Params::parse(raw)?;
    let filter = params.filter()?;
    let keys: Vec<String> = params.all("key").into_iter().map(str::to_owned).collect();
    if keys.is_empty() || keys.len() > MAX_ATTRIBUTION_KEYS {
        return Err(bad(format!(
            "give 1 to {MAX_ATTRIBUTION_KEYS} attribute keys as key=… (e.g. key=query_source&key=agent.name)"
        )));
    }
    for key in &keys {
        // The same check every attribute key gets (a group by `attr:KEY`).
        ccscope_query::Dimension::parse(&format!("attr:{key}"))?;
    }
    // One query per key, side by side (each on its own connection: a split is a full pass
    // over the range's cost).
    let mut tasks = tokio::task::JoinSet::new();
    for (index, key) in keys.into_iter().enumerate() {
        let (state, filter) = (state.clone(), filter.clone());
        tasks.spawn(async move {
            let rows = query(&state, {
                let key = key.clone();
                move |source| Ok(ccscope_query::cost_by_attribute(source, &key, &filter)?)
            })
            .await?;
            let split = CostSplit {
                key,
                rows: rows
                    .into_iter()
                    .map(|(value, cost)| CostShare {
                        value,
                        cost_usd: usd(cost),
                    })
                    .collect(),
            };
            Ok::<_, ApiError>((index, split))
        });
    }
    let mut splits = Vec::with_capacity(tasks.len());
    while let Some(done) = tasks.join_next().await {
        let joined = done.map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("query task failed: {e}"),
            )
        })?;
        splits.push(joined?);
    }
    splits.sort_by_key(|(index, _)| *index);
    let splits: Vec<CostSplit> = splits.into_iter().map(|(_, split)| split).collect();
    let total_usd = usd(splits
        .first()
        .map(|s| s.rows.iter().map(|r| r.cost_usd).sum())
        .unwrap_or(0.0));
    let body = Attribution { total_usd, splits };
    Ok(Json(body))
}
