//! Which `Source` the reading commands and the dashboard ask: the local SQLite store (the
//! default) or an organisation's ClickHouse.

use std::path::{Path, PathBuf};

use ccscope_clickhouse::{ClickHouse, Config as ClickHouseConfig};
use ccscope_query::{Source, SourceError};
use ccscope_store::Reader;

#[derive(Debug, thiserror::Error)]
pub enum SourceSpecError {
    #[error(transparent)]
    Url(#[from] ccscope_clickhouse::ConfigError),
    #[error("cannot read the ClickHouse password file {path}: {source}")]
    PasswordFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{0:?} is not a source: give a clickhouse://[user[:password]@]host[:port]/database URL (the local store needs no --source)"
    )]
    Unknown(String),
}

/// A source to open per query: a path (each query opens its own read-only connection) or a
/// ClickHouse client (clones share one connection pool).
#[derive(Debug, Clone)]
pub enum DataSource {
    Sqlite(PathBuf),
    ClickHouse(ClickHouse),
}

impl DataSource {
    /// `spec` is a `clickhouse://` URL; its password, when the URL has none, comes from
    /// `password_file` (first line) or `password_env` (e.g. `CCSCOPE_CLICKHOUSE_PASSWORD`).
    pub fn clickhouse(
        spec: &str,
        password_file: Option<&Path>,
        password_env: Option<String>,
    ) -> Result<DataSource, SourceSpecError> {
        if !ClickHouseConfig::is_clickhouse_url(spec) {
            return Err(SourceSpecError::Unknown(spec.to_owned()));
        }
        let mut config = ClickHouseConfig::parse(spec)?;
        if let Some(path) = password_file {
            let text =
                std::fs::read_to_string(path).map_err(|source| SourceSpecError::PasswordFile {
                    path: path.to_path_buf(),
                    source,
                })?;
            config = config.with_password(text.lines().next().map(str::to_owned));
        }
        config = config.with_password(password_env.filter(|p| !p.is_empty()));
        Ok(DataSource::ClickHouse(ClickHouse::new(config)))
    }

    pub fn open(&self) -> Result<Box<dyn Source>, SourceError> {
        match self {
            DataSource::Sqlite(path) => Ok(Box::new(Reader::open(path)?)),
            DataSource::ClickHouse(ch) => Ok(Box::new(ch.clone())),
        }
    }

    /// What it reads, for messages and the status panel (never a password).
    pub fn describe(&self) -> String {
        match self {
            DataSource::Sqlite(path) => path.display().to_string(),
            DataSource::ClickHouse(ch) => ch.config().display_url(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            DataSource::Sqlite(_) => "sqlite",
            DataSource::ClickHouse(_) => "clickhouse",
        }
    }

    /// Checks that the source answers (ClickHouse: reachable, credentials, tables).
    pub fn check(&self) -> Result<(), SourceError> {
        match self {
            DataSource::Sqlite(_) => Ok(()),
            DataSource::ClickHouse(ch) => ch.check(),
        }
    }
}
