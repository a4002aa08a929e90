//! Semantic rules the schema cannot express: the telemetry variables as Claude Code parses
//! them, W3C Baggage, header lists, URLs, permission rule syntax, scope of managed-only keys, and
//! what Claude Code does with an invalid fail-closed key.

use serde_json::{Map, Value};

use crate::issue::{Issue, Report, Scope, Severity, pointer_token};
use crate::schema::{self, key_info};

const SIGNALS: [&str; 3] = ["METRICS", "LOGS", "TRACES"];

/// Yes/no variables Claude Code reads with its truthy parser (1/true/yes/on).
const SWITCH_VARS: &[&str] = &[
    "CLAUDE_CODE_ENABLE_TELEMETRY",
    "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA",
    "ENABLE_ENHANCED_TELEMETRY_BETA",
    "ENABLE_BETA_TRACING_DETAILED",
    "CLAUDE_CODE_OTEL_DIAG_STDERR",
    "OTEL_LOG_USER_PROMPTS",
    "OTEL_LOG_ASSISTANT_RESPONSES",
    "OTEL_LOG_TOOL_DETAILS",
    "OTEL_LOG_TOOL_CONTENT",
    "OTEL_LOG_MANAGED_SETTINGS",
];

/// true/false variables (attribute cardinality controls and the like).
const FLAG_VARS: &[&str] = &[
    "OTEL_METRICS_INCLUDE_SESSION_ID",
    "OTEL_METRICS_INCLUDE_VERSION",
    "OTEL_METRICS_INCLUDE_ACCOUNT_UUID",
    "OTEL_METRICS_INCLUDE_ENTRYPOINT",
    "OTEL_METRICS_INCLUDE_RESOURCE_ATTRIBUTES",
    "OTEL_METRICS_INCLUDE_REPOSITORY",
    "OTEL_RESOURCE_INCLUDE_HOST",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
    "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
];

/// Millisecond/count variables that must be positive integers.
const POSITIVE_INT_VARS: &[&str] = &[
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_LOGS_EXPORT_INTERVAL",
    "OTEL_TRACES_EXPORT_INTERVAL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS",
    "CLAUDE_CODE_OTEL_SHUTDOWN_TIMEOUT_MS",
    "CLAUDE_CODE_OTEL_FLUSH_TIMEOUT_MS",
    "CLAUDE_CODE_OTEL_CONTENT_MAX_LENGTH",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
];

/// Node timers fire at once for delays above this, so larger intervals are mistakes.
const MAX_TIMER_MS: u64 = 2_147_483_647;

/// Whether a project or local settings file may set `name` to `value`: anything outside the
/// telemetry unit, and inside it only turning something off (reference §8.1).
pub(crate) fn project_may_set(name: &str, value: &str) -> bool {
    if !is_telemetry_unit(name) {
        return true;
    }
    (name.ends_with("_EXPORTER") && value.trim() == "none")
        || (matches!(
            name,
            "OTEL_LOG_USER_PROMPTS" | "OTEL_LOG_TOOL_CONTENT" | "OTEL_LOG_TOOL_DETAILS"
        ) && parse_switch(value) == Some(false))
}

/// Variables of the telemetry unit that project and local files cannot set (reference §8.1).
pub(crate) fn is_telemetry_unit(name: &str) -> bool {
    name.starts_with("OTEL_EXPORTER_OTLP_")
        || name.starts_with("OTEL_EXPORTER_PROMETHEUS_")
        || name.starts_with("OTEL_LOG_")
        || matches!(
            name,
            "CLAUDE_CODE_ENABLE_TELEMETRY"
                | "OTEL_LOGS_EXPORTER"
                | "OTEL_METRICS_EXPORTER"
                | "OTEL_TRACES_EXPORTER"
                | "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"
                | "ENABLE_ENHANCED_TELEMETRY_BETA"
                | "OTEL_RESOURCE_INCLUDE_HOST"
        )
}

/// OTEL_* names Claude Code or its OTel SDK reads, beyond the schema's documented `env` list.
const KNOWN_OTEL_EXTRA: &[&str] = &[
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_INCLUDE_HOST",
    "OTEL_METRICS_INCLUDE_REPOSITORY",
    "OTEL_LOG_MANAGED_SETTINGS",
    "OTEL_EXPORTER_PROMETHEUS_HOST",
    "OTEL_EXPORTER_PROMETHEUS_PORT",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
];

fn is_known_otel_var(name: &str) -> bool {
    if SWITCH_VARS.contains(&name)
        || FLAG_VARS.contains(&name)
        || POSITIVE_INT_VARS.contains(&name)
        || KNOWN_OTEL_EXTRA.contains(&name)
    {
        return true;
    }
    let documented = schema::overlaid_schema()["properties"]["env"]["properties"]
        .as_object()
        .is_some_and(|p| p.contains_key(name));
    if documented {
        return true;
    }
    // Per-signal twins of every generic OTLP exporter variable.
    if let Some(rest) = name.strip_prefix("OTEL_EXPORTER_OTLP_") {
        let generic = SIGNALS
            .iter()
            .find_map(|s| rest.strip_prefix(&format!("{s}_")))
            .unwrap_or(rest);
        return matches!(
            generic,
            "ENDPOINT"
                | "HEADERS"
                | "PROTOCOL"
                | "TIMEOUT"
                | "COMPRESSION"
                | "INSECURE"
                | "CERTIFICATE"
                | "CLIENT_KEY"
                | "CLIENT_CERTIFICATE"
                | "TEMPORALITY_PREFERENCE"
        );
    }
    false
}

fn env_pointer(name: &str) -> String {
    format!("/env/{}", pointer_token(name))
}

/// Claude Code's truthy parser.
pub fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// Settings whose value is a command (or holds commands) that Claude Code runs on the
/// machine of every user the settings reach.
pub const COMMAND_KEYS: &[&str] = &[
    "hooks",
    "apiKeyHelper",
    "awsAuthRefresh",
    "awsCredentialExport",
    "otelHeadersHelper",
    "policyHelper",
    "proxyAuthHelper",
    "statusLine",
    "fileSuggestion",
];

/// The warning every command-running key gets: it is code that runs everywhere.
pub fn command_warning(key: &str) -> Issue {
    Issue::warning(
        format!("/{}", pointer_token(key)),
        format!(
            "{key:?} runs commands on the machine of every user these settings reach, with that user's rights: review each command as you would code you deploy"
        ),
    )
}

pub(crate) fn check(doc: &Value, scope: Scope, report: &mut Report) {
    let Some(root) = doc.as_object() else { return };
    check_top_level_keys(root, scope, report);
    for key in COMMAND_KEYS {
        if root.get(*key).is_some_and(|v| !v.is_null()) {
            report.push(command_warning(key));
        }
    }
    if let Some(env) = root.get("env").and_then(Value::as_object) {
        check_env(env, scope, report);
    }
    if let Some(perms) = root.get("permissions").and_then(Value::as_object) {
        check_permissions(perms, scope, report);
    }
    for key in ["allowedMcpServers", "deniedMcpServers"] {
        if let Some(list) = root.get(key).and_then(Value::as_array) {
            check_mcp_entries(key, list, report);
        }
    }
    check_versions(root, report);
    if let Some(org) = root.get("forceLoginOrgUUID") {
        let ids: Vec<(String, &str)> = match org {
            Value::String(s) => vec![("/forceLoginOrgUUID".to_owned(), s.as_str())],
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_str().map(|s| (format!("/forceLoginOrgUUID/{i}"), s)))
                .collect(),
            _ => Vec::new(),
        };
        for (pointer, id) in ids {
            if !is_uuid(id) {
                report.push(Issue::warning(pointer, format!("{id:?} does not look like an organisation UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")));
            }
        }
        if org.as_array().is_some_and(Vec::is_empty) {
            report.push(Issue::warning(
                "/forceLoginOrgUUID",
                "an empty list blocks every login",
            ));
        }
    }
    if root
        .get("availableModels")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        report.push(Issue::warning(
            "/availableModels",
            "an empty allowlist leaves no model to select",
        ));
    }
}

fn check_top_level_keys(root: &Map<String, Value>, scope: Scope, report: &mut Report) {
    let known_schema = schema::overlaid_schema()["properties"].as_object();
    for key in root.keys() {
        let pointer = format!("/{}", pointer_token(key));
        let known = known_schema.is_some_and(|p| p.contains_key(key)) || key_info(key).is_some();
        if !known {
            report.push(Issue::warning(
                pointer,
                format!("{key:?} is not a key Claude Code 2.1.330 knows (a typo, or a newer key); it is kept as is"),
            ));
            continue;
        }
        if scope != Scope::Managed && key_info(key).is_some_and(|k| k.managed_only) {
            report.push(Issue::warning(
                pointer,
                format!("{key:?} only has an effect in managed settings"),
            ));
        }
    }
}

fn check_env(env: &Map<String, Value>, scope: Scope, report: &mut Report) {
    let text = |name: &str| env.get(name).and_then(Value::as_str);
    for (name, value) in env {
        let pointer = env_pointer(name);
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            report.push(Issue::error(
                pointer.clone(),
                format!("{name:?} is not a valid variable name: use upper-case letters, digits and '_', not starting with a digit"),
            ));
        }
        let Some(value) = value.as_str() else {
            continue;
        }; // the schema reports non-strings
        if value.contains('\0') {
            report.push(Issue::error(
                pointer.clone(),
                "the value contains a NUL character, which no environment can hold",
            ));
        } else if value.contains('\n') || value.contains('\r') {
            report.push(Issue::warning(
                pointer.clone(),
                "the value spans several lines",
            ));
        }
        if name.starts_with("OTEL_") && valid_name && !is_known_otel_var(name) {
            report.push(Issue::warning(
                pointer.clone(),
                format!("{name} is not a variable Claude Code or its OpenTelemetry SDK reads; check the spelling"),
            ));
        }
        if matches!(scope, Scope::Project | Scope::Local) && !project_may_set(name, value) {
            report.push(Issue::warning(
                pointer.clone(),
                format!(
                    "project and local settings cannot set {name}; Claude Code ignores it here"
                ),
            ));
        }
        check_env_value(name, value, &pointer, report);
    }

    // Whole-block consistency.
    let enabled = text("CLAUDE_CODE_ENABLE_TELEMETRY").and_then(parse_switch);
    let exporters: Vec<&str> = [
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_TRACES_EXPORTER",
    ]
    .into_iter()
    .filter(|v| text(v).is_some_and(|x| !x.trim().is_empty() && x.trim() != "none"))
    .collect();
    if enabled == Some(true) && exporters.is_empty() {
        report.push(Issue::warning(
            "/env/CLAUDE_CODE_ENABLE_TELEMETRY",
            "telemetry is on but no exporter is chosen: set OTEL_METRICS_EXPORTER and/or OTEL_LOGS_EXPORTER (e.g. otlp), or nothing is sent",
        ));
    }
    if enabled != Some(true) && !exporters.is_empty() && scope == Scope::Managed {
        report.push(Issue::warning(
            env_pointer(exporters[0]),
            "an exporter is chosen but CLAUDE_CODE_ENABLE_TELEMETRY is not on here; unless another source turns it on, nothing is exported",
        ));
    }
    let uses_otlp = [
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_TRACES_EXPORTER",
    ]
    .into_iter()
    .any(|v| text(v).is_some_and(|x| x.split(',').any(|e| e.trim() == "otlp")));
    let any_endpoint = env
        .keys()
        .any(|k| k.starts_with("OTEL_EXPORTER_OTLP_") && k.ends_with("ENDPOINT"));
    if enabled == Some(true) && uses_otlp && !any_endpoint {
        report.push(Issue::warning(
            "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
            "no OTLP endpoint is set: the exporters send to the SDK default (http://localhost:4318, or localhost:4317 for grpc)",
        ));
    }
    if text("OTEL_LOG_USER_PROMPTS").and_then(parse_switch) == Some(true) {
        report.push(Issue::warning(
            "/env/OTEL_LOG_USER_PROMPTS",
            "the text of every prompt will be exported to the collector",
        ));
    }
    // Per-signal endpoints and the protocol in effect for them.
    let generic_protocol = text("OTEL_EXPORTER_OTLP_PROTOCOL");
    for signal in SIGNALS {
        let name = format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT");
        let Some(url) = text(&name).and_then(|u| url::Url::parse(u.trim()).ok()) else {
            continue;
        };
        let protocol = text(&format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")).or(generic_protocol);
        let suffix = format!("/v1/{}", signal.to_ascii_lowercase());
        if protocol != Some("grpc") && !url.path().trim_end_matches('/').ends_with(&suffix) {
            report.push(Issue::warning(
                env_pointer(&name),
                format!("per-signal endpoints are used as given: over HTTP this one probably needs the path {suffix}"),
            ));
        }
    }
    // The usual ports say which protocol a collector speaks there: 4317 gRPC, 4318 HTTP.
    let endpoints = std::iter::once(("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), generic_protocol))
        .chain(SIGNALS.iter().map(|signal| {
            (
                format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"),
                text(&format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")).or(generic_protocol),
            )
        }));
    for (name, protocol) in endpoints {
        let Some(url) = text(&name).and_then(|u| url::Url::parse(u.trim()).ok()) else {
            continue;
        };
        // Without a protocol the SDK's default is http/protobuf.
        let protocol = protocol.unwrap_or("http/protobuf");
        match (url.port(), protocol) {
            (Some(4317), "http/protobuf" | "http/json") => report.push(Issue::warning(
                env_pointer(&name),
                format!("port 4317 is OTLP/gRPC's, but the protocol here is {protocol}: use port 4318 for HTTP, or OTEL_EXPORTER_OTLP_PROTOCOL=grpc"),
            )),
            (Some(4318), "grpc") => report.push(Issue::warning(
                env_pointer(&name),
                "port 4318 is OTLP/HTTP's, but the protocol here is grpc: use port 4317 for gRPC, or OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
            )),
            _ => {}
        }
    }
    if let Some(url) =
        text("OTEL_EXPORTER_OTLP_ENDPOINT").and_then(|u| url::Url::parse(u.trim()).ok())
    {
        let path = url.path().trim_end_matches('/');
        if SIGNALS
            .iter()
            .any(|s| path.ends_with(&format!("/v1/{}", s.to_ascii_lowercase())))
        {
            report.push(Issue::warning(
                "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
                "the generic endpoint gets /v1/<signal> appended over HTTP; give the collector's base URL, or use the per-signal variables",
            ));
        }
        if generic_protocol == Some("grpc") && !path.is_empty() {
            report.push(Issue::warning(
                "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
                "gRPC ignores the URL path; give only scheme, host and port",
            ));
        }
        let has_headers = env
            .keys()
            .any(|k| k.starts_with("OTEL_EXPORTER_OTLP_") && k.ends_with("HEADERS"));
        let loopback = matches!(
            url.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        );
        if url.scheme() == "http" && has_headers && !loopback {
            report.push(Issue::warning(
                "/env/OTEL_EXPORTER_OTLP_ENDPOINT",
                "headers (often credentials) would travel unencrypted to a remote host: use https",
            ));
        }
    }
}

fn check_env_value(name: &str, value: &str, pointer: &str, report: &mut Report) {
    if SWITCH_VARS.contains(&name) {
        if parse_switch(value).is_none() {
            report.push(Issue::error(pointer, format!("{value:?} is not an on/off value: use \"1\" (on) or \"0\" (off); Claude Code also reads true/yes/on")));
        }
        return;
    }
    if FLAG_VARS.contains(&name) {
        if parse_switch(value).is_none() {
            report.push(Issue::error(
                pointer,
                format!("{value:?} is not a true/false value: use \"true\" or \"false\""),
            ));
        }
        return;
    }
    if POSITIVE_INT_VARS.contains(&name) {
        match value.trim().parse::<u64>() {
            Ok(0) | Err(_) => report.push(Issue::error(pointer, format!("{value:?} is not a positive whole number of milliseconds (or items); e.g. \"60000\""))),
            Ok(n) if n > MAX_TIMER_MS && (name.ends_with("_INTERVAL") || name.ends_with("_MS") || name.ends_with("_TIMEOUT")) => {
                report.push(Issue::error(pointer, format!("{n} ms is above {MAX_TIMER_MS} ms, which Node's timers treat as 1 ms")))
            }
            Ok(n) if name == "OTEL_METRIC_EXPORT_INTERVAL" && n < 1000 => {
                report.push(Issue::warning(pointer, format!("{n} ms exports metrics more than once a second")))
            }
            Ok(_) => {}
        }
        return;
    }
    let signal_exporter = match name {
        "OTEL_METRICS_EXPORTER" => Some(&["otlp", "prometheus", "console", "none"][..]),
        "OTEL_LOGS_EXPORTER" | "OTEL_TRACES_EXPORTER" => Some(&["otlp", "console", "none"][..]),
        _ => None,
    };
    if let Some(allowed) = signal_exporter {
        let items: Vec<&str> = value.split(',').map(str::trim).collect();
        for item in &items {
            if !allowed.contains(item) {
                report.push(Issue::error(
                    pointer,
                    format!(
                        "{item:?} is not an exporter for this signal: use {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        if items.len() > 1 && items.contains(&"none") {
            report.push(Issue::warning(
                pointer,
                "\"none\" together with other exporters: the others still export",
            ));
        }
        return;
    }
    let generic = name.strip_prefix("OTEL_EXPORTER_OTLP_").map(|rest| {
        SIGNALS
            .iter()
            .find_map(|s| rest.strip_prefix(&format!("{s}_")))
            .unwrap_or(rest)
    });
    let problem = match generic {
        Some("PROTOCOL") if !matches!(value, "grpc" | "http/protobuf" | "http/json") => Some(
            format!("{value:?} is not an OTLP protocol: use grpc, http/protobuf or http/json"),
        ),
        Some("COMPRESSION") if !matches!(value, "gzip" | "none") => {
            Some(format!("{value:?} is not a compression: use gzip or none"))
        }
        Some("TEMPORALITY_PREFERENCE")
            if !matches!(
                value.to_ascii_lowercase().as_str(),
                "delta" | "cumulative" | "lowmemory"
            ) =>
        {
            Some(format!(
                "{value:?} is not a temporality: use delta or cumulative"
            ))
        }
        _ => None,
    };
    if let Some(problem) = problem {
        report.push(Issue::error(pointer, problem));
    }
    match generic {
        Some("ENDPOINT") => check_url(value, pointer, report),
        Some("HEADERS") => check_headers(value, pointer, report),
        _ => {}
    }
    match name {
        "OTEL_RESOURCE_ATTRIBUTES" => check_baggage(value, pointer, report),
        "BETA_TRACING_ENDPOINT" => check_url(value, pointer, report),
        "OTEL_LOG_RAW_API_BODIES"
            if parse_switch(value).is_none() && !value.starts_with("file:") =>
        {
            report.push(Issue::error(pointer, format!("{value:?}: use \"1\" for inline bodies, \"file:<directory>\" for files, or \"0\"")));
        }
        _ => {}
    }
}

fn check_url(value: &str, pointer: &str, report: &mut Report) {
    if value.chars().any(char::is_whitespace) {
        report.push(Issue::error(pointer, "the URL contains spaces"));
        return;
    }
    match url::Url::parse(value) {
        Err(e) => report.push(Issue::error(pointer, format!("{value:?} is not an absolute URL ({e}); e.g. https://collector.example.com:4318"))),
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            report.push(Issue::error(pointer, format!("{value:?} is not an absolute URL starting with http:// or https:// (the scheme must be http or https, not {:?})", url.scheme())))
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => report.push(Issue::error(pointer, "the URL has no host")),
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            report.push(Issue::warning(pointer, "the URL has a query or fragment, which exporters do not expect"))
        }
        Ok(_) => {}
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn check_headers(value: &str, pointer: &str, report: &mut Report) {
    for (i, pair) in value.split(',').enumerate() {
        let pair = pair.trim();
        if pair.is_empty() {
            report.push(Issue::error(
                pointer,
                format!("header entry {} is empty (a stray comma)", i + 1),
            ));
            continue;
        }
        let Some((key, val)) = pair.split_once('=') else {
            report.push(Issue::error(pointer, format!("header entry {} has no '=': write name=value, e.g. Authorization=Bearer%20TOKEN", i + 1)));
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(is_token_char) {
            report.push(Issue::error(
                pointer,
                format!("header name {key:?} is not a valid HTTP header name"),
            ));
        }
        match percent_decode(val.trim()) {
            None => report.push(Issue::error(
                pointer,
                format!("the value of header {key:?} has a '%' not followed by two hex digits"),
            )),
            Some(decoded)
                if decoded
                    .iter()
                    .any(|b| *b < 0x20 && *b != b'\t' || *b == 0x7f) =>
            {
                report.push(Issue::error(
                    pointer,
                    format!("the value of header {key:?} decodes to control characters"),
                ))
            }
            Some(_) => {}
        }
    }
}

/// Percent-decodes `text`; `None` when a `%` is not followed by two hex digits.
pub fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let s = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(s, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Longest key or value Claude Code keeps in `OTEL_RESOURCE_ATTRIBUTES`.
const MAX_BAGGAGE_PART: usize = 255;

/// `OTEL_RESOURCE_ATTRIBUTES` as Claude Code parses it (W3C Baggage subset, reference §4): comma
/// separated `key=value`, printable ASCII without `,` `;` `\`, no spaces, values percent-encoded.
fn check_baggage(value: &str, pointer: &str, report: &mut Report) {
    if value.is_empty() {
        return;
    }
    let allowed = |c: char| ('\x21'..='\x7e').contains(&c) && !matches!(c, ',' | ';' | '\\');
    for (i, pair) in value.split(',').enumerate() {
        let n = i + 1;
        if pair.is_empty() {
            report.push(Issue::error(
                pointer,
                format!("pair {n} is empty (a stray comma)"),
            ));
            continue;
        }
        if pair.contains(' ') {
            report.push(Issue::error(
                pointer,
                format!("pair {n} ({pair:?}) contains a space: percent-encode it as %20"),
            ));
            continue;
        }
        let mut parts = pair.split('=');
        let (Some(key), Some(val)) = (parts.next(), parts.next()) else {
            report.push(Issue::error(
                pointer,
                format!("pair {n} ({pair:?}) has no '=': write key=value"),
            ));
            continue;
        };
        if parts.next().is_some() {
            report.push(Issue::error(pointer, format!("pair {n} ({pair:?}) has a second '=', so Claude Code skips it: percent-encode it as %3D")));
            continue;
        }
        if key.is_empty() {
            report.push(Issue::error(pointer, format!("pair {n} has an empty key")));
        } else if !key.chars().all(allowed) {
            report.push(Issue::error(
                pointer,
                format!("key {key:?} may only use printable ASCII without , ; \\"),
            ));
        } else if key.len() > MAX_BAGGAGE_PART {
            report.push(Issue::error(
                pointer,
                format!("key {key:?} is longer than {MAX_BAGGAGE_PART} characters"),
            ));
        }
        if !val.chars().all(allowed) {
            report.push(Issue::error(pointer, format!("the value of {key:?} may only use printable ASCII without , ; \\ (percent-encode the rest)")));
        } else if val.len() > MAX_BAGGAGE_PART {
            report.push(Issue::error(
                pointer,
                format!("the value of {key:?} is longer than {MAX_BAGGAGE_PART} characters"),
            ));
        } else if percent_decode(val).is_none() {
            report.push(Issue::error(
                pointer,
                format!("the value of {key:?} has a '%' not followed by two hex digits"),
            ));
        }
    }
}

const RULE_LISTS: [&str; 3] = ["allow", "ask", "deny"];
const PERMISSION_KEYS: &[&str] = &[
    "allow",
    "ask",
    "deny",
    "defaultMode",
    "disableBypassPermissionsMode",
    "disableAutoMode",
    "additionalDirectories",
    "blockReadsOutsideWorkingDirectories",
    "blockWritesOutsideWorkingDirectories",
    "denyInsteadOfPrompting",
    "blockFileToolReadsOutsideWorkingDirectories",
    "blockReadsExemptPaths",
    "workingDirectoriesAsGiven",
    "workingDirectoriesExclude",
];
const EMBEDDER_ONLY_PERMISSION_KEYS: &[&str] = &[
    "blockFileToolReadsOutsideWorkingDirectories",
    "blockReadsExemptPaths",
    "workingDirectoriesAsGiven",
    "workingDirectoriesExclude",
];

/// Why a permission rule is malformed, if it is (beyond the schema's tool-name pattern).
pub fn permission_rule_problem(rule: &str) -> Option<String> {
    if rule.trim() != rule {
        return Some("has leading or trailing spaces".into());
    }
    if let Some(rest) = rule.strip_prefix("mcp__") {
        let name = rest.split('(').next().unwrap_or("");
        let server = name.split("__").next().unwrap_or("");
        if server.is_empty() {
            return Some("names no MCP server: write mcp__server or mcp__server__tool".into());
        }
        if !server
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '*')
        {
            return Some(format!(
                "MCP server name {server:?} may only use letters, digits, '_' and '-'"
            ));
        }
        return None;
    }
    match rule.find('(') {
        None if rule.contains(')') => Some("has ')' without '('".into()),
        None => None,
        Some(open) => {
            if !rule.ends_with(')') {
                return Some("must end with ')' after its specifier, e.g. Bash(npm run *)".into());
            }
            if open == 0 {
                return Some("names no tool before '('".into());
            }
            if rule[open + 1..rule.len() - 1].trim().is_empty() {
                return Some(format!(
                    "has an empty specifier: write {} alone to match every use",
                    &rule[..open]
                ));
            }
            None
        }
    }
}

fn check_permissions(perms: &Map<String, Value>, scope: Scope, report: &mut Report) {
    for key in perms.keys() {
        let pointer = format!("/permissions/{}", pointer_token(key));
        if !PERMISSION_KEYS.contains(&key.as_str()) {
            report.push(Issue::warning(
                pointer,
                format!(
                    "{key:?} is not a permissions key Claude Code 2.1.330 knows; it is kept as is"
                ),
            ));
        } else if scope == Scope::Managed && EMBEDDER_ONLY_PERMISSION_KEYS.contains(&key.as_str()) {
            report.push(Issue::warning(pointer, format!("{key} is only honoured from --settings by an embedding program; managed files ignore it")));
        }
    }
    // Each rule's lists so far: a lookup per rule, not a scan of every earlier rule.
    let mut seen: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for list in RULE_LISTS {
        let Some(rules) = perms.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, rule) in rules.iter().enumerate() {
            let Some(rule) = rule.as_str() else { continue };
            let pointer = format!("/permissions/{list}/{i}");
            if let Some(problem) = permission_rule_problem(rule) {
                report.push(Issue::error(
                    pointer.clone(),
                    format!("rule {rule:?} {problem}"),
                ));
            }
            let lists = seen.entry(rule).or_default();
            for other_list in lists.iter().copied() {
                if other_list != list {
                    let winner = if list == "deny" || other_list == "deny" {
                        "deny"
                    } else {
                        "ask"
                    };
                    report.push(Issue::warning(
                        pointer.clone(),
                        format!("rule {rule:?} is also in {other_list}; {winner} wins"),
                    ));
                }
            }
            if !lists.contains(&list) {
                lists.push(list);
            }
        }
    }
    match perms.get("defaultMode").and_then(Value::as_str) {
        Some("delegate") => report.push(Issue::warning(
            "/permissions/defaultMode",
            "\"delegate\" is not a mode Claude Code 2.1.330 accepts",
        )),
        Some("bypassPermissions") if perms.get("disableBypassPermissionsMode").is_some() => report
            .push(Issue::warning(
                "/permissions/defaultMode",
                "bypassPermissions is the default mode but disableBypassPermissionsMode forbids it",
            )),
        _ => {}
    }
}

fn check_mcp_entries(key: &str, list: &[Value], report: &mut Report) {
    if key == "allowedMcpServers" && list.is_empty() {
        report.push(Issue::warning(
            "/allowedMcpServers",
            "an empty allowlist blocks every MCP server",
        ));
    }
    for (i, entry) in list.iter().enumerate() {
        let Some(obj) = entry.as_object() else {
            continue;
        };
        let pointer = format!("/{key}/{i}");
        let kinds = ["serverName", "serverCommand", "serverUrl"]
            .iter()
            .filter(|k| obj.contains_key(**k))
            .count();
        if kinds != 1 {
            report.push(Issue::error(
                pointer.clone(),
                "each entry needs exactly one of serverName, serverCommand or serverUrl",
            ));
        }
        if let Some(name) = obj.get("serverName").and_then(Value::as_str)
            && (name.is_empty() || name.trim() != name)
        {
            report.push(Issue::error(
                format!("{pointer}/serverName"),
                "the server name is empty or has surrounding spaces",
            ));
        }
        if obj
            .get("serverCommand")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            report.push(Issue::error(
                format!("{pointer}/serverCommand"),
                "the command needs at least the program",
            ));
        }
    }
}

fn check_versions(root: &Map<String, Value>, report: &mut Report) {
    for key in [
        "requiredMinimumVersion",
        "requiredMaximumVersion",
        "minimumVersion",
    ] {
        if let Some(v) = root.get(key).and_then(Value::as_str) {
            let parts: Vec<&str> = v
                .split(['-', '+'])
                .next()
                .unwrap_or("")
                .split('.')
                .collect();
            if parts.len() != 3
                || parts
                    .iter()
                    .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
            {
                report.push(Issue::warning(
                    format!("/{key}"),
                    format!(
                        "{v:?} is not a version like 2.1.330; Claude Code ignores it (fails open)"
                    ),
                ));
            }
        }
    }
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Keys whose invalid value does not simply drop the key (reference §9.2).
const FAIL_CLOSED: &[(&str, &str)] = &[
    (
        "/allowedMcpServers",
        "fails closed: an invalid allowlist becomes empty and every MCP server is blocked",
    ),
    (
        "/deniedMcpServers",
        "fails closed: only the valid entries are kept",
    ),
    (
        "/allowManagedHooksOnly",
        "fails closed: treated as true, only managed hooks run",
    ),
    (
        "/allowManagedMcpServersOnly",
        "fails closed: treated as true, only the managed allowlist counts",
    ),
    (
        "/disableCommandPluginSources",
        "fails closed: treated as true",
    ),
    (
        "/availableModels",
        "fails closed: treated as an empty allowlist, no model can be selected",
    ),
    ("/enforceAvailableModels", "fails closed: treated as true"),
    (
        "/forceLoginOrgUUID",
        "fails closed: no organisation can log in",
    ),
    (
        "/sandbox/credentials",
        "fails closed: credentials are denied",
    ),
    (
        "/requiredMinimumVersion",
        "fails open: the version requirement is ignored",
    ),
    (
        "/requiredMaximumVersion",
        "fails open: the version requirement is ignored",
    ),
];

/// The consequence of each finding, as Claude Code would act on the file. Schema errors (the
/// shape is wrong) drop the key or reject the file; the semantic rules' findings only carry the
/// fail-closed and fail-open consequences, since Claude Code reads those values its own way.
pub(crate) fn annotate_consequences(report: &mut Report, scope: Scope, schema_errors: bool) {
    for issue in report.errors.iter_mut().chain(report.warnings.iter_mut()) {
        if issue.consequence.is_some() {
            continue;
        }
        let special = FAIL_CLOSED
            .iter()
            .find(|(key, _)| issue.pointer == *key || issue.pointer.starts_with(&format!("{key}/")))
            .map(|(_, text)| (*text).to_owned());
        issue.consequence = match (special, issue.severity) {
            (Some(text), _) => Some(text),
            (None, _) if !schema_errors => None,
            (None, Severity::Error) if issue.pointer.is_empty() => {
                Some("Claude Code reads nothing from this file".into())
            }
            (None, Severity::Error) if scope == Scope::Managed => {
                Some("Claude Code drops this key from the policy".into())
            }
            (None, Severity::Error) => Some("Claude Code rejects the whole file".into()),
            (None, Severity::Warning) => None,
        };
    }
}
