//! OTLP/HTTP (axum): `POST /v1/{logs,metrics,traces}` with protobuf or JSON bodies, optional
//! gzip, chunked or sized. Answers as the OTLP spec says: the `Export*ServiceResponse` in the
//! request's encoding (with `partial_success` when records were rejected), or a
//! `google.rpc.Status` with 400/401/404/405/413/415/503.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
};
use ccscope_telemetry::{DecodeError, Encoding, Rejections, Signal};
use http_body_util::{BodyExt, Limited};
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
    let headers = request.headers();
    let encoding = match media_type(headers).as_deref() {
        Some("application/x-protobuf") | Some("application/protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        other => {
            if request.method() != Method::POST {
                return method_not_allowed(request.method());
            }
            let message = match other {
                None => "missing Content-Type; OTLP/HTTP takes application/x-protobuf or application/json".to_owned(),
                Some(t) => format!("unsupported Content-Type {t:?}; OTLP/HTTP takes application/x-protobuf or application/json"),
            };
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                message,
                Encoding::Json,
            );
        }
    };
    if request.method() != Method::POST {
        return method_not_allowed(request.method());
    }
    if let Some(token) = &state.token
        && !token.matches(headers.get(header::AUTHORIZATION))
    {
        let message = "missing or wrong bearer token: set OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>".to_owned();
        let mut response = refuse(
            StatusCode::UNAUTHORIZED,
            tonic::Code::Unauthenticated,
            message,
            encoding,
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().map(|s| s.trim().to_ascii_lowercase()))
    {
        None => false,
        Some(Ok(e)) if e == "gzip" || e == "x-gzip" => true,
        Some(Ok(e)) if e == "identity" || e.is_empty() => false,
        Some(other) => {
            let message = format!(
                "unsupported Content-Encoding {:?}; ccscope accepts gzip or none",
                other.unwrap_or_default()
            );
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                tonic::Code::InvalidArgument,
                message,
                encoding,
            );
        }
    };
    let limit = state.ingest.limits().max_body_bytes;
    // Reserve memory before reading: what the sender declares, or an estimate for chunked
    // bodies (topped up once read). A full budget is refused before the body is buffered.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if let Some(size) = declared.filter(|size| *size > limit) {
        let message = format!("request body of {size} bytes exceeds the limit of {limit} bytes");
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            tonic::Code::ResourceExhausted,
            message,
            encoding,
        );
    }
    let reservation = match state
        .ingest
        .reserve(declared.unwrap_or(UNDECLARED_BODY_ESTIMATE))
    {
        Ok(reservation) => reservation,
        Err(error) => return error_response(&refuse, error, encoding),
    };
    let body: Bytes = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                let message = format!("request body exceeds the limit of {limit} bytes");
                refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    tonic::Code::ResourceExhausted,
                    message,
                    encoding,
                )
            } else {
                let message = format!("could not read the request body: {error}");
                refuse(
                    StatusCode::BAD_REQUEST,
                    tonic::Code::InvalidArgument,
                    message,
                    encoding,
                )
            };
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

fn method_not_allowed(method: &Method) -> Response {
    let message = format!("method {method} not allowed; OTLP/HTTP exports use POST");
    let mut response = status_response(
        StatusCode::METHOD_NOT_ALLOWED,
        tonic::Code::Unimplemented,
        message,
        Encoding::Json,
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
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
