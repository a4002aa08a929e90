//! Hostile senders against a real `ccscope serve`: the memory bound holds (peak RSS under
//! 300 MiB) and the process keeps answering, whatever arrives: many concurrent chunked uploads
//! larger than the body cap, gRPC floods of empty records and of empty attributes, more
//! connections than the cap, a missing token (refused before the body is read), and a
//! foreign Host without a token (DNS rebinding).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, logs_service_client::LogsServiceClient,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};

/// Peak resident memory of a process, from /proc.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024.0
}

/// Starts a chunked upload of `total` bytes and returns the status line's code (0 when the
/// connection was closed without an answer, which also bounds memory).
fn chunked_upload(addr: SocketAddr, total: usize) -> u16 {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(60)));
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    // Field 1 (resource_logs), a length that promises more than will ever come, then filler.
    let chunk = vec![0x0au8; 64 * 1024];
    let mut sent = 0;
    let mut broken = false;
    while sent < total {
        let frame = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if stream.write_all(&frame).is_err() {
            broken = true;
            break;
        }
        sent += chunk.len();
    }
    if !broken {
        let _ = stream.write_all(b"0\r\n\r\n");
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn logs_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_senders_cannot_break_the_memory_bound() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--no-ui"]);
    let pid = server.child.id();

    // 64 concurrent chunked uploads of 30 MiB of garbage each (the default cap is 32 MiB): the
    // in-flight budget lets about one through at a time (it is read whole and refused as not
    // protobuf, 400); the others are refused with 503 as their reservations outgrow it.
    let http = server.http;
    let uploads: Vec<_> = (0..64)
        .map(|_| std::thread::spawn(move || chunked_upload(http, 30 * 1024 * 1024)))
        .collect();
    let statuses: Vec<u16> = uploads
        .into_iter()
        .map(|u| u.join().expect("upload"))
        .collect();
    assert!(
        statuses.iter().all(|s| [0, 400, 413, 503].contains(s)),
        "every upload is refused or cut off: {statuses:?}"
    );
    assert!(
        statuses.contains(&503),
        "a spent budget answers 503: {statuses:?}"
    );
    let after_uploads = peak_rss_mib(pid);
    assert!(
        after_uploads < 300.0,
        "peak RSS {after_uploads:.0} MiB after the chunked uploads"
    );

    // gRPC floods from 16 concurrent senders: exports of 20,000 empty records (40 KB on the
    // wire, ~50 MB once decoded and normalised), of more records than an export may carry,
    // and of empty attributes that would decode past the whole budget.
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
        .expect("endpoint");
    let empty_records = logs_request(vec![LogRecord::default(); 20_000]);
    let huge_attributes = logs_request(vec![
        LogRecord {
            attributes: vec![KeyValue::default(); 1_000],
            ..Default::default()
        };
        2_000
    ]);
    let too_many = logs_request(vec![LogRecord::default(); 200_000]);
    let mut senders = Vec::new();
    for i in 0..16 {
        let channel = endpoint.connect().await.expect("connect");
        let request = match i % 4 {
            0 => huge_attributes.clone(),
            1 => too_many.clone(),
            _ => empty_records.clone(),
        };
        senders.push(tokio::spawn(async move {
            let mut client = LogsServiceClient::new(channel)
                .max_encoding_message_size(64 * 1024 * 1024)
                .max_decoding_message_size(64 * 1024 * 1024);
            let mut codes = Vec::new();
            for _ in 0..3 {
                codes.push(match client.export(request.clone()).await {
                    Ok(_) => tonic::Code::Ok,
                    Err(status) => status.code(),
                });
            }
            (i % 4, codes)
        }));
    }
    let mut unavailable = 0;
    for sender in senders {
        let (kind, codes) = sender.await.expect("sender");
        unavailable += codes
            .iter()
            .filter(|c| **c == tonic::Code::Unavailable)
            .count();
        let allowed: &[tonic::Code] = match kind {
            // Refused as too large once counted, or earlier while the budget is spent.
            0 | 1 => &[tonic::Code::ResourceExhausted, tonic::Code::Unavailable],
            _ => &[tonic::Code::Ok, tonic::Code::Unavailable],
        };
        assert!(
            codes.iter().all(|c| allowed.contains(c)),
            "kind {kind}: {codes:?}"
        );
    }
    assert!(unavailable > 0, "a spent budget answers UNAVAILABLE");
    let peak = peak_rss_mib(pid);
    eprintln!("peak RSS: {after_uploads:.0} MiB after the uploads, {peak:.0} MiB after the floods");
    assert!(peak < 300.0, "peak RSS {peak:.0} MiB after the gRPC floods");

    // Still alive, and an ordinary export is stored.
    let pb = std::fs::read(fixtures_dir().join("http-protobuf/tools/00001-logs.pb")).expect("pb");
    send_grpc(server.grpc, "logs", &pb, None)
        .await
        .expect("a real export after the floods");
    let client = reqwest::Client::new();
    let ok = client
        .post(server.http_url("/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .body(pb)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status().as_u16(), 200);
    drop(server);
}

/// Connections past the cap are closed at once; the ones within it are served.
#[test]
fn connections_past_the_cap_are_closed_at_once() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--no-ui"]);
    let held: Vec<TcpStream> = (0..ccscope_receiver::conn::MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(server.http).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(server.http).expect("connect");
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = extra.write_all(b"GET /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let mut buf = [0u8; 64];
    let read = extra.read(&mut buf);
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the connection past the cap is closed, not answered: {read:?}"
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let pb = std::fs::read(fixtures_dir().join("http-protobuf/tools/00001-logs.pb")).expect("pb");
    let (status, _, _) = post_chunked(
        server.http,
        "/v1/logs",
        &[("Content-Type", "application/x-protobuf")],
        &pb,
    );
    assert_eq!(status, 200, "served again once slots are free");
}

/// Without a token, an export addressed to another host name is refused (421) before its
/// body is read; with one, a missing token is refused (401, before the content type is even
/// looked at) and the connection is closed instead of reading a large body.
#[test]
fn foreign_hosts_and_missing_tokens_are_refused_before_the_body() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--no-ui"]);
    let answer = |addr: SocketAddr, head: &str| -> String {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        // The head promises 64 MiB; none of it is sent.
        stream.write_all(head.as_bytes()).expect("head");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    };
    let rebinding = answer(
        server.http,
        "POST /v1/logs HTTP/1.1\r\nHost: attacker.example:4318\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n",
    );
    assert!(rebinding.starts_with("HTTP/1.1 421"), "{rebinding}");
    assert!(rebinding.contains("not a loopback name"), "{rebinding}");
    for host in ["localhost:4318", "127.0.0.1", "[::1]:4318", "app.localhost"] {
        let ok = answer(
            server.http,
            &format!(
                "POST /v1/logs HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            ),
        );
        assert!(ok.starts_with("HTTP/1.1 200"), "{host}: {ok}");
    }
    drop(server);

    let dir = tempdir();
    let server = Server::start(dir.path(), &["--no-ui", "--otlp-token", "s3cret"]);
    let started = std::time::Instant::now();
    let unauthorised = answer(
        server.http,
        "POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 67108864\r\n\r\n",
    );
    assert!(unauthorised.starts_with("HTTP/1.1 401"), "{unauthorised}");
    assert!(
        unauthorised
            .to_ascii_lowercase()
            .contains("connection: close"),
        "{unauthorised}"
    );
    // The answer came without waiting for the body (the read timeout is 5 s).
    assert!(started.elapsed() < Duration::from_secs(4));
}
