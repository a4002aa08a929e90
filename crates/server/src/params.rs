//! The query string every reading route takes: repeatable keys, and the filter (range,
//! session, user, model, `attr=key=value`) they share.

use axum::http::StatusCode;
use ccscope_query::Filter;

use crate::state::ApiError;

pub(crate) fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message.into())
}

/// Query parameters, with repeatable keys (`attr`, `name`).
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<String>) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|e| bad(format!("bad query string: {e}")))?;
        Ok(Params(pairs))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| bad(format!("{key} must be an integer")))
            })
            .transpose()
    }

    /// The filter: `from`/`to` in Unix nanoseconds (default: the last 24 hours), `session`,
    /// `user`, `model`, and `attr=key=value` (repeatable).
    pub(crate) fn filter(&self) -> Result<Filter, ApiError> {
        let now = ccscope_store::now_ns();
        let to = self.int("to")?.unwrap_or(now);
        let from = self.int("from")?.unwrap_or(to - 86_400_000_000_000);
        if from >= to {
            return Err(bad("from must be before to"));
        }
        let mut attributes = Vec::new();
        for pair in self.all("attr") {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("attr {pair:?} must be key=value")))?;
            attributes.push((k.to_owned(), v.to_owned()));
        }
        Ok(Filter {
            from_ns: from,
            to_ns: to,
            session: self.get("session").map(str::to_owned),
            user: self.get("user").map(str::to_owned),
            model: self.get("model").map(str::to_owned),
            attributes,
        })
    }

    /// The same filter over the period just before.
    pub(crate) fn previous(filter: &Filter) -> Filter {
        let span = filter.to_ns - filter.from_ns;
        Filter {
            from_ns: filter.from_ns - span,
            to_ns: filter.from_ns,
            ..filter.clone()
        }
    }
}
