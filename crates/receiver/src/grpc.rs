//! OTLP/gRPC (tonic): the three `Export` methods. Messages reach us as raw bytes (a pass-through
//! codec) so decoding shares the HTTP path and a malformed message is `INVALID_ARGUMENT` (tonic's
//! own prost codec would say `INTERNAL`). Saturation is `UNAVAILABLE`, which OTLP senders
//! retry; a missing token is `UNAUTHENTICATED`.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use ccscope_telemetry::{DecodeError, Encoding, Signal};
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    server::{NamedService, UnaryService},
};

use crate::auth::BearerToken;
use crate::ingest::{ExportResponse, ExportSink, Ingest, IngestError, Refusal, now_ns};

/// Passes message bytes through untouched in both directions.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

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

struct ExportMethod<S, const SIGNAL: u8>(OtlpService<S, SIGNAL>);

impl<S: ExportSink, const SIGNAL: u8> UnaryService<Bytes> for ExportMethod<S, SIGNAL> {
    type Response = Bytes;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<tonic::Response<Bytes>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move { service.export(request).await })
    }
}

impl<S: ExportSink, const SIGNAL: u8> OtlpService<S, SIGNAL> {
    async fn export(
        &self,
        request: tonic::Request<Bytes>,
    ) -> Result<tonic::Response<Bytes>, Status> {
        let signal = Self::SIGNAL_KIND;
        let refuse = |status: Status| {
            self.ingest.stats.refused(Refusal {
                time_ns: now_ns(),
                transport: "grpc",
                signal: signal.as_str(),
                status: format!("{:?}", status.code()),
                reason: status.message().to_owned(),
            });
            status
        };
        if let Some(token) = &self.token {
            let presented = request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !token.matches_str(presented) {
                return Err(refuse(Status::unauthenticated(
                    "missing or wrong bearer token: set OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>",
                )));
            }
        }
        let body = request.into_inner();
        // tonic has already inflated a gzip-compressed message (within the message size cap).
        // tonic has read the message already (within its size cap); account for it now.
        let reservation = match self.ingest.reserve(body.len()) {
            Ok(reservation) => reservation,
            Err(error) => return Err(refuse(Status::unavailable(error.to_string()))),
        };
        match self
            .ingest
            .export(
                reservation,
                "grpc",
                signal,
                Encoding::Protobuf,
                false,
                &body,
            )
            .await
        {
            Ok(rejected) => {
                let bytes = ExportResponse::new(signal, &rejected).encode(Encoding::Protobuf);
                Ok(tonic::Response::new(Bytes::from(bytes)))
            }
            Err(error) => {
                let code = match &error {
                    IngestError::Decode(DecodeError::TooLarge { .. })
                    | IngestError::TooLarge { .. } => Code::ResourceExhausted,
                    IngestError::Decode(_) => Code::InvalidArgument,
                    IngestError::Busy(_) | IngestError::Sink(_) => Code::Unavailable,
                };
                Err(refuse(Status::new(code, error.to_string())))
            }
        }
    }
}

impl<S, B, const SIGNAL: u8> tower::Service<http::Request<B>> for OtlpService<S, SIGNAL>
where
    S: ExportSink,
    B: http_body::Body + Send + 'static,
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
        let max = service.ingest.limits().max_decompressed_bytes;
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                .max_decoding_message_size(max);
            Ok(grpc.unary(ExportMethod(service), request).await)
        })
    }
}
