//! The receiver's own OTLP/JSON logs decoder (`json_logs`) reads every body exactly as
//! `opentelemetry-proto`'s serde support does: each recorded payload, each protobuf payload
//! rendered to JSON by the library, and hand-written edge cases decode to equal requests, and
//! what the library refuses, it refuses too.

mod common;

use std::path::PathBuf;

use ccscope_telemetry::otlp::tonic::collector::logs::v1::ExportLogsServiceRequest;
use ccscope_telemetry::otlp::tonic::common::v1::any_value::Value;
use ccscope_telemetry::{Encoding, ExportRequest, Signal, decode_request};
use prost::Message;

/// The logs payloads among the recorded ones whose name ends with `ext`.
fn logs_payloads(ext: &str) -> Vec<PathBuf> {
    common::payloads(ext)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("-logs"))
        .collect()
}

fn ours(body: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    match decode_request(Signal::Logs, Encoding::Json, body) {
        Ok(ExportRequest::Logs(request)) => Ok(request),
        Ok(_) => Err("not a logs request".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

fn library(body: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

fn same(body: &str) -> ExportLogsServiceRequest {
    let expected = library(body.as_bytes()).unwrap_or_else(|e| panic!("library: {e}\n{body}"));
    let got = ours(body.as_bytes()).unwrap_or_else(|e| panic!("ours: {e}\n{body}"));
    assert_eq!(got, expected, "{body}");
    got
}

#[test]
fn recorded_json_payloads_decode_as_the_library_decodes_them() {
    let paths = logs_payloads(".json");
    assert!(paths.len() >= 4, "too few JSON log fixtures: {paths:?}");
    let mut records = 0;
    for path in paths {
        let body = std::fs::read(&path).expect("read");
        let expected = library(&body).expect("library decodes the fixture");
        let got = ours(&body).expect("ours decodes the fixture");
        assert_eq!(got, expected, "{}", path.display());
        records += got
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum::<usize>();
    }
    assert!(records > 20, "only {records} records compared");
}

#[test]
fn protobuf_payloads_rendered_to_json_decode_back_to_themselves() {
    let paths = logs_payloads(".pb");
    assert!(!paths.is_empty(), "no protobuf log fixtures");
    for path in paths {
        let body = std::fs::read(&path).expect("read");
        let Ok(request) = ExportLogsServiceRequest::decode(body.as_slice()) else {
            continue; // gzip or not a request: covered by the fixture tests
        };
        let json = serde_json::to_string(&request).expect("render");
        assert_eq!(
            ours(json.as_bytes()).expect("ours"),
            request,
            "{}",
            path.display()
        );
        same(&json);
    }
}

#[test]
fn every_value_form_decodes_as_the_library_decodes_it() {
    let request = same(
        r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}}],"droppedAttributesCount":2,
             "entityRefs":[{"schemaUrl":"u","type":"host","idKeys":["host.id"],"descriptionKeys":[]}]},
           "schemaUrl":"https://opentelemetry.io/schemas/1.30.0",
           "scopeLogs":[{"scope":{"name":"com.anthropic.claude_code.events","version":"2.1.197","attributes":[],"droppedAttributesCount":0},
             "logRecords":[{"timeUnixNano":"1764600000123456789","observedTimeUnixNano":1764600000123456790,
               "severityNumber":9,"severityText":"INFO","body":{"stringValue":"claude_code.api_request"},
               "attributes":[
                 {"key":"s","value":{"stringValue":"a \"quoted\" \u00e9 text\n"}},
                 {"key":"i_string","value":{"intValue":"-42"}},
                 {"key":"i_number","value":{"intValue":42}},
                 {"key":"i_max","value":{"intValue":"9223372036854775807"}},
                 {"key":"d","value":{"doubleValue":0.125}},
                 {"key":"d_int","value":{"doubleValue":3}},
                 {"key":"b","value":{"boolValue":true}},
                 {"key":"bytes","value":{"bytesValue":"aGVsbG8="}},
                 {"key":"array","value":{"arrayValue":{"values":[{"stringValue":"x"},{"intValue":"7"},{"arrayValue":{"values":[]}}]}}},
                 {"key":"kv","value":{"kvlistValue":{"values":[{"key":"inner","value":{"boolValue":false}},{"key":"none"}]}}},
                 {"key":"empty","value":{}},
                 {"key":"null_value","value":null},
                 {"key":"unknown_only","value":{"futureValue":{"a":[1,2,{"b":null}]}}},
                 {"key":"null_then_set","value":{"stringValue":null,"intValue":"5"}},
                 {"key":"absent"}],
               "droppedAttributesCount":1,"flags":1,
               "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
               "eventName":"claude_code.api_request","futureField":{"x":1}}]}]}]}"#,
    );
    let record = &request.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(record.time_unix_nano, 1_764_600_000_123_456_789);
    assert_eq!(record.observed_time_unix_nano, 1_764_600_000_123_456_790);
    let value = |key: &str| {
        record
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.clone())
    };
    assert_eq!(value("i_string"), Some(Value::IntValue(-42)));
    assert_eq!(value("i_number"), Some(Value::IntValue(42)));
    assert_eq!(value("i_max"), Some(Value::IntValue(i64::MAX)));
    assert_eq!(value("d_int"), Some(Value::DoubleValue(3.0)));
    assert_eq!(value("bytes"), Some(Value::BytesValue(b"hello".to_vec())));
    assert_eq!(value("null_then_set"), Some(Value::IntValue(5)));
    assert_eq!(value("empty"), None);
    assert_eq!(record.trace_id.len(), 16);
    assert_eq!(record.span_id.len(), 8);

    // Missing fields take their defaults, at every level.
    same(r#"{}"#);
    same(r#"{"resourceLogs":[]}"#);
    same(r#"{"resourceLogs":[{}]}"#);
    same(r#"{"resourceLogs":[{"resource":null,"scopeLogs":[{"scope":null,"logRecords":[{}]}]}]}"#);
    same(
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[]}}}]}]}]}"#,
    );
    // serde reads a struct from an array of its fields too.
    same(r#"[]"#);
    same(r#"[[[null, [[null, [{}], ""]], "u"]]]"#);
    // Wrongly cased keys are unknown keys, ignored (decode then reports the empty request).
    assert_eq!(
        library(br#"{"resourceLogs":[{"scope_logs":[{"log_records":[{}]}]}]}"#),
        ours(br#"{"resourceLogs":[{"scope_logs":[{"log_records":[{}]}]}]}"#)
    );
}

#[test]
fn what_the_library_refuses_is_refused() {
    for body in [
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"12x"}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":-1}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":12}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"value":{"stringValue":"no key"}}]}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":"bare"}]}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":{"intValue":"1.5"}}]}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":{"intValue":"9223372036854775808"}}]}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":{"bytesValue":"%%%"}}]}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"k","value":{"arrayValue":{}}}]}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"9"}]}]}]}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityText":null}]}]}]}"#,
        r#"{"resourceLogs":null}"#,
        r#"{"resourceLogs":[]} trailing"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{}]}]}"#,
    ] {
        assert!(library(body.as_bytes()).is_err(), "library accepts {body}");
        let error = ours(body.as_bytes()).expect_err(body);
        assert!(error.contains("logs"), "error names the signal: {error}");
    }
    // Invalid UTF-8 inside a string and outside one.
    for body in [
        &b"{\"resourceLogs\":[{\"schemaUrl\":\"\xff\xfe\"}]}"[..],
        &b"{\"resourceLogs\":[]\xff}"[..],
    ] {
        assert!(library(body).is_err());
        let error = ours(body).expect_err("invalid UTF-8");
        assert_eq!(
            error,
            format!(
                "body is not valid OTLP/JSON for logs: {}",
                library(body).expect_err("library")
            ),
        );
    }
}
