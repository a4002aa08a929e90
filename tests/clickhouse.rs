//! The organisation path against the real ClickHouse engine: PyPI's chdb-core (ClickHouse 26.x,
//! in-process) behind `tests/clickhouse/front.py`, a test double for ClickHouse's HTTP transport
//! only. The recorded Claude Code exports are written into the Collector exporter's tables by
//! `tests/clickhouse/collector.py` the way the exporter writes them (two schema generations;
//! delta and cumulative sums; a re-sent export stored twice), and the same exports are sent to
//! a real `ccscope serve` on SQLite. Every answer over ClickHouse must equal SQLite's.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{BIN, Server, ccscope, ccscope_env, fixtures_dir, post_chunked, tempdir};
use serde_json::{Value, json};

const PASSWORD: &str = "s3cret-pw";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clickhouse")
        .join(name)
}

/// The front with the real engine behind it; killed on drop.
struct Front {
    child: Child,
    port: u16,
}

impl Front {
    fn start(data: &Path) -> Front {
        Front::start_with(data, &[])
    }

    /// With more of front.py's flags (e.g. `--tls-cert`, `--tls-key`).
    fn start_with(data: &Path, extra: &[&str]) -> Front {
        let mut child = Command::new("python3")
            .arg(script("front.py"))
            .arg("--data")
            .arg(data)
            .args(["--password", PASSWORD])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs tests/clickhouse/front.py (pip install chdb-core)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("front prints its port");
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("front did not start (is chdb-core installed?): {line:?}"));
        Front { child, port }
    }

    fn url(&self, database: &str) -> String {
        format!("clickhouse://default@127.0.0.1:{}/{database}", self.port)
    }

    fn http(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `collector.py`: creates the tables (`create`) and writes `exports`.
    fn collect(&self, database: &str, schema: &str, create: bool, exports: &[PathBuf]) {
        let mut cmd = Command::new("python3");
        cmd.arg(script("collector.py")).args([
            "--url",
            &self.http(),
            "--database",
            database,
            "--schema",
            schema,
        ]);
        if create {
            cmd.arg("--create");
        }
        let status = cmd
            .args(exports)
            .env("CH_PASSWORD", PASSWORD)
            .status()
            .expect("collector.py");
        assert!(status.success(), "collector.py failed");
    }

    /// A raw SQL query through the front, and its answer.
    fn query(&self, sql: &str) -> String {
        let out = Command::new("curl")
            .args(["-sf", "-H", "X-ClickHouse-User: default", "-H"])
            .arg(format!("X-ClickHouse-Key: {PASSWORD}"))
            .args(["--data-binary", sql, &self.http()])
            .output()
            .expect("curl");
        assert!(out.status.success(), "{sql}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A raw SQL statement through the front.
    fn sql(&self, sql: &str) {
        let status = Command::new("curl")
            .args(["-sf", "-H", "X-ClickHouse-User: default", "-H"])
            .arg(format!("X-ClickHouse-Key: {PASSWORD}"))
            .args(["--data-binary", sql, &self.http()])
            .stdout(Stdio::null())
            .status()
            .expect("curl");
        assert!(status.success(), "{sql}");
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read export")).expect("export JSON")
}

/// The tools turn's metrics as two cumulative exports: the first with the recorded values, the
/// second a minute later with every value doubled (same start time), so the deltas are the
/// recorded values twice over.
fn cumulative_exports(dir: &Path) -> Vec<PathBuf> {
    let delta = read(&fixtures_dir().join("http-json/tools/00003-metrics.json"));
    let mut out = Vec::new();
    for (i, factor) in [(0_i64, 1.0), (1, 2.0)] {
        let mut export = delta.clone();
        each_sum(&mut export, |sum| {
            sum["aggregationTemporality"] = json!(2);
            for p in sum["dataPoints"].as_array_mut().into_iter().flatten() {
                let (start, time) = (ns(&p["startTimeUnixNano"]), ns(&p["timeUnixNano"]));
                // A session-long run: the cumulative start is the session's start.
                p["startTimeUnixNano"] = json!((start - 60_000_000_000).to_string());
                p["timeUnixNano"] = json!((time + i * 60_000_000_000).to_string());
                if let Some(v) = p.get("asDouble").and_then(Value::as_f64) {
                    p["asDouble"] = json!(v * factor);
                }
            }
        });
        out.push(write_export(dir, &format!("cumulative-{i}.json"), &export));
    }
    out
}

/// Calls `each` with every `sum` of an OTLP/JSON metrics export.
fn each_sum(export: &mut Value, mut each: impl FnMut(&mut Value)) {
    for rm in export["resourceMetrics"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        for sm in rm["scopeMetrics"].as_array_mut().into_iter().flatten() {
            for m in sm["metrics"].as_array_mut().into_iter().flatten() {
                if let Some(sum) = m.get_mut("sum") {
                    each(sum);
                }
            }
        }
    }
}

/// A `*TimeUnixNano` string as a number.
fn ns(value: &Value) -> i64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("nanoseconds: {value}"))
}

fn write_export(dir: &Path, name: &str, export: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(export).expect("json")).expect("write");
    path
}

/// The session of `same_second_exports`.
const FLAKY_SESSION: &str = "f1a4e000-0000-4000-8000-000000000001";
/// An attribute value on its points that ClickHouse's escaped parameter text would rewrite: a
/// backslash before `t`, a real tab, quotes and a trailing backslash.
const PATH_VALUE: &str = "C:\\tools\t\"q\" 'x'\\";

/// The tools turn's delta metrics as a short `claude -p` run sends them: two different exports
/// of each series within one second (a periodic export at .599 and the flush at exit at .770,
/// splitting the recorded values 3:1), under a session of its own; the first is also re-sent.
/// On the exporter's whole-second DDL both exports share (series, start, time).
fn same_second_exports(dir: &Path) -> Vec<PathBuf> {
    let recorded = read(&fixtures_dir().join("http-json/tools/00003-metrics.json"));
    let mut out = Vec::new();
    for (i, (start_ms, end_ms, share)) in [(100_i64, 599_i64, 0.75), (599, 770, 0.25)]
        .into_iter()
        .enumerate()
    {
        let mut export = recorded.clone();
        each_sum(&mut export, |sum| {
            for p in sum["dataPoints"].as_array_mut().into_iter().flatten() {
                let time = ns(&p["timeUnixNano"]);
                let second = time - time.rem_euclid(1_000_000_000);
                p["startTimeUnixNano"] = json!((second + start_ms * 1_000_000).to_string());
                p["timeUnixNano"] = json!((second + end_ms * 1_000_000).to_string());
                if let Some(v) = p.get("asDouble").and_then(Value::as_f64) {
                    p["asDouble"] = json!(v * share);
                }
                let attributes = p["attributes"].as_array_mut().expect("attributes");
                for a in attributes.iter_mut() {
                    if a["key"] == "session.id" {
                        a["value"] = json!({"stringValue": FLAKY_SESSION});
                    }
                }
                attributes.push(json!({"key": "path", "value": {"stringValue": PATH_VALUE}}));
            }
        });
        out.push(write_export(dir, &format!("same-second-{i}.json"), &export));
    }
    out.push(out[0].clone());
    out
}

/// The session of `fact_cases_export`.
const FACTS_SESSION: &str = "fac75000-0000-4000-8000-000000000002";

/// One export with an event for every row of the table of facts, values sent in every form
/// Claude Code uses (numbers as ints, doubles and strings; booleans as strings and ints).
fn fact_cases_export(dir: &Path) -> PathBuf {
    let s = |v: &str| json!({"stringValue": v});
    let i = |v: i64| json!({"intValue": v});
    let d = |v: f64| json!({"doubleValue": v});
    let cases: Vec<(&str, Vec<(&str, Value)>)> = vec![
        (
            "api_request",
            vec![
                ("cost_usd_micros", i(12500)),
                ("input_tokens", s("330")),
                ("output_tokens", i(12)),
                ("ttft_ms", s("250")),
                ("duration_ms", i(900)),
                ("model", s("claude-opus-4-8[1m]")),
                ("request_id", s("req_1")),
                ("success", s("false")),
            ],
        ),
        (
            "api_error",
            vec![
                ("status_code", s("529")),
                ("attempt", i(2)),
                ("error", s("overloaded")),
                ("duration_ms", i(100)),
            ],
        ),
        (
            "api_retries_exhausted",
            vec![
                ("total_attempts", i(3)),
                ("total_retry_duration_ms", s("4500")),
                ("status_code", i(500)),
            ],
        ),
        ("api_refusal", vec![]),
        (
            "mcp_server_connection",
            vec![("status", s("failed")), ("error_code", s("ECONNREFUSED"))],
        ),
        ("mcp_server_connection", vec![("status", s("connected"))]),
        (
            "hook_execution_complete",
            vec![
                ("num_blocking", i(1)),
                ("num_non_blocking_error", s("0")),
                ("total_duration_ms", i(20)),
            ],
        ),
        (
            "hook_execution_complete",
            vec![("num_blocking", s("0")), ("num_non_blocking_error", i(0))],
        ),
        ("hook_execution_complete", vec![("num_blocking", i(0))]),
        (
            "tool_result",
            vec![
                ("decision_type", s("accept")),
                ("decision_source", s("config")),
                ("success", s("TRUE")),
                ("error_type", s("timeout")),
                ("duration_ms", s("37")),
                ("tool_name", s("Bash")),
                ("tool_use_id", s("toolu_1")),
            ],
        ),
        (
            "tool_decision",
            vec![
                ("decision", s("reject")),
                ("source", s("hook")),
                ("tool_name", s("Write")),
            ],
        ),
        ("internal_error", vec![("error_code", s("E42"))]),
        ("safety_event", vec![("decision_source", s("classifier"))]),
        (
            "subagent_completed",
            vec![
                ("model", s("claude-haiku-4-5")),
                ("final_model", s("claude-opus-4-8")),
                ("total_tokens", s("1200")),
                ("model_swapped", s("true")),
            ],
        ),
        (
            "user_prompt",
            vec![("prompt", s("<REDACTED>")), ("prompt_length", s("42"))],
        ),
        (
            "user_prompt",
            vec![
                ("prompt_text", s("hello")),
                ("prompt", s("<REDACTED>")),
                ("prompt_length", i(5)),
            ],
        ),
        (
            "tool_result",
            vec![("success", i(1)), ("error", s("")), ("error_type", s(""))],
        ),
        (
            "brand_new_event",
            vec![
                ("success", s("false")),
                ("duration_ms", d(5.0)),
                ("cost_usd", d(1.5)),
            ],
        ),
    ];
    let start: i64 = 1_795_492_100_000_000_000;
    let records: Vec<Value> = cases
        .into_iter()
        .enumerate()
        .map(|(n, (name, attrs))| {
            let mut list = vec![
                json!({"key": "session.id", "value": s(FACTS_SESSION)}),
                json!({"key": "user.id", "value": s("fact-user")}),
                json!({"key": "event.name", "value": s(name)}),
                json!({"key": "event.sequence", "value": i(n as i64)}),
            ];
            list.extend(
                attrs
                    .into_iter()
                    .map(|(k, v)| json!({"key": k, "value": v})),
            );
            let t = (start + n as i64 * 1_000_000).to_string();
            json!({"timeUnixNano": t, "observedTimeUnixNano": t,
                   "body": s(&format!("claude_code.{name}")), "attributes": list})
        })
        .collect();
    let export = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": s("claude-code")},
                                    {"key": "service.version", "value": s("2.1.337")}]},
        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events", "version": "2.1.337"},
                       "logRecords": records}]}]});
    write_export(dir, "fact-cases.json", &export)
}

/// The exports of the test, in order: every recorded HTTP/JSON export (the tools turn's logs
/// twice — a re-send), the cumulative pair, and the same-second pair with a re-send.
fn exports(dir: &Path) -> Vec<PathBuf> {
    let base = fixtures_dir().join("http-json");
    let mut list = vec![
        base.join("tools/00001-logs.json"),
        base.join("tools/00002-logs.json"),
        base.join("tools/00001-logs.json"),
        base.join("tools/00003-metrics.json"),
        base.join("error/00001-logs.json"),
        base.join("error/00002-logs.json"),
        base.join("error/00003-metrics.json"),
        base.join("text/00001-logs.json"),
        base.join("reject/00001-logs.json"),
        base.join("reject/00002-metrics.json"),
    ];
    // The variants: prompt text sent (`OTEL_LOG_USER_PROMPTS=1`) and resource attributes on
    // every record.
    let variants = fixtures_dir().join("variants");
    for variant in ["log-user-prompts", "resource-attributes"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(variants.join(variant))
            .expect("variant")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                let name = p.to_string_lossy();
                name.ends_with("-logs.json") || name.ends_with("-metrics.json")
            })
            .collect();
        files.sort();
        list.extend(files);
    }
    list.extend(cumulative_exports(dir));
    list.extend(same_second_exports(dir));
    list.push(fact_cases_export(dir));
    list.extend(recorded_with_traces());
    list
}

/// Claude Code 2.1.337's exports of a tools turn with traces on (logs, spans, metrics).
fn recorded_with_traces() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude-code-2.1.337/http-json/tools-traces");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("2.1.337 fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| !p.to_string_lossy().ends_with(".meta.json"))
        .collect();
    files.sort();
    files
}

/// The session of the recorded spans.
fn traced_session() -> String {
    let traces = recorded_with_traces()
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("-traces.json"))
        .expect("a traces export");
    read(&traces)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .find(|a| a["key"] == "session.id")
        .and_then(|a| a["value"]["stringValue"].as_str())
        .expect("session.id")
        .to_owned()
}

fn send_to_sqlite(server: &Server, exports: &[PathBuf]) {
    for path in exports {
        let body = std::fs::read(path).expect("export");
        let export = read(path);
        let signal = if export.get("resourceLogs").is_some() {
            "logs"
        } else if export.get("resourceSpans").is_some() {
            "traces"
        } else {
            "metrics"
        };
        let (status, _, _) = post_chunked(
            server.http,
            &format!("/v1/{signal}"),
            &[("Content-Type", "application/json")],
            &body,
        );
        assert_eq!(status, 200, "{}", path.display());
    }
}

fn json_of(args: &[String], vars: &[(&str, &str)]) -> Value {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = ccscope_env(&args, vars);
    assert_eq!(code, 0, "ccscope {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn lines_of(args: &[String], vars: &[(&str, &str)]) -> Vec<Value> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = ccscope_env(&args, vars);
    assert_eq!(code, 0, "ccscope {args:?} failed: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Floats summed in another order differ in the last bits: compare numbers to 1e-9.
fn assert_same(sqlite: &Value, clickhouse: &Value, what: &str) {
    fn walk(a: &Value, b: &Value, path: &str) -> Result<(), String> {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                if (x - y).abs() > 1e-9 * x.abs().max(1.0) {
                    return Err(format!("{path}: {x} != {y}"));
                }
                Ok(())
            }
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<_> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    walk(
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        &format!("{path}.{k}"),
                    )?;
                }
                Ok(())
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (a, b)) in x.iter().zip(y).enumerate() {
                    walk(a, b, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            _ if a == b => Ok(()),
            _ => Err(format!("{path}: {a} != {b}")),
        }
    }
    if let Err(e) = walk(sqlite, clickhouse, what) {
        panic!(
            "{what} differs between SQLite and ClickHouse: {e}\nSQLite: {sqlite:#}\nClickHouse: {clickhouse:#}"
        );
    }
}

#[test]
fn clickhouse_answers_equal_the_sqlite_store_for_the_same_exports() {
    let dir = tempdir();
    let front = Front::start(&dir.path().join("chdb"));
    let exports = exports(dir.path());
    let server = Server::start(&dir.path().join("sqlite"), &["--no-ui"]);
    send_to_sqlite(&server, &exports);
    let data = dir.path().join("sqlite").to_string_lossy().into_owned();
    let pw = [("CCSCOPE_CLICKHOUSE_PASSWORD", PASSWORD)];
    for (database, schema) in [("otel", "2025"), ("fleet", "2026")] {
        front.collect(database, schema, true, &exports);
        let url = front.url(database);
        let sqlite = |args: &[&str]| -> Vec<String> {
            let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            all.extend(
                [
                    "--from",
                    "2020-01-01",
                    "--to",
                    "2030-01-01",
                    "--data-dir",
                    &data,
                ]
                .map(String::from),
            );
            all
        };
        let clickhouse = |args: &[&str]| -> Vec<String> {
            let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            all.extend(
                [
                    "--from",
                    "2020-01-01",
                    "--to",
                    "2030-01-01",
                    "--source",
                    url.as_str(),
                ]
                .map(String::from),
            );
            all
        };
        for filter in [
            &[][..],
            &["--model", "claude-opus-4-8"][..],
            &[
                "--user",
                "a07480c8e540498252b187001b07f745395119019e009a7912b8a67d04ee5e9b",
            ][..],
            &["--attr", "service.version=2.1.197"][..],
            &["--attr", "terminal.type=no-such-terminal"][..],
            // One session (the tools run's): SQLite finds its events by session key.
            &["--session", "03aba2d0-93f5-4374-82b3-b136b0d67f97"][..],
            &["--session", FLAKY_SESSION][..],
        ] {
            let mut args = vec!["report", "--json"];
            args.extend_from_slice(filter);
            let a = json_of(&sqlite(&args), &[]);
            let b = json_of(&clickhouse(&args), &pw);
            assert_same(&a, &b, &format!("report {filter:?} ({schema} schema)"));
            if filter.is_empty() {
                assert!(
                    a["cost_usd"].as_f64().unwrap_or(0.0) > 0.0,
                    "the exports carry cost: {a}"
                );
                assert!(a["events"]["api_request"].as_u64().unwrap_or(0) > 0, "{a}");
            }
        }
        // Two exports in one second both count, the re-send once: the flaky session costs
        // what the recorded export it was split from costs, on both sources.
        let recorded_cost: f64 = {
            let export = read(&fixtures_dir().join("http-json/tools/00003-metrics.json"));
            export["resourceMetrics"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|rm| rm["scopeMetrics"].as_array().into_iter().flatten())
                .flat_map(|sm| sm["metrics"].as_array().into_iter().flatten())
                .filter(|m| m["name"] == "claude_code.cost.usage")
                .flat_map(|m| m["sum"]["dataPoints"].as_array().into_iter().flatten())
                .filter_map(|p| p["asDouble"].as_f64())
                .sum()
        };
        assert!(recorded_cost > 0.0);
        for (name, vars) in [("SQLite", &[][..]), ("ClickHouse", &pw[..])] {
            let args = ["report", "--json", "--session", FLAKY_SESSION];
            let report = if vars.is_empty() {
                json_of(&sqlite(&args), vars)
            } else {
                json_of(&clickhouse(&args), vars)
            };
            let cost = report["cost_usd"].as_f64().unwrap_or(0.0);
            assert!(
                (cost - recorded_cost).abs() < 1e-9,
                "{name} ({schema} schema): {cost} != {recorded_cost}"
            );
        }
        // A filter value is matched as given, backslashes and tabs included, on both sources.
        for (value, cost) in [
            (PATH_VALUE, recorded_cost),
            ("C:\\tools\t\"q\" 'x'\\\\", 0.0),
            ("C:\ttools\t\"q\" 'x'", 0.0),
            ("C:\\tools", 0.0),
            ("\\", 0.0),
        ] {
            let attr = format!("path={value}");
            let args = ["report", "--json", "--attr", attr.as_str()];
            let a = json_of(&sqlite(&args), &[]);
            let b = json_of(&clickhouse(&args), &pw);
            assert_same(&a, &b, &format!("report --attr {attr:?} ({schema} schema)"));
            let got = a["cost_usd"].as_f64().unwrap_or(0.0);
            assert!(
                (got - cost).abs() < 1e-9,
                "--attr {attr:?}: {got} != {cost}"
            );
        }
        // An attribute key no source can address is refused by both, alike.
        for key in ["it's", "a\"b", "back\\slash"] {
            let attr = format!("{key}=x");
            let args = ["report", "--json", "--attr", attr.as_str()];
            let run = |args: Vec<String>, vars: &[(&str, &str)]| {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let (code, _, err) = ccscope_env(&args, vars);
                (code, err)
            };
            let (a, a_err) = run(sqlite(&args), &[]);
            let (b, b_err) = run(clickhouse(&args), &pw);
            assert_ne!(a, 0, "{key:?} on SQLite");
            assert_eq!(
                (a, a_err.contains("attribute key")),
                (b, b_err.contains("attribute key")),
                "{key:?}: {a_err} / {b_err}"
            );
        }
        // Sessions: identical where the exporter keeps nanoseconds; with the 2026 template's
        // whole-second metric times, start and end may move by under a second.
        let mut a = json_of(&sqlite(&["sessions", "--json"]), &[]);
        let mut b = json_of(&clickhouse(&["sessions", "--json"]), &pw);
        assert!(!a.as_array().expect("list").is_empty());
        if schema == "2026" {
            for list in [&mut a, &mut b] {
                for s in list.as_array_mut().expect("list") {
                    let o = s.as_object_mut().expect("session");
                    for key in ["first", "last", "duration_s"] {
                        o.remove(key);
                    }
                    for key in ["first_ns", "last_ns"] {
                        let ns = o[key].as_i64().expect("ns");
                        o.insert(key.into(), json!(ns / 1_000_000_000));
                    }
                }
            }
        }
        assert_same(&a, &b, &format!("sessions ({schema} schema)"));
        // The event listing: the re-sent export counted once, every event in order.
        let a = lines_of(&sqlite(&["events", "--json"]), &[]);
        let b = lines_of(&clickhouse(&["events", "--json"]), &pw);
        assert_eq!(a.len(), b.len(), "events ({schema} schema)");
        // The typed facts, read once at ingest (SQLite) or from the exporter's maps, agree.
        const FACTS: [&str; 16] = [
            "user_id",
            "model",
            "tool_name",
            "cost_usd",
            "duration_ms",
            "success",
            "status_code",
            "request_id",
            "tool_use_id",
            "decision",
            "decision_source",
            "error",
            "tokens",
            "prompt",
            "prompt_length",
            "prompt_id",
        ];
        for fact in [
            "request_id",
            "tool_use_id",
            "decision",
            "tokens",
            "prompt_length",
        ] {
            assert!(
                a.iter().any(|e| !e[fact].is_null()),
                "some event carries {fact}"
            );
        }
        for (x, y) in a.iter().zip(&b) {
            for key in ["time_ns", "name", "session_id", "sequence"] {
                assert!(!x[key].is_null(), "{key} in {x}");
            }
            for key in FACTS {
                assert!(x.get(key).is_some(), "{key} in {x}");
            }
            // Every field, attributes included, typed alike.
            assert_same(x, y, &format!("event {} ({schema} schema)", x["name"]));
        }
        // Every row of the table of facts, read alike above; and read as the table says.
        let cases = lines_of(
            &clickhouse(&["events", "--json", "--session", FACTS_SESSION]),
            &pw,
        );
        let at = |seq: i64, key: &str| -> Value {
            cases
                .iter()
                .find(|e| e["sequence"] == seq)
                .map(|e| e[key].clone())
                .unwrap_or_else(|| panic!("event {seq} in {cases:?}"))
        };
        for (seq, key, expected) in [
            (0, "cost_usd", json!(0.0125)),
            (0, "success", json!(true)),
            (
                0,
                "tokens",
                json!({"input": 330.0, "output": 12.0, "cacheRead": 0.0, "cacheCreation": 0.0}),
            ),
            (1, "status_code", json!(529)),
            (1, "success", json!(false)),
            (2, "duration_ms", json!(4500.0)),
            (4, "success", json!(false)),
            (4, "error", json!("ECONNREFUSED")),
            (5, "success", json!(true)),
            (6, "success", json!(false)),
            (6, "duration_ms", json!(20.0)),
            (7, "success", json!(true)),
            (8, "success", Value::Null),
            (9, "decision", json!("accept")),
            (9, "decision_source", json!("config")),
            (9, "error", json!("timeout")),
            (9, "success", json!(true)),
            (10, "decision_source", json!("hook")),
            (11, "error", json!("E42")),
            (12, "decision_source", json!("classifier")),
            (13, "model", json!("claude-opus-4-8")),
            (14, "prompt", Value::Null),
            (14, "prompt_length", json!(42)),
            (15, "prompt", json!("hello")),
            (16, "success", json!(true)),
            (16, "error", Value::Null),
            (17, "success", json!(false)),
            (17, "cost_usd", Value::Null),
        ] {
            assert_same(
                &expected,
                &at(seq, key),
                &format!("fact {key} of event {seq} ({schema} schema)"),
            );
        }
        assert_eq!(at(13, "attributes")["total_tokens"], json!(1200));
        assert_eq!(at(13, "attributes")["model_swapped"], json!(true));
        // Where the money went: split by any attribute, alike on both sources, the rows adding
        // up to the totals, what lacks the key under null.
        for key in [
            "query_source",
            "effort",
            "speed",
            "agent.name",
            "department",
            "model",
        ] {
            let args = ["report", "--json", "--by", key];
            let a = json_of(&sqlite(&args), &[]);
            let b = json_of(&clickhouse(&args), &pw);
            assert_same(&a, &b, &format!("report --by {key} ({schema} schema)"));
            assert_eq!(a["by"]["key"], key);
            let rows = a["by"]["rows"].as_array().expect("rows");
            let cost: f64 = rows
                .iter()
                .map(|r| r["cost_usd"].as_f64().expect("cost"))
                .sum();
            assert!(
                (cost - a["cost_usd"].as_f64().expect("cost")).abs() < 1e-6,
                "{key}: {a:#}"
            );
            for kind in ["input", "output", "cacheRead", "cacheCreation"] {
                let sum: u64 = rows
                    .iter()
                    .map(|r| r["tokens"][kind].as_u64().expect("tokens"))
                    .sum();
                let total = a["tokens"][kind].as_u64().expect("tokens");
                assert!(
                    sum.abs_diff(total) <= rows.len() as u64,
                    "{key} {kind}: {sum} != {total}: {:#}",
                    a["by"]
                );
            }
        }
        // On the recorded 2.1.337 session, the rows are the sums over its recorded cost points.
        let session = traced_session();
        let args = [
            "report",
            "--json",
            "--by",
            "query_source",
            "--session",
            session.as_str(),
        ];
        let a = json_of(&sqlite(&args), &[]);
        assert_same(
            &a,
            &json_of(&clickhouse(&args), &pw),
            "report --by query_source --session",
        );
        let mut expected: std::collections::BTreeMap<String, f64> = Default::default();
        for path in recorded_with_traces() {
            let export = read(&path);
            for rm in export["resourceMetrics"].as_array().into_iter().flatten() {
                for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
                    for m in sm["metrics"].as_array().into_iter().flatten() {
                        if m["name"] != "claude_code.cost.usage" {
                            continue;
                        }
                        for p in m["sum"]["dataPoints"].as_array().into_iter().flatten() {
                            let source = p["attributes"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .find(|a| a["key"] == "query_source")
                                .and_then(|a| a["value"]["stringValue"].as_str())
                                .unwrap_or("")
                                .to_owned();
                            *expected.entry(source).or_default() +=
                                p["asDouble"].as_f64().expect("cost");
                        }
                    }
                }
            }
        }
        let got: std::collections::BTreeMap<String, f64> = a["by"]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["value"].as_str().unwrap_or("").to_owned(),
                    r["cost_usd"].as_f64().expect("cost"),
                )
            })
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (k, v) in &expected {
            assert!((got[k] - v).abs() < 1e-9, "{k}: {} != {v}", got[k]);
        }
        // Where the traced prompt's time went: the same tree, times and attributes.
        let trace = |vars: &[(&str, &str)], source: Vec<String>| {
            let mut args = vec!["trace".to_owned(), session.clone(), "--json".to_owned()];
            args.extend(source);
            json_of(&args, vars)
        };
        let a = trace(&[], vec!["--data-dir".into(), data.clone()]);
        let b = trace(&pw, vec!["--source".into(), url.clone()]);
        assert_eq!(a["prompts"].as_array().map(Vec::len), Some(1), "{a:#}");
        assert_same(&a, &b, &format!("trace ({schema} schema)"));
        let trace_doc = a;
        // Latency: time to first token per model, tools' run and wait, the slowest prompts.
        let latency = |vars: &[(&str, &str)], source: Vec<String>| {
            let mut args: Vec<String> =
                ["latency", "--json", "--since", "all", "--to", "2030-01-01"]
                    .map(String::from)
                    .to_vec();
            args.extend(source);
            json_of(&args, vars)
        };
        let a = latency(&[], vec!["--data-dir".into(), data.clone()]);
        let b = latency(&pw, vec!["--source".into(), url.clone()]);
        assert_same(&a, &b, &format!("latency ({schema} schema)"));
        let traced = a["slowest"]
            .as_array()
            .and_then(|list| list.iter().find(|p| p["session_id"] == session.as_str()))
            .unwrap_or_else(|| panic!("the traced prompt is among the slowest: {a:#}"));
        assert_eq!(traced["prompt_id"], trace_doc["prompts"][0]["prompt_id"]);
        assert_eq!(traced["time_ms"], trace_doc["prompts"][0]["time_ms"]);
        let write = a["tools"]
            .as_array()
            .and_then(|list| list.iter().find(|t| t["tool"] == "Write"))
            .unwrap_or_else(|| panic!("Write is timed: {a:#}"));
        assert_eq!(write["waits"], 1, "{write:#}");
        assert!(
            write["wait_total_ms"].as_f64().is_some_and(|w| w > 0.0),
            "{write:#}"
        );
        assert!(
            a["ttft"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["requests"].as_u64() >= Some(2))),
            "{a:#}"
        );
        // Without the exporter's traces table (no traces pipeline) there are no spans: the
        // latency of events still answers, the span parts are empty, `trace` says so.
        front.sql(&format!(
            "RENAME TABLE {database}.otel_traces TO {database}.traces_aside"
        ));
        let none = latency(&pw, vec!["--source".into(), url.clone()]);
        assert_eq!(none["ttft"], a["ttft"], "{none:#}");
        assert_eq!(none["slowest"], serde_json::json!([]), "{none:#}");
        assert!(
            none["tools"]
                .as_array()
                .is_some_and(|t| !t.is_empty() && t.iter().all(|t| t["waits"] == 0)),
            "{none:#}"
        );
        let (code, _, err) =
            ccscope_env(&["trace", session.as_str(), "--source", url.as_str()], &pw);
        assert!(code == 1 && err.contains("no spans"), "{code}: {err}");
        front.sql(&format!(
            "RENAME TABLE {database}.traces_aside TO {database}.otel_traces"
        ));
        // One session's events: SQLite finds them by session key, ClickHouse by its column.
        let session = [
            "events",
            "--json",
            "--session",
            "03aba2d0-93f5-4374-82b3-b136b0d67f97",
        ];
        let a = lines_of(&sqlite(&session), &[]);
        let b = lines_of(&clickhouse(&session), &pw);
        assert!(!a.is_empty(), "the tools session has events");
        let ids = |list: &[Value]| -> Vec<(Value, Value)> {
            list.iter()
                .map(|e| (e["time_ns"].clone(), e["session_id"].clone()))
                .collect()
        };
        assert_eq!(ids(&a), ids(&b), "one session's events ({schema} schema)");
        let only = lines_of(
            &clickhouse(&["events", "--json", "--name", "api_error"]),
            &pw,
        );
        assert!(
            !only.is_empty() && only.iter().all(|e| e["name"] == "api_error"),
            "{only:?}"
        );
    }
    server.stop();
}

#[test]
fn clickhouse_failures_name_the_url_and_never_the_password() {
    let dir = tempdir();
    let front = Front::start(&dir.path().join("chdb"));
    front.sql("CREATE DATABASE empty");
    let unreachable = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        format!("clickhouse://default:{PASSWORD}@127.0.0.1:{port}/otel")
    };
    let wrong = format!(
        "clickhouse://default:not-{PASSWORD}@127.0.0.1:{}/otel",
        front.port
    );
    let missing = format!(
        "clickhouse://default:{PASSWORD}@127.0.0.1:{}/empty",
        front.port
    );
    for (url, says) in [
        (unreachable.as_str(), "cannot reach ClickHouse"),
        (wrong.as_str(), "refused user"),
        (missing.as_str(), "has no table empty.otel_logs"),
    ] {
        for command in [
            &["report", "--since", "all"][..],
            &["sessions", "--since", "all"][..],
        ] {
            let mut args = command.to_vec();
            args.extend(["--source", url]);
            let (code, out, err) = ccscope(&args);
            assert_eq!(code, 1, "{args:?}: {out}{err}");
            assert!(err.contains(says), "{args:?}: {err}");
            assert!(
                err.contains("127.0.0.1:"),
                "the message names the URL: {err}"
            );
            assert!(!err.contains(PASSWORD), "the password leaked: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    // A password from a file, and a file that is not there.
    let file = dir.path().join("pw");
    std::fs::write(&file, format!("{PASSWORD}\n")).expect("pw file");
    let url = front.url("empty");
    let (code, _, err) = ccscope(&[
        "report",
        "--source",
        &url,
        "--clickhouse-password-file",
        &file.to_string_lossy(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("has no table"),
        "authenticated, then found no tables: {err}"
    );
    let (code, _, err) = ccscope(&[
        "report",
        "--source",
        &url,
        "--clickhouse-password-file",
        "/nonexistent/pw",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/pw"), "{err}");
    // A malformed URL is refused before any connection.
    let (code, _, err) = ccscope(&["report", "--source", "clickhouse://u:hidden@host:99999/db"]);
    assert_ne!(code, 0);
    assert!(err.contains("port") && !err.contains("hidden"), "{err}");
}

/// GET with the launch token.
fn api(base: &str, token: &str, path: &str) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{base}{path}"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (
        status.trim().parse().expect("status"),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn svg(base: &str, token: &str, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-sf", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{base}{path}"))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{path}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ccscope serve --source URL`: the child and its dashboard URL (with the token). Asserts it
/// names the source and runs no receiver.
fn serve_source(data_dir: &Path, source: &str) -> (Serving, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--ui", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--source", source])
        .env("CCSCOPE_CLICKHOUSE_PASSWORD", PASSWORD)
        .env("CCSCOPE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut url = None;
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(rest) = line.trim().strip_prefix("dashboard  ") {
            url = Some(rest.to_owned());
            break;
        }
        printed.push(line);
    }
    let url = url.expect("serve printed the dashboard");
    // Keep reading what serve prints: a closed pipe would end it.
    std::thread::spawn(move || lines.for_each(drop));
    assert!(
        printed
            .iter()
            .any(|l| l.contains("clickhouse://default@127.0.0.1")),
        "{printed:?}"
    );
    assert!(
        !printed.iter().any(|l| l.contains("OTLP/")),
        "no receiver runs: {printed:?}"
    );
    (Serving(child), url)
}

/// A `ccscope serve` child, killed on drop (also when an assertion fails).
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The dashboard's numbers, charts and usage report from `base` (ClickHouse) equal those of
/// `local_base` (SQLite) for the same exports.
fn compare_dashboards(base: &str, token: &str, local_base: &str, local_token: &str) {
    let range = "?from=0&to=4102444800000000000";
    for path in [
        format!("/api/overview{range}"),
        format!("/api/sessions{range}"),
        format!("/api/fleet{range}&group=user"),
        format!("/api/fleet{range}&group=terminal"),
        format!("/api/fleet{range}&group=model"),
        format!("/api/fleet{range}&group=attr:service.version"),
        format!("/api/attribution{range}&key=query_source&key=terminal.type&key=skill.name"),
        format!("/api/latency{range}"),
    ] {
        let (status, org) = api(base, token, &path);
        assert_eq!(status, 200, "{path}: {org}");
        let (_, mine) = api(local_base, local_token, &path);
        assert_same(&mine, &org, &path);
    }
    let (_, fleet) = api(base, token, &format!("/api/fleet{range}&group=user"));
    assert!(fleet["users"].as_u64().is_some_and(|n| n >= 1), "{fleet}");
    assert!(
        fleet["rows"][0]["cost_usd"]
            .as_f64()
            .is_some_and(|c| c > 0.0),
        "{fleet}"
    );
    // Charts are drawn from the same numbers: the SVGs are identical.
    for chart in [
        "cost",
        "tokens",
        "sessions",
        "lines",
        "users",
        "users&per=week",
        "users&group=terminal",
        "errors",
        "latency",
        "ttft",
        "tools",
        "decisions",
    ] {
        let (name, extra) = chart
            .split_once('&')
            .map(|(n, e)| (n, format!("&{e}")))
            .unwrap_or((chart, String::new()));
        let path =
            format!("/api/charts/{name}?from=1795400000000000000&to=1795600000000000000{extra}");
        let org = svg(base, token, &path);
        let mine = svg(local_base, local_token, &path);
        assert!(org.contains("<svg"), "{path}: {org}");
        assert_eq!(org, mine, "{path} differs");
    }
    // The usage report, with its per-team section, is the same document from either source.
    let path = "/api/report?format=md&from=1795400000000000000&to=1795600000000000000&team=attr:terminal.type";
    let org = svg(base, token, path);
    assert!(
        org.contains("## By user")
            && org.contains("## By terminal.type")
            && org.contains("| xterm |"),
        "{org}"
    );
    assert_eq!(
        org,
        svg(local_base, local_token, path),
        "the usage report differs"
    );
}

#[test]
fn the_dashboard_serves_an_organisation_from_clickhouse() {
    let dir = tempdir();
    let front = Front::start(&dir.path().join("chdb"));
    let exports = exports(dir.path());
    front.collect("otel", "2025", true, &exports);
    let server = Server::start(&dir.path().join("sqlite"), &[]);
    send_to_sqlite(&server, &exports);
    let (child, url) = serve_source(&dir.path().join("org"), &front.url("otel"));
    let (base, token) = url.split_once("/?token=").expect("token");
    let local = server.ui_url.clone().expect("local dashboard");
    let (local_base, local_token) = local.split_once("/?token=").expect("token");
    compare_dashboards(base, token, local_base, local_token);
    let range = "?from=0&to=4102444800000000000";
    let (_, sessions) = api(base, token, &format!("/api/sessions{range}"));
    let id = sessions["sessions"][0]["session_id"]
        .as_str()
        .or_else(|| sessions[0]["session_id"].as_str())
        .expect("a session")
        .to_owned();
    let (status, timeline) = api(base, token, &format!("/api/sessions/{id}/timeline"));
    assert_eq!(status, 200, "{timeline}");
    let (_, mine) = api(
        local_base,
        local_token,
        &format!("/api/sessions/{id}/timeline"),
    );
    assert_eq!(
        timeline["prompts"].as_array().map(Vec::len),
        mine["prompts"].as_array().map(Vec::len),
        "{timeline}"
    );
    assert!(
        timeline["prompts"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{timeline}"
    );
    let (status, receiver) = api(base, token, "/api/receiver");
    assert_eq!(status, 200);
    assert_eq!(receiver["source"]["kind"], "clickhouse", "{receiver}");
    // A bad filter is a {code, message} error.
    let (status, error) = api(base, token, "/api/charts/cost?group=colour");
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], "bad_request", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("colour")),
        "{error}"
    );
    drop(child);
    std::thread::sleep(Duration::from_millis(10));
    server.stop();
}

/// `exports` moved `by_ns` later: every time in them (the same sessions, a later hour).
fn shifted(dir: &Path, exports: &[PathBuf], by_ns: i64) -> Vec<PathBuf> {
    fn walk(v: &mut Value, by: i64) {
        match v {
            Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    // `timeUnixNano`, `startTimeUnixNano`, `observedTimeUnixNano`.
                    if (k == "timeUnixNano" || k.ends_with("TimeUnixNano"))
                        && let Some(ns) = x.as_str().and_then(|t| t.parse::<i64>().ok())
                        && ns > 0
                    {
                        *x = json!((ns + by).to_string());
                    } else {
                        walk(x, by);
                    }
                }
            }
            Value::Array(list) => list.iter_mut().for_each(|x| walk(x, by)),
            _ => {}
        }
    }
    exports
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let mut export = read(path);
            walk(&mut export, by_ns);
            write_export(dir, &format!("shifted-{i}.json"), &export)
        })
        .collect()
}

const HOUR_NS: i64 = 3_600_000_000_000;

#[test]
fn rollups_answer_exactly_as_the_raw_tables_do() {
    let dir = tempdir();
    let front = Front::start(&dir.path().join("chdb"));
    // The recorded exports (03:47 UTC), and the same again two hours later.
    let mut all = exports(dir.path());
    all.extend(shifted(dir.path(), &all.clone(), 2 * HOUR_NS));
    let server = Server::start(&dir.path().join("sqlite"), &[]);
    send_to_sqlite(&server, &all);
    front.collect("otel", "2025", true, &all);
    let url = front.url("otel");
    let pw = [("CCSCOPE_CLICKHOUSE_PASSWORD", PASSWORD)];
    let data = dir.path().join("sqlite").to_string_lossy().into_owned();
    let compare_reports = |what: &str| {
        for (from, to) in [
            ("2020-01-01", "2030-01-01"),
            ("2026-11-24T03:30:00Z", "2026-11-24T06:10:00Z"),
            ("2026-11-24T04:00:00Z", "2026-11-24T06:00:00Z"),
        ] {
            for filter in [
                &[][..],
                &["--model", "claude-opus-4-8"][..],
                &["--attr", "service.version=2.1.197"][..],
                &["--attr", "terminal.type=no-such-terminal"][..],
                // A record attribute of metric points only (the token type).
                &["--attr", "type=input"][..],
            ] {
                for command in [&["report", "--json"][..], &["sessions", "--json"][..]] {
                    let mut args: Vec<String> = command.iter().map(|a| a.to_string()).collect();
                    args.extend(filter.iter().map(|a| a.to_string()));
                    args.extend(["--from", from, "--to", to].map(String::from));
                    let mut local = args.clone();
                    local.extend(["--data-dir".to_owned(), data.clone()]);
                    args.extend(["--source".to_owned(), url.clone()]);
                    let a = json_of(&local, &[]);
                    let b = json_of(&args, &pw);
                    assert_same(
                        &a,
                        &b,
                        &format!("{what}: {command:?} {filter:?} {from}..{to}"),
                    );
                }
            }
        }
    };
    let rollups = |args: &[&str]| -> String {
        let mut all = vec!["rollups"];
        all.extend_from_slice(args);
        all.extend(["--source", url.as_str()]);
        let (code, out, err) = ccscope_env(&all, &pw);
        assert_eq!(code, 0, "ccscope {all:?}: {err}");
        format!("{out}{err}")
    };
    assert!(
        rollups(&["status"]).contains("not installed"),
        "no rollups before install"
    );
    // The first copy rolled up (before 05:00), the second read raw.
    let out = rollups(&["install", "--until", "2026-11-24T05:00:00Z"]);
    assert!(out.contains("rolled up events before"), "{out}");
    assert!(out.contains("refresh: none"), "{out}");
    compare_reports("rolled up before 05:00");
    // Read from the rollup, not the raw tables: with the raw rows of the rolled-up hours gone,
    // the answers over whole hours are unchanged.
    front.sql("ALTER TABLE otel.otel_logs DELETE WHERE Timestamp < '2026-11-24 05:00:00' SETTINGS mutations_sync = 2");
    front.sql("ALTER TABLE otel.otel_metrics_sum DELETE WHERE TimeUnix < '2026-11-24 05:00:00' SETTINGS mutations_sync = 2");
    let whole = |source: bool| {
        let mut args: Vec<String> = [
            "report",
            "--json",
            "--from",
            "2026-11-24T03:00:00Z",
            "--to",
            "2026-11-24T07:00:00Z",
        ]
        .map(String::from)
        .to_vec();
        if source {
            args.extend(["--source".to_owned(), url.clone()]);
            json_of(&args, &pw)
        } else {
            args.extend(["--data-dir".to_owned(), data.clone()]);
            json_of(&args, &[])
        }
    };
    assert_same(&whole(false), &whole(true), "whole hours from the rollup");
    // The report without a model filter reads the session-hour summary: with the hourly
    // rollups' rows of those hours gone too, it is unchanged.
    front.sql("ALTER TABLE otel.ccscope_events_hourly DELETE WHERE mark = 0 AND time_ns < 1795496400000000000 SETTINGS mutations_sync = 2");
    front.sql("ALTER TABLE otel.ccscope_points_hourly DELETE WHERE mark = 0 AND time_ns < 1795496400000000000 SETTINGS mutations_sync = 2");
    assert_same(
        &whole(false),
        &whole(true),
        "whole hours from the session-hour summary",
    );
    // Everything rolled up, served by the dashboard: overview, fleet, charts, usage report.
    front.sql("DROP TABLE otel.otel_logs");
    front.sql("DROP TABLE otel.otel_metrics_sum");
    front.collect("otel", "2025", true, &all);
    let out = rollups(&["install", "--rebuild", "--until", "2026-11-24T08:00:00Z"]);
    assert!(out.contains("before"), "{out}");
    compare_reports("all rolled up");
    let (child, org) = serve_source(&dir.path().join("org"), &url);
    let (base, token) = org.split_once("/?token=").expect("token");
    let local = server.ui_url.clone().expect("local dashboard");
    let (local_base, local_token) = local.split_once("/?token=").expect("token");
    compare_dashboards(base, token, local_base, local_token);
    drop(child);
    // Installed for good: the engine's refreshable views keep the rollups current, running as
    // the definer named, never silently as the installing user.
    let (code, _, err) = ccscope_env(&["rollups", "install", "--source", url.as_str()], &pw);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--definer USER") && err.contains("rollups grants"),
        "{err}"
    );
    let out = rollups(&["install", "--definer", "default"]);
    assert!(out.contains("refresh: the engine rolls up"), "{out}");
    for view in [
        "ccscope_events_hourly_refresh",
        "ccscope_points_hourly_refresh",
        "ccscope_sessions_hourly_refresh",
    ] {
        let ddl = front.query(&format!("SHOW CREATE TABLE otel.{view} FORMAT TSVRaw"));
        assert!(
            ddl.contains("DEFINER = default SQL SECURITY DEFINER"),
            "{ddl}"
        );
    }
    // The least-privilege user's SQL: every statement is one ClickHouse parses.
    let grants = rollups(&[
        "grants",
        "--definer",
        "ccscope_rollups",
        "--installer",
        "admin",
    ]);
    let statements: Vec<&str> = grants
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("--"))
        .collect();
    assert_eq!(statements.len(), 8, "{grants}");
    assert!(
        grants.contains("GRANT SELECT ON `otel`.`otel_logs` TO `ccscope_rollups`"),
        "{grants}"
    );
    assert!(
        grants.contains("GRANT SET DEFINER ON `ccscope_rollups` TO `admin`"),
        "{grants}"
    );
    for statement in statements {
        let ast = front.query(&format!("EXPLAIN AST {}", statement.trim_end_matches(';')));
        assert!(ast.contains("Query"), "{statement}: {ast}");
    }
    assert!(rollups(&["status"]).contains("refresh: the engine rolls up"));
    assert!(rollups(&["drop"]).contains("dropped"));
    assert!(rollups(&["status"]).contains("not installed"));
    compare_reports("dropped");
    server.stop();
}

/// A one-purpose HTTP server on loopback: answers every request with `response` and counts the
/// requests that carried the ClickHouse password.
struct Canned {
    port: u16,
    with_password: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Canned {
    fn start(response: String) -> Canned {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let with_password = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = with_password.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut request = Vec::new();
                let mut buf = [0_u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if request.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                if String::from_utf8_lossy(&request).contains(PASSWORD) {
                    seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Canned {
            port,
            with_password,
        }
    }

    fn url(&self) -> String {
        format!("clickhouse://default@127.0.0.1:{}/otel", self.port)
    }
}

fn http_response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn credentials_never_follow_a_redirect_and_foreign_answers_are_not_echoed() {
    let pw = [("CCSCOPE_CLICKHOUSE_PASSWORD", PASSWORD)];
    // A redirect, to a plain-HTTP host that would collect the credentials.
    let collector = Canned::start(http_response("200 OK", "", "{}\n"));
    let redirect = Canned::start(http_response(
        "307 Temporary Redirect",
        &format!("Location: http://127.0.0.1:{}/\r\n", collector.port),
        "",
    ));
    let (code, _, err) = ccscope_env(&["report", "--source", &redirect.url()], &pw);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("307") && err.contains(&format!("127.0.0.1:{}", collector.port)),
        "the error names the Location: {err}"
    );
    assert_eq!(
        collector
            .with_password
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the credentials followed the redirect"
    );
    assert!(
        redirect
            .with_password
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );

    // Hosts that are not ClickHouse: nothing of their answers is echoed.
    const SECRET: &str = "intranet-secret-7f3a";
    let foreign = [
        Canned::start(http_response(
            "404 Not Found",
            "Content-Type: text/html\r\n",
            &format!("<html><body>{SECRET}</body></html>"),
        )),
        Canned::start(http_response(
            "200 OK",
            "Content-Type: text/html\r\n",
            &format!("<html><body>{SECRET}</body></html>\n"),
        )),
        Canned::start(http_response(
            "401 Unauthorized",
            "",
            &format!("Code: 1 {SECRET}"),
        )),
    ];
    for host in &foreign {
        let (code, out, err) = ccscope_env(&["report", "--source", &host.url()], &pw);
        assert_eq!(code, 1, "{out}{err}");
        assert!(!err.contains(SECRET), "a foreign body was echoed: {err}");
        assert!(err.contains("not shown"), "{err}");
    }
    // The same through the dashboard's POST /api/source.
    let dir = tempdir();
    let server = Server::start(&dir.path().join("sqlite"), &[]);
    let ui = server.ui_url.clone().expect("dashboard");
    let (base, token) = ui.split_once("/?token=").expect("token");
    for host in &foreign {
        let body = json!({"url": host.url(), "password": PASSWORD}).to_string();
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "-X", "POST", "-H"])
            .arg(format!("Authorization: Bearer {token}"))
            .args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &body,
            ])
            .arg(format!("{base}/api/source"))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (answer, status) = text.rsplit_once('\n').expect("status");
        assert!(status.starts_with('4') || status.starts_with('5'), "{text}");
        assert!(
            !answer.contains(SECRET),
            "/api/source echoed a foreign body: {answer}"
        );
        assert!(!answer.contains(PASSWORD), "{answer}");
    }
    server.stop();
}

/// A password bound for another host over plain HTTP is warned of (nothing is sent here:
/// `rollups grants` only prints SQL).
#[test]
fn a_cleartext_password_to_another_host_is_warned_of_on_stderr() {
    let pw = [("CCSCOPE_CLICKHOUSE_PASSWORD", PASSWORD)];
    let (code, out, err) = ccscope_env(
        &[
            "rollups",
            "grants",
            "--source",
            "clickhouse://ana@ch.corp.example/otel",
        ],
        &pw,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("GRANT"), "{out}");
    assert!(
        err.contains("warning:")
            && err.contains("ch.corp.example:8123")
            && err.contains("clickhouses://"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");
    for quiet in [
        "clickhouses://ana@ch.corp.example/otel",
        "clickhouse://ana@127.0.0.1/otel",
    ] {
        let (code, _, err) = ccscope_env(&["rollups", "grants", "--source", quiet], &pw);
        assert_eq!(code, 0, "{err}");
        assert!(!err.contains("warning:"), "{quiet}: {err}");
    }
}

/// A test CA and a certificate it signed for `localhost` and 127.0.0.1 (openssl): the CA's PEM,
/// the server's certificate and key.
fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ccscope test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// clickhouses:// checks the server's certificate: a company CA is not trusted until
/// `--clickhouse-ca` (or CCSCOPE_CLICKHOUSE_CA) names it.
#[test]
fn https_trusts_a_company_ca_only_when_named() {
    let dir = tempdir();
    let (ca, cert, key) = test_pki(dir.path());
    let front = Front::start_with(
        &dir.path().join("chdb"),
        &[
            "--tls-cert",
            &cert.to_string_lossy(),
            "--tls-key",
            &key.to_string_lossy(),
        ],
    );
    front_https_sql(&front, &ca, "CREATE DATABASE empty");
    let url = format!("clickhouses://default@localhost:{}/empty", front.port);
    let pw = [("CCSCOPE_CLICKHOUSE_PASSWORD", PASSWORD)];
    let (code, _, err) = ccscope_env(&["report", "--source", &url], &pw);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("certificate"),
        "an unknown CA is refused: {err}"
    );
    let ca_arg = ca.to_string_lossy().into_owned();
    let (code, _, err) = ccscope_env(
        &["report", "--source", &url, "--clickhouse-ca", &ca_arg],
        &pw,
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("has no table"),
        "TLS and login went through: {err}"
    );
    let with_env = [pw[0], ("CCSCOPE_CLICKHOUSE_CA", ca_arg.as_str())];
    let (_, _, err) = ccscope_env(&["report", "--source", &url], &with_env);
    assert!(err.contains("has no table"), "{err}");
    assert!(!err.contains("warning:"), "HTTPS is not warned of: {err}");
    // A CA file that is missing or holds no certificate is named.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    for bad in [dir.path().join("missing.pem"), empty] {
        let bad = bad.to_string_lossy().into_owned();
        let (code, _, err) =
            ccscope_env(&["report", "--source", &url, "--clickhouse-ca", &bad], &pw);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(&bad) && err.contains("CA file"), "{err}");
    }
}

/// A statement through the HTTPS front (curl trusting the test CA).
fn front_https_sql(front: &Front, ca: &Path, sql: &str) {
    let status = Command::new("curl")
        .args(["-sf", "--cacert"])
        .arg(ca)
        .args(["-H", "X-ClickHouse-User: default", "-H"])
        .arg(format!("X-ClickHouse-Key: {PASSWORD}"))
        .args(["--data-binary", sql])
        .arg(format!("https://localhost:{}/", front.port))
        .stdout(Stdio::null())
        .status()
        .expect("curl");
    assert!(status.success(), "{sql}");
}
