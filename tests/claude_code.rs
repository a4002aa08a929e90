//! The real Claude Code CLI (npm `@anthropic-ai/claude-code`, installed by `scripts/setup.sh
//! --test` into `tests/claude-code/`) runs offline against a local Messages API stub and exports
//! its own telemetry to `ccscope serve` over gRPC, HTTP/protobuf and HTTP/JSON. `ccscope report`
//! must say exactly what the CLI itself reports: its cost, its token usage, the lines it wrote,
//! the edit it accepted.

#[path = "common/claude.rs"]
mod claude;
mod common;
#[path = "common/messages_stub.rs"]
mod messages_stub;

use std::path::PathBuf;
use std::time::Duration;

use claude::{claude_binary, claude_command};
use common::*;
use messages_stub::{FILE_CONTENT, MessagesStub, USAGE};
use serde_json::Value;

struct Run {
    result: Value,
    requests: u64,
    file: PathBuf,
    /// Holds the run's home and project directories until the assertions are done.
    _work: tempfile::TempDir,
}

async fn run_claude(server: &Server, protocol: &str, log_prompts: bool, prompt: &str) -> Run {
    let work = tempdir();
    let home = work.path().join("home");
    let project = work.path().join("project");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&project).expect("project");
    let file = project.join("greet.py");
    let stub = MessagesStub::start(file.to_string_lossy().into_owned()).await;
    let endpoint = match protocol {
        "grpc" => format!("http://{}", server.grpc),
        _ => format!("http://{}", server.http),
    };
    let mut command = claude_command(prompt, &project, &home, stub.addr);
    command
        .env("CLAUDE_CODE_ENABLE_TELEMETRY", "1")
        .env("OTEL_METRICS_EXPORTER", "otlp")
        .env("OTEL_LOGS_EXPORTER", "otlp")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .env("OTEL_LOGS_EXPORT_INTERVAL", "500")
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            format!("department=eng,protocol={}", protocol.replace('/', "-")),
        );
    if log_prompts {
        command.env("OTEL_LOG_USER_PROMPTS", "1");
    }
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("claude finished within 2 minutes")
        .expect("run claude");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "claude failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("claude output is not JSON ({e}): {stdout}"));
    assert_eq!(result["is_error"], false, "{result}");
    let requests = stub
        .counts
        .requests
        .load(std::sync::atomic::Ordering::SeqCst);
    Run {
        result,
        requests,
        file: PathBuf::from(&stub.file_path),
        _work: work,
    }
}

fn model_usage_total(result: &Value, key: &str) -> u64 {
    result["modelUsage"]
        .as_object()
        .expect("modelUsage")
        .values()
        .map(|m| m[key].as_u64().expect("usage"))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_claude_code_reports_exactly_what_it_spent_over_every_protocol() {
    assert!(claude_binary().is_file());
    let data = tempdir();
    let server = Server::start(data.path(), &[]);
    for (protocol, log_prompts) in [
        ("grpc", false),
        ("http/protobuf", true),
        ("http/json", false),
    ] {
        let prompt = format!("Write a greet function to greet.py ({protocol})");
        let run = run_claude(&server, protocol, log_prompts, &prompt).await;
        assert!(
            run.file.is_file(),
            "Claude Code wrote the file the stub asked for"
        );
        assert_eq!(run.requests, 2, "a tool turn and a text turn");
        let session = run.result["session_id"]
            .as_str()
            .expect("session id")
            .to_owned();

        // Claude Code flushes its telemetry on exit; the receiver has committed it by then.
        let r = report(data.path(), &["--session", &session]);
        assert_eq!(r["sessions"], 1, "{protocol}: {r}");
        let cost = r["cost_usd"].as_f64().expect("cost");
        let cli_cost = run.result["total_cost_usd"]
            .as_f64()
            .expect("total_cost_usd");
        assert!(
            cli_cost > 0.0 && (cost - cli_cost).abs() < 1e-9,
            "{protocol}: ccscope {cost} vs Claude Code {cli_cost}"
        );
        for (ours, theirs) in [
            ("input", "inputTokens"),
            ("output", "outputTokens"),
            ("cacheRead", "cacheReadInputTokens"),
            ("cacheCreation", "cacheCreationInputTokens"),
        ] {
            assert_eq!(
                r["tokens"][ours],
                model_usage_total(&run.result, theirs),
                "{protocol}: tokens.{ours}"
            );
        }
        let stub_input: u64 = USAGE
            .iter()
            .find(|(k, _)| *k == "input_tokens")
            .map(|(_, v)| v * run.requests)
            .expect("usage");
        assert_eq!(
            r["tokens"]["input"], stub_input,
            "{protocol}: what the API stub billed"
        );
        // Claude Code counts the lines of a written file as its `\n`-separated parts.
        assert_eq!(
            std::fs::read_to_string(&run.file).expect("written"),
            FILE_CONTENT
        );
        assert_eq!(
            r["lines"]["added"],
            FILE_CONTENT.split('\n').count() as u64,
            "{protocol}: lines written"
        );
        assert_eq!(r["edit_decisions"]["accept"], 1, "{protocol}");
        let events = &r["events"];
        assert_eq!(events["user_prompt"], 1, "{protocol}: {events}");
        assert_eq!(events["api_request"], run.requests, "{protocol}: {events}");
        assert_eq!(events["tool_decision"], 1, "{protocol}: {events}");
        assert_eq!(events["tool_result"], 1, "{protocol}: {events}");
        let model = run.result["modelUsage"]
            .as_object()
            .expect("models")
            .keys()
            .next()
            .expect("a model")
            .clone();
        assert!(
            r["by_model"][0]["model"]
                .as_str()
                .expect("model")
                .starts_with(&model),
            "{protocol}: {r}"
        );

        // OTEL_RESOURCE_ATTRIBUTES arrive and filter.
        let tag = format!("protocol={}", protocol.replace('/', "-"));
        assert_eq!(
            report(data.path(), &["--attr", &tag])["sessions"],
            1,
            "{protocol}: --attr {tag}"
        );

        // Prompt text is stored only when Claude Code sent it.
        let d = data.path().to_string_lossy().into_owned();
        let (code, out, _) = ccscope(&[
            "events",
            "--json",
            "--since",
            "all",
            "--session",
            &session,
            "--name",
            "user_prompt",
            "--data-dir",
            &d,
        ]);
        assert_eq!(code, 0);
        let prompt_event: Value = serde_json::from_str(out.trim()).expect("one user_prompt");
        let sent = prompt_event["attributes"]["prompt"]
            .as_str()
            .expect("prompt attribute");
        if log_prompts {
            assert_eq!(sent, prompt, "{protocol}");
        } else {
            assert_eq!(sent, "<REDACTED>", "{protocol}");
        }
    }
    // Three sessions in all, one per protocol, none counted twice.
    let all = report(data.path(), &[]);
    assert_eq!(all["sessions"], 3);
    assert_eq!(all["edit_decisions"]["accept"], 3);
    drop(server);
}
