//! Every recorded Claude Code payload decodes and normalises; protobuf and its OTLP/JSON
//! rendering give the same records; known names come out typed.

mod common;

use std::path::Path;

use common::payloads;

use ccscope_telemetry::{
    Encoding, EventKind, MetricKind, Signal, decode_request, gunzip_capped, normalize,
};

fn signal_of(path: &Path) -> Signal {
    let name = path
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    if name.contains("-logs") {
        Signal::Logs
    } else if name.contains("-metrics") {
        Signal::Metrics
    } else {
        Signal::Traces
    }
}

#[test]
fn protobuf_and_json_renderings_normalise_identically() {
    for pb in payloads(".pb") {
        let signal = signal_of(&pb);
        let from_pb = decode_request(
            signal,
            Encoding::Protobuf,
            &std::fs::read(&pb).expect("read"),
        )
        .expect("protobuf fixture decodes");
        let json_path = pb.with_extension("decoded.json");
        let from_json = decode_request(
            signal,
            Encoding::Json,
            &std::fs::read(&json_path).expect("read json"),
        )
        .expect("json rendering decodes");
        let a = normalize(from_pb, 1);
        let b = normalize(from_json, 1);
        assert!(!a.is_empty(), "{} normalised to nothing", pb.display());
        assert_eq!(a, b, "{} differs from its JSON rendering", pb.display());
        assert_eq!(a.rejected.count, 0, "{}: {:?}", pb.display(), a.rejected);
    }
}

#[test]
fn gzip_bodies_match_their_plain_protobuf() {
    for gz in payloads(".body.gz") {
        let body = gunzip_capped(&std::fs::read(&gz).expect("read"), 1 << 24).expect("gunzip");
        let plain = std::fs::read(gz.with_extension("").with_extension("pb")).expect("plain pb");
        assert_eq!(body, plain, "{}", gz.display());
    }
}

#[test]
fn http_json_payloads_are_typed() {
    let mut kinds = std::collections::BTreeSet::new();
    let mut metrics = std::collections::BTreeSet::new();
    for path in payloads(".json")
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".decoded.json"))
    {
        let request = decode_request(
            signal_of(&path),
            Encoding::Json,
            &std::fs::read(&path).expect("read"),
        )
        .expect("json fixture decodes");
        let batch = normalize(request, 1);
        assert!(!batch.is_empty(), "{}", path.display());
        for event in &batch.events {
            assert!(event.kind.is_some(), "unknown event kind {}", event.name);
            assert!(event.identity.session_id.is_some(), "event without session");
            assert!(event.sequence.is_some(), "event without sequence");
            kinds.insert(event.name.clone());
            if event.kind == Some(EventKind::ApiRequest) {
                assert!(event.facts.cost_usd.is_some() && event.facts.input_tokens.is_some());
            }
            if event.kind == Some(EventKind::ToolResult) {
                // duration_ms and success arrive as strings
                assert!(event.facts.duration_ms.is_some(), "{:?}", event.attributes);
                assert!(event.facts.success.is_some());
            }
        }
        for point in &batch.points {
            assert!(point.kind.is_some(), "unknown metric {}", point.metric);
            metrics.insert(point.kind.expect("kind").name());
        }
    }
    for expected in [
        "user_prompt",
        "api_request",
        "tool_decision",
        "tool_result",
        "api_error",
    ] {
        assert!(
            kinds.contains(expected),
            "no {expected} in fixtures: {kinds:?}"
        );
    }
    assert!(metrics.contains(MetricKind::CostUsage.name()));
    assert!(metrics.contains(MetricKind::TokenUsage.name()));
}

#[test]
fn prompt_text_is_kept_only_when_sent() {
    let mut redacted = 0;
    let mut sent = 0;
    for path in payloads("-logs.json")
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".decoded.json"))
    {
        let request = decode_request(
            Signal::Logs,
            Encoding::Json,
            &std::fs::read(&path).expect("read"),
        )
        .expect("decodes");
        for event in normalize(request, 1).events {
            if event.kind == Some(EventKind::UserPrompt) {
                match &event.facts.prompt_text {
                    Some(text) => {
                        assert!(
                            path.to_string_lossy().contains("log-user-prompts"),
                            "{text}"
                        );
                        sent += 1;
                    }
                    None => redacted += 1,
                }
            }
        }
    }
    assert!(sent > 0 && redacted > 0, "sent {sent}, redacted {redacted}");
}
