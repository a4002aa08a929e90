//! The data plane end to end: real Claude Code payloads replayed over real gRPC and HTTP
//! sockets into a running `ccscope serve`, checked through `ccscope report --json`.

mod common;

use common::*;
use serde_json::{Value, json};

/// A Claude-Code-shaped OTLP/JSON logs payload: `count` api_request events of `session`.
pub fn api_requests(session: &str, first_seq: i64, count: i64, cost: f64) -> Value {
    let records: Vec<Value> = (0..count)
        .map(|i| {
            let seq = first_seq + i;
            json!({
                "timeUnixNano": (1_795_000_000_000_000_000i64 + seq * 1_000_000).to_string(),
                "body": {"stringValue": "claude_code.api_request"},
                "attributes": [
                    {"key": "session.id", "value": {"stringValue": session}},
                    {"key": "user.id", "value": {"stringValue": "u1"}},
                    {"key": "event.name", "value": {"stringValue": "api_request"}},
                    {"key": "event.sequence", "value": {"intValue": seq}},
                    {"key": "model", "value": {"stringValue": "claude-sonnet-4-6"}},
                    {"key": "cost_usd", "value": {"doubleValue": cost}},
                    {"key": "input_tokens", "value": {"intValue": 10}},
                    {"key": "output_tokens", "value": {"intValue": "5"}},
                    {"key": "cache_read_tokens", "value": {"intValue": 0}},
                    {"key": "cache_creation_tokens", "value": {"intValue": 0}}
                ]
            })
        })
        .collect();
    json!({"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}]}]})
}

async fn post_json(client: &reqwest::Client, url: String, body: &Value) -> (u16, Value) {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_over_its_own_transport_reports_exactly_what_was_sent() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    let fixtures = fixtures();
    let mut expected = Expected::default();
    let mut transports = std::collections::BTreeSet::new();
    for fixture in &fixtures {
        replay(&server, fixture).await;
        expected.add(&fixture.json);
        transports.insert(format!(
            "{}:{}:{}",
            fixture.transport(),
            fixture.content_type(),
            fixture.content_encoding()
        ));
    }
    assert!(
        transports.len() >= 4,
        "grpc, http json, http protobuf and gzip all replayed: {transports:?}"
    );
    let first = report(dir.path(), &[]);
    expected.assert_report(&first);
    assert!(first["cost_usd"].as_f64().expect("cost") > 0.0);

    // Claude Code re-sends the same payload after a 503 or a timeout: nothing is counted twice.
    for fixture in &fixtures {
        replay(&server, fixture).await;
    }
    let mut again = report(dir.path(), &[]);
    again["to"] = first["to"].clone();
    assert_eq!(again, first, "a re-sent export changed the totals");

    // Every event is listed, with its attributes.
    let (code, lines, err) = ccscope(&[
        "events",
        "--json",
        "--since",
        "all",
        "--data-dir",
        &dir.path().to_string_lossy(),
    ]);
    assert_eq!(code, 0, "{err}");
    let events: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("event line"))
        .collect();
    assert_eq!(events.len() as u64, expected.events.values().sum::<u64>());
    assert!(
        events
            .iter()
            .all(|e| e["attributes"]["session.id"].is_string())
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[0]["time_ns"].as_i64() <= w[1]["time_ns"].as_i64()),
        "oldest first"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_narrow_the_report() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    let mut expected_all = Expected::default();
    let mut expected_attr = Expected::default();
    let mut one_session = None;
    for fixture in fixtures() {
        replay(&server, &fixture).await;
        expected_all.add(&fixture.json);
        if fixture
            .path
            .to_string_lossy()
            .contains("resource-attributes")
        {
            expected_attr.add(&fixture.json);
        }
        if one_session.is_none() && fixture.path.to_string_lossy().contains("http-json/tools") {
            let mut e = Expected::default();
            e.add(&fixture.json);
            one_session = e.sessions.into_iter().next();
        }
    }
    // The resource-attributes variant carries department=eng on its resource and records.
    let narrowed = report(dir.path(), &["--attr", "department=eng"]);
    expected_attr.assert_report(&narrowed);
    let session = one_session.expect("a session");
    let by_session = report(dir.path(), &["--session", &session]);
    assert_eq!(by_session["sessions"], 1);
    let all = report(dir.path(), &[]);
    assert!(by_session["cost_usd"].as_f64() < all["cost_usd"].as_f64());
    let by_model = report(dir.path(), &["--model", "claude-opus-4-8"]);
    assert_eq!(
        by_model["cost_usd"], all["cost_usd"],
        "the plain name matches the [1m] variant"
    );
    let none = report(dir.path(), &["--model", "no-such-model"]);
    assert_eq!(none["cost_usd"], 0.0);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_without_metrics_fall_back_to_api_request_events() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let (status, _) = post_json(
        &client,
        server.http_url("/v1/logs"),
        &api_requests("events-only", 0, 4, 0.25),
    )
    .await;
    assert_eq!(status, 200);
    let r = report(dir.path(), &[]);
    assert_eq!(r["cost_usd"], 1.0);
    assert_eq!(r["tokens"]["input"], 40);
    assert_eq!(r["tokens"]["output"], 20);
    assert_eq!(r["by_model"][0]["model"], "claude-sonnet-4-6");
    // Once the session's cost metric arrives, it alone counts (never both).
    let metric = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
        "name": "claude_code.cost.usage", "unit": "USD",
        "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [{
            "attributes": [{"key": "session.id", "value": {"stringValue": "events-only"}},
                           {"key": "model", "value": {"stringValue": "claude-sonnet-4-6"}}],
            "startTimeUnixNano": "1795000000000000000", "timeUnixNano": "1795000060000000000", "asDouble": 0.9}]}}]}]}]});
    let (status, _) = post_json(&client, server.http_url("/v1/metrics"), &metric).await;
    assert_eq!(status, 200);
    let r = report(dir.path(), &[]);
    assert_eq!(r["cost_usd"], 0.9);
    drop(server);
}

fn cumulative_cost(points: &[(i64, i64, f64)]) -> Value {
    let data_points: Vec<Value> = points
        .iter()
        .map(|(start, time, value)| {
            json!({
            "attributes": [{"key": "session.id", "value": {"stringValue": "cumulative"}},
                           {"key": "model", "value": {"stringValue": "claude-opus-4-8"}}],
            "startTimeUnixNano": (1_795_000_000_000_000_000i64 + start * 1_000_000_000).to_string(),
            "timeUnixNano": (1_795_000_000_000_000_000i64 + time * 1_000_000_000).to_string(),
            "asDouble": value})
        })
        .collect();
    json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
        "name": "claude_code.cost.usage", "unit": "USD",
        "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": data_points}}]}]}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_series_become_deltas_with_resets() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    // 5 -> 8 (+3) -> 3 (a decrease: reset, +3) -> new start time 4 (+4) => 5+3+3+4 = 15.
    let exports = [
        cumulative_cost(&[(0, 10, 5.0)]),
        cumulative_cost(&[(0, 20, 8.0)]),
        cumulative_cost(&[(0, 30, 3.0)]),
        cumulative_cost(&[(100, 110, 4.0)]),
    ];
    for export in &exports {
        assert_eq!(
            post_json(&client, server.http_url("/v1/metrics"), export)
                .await
                .0,
            200
        );
    }
    assert_eq!(report(dir.path(), &[])["cost_usd"], 15.0);
    // Re-sent, and restarted in between: the series state survives, nothing counts twice.
    drop(server);
    let server = Server::start(dir.path(), &[]);
    for export in &exports {
        assert_eq!(
            post_json(&client, server.http_url("/v1/metrics"), export)
                .await
                .0,
            200
        );
    }
    assert_eq!(
        post_json(
            &client,
            server.http_url("/v1/metrics"),
            &cumulative_cost(&[(100, 120, 6.5)])
        )
        .await
        .0,
        200
    );
    assert_eq!(report(dir.path(), &[])["cost_usd"], 17.5);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_exports_survive_kill_9() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let mut sent = 0;
    for batch in 0..20 {
        let (status, _) = post_json(
            &client,
            server.http_url("/v1/logs"),
            &api_requests("crash", batch * 50, 50, 0.01),
        )
        .await;
        assert_eq!(status, 200);
        sent += 50;
    }
    // No SIGTERM, no flush: the process dies the instant after the last acknowledgement.
    server.kill9();
    let server = Server::start(dir.path(), &[]);
    let r = report(dir.path(), &[]);
    assert_eq!(
        r["events"]["api_request"], sent,
        "acknowledged events were lost"
    );
    assert!((r["cost_usd"].as_f64().expect("cost") - sent as f64 * 0.01).abs() < 1e-9);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_exporters_lose_and_duplicate_nothing() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    let url = server.http_url("/v1/logs");
    let grpc = server.grpc;
    let mut tasks = Vec::new();
    for exporter in 0..8 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let session = format!("concurrent-{exporter}");
            for batch in 0..25 {
                let payload = api_requests(&session, batch * 20, 20, 0.001);
                if exporter % 2 == 0 {
                    assert_eq!(post_json(&client, url.clone(), &payload).await.0, 200);
                } else {
                    // The same records over gRPC.
                    let request: opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest =
                        serde_json::from_value(payload).expect("json to proto");
                    let bytes = prost::Message::encode_to_vec(&request);
                    send_grpc(grpc, "logs", &bytes, None).await.expect("grpc export");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("exporter");
    }
    let r = report(dir.path(), &[]);
    assert_eq!(r["events"]["api_request"], 8 * 25 * 20);
    assert_eq!(r["sessions"], 8);
    let (status, _) = server.stop();
    assert!(
        status.success(),
        "serve exits cleanly on SIGTERM: {status:?}"
    );
}
