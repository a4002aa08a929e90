//! Turns a `Batch` into rows ready to bind: attribute maps serialised to JSON text and dropped,
//! plain model names derived. Runs on the submitting task, in parallel across exports, so the
//! single writer thread only binds and inserts.

use ccscope_telemetry::{
    Batch, Event, MetricPoint, SpanRecord, plain_model_name, value::Attributes,
};

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
                let attributes = json_text(&std::mem::take(&mut event.attributes));
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
