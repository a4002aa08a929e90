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
use ccscope_telemetry::{DecodeError, Encoding, Rejections, Signal};
use http_body_util::BodyExt;
use prost::Message;

use crate::auth::BearerToken;
use crate::ingest::{
    ExportResponse, ExportSink, Ingest, IngestError, Refusal, UNDECLARED_BODY_ESTIMATE, json_bytes,
    now_ns,
};

/// Seconds a saturated receiver asks senders to wait.
pub const RETRY_AFTER_SECONDS: u32 = 2;

struct HttpState<S> {
    ingest: Arc<Ingest<S>>,
    token: Option<BearerToken>,
}

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
}

impl Refused {
    fn new(status: StatusCode, code: tonic::Code, message: String, encoding: Encoding) -> Refused {
        Refused {
            status,
            code,
            message,
            encoding,
            extra_header: None,
        }
    }
}

/// Checks method, content type, token and encoding. Returns the body's encoding and whether
/// it is gzip-compressed.
fn check_headers<S>(
    state: &HttpState<S>,
    parts: &http::request::Parts,
) -> Result<(Encoding, bool), Refused> {
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
    if let Some(token) = &state.token
        && !token.matches(parts.headers.get(header::AUTHORIZATION))
    {
        let message = "missing or wrong bearer token: set OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>";
        let mut refused = Refused::new(
            StatusCode::UNAUTHORIZED,
            tonic::Code::Unauthenticated,
            message.into(),
            encoding,
        );
        refused.extra_header = Some((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        return Err(refused);
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

/// Bytes of an unwanted body read and discarded before answering, so the sender reads the
/// answer instead of a reset connection; past this the connection is simply closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

enum BodyError {
    TooLarge,
    Read(String),
}

/// Reads a body up to `limit` bytes. Over the limit, the rest is drained (up to
/// `DRAIN_LIMIT`) and `TooLarge` returned.
async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut buffer = bytes::BytesMut::new();
    let mut too_large = false;
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if too_large || seen > limit {
            too_large = true;
            buffer.clear();
            if seen > DRAIN_LIMIT {
                break;
            }
            continue;
        }
        buffer.extend_from_slice(&data);
    }
    if too_large {
        Err(BodyError::TooLarge)
    } else {
        Ok(buffer.freeze())
    }
}

async fn drain(body: Body) {
    let _ = read_body(body, 0).await;
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
            drain(body).await;
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
            return response;
        }
    };
    // Reserve memory before reading: what the sender declares, or an estimate for chunked
    // bodies (topped up once read). A full budget is refused before the body is buffered.
    let reservation = match state
        .ingest
        .reserve(declared.unwrap_or(UNDECLARED_BODY_ESTIMATE))
    {
        Ok(reservation) => reservation,
        Err(error) => {
            drain(body).await;
            return error_response(&refuse, error, encoding);
        }
    };
    let body = match read_body(body, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let message = format!("request body exceeds the limit of {limit} bytes");
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                tonic::Code::ResourceExhausted,
                message,
                encoding,
            );
        }
        Err(BodyError::Read(error)) => {
            let message = format!("could not read the request body: {error}");
            return refuse(
                StatusCode::BAD_REQUEST,
                tonic::Code::InvalidArgument,
                message,
                encoding,
            );
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
    let (status, code) = match &error {
        IngestError::Decode(DecodeError::TooLarge { .. }) | IngestError::TooLarge { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            tonic::Code::ResourceExhausted,
        ),
        IngestError::Decode(_) => (StatusCode::BAD_REQUEST, tonic::Code::InvalidArgument),
        IngestError::Busy(_) | IngestError::Sink(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable)
        }
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
