//! Connections of both listeners: how many may be open at once, how long one may sit idle,
//! and the HTTP/2 windows that bound what a peer can make us buffer before we read it.
//!
//! Must never: accept a connection past the cap (it is closed at once, and counted), or keep
//! one whose peer has sent nothing for `IDLE_TIMEOUT`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Connections open at once on one listener; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 256;
/// A connection whose peer sends nothing for this long is closed (Claude Code exports every
/// 5 s (logs) to 60 s (metrics) and reconnects when it needs to).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// An HTTP/1 request's headers must arrive within this long of the connection or of the
/// previous answer.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body must arrive within this long (16 MiB at 280 KB/s).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// HTTP/2 flow-control windows: what one connection (and one stream) may send before we read
/// it. With `MAX_CONNECTIONS` this bounds the bytes peers can park in our buffers.
pub const H2_CONNECTION_WINDOW: u32 = 256 * 1024;
pub const H2_STREAM_WINDOW: u32 = 256 * 1024;
/// Concurrent HTTP/2 streams (exports) on one connection.
pub const H2_MAX_STREAMS: u32 = 64;

/// The connection slots of one listener.
#[derive(Clone)]
pub struct Slots {
    semaphore: Arc<Semaphore>,
    refused: Arc<AtomicU64>,
}

impl Slots {
    pub fn new(max: usize, refused: Arc<AtomicU64>) -> Slots {
        Slots {
            semaphore: Arc::new(Semaphore::new(max)),
            refused,
        }
    }

    /// Accepts the next connection that gets a slot; connections past the cap are closed.
    pub async fn accept(&self, listener: &TcpListener) -> Guarded {
        loop {
            let (tcp, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match Arc::clone(&self.semaphore).try_acquire_owned() {
                Ok(permit) => {
                    if let Err(error) = tcp.set_nodelay(true) {
                        tracing::debug!(%error, "cannot set TCP_NODELAY");
                    }
                    return Guarded::new(tcp, permit);
                }
                Err(_) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("connection refused: {MAX_CONNECTIONS} are open");
                    drop(tcp);
                }
            }
        }
    }
}

/// An accepted connection holding its slot, closed when its peer is idle too long.
pub struct Guarded {
    io: TcpStream,
    _slot: OwnedSemaphorePermit,
    idle: Pin<Box<Sleep>>,
}

impl Guarded {
    fn new(io: TcpStream, slot: OwnedSemaphorePermit) -> Guarded {
        Guarded {
            io,
            _slot: slot,
            idle: Box::pin(tokio::time::sleep(IDLE_TIMEOUT)),
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                self.idle.as_mut().reset(Instant::now() + IDLE_TIMEOUT);
                Poll::Ready(result)
            }
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer sent nothing for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Guarded {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}
