//! Embedded SQLite store for Claude Code telemetry. `Writer` is the one writer (bounded queue,
//! group commit, acknowledgement only after commit, dedup of re-sent exports, cumulative ->
//! delta); `Reader` answers reports on its own read-only connection; `retention` bounds the
//! database by age and size.
//!
//! Must never: acknowledge a write before it is durable; count a re-sent export twice; change
//! a database written by a newer schema.

use std::path::PathBuf;

mod connection;
mod fleet;
mod latency;
mod prepare;
pub mod reader;
pub mod retention;
pub mod schema;
pub mod series;
mod source;
mod sql;
pub mod writer;

pub use connection::Reader;
pub use reader::Health;
pub use writer::{Committed, WriteError, Writer, WriterThread, now_ns};

/// The database file name inside the data directory.
pub const DATABASE_FILE: &str = "ccscope.db";

/// Default retention by age.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// Default size cap of the database.
pub const DEFAULT_MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// How much history the store keeps. `None` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age_days: Option<u32>,
    pub max_bytes: Option<u64>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age_days: Some(DEFAULT_RETENTION_DAYS),
            max_bytes: Some(DEFAULT_MAX_BYTES),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored JSON is unreadable: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no ccscope database at {0} yet: start `ccscope serve` (with the same --data-dir) to create it"
    )]
    Missing(PathBuf),
    #[error(
        "the database was written by a newer ccscope (schema {found}; this build reads up to {supported}): upgrade ccscope"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error(
        "the database has schema {found} but this build needs {expected}: run `ccscope serve` once to migrate it"
    )]
    SchemaTooOld { found: i64, expected: i64 },
    #[error(
        "SQLite refused WAL mode (journal mode is {0}); the data directory must be on a local file system"
    )]
    NoWal(String),
    #[error("cannot flush the write-ahead log to disk: {0}")]
    WalSync(std::io::Error),
    #[error("cannot start the store writer thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid filter: {0}")]
    BadFilter(String),
    /// An error a `Source` caller's callback returned, carried through unchanged.
    #[error(transparent)]
    Source(#[from] ccscope_query::SourceError),
}

impl From<StoreError> for ccscope_query::SourceError {
    fn from(error: StoreError) -> Self {
        use ccscope_query::SourceError;
        match error {
            StoreError::Source(inner) => inner,
            StoreError::BadFilter(message) => SourceError::BadRequest(message),
            StoreError::Io(io) => SourceError::Output(io),
            missing @ (StoreError::Missing(_)
            | StoreError::SchemaTooOld { .. }
            | StoreError::SchemaTooNew { .. }) => SourceError::NoData(missing.to_string()),
            other => SourceError::Backend(other.to_string()),
        }
    }
}
