//! The managed-settings API behind the UI's settings forms: this machine's sources and effective
//! values, the preview of a document (canonical bytes, hash, diff, field-level findings), and
//! applying it or restoring a backup through the privileged helper. The server never writes a
//! managed file itself.

use std::path::PathBuf;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ccscope_settings::backup::{list_backups, parse_backup_id};
use ccscope_settings::canonical::sha256_hex;
use ccscope_settings::elevate::{self, Elevation, HelperOutcome, HelperRequest};
use ccscope_settings::paths::{self, Layout};
use ccscope_settings::schema::{binary_keys, overlaid_schema};
use ccscope_settings::sources::Sources;
use ccscope_settings::{Target, preview};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::{ApiError, ApiState};

/// Largest settings document the UI may send (the helper's own cap is 1 MiB).
const MAX_DOCUMENT_TEXT: usize = 1024 * 1024;

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message.into())
}

fn parse_target(name: Option<&str>) -> Result<Target, ApiError> {
    Target::parse(name.unwrap_or("managed-settings.json")).map_err(|e| bad_request(e.to_string()))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("settings task failed: {e}"),
        )
    })
}

fn read_sources(layout: &Layout, project: Option<PathBuf>) -> Sources {
    Sources::read(
        layout,
        paths::user_settings_file().as_deref(),
        project.as_deref(),
    )
}

#[derive(Deserialize)]
pub struct StateQuery {
    target: Option<String>,
    project: Option<String>,
}

/// GET /api/settings: everything the settings page shows.
pub async fn state(
    State(api): State<ApiState>,
    Query(q): Query<StateQuery>,
) -> Result<Json<Value>, ApiError> {
    let target = parse_target(q.target.as_deref())?;
    let project = match q.project.filter(|p| !p.trim().is_empty()) {
        Some(p) => {
            let path = PathBuf::from(p.trim());
            if !path.is_absolute() || !path.is_dir() {
                return Err(bad_request(format!(
                    "project {} is not an existing absolute directory",
                    path.display()
                )));
            }
            Some(path)
        }
        None => None,
    };
    let receiver = api.http_addr.map(|addr| {
        let mut env = json!({
            "OTEL_EXPORTER_OTLP_ENDPOINT": format!("http://{addr}"),
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        });
        if let Some(token) = &api.otlp_token {
            env["OTEL_EXPORTER_OTLP_HEADERS"] = json!(format!("Authorization=Bearer%20{token}"));
        }
        env
    });
    let body = blocking(move || {
        let layout = Layout::system();
        let sources = read_sources(&layout, project);
        let path = target.path(&layout);
        let text = ccscope_settings::file::read_regular_file(
            &path,
            ccscope_settings::sources::MAX_SETTINGS_FILE_BYTES,
        )
        .map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned()));
        let exists = !matches!(text, Ok(None));
        let (text, document, parse_error) = match text {
            Ok(None) => (None, json!({}), Value::Null),
            Ok(Some(text)) => match ccscope_settings::parse(&text) {
                Ok(doc) => (Some(text), doc, Value::Null),
                Err(e) => (Some(text), Value::Null, json!(e.to_string())),
            },
            Err(e) => (None, Value::Null, json!(e.to_string())),
        };
        let helper = elevate::helper_path();
        let drop_ins = ccscope_settings::sources::drop_in_names(&layout.drop_in_dir());
        json!({
            "platform": sources.platform,
            "managed_dir": sources.managed_dir,
            "managed_behavior": sources.managed_behavior,
            "target": target.name(),
            "path": path.display().to_string(),
            "exists": exists,
            "text": text,
            "document": document,
            "parse_error": parse_error,
            "drop_ins": drop_ins,
            "sources": sources.sources,
            "legacy": sources.legacy,
            "managed_mcp": sources.managed_mcp,
            "effective": sources.effective(),
            "backups": list_backups(&layout, None),
            "elevation": Elevation::for_this_process(),
            "helper": helper.as_ref().map(|p| p.display().to_string()).ok(),
            "helper_error": helper.err().map(|e| e.to_string()),
            "receiver_env": receiver,
        })
    })
    .await?;
    Ok(Json(body))
}

/// GET /api/settings/schema: the overlaid schema and the binary's key list, for generic fields.
pub async fn schema() -> Json<Value> {
    Json(json!({"schema": overlaid_schema(), "keys": binary_keys()}))
}

#[derive(Deserialize)]
pub struct PreviewBody {
    target: Option<String>,
    document: Value,
}

/// POST /api/settings/preview: canonical bytes, SHA-256, diff and findings for a document.
pub async fn preview_document(Json(body): Json<PreviewBody>) -> Result<Json<Value>, ApiError> {
    let target = parse_target(body.target.as_deref())?;
    let result = blocking(move || {
        let layout = Layout::system();
        let sources = read_sources(&layout, None);
        preview(&layout, &sources, &target, &body.document)
    })
    .await?;
    Ok(Json(serde_json::to_value(result).unwrap_or(Value::Null)))
}

#[derive(Deserialize)]
pub struct ExportBody {
    document: Value,
    /// mobileconfig, reg, ps1 or json.
    format: String,
    organization: Option<String>,
    identifier: Option<String>,
}

/// POST /api/settings/export: the document as the file a fleet tool deploys (see
/// `ccscope_settings::mdm`), validated first; an invalid document is a 400 naming its errors.
pub async fn export(Json(body): Json<ExportBody>) -> Result<Response, ApiError> {
    use ccscope_settings::mdm::{self, ExportError, Format, Profile};
    let format = match body.format.as_str() {
        "mobileconfig" => Format::Mobileconfig,
        "reg" => Format::Reg,
        "ps1" => Format::Ps1,
        "json" => Format::Json,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("format {other:?}: use mobileconfig, reg, ps1 or json"),
            ));
        }
    };
    let mut profile = Profile::default();
    if let Some(org) = body.organization.filter(|o| !o.trim().is_empty()) {
        profile.organization = org;
    }
    if let Some(id) = body.identifier.filter(|i| !i.trim().is_empty()) {
        profile.identifier = id;
    }
    let text = match mdm::export(&body.document, format, &profile) {
        Ok((text, _)) => text,
        Err(ExportError::Invalid(report)) => {
            let first: Vec<String> = report
                .errors
                .iter()
                .take(3)
                .map(|e| {
                    format!(
                        "{}: {}",
                        if e.pointer.is_empty() {
                            "/"
                        } else {
                            &e.pointer
                        },
                        e.message
                    )
                })
                .collect();
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "not exported: {} error(s) — {}",
                    report.errors.len(),
                    first.join("; ")
                ),
            ));
        }
        Err(e) => return Err(ApiError::new(StatusCode::BAD_REQUEST, e.to_string())),
    };
    let content_type = match format {
        Format::Mobileconfig => "application/x-apple-aspen-config",
        Format::Reg => "text/plain; charset=us-ascii",
        Format::Ps1 => "text/plain; charset=utf-8",
        Format::Json => "application/json",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", format.file_name()),
            ),
        ],
        text,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ApplyBody {
    target: Option<String>,
    /// The exact text the preview showed.
    text: String,
    /// Its SHA-256, as the admin approved it.
    sha256: String,
    /// The SHA-256 of the file the preview was made from (`current_sha256` of the preview,
    /// `absent` for a new file): a file changed since is not overwritten.
    expect_current_sha256: Option<String>,
}

/// The helper's outcome as the API answers it: its HTTP status (only a write is 200: a
/// refusal 409, a cancelled prompt 409, no permission 403, a helper that failed 502) and
/// `{status, message, detail}`.
fn outcome_json(outcome: HelperOutcome) -> (StatusCode, Value) {
    let http = match &outcome {
        HelperOutcome::Ran { report, .. } if report.ok => StatusCode::OK,
        HelperOutcome::Ran { .. } | HelperOutcome::Cancelled => StatusCode::CONFLICT,
        HelperOutcome::NotAuthorised => StatusCode::FORBIDDEN,
        HelperOutcome::Failed { .. } => StatusCode::BAD_GATEWAY,
    };
    let (status, message) = match &outcome {
        HelperOutcome::Ran { report, .. } if report.ok => (
            "applied",
            match &report.backup {
                Some(b) => format!("Wrote {}; the previous version is kept as backup {b}.", report.path.clone().unwrap_or_default()),
                None => format!("Wrote {}.", report.path.clone().unwrap_or_default()),
            },
        ),
        HelperOutcome::Ran { report, .. } => (
            "refused",
            report.error.as_ref().map(|e| format!("The settings helper refused: {}", e.message)).unwrap_or_else(|| "The settings helper refused.".into()),
        ),
        HelperOutcome::Cancelled => ("cancelled", "The authentication prompt was cancelled; nothing was written.".into()),
        HelperOutcome::NotAuthorised => ("not_authorised", "You are not authorised to change managed settings on this machine; nothing was written.".into()),
        HelperOutcome::Failed { message, .. } => ("failed", format!("The settings helper failed: {message}")),
    };
    (
        http,
        json!({"status": status, "code": status, "message": message, "detail": outcome}),
    )
}

/// POST /api/settings/apply: write the approved bytes through the helper.
pub async fn apply(Json(body): Json<ApplyBody>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let target = parse_target(body.target.as_deref())?;
    if body.text.len() > MAX_DOCUMENT_TEXT {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the document is larger than 1 MiB".into(),
        ));
    }
    if sha256_hex(body.text.as_bytes()) != body.sha256 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the document does not match the approved SHA-256; preview it again".into(),
        ));
    }
    let doc = ccscope_settings::parse(&body.text).map_err(|e| bad_request(e.to_string()))?;
    let checked = ccscope_settings::prepare(&doc, ccscope_settings::Scope::Managed);
    if checked.bytes != body.text {
        return Err(bad_request(
            "the document is not in canonical form; preview it again",
        ));
    }
    if !checked.report.is_valid() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{} error(s); nothing written", checked.report.errors.len()),
        ));
    }
    if let Some(current) = &body.expect_current_sha256
        && current != elevate::ABSENT
        && !ccscope_settings::canonical::is_sha256_hex(current)
    {
        return Err(bad_request(
            "expect_current_sha256 takes 64 lower-case hex digits or \"absent\"",
        ));
    }
    let request = HelperRequest::Apply {
        target,
        document: body.text.into_bytes(),
        sha256: body.sha256,
        expect_current: body.expect_current_sha256,
    };
    run(request).await
}

#[derive(Deserialize)]
pub struct RestoreBody {
    backup: String,
}

/// POST /api/settings/restore: put a backup back through the helper.
pub async fn restore(Json(body): Json<RestoreBody>) -> Result<(StatusCode, Json<Value>), ApiError> {
    if parse_backup_id(&body.backup).is_none() {
        return Err(bad_request(format!("{:?} is not a backup id", body.backup)));
    }
    run(HelperRequest::Restore {
        backup_id: body.backup,
    })
    .await
}

async fn run(request: HelperRequest) -> Result<(StatusCode, Json<Value>), ApiError> {
    let outcome = blocking(move || elevate::run_helper(&request)).await?;
    match outcome {
        Ok(outcome) => {
            let (status, body) = outcome_json(outcome);
            Ok((status, Json(body)))
        }
        // The helper could not be started at all.
        Err(e) => Ok((
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status": "failed", "code": "failed", "message": e.to_string()})),
        )),
    }
}
