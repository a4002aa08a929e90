//! The ccscope service: the store's writer behind the OTLP receiver, started and stopped as
//! one. The CLI's `serve` and (later) the desktop shell both run this.
//!
//! Must never: acknowledge an export the store has not committed; leave the writer running
//! after `stop` returns.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ccscope_receiver::{
    ExportSink, ReceiverConfig, ReceiverError, ReceiverStats, SinkError, StatsSnapshot,
};
use ccscope_store::{Retention, StoreError, WriteError, Writer, WriterThread};

pub mod api;
pub mod assets;
mod attribution;
pub mod budgets;
mod charts;
pub mod claude_settings;
pub mod config;
pub mod dto;
pub mod export;
pub mod guard;
mod latency;
pub mod managed;
mod params;
pub mod report;
mod setup;
pub mod source;
mod state;
mod waterfall;
use ccscope_telemetry::Batch;

/// The receiver's sink: the store writer. Resolves once the batch is committed. While paused
/// (from the desktop app's tray) it refuses exports as "retry later", so senders keep them.
#[derive(Clone)]
pub struct StoreSink {
    writer: Writer,
    paused: Arc<AtomicBool>,
}

impl ExportSink for StoreSink {
    async fn accept(&self, batch: Batch, received_ns: i64) -> Result<(), SinkError> {
        if self.paused.load(Ordering::Relaxed) {
            return Err(SinkError::Unavailable(
                "the receiver is paused; retry later".into(),
            ));
        }
        match self.writer.write(batch, received_ns).await {
            Ok(_) => Ok(()),
            Err(WriteError::Saturated) => Err(SinkError::Saturated),
            Err(other) => Err(SinkError::Unavailable(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Receiver(#[from] ReceiverError),
    #[error("the dashboard cannot listen on {addr}: port {} is already in use", addr.port())]
    UiAddrInUse { addr: SocketAddr },
    #[error("the dashboard cannot listen on {addr}: {source}")]
    UiBind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the dashboard must listen on a loopback address, not {0}: it shows your telemetry to whoever can reach it"
    )]
    UiNotLoopback(SocketAddr),
    #[error("cannot make a launch token: {0}")]
    Token(String),
}

/// What `Service::start` needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub database: PathBuf,
    pub receiver: ReceiverConfig,
    pub retention: Retention,
    /// Where the web UI listens (loopback only); `None` runs without it.
    pub ui: Option<SocketAddr>,
    /// What the dashboard reads, chosen on the command line (the page cannot change it);
    /// `None`: the choice saved in the data directory (`source.json`), else the local database.
    pub source: Option<source::DataSource>,
}

/// How often the dashboard asks a ClickHouse source whether newer telemetry arrived (it has no
/// commits to listen to).
pub const CLICKHOUSE_POLL: std::time::Duration = std::time::Duration::from_secs(10);

/// The dashboard's saved source (`source.json` beside the database), else the database itself.
/// A saved source that no longer parses is logged and ignored.
fn saved_source(database: &Path) -> source::DataSource {
    let local = source::DataSource::Sqlite(database.to_path_buf());
    let Some(dir) = database.parent() else {
        return local;
    };
    match source::SavedSource::load(dir).map(|s| s.map(|s| s.open())) {
        Ok(Some(Ok(source))) => {
            if let Some(warning) = source.cleartext_warning() {
                tracing::warn!("{warning}");
            }
            source
        }
        Ok(None) => local,
        Ok(Some(Err(error))) => {
            tracing::warn!(%error, "ignoring the saved dashboard source");
            local
        }
        Err(error) => {
            tracing::warn!(%error, "ignoring the saved dashboard source");
            local
        }
    }
}

/// Tells live dashboards to refresh whenever a ClickHouse source's newest record changes (the
/// local store announces its own commits).
fn poll_newest(
    source: source::SourceHandle,
    changes: tokio::sync::broadcast::Sender<ccscope_store::Committed>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut newest = None;
        loop {
            let polling = matches!(source.get(), source::DataSource::ClickHouse(_));
            // The local store announces its commits: sleep until the source changes.
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = source.changed() => {}
                _ = tokio::time::sleep(CLICKHOUSE_POLL), if polling => {}
            }
            let current = source.get();
            if !matches!(current, source::DataSource::ClickHouse(_)) {
                newest = None;
                continue;
            }
            let now = tokio::task::spawn_blocking(move || current.open()?.newest_ns()).await;
            match now {
                Ok(Ok(now)) if now != newest => {
                    if newest.is_some() {
                        let _ = changes.send(ccscope_store::Committed::default());
                    }
                    newest = now;
                }
                Ok(Err(error)) => tracing::warn!(%error, "cannot poll the source"),
                _ => {}
            }
        }
    });
}

/// A running service.
pub struct Service {
    pub grpc_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    pub database: PathBuf,
    /// The dashboard's address including the launch token, when it runs.
    pub ui_url: Option<String>,
    stats: Arc<ReceiverStats>,
    paused: Arc<AtomicBool>,
    writer: Writer,
    writer_thread: WriterThread,
    receiver: ccscope_receiver::Running,
    ui_task: Option<tokio::task::JoinHandle<()>>,
}

async fn bind_ui(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    if !addr.ip().is_loopback() {
        return Err(ServeError::UiNotLoopback(addr));
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => ServeError::UiAddrInUse { addr },
            _ => ServeError::UiBind { addr, source },
        })
}

impl Service {
    /// Opens the store and binds the receivers; serves until `shutdown` resolves.
    pub async fn start<F>(config: ServiceConfig, shutdown: F) -> Result<Service, ServeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Bind the dashboard first: a taken port fails before anything else starts.
        let ui_listener = match config.ui {
            Some(addr) => Some(bind_ui(addr).await?),
            None => None,
        };
        let otlp_token = config
            .receiver
            .token
            .as_ref()
            .map(|t| t.as_str().to_owned());
        let (writer, writer_thread) = Writer::start(&config.database, config.retention)?;
        // One shutdown signal for the receivers and the dashboard.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let paused = Arc::new(AtomicBool::new(false));
        let sink = StoreSink {
            writer: writer.clone(),
            paused: Arc::clone(&paused),
        };
        let receiver =
            match ccscope_receiver::start(config.receiver, sink, stopped(stop_rx.clone())).await {
                Ok(running) => running,
                Err(error) => {
                    drop(writer);
                    writer_thread.join();
                    return Err(error.into());
                }
            };
        let mut ui_url = None;
        let mut ui_task = None;
        if let Some(listener) = ui_listener {
            let addr = listener.local_addr().map_err(|source| ServeError::UiBind {
                addr: config.ui.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0))),
                source,
            })?;
            let token =
                guard::LaunchToken::generate().map_err(|e| ServeError::Token(e.to_string()))?;
            ui_url = Some(format!("http://{addr}/?token={}", token.as_str()));
            let locked = config.source.is_some();
            let source = match &config.source {
                Some(source) => source.clone(),
                None => saved_source(&config.database),
            };
            let source = source::SourceHandle::new(source, locked);
            poll_newest(source.clone(), writer.changes(), stop_rx.clone());
            let state = api::ApiState {
                database: config.database.clone(),
                source,
                stats: Arc::clone(&receiver.stats),
                grpc_addr: receiver.grpc_addr,
                http_addr: receiver.http_addr,
                otlp_token: otlp_token.clone(),
                changes: writer.changes(),
                paused: Arc::clone(&paused),
            };
            let router = api::router(state, guard::Guard { token, addr });
            let stop = stopped(stop_rx);
            ui_task = Some(tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::error!(%error, "dashboard server failed");
                }
            }));
        }
        Ok(Service {
            grpc_addr: receiver.grpc_addr,
            http_addr: receiver.http_addr,
            database: config.database,
            ui_url,
            stats: Arc::clone(&receiver.stats),
            paused,
            writer,
            writer_thread,
            receiver,
            ui_task,
        })
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Pauses or resumes the receiver: while paused every export is answered "retry later"
    /// (503 / UNAVAILABLE), so Claude Code keeps and re-sends it.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        tracing::info!(
            paused,
            "receiver {}",
            if paused { "paused" } else { "resumed" }
        );
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// A handle that can pause and resume the receiver from elsewhere (the tray).
    pub fn pause_switch(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.paused)
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    pub fn database(&self) -> &Path {
        &self.database
    }

    /// Waits for the receivers to stop (after the shutdown future resolved), then lets the
    /// writer commit what is queued and close the database.
    pub async fn stopped(self) -> StatsSnapshot {
        self.receiver.stopped().await;
        if let Some(task) = self.ui_task {
            // Live feeds hold their connection open: do not wait on them for long.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
        }
        let stats = self.stats.snapshot();
        drop(self.writer);
        let thread = self.writer_thread;
        if let Err(error) = tokio::task::spawn_blocking(move || thread.join()).await {
            tracing::error!(%error, "store writer did not stop cleanly");
        }
        stats
    }
}
