//! The ccscope service: the store's writer behind the OTLP receiver, started and stopped as
//! one. The CLI's `serve` and (later) the desktop shell both run this.
//!
//! Must never: acknowledge an export the store has not committed; leave the writer running
//! after `stop` returns.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ccscope_receiver::{
    ExportSink, ReceiverConfig, ReceiverError, ReceiverStats, SinkError, StatsSnapshot,
};
use ccscope_store::{Retention, StoreError, WriteError, Writer, WriterThread};
use ccscope_telemetry::Batch;

/// The receiver's sink: the store writer. Resolves once the batch is committed.
#[derive(Clone)]
pub struct StoreSink(Writer);

impl ExportSink for StoreSink {
    async fn accept(&self, batch: Batch, received_ns: i64) -> Result<(), SinkError> {
        match self.0.write(batch, received_ns).await {
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
}

/// What `Service::start` needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub database: PathBuf,
    pub receiver: ReceiverConfig,
    pub retention: Retention,
}

/// A running service.
pub struct Service {
    pub grpc_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    pub database: PathBuf,
    stats: Arc<ReceiverStats>,
    writer: Writer,
    writer_thread: WriterThread,
    receiver: ccscope_receiver::Running,
}

impl Service {
    /// Opens the store and binds the receivers; serves until `shutdown` resolves.
    pub async fn start<F>(config: ServiceConfig, shutdown: F) -> Result<Service, ServeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (writer, writer_thread) = Writer::start(&config.database, config.retention)?;
        let receiver =
            match ccscope_receiver::start(config.receiver, StoreSink(writer.clone()), shutdown)
                .await
            {
                Ok(running) => running,
                Err(error) => {
                    drop(writer);
                    writer_thread.join();
                    return Err(error.into());
                }
            };
        Ok(Service {
            grpc_addr: receiver.grpc_addr,
            http_addr: receiver.http_addr,
            database: config.database,
            stats: Arc::clone(&receiver.stats),
            writer,
            writer_thread,
            receiver,
        })
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
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
        let stats = self.stats.snapshot();
        drop(self.writer);
        let thread = self.writer_thread;
        if let Err(error) = tokio::task::spawn_blocking(move || thread.join()).await {
            tracing::error!(%error, "store writer did not stop cleanly");
        }
        stats
    }
}
