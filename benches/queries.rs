//! Dashboard query benchmark: every overview query over a 30-day range of a store holding 1M
//! events and 5M metric points, as the API runs them (a fresh read-only connection each time).
//! Prints p50/p95 per query; asserts nothing.
//!
//!     cargo bench --bench queries                      # 1M events, 5M points (a few minutes to fill)
//!     CCSCOPE_BENCH_SCALE=0.1 cargo bench --bench queries
//!     CCSCOPE_BENCH_ONLY=overview cargo bench --bench queries   # the queries whose label has it
//!
//! The store is filled through the real writer; the database is kept in target/ between runs
//! (delete target/bench-queries to refill).

use std::path::Path;
use std::time::Instant;

use ccscope_query::Source;
use ccscope_query::{Dimension, EventQuery, Filter};
use ccscope_store::{Reader, Retention, Writer};
use ccscope_telemetry::{Encoding, MetricKind, Signal, decode_request, normalize};
use serde_json::{Value, json};

const DAY_NS: i64 = 86_400_000_000_000;
const SESSIONS: usize = 2_000;
const RUNS: usize = 20;
/// One session in this many sends spans (traces on), as a team trying the beta would.
const TRACED_EVERY: usize = 10;

fn attr(key: &str, value: Value) -> Value {
    let v = match value {
        Value::String(s) => json!({"stringValue": s}),
        Value::Number(n) if n.is_f64() => json!({"doubleValue": n}),
        Value::Number(n) => json!({"intValue": n}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": v})
}

/// Who spent a request of session `s`, as Claude Code 2.1.33x tags its cost points and
/// `api_request`s: the main loop mostly, the session's two subagents by name, auxiliary calls;
/// some with the session's skill or MCP tool. A session keeps one effort, so it has six
/// attribute sets (series) per metric, as a real one with subagents, a skill and MCP has.
fn attribution(s: usize, n: usize) -> Vec<(&'static str, &'static str)> {
    let agents = [
        "Explore",
        "Plan",
        "general-purpose",
        "code-reviewer",
        "test-runner",
        "docs-writer",
    ];
    let mut out = vec![("effort", ["low", "medium", "high"][s % 3])];
    match n % 10 {
        0..=4 => out.push(("query_source", "main")),
        5 => {
            out.push(("query_source", "main"));
            out.push((
                "skill.name",
                ["pdf", "xlsx", "frontend-design", "release-notes"][s % 4],
            ));
        }
        6 => {
            let (server, tool) = [
                ("github", "create_pull_request"),
                ("linear", "list_issues"),
                ("sentry", "get_issue"),
                ("postgres", "query"),
            ][s % 4];
            out.push(("query_source", "main"));
            out.push(("mcp_server.name", server));
            out.push(("mcp_tool.name", tool));
        }
        7 | 8 => {
            out.push(("query_source", "subagent"));
            out.push(("agent.name", agents[(s + n % 2) % agents.len()]));
        }
        _ => out.push(("query_source", "auxiliary")),
    }
    out
}

/// A traced session's spans as Claude Code 2.1.33x sends them: per prompt (8 events) an
/// interaction, two model requests (the `api_request`s' ids) and a tool (its `tool_use_id`) with
/// its permission wait and its run.
fn session_spans(s: usize, start_ns: i64, events: usize) -> Value {
    let session = format!("bench-session-{s:05}");
    let user = format!("user-{:03}", s % 50);
    let sec = 1_000_000_000i64;
    let mut spans = Vec::new();
    let span = |name: &str,
                id: String,
                parent: Option<String>,
                start: i64,
                end: i64,
                mut attrs: Vec<Value>| {
        attrs.push(attr("session.id", json!(session)));
        attrs.push(attr("user.id", json!(user)));
        let mut sp = json!({"traceId": format!("{:032x}", s as u128 * 1_000_003 + 7), "spanId": id, "name": name, "kind": 1,
            "startTimeUnixNano": start.to_string(), "endTimeUnixNano": end.to_string(), "attributes": attrs});
        if let Some(p) = parent {
            sp["parentSpanId"] = json!(p);
        }
        sp
    };
    for p in 0..events / 8 {
        let t0 = start_ns + (p * 8) as i64 * sec;
        let id = |k: usize| format!("{:016x}", (s * 100_000 + p * 10 + k) as u64 + 1);
        spans.push(span(
            "claude_code.interaction",
            id(0),
            None,
            t0,
            t0 + 8 * sec,
            vec![attr("interaction.sequence", json!(p + 1))],
        ));
        for (k, i) in [(1, 1), (2, 5)] {
            let at = start_ns + (p * 8 + i) as i64 * sec;
            spans.push(span(
                "claude_code.llm_request",
                id(k),
                Some(id(0)),
                at - sec,
                at,
                vec![
                    attr("model", json!("claude-opus-4-8")),
                    attr("request_id", json!(format!("req-{s}-{}", p * 8 + i))),
                    attr("ttft_ms", json!(150 + ((p * 8 + i) * 53) % 2500)),
                    attr("query_source_safe", json!("main")),
                ],
            ));
        }
        let tool_at = start_ns + (p * 8 + 2) as i64 * sec;
        let wait = (p as i64 % 5) * sec / 4;
        spans.push(span(
            "claude_code.tool",
            id(3),
            Some(id(0)),
            tool_at,
            tool_at + 2 * sec,
            vec![
                attr(
                    "tool_name_safe",
                    json!(["Bash", "Edit", "Write", "Read", "Grep"][p % 5]),
                ),
                attr("tool_use_id", json!(format!("toolu-{s}-{p}"))),
            ],
        ));
        spans.push(span(
            "claude_code.tool.blocked_on_user",
            id(4),
            Some(id(3)),
            tool_at,
            tool_at + wait,
            vec![attr("decision", json!("accept"))],
        ));
        spans.push(span(
            "claude_code.tool.execution",
            id(5),
            Some(id(3)),
            tool_at + wait,
            tool_at + 2 * sec,
            vec![attr("success", json!(true))],
        ));
    }
    json!({"resourceSpans": [{"resource": {"attributes": [attr("service.name", json!("claude-code"))]},
        "scopeSpans": [{"scope": {"name": "com.anthropic.claude_code.tracing"}, "spans": spans}]}]})
}

/// One session's events (`events` of them) and metric points (`points`), spread over its day.
fn session_batches(s: usize, start_ns: i64, events: usize, points: usize) -> (Value, Value) {
    let session = format!("bench-session-{s:05}");
    let user = format!("user-{:03}", s % 50);
    let model = [
        "claude-opus-4-8[1m]",
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
    ][s % 3];
    let names = [
        "user_prompt",
        "api_request",
        "assistant_response",
        "tool_decision",
        "tool_result",
        "api_request",
        "tool_result",
        "api_error",
    ];
    let tools = ["Bash", "Edit", "Write", "Read", "Grep"];
    let records: Vec<Value> = (0..events)
        .map(|i| {
            let name = names[i % names.len()];
            let mut attrs = vec![
                attr("session.id", json!(session)),
                attr("user.id", json!(user)),
                attr("terminal.type", json!("xterm-256color")),
                attr("event.name", json!(name)),
                attr("event.sequence", json!(i)),
                attr("prompt.id", json!(format!("{session}-p{}", i / 8))),
                attr("model", json!(model)),
            ];
            match name {
                "api_request" => {
                    for (key, value) in attribution(s, i) {
                        attrs.push(attr(key, json!(value)));
                    }
                    attrs.push(attr("request_id", json!(format!("req-{s}-{i}"))));
                    attrs.push(attr("ttft_ms", json!(150 + (i * 53) % 2500)));
                    attrs.push(attr("cost_usd", json!(0.0123)));
                    attrs.push(attr("input_tokens", json!(120)));
                    attrs.push(attr("output_tokens", json!(40)));
                    attrs.push(attr("duration_ms", json!(200 + (i * 37) % 3000)));
                }
                "api_error" => attrs.push(attr("status_code", json!([429, 500, 529][i % 3]))),
                "tool_result" | "tool_decision" => {
                    attrs.push(attr("tool_name", json!(tools[i % tools.len()])));
                    attrs.push(attr("tool_use_id", json!(format!("toolu-{s}-{}", i / 8))));
                    attrs.push(attr(
                        "success",
                        json!(if i % 11 == 0 { "false" } else { "true" }),
                    ));
                    attrs.push(attr("duration_ms", json!(format!("{}", 5 + i % 400))));
                }
                _ => {}
            }
            json!({"timeUnixNano": (start_ns + i as i64 * 1_000_000_000).to_string(),
                   "body": {"stringValue": format!("claude_code.{name}")}, "attributes": attrs})
        })
        .collect();
    let logs = json!({"resourceLogs": [{"resource": {"attributes": [attr("service.name", json!("claude-code")), attr("department", json!(["eng", "sales"][s % 2]))]},
        "scopeLogs": [{"logRecords": records}]}]});
    // Points: 10 series per session, each exported every minute (delta).
    let series: Vec<(&str, &str)> = vec![
        ("claude_code.cost.usage", ""),
        ("claude_code.token.usage", "input"),
        ("claude_code.token.usage", "output"),
        ("claude_code.token.usage", "cacheRead"),
        ("claude_code.token.usage", "cacheCreation"),
        ("claude_code.lines_of_code.count", "added"),
        ("claude_code.lines_of_code.count", "removed"),
        ("claude_code.active_time.total", "cli"),
        ("claude_code.active_time.total", "user"),
        ("claude_code.code_edit_tool.decision", ""),
    ];
    let per_series = points / series.len();
    let metrics: Vec<Value> = series
        .iter()
        .map(|(name, ty)| {
            let dps: Vec<Value> = (0..per_series)
                .map(|k| {
                    let mut a = vec![attr("session.id", json!(session)), attr("user.id", json!(user)), attr("model", json!(model))];
                    if !ty.is_empty() {
                        a.push(attr("type", json!(ty)));
                    }
                    if name.starts_with("claude_code.cost") || name.starts_with("claude_code.token") {
                        for (key, value) in attribution(s, k) {
                            a.push(attr(key, json!(value)));
                        }
                    }
                    if name.ends_with("decision") {
                        a.push(attr("decision", json!(if k % 5 == 0 { "reject" } else { "accept" })));
                        a.push(attr("tool_name", json!(tools[k % 3])));
                        a.push(attr("language", json!(["Rust", "Python", "TypeScript"][k % 3])));
                    }
                    let t = start_ns + k as i64 * 60_000_000_000;
                    json!({"attributes": a, "startTimeUnixNano": t.to_string(), "timeUnixNano": (t + 60_000_000_000).to_string(), "asDouble": 1.5})
                })
                .collect();
            json!({"name": name, "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": dps}})
        })
        .collect();
    let metrics = json!({"resourceMetrics": [{"resource": {"attributes": [attr("service.name", json!("claude-code"))]}, "scopeMetrics": [{"metrics": metrics}]}]});
    (logs, metrics)
}

fn fill(path: &Path, scale: f64, end_ns: i64) {
    let events_per_session = ((1_000_000.0 * scale) as usize / SESSIONS).max(8);
    let points_per_session = ((5_000_000.0 * scale) as usize / SESSIONS).max(10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (writer, thread) = Writer::start(
        path,
        Retention {
            max_age_days: None,
            max_bytes: None,
        },
    )
    .expect("writer");
    let started = Instant::now();
    runtime.block_on(async {
        let mut pending = Vec::new();
        for s in 0..SESSIONS {
            let start = end_ns - 30 * DAY_NS + (s as i64 * 30 * DAY_NS / SESSIONS as i64);
            let (logs, metrics) = session_batches(s, start, events_per_session, points_per_session);
            let mut bodies = vec![(Signal::Logs, logs), (Signal::Metrics, metrics)];
            if s % TRACED_EVERY == 0 {
                bodies.push((Signal::Traces, session_spans(s, start, events_per_session)));
            }
            for (signal, body) in bodies {
                let request = decode_request(signal, Encoding::Json, body.to_string().as_bytes())
                    .expect("decode");
                let batch = normalize(request, end_ns);
                let writer = writer.clone();
                pending.push(tokio::spawn(async move {
                    loop {
                        match writer.write(batch.clone(), end_ns).await {
                            Ok(_) => break,
                            Err(ccscope_store::WriteError::Saturated) => {
                                tokio::time::sleep(std::time::Duration::from_millis(20)).await
                            }
                            Err(e) => panic!("write failed: {e}"),
                        }
                    }
                }));
            }
            if pending.len() >= 64 {
                for p in pending.drain(..) {
                    p.await.expect("write task");
                }
            }
        }
        for p in pending {
            p.await.expect("write task");
        }
    });
    drop(writer);
    thread.join();
    println!(
        "filled {} sessions ({} events, {} points each) in {:.0} s",
        SESSIONS,
        events_per_session,
        points_per_session,
        started.elapsed().as_secs_f64()
    );
}

/// Times `query` as the API runs it: the store opened afresh and asked through the read seam
/// (`&dyn Source`).
fn time<T>(label: &str, path: &Path, mut query: impl FnMut(&dyn Source) -> T) {
    if let Ok(only) = std::env::var("CCSCOPE_BENCH_ONLY")
        && !label.contains(&only)
    {
        return;
    }
    let mut ms = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let reader: Box<dyn Source> = Box::new(Reader::open(path).expect("reader"));
        std::hint::black_box(query(reader.as_ref()));
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{label:<34} p50 {:>7.1} ms   p95 {:>7.1} ms",
        ms[RUNS / 2],
        ms[RUNS * 95 / 100]
    );
}

fn main() {
    let scale: f64 = std::env::var("CCSCOPE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-queries-v3-{scale}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("ccscope.db");
    let marker = dir.join("end_ns");
    let end_ns = match std::fs::read_to_string(&marker)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    {
        Some(end) if path.exists() => end,
        _ => {
            let _ = std::fs::remove_file(&path);
            let end = ccscope_store::now_ns();
            fill(&path, scale, end);
            std::fs::write(&marker, end.to_string()).expect("marker");
            end
        }
    };
    let reader = Reader::open(&path).expect("reader");
    let health = reader.health(&path).expect("health");
    println!(
        "store: {} events, {} points, {} sessions, {} MiB; 30-day range, {RUNS} runs each",
        health.events,
        health.points,
        health.sessions,
        health.file_bytes >> 20
    );
    let f = Filter {
        from_ns: end_ns - 30 * DAY_NS,
        to_ns: end_ns,
        ..Filter::default()
    };
    time("overview (report, this + previous)", &path, |r| {
        (
            r.report(&f).expect("q"),
            r.report(&Filter {
                from_ns: f.from_ns - 30 * DAY_NS,
                to_ns: f.from_ns,
                ..f.clone()
            })
            .expect("q"),
        )
    });
    time("overview, one session", &path, |r| {
        r.report(&Filter {
            session: Some("bench-session-00042".into()),
            ..f.clone()
        })
        .expect("q")
    });
    time("overview, one model", &path, |r| {
        r.report(&Filter {
            model: Some("claude-opus-4-8".into()),
            ..f.clone()
        })
        .expect("q")
    });
    time("chart cost by model", &path, |r| {
        r.usage_series(false, &Dimension::Model, &f).expect("q")
    });
    time("chart tokens by type", &path, |r| {
        r.metric_series(MetricKind::TokenUsage, &Dimension::Type, &f)
            .expect("q")
    });
    time("chart sessions", &path, |r| {
        r.session_series(&f).expect("q")
    });
    time("chart lines", &path, |r| {
        r.metric_series(MetricKind::LinesOfCode, &Dimension::Type, &f)
            .expect("q")
    });
    time("chart active time", &path, |r| {
        r.metric_series(MetricKind::ActiveTime, &Dimension::Type, &f)
            .expect("q")
    });
    time("chart edit decisions by language", &path, |r| {
        r.decision_breakdown(true, &f).expect("q")
    });
    time("chart API latency p50/p95", &path, |r| {
        r.latency_series(&f).expect("q")
    });
    time("chart API errors by status", &path, |r| {
        r.event_series(&["api_error"], &Dimension::StatusCode, false, &f)
            .expect("q")
    });
    time("chart tools", &path, |r| r.tool_breakdown(&f).expect("q"));
    time("cost by attr:department", &path, |r| {
        r.usage_series(false, &Dimension::Attribute("department".into()), &f)
            .expect("q")
    });
    let page = EventQuery {
        filter: f.clone(),
        limit: Some(200),
        newest_first: true,
        ..EventQuery::default()
    };
    time("events: first page + count", &path, |r| {
        let mut n = 0;
        r.events(&page, &mut |_| {
            n += 1;
            Ok(())
        })
        .expect("q");
        (n, r.count_events(&page).expect("q"))
    });
    let named = EventQuery {
        names: vec!["tool_result".into()],
        ..page.clone()
    };
    time("events: one name, page + count", &path, |r| {
        r.events(&named, &mut |_| Ok(())).expect("q");
        r.count_events(&named).expect("q")
    });
    let session = Filter {
        session: Some("bench-session-01000".into()),
        from_ns: 0,
        to_ns: i64::MAX,
        ..Filter::default()
    };
    time("session timeline (all its events)", &path, |r| {
        r.events(
            &EventQuery {
                filter: session.clone(),
                ..EventQuery::default()
            },
            &mut |_| Ok(()),
        )
        .expect("q");
        r.sessions(&session).expect("q")
    });
    let traced = format!("bench-session-{:05}", 10 * TRACED_EVERY);
    time(
        "waterfall of a traced session (spans + events)",
        &path,
        |r| {
            let whole = Filter {
                from_ns: 0,
                to_ns: i64::MAX,
                ..Filter::default()
            };
            let trace = ccscope_query::session_trace(r, &traced, &whole).expect("q");
            assert!(trace.prompts.len() >= 50, "{} prompts", trace.prompts.len());
            r.events(
                &EventQuery {
                    filter: Filter {
                        session: Some(traced.clone()),
                        ..whole
                    },
                    ..EventQuery::default()
                },
                &mut |_| Ok(()),
            )
            .expect("q");
            trace
        },
    );
    time("report --by agent.name (cost and tokens)", &path, |r| {
        ccscope_query::usage_by_attribute(r, "agent.name", &f).expect("q")
    });
    time("where the money went (7 splits, cost)", &path, |r| {
        for key in [
            "query_source",
            "agent.name",
            "skill.name",
            "mcp_server.name",
            "mcp_tool.name",
            "plugin.name",
            "effort",
        ] {
            std::hint::black_box(ccscope_query::cost_by_attribute(r, key, &f).expect("q"));
        }
    });
    time("chart time to first token by model", &path, |r| {
        ccscope_query::latency::ttft_by_model(r, &f).expect("q")
    });
    time("latency: tools' run and wait", &path, |r| {
        ccscope_query::latency::tool_latency(r, &f).expect("q")
    });
    time("latency: 10 slowest prompts with splits", &path, |r| {
        ccscope_query::latency::slowest_prompts(r, &f, 10).expect("q")
    });
    time("fleet: per user (usage_by)", &path, |r| {
        r.usage_by(&Dimension::User, &f).expect("q")
    });
    time("fleet: daily active users", &path, |r| {
        r.active_users(DAY_NS, &Dimension::None, &f).expect("q")
    });
}
