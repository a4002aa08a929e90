//! The one export format of events and metric points, for `ccscope export` and the dashboard's
//! download (`/api/events/export`): CSV with a header row, or a JSON array written one record
//! per line as it is read. Every field a consumer can filter by has its own column; the
//! attributes follow as one JSON text.

use std::io::Write;

use ccscope_query::{EventRow, PointRow, SourceError};
use serde::Serialize;

use crate::dto::{EventDoc, rfc3339};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// Columns of the events CSV.
pub const EVENT_COLUMNS: [&str; 14] = [
    "time",
    "time_ns",
    "name",
    "session_id",
    "sequence",
    "prompt_id",
    "user_id",
    "model",
    "tool_name",
    "cost_usd",
    "duration_ms",
    "success",
    "status_code",
    "attributes",
];

/// Columns of the metric points CSV.
pub const POINT_COLUMNS: [&str; 10] = [
    "metric",
    "unit",
    "temporality",
    "start",
    "time",
    "value",
    "session_id",
    "model",
    "type",
    "attributes",
];

/// One metric point, as `export --what points --format json` writes it.
#[derive(Debug, Clone, Serialize)]
pub struct PointDoc<'a> {
    pub metric: &'a str,
    pub unit: &'a str,
    pub temporality: &'a str,
    pub start: String,
    pub time: String,
    pub start_ns: i64,
    pub time_ns: i64,
    pub value: f64,
    pub session_id: &'a str,
    pub attributes: &'a serde_json::Value,
    pub resource: &'a serde_json::Value,
}

impl<'a> From<&'a PointRow> for PointDoc<'a> {
    fn from(row: &'a PointRow) -> PointDoc<'a> {
        PointDoc {
            metric: &row.metric,
            unit: &row.unit,
            temporality: &row.temporality,
            start: rfc3339(row.start_ns),
            time: rfc3339(row.time_ns),
            start_ns: row.start_ns,
            time_ns: row.time_ns,
            value: row.value,
            session_id: &row.session_id,
            attributes: &row.attributes,
            resource: &row.resource,
        }
    }
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn output(error: impl Into<std::io::Error>) -> SourceError {
    SourceError::Output(error.into())
}

fn csv_error(error: csv::Error) -> SourceError {
    SourceError::Output(std::io::Error::other(error))
}

/// A CSV cell a spreadsheet will not run: self-reported values (`user.email`, `session.id`,
/// `model`, tool names) that start with `=`, `+`, `-`, `@`, tab or CR would be formulas, so
/// they get a leading `'` (OWASP's CSV injection advice). A plain number (`-1.5`) is left as it
/// is: a spreadsheet reads it as a number.
fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().map_or(true, |v| !v.is_finite()) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Writes records of one kind to `out` in one format, as they come.
pub struct Writer<W: Write> {
    format: Format,
    csv: Option<csv::Writer<W>>,
    json: Option<W>,
    first: bool,
}

impl<W: Write> Writer<W> {
    fn new(format: Format, out: W, columns: &[&str]) -> Result<Writer<W>, SourceError> {
        match format {
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(columns).map_err(csv_error)?;
                Ok(Writer {
                    format,
                    csv: Some(csv),
                    json: None,
                    first: true,
                })
            }
            Format::Json => {
                let mut out = out;
                write!(out, "[").map_err(output)?;
                Ok(Writer {
                    format,
                    csv: None,
                    json: Some(out),
                    first: true,
                })
            }
        }
    }

    /// A writer of events (`EVENT_COLUMNS`, or `EventDoc`s).
    pub fn events(format: Format, out: W) -> Result<Writer<W>, SourceError> {
        Writer::new(format, out, &EVENT_COLUMNS)
    }

    /// A writer of metric points (`POINT_COLUMNS`, or `PointDoc`s).
    pub fn points(format: Format, out: W) -> Result<Writer<W>, SourceError> {
        Writer::new(format, out, &POINT_COLUMNS)
    }

    fn json(&mut self, value: &impl Serialize) -> Result<(), SourceError> {
        let Some(out) = self.json.as_mut() else {
            return Ok(());
        };
        let sep = if self.first { "\n" } else { ",\n" };
        self.first = false;
        out.write_all(sep.as_bytes()).map_err(output)?;
        serde_json::to_writer(&mut *out, value).map_err(output)
    }

    fn record(&mut self, fields: &[String]) -> Result<(), SourceError> {
        match self.csv.as_mut() {
            Some(csv) => csv
                .write_record(fields.iter().map(|f| neutralised(f).into_owned()))
                .map_err(csv_error),
            None => Ok(()),
        }
    }

    pub fn event(&mut self, row: &EventRow) -> Result<(), SourceError> {
        if self.format == Format::Json {
            return self.json(&EventDoc::from(row));
        }
        self.record(&[
            rfc3339(row.time_ns),
            row.time_ns.to_string(),
            row.name.clone(),
            row.session_id.clone(),
            opt(row.sequence),
            opt(row.prompt_id.as_ref()),
            opt(row.user_id.as_ref()),
            opt(row.model.as_ref()),
            opt(row.tool_name.as_ref()),
            opt(row.cost_usd),
            opt(row.duration_ms),
            opt(row.success),
            opt(row.status_code),
            row.attributes.to_string(),
        ])
    }

    pub fn point(&mut self, row: &PointRow) -> Result<(), SourceError> {
        if self.format == Format::Json {
            return self.json(&PointDoc::from(row));
        }
        self.record(&[
            row.metric.clone(),
            row.unit.clone(),
            row.temporality.clone(),
            rfc3339(row.start_ns),
            rfc3339(row.time_ns),
            row.value.to_string(),
            row.session_id.clone(),
            opt(row.model.as_ref()),
            opt(row.point_type.as_ref()),
            row.attributes.to_string(),
        ])
    }

    /// Ends the document and hands back the output.
    pub fn finish(self) -> Result<W, SourceError> {
        match (self.csv, self.json) {
            (Some(csv), _) => csv
                .into_inner()
                .map_err(|e| output(std::io::Error::other(e.to_string()))),
            (None, Some(mut out)) => {
                out.write_all(b"\n]\n").map_err(output)?;
                out.flush().map_err(output)?;
                Ok(out)
            }
            (None, None) => Err(output(std::io::Error::other(
                "export writer already finished",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> EventRow {
        EventRow {
            time_ns: 1_700_000_000_000_000_000,
            name: "api_request".into(),
            session_id: "s1".into(),
            sequence: Some(3),
            prompt_id: None,
            user_id: None,
            model: None,
            tool_name: None,
            cost_usd: Some(0.5),
            duration_ms: None,
            success: None,
            status_code: None,
            request_id: None,
            tool_use_id: None,
            decision: None,
            decision_source: None,
            error: None,
            tokens: None,
            prompt: None,
            prompt_length: None,
            attributes: serde_json::json!({"model": "m", "note": "a,\"b\""}),
            resource: serde_json::json!({}),
        }
    }

    #[test]
    fn csv_has_every_column_and_quotes_attributes() {
        let mut w = Writer::events(Format::Csv, Vec::new()).expect("writer");
        w.event(&row()).expect("row");
        let text = String::from_utf8(w.finish().expect("finish")).expect("utf8");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(EVENT_COLUMNS.join(",").as_str()));
        let record = lines.next().expect("record");
        assert!(
            record.starts_with(
                "2023-11-14T22:13:20.000Z,1700000000000000000,api_request,s1,3,,,,,0.5,"
            ),
            "{record}"
        );
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let parsed = reader.records().next().expect("one").expect("csv");
        let attrs: serde_json::Value = serde_json::from_str(&parsed[13]).expect("json");
        assert_eq!(attrs["note"], "a,\"b\"");
    }

    #[test]
    fn self_reported_cells_cannot_become_spreadsheet_formulas() {
        let mut w = Writer::events(Format::Csv, Vec::new()).expect("writer");
        let mut hostile = row();
        hostile.session_id = "=HYPERLINK(\"https://evil.example\",\"x\")".into();
        hostile.user_id = Some("+1+cmd|' /C calc'!A0".into());
        hostile.model = Some("-2+3".into());
        hostile.tool_name = Some("@SUM(A1)".into());
        hostile.prompt_id = Some("\tTAB".into());
        hostile.name = "\rCR".into();
        w.event(&hostile).expect("row");
        let text = String::from_utf8(w.finish().expect("finish")).expect("utf8");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let parsed = reader.records().next().expect("one").expect("csv");
        for (column, expected) in [
            (2, "'\rCR"),
            (3, "'=HYPERLINK(\"https://evil.example\",\"x\")"),
            (5, "'\tTAB"),
            (6, "'+1+cmd|' /C calc'!A0"),
            (7, "'-2+3"),
            (8, "'@SUM(A1)"),
        ] {
            assert_eq!(&parsed[column], expected, "column {column}");
        }
        assert_eq!(neutralised("-1.5"), "-1.5", "a number stays a number");
        assert_eq!(neutralised("-inf"), "'-inf");
        assert_eq!(neutralised("plain"), "plain");
    }

    #[test]
    fn json_is_one_array_of_event_documents() {
        let mut w = Writer::events(Format::Json, Vec::new()).expect("writer");
        w.event(&row()).expect("row");
        w.event(&row()).expect("row");
        let text = String::from_utf8(w.finish().expect("finish")).expect("utf8");
        let list: Vec<serde_json::Value> = serde_json::from_str(&text).expect("array");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["sequence"], 3);
        assert_eq!(list[0]["time"], "2023-11-14T22:13:20.000Z");
        let empty = Writer::events(Format::Json, Vec::new()).expect("writer");
        let text = String::from_utf8(empty.finish().expect("finish")).expect("utf8");
        assert_eq!(
            serde_json::from_str::<Vec<serde_json::Value>>(&text)
                .expect("[]")
                .len(),
            0
        );
    }
}
