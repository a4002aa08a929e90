//! OTLP/gRPC (tonic transport): the three `Export` methods. The request body is read here, not
//! by tonic's codec, so that: the token is checked before a byte of it is read; the in-flight
//! reservation is taken before reading and grows with every frame (a message cannot sit in
//! memory outside the budget); a gzip-compressed message is inflated by the same capped code
//! as HTTP's; and a malformed message is `INVALID_ARGUMENT` (tonic's prost codec would say
//! `INTERNAL`). Saturation is `UNAVAILABLE`, which OTLP senders retry; a missing token is
//! `UNAUTHENTICATED`.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use ccscope_telemetry::{Encoding, Signal};
use http_body_util::BodyExt;
use tonic::{Status, server::NamedService};

use crate::auth::BearerToken;
use crate::conn::BODY_READ_TIMEOUT;
use crate::ingest::{
    ExportResponse, ExportSink, Ingest, Refusal, Reservation, UNDECLARED_BODY_ESTIMATE, estimate,
    now_ns,
};

/// One OTLP gRPC service (`SIGNAL`: 0 logs, 1 metrics, 2 traces).
pub struct OtlpService<S, const SIGNAL: u8> {
    ingest: Arc<Ingest<S>>,
    token: Option<BearerToken>,
}

impl<S, const SIGNAL: u8> Clone for OtlpService<S, SIGNAL> {
    fn clone(&self) -> Self {
        OtlpService {
            ingest: Arc::clone(&self.ingest),
            token: self.token.clone(),
        }
    }
}

impl<S: ExportSink, const SIGNAL: u8> OtlpService<S, SIGNAL> {
    pub fn new(ingest: Arc<Ingest<S>>, token: Option<BearerToken>) -> Self {
        OtlpService { ingest, token }
    }

    const SIGNAL_KIND: Signal = match SIGNAL {
        0 => Signal::Logs,
        1 => Signal::Metrics,
        _ => Signal::Traces,
    };

    const METHOD: &'static str = match SIGNAL {
        0 => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        1 => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        _ => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    };
}

impl<S, const SIGNAL: u8> NamedService for OtlpService<S, SIGNAL> {
    const NAME: &'static str = match SIGNAL {
        0 => "opentelemetry.proto.collector.logs.v1.LogsService",
        1 => "opentelemetry.proto.collector.metrics.v1.MetricsService",
        _ => "opentelemetry.proto.collector.trace.v1.TraceService",
    };
}

/// The gRPC message header: a compression flag and a big-endian length.
const FRAME_HEADER: usize = 5;

impl<S: ExportSink, const SIGNAL: u8> OtlpService<S, SIGNAL> {
    fn refused(&self, status: Status) -> Status {
        self.ingest.stats.refused(Refusal {
            time_ns: now_ns(),
            transport: "grpc",
            signal: Self::SIGNAL_KIND.as_str(),
            status: format!("{:?}", status.code()),
            reason: status.message().to_owned(),
        });
        status
    }

    /// Reads the one message of a unary call, growing `reservation` as frames arrive.
    async fn read_message<B>(
        &self,
        body: B,
        reservation: &mut Reservation,
        gzip_allowed: bool,
    ) -> Result<(Bytes, bool), Status>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limit = self.ingest.limits().max_body_bytes;
        let read = async {
            let mut body = std::pin::pin!(body);
            let mut buffer = bytes::BytesMut::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| {
                    Status::invalid_argument(format!("could not read the request: {}", e.into()))
                })?;
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let seen = buffer.len().saturating_add(data.len());
                if seen > limit.saturating_add(FRAME_HEADER) {
                    return Err(Status::resource_exhausted(format!(
                        "message exceeds the limit of {limit} bytes"
                    )));
                }
                reservation
                    .grow_to(estimate(Encoding::Protobuf, seen))
                    .await
                    .map_err(|e| Status::unavailable(e.to_string()))?;
                buffer.extend_from_slice(&data);
            }
            Ok(buffer.freeze())
        };
        let mut buffer = tokio::time::timeout(BODY_READ_TIMEOUT, read)
            .await
            .unwrap_or_else(|_| {
                Err(Status::deadline_exceeded(format!(
                    "the request did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                )))
            })?;
        if buffer.len() < FRAME_HEADER {
            return Err(Status::invalid_argument(
                "the request holds no complete gRPC message",
            ));
        }
        let compressed = buffer[0];
        let length = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
        buffer.advance(FRAME_HEADER);
        if length != buffer.len() {
            return Err(Status::invalid_argument(format!(
                "the gRPC message header says {length} bytes but {} arrived (one message per Export call)",
                buffer.len()
            )));
        }
        match compressed {
            0 => Ok((buffer, false)),
            1 if gzip_allowed => Ok((buffer, true)),
            1 => Err(Status::unimplemented(
                "the message is compressed but grpc-encoding is not gzip; ccscope accepts gzip or none",
            )),
            other => Err(Status::invalid_argument(format!(
                "invalid gRPC compression flag {other}"
            ))),
        }
    }

    async fn export<B>(self, request: http::Request<B>) -> Result<Bytes, Status>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        if let Some(token) = &self.token {
            let presented = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !token.matches_str(presented) {
                return Err(self.refused(Status::unauthenticated(
                    "missing or wrong bearer token: set OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>",
                )));
            }
        }
        let gzip_allowed = match parts.headers.get("grpc-encoding").map(|v| v.as_bytes()) {
            None | Some(b"identity") => false,
            Some(b"gzip") => true,
            Some(other) => {
                return Err(self.refused(Status::unimplemented(format!(
                    "unsupported grpc-encoding {:?}; ccscope accepts gzip or none",
                    String::from_utf8_lossy(other)
                ))));
            }
        };
        let mut reservation = self
            .ingest
            .reserve(estimate(Encoding::Protobuf, UNDECLARED_BODY_ESTIMATE))
            .map_err(|e| self.refused(Status::unavailable(e.to_string())))?;
        let (message, gzip) = self
            .read_message(body, &mut reservation, gzip_allowed)
            .await
            .map_err(|status| self.refused(status))?;
        let signal = Self::SIGNAL_KIND;
        match self
            .ingest
            .export(
                reservation,
                "grpc",
                signal,
                Encoding::Protobuf,
                gzip,
                &message,
            )
            .await
        {
            Ok(rejected) => Ok(Bytes::from(
                ExportResponse::new(signal, &rejected).encode(Encoding::Protobuf),
            )),
            Err(error) => Err(self.refused(Status::new(error.grpc_code(), error.to_string()))),
        }
    }
}

/// A unary gRPC answer: the framed message, then `grpc-status: 0` in the trailers.
fn grpc_ok(message: Bytes) -> http::Response<tonic::body::Body> {
    let mut framed = bytes::BytesMut::with_capacity(FRAME_HEADER + message.len());
    framed.put_u8(0);
    framed.put_u32(message.len() as u32);
    framed.extend_from_slice(&message);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let frames = [
        Ok::<_, Infallible>(http_body::Frame::data(framed.freeze())),
        Ok(http_body::Frame::trailers(trailers)),
    ];
    let body = http_body_util::StreamBody::new(tokio_stream::iter(frames));
    let mut response = http::Response::new(tonic::body::Body::new(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    response
}

impl<S, B, const SIGNAL: u8> tower::Service<http::Request<B>> for OtlpService<S, SIGNAL>
where
    S: ExportSink,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let service = self.clone();
        if request.uri().path() != Self::METHOD {
            return Box::pin(async move {
                Ok(
                    Status::unimplemented("ccscope implements only the OTLP Export methods")
                        .into_http(),
                )
            });
        }
        Box::pin(async move {
            Ok(match service.export(request).await {
                Ok(message) => grpc_ok(message),
                Err(status) => status.into_http(),
            })
        })
    }
}
