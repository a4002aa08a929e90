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
    run_claude_with(server, protocol, log_prompts, false, prompt).await
}

/// `run_claude`, with Claude Code's beta traces on when `traces`.
async fn run_claude_with(
    server: &Server,
    protocol: &str,
    log_prompts: bool,
    traces: bool,
    prompt: &str,
) -> Run {
    let scenario = Scenario {
        log_prompts,
        traces,
        ..Scenario::default()
    };
    run_claude_scripted(server, protocol, scenario, prompt).await
}

/// What a run does beyond the plain one: prompt text logged, traces on, the model delegating
/// the work to a subagent, a project's `PreToolUse` hook refusing the `Write` the model asks for
/// (a deny rule would do less: Claude Code 2.1.337 then sends no `tool_decision` and no tool span).
#[derive(Debug, Clone, Copy, Default)]
struct Scenario {
    log_prompts: bool,
    traces: bool,
    delegate: bool,
    hook_refuses_write: bool,
}

async fn run_claude_scripted(
    server: &Server,
    protocol: &str,
    scenario: Scenario,
    prompt: &str,
) -> Run {
    let Scenario {
        log_prompts,
        traces,
        delegate,
        hook_refuses_write,
    } = scenario;
    let work = tempdir();
    let home = work.path().join("home");
    let project = work.path().join("project");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&project).expect("project");
    let file = project.join("greet.py");
    if hook_refuses_write {
        std::fs::create_dir_all(project.join(".claude")).expect(".claude");
        std::fs::write(
            project.join(".claude/settings.json"),
            r#"{"hooks": {"PreToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "echo 'no writes here' >&2; exit 2"}]}]}}"#,
        )
        .expect("project settings");
    }
    let stub = MessagesStub::start_with(file.to_string_lossy().into_owned(), delegate).await;
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
    if traces {
        command
            .env("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1")
            .env("OTEL_TRACES_EXPORTER", "otlp")
            .env("OTEL_TRACES_EXPORT_INTERVAL", "500");
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

/// The real CLI with traces on: `ccscope trace` shows every span it stored exactly once, in the
/// tree the spans' parent links make, each prompt found through the events and its time split
/// adding up to the prompt's duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_claude_code_traces_become_one_tree_per_prompt() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--no-ui"]);
    let _run = run_claude_with(
        &server,
        "http/json",
        false,
        true,
        "Write the greeting script",
    )
    .await;
    let reader = ccscope_store::Reader::open(&dir.path().join("ccscope.db")).expect("store");
    let all = ccscope_query::Filter {
        from_ns: 0,
        to_ns: i64::MAX,
        ..Default::default()
    };
    // The last export of spans may land a moment after the CLI exits.
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = reader.spans(&all).expect("spans");
        if stored.iter().any(|s| s.name == "claude_code.interaction") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!stored.is_empty(), "Claude Code stored no spans");
    let session = stored[0].attributes["session.id"]
        .as_str()
        .expect("session.id")
        .to_owned();
    let data = dir.path().to_string_lossy().into_owned();
    let (code, out, err) = ccscope(&["trace", &session, "--json", "--data-dir", &data]);
    assert_eq!(code, 0, "{err}");
    let trace: Value = serde_json::from_str(&out).expect("trace JSON");
    assert_eq!(trace["session_id"], session.as_str());
    // Every stored span once, under the parent it names.
    let mut seen = Vec::new();
    fn walk(span: &Value, parent: Option<&str>, seen: &mut Vec<(String, Option<String>)>) {
        let id = span["span_id"].as_str().expect("span_id").to_owned();
        if let Some(parent) = parent {
            assert_eq!(span["parent_span_id"].as_str(), Some(parent), "{span}");
        }
        seen.push((
            id.clone(),
            span["parent_span_id"].as_str().map(str::to_owned),
        ));
        for child in span["children"].as_array().expect("children") {
            walk(child, Some(&id), seen);
        }
    }
    let prompts = trace["prompts"].as_array().expect("prompts");
    assert_eq!(prompts.len(), 1, "one prompt: {trace:#}");
    for prompt in prompts {
        for root in prompt["spans"].as_array().expect("spans") {
            walk(root, None, &mut seen);
        }
        // The four parts add up to the prompt's duration.
        let t = &prompt["time_ms"];
        let parts: f64 = ["model", "tools", "waiting_for_user", "other"]
            .iter()
            .map(|k| t[*k].as_f64().expect("ms"))
            .sum();
        let span = prompt["spans"][0].clone();
        let duration = (span["end_ns"].as_i64().expect("end")
            - span["start_ns"].as_i64().expect("start")) as f64
            / 1e6;
        assert!((parts - duration).abs() < 1e-6, "{t} against {duration} ms");
        assert!(
            t["model"].as_f64().unwrap_or(0.0) > 0.0 && t["tools"].as_f64().unwrap_or(0.0) > 0.0,
            "{t}"
        );
    }
    let mut expected: Vec<(String, Option<String>)> = stored
        .iter()
        .map(|s| (s.span_id.clone(), s.parent_span_id.clone()))
        .collect();
    expected.sort();
    seen.sort();
    assert_eq!(
        seen, expected,
        "every stored span exactly once, with its parent"
    );
    // The prompt is the one the events name.
    let (_, events, _) = ccscope(&[
        "events",
        "--json",
        "--name",
        "user_prompt",
        "--since",
        "all",
        "--data-dir",
        &data,
    ]);
    let prompt_id = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("event"))
        .find_map(|e| e["prompt_id"].as_str().map(str::to_owned))
        .expect("a user_prompt with its prompt.id");
    assert_eq!(prompts[0]["prompt_id"], prompt_id.as_str());
    // What the tree holds: the interaction, two model requests (time to first token on each),
    // the Write tool with its wait for permission and its run.
    let root = &prompts[0]["spans"][0];
    assert_eq!(root["name"], "claude_code.interaction");
    let child_names = |span: &Value| -> Vec<String> {
        span["children"]
            .as_array()
            .expect("children")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(
        child_names(root),
        [
            "claude_code.llm_request",
            "claude_code.tool",
            "claude_code.llm_request"
        ]
    );
    assert!(
        root["children"][0]["attributes"]["ttft_ms"].is_number(),
        "{root}"
    );
    let tool = &root["children"][1];
    assert_eq!(tool["attributes"]["tool_name"], "Write");
    assert_eq!(
        child_names(tool),
        [
            "claude_code.tool.blocked_on_user",
            "claude_code.tool.execution"
        ]
    );
    // --prompt keeps that prompt; the table names the parts.
    let (code, text, err) = ccscope(&[
        "trace",
        &session,
        "--prompt",
        &prompt_id,
        "--data-dir",
        &data,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("waiting for you") && text.contains("tool  (Write)"),
        "{text}"
    );
    let (code, _, err) = ccscope(&["trace", "no-such-session", "--data-dir", &data]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no spans") && err.contains("OTEL_TRACES_EXPORTER"),
        "{err}"
    );
    server.stop();
}

/// The real CLI delegating to a subagent (traces on): the subagent's requests are nested under
/// the `Agent` tool that started it, and its cost is its own in `report --by agent.name` and
/// under `subagent` in `--by query_source`, the rows adding up to the total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subagents_time_and_cost_are_its_own() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--no-ui"]);
    let scenario = Scenario {
        traces: true,
        delegate: true,
        ..Scenario::default()
    };
    let run =
        run_claude_scripted(&server, "http/json", scenario, "Write the greeting script").await;
    assert_eq!(
        std::fs::read_to_string(&run.file).expect("the subagent wrote the file"),
        FILE_CONTENT
    );
    let data = dir.path().to_string_lossy().into_owned();
    let by = |key: &str| -> Value {
        let (code, out, err) = ccscope(&[
            "report",
            "--json",
            "--since",
            "all",
            "--by",
            key,
            "--data-dir",
            &data,
        ]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).expect("report JSON")
    };
    let cost_of = |doc: &Value, value: Option<&str>| -> f64 {
        doc["by"]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["value"].as_str() == value)
            .map(|r| r["cost_usd"].as_f64().expect("cost"))
            .sum()
    };
    // The last metric export may land a moment after the CLI exits.
    let mut agents = by("agent.name");
    for _ in 0..100 {
        if cost_of(&agents, Some(messages_stub::SUBAGENT_TYPE)) > 0.0
            && agents["cost_usd"].as_f64().unwrap_or(0.0)
                > cost_of(&agents, Some(messages_stub::SUBAGENT_TYPE))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        agents = by("agent.name");
    }
    let subagent = cost_of(&agents, Some(messages_stub::SUBAGENT_TYPE));
    let total = agents["cost_usd"].as_f64().expect("total");
    assert!(subagent > 0.0 && subagent < total, "{agents:#}");
    let sum: f64 = agents["by"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["cost_usd"].as_f64().expect("cost"))
        .sum();
    assert!((sum - total).abs() < 1e-9, "rows add up: {agents:#}");
    let sources = by("query_source");
    assert!(
        (cost_of(&sources, Some("subagent")) - subagent).abs() < 1e-9,
        "{sources:#}"
    );
    // The subagent's model requests and its Write sit under the Agent tool's span.
    let trace = traced(dir.path()).await;
    fn find<'a>(span: &'a Value, pred: &dyn Fn(&Value) -> bool) -> Option<&'a Value> {
        if pred(span) {
            return Some(span);
        }
        span["children"]
            .as_array()?
            .iter()
            .find_map(|c| find(c, pred))
    }
    let roots: Vec<&Value> = trace["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .flat_map(|p| p["spans"].as_array().expect("spans"))
        .collect();
    let agent = roots
        .iter()
        .find_map(|r| {
            find(r, &|s| {
                s["name"] == "claude_code.tool" && s["attributes"]["tool_name"] == "Agent"
            })
        })
        .unwrap_or_else(|| panic!("an Agent tool span: {trace:#}"));
    assert!(
        find(agent, &|s| s["name"] == "claude_code.llm_request").is_some(),
        "the subagent's model requests are nested under its Agent span: {agent:#}"
    );
    assert!(
        find(agent, &|s| s["name"] == "claude_code.tool"
            && s["attributes"]["tool_name"] == "Write")
        .is_some(),
        "the subagent's Write is nested under its Agent span: {agent:#}"
    );
    drop(server);
}

/// The real CLI refused a `Write` by a `PreToolUse` hook (traces on): the waterfall's tool span
/// has no run, the events hold the rejection, and nothing was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_tool_call_shows_no_run_and_its_rejection() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--no-ui"]);
    let scenario = Scenario {
        traces: true,
        hook_refuses_write: true,
        ..Scenario::default()
    };
    let run =
        run_claude_scripted(&server, "http/json", scenario, "Write the greeting script").await;
    assert!(!run.file.exists(), "the refused Write wrote nothing");
    let data = dir.path().to_string_lossy().into_owned();
    let trace = traced(dir.path()).await;
    let write = trace["prompts"][0]["spans"][0]["children"]
        .as_array()
        .expect("children")
        .iter()
        .find(|s| s["name"] == "claude_code.tool")
        .unwrap_or_else(|| {
            let (_, events, _) = ccscope(&["events", "--since", "all", "--data-dir", &data]);
            panic!("the Write's tool span: {trace:#}\n{events}")
        });
    let names: Vec<&str> = write["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    assert!(
        !names.contains(&"claude_code.tool.execution"),
        "a refused call never runs: {write:#}"
    );
    let (code, out, err) = ccscope(&[
        "events",
        "--json",
        "--name",
        "tool_decision",
        "--since",
        "all",
        "--data-dir",
        &data,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("event"))
            .any(|e| e["decision"] == "reject"),
        "{out}"
    );
    drop(server);
}

/// `ccscope trace --json` of the traced session stored in `dir` (the last export of spans
/// may land a moment after the CLI exits).
async fn traced(dir: &std::path::Path) -> Value {
    let reader = ccscope_store::Reader::open(&dir.join("ccscope.db")).expect("store");
    let all = ccscope_query::Filter {
        from_ns: 0,
        to_ns: i64::MAX,
        ..Default::default()
    };
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = reader.spans(&all).expect("spans");
        if stored.iter().any(|s| s.name == "claude_code.interaction") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let session = stored
        .iter()
        .find_map(|s| s.attributes["session.id"].as_str())
        .expect("session.id")
        .to_owned();
    let data = dir.to_string_lossy().into_owned();
    let (code, out, err) = ccscope(&["trace", &session, "--json", "--data-dir", &data]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("trace JSON")
}
