//! Turns a `Batch` into rows ready to bind: attribute maps serialised to JSON text and dropped,
//! plain model names derived. Runs on the submitting task, in parallel across exports, so the
//! single writer thread only binds and inserts.

use ccscope_telemetry::{
    Batch, Event, MetricPoint, SpanRecord, plain_model_name, value::Attributes,
};
use serde_json::Value;

/// Event attributes that have columns of their own. They are not repeated in the stored JSON
/// text when the column holds them exactly (a string equal to the column, or the integer
/// sequence); `restore_event_columns` puts them back on reading. About a quarter of a Claude
/// Code event's bytes, and so of the ingest I/O.
pub(crate) const EVENT_COLUMN_KEYS: [(&str, &str); 8] = [
    ("session.id", "session_id"),
    ("user.id", "user_id"),
    ("user.email", "user_email"),
    ("organization.id", "organization_id"),
    ("terminal.type", "terminal_type"),
    ("app.version", "app_version"),
    ("prompt.id", "prompt_id"),
    ("event.sequence", "seq"),
];

fn column_text<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    let id = &event.identity;
    match key {
        "session.id" => id.session_id.as_deref(),
        "user.id" => id.user_id.as_deref(),
        "user.email" => id.user_email.as_deref(),
        "organization.id" => id.organization_id.as_deref(),
        "terminal.type" => id.terminal_type.as_deref(),
        "app.version" => id.app_version.as_deref(),
        "prompt.id" => event.prompt_id.as_deref(),
        _ => None,
    }
}

/// Removes the attributes that `EVENT_COLUMN_KEYS` columns hold exactly.
fn strip_event_columns(event: &Event, attributes: &mut Attributes) {
    for (key, _) in EVENT_COLUMN_KEYS {
        let held = match attributes.get(key) {
            Some(Value::String(s)) => !s.is_empty() && column_text(event, key) == Some(s.as_str()),
            Some(Value::Number(n)) if key == "event.sequence" => {
                n.is_i64() && n.as_i64() == event.sequence
            }
            _ => false,
        };
        if held {
            attributes.remove(key);
        }
    }
}

/// The stored column values of one event row, in `EVENT_COLUMN_KEYS` order.
pub(crate) struct EventColumns {
    pub text: [Option<String>; 7],
    pub seq: Option<i64>,
}

/// Puts back the attributes `strip_event_columns` left out.
pub(crate) fn restore_event_columns(attributes: &mut Value, columns: EventColumns) {
    let Some(map) = attributes.as_object_mut() else {
        return;
    };
    for ((key, _), value) in EVENT_COLUMN_KEYS.iter().zip(columns.text) {
        if let Some(value) = value.filter(|v| !v.is_empty())
            && !map.contains_key(*key)
        {
            map.insert((*key).to_owned(), Value::String(value));
        }
    }
    if let Some(seq) = columns.seq
        && !map.contains_key("event.sequence")
    {
        map.insert("event.sequence".to_owned(), Value::from(seq));
    }
}

pub(crate) struct PreparedEvent {
    /// The event with its attribute map taken out (serialised into `attributes`).
    pub event: Event,
    pub attributes: String,
    pub body: Option<String>,
    pub model_base: Option<String>,
}

pub(crate) struct PreparedPoint {
    pub point: MetricPoint,
    pub attributes: String,
    pub extra: Option<String>,
    pub model_base: Option<String>,
}

pub(crate) struct PreparedSpan {
    pub span: SpanRecord,
    pub attributes: String,
    pub events: String,
    pub links: String,
}

/// A batch in the shape the writer inserts.
pub(crate) struct Prepared {
    pub events: Vec<PreparedEvent>,
    pub points: Vec<PreparedPoint>,
    pub spans: Vec<PreparedSpan>,
}

pub(crate) fn json_text(attributes: &Attributes) -> String {
    // Serialising a map of JSON values cannot fail: keys are strings.
    serde_json::to_string(attributes).unwrap_or_else(|_| "{}".to_owned())
}

impl From<Batch> for Prepared {
    fn from(batch: Batch) -> Prepared {
        let events = batch
            .events
            .into_iter()
            .map(|mut event| {
                let mut attributes = std::mem::take(&mut event.attributes);
                strip_event_columns(&event, &mut attributes);
                let attributes = json_text(&attributes);
                PreparedEvent {
                    body: event.body.take().map(|b| b.to_string()),
                    model_base: event
                        .facts
                        .model
                        .as_deref()
                        .map(|m| plain_model_name(m).to_owned()),
                    event,
                    attributes,
                }
            })
            .collect();
        let points = batch
            .points
            .into_iter()
            .map(|mut point| {
                let attributes = json_text(&std::mem::take(&mut point.attributes));
                PreparedPoint {
                    extra: point.extra.take().map(|x| x.to_string()),
                    model_base: point
                        .model
                        .as_deref()
                        .map(|m| plain_model_name(m).to_owned()),
                    point,
                    attributes,
                }
            })
            .collect();
        let spans = batch
            .spans
            .into_iter()
            .map(|mut span| PreparedSpan {
                attributes: json_text(&std::mem::take(&mut span.attributes)),
                events: std::mem::take(&mut span.events).to_string(),
                links: std::mem::take(&mut span.links).to_string(),
                span,
            })
            .collect();
        Prepared {
            events,
            points,
            spans,
        }
    }
}
