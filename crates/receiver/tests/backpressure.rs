//! Under overload the receiver refuses at once with "retry later" (HTTP 503 + Retry-After,
//! gRPC UNAVAILABLE) instead of queueing without bound, and recovers when the load passes.
//! The sink here holds every batch until released, standing in for a store that is busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ccscope_receiver::{ExportSink, Limits, ReceiverConfig, SinkError};
use ccscope_telemetry::Batch;
use tokio::sync::Semaphore;

/// Lets a batch through only when the test adds a permit; counts what it took.
#[derive(Clone)]
struct GatedSink {
    gate: Arc<Semaphore>,
    accepted: Arc<AtomicUsize>,
    saturated: Arc<std::sync::atomic::AtomicBool>,
    entered: Arc<tokio::sync::Notify>,
}

impl ExportSink for GatedSink {
    async fn accept(&self, batch: Batch, _received_ns: i64) -> Result<(), SinkError> {
        if self.saturated.load(Ordering::SeqCst) {
            return Err(SinkError::Saturated);
        }
        self.entered.notify_one();
        let permit = self
            .gate
            .acquire()
            .await
            .map_err(|_| SinkError::Unavailable("closed".into()))?;
        permit.forget();
        self.accepted.fetch_add(batch.len(), Ordering::SeqCst);
        Ok(())
    }
}

/// Starts a receiver on loopback (HTTP, and gRPC when asked); send on the channel to stop it.
async fn start<S: ExportSink + Clone>(
    sink: S,
    limits: Limits,
    grpc: bool,
) -> (ccscope_receiver::Running, tokio::sync::oneshot::Sender<()>) {
    let config = ReceiverConfig {
        grpc: grpc.then(|| "127.0.0.1:0".parse().expect("addr")),
        http: Some("127.0.0.1:0".parse().expect("addr")),
        token: None,
        limits,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = ccscope_receiver::start(config, sink, async move {
        let _ = stopped.await;
    })
    .await
    .expect("start");
    (running, stop)
}

fn body() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/claude-code-2.1.197/http-protobuf/tools/00001-logs.pb"
    ))
    .expect("fixture")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_budget_answers_503_with_retry_after_and_recovers() {
    let sink = GatedSink {
        gate: Arc::new(Semaphore::new(0)),
        accepted: Arc::new(AtomicUsize::new(0)),
        saturated: Arc::new(false.into()),
        entered: Arc::new(tokio::sync::Notify::new()),
    };
    let body = body();
    // Room for exactly one export in flight: what it is charged (its bytes, what they decode
    // to, and its records once normalised) and less than a second one's first reservation.
    let counts =
        ccscope_telemetry::count_protobuf(ccscope_telemetry::Signal::Logs, &body).expect("count");
    let one = body.len() + counts.decoded_bytes + counts.records * ccscope_receiver::RECORD_BYTES;
    let limits = Limits {
        max_inflight_bytes: one + 3 * body.len(),
        ..Limits::default()
    };
    let (running, stop) = start(sink.clone(), limits, true).await;
    let url = format!("http://{}/v1/logs", running.http_addr.expect("http"));
    let client = reqwest::Client::new();
    let post = |client: reqwest::Client, url: String, body: Vec<u8>| async move {
        client
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .expect("send")
    };
    // The first export takes the whole budget and waits in the sink.
    let first = tokio::spawn(post(client.clone(), url.clone(), body.clone()));
    // Wait until it is inside the sink, holding its share of the budget.
    sink.entered.notified().await;
    // The second is refused at once.
    let second = post(client.clone(), url.clone(), body.clone()).await;
    assert_eq!(second.status().as_u16(), 503);
    assert_eq!(second.headers()["retry-after"], "2");
    // gRPC says UNAVAILABLE, which OTLP senders retry.
    let channel = tonic::transport::Endpoint::from_shared(format!(
        "http://{}",
        running.grpc_addr.expect("grpc")
    ))
    .expect("endpoint")
    .connect()
    .await
    .expect("connect");
    let request: ccscope_telemetry::otlp::tonic::collector::logs::v1::ExportLogsServiceRequest =
        prost::Message::decode(&body[..]).expect("decode");
    let status = ccscope_telemetry::otlp::tonic::collector::logs::v1::logs_service_client::LogsServiceClient::new(channel.clone())
        .export(request.clone()).await.expect_err("saturated");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    // Released, the first completes and new exports are accepted again.
    sink.gate.add_permits(10);
    assert_eq!(first.await.expect("first").status().as_u16(), 200);
    assert_eq!(
        post(client.clone(), url.clone(), body.clone())
            .await
            .status()
            .as_u16(),
        200
    );
    // A store that reports saturation maps to the same answers.
    sink.saturated.store(true, Ordering::SeqCst);
    let refused = post(client.clone(), url.clone(), body.clone()).await;
    assert_eq!(refused.status().as_u16(), 503);
    assert!(refused.text().await.expect("text").contains("saturated"));
    let stats = running.stats.snapshot();
    assert_eq!(stats.exports_accepted, 2);
    assert_eq!(stats.exports_refused, 3);
    assert_eq!(stats.recent_refusals.len(), 3);
    let _ = stop.send(());
    running.stopped().await;
}

/// A sink that takes every batch after a short pause (a store committing).
#[derive(Clone)]
struct SlowSink {
    records: Arc<AtomicUsize>,
}

impl ExportSink for SlowSink {
    async fn accept(&self, batch: Batch, _received_ns: i64) -> Result<(), SinkError> {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        self.records.fetch_add(batch.len(), Ordering::SeqCst);
        Ok(())
    }
}

/// Claude Code's JSON log export with its records repeated `copies` times: large JSON bodies
/// decode to many times their size, more than a body's first reservation covers.
fn large_json_body(copies: usize) -> (Vec<u8>, usize) {
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/claude-code-2.1.197/http-json/tools/00001-logs.json"
    ))
    .expect("fixture");
    let mut export: serde_json::Value = serde_json::from_slice(&fixture).expect("json");
    let records = export["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
        .as_array_mut()
        .expect("records");
    let one = records.clone();
    for _ in 1..copies {
        records.extend(one.iter().cloned());
    }
    let count = records.len();
    (serde_json::to_vec(&export).expect("encode"), count)
}

/// Many senders whose exports each need a large share of the budget, all at once and retrying
/// on 503 as OTLP senders do: every export is eventually stored. (Before, each admitted export
/// held its first reservation while failing to grow it, so under contention few completed:
/// 48,240 of these 103,680 records after 60 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contending_large_exports_all_get_through() {
    const SENDERS: usize = 48;
    const EXPORTS_EACH: usize = 3;
    let sink = SlowSink {
        records: Arc::new(AtomicUsize::new(0)),
    };
    let (body, records) = large_json_body(60);
    // Room for one export's whole need (about 18 times its body), not for two.
    let limits = Limits {
        max_inflight_bytes: 20 * body.len(),
        ..Limits::default()
    };
    let (running, stop) = start(sink.clone(), limits, false).await;
    let url = format!("http://{}/v1/logs", running.http_addr.expect("http"));
    let client = reqwest::Client::new();
    let refusals = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (client, url, body, refusals) = (
            client.clone(),
            url.clone(),
            body.clone(),
            Arc::clone(&refusals),
        );
        senders.push(tokio::spawn(async move {
            for _ in 0..EXPORTS_EACH {
                loop {
                    let answer = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    match answer.map(|a| a.status().as_u16()) {
                        Ok(200) => break,
                        Ok(503) | Err(_) => {
                            refusals.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                        Ok(other) => panic!("unexpected status {other}"),
                    }
                }
            }
        }));
    }
    // A deadline far beyond what the work needs (well under a second when exports get
    // through): it only catches a receiver that never lets them.
    let all = async {
        for sender in senders {
            sender.await.expect("sender");
        }
    };
    let finished = tokio::time::timeout(std::time::Duration::from_secs(60), all).await;
    assert!(
        finished.is_ok(),
        "exports starved: {} of {} records stored after 60 s, {} refusals",
        sink.records.load(Ordering::SeqCst),
        SENDERS * EXPORTS_EACH * records,
        refusals.load(Ordering::SeqCst)
    );
    assert_eq!(
        sink.records.load(Ordering::SeqCst),
        SENDERS * EXPORTS_EACH * records
    );
    let _ = stop.send(());
    running.stopped().await;
}
