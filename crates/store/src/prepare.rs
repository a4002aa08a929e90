//! Turns a `Batch` into rows ready to bind: attributes serialised to JSON text (less what
//! columns hold) and dropped, plain model names derived. Runs on the submitting task, in parallel across exports, so the
//! single writer thread only binds and inserts.

use ccscope_telemetry::otlp::tonic::common::v1::{AnyValue, KeyValue, any_value};
use ccscope_telemetry::{
    Batch, Event, MetricPoint, SpanRecord, plain_model_name,
    value::{Attributes, key_values_json_text},
};
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

/// Event attributes that have columns of their own. They are not repeated in the stored JSON
/// text when the column holds them exactly (a non-empty string, or the integer sequence:
/// normalisation moves those out of `Event::attributes`); `restore_event_columns` puts them
/// back on reading. About a quarter of a Claude Code event's bytes, and so of the ingest I/O.
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

/// The kind of value a fact column of `events` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FactColumn {
    Text,
    Integer,
    Real,
    /// `success`: 1 or 0.
    Boolean,
}

/// Event attributes that a fact column of `events` may hold exactly (key, column, kind). When
/// it does, the stored JSON text leaves the attribute out and `events.moved` records, in bits
/// `2i` and `2i + 1` for entry `i`, the form it was sent in (`FORM_*`), so the reader writes it
/// back as sent. Claude Code's `api_request` attributes shrink by two thirds and the row by
/// about a third: less to bind, write, checksum and checkpoint. Append only: stored masks
/// refer to these positions.
pub(crate) const MOVED_KEYS: [(&str, &str, FactColumn); 17] = [
    ("event.name", "name", FactColumn::Text),
    ("model", "model", FactColumn::Text),
    ("request_id", "request_id", FactColumn::Text),
    ("tool_name", "tool_name", FactColumn::Text),
    ("tool_use_id", "tool_use_id", FactColumn::Text),
    ("decision", "decision", FactColumn::Text),
    ("error", "error", FactColumn::Text),
    ("input_tokens", "input_tokens", FactColumn::Integer),
    ("output_tokens", "output_tokens", FactColumn::Integer),
    (
        "cache_read_tokens",
        "cache_read_tokens",
        FactColumn::Integer,
    ),
    (
        "cache_creation_tokens",
        "cache_creation_tokens",
        FactColumn::Integer,
    ),
    ("status_code", "status_code", FactColumn::Integer),
    ("attempt", "attempt", FactColumn::Integer),
    ("cost_usd", "cost_usd", FactColumn::Real),
    ("duration_ms", "duration_ms", FactColumn::Real),
    ("ttft_ms", "ttft_ms", FactColumn::Real),
    ("success", "success", FactColumn::Boolean),
];

/// Sent as a string (numbers and booleans as Rust renders them: `18`, `0.5`, `true`).
pub(crate) const FORM_TEXT: i64 = 1;
/// Sent as an integer.
pub(crate) const FORM_INTEGER: i64 = 2;
/// Sent as a double (real columns) or a boolean (`success`).
pub(crate) const FORM_NATIVE: i64 = 3;

/// The position of `key` in `MOVED_KEYS` (a `match`, cheaper than searching the table for every
/// attribute of every event; a test checks the two agree).
pub(crate) fn moved_index(key: &str) -> Option<usize> {
    Some(match key {
        "event.name" => 0,
        "model" => 1,
        "request_id" => 2,
        "tool_name" => 3,
        "tool_use_id" => 4,
        "decision" => 5,
        "error" => 6,
        "input_tokens" => 7,
        "output_tokens" => 8,
        "cache_read_tokens" => 9,
        "cache_creation_tokens" => 10,
        "status_code" => 11,
        "attempt" => 12,
        "cost_usd" => 13,
        "duration_ms" => 14,
        "ttft_ms" => 15,
        "success" => 16,
        _ => return None,
    })
}

/// What an event's column for `MOVED_KEYS[index]` holds.
enum FactValue<'a> {
    Text(Option<&'a str>),
    Integer(Option<i64>),
    Real(Option<f64>),
    Boolean(Option<bool>),
}

fn fact_value(event: &Event, index: usize) -> FactValue<'_> {
    let f = &event.facts;
    match index {
        0 => FactValue::Text(Some(&event.name)),
        1 => FactValue::Text(f.model.as_deref()),
        2 => FactValue::Text(f.request_id.as_deref()),
        3 => FactValue::Text(f.tool_name.as_deref()),
        4 => FactValue::Text(f.tool_use_id.as_deref()),
        5 => FactValue::Text(f.decision.as_deref()),
        6 => FactValue::Text(f.error.as_deref()),
        7 => FactValue::Integer(f.input_tokens),
        8 => FactValue::Integer(f.output_tokens),
        9 => FactValue::Integer(f.cache_read_tokens),
        10 => FactValue::Integer(f.cache_creation_tokens),
        11 => FactValue::Integer(f.status_code),
        12 => FactValue::Integer(f.attempt),
        13 => FactValue::Real(f.cost_usd),
        14 => FactValue::Real(f.duration_ms),
        15 => FactValue::Real(f.ttft_ms),
        _ => FactValue::Boolean(f.success),
    }
}

/// The form in which `value` was sent when the column's `fact` holds it exactly, so that
/// `restore_moved` gives back the very same JSON; `None` when it does not.
fn moved_form(value: Option<&AnyValue>, fact: FactValue<'_>) -> Option<i64> {
    use any_value::Value as V;
    match (value?.value.as_ref()?, fact) {
        (V::StringValue(s), FactValue::Text(Some(c))) => (s == c).then_some(FORM_TEXT),
        (V::StringValue(s), FactValue::Integer(Some(c))) => {
            (c.to_string() == *s).then_some(FORM_TEXT)
        }
        (V::StringValue(s), FactValue::Real(Some(c))) => (c.to_string() == *s).then_some(FORM_TEXT),
        (V::StringValue(s), FactValue::Boolean(Some(c))) => {
            (c.to_string() == *s).then_some(FORM_TEXT)
        }
        (V::IntValue(i), FactValue::Integer(Some(c))) => (*i == c).then_some(FORM_INTEGER),
        // Integers a double holds exactly.
        (V::IntValue(i), FactValue::Real(Some(c))) => {
            (i.unsigned_abs() < 1 << 53 && *i as f64 == c).then_some(FORM_INTEGER)
        }
        // SQLite may keep an integral REAL as an integer on disk, which would lose -0.0.
        (V::DoubleValue(d), FactValue::Real(Some(c))) => {
            (d.to_bits() == c.to_bits() && d.is_finite() && !(*d == 0.0 && d.is_sign_negative()))
                .then_some(FORM_NATIVE)
        }
        (V::BoolValue(b), FactValue::Boolean(Some(c))) => (*b == c).then_some(FORM_NATIVE),
        _ => None,
    }
}

/// Takes out of `attributes` the ones a fact column holds exactly; returns the `moved` mask.
fn move_fact_attributes(event: &Event, attributes: &mut Vec<KeyValue>) -> i64 {
    let mut moved = 0i64;
    attributes.retain(|kv| {
        let Some(index) = moved_index(&kv.key) else {
            return true;
        };
        match moved_form(kv.value.as_ref(), fact_value(event, index)) {
            Some(form) => {
                moved |= form << (2 * index);
                false
            }
            None => true,
        }
    });
    moved
}

/// Puts back the attributes `move_fact_attributes` took out, from the row's `moved` mask and
/// its `MOVED_KEYS` columns (in that order).
pub(crate) fn restore_moved(attributes: &mut Value, moved: Option<i64>, columns: &[SqlValue]) {
    let (Some(moved), Some(map)) = (moved, attributes.as_object_mut()) else {
        return;
    };
    for (index, ((key, _, kind), column)) in MOVED_KEYS.iter().zip(columns).enumerate() {
        let form = (moved >> (2 * index)) & 3;
        let value = match (form, kind, column) {
            (0, _, _) => continue,
            (FORM_TEXT, _, SqlValue::Text(s)) => Value::String(s.clone()),
            (FORM_TEXT, FactColumn::Boolean, SqlValue::Integer(b)) => {
                Value::String((*b != 0).to_string())
            }
            (FORM_TEXT, _, SqlValue::Integer(i)) => Value::String(i.to_string()),
            (FORM_TEXT, _, SqlValue::Real(f)) => Value::String(f.to_string()),
            (FORM_INTEGER, _, SqlValue::Integer(i)) => Value::from(*i),
            (FORM_INTEGER, _, SqlValue::Real(f)) => Value::from(*f as i64),
            (FORM_NATIVE, FactColumn::Boolean, SqlValue::Integer(b)) => Value::Bool(*b != 0),
            (FORM_NATIVE, _, SqlValue::Real(f)) => Value::from(*f),
            (FORM_NATIVE, _, SqlValue::Integer(i)) => Value::from(*i as f64),
            _ => continue,
        };
        if !map.contains_key(*key) {
            map.insert((*key).to_owned(), value);
        }
    }
}

/// The stored column values of one event row, in `EVENT_COLUMN_KEYS` order.
pub(crate) struct EventColumns {
    pub text: [Option<String>; 7],
    pub seq: Option<i64>,
}

/// Puts back the identity attributes normalisation moved into columns.
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
    /// The event with its attribute list taken out (serialised into `attributes`).
    pub event: Event,
    pub attributes: String,
    /// Which attributes fact columns hold instead of `attributes` (see `MOVED_KEYS`).
    pub moved: i64,
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
                // Normalisation already moved the identity attributes out; the facts go here.
                let mut attributes = std::mem::take(&mut event.attributes);
                let moved = move_fact_attributes(&event, &mut attributes);
                let attributes = key_values_json_text(&attributes);
                PreparedEvent {
                    moved,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_index_agrees_with_the_table() {
        for (index, (key, _, _)) in MOVED_KEYS.iter().enumerate() {
            assert_eq!(moved_index(key), Some(index), "{key}");
        }
        assert_eq!(moved_index("event.sequence"), None);
        // Two bits per entry must fit the mask.
        assert!(2 * MOVED_KEYS.len() <= 62);
    }
}
