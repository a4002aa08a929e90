//! Pausing the receiver (the desktop tray's switch): exports are answered "retry later" and
//! nothing is stored until it resumes; the dashboard API says it is paused.

use ccscope_query::Filter;
use ccscope_receiver::{Limits, ReceiverConfig};
use ccscope_server::{Service, ServiceConfig};
use ccscope_store::{Reader, Retention};

const EXPORT: &str = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1795492200000000000","body":{"stringValue":"claude_code.api_request"},"attributes":[{"key":"session.id","value":{"stringValue":"s1"}},{"key":"event.name","value":{"stringValue":"api_request"}},{"key":"event.sequence","value":{"intValue":0}},{"key":"cost_usd","value":{"doubleValue":0.25}}]}]}]}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_receiver_says_retry_later_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("ccscope.db");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let service = Service::start(
        ServiceConfig {
            database: database.clone(),
            receiver: ReceiverConfig {
                grpc: None,
                http: Some("127.0.0.1:0".parse().unwrap()),
                token: None,
                limits: Limits::default(),
            },
            retention: Retention {
                max_age_days: None,
                max_bytes: None,
            },
            ui: Some("127.0.0.1:0".parse().unwrap()),
            source: None,
        },
        async move {
            let _ = stop_rx.await;
        },
    )
    .await
    .unwrap();
    let http = service.http_addr.unwrap();
    let client = reqwest::Client::new();
    let send = || {
        client
            .post(format!("http://{http}/v1/logs"))
            .header("content-type", "application/json")
            .body(EXPORT)
            .send()
    };
    let ui = service.ui_url.clone().unwrap();
    let token = ui.split("token=").nth(1).unwrap().to_owned();
    let origin = ui.split("/?").next().unwrap().to_owned();
    let receiver = || {
        client
            .get(format!("{origin}/api/receiver"))
            .bearer_auth(&token)
            .send()
    };

    service.set_paused(true);
    assert!(service.is_paused());
    let refused = send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused.text().await.unwrap().contains("paused"));
    let info: serde_json::Value = receiver().await.unwrap().json().await.unwrap();
    assert_eq!(info["paused"], true);
    let all = Filter {
        from_ns: 0,
        to_ns: i64::MAX,
        ..Filter::default()
    };
    assert_eq!(
        Reader::open(&database)
            .unwrap()
            .report(&all)
            .unwrap()
            .cost_usd,
        0.0
    );

    service
        .pause_switch()
        .store(false, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(send().await.unwrap().status(), 200);
    let info: serde_json::Value = receiver().await.unwrap().json().await.unwrap();
    assert_eq!(info["paused"], false);
    assert_eq!(
        Reader::open(&database)
            .unwrap()
            .report(&all)
            .unwrap()
            .cost_usd,
        0.25
    );
    let _ = stop_tx.send(());
    service.stopped().await;
}
