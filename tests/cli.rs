//! The CLI's behaviour at its edges: exit codes, error messages, `doctor`, the listing and
//! export commands, and a clean stop on SIGTERM.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn a_taken_port_names_the_port_and_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempdir();
    let d = dir.path().to_string_lossy().into_owned();
    let addr = format!("127.0.0.1:{port}");
    let free = "127.0.0.1:0";
    for (grpc, http, ui, flag) in [
        (addr.as_str(), free, free, "--otlp-grpc"),
        (free, addr.as_str(), free, "--otlp-http"),
        (free, free, addr.as_str(), "--ui"),
    ] {
        let (code, _, err) = ccscope(&[
            "serve",
            "--data-dir",
            &d,
            "--otlp-grpc",
            grpc,
            "--otlp-http",
            http,
            "--ui",
            ui,
        ]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains(&format!("port {port} is already in use")),
            "{err}"
        );
        assert!(err.contains(&format!("{flag} ADDR")), "{flag}: {err}");
    }
}

#[test]
fn non_loopback_addresses_are_refused() {
    let dir = tempdir();
    let d = dir.path().to_string_lossy().into_owned();
    let (code, _, err) = ccscope(&[
        "serve",
        "--no-ui",
        "--data-dir",
        &d,
        "--otlp-grpc",
        "0.0.0.0:0",
        "--otlp-http",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not a loopback address") && err.contains("--otlp-token"),
        "{err}"
    );
    // The dashboard is loopback only, token or not.
    let (code, _, err) = ccscope(&[
        "serve",
        "--data-dir",
        &d,
        "--otlp-grpc",
        "127.0.0.1:0",
        "--otlp-http",
        "127.0.0.1:0",
        "--ui",
        "0.0.0.0:0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("loopback"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_missing_data_exits_1() {
    let dir = tempdir();
    let d = dir.path().to_string_lossy().into_owned();
    let (code, _, err) = ccscope(&["report", "--data-dir", &d, "--since", "7y"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("duration unit"), "{err}");
    let (code, _, err) = ccscope(&["report", "--data-dir", &d, "--attr", "novalue"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = ccscope(&["report", "--no-such-flag"]);
    assert_eq!(code, 2);
    let (code, _, err) = ccscope(&["report", "--data-dir", &d]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no ccscope database") && err.contains("ccscope serve"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_and_export_commands_read_while_serve_runs() {
    let dir = tempdir();
    let d = dir.path().to_string_lossy().into_owned();
    let server = Server::start(dir.path(), &[]);
    let mut expected = Expected::default();
    for fixture in fixtures()
        .iter()
        .filter(|f| f.path.to_string_lossy().contains("grpc/"))
    {
        replay(&server, fixture).await;
        expected.add(&fixture.json);
    }
    let total_events: u64 = expected.events.values().sum();

    let (code, out, err) = ccscope(&["sessions", "--json", "--since", "all", "--data-dir", &d]);
    assert_eq!(code, 0, "{err}");
    let sessions: Vec<Value> = serde_json::from_str(&out).expect("sessions json");
    assert_eq!(sessions.len(), expected.sessions.len());
    let cost: f64 = sessions
        .iter()
        .map(|s| s["cost_usd"].as_f64().expect("cost"))
        .sum();
    assert!((cost - expected.cost()).abs() < 1e-9);
    for s in &sessions {
        let id = s["session_id"].as_str().expect("id");
        let with_metrics =
            expected.metric_cost.contains_key(id) || expected.metric_tokens.contains_key(id);
        assert_eq!(
            s["usage_source"],
            if with_metrics { "metrics" } else { "events" },
            "{s}"
        );
    }

    let (code, out, _) = ccscope(&["sessions", "--since", "all", "--data-dir", &d]);
    assert_eq!(code, 0);
    assert!(out.starts_with("SESSION"), "{out}");
    for s in &expected.sessions {
        assert!(out.contains(s.as_str()), "{s} missing from {out}");
    }

    let (code, out, _) = ccscope(&[
        "events",
        "--since",
        "all",
        "--name",
        "tool_result",
        "--data-dir",
        &d,
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().count() as u64,
        1 + expected.events["tool_result"],
        "{out}"
    );

    let (code, out, _) = ccscope(&[
        "events",
        "--json",
        "--since",
        "all",
        "--search",
        "toolu_",
        "--limit",
        "2",
        "--newest-first",
        "--data-dir",
        &d,
    ]);
    assert_eq!(code, 0);
    let found: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    assert_eq!(found.len(), 2);
    assert!(found[0]["time_ns"].as_i64() >= found[1]["time_ns"].as_i64());

    let (code, out, _) = ccscope(&[
        "export",
        "--format",
        "json",
        "--since",
        "all",
        "--data-dir",
        &d,
    ]);
    assert_eq!(code, 0);
    let exported: Vec<Value> = serde_json::from_str(&out).expect("export json array");
    assert_eq!(exported.len() as u64, total_events);

    let csv_path = dir.path().join("events.csv");
    let (code, _, _) = ccscope(&[
        "export",
        "--format",
        "csv",
        "--since",
        "all",
        "--data-dir",
        &d,
        "-o",
        &csv_path.to_string_lossy(),
    ]);
    assert_eq!(code, 0);
    let mut reader = csv::Reader::from_path(&csv_path).expect("csv");
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("csv rows");
    assert_eq!(rows.len() as u64, total_events);
    let attributes: Value = serde_json::from_str(&rows[0][13]).expect("attributes column is JSON");
    assert!(attributes["session.id"].is_string());
    // The dashboard's download is the same document, byte for byte, in both formats.
    let ui = server.ui_url.clone().expect("dashboard");
    let (base, token) = ui.split_once("/?token=").expect("token");
    let download = |format: &str| -> Vec<u8> {
        let out = std::process::Command::new("curl")
            .args(["-sf", "-H"])
            .arg(format!("Authorization: Bearer {token}"))
            .arg(format!(
                "{base}/api/events/export?format={format}&order=oldest&from=0&to=4102444800000000000"
            ))
            .output()
            .expect("curl");
        assert!(out.status.success(), "download {format}");
        out.stdout
    };
    assert_eq!(
        String::from_utf8(download("csv")).expect("utf8"),
        std::fs::read_to_string(&csv_path).expect("csv file"),
        "the CSV download differs from ccscope export"
    );
    let (code, json_export, _) = ccscope(&[
        "export",
        "--format",
        "json",
        "--from",
        "1970-01-01",
        "--to",
        "2100-01-01",
        "--data-dir",
        &d,
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        String::from_utf8(download("json")).expect("utf8"),
        json_export,
        "the JSON download differs from ccscope export"
    );

    let (code, out, _) = ccscope(&[
        "export",
        "--format",
        "csv",
        "--what",
        "points",
        "--since",
        "all",
        "--data-dir",
        &d,
    ]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .skip(1)
            .any(|l| l.starts_with("claude_code.cost.usage,USD,delta")),
        "{out}"
    );

    let (code, out, _) = ccscope(&["report", "--since", "all", "--data-dir", &d]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Cost") && out.contains("claude-opus-4-8[1m]"),
        "{out}"
    );

    // doctor sees the running receiver and prints settings pointing at it.
    let grpc = server.grpc.to_string();
    let http = server.http.to_string();
    let (code, out, err) = ccscope(&[
        "doctor",
        "--data-dir",
        &d,
        "--otlp-grpc",
        &grpc,
        "--otlp-http",
        &http,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ccscope serve is listening"), "{out}");
    assert!(
        out.contains(&format!(
            "\"OTEL_EXPORTER_OTLP_ENDPOINT\": \"http://{http}\""
        )),
        "{out}"
    );
    assert!(
        out.contains("\"CLAUDE_CODE_ENABLE_TELEMETRY\": \"1\""),
        "{out}"
    );
    assert!(out.contains(&format!("{} events", total_events)), "{out}");

    let (status, _) = server.stop();
    assert!(status.success());
}

#[test]
fn doctor_reports_a_port_held_by_another_program() {
    let dir = tempdir();
    let d = dir.path().to_string_lossy().into_owned();
    let other = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = other.local_addr().expect("addr").to_string();
    let (code, out, _) = ccscope(&[
        "doctor",
        "--data-dir",
        &d,
        "--otlp-grpc",
        "127.0.0.1:0",
        "--otlp-http",
        &addr,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PROBLEM: in use by another program"), "{out}");
    assert!(out.contains("not created yet"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_in_flight_exports_then_exits_cleanly() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    for fixture in fixtures()
        .iter()
        .filter(|f| f.path.to_string_lossy().contains("http-json/tools"))
    {
        replay(&server, fixture).await;
    }
    let (status, lines) = server.stop();
    assert!(status.success(), "{status:?}");
    let last = lines.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("ccscope stopped: 3 exports accepted"),
        "{lines:?}"
    );
}

/// `serve` reads its addresses from the variables the README names (flags still win).
#[test]
fn serve_takes_its_addresses_from_the_environment() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port()
    };
    let (grpc, http) = (free(), free());
    let dir = tempdir();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ccscope"))
        .args(["serve", "--no-ui", "--data-dir"])
        .arg(dir.path())
        .env("CCSCOPE_OTLP_GRPC", format!("127.0.0.1:{grpc}"))
        .env("CCSCOPE_OTLP_HTTP", format!("127.0.0.1:{http}"))
        .env("CCSCOPE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        child.stdout.take().expect("stdout"),
    ));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = lines.next().expect("a line").expect("utf-8");
        if line.contains("listening on") {
            seen.push(line.trim().to_owned());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen,
        [
            format!("OTLP/gRPC  listening on 127.0.0.1:{grpc}"),
            format!("OTLP/HTTP  listening on 127.0.0.1:{http}"),
        ]
    );
    let (code, _, err) = ccscope_env(
        &[
            "serve",
            "--no-ui",
            "--data-dir",
            &dir.path().to_string_lossy(),
        ],
        &[("CCSCOPE_OTLP_GRPC", "not-an-address")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not-an-address"), "{err}");
}

/// A reader that stops early ends a listing command quietly, as with other tools.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = tempdir();
    let d = dir.path().to_string_lossy().into_owned();
    for args in [vec!["doctor", "--data-dir", &d], vec!["settings", "show"]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ccscope"))
            .args(&args)
            .env("HOME", dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        // Close the read end at once, as `head -0` would.
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
