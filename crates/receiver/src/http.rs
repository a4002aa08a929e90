//! OTLP/HTTP (axum): `POST /v1/{logs,metrics,traces}` with protobuf or JSON bodies, optional
//! gzip, chunked or sized. Answers as the OTLP spec says: the `Export*ServiceResponse` in the
//! request's encoding (with `partial_success` when records were rejected), or a
//! `google.rpc.Status` with 400/401/404/405/413/415/503.

use std::sync::Arc;

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
};
use ccscope_telemetry::{Encoding, Rejections, Signal};
use http_body_util::BodyExt;
use prost::Message;

use crate::auth::BearerToken;
use crate::conn::{
    BODY_READ_TIMEOUT, H2_CONNECTION_WINDOW, H2_MAX_STREAMS, H2_STREAM_WINDOW, HEADER_READ_TIMEOUT,
    Slots,
};
use crate::ingest::{
    ExportResponse, ExportSink, Ingest, IngestError, Refusal, Reservation,
    UNDECLARED_BODY_ESTIMATE, estimate, json_bytes, now_ns,
};

/// Seconds a saturated receiver asks senders to wait.
pub const RETRY_AFTER_SECONDS: u32 = 2;

struct HttpState<S> {
    ingest: Arc<Ingest<S>>,
    token: Option<BearerToken>,
}

/// Serves OTLP/HTTP on `listener` (HTTP/1.1, and HTTP/2 with prior knowledge) until `stop`
/// resolves, then lets the exports in flight finish. Connections are capped by `slots`; a
/// request's headers must arrive within `HEADER_READ_TIMEOUT`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    slots: Slots,
    router: Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
        .initial_stream_window_size(H2_STREAM_WINDOW);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            connection = slots.accept(&listener) => {
                let service = hyper_util::service::TowerToHyperService::new(router.clone());
                let served = builder.serve_connection(TokioIo::new(connection), service).into_owned();
                let watched = graceful.watch(served);
                tokio::spawn(async move {
                    if let Err(error) = watched.await {
                        tracing::debug!(%error, "OTLP/HTTP connection ended");
                    }
                });
            }
            () = &mut stop => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("OTLP/HTTP connections still open after the shutdown grace period");
    }
}

/// How long a stopping server waits for exports in flight.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The OTLP/HTTP router.
pub fn router<S: ExportSink>(ingest: Arc<Ingest<S>>, token: Option<BearerToken>) -> Router {
    let state = Arc::new(HttpState { ingest, token });
    Router::new()
        .route("/v1/logs", any(export::<S, 0>))
        .route("/v1/metrics", any(export::<S, 1>))
        .route("/v1/traces", any(export::<S, 2>))
        .fallback(not_found)
        .with_state(state)
}

/// `google.rpc.Status`, the error body OTLP/HTTP specifies.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

fn status_response(
    status: StatusCode,
    grpc_code: tonic::Code,
    message: String,
    encoding: Encoding,
) -> Response {
    let body = RpcStatus {
        code: grpc_code as i32,
        message,
    };
    let bytes = match encoding {
        Encoding::Protobuf => body.encode_to_vec(),
        Encoding::Json => json_bytes(&body),
    };
    (
        status,
        [(header::CONTENT_TYPE, content_type(encoding))],
        bytes,
    )
        .into_response()
}

async fn not_found(request: Request) -> Response {
    let message = format!(
        "no OTLP endpoint at {}; use POST /v1/logs, /v1/metrics or /v1/traces",
        request.uri().path()
    );
    status_response(
        StatusCode::NOT_FOUND,
        tonic::Code::NotFound,
        message,
        Encoding::Json,
    )
}

fn signal_of(index: u8) -> Signal {
    match index {
        0 => Signal::Logs,
        1 => Signal::Metrics,
        _ => Signal::Traces,
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// A refusal decided before the body is read.
struct Refused {
    status: StatusCode,
    code: tonic::Code,
    message: String,
    encoding: Encoding,
    extra_header: Option<(header::HeaderName, HeaderValue)>,
    /// Whether to read (and discard) a little of the body so the sender sees the answer; a
    /// refused sender (no token, foreign Host) gets the answer and a closed connection.
    drain: bool,
}

impl Refused {
    fn new(status: StatusCode, code: tonic::Code, message: String, encoding: Encoding) -> Refused {
        Refused {
            status,
            code,
            message,
            encoding,
            extra_header: None,
            drain: true,
        }
    }
}

/// Whether `host` (a Host header's value) names this machine's loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks token, Host, method, content type and encoding, in that order (nothing about the
/// request is looked at before its token). Returns the body's encoding and whether it is
/// gzip-compressed.
fn check_headers<S>(
    state: &HttpState<S>,
    parts: &http::request::Parts,
) -> Result<(Encoding, bool), Refused> {
    let answer_encoding = match media_type(&parts.headers).as_deref() {
        Some("application/x-protobuf") | Some("application/protobuf") => Encoding::Protobuf,
        _ => Encoding::Json,
    };
    match &state.token {
        Some(token) if !token.matches(parts.headers.get(header::AUTHORIZATION)) => {
            let message = "missing or wrong bearer token: set OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>";
            let mut refused = Refused::new(
                StatusCode::UNAUTHORIZED,
                tonic::Code::Unauthenticated,
                message.into(),
                answer_encoding,
            );
            refused.extra_header =
                Some((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            refused.drain = false;
            return Err(refused);
        }
        Some(_) => {}
        None => {
            // Without a token only this machine may send, and a web page that had a name
            // re-pointed at 127.0.0.1 (DNS rebinding) sends its own Host.
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                .unwrap_or("");
            if !is_loopback_host(host) {
                let message = format!(
                    "Host {host:?} is not a loopback name; without --otlp-token this receiver takes exports addressed to localhost or 127.0.0.1 only"
                );
                let mut refused = Refused::new(
                    StatusCode::MISDIRECTED_REQUEST,
                    tonic::Code::PermissionDenied,
                    message,
                    answer_encoding,
                );
                refused.drain = false;
                return Err(refused);
            }
        }
    }
    let media = media_type(&parts.headers);
    let encoding = match media.as_deref() {
        Some("application/x-protobuf") | Some("application/protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        _ if parts.method != Method::POST => return Err(method_not_allowed(&parts.method)),
        None => {
            let message =
                "missing Content-Type; OTLP/HTTP takes application/x-protobuf or application/json";
            return Err(Refused::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                message.into(),
                Encoding::Json,
            ));
        }
        Some(other) => {
            let message = format!(
                "unsupported Content-Type {other:?}; OTLP/HTTP takes application/x-protobuf or application/json"
            );
            return Err(Refused::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                message,
                Encoding::Json,
            ));
        }
    };
    if parts.method != Method::POST {
        return Err(method_not_allowed(&parts.method));
    }
    let content_encoding = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().map(|s| s.trim().to_ascii_lowercase()));
    let gzip = match content_encoding {
        None => false,
        Some(Ok(e)) if e == "gzip" || e == "x-gzip" => true,
        Some(Ok(e)) if e == "identity" || e.is_empty() => false,
        Some(other) => {
            let message = format!(
                "unsupported Content-Encoding {:?}; ccscope accepts gzip or none",
                other.unwrap_or_default()
            );
            return Err(Refused::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                message,
                encoding,
            ));
        }
    };
    Ok((encoding, gzip))
}

/// Bytes of an unwanted body read and discarded before answering, so that a sender that is
/// still writing reads the answer instead of a reset connection; past this (or
/// `DRAIN_TIMEOUT`) the connection is simply closed.
const DRAIN_LIMIT: usize = 1024 * 1024;
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

enum BodyError {
    TooLarge,
    Busy(IngestError),
    TimedOut,
    Read(String),
}

/// Reads a body of at most `limit` bytes, growing `reservation` as it arrives (so a chunked
/// body can never hold more memory than the in-flight budget allows), within
/// `BODY_READ_TIMEOUT`.
async fn read_body(
    body: Body,
    limit: usize,
    encoding: Encoding,
    reservation: &mut Reservation,
) -> Result<Bytes, BodyError> {
    let read = async {
        let mut body = body;
        let mut buffer = bytes::BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let seen = buffer.len().saturating_add(data.len());
            if seen > limit {
                return Err(BodyError::TooLarge);
            }
            reservation
                .grow_to(estimate(encoding, seen))
                .await
                .map_err(BodyError::Busy)?;
            buffer.extend_from_slice(&data);
        }
        Ok(buffer.freeze())
    };
    tokio::time::timeout(BODY_READ_TIMEOUT, read)
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

/// Reads and discards a little of an unwanted body (see `DRAIN_LIMIT`).
async fn drain(body: Body) {
    let discard = async {
        let mut body = body;
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen = seen.saturating_add(data.len());
                if seen > DRAIN_LIMIT {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, discard).await;
}

/// Marks an answer given before its request's body was read whole: the connection closes.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn export<S: ExportSink, const SIGNAL: u8>(
    State(state): State<Arc<HttpState<S>>>,
    request: Request,
) -> Response {
    let signal = signal_of(SIGNAL);
    let refuse = |status: StatusCode, code: tonic::Code, message: String, encoding: Encoding| {
        state.ingest.stats.refused(Refusal {
            time_ns: now_ns(),
            transport: "http",
            signal: signal.as_str(),
            status: status.as_u16().to_string(),
            reason: message.clone(),
        });
        status_response(status, code, message, encoding)
    };
    let (parts, body) = request.into_parts();
    let limit = state.ingest.limits().max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let checked = check_headers(&state, &parts).and_then(|(encoding, gzip)| match declared {
        Some(size) if size > limit => Err(Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            tonic::Code::ResourceExhausted,
            format!("request body of {size} bytes exceeds the limit of {limit} bytes"),
            encoding,
        )),
        _ => Ok((encoding, gzip)),
    });
    let (encoding, gzip) = match checked {
        Ok(ok) => ok,
        Err(refused) => {
            if refused.drain {
                drain(body).await;
            }
            let mut response = if refused.status == StatusCode::METHOD_NOT_ALLOWED {
                status_response(
                    refused.status,
                    refused.code,
                    refused.message,
                    refused.encoding,
                )
            } else {
                refuse(
                    refused.status,
                    refused.code,
                    refused.message,
                    refused.encoding,
                )
            };
            if let Some((name, value)) = refused.extra_header {
                response.headers_mut().insert(name, value);
            }
            return closing(response);
        }
    };
    // Reserve memory before reading: what the sender declares, or a small estimate for chunked
    // bodies, grown as the body arrives. A spent budget is refused before anything is buffered.
    let mut reservation = match state.ingest.reserve(estimate(
        encoding,
        declared.unwrap_or(UNDECLARED_BODY_ESTIMATE),
    )) {
        Ok(reservation) => reservation,
        Err(error) => {
            drain(body).await;
            return closing(error_response(&refuse, error, encoding));
        }
    };
    let body = match read_body(body, limit, encoding, &mut reservation).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let message = format!("request body exceeds the limit of {limit} bytes");
            return closing(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                tonic::Code::ResourceExhausted,
                message,
                encoding,
            ));
        }
        Err(BodyError::Busy(error)) => {
            return closing(error_response(&refuse, error, encoding));
        }
        Err(BodyError::TimedOut) => {
            let message = format!(
                "the request body did not arrive within {} s",
                BODY_READ_TIMEOUT.as_secs()
            );
            return closing(refuse(
                StatusCode::REQUEST_TIMEOUT,
                tonic::Code::DeadlineExceeded,
                message,
                encoding,
            ));
        }
        Err(BodyError::Read(error)) => {
            let message = format!("could not read the request body: {error}");
            return closing(refuse(
                StatusCode::BAD_REQUEST,
                tonic::Code::InvalidArgument,
                message,
                encoding,
            ));
        }
    };
    match state
        .ingest
        .export(reservation, "http", signal, encoding, gzip, &body)
        .await
    {
        Ok(rejected) => success(signal, encoding, &rejected),
        Err(error) => error_response(&refuse, error, encoding),
    }
}

/// The OTLP/HTTP answer to a refused export; "retry later" ones carry `Retry-After`.
fn error_response(
    refuse: &impl Fn(StatusCode, tonic::Code, String, Encoding) -> Response,
    error: IngestError,
    encoding: Encoding,
) -> Response {
    let code = error.grpc_code();
    let status = match code {
        tonic::Code::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
        tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = refuse(status, code, error.to_string(), encoding);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    response
}

fn method_not_allowed(method: &Method) -> Refused {
    let message = format!("method {method} not allowed; OTLP/HTTP exports use POST");
    let mut refused = Refused::new(
        StatusCode::METHOD_NOT_ALLOWED,
        tonic::Code::Unimplemented,
        message,
        Encoding::Json,
    );
    refused.extra_header = Some((header::ALLOW, HeaderValue::from_static("POST")));
    refused
}

fn success(signal: Signal, encoding: Encoding, rejected: &Rejections) -> Response {
    let bytes = ExportResponse::new(signal, rejected).encode(encoding);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type(encoding))],
        bytes,
    )
        .into_response()
}

fn content_type(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    }
}
