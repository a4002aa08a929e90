//! GET /api/attribution?key=K (repeatable) + the filter: where the money went — the range's
//! cost split by each attribute Claude Code puts on its cost points (`query_source`,
//! `agent.name`, `skill.name`, `mcp_server.name`, …), one query per key, on any source.
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
    let body = query(&state, move |source| {
        let mut splits = Vec::with_capacity(keys.len());
        for key in keys {
            let rows = ccscope_query::cost_by_attribute(source, &key, &filter)?;
            splits.push(CostSplit {
                key,
                rows: rows
                    .into_iter()
                    .map(|(value, cost)| CostShare {
                        value,
                        cost_usd: usd(cost),
                    })
                    .collect(),
            });
        }
        let total_usd = usd(splits
            .first()
            .map(|s| s.rows.iter().map(|r| r.cost_usd).sum())
            .unwrap_or(0.0));
        Ok(Attribution { total_usd, splits })
    })
    .await?;
    Ok(Json(body))
}
