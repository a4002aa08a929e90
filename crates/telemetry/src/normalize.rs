//! OTLP request messages -> `Batch`. Known Claude Code names get typed facts; unknown metrics,
//! events and attributes are kept verbatim. A record that cannot be kept (a timestamp out of
//! range, a non-finite value, far too many attributes) is counted in `Batch::rejected` with a
//! reason while the rest of the export is accepted. Never panics on any input.

use std::sync::Arc;

use opentelemetry_proto::tonic::{
    collector::{
        logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
        trace::v1::ExportTraceServiceRequest,
    },
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    logs::v1::LogRecord,
    metrics::v1::{AggregationTemporality, Metric, metric::Data, number_data_point},
    resource::v1::Resource as ProtoResource,
};
use serde_json::{Value, json};
use xxhash_rust::xxh3::Xxh3;

use crate::decode::ExportRequest;
use crate::facts::{self, Fact, FactValue};
use crate::model::{
    Batch, Event, EventFacts, EventKind, Identity, MetricKind, MetricPoint, Rejections, Resource,
    SpanRecord, Temporality,
};
use crate::value::{
    Attributes, any_f64, any_i64, any_str, any_string, any_value_to_json, attr_string, dedupe_keys,
    has_duplicate_keys, hex, key_values_to_json,
};

/// A record with more attributes than this is refused (Claude Code sends 20-40; the OTel SDKs
/// default to 128).
pub const MAX_ATTRIBUTES_PER_RECORD: usize = 1024;

/// The body Claude Code puts on each event: `claude_code.<name>`.
const EVENT_BODY_PREFIX: &str = "claude_code.";

pub use crate::facts::REDACTED;

/// Normalises any decoded export request. `received_ns` stands in for missing timestamps.
/// Takes the request: attribute lists move into the records instead of being copied.
pub fn normalize(request: ExportRequest, received_ns: i64) -> Batch {
    match request {
        ExportRequest::Logs(r) => normalize_logs(r, received_ns),
        ExportRequest::Metrics(r) => normalize_metrics(&r),
        ExportRequest::Traces(r) => normalize_traces(&r),
    }
}

fn resource_of(resource: Option<&ProtoResource>) -> Arc<Resource> {
    let attributes = resource
        .map(|r| key_values_to_json(&r.attributes))
        .unwrap_or_default();
    let hash = attributes_hash(&attributes, &mut Xxh3::new());
    Arc::new(Resource { attributes, hash })
}

fn scope_name(scope: Option<&InstrumentationScope>) -> Option<String> {
    let scope = scope?;
    if scope.name.is_empty() {
        return None;
    }
    Some(if scope.version.is_empty() {
        scope.name.clone()
    } else {
        format!("{}@{}", scope.name, scope.version)
    })
}

fn check_attribute_count(list: &[KeyValue], what: &str) -> Result<(), String> {
    if list.len() > MAX_ATTRIBUTES_PER_RECORD {
        return Err(format!(
            "{what} has {} attributes; the limit is {MAX_ATTRIBUTES_PER_RECORD}",
            list.len()
        ));
    }
    Ok(())
}

fn nanos(value: u64, field: &str) -> Result<i64, String> {
    i64::try_from(value).map_err(|_| format!("{field} {value} is out of range"))
}

fn identity_of(attrs: &Attributes) -> Identity {
    Identity {
        session_id: attr_string(attrs, "session.id"),
        user_id: attr_string(attrs, "user.id"),
        user_email: attr_string(attrs, "user.email"),
        organization_id: attr_string(attrs, "organization.id"),
        account_uuid: attr_string(attrs, "user.account_uuid"),
        terminal_type: attr_string(attrs, "terminal.type"),
        app_version: attr_string(attrs, "app.version"),
    }
}

// ---------------------------------------------------------------------------------------------
// Logs -> events

pub fn normalize_logs(request: ExportLogsServiceRequest, received_ns: i64) -> Batch {
    let mut batch = Batch::default();
    for resource_logs in request.resource_logs {
        let resource = resource_of(resource_logs.resource.as_ref());
        for scope_logs in resource_logs.scope_logs {
            let scope = scope_name(scope_logs.scope.as_ref());
            for record in scope_logs.log_records {
                match event_of(record, &resource, scope.as_ref(), received_ns) {
                    Ok(event) => batch.events.push(event),
                    Err(reason) => batch.rejected.add(reason),
                }
            }
        }
    }
    batch
}

/// Declares `Known`: the attributes normalisation reads, each the value of one key, found in
/// one pass over a record's list (a `match` on the key instead of a lookup per fact).
macro_rules! known_attributes {
    ($($field:ident = $key:literal),* $(,)?) => {
        #[derive(Default)]
        struct Known<'a> {
            $($field: Option<&'a AnyValue>,)*
        }

        impl<'a> Known<'a> {
            /// Every key `Known` holds.
            #[cfg(test)]
            const KEYS: &'static [&'static str] = &[$($key),*];

            /// The value of `key`, when `Known` holds that key.
            fn get(&self, key: &str) -> Option<&'a AnyValue> {
                match key {
                    $($key => self.$field,)*
                    _ => None,
                }
            }

            /// The list must not repeat keys (see `value::dedupe_keys`).
            fn of(values: &'a [KeyValue]) -> Known<'a> {
                let mut known = Known::default();
                for kv in values {
                    match kv.key.as_str() {
                        $($key => known.$field = kv.value.as_ref(),)*
                        _ => {}
                    }
                }
                known
            }
        }
    };
}

known_attributes! {
    event_name = "event.name",
    event_sequence = "event.sequence",
    prompt_id = "prompt.id",
    session_id = "session.id",
    user_id = "user.id",
    user_email = "user.email",
    organization_id = "organization.id",
    account_uuid = "user.account_uuid",
    terminal_type = "terminal.type",
    app_version = "app.version",
    model = "model",
    final_model = "final_model",
    duration_ms = "duration_ms",
    total_duration_ms = "total_duration_ms",
    total_retry_duration_ms = "total_retry_duration_ms",
    ttft_ms = "ttft_ms",
    success = "success",
    status = "status",
    status_code = "status_code",
    attempt = "attempt",
    total_attempts = "total_attempts",
    tool_name = "tool_name",
    tool_use_id = "tool_use_id",
    request_id = "request_id",
    decision = "decision",
    decision_type = "decision_type",
    decision_source = "decision_source",
    source = "source",
    error = "error",
    error_type = "error_type",
    error_code = "error_code",
    error_name = "error_name",
    cost_usd = "cost_usd",
    cost_usd_micros = "cost_usd_micros",
    input_tokens = "input_tokens",
    output_tokens = "output_tokens",
    cache_read_tokens = "cache_read_tokens",
    cache_creation_tokens = "cache_creation_tokens",
    prompt_text = "prompt_text",
    prompt = "prompt",
    num_blocking = "num_blocking",
    num_non_blocking_error = "num_non_blocking_error",
}

/// Moves the attributes the store keeps in columns of their own out of the list: identity
/// strings, `prompt.id` and an integer `event.sequence` (see `Event::attributes`). Only
/// non-empty strings and integers move, so the reader can put each back exactly.
fn take_column_attributes(
    attributes: &mut Vec<KeyValue>,
    identity: &mut Identity,
    prompt_id: &mut Option<String>,
    sequence: &mut Option<i64>,
) {
    attributes.retain_mut(|kv| {
        let value = kv.value.as_mut().and_then(|v| v.value.as_mut());
        let slot = match kv.key.as_str() {
            "session.id" => &mut identity.session_id,
            "user.id" => &mut identity.user_id,
            "user.email" => &mut identity.user_email,
            "organization.id" => &mut identity.organization_id,
            "terminal.type" => &mut identity.terminal_type,
            "app.version" => &mut identity.app_version,
            "prompt.id" => prompt_id,
            "event.sequence" => {
                return match value {
                    Some(any_value::Value::IntValue(i)) => {
                        *sequence = Some(*i);
                        false
                    }
                    _ => true,
                };
            }
            _ => return true,
        };
        match value {
            Some(any_value::Value::StringValue(text)) if !text.is_empty() => {
                *slot = Some(std::mem::take(text));
                false
            }
            _ => true,
        }
    });
}

fn event_of(
    mut record: LogRecord,
    resource: &Arc<Resource>,
    scope: Option<&String>,
    received_ns: i64,
) -> Result<Event, String> {
    check_attribute_count(&record.attributes, "log record")?;
    let mut attributes = std::mem::take(&mut record.attributes);
    if has_duplicate_keys(&attributes) {
        attributes = dedupe_keys(attributes);
    }
    let observed_ns = nanos(record.observed_time_unix_nano, "observedTimeUnixNano")?;
    let time_ns = match nanos(record.time_unix_nano, "timeUnixNano")? {
        0 if observed_ns != 0 => observed_ns,
        0 => received_ns,
        t => t,
    };
    let body = record.body.take().filter(|b| b.value.is_some());
    // Records without an integer `event.sequence` (other senders) are keyed by their whole
    // content, read before anything moves out of the list.
    let content = if attributes
        .iter()
        .any(|kv| kv.key == "event.sequence" && any_i64(kv.value.as_ref()).is_some())
    {
        None
    } else {
        Some(key_values_to_json(&attributes))
    };
    let mut identity = Identity::default();
    let mut prompt_id = None;
    let mut sequence = None;
    take_column_attributes(
        &mut attributes,
        &mut identity,
        &mut prompt_id,
        &mut sequence,
    );
    let known = Known::of(&attributes);
    // What did not move (numbers, empty strings) is read as before.
    let fill = |field: &mut Option<String>, value: Option<&AnyValue>| {
        if field.is_none() {
            *field = any_string(value);
        }
    };
    fill(&mut identity.session_id, known.session_id);
    fill(&mut identity.user_id, known.user_id);
    fill(&mut identity.user_email, known.user_email);
    fill(&mut identity.organization_id, known.organization_id);
    fill(&mut identity.terminal_type, known.terminal_type);
    fill(&mut identity.app_version, known.app_version);
    fill(&mut prompt_id, known.prompt_id);
    identity.account_uuid = any_string(known.account_uuid);
    let sequence = sequence.or_else(|| any_i64(known.event_sequence));
    let name = event_name(&record, known.event_name, body.as_ref());
    let kind = EventKind::from_name(&name);
    let facts = facts_of(&name, &known);
    // The body is kept when it says more than `claude_code.<name>`.
    let body = body
        .filter(|b| {
            any_str(Some(b))
                .as_deref()
                .and_then(|b| b.strip_prefix(EVENT_BODY_PREFIX))
                != Some(name.as_str())
        })
        .map(|b| any_value_to_json(&b));
    let severity = if !record.severity_text.is_empty() {
        Some(std::mem::take(&mut record.severity_text))
    } else if record.severity_number != 0 {
        Some(record.severity_number.to_string())
    } else {
        None
    };
    let dedup_key = event_dedup_key(
        &identity,
        sequence,
        &name,
        time_ns,
        content.as_ref(),
        body.as_ref(),
    );
    Ok(Event {
        prompt_id,
        trace_id: (!record.trace_id.is_empty()).then(|| hex(&record.trace_id)),
        span_id: (!record.span_id.is_empty()).then(|| hex(&record.span_id)),
        scope: scope.cloned(),
        resource: Arc::clone(resource),
        observed_ns: if observed_ns == 0 {
            time_ns
        } else {
            observed_ns
        },
        name,
        kind,
        time_ns,
        sequence,
        identity,
        facts,
        severity,
        body,
        attributes,
        dedup_key,
    })
}

/// The short event name: `event.name`, else the record's `event_name` field, else the body
/// without its `claude_code.` prefix, else `log` for a plain log line.
fn event_name(
    record: &LogRecord,
    event_name: Option<&AnyValue>,
    body: Option<&AnyValue>,
) -> String {
    if let Some(name) = any_str(event_name).filter(|n| !n.is_empty()) {
        return name.into_owned();
    }
    if !record.event_name.is_empty() {
        let name = record.event_name.as_str();
        return name
            .strip_prefix(EVENT_BODY_PREFIX)
            .unwrap_or(name)
            .to_owned();
    }
    if let Some(name) = any_str(body)
        .as_deref()
        .and_then(|b| b.strip_prefix(EVENT_BODY_PREFIX))
    {
        return name.to_owned();
    }
    "log".to_owned()
}

/// The key that makes a re-sent event a duplicate: (session, sequence, name, time) as the
/// design says; records without `event.sequence` (other senders) are keyed by their content
/// (`content`: every attribute as sent) instead, so two different records at the same instant
/// are both kept.
pub fn event_dedup_key(
    identity: &Identity,
    sequence: Option<i64>,
    name: &str,
    time_ns: i64,
    content: Option<&Attributes>,
    body: Option<&Value>,
) -> i64 {
    let mut h = Xxh3::new();
    h.update(identity.session_id.as_deref().unwrap_or("").as_bytes());
    h.update(&[0xff]);
    h.update(name.as_bytes());
    h.update(&[0xff]);
    h.update(&time_ns.to_le_bytes());
    match sequence {
        Some(seq) => {
            h.update(b"seq");
            h.update(&seq.to_le_bytes());
        }
        None => {
            h.update(b"content");
            if let Some(attributes) = content {
                attributes_hash(attributes, &mut h);
            }
            if let Some(body) = body {
                h.update(body.to_string().as_bytes());
            }
        }
    }
    h.digest() as i64
}

/// Hashes an attribute set independently of key order.
fn attributes_hash(attributes: &Attributes, h: &mut Xxh3) -> u64 {
    let mut keys: Vec<&String> = attributes.keys().collect();
    keys.sort_unstable();
    for key in keys {
        h.update(key.as_bytes());
        h.update(&[0xfe]);
        h.update(attributes[key].to_string().as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

/// The event's facts, by the table (`facts::FACT_RULES`).
fn facts_of(name: &str, a: &Known<'_>) -> EventFacts {
    let mut all = facts::evaluate_all(name, |key: &str| a.get(key));
    let mut take = |f: Fact| all[f as usize].take();
    let text = |v: Option<FactValue>| match v {
        Some(FactValue::Text(t)) => Some(t),
        _ => None,
    };
    let integer = |v: Option<FactValue>| match v {
        Some(FactValue::Integer(i)) => Some(i),
        _ => None,
    };
    let real = |v: Option<FactValue>| match v {
        Some(FactValue::Real(r)) => Some(r),
        _ => None,
    };
    EventFacts {
        model: text(take(Fact::Model)),
        cost_usd: real(take(Fact::CostUsd)),
        input_tokens: integer(take(Fact::InputTokens)),
        output_tokens: integer(take(Fact::OutputTokens)),
        cache_read_tokens: integer(take(Fact::CacheReadTokens)),
        cache_creation_tokens: integer(take(Fact::CacheCreationTokens)),
        duration_ms: real(take(Fact::DurationMs)),
        ttft_ms: real(take(Fact::TtftMs)),
        success: match take(Fact::Success) {
            Some(FactValue::Boolean(b)) => Some(b),
            _ => None,
        },
        status_code: integer(take(Fact::StatusCode)),
        attempt: integer(take(Fact::Attempt)),
        tool_name: text(take(Fact::ToolName)),
        tool_use_id: text(take(Fact::ToolUseId)),
        request_id: text(take(Fact::RequestId)),
        decision: text(take(Fact::Decision)),
        decision_source: text(take(Fact::DecisionSource)),
        error: text(take(Fact::Error)),
        prompt_text: text(take(Fact::PromptText)),
    }
}

impl facts::AttributeValue for AnyValue {
    fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        any_string(Some(self)).map(std::borrow::Cow::Owned)
    }

    fn number(&self) -> Option<f64> {
        any_f64(Some(self))
    }

    fn boolean(&self) -> Option<bool> {
        match self.value.as_ref()? {
            any_value::Value::BoolValue(b) => Some(*b),
            any_value::Value::IntValue(i) => Some(*i != 0),
            any_value::Value::StringValue(s) => facts::text_boolean(s),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics -> points

pub fn normalize_metrics(request: &ExportMetricsServiceRequest) -> Batch {
    let mut batch = Batch::default();
    for resource_metrics in &request.resource_metrics {
        let resource = resource_of(resource_metrics.resource.as_ref());
        for scope_metrics in &resource_metrics.scope_metrics {
            for metric in &scope_metrics.metrics {
                points_of(metric, &resource, &mut batch);
            }
        }
    }
    batch
}

/// What the points of one metric have in common.
struct MetricShape<'a> {
    metric: &'a Metric,
    kind: Option<MetricKind>,
    temporality: Temporality,
    resource: &'a Arc<Resource>,
}

fn temporality_of(value: i32) -> Temporality {
    match AggregationTemporality::try_from(value) {
        Ok(AggregationTemporality::Cumulative) => Temporality::Cumulative,
        // Unspecified is treated as delta: Claude Code's default and the safer reading
        // (nothing is subtracted).
        _ => Temporality::Delta,
    }
}

fn points_of(metric: &Metric, resource: &Arc<Resource>, batch: &mut Batch) {
    let kind = MetricKind::from_name(&metric.name);
    let shape = |temporality| MetricShape {
        metric,
        kind,
        temporality,
        resource,
    };
    let rejected = &mut batch.rejected;
    let points = &mut batch.points;
    match &metric.data {
        None => rejected.add(format!("metric {:?} has no data", truncate(&metric.name))),
        Some(Data::Sum(sum)) => {
            let shape = shape(if sum.is_monotonic || sum.aggregation_temporality != 0 {
                temporality_of(sum.aggregation_temporality)
            } else {
                Temporality::Gauge
            });
            for p in &sum.data_points {
                let value = number_value(p.value.as_ref());
                push_point(
                    &shape,
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    value,
                    None,
                    points,
                    rejected,
                );
            }
        }
        Some(Data::Gauge(gauge)) => {
            let shape = shape(Temporality::Gauge);
            for p in &gauge.data_points {
                let value = number_value(p.value.as_ref());
                push_point(
                    &shape,
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    value,
                    None,
                    points,
                    rejected,
                );
            }
        }
        Some(Data::Histogram(h)) => {
            let shape = shape(temporality_of(h.aggregation_temporality));
            for p in &h.data_points {
                let extra = json!({
                    "count": p.count, "sum": p.sum, "min": p.min, "max": p.max,
                    "bucket_counts": p.bucket_counts, "explicit_bounds": p.explicit_bounds,
                });
                push_point(
                    &shape,
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    Some(p.sum.unwrap_or(0.0)),
                    Some(extra),
                    points,
                    rejected,
                );
            }
        }
        Some(Data::ExponentialHistogram(h)) => {
            let shape = shape(temporality_of(h.aggregation_temporality));
            for p in &h.data_points {
                let bucket = |b: &Option<opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets>| {
                    b.as_ref().map(|b| json!({"offset": b.offset, "bucket_counts": b.bucket_counts}))
                };
                let extra = json!({
                    "count": p.count, "sum": p.sum, "min": p.min, "max": p.max, "scale": p.scale,
                    "zero_count": p.zero_count, "positive": bucket(&p.positive), "negative": bucket(&p.negative),
                });
                push_point(
                    &shape,
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    Some(p.sum.unwrap_or(0.0)),
                    Some(extra),
                    points,
                    rejected,
                );
            }
        }
        Some(Data::Summary(s)) => {
            let shape = shape(Temporality::Cumulative);
            for p in &s.data_points {
                let quantiles: Vec<Value> = p
                    .quantile_values
                    .iter()
                    .map(|q| json!({"quantile": q.quantile, "value": q.value}))
                    .collect();
                let extra = json!({"count": p.count, "sum": p.sum, "quantiles": quantiles});
                push_point(
                    &shape,
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    Some(p.sum),
                    Some(extra),
                    points,
                    rejected,
                );
            }
        }
    }
}

fn number_value(value: Option<&number_data_point::Value>) -> Option<f64> {
    match value? {
        number_data_point::Value::AsDouble(d) => Some(*d),
        number_data_point::Value::AsInt(i) => Some(*i as f64),
    }
}

#[allow(clippy::too_many_arguments)]
fn push_point(
    shape: &MetricShape<'_>,
    attrs: &[KeyValue],
    start: u64,
    time: u64,
    value: Option<f64>,
    extra: Option<Value>,
    points: &mut Vec<MetricPoint>,
    rejected: &mut Rejections,
) {
    match point_of(shape, attrs, start, time, value, extra) {
        Ok(point) => points.push(point),
        Err(reason) => rejected.add(reason),
    }
}

fn point_of(
    shape: &MetricShape<'_>,
    attrs: &[KeyValue],
    start: u64,
    time: u64,
    value: Option<f64>,
    extra: Option<Value>,
) -> Result<MetricPoint, String> {
    let metric = &shape.metric.name;
    check_attribute_count(attrs, "metric data point")?;
    let value =
        value.ok_or_else(|| format!("data point of {:?} has no value", truncate(metric)))?;
    if !value.is_finite() {
        return Err(format!(
            "data point of {:?} has a non-finite value",
            truncate(metric)
        ));
    }
    let time_ns = nanos(time, "timeUnixNano")?;
    if time_ns == 0 {
        return Err(format!(
            "data point of {:?} has no timeUnixNano",
            truncate(metric)
        ));
    }
    let start_ns = nanos(start, "startTimeUnixNano")?;
    let attributes = key_values_to_json(attrs);
    let mut h = Xxh3::new();
    h.update(metric.as_bytes());
    h.update(&[0xff]);
    h.update(shape.metric.unit.as_bytes());
    h.update(&[0xff]);
    h.update(shape.temporality.as_str().as_bytes());
    h.update(&shape.resource.hash.to_le_bytes());
    let series_hash = attributes_hash(&attributes, &mut h);
    Ok(MetricPoint {
        metric: metric.clone(),
        kind: shape.kind,
        unit: shape.metric.unit.clone(),
        temporality: shape.temporality,
        start_ns,
        time_ns,
        value,
        identity: identity_of(&attributes),
        model: attr_string(&attributes, "model"),
        point_type: attr_string(&attributes, "type"),
        attributes,
        resource: Arc::clone(shape.resource),
        series_hash,
        extra,
    })
}

fn truncate(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

// ---------------------------------------------------------------------------------------------
// Traces -> spans

pub fn normalize_traces(request: &ExportTraceServiceRequest) -> Batch {
    let mut batch = Batch::default();
    for resource_spans in &request.resource_spans {
        let resource = resource_of(resource_spans.resource.as_ref());
        for scope_spans in &resource_spans.scope_spans {
            let scope = scope_name(scope_spans.scope.as_ref());
            for span in &scope_spans.spans {
                let result = (|| -> Result<SpanRecord, String> {
                    check_attribute_count(&span.attributes, "span")?;
                    if span.trace_id.is_empty() || span.span_id.is_empty() {
                        return Err(format!(
                            "span {:?} has no trace or span id",
                            truncate(&span.name)
                        ));
                    }
                    let attributes = key_values_to_json(&span.attributes);
                    let events: Vec<Value> = span
                        .events
                        .iter()
                        .map(|e| {
                            json!({"time_ns": e.time_unix_nano, "name": e.name,
                                   "attributes": key_values_to_json(&e.attributes)})
                        })
                        .collect();
                    let links: Vec<Value> = span
                        .links
                        .iter()
                        .map(|l| {
                            json!({"trace_id": hex(&l.trace_id), "span_id": hex(&l.span_id),
                                   "attributes": key_values_to_json(&l.attributes)})
                        })
                        .collect();
                    let status = span.status.as_ref();
                    Ok(SpanRecord {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: (!span.parent_span_id.is_empty())
                            .then(|| hex(&span.parent_span_id)),
                        name: span.name.clone(),
                        kind: span.kind,
                        start_ns: nanos(span.start_time_unix_nano, "startTimeUnixNano")?,
                        end_ns: nanos(span.end_time_unix_nano, "endTimeUnixNano")?,
                        status_code: status.map(|s| s.code).unwrap_or(0),
                        status_message: status.map(|s| s.message.clone()).filter(|m| !m.is_empty()),
                        identity: identity_of(&attributes),
                        attributes,
                        events: Value::Array(events),
                        links: Value::Array(links),
                        scope: scope.clone(),
                        resource: Arc::clone(&resource),
                    })
                })();
                match result {
                    Ok(span) => batch.spans.push(span),
                    Err(reason) => batch.rejected.add(reason),
                }
            }
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Known` reads every key the table of facts names, so no rule silently reads nothing.
    #[test]
    fn every_key_of_the_table_is_read() {
        for rule in facts::FACT_RULES {
            let keys: Vec<&str> = match rule.rule {
                facts::Rule::First(keys) => keys.iter().map(|(k, _)| *k).collect(),
                facts::Rule::Unless(key, _) => vec![key],
                facts::Rule::AllZero(keys) => keys.to_vec(),
                facts::Rule::Absent | facts::Rule::Always(_) => Vec::new(),
            };
            for key in keys {
                assert!(Known::KEYS.contains(&key), "{key} ({:?})", rule.fact);
            }
        }
    }
}
