//! What every API handler shares: the service state it serves from, and the one error type it
//! answers with (`{code, message}`, a stable `code`). In a module of its own so that the route
//! modules (`api`, `managed`) do not import each other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use ccscope_query::{ErrorCode, SourceError};
use ccscope_receiver::ReceiverStats;
use ccscope_store::{Committed, StoreError};
use tokio::sync::broadcast;

use crate::source::SourceHandle;

/// What the API serves from.
#[derive(Clone)]
pub struct ApiState {
    /// The local database (budgets live beside it).
    pub database: PathBuf,
    /// What the dashboard reads: the local database, or an organisation's ClickHouse.
    pub source: SourceHandle,
    pub stats: Arc<ReceiverStats>,
    pub grpc_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    /// The OTLP bearer token, when required, for the settings the UI offers to write.
    pub otlp_token: Option<String>,
    pub changes: broadcast::Sender<Committed>,
    /// Whether the receiver is paused (the desktop app's tray switches it).
    pub paused: Arc<std::sync::atomic::AtomicBool>,
}

/// An API error: its HTTP status, and a body `{"code": …, "message": …}` whose `code` is
/// stable (see `ccscope_query::ErrorCode`; other failures use the status' own name).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: String) -> ApiError {
        let code = match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            StatusCode::FORBIDDEN => "forbidden",
            _ => "internal",
        };
        ApiError {
            status,
            code,
            message,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(crate::dto::ApiErrorBody {
                code: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<SourceError> for ApiError {
    fn from(error: SourceError) -> ApiError {
        let code = error.code();
        let status = match code {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::NoData => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unreachable | ErrorCode::Unauthorized | ErrorCode::Backend => {
                StatusCode::BAD_GATEWAY
            }
            ErrorCode::Output => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::BAD_GATEWAY || status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::warn!(%error, "API query failed");
        }
        ApiError {
            status,
            code: code.as_str(),
            message: error.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        SourceError::from(error).into()
    }
}

/// Runs a query on a blocking thread with the source opened afresh (a read-only connection,
/// or a ClickHouse client sharing its connection pool).
pub(crate) async fn query<T, F>(state: &ApiState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn ccscope_query::Source) -> Result<T, ApiError> + Send + 'static,
{
    let source = state.source.get();
    tokio::task::spawn_blocking(move || {
        let reader = source.open()?;
        work(reader.as_ref())
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("query task failed: {e}"),
        )
    })?
}
