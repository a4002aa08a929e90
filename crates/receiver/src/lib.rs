//! OTLP receiver for Claude Code: gRPC (default 127.0.0.1:4317) and HTTP (default
//! 127.0.0.1:4318) for logs, metrics and traces. Both transports share one ingest path
//! (`ingest`) and hand normalised batches to an `ExportSink`; an export is acknowledged only
//! when the sink says its records are durable.
//!
//! Must never: bind a non-loopback address without a bearer token; buffer without bound
//! (a full store or in-flight budget answers "retry later"); panic on any input.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub mod auth;
pub mod budget;
pub mod conn;
mod error;
pub mod grpc;
pub mod http;
pub mod ingest;

pub use auth::BearerToken;
pub use ingest::{
    ExportSink, Ingest, IngestError, Limits, RECORD_BYTES, ReceiverStats, Refusal, SinkError,
    StatsSnapshot,
};

/// Default OTLP/gRPC address.
pub const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:4317";
/// Default OTLP/HTTP address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:4318";

/// Which listener an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Grpc,
    Http,
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Listener::Grpc => "OTLP/gRPC",
            Listener::Http => "OTLP/HTTP",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error("{listener} cannot listen on {addr}: port {} is already in use", addr.port())]
    AddrInUse {
        listener: Listener,
        addr: SocketAddr,
    },
    #[error("{listener} cannot listen on {addr}: {source}")]
    Bind {
        listener: Listener,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{listener} would listen on {addr}, which is not a loopback address, without a bearer token: anyone on the network could send data. Pass --otlp-token TOKEN, or bind 127.0.0.1"
    )]
    OpenWithoutToken {
        listener: Listener,
        addr: SocketAddr,
    },
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub grpc: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub token: Option<BearerToken>,
    pub limits: Limits,
}

/// Receivers that are listening. Addresses are the bound ones (a port 0 is resolved).
pub struct Running {
    pub grpc_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    pub stats: Arc<ReceiverStats>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Waits until both servers have stopped (after the shutdown signal, once in-flight
    /// exports are answered).
    pub async fn stopped(self) {
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "receiver task failed");
            }
        }
    }
}

async fn bind(
    listener: Listener,
    addr: SocketAddr,
    token: &Option<BearerToken>,
) -> Result<TcpListener, ReceiverError> {
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(ReceiverError::OpenWithoutToken { listener, addr });
    }
    TcpListener::bind(addr)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => ReceiverError::AddrInUse { listener, addr },
            _ => ReceiverError::Bind {
                listener,
                addr,
                source,
            },
        })
}

/// Binds every configured listener (so a taken port fails before anything starts), then serves
/// until `shutdown` resolves.
pub async fn start<S, F>(
    config: ReceiverConfig,
    sink: S,
    shutdown: F,
) -> Result<Running, ReceiverError>
where
    S: ExportSink,
    F: Future<Output = ()> + Send + 'static,
{
    let grpc_listener = match config.grpc {
        Some(addr) => Some(bind(Listener::Grpc, addr, &config.token).await?),
        None => None,
    };
    let http_listener = match config.http {
        Some(addr) => Some(bind(Listener::Http, addr, &config.token).await?),
        None => None,
    };
    let stats = Arc::new(ReceiverStats::default());
    let ingest = Arc::new(Ingest::new(sink, config.limits, Arc::clone(&stats)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    }));
    let stopped = move |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let mut grpc_addr = None;
    if let Some(listener) = grpc_listener {
        grpc_addr = listener.local_addr().ok();
        let slots = conn::Slots::new(
            conn::MAX_CONNECTIONS,
            Arc::clone(&stats.connections_refused),
        );
        // Connections are accepted here (within the cap) and handed to tonic through a
        // one-place channel; the accept task ends when tonic drops the receiving side.
        let (conn_tx, conn_rx) =
            tokio::sync::mpsc::channel::<Result<conn::Guarded, std::io::Error>>(1);
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    connection = slots.accept(&listener) => {
                        if conn_tx.send(Ok(connection)).await.is_err() {
                            break;
                        }
                    }
                    () = conn_tx.closed() => break,
                }
            }
        }));
        let incoming = tokio_stream::wrappers::ReceiverStream::new(conn_rx);
        let server = tonic::transport::Server::builder()
            .max_concurrent_streams(Some(conn::H2_MAX_STREAMS))
            .initial_connection_window_size(Some(conn::H2_CONNECTION_WINDOW))
            .initial_stream_window_size(Some(conn::H2_STREAM_WINDOW))
            .http2_keepalive_interval(Some(std::time::Duration::from_secs(60)))
            .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
            .add_service(grpc::OtlpService::<S, 0>::new(
                Arc::clone(&ingest),
                config.token.clone(),
            ))
            .add_service(grpc::OtlpService::<S, 1>::new(
                Arc::clone(&ingest),
                config.token.clone(),
            ))
            .add_service(grpc::OtlpService::<S, 2>::new(
                Arc::clone(&ingest),
                config.token.clone(),
            ));
        let stop = stopped(stop_rx.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(error) = server.serve_with_incoming_shutdown(incoming, stop).await {
                tracing::error!(%error, "OTLP/gRPC server failed");
            }
        }));
    }
    let mut http_addr = None;
    if let Some(listener) = http_listener {
        http_addr = listener.local_addr().ok();
        let router = http::router(Arc::clone(&ingest), config.token.clone());
        let slots = conn::Slots::new(
            conn::MAX_CONNECTIONS,
            Arc::clone(&stats.connections_refused),
        );
        let stop = stopped(stop_rx);
        tasks.push(tokio::spawn(http::serve(listener, slots, router, stop)));
    }
    Ok(Running {
        grpc_addr,
        http_addr,
        stats,
        tasks,
    })
}
