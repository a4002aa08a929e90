//! Bad input gets a precise status, nothing panics, and nothing already accepted is lost.

mod common;
#[path = "common/raw_grpc.rs"]
mod raw_grpc;

use raw_grpc::RawBytes;

use std::io::Write;

use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message;
use serde_json::{Value, json};

#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip finish")
}

struct Sent {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

async fn send(
    client: &reqwest::Client,
    url: String,
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Sent {
    let mut request = client.post(url).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    if let Some(e) = encoding {
        request = request.header("content-encoding", e);
    }
    let response = request.send().await.expect("send");
    Sent {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

fn json_status(sent: &Sent) -> Value {
    serde_json::from_slice(&sent.body).unwrap_or_else(|e| {
        panic!(
            "status body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&sent.body)
        )
    })
}

fn one_record(attributes: Vec<Value>) -> Value {
    json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{
        "timeUnixNano": "1795000000000000000",
        "body": {"stringValue": "claude_code.user_prompt"},
        "attributes": attributes}]}]}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_input_gets_a_precise_answer_and_loses_nothing() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--max-request-size", "1M"]);
    let client = reqwest::Client::new();
    // Good data first: it must still be there, unchanged, at the end.
    let mut expected = Expected::default();
    for fixture in fixtures()
        .iter()
        .filter(|f| f.path.to_string_lossy().contains("http-protobuf"))
    {
        replay(&server, fixture).await;
        expected.add(&fixture.json);
    }
    let before = report(dir.path(), &[]);
    let logs = server.http_url("/v1/logs");
    let pb = std::fs::read(fixtures_dir().join("http-protobuf/tools/00001-logs.pb")).expect("pb");

    // Truncated protobuf: 400 with a google.rpc.Status in protobuf.
    let sent = send(
        &client,
        logs.clone(),
        Some("application/x-protobuf"),
        None,
        pb[..pb.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(sent.status, 400);
    let status = RpcStatus::decode(&sent.body[..]).expect("rpc status");
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(
        status.message.contains("not a valid OTLP logs protobuf"),
        "{}",
        status.message
    );

    // Garbage bytes.
    let sent = send(
        &client,
        logs.clone(),
        Some("application/x-protobuf"),
        None,
        vec![0xff; 64],
    )
    .await;
    assert_eq!(sent.status, 400);

    // Invalid UTF-8 inside a protobuf string field (a KeyValue key).
    let mut bad_utf8 = pb.clone();
    let at = bad_utf8
        .windows(10)
        .position(|w| w == b"session.id")
        .expect("a key to corrupt");
    bad_utf8[at] = 0xff;
    let sent = send(
        &client,
        logs.clone(),
        Some("application/x-protobuf"),
        None,
        bad_utf8,
    )
    .await;
    assert_eq!(sent.status, 400, "{}", String::from_utf8_lossy(&sent.body));

    // Malformed JSON, answered in JSON.
    let sent = send(
        &client,
        logs.clone(),
        Some("application/json"),
        None,
        b"{\"resourceLogs\": [".to_vec(),
    )
    .await;
    assert_eq!(sent.status, 400);
    assert_eq!(sent.headers["content-type"], "application/json");
    let s = json_status(&sent);
    assert_eq!(s["code"], 3);
    assert!(
        s["message"]
            .as_str()
            .expect("message")
            .contains("OTLP/JSON for logs")
    );

    // Wrong value types.
    let wrong =
        json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": true}]}]}]});
    assert_eq!(
        send(
            &client,
            logs.clone(),
            Some("application/json"),
            None,
            wrong.to_string().into_bytes()
        )
        .await
        .status,
        400
    );

    // Wrongly cased keys would decode as an empty request: refused, not silently accepted.
    let cased = send(
        &client,
        logs.clone(),
        Some("application/json"),
        None,
        br#"{"resource_logs":[{}]}"#.to_vec(),
    )
    .await;
    assert_eq!(cased.status, 400);
    assert!(
        json_status(&cased)["message"]
            .as_str()
            .expect("m")
            .contains("resourceLogs")
    );

    // Over the size cap, as sent.
    let big = vec![b' '; 2 << 20];
    assert_eq!(
        send(&client, logs.clone(), Some("application/json"), None, big)
            .await
            .status,
        413
    );

    // A gzip bomb: 64 MiB of zeros in ~64 KiB; stops at the 1 MiB cap.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    let sent = send(
        &client,
        logs.clone(),
        Some("application/x-protobuf"),
        Some("gzip"),
        bomb,
    )
    .await;
    assert_eq!(sent.status, 413, "{}", String::from_utf8_lossy(&sent.body));
    assert!(
        RpcStatus::decode(&sent.body[..])
            .expect("status")
            .message
            .contains("limit")
    );

    // Not gzip at all although it says so.
    assert_eq!(
        send(
            &client,
            logs.clone(),
            Some("application/x-protobuf"),
            Some("gzip"),
            pb.clone()
        )
        .await
        .status,
        400
    );

    // Unsupported content type and encoding.
    assert_eq!(
        send(
            &client,
            logs.clone(),
            Some("text/plain"),
            None,
            b"hi".to_vec()
        )
        .await
        .status,
        415
    );
    assert_eq!(
        send(&client, logs.clone(), None, None, pb.clone())
            .await
            .status,
        415
    );
    assert_eq!(
        send(
            &client,
            logs.clone(),
            Some("application/x-protobuf"),
            Some("br"),
            pb.clone()
        )
        .await
        .status,
        415
    );

    // Other paths and methods.
    assert_eq!(
        send(
            &client,
            server.http_url("/v1/profiles"),
            Some("application/x-protobuf"),
            None,
            pb.clone()
        )
        .await
        .status,
        404
    );
    let get = client.get(logs.clone()).send().await.expect("get");
    assert_eq!(get.status().as_u16(), 405);
    assert_eq!(get.headers()["allow"], "POST");

    // 10,000 attributes on one record: that record is rejected (partial success), the other kept.
    let many: Vec<Value> = (0..10_000)
        .map(|i| json!({"key": format!("k{i}"), "value": {"intValue": i}}))
        .collect();
    let mut payload = one_record(many);
    let good = json!({"timeUnixNano": "1795000000000000001", "body": {"stringValue": "claude_code.user_prompt"},
        "attributes": [{"key": "session.id", "value": {"stringValue": "attr-test"}},
                       {"key": "event.name", "value": {"stringValue": "user_prompt"}},
                       {"key": "event.sequence", "value": {"intValue": 1}}]});
    payload["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        .as_array_mut()
        .expect("records")
        .push(good);
    let sent = send(
        &client,
        logs.clone(),
        Some("application/json"),
        None,
        payload.to_string().into_bytes(),
    )
    .await;
    assert_eq!(sent.status, 200);
    let body: Value = serde_json::from_slice(&sent.body).expect("response json");
    assert_eq!(body["partialSuccess"]["rejectedLogRecords"], 1, "{body}");
    assert!(
        body["partialSuccess"]["errorMessage"]
            .as_str()
            .expect("msg")
            .contains("10000 attributes")
    );
    // The same over protobuf: the response is protobuf too.
    let request: opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest =
        serde_json::from_value(payload).expect("to proto");
    let sent = send(
        &client,
        logs.clone(),
        Some("application/x-protobuf"),
        None,
        request.encode_to_vec(),
    )
    .await;
    assert_eq!(sent.status, 200);
    let response = ExportLogsServiceResponse::decode(&sent.body[..]).expect("protobuf response");
    assert_eq!(
        response
            .partial_success
            .expect("partial")
            .rejected_log_records,
        1
    );

    // A megabyte-sized string attribute is fine (below the cap) and stored whole.
    let huge = "x".repeat(900_000);
    let payload = one_record(vec![
        json!({"key": "session.id", "value": {"stringValue": "huge"}}),
        json!({"key": "event.sequence", "value": {"intValue": 1}}),
        json!({"key": "prompt", "value": {"stringValue": huge}}),
    ]);
    assert_eq!(
        send(
            &client,
            logs.clone(),
            Some("application/json"),
            None,
            payload.to_string().into_bytes()
        )
        .await
        .status,
        200
    );

    // gRPC garbage is INVALID_ARGUMENT, not INTERNAL.
    let err = send_grpc_raw(server.grpc, &[0xff; 32]).await;
    assert_eq!(err, tonic::Code::InvalidArgument);

    // Everything accepted before is intact; the two good records of this test were added.
    let after = report(dir.path(), &[]);
    assert_eq!(after["cost_usd"], before["cost_usd"]);
    assert_eq!(after["tokens"], before["tokens"]);
    assert_eq!(
        after["events"]["user_prompt"].as_u64(),
        Some(before["events"]["user_prompt"].as_u64().unwrap_or(0) + 2)
    );
    expected
        .events
        .entry("user_prompt".into())
        .and_modify(|n| *n += 2);
    expected.sessions.insert("attr-test".into());
    expected.sessions.insert("huge".into());
    expected.assert_report(&after);
    let (code, out, _) = ccscope(&[
        "events",
        "--json",
        "--since",
        "all",
        "--session",
        "huge",
        "--data-dir",
        &dir.path().to_string_lossy(),
    ]);
    assert_eq!(code, 0);
    let event: Value = serde_json::from_str(out.trim()).expect("one event");
    assert_eq!(
        event["attributes"]["prompt"].as_str().map(str::len),
        Some(900_000)
    );
    drop(server);
}

/// Sends bytes that are not an OTLP message over gRPC and returns the status code.
async fn send_grpc_raw(addr: std::net::SocketAddr, bytes: &[u8]) -> tonic::Code {
    use http::uri::PathAndQuery;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path =
        PathAndQuery::from_static("/opentelemetry.proto.collector.logs.v1.LogsService/Export");
    let result: Result<tonic::Response<Vec<u8>>, tonic::Status> = grpc
        .unary(tonic::Request::new(bytes.to_vec()), path, RawBytes)
        .await;
    result.expect_err("garbage must be refused").code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_configured() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--otlp-token", "s3cret"]);
    let client = reqwest::Client::new();
    let pb = std::fs::read(fixtures_dir().join("http-protobuf/tools/00001-logs.pb")).expect("pb");
    let logs = server.http_url("/v1/logs");
    let no_token = send(
        &client,
        logs.clone(),
        Some("application/x-protobuf"),
        None,
        pb.clone(),
    )
    .await;
    assert_eq!(no_token.status, 401);
    assert_eq!(no_token.headers["www-authenticate"], "Bearer");
    for header in ["Bearer wrong", "s3cret"] {
        let r = client
            .post(logs.clone())
            .header("content-type", "application/x-protobuf")
            .header("authorization", header)
            .body(pb.clone())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 401, "{header}");
    }
    // Claude Code sends `Bearer%20…` literally over HTTP and `Bearer …` over gRPC: both work.
    for header in ["Bearer s3cret", "Bearer%20s3cret"] {
        let r = client
            .post(logs.clone())
            .header("content-type", "application/x-protobuf")
            .header("authorization", header)
            .body(pb.clone())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 200, "{header}");
    }
    let denied = send_grpc(server.grpc, "logs", &pb, None)
        .await
        .expect_err("no token");
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);
    send_grpc(server.grpc, "logs", &pb, Some("s3cret"))
        .await
        .expect("with token");
    assert!(report(dir.path(), &[])["events"]["user_prompt"].as_u64() >= Some(1));
    drop(server);
}
