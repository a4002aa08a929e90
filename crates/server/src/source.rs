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
    /// Boxed: the client is ten times the size of a path.
    ClickHouse(Box<ClickHouse>),
}

impl DataSource {
    /// `spec` is a `clickhouse://` URL; its password, when the URL has none, comes from
    /// `password_file` (first line) or `password_env` (e.g. `CCSCOPE_CLICKHOUSE_PASSWORD`);
    /// `ca_file` adds certificate authorities to the system's store for HTTPS.
    pub fn clickhouse(
        spec: &str,
        password_file: Option<&Path>,
        password_env: Option<String>,
        ca_file: Option<PathBuf>,
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
        config = config
            .with_password(password_env.filter(|p| !p.is_empty()))
            .with_ca_file(ca_file);
        Ok(DataSource::ClickHouse(Box::new(ClickHouse::new(config)?)))
    }

    /// A warning when the ClickHouse password would cross the network in clear.
    pub fn cleartext_warning(&self) -> Option<String> {
        match self {
            DataSource::Sqlite(_) => None,
            DataSource::ClickHouse(ch) => ch.config().cleartext_warning(),
        }
    }

    pub fn open(&self) -> Result<Box<dyn Source>, SourceError> {
        match self {
            DataSource::Sqlite(path) => Ok(Box::new(Reader::open(path)?)),
            DataSource::ClickHouse(ch) => Ok(Box::new(ClickHouse::clone(ch))),
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

/// The dashboard's current source, switchable while it runs (the Receiver page's "Data source").
#[derive(Debug, Clone)]
pub struct SourceHandle {
    current: std::sync::Arc<std::sync::RwLock<DataSource>>,
    /// Woken when the source changes (the ClickHouse poller sleeps on it otherwise).
    changed: std::sync::Arc<tokio::sync::Notify>,
    /// Set when the command line or `CCSCOPE_SOURCE` chose the source: the page may not change it.
    pub locked: bool,
}

impl SourceHandle {
    pub fn new(source: DataSource, locked: bool) -> SourceHandle {
        SourceHandle {
            current: std::sync::Arc::new(std::sync::RwLock::new(source)),
            changed: std::sync::Arc::new(tokio::sync::Notify::new()),
            locked,
        }
    }

    pub fn get(&self) -> DataSource {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, source: DataSource) {
        match self.current.write() {
            Ok(mut guard) => *guard = source,
            Err(poisoned) => *poisoned.into_inner() = source,
        }
        self.changed.notify_one();
    }

    /// Resolves after the next `set` (or at once if one happened since the last call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// The file in the data directory that remembers the dashboard's chosen source.
pub const SAVED_SOURCE_FILE: &str = "source.json";

/// The dashboard's saved choice: a ClickHouse URL (without its password) and the password,
/// kept in a file only its owner can read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedSource {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedSourceError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a saved source: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot save {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SavedSource {
    /// The saved choice in `data_dir`, if any.
    pub fn load(data_dir: &Path) -> Result<Option<SavedSource>, SavedSourceError> {
        let path = data_dir.join(SAVED_SOURCE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SavedSourceError::Read { path, source }),
        };
        let saved: SavedSource = serde_json::from_str(&text)
            .map_err(|source| SavedSourceError::Parse { path, source })?;
        Ok((!saved.url.is_empty()).then_some(saved))
    }

    /// Saves the choice (0600 on Unix: it may hold a password); `None` forgets it.
    pub fn store(data_dir: &Path, saved: Option<&SavedSource>) -> Result<(), SavedSourceError> {
        let path = data_dir.join(SAVED_SOURCE_FILE);
        let write_error = |source| SavedSourceError::Write {
            path: path.clone(),
            source,
        };
        let Some(saved) = saved else {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(write_error(e)),
                _ => Ok(()),
            };
        };
        std::fs::create_dir_all(data_dir).map_err(write_error)?;
        let text =
            serde_json::to_vec_pretty(saved).map_err(|e| write_error(std::io::Error::other(e)))?;
        let tmp = data_dir.join(format!("{SAVED_SOURCE_FILE}.tmp"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        {
            use std::io::Write;
            let mut file = options.open(&tmp).map_err(write_error)?;
            file.write_all(&text).map_err(write_error)?;
            file.sync_all().map_err(write_error)?;
        }
        std::fs::rename(&tmp, &path).map_err(write_error)
    }

    pub fn open(&self) -> Result<DataSource, SourceSpecError> {
        DataSource::clickhouse(
            &self.url,
            None,
            self.password.clone(),
            crate::config::clickhouse_ca_from_env(),
        )
    }
}
