//! The store on a real SQLite file: migrations and version checks, retention by age and size,
//! and the feed of commits.

use ccscope_query::Filter;
use ccscope_store::{Reader, Retention, StoreError, Writer, retention, schema};
use ccscope_telemetry::{Encoding, Signal, decode_request, normalize};
use serde_json::json;

const DAY_NS: i64 = 86_400 * 1_000_000_000;

fn events_at(session: &str, times_ns: &[i64], padding: usize) -> ccscope_telemetry::Batch {
    let records: Vec<serde_json::Value> = times_ns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
            "timeUnixNano": t.to_string(),
            "body": {"stringValue": "claude_code.tool_result"},
            "attributes": [
                {"key": "session.id", "value": {"stringValue": session}},
                {"key": "event.name", "value": {"stringValue": "tool_result"}},
                {"key": "event.sequence", "value": {"intValue": i}},
                {"key": "padding", "value": {"stringValue": "p".repeat(padding)}}
            ]})
        })
        .collect();
    let body = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}).to_string();
    normalize(
        decode_request(Signal::Logs, Encoding::Json, body.as_bytes()).expect("decode"),
        1,
    )
}

/// A writer with no retention (nothing is ever too old or too much).
fn start_writer(path: &std::path::Path) -> (Writer, ccscope_store::WriterThread) {
    Writer::start(
        path,
        Retention {
            max_age_days: None,
            max_bytes: None,
        },
    )
    .expect("start")
}

fn count_events(path: &std::path::Path) -> u64 {
    let reader = Reader::open(path).expect("reader");
    let filter = Filter {
        from_ns: 0,
        to_ns: i64::MAX,
        ..Filter::default()
    };
    reader
        .report(&filter)
        .expect("report")
        .events
        .values()
        .sum()
}

#[tokio::test]
async fn commits_are_announced_and_duplicates_counted() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let (writer, thread) = start_writer(&path);
    let mut feed = writer.subscribe();
    let now = ccscope_store::now_ns();
    let first = writer
        .write(events_at("s", &[now, now + 1], 0), now)
        .await
        .expect("write");
    assert_eq!((first.events, first.duplicates), (2, 0));
    assert_eq!(feed.recv().await.expect("feed").events, 2);
    let again = writer
        .write(events_at("s", &[now, now + 1], 0), now)
        .await
        .expect("write");
    assert_eq!((again.events, again.duplicates), (0, 2));
    drop(writer);
    thread.join();
    assert_eq!(count_events(&path), 2);
}

#[tokio::test]
async fn old_records_are_removed_by_age_on_start() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let now = ccscope_store::now_ns();
    {
        let (writer, thread) = start_writer(&path);
        writer
            .write(
                events_at("old", &[now - 100 * DAY_NS, now - 95 * DAY_NS], 0),
                now,
            )
            .await
            .expect("old");
        writer
            .write(events_at("new", &[now - DAY_NS, now], 0), now)
            .await
            .expect("new");
        drop(writer);
        thread.join();
    }
    assert_eq!(count_events(&path), 4);
    // Restarted with the default 90 days: the sweep at start removes the two old events.
    let (writer, thread) = Writer::start(
        &path,
        Retention {
            max_age_days: Some(90),
            max_bytes: None,
        },
    )
    .expect("start");
    drop(writer);
    thread.join();
    assert_eq!(count_events(&path), 2);
}

#[tokio::test]
async fn the_oldest_days_go_while_the_database_is_over_its_size_cap() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let now = ccscope_store::now_ns();
    {
        let (writer, thread) = start_writer(&path);
        for day in 0..10 {
            let t = now - (10 - day) * DAY_NS;
            let times: Vec<i64> = (0..50).map(|i| t + i).collect();
            writer
                .write(events_at(&format!("day{day}"), &times, 2000), now)
                .await
                .expect("write");
        }
        drop(writer);
        thread.join();
    }
    let mut conn = rusqlite::Connection::open(&path).expect("open");
    let used = retention::used_bytes(&conn).expect("size");
    assert!(used > 1_000_000, "{used}");
    let cap = used / 2;
    let swept = retention::sweep(
        &mut conn,
        Retention {
            max_age_days: None,
            max_bytes: Some(cap),
        },
        now,
    )
    .expect("sweep");
    assert!(swept.events >= 250 && swept.events < 500, "{swept:?}");
    assert!(retention::used_bytes(&conn).expect("size") <= cap);
    // The newest day is still there; the oldest is gone.
    let sessions: Vec<String> = conn
        .prepare("SELECT DISTINCT session_id FROM events ORDER BY session_id")
        .expect("prep")
        .query_map([], |r| r.get(0))
        .expect("q")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        sessions.contains(&"day9".to_owned()) && !sessions.contains(&"day0".to_owned()),
        "{sessions:?}"
    );
}

#[test]
fn a_database_from_a_newer_ccscope_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", schema::SCHEMA_VERSION + 1)
            .expect("bump");
    }
    match Writer::start(&path, Retention::default()) {
        Err(StoreError::SchemaTooNew { found, .. }) => {
            assert_eq!(found, schema::SCHEMA_VERSION + 1)
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a newer schema was opened for writing"),
    }
    let err = Reader::open(&path).err().expect("reader refuses too");
    assert!(err.to_string().contains("newer ccscope"), "{err}");
}

/// Events of session `events-only` (api_request, $0.01 each) and cost points of session
/// `metrics-only` ($1 each), one every 7 minutes from `t0`.
fn spread(t0: i64, n: i64) -> (ccscope_telemetry::Batch, ccscope_telemetry::Batch) {
    let step = 7 * 60 * 1_000_000_000i64;
    let records: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            json!({
            "timeUnixNano": (t0 + i * step).to_string(),
            "attributes": [
                {"key": "session.id", "value": {"stringValue": "events-only"}},
                {"key": "event.name", "value": {"stringValue": "api_request"}},
                {"key": "event.sequence", "value": {"intValue": i}},
                {"key": "model", "value": {"stringValue": "m"}},
                {"key": "cost_usd", "value": {"doubleValue": 0.01}},
                {"key": "duration_ms", "value": {"intValue": 100 + i}},
                {"key": "input_tokens", "value": {"intValue": 10 + i}},
                {"key": "output_tokens", "value": {"intValue": 5}}
            ]})
        })
        .collect();
    let points: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            json!({
            "attributes": [{"key": "session.id", "value": {"stringValue": "metrics-only"}},
                           {"key": "model", "value": {"stringValue": "m"}}],
            "startTimeUnixNano": (t0 + i * step - 1).to_string(),
            "timeUnixNano": (t0 + i * step).to_string(),
            "asDouble": 1.0})
        })
        .collect();
    let logs = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}).to_string();
    let metrics = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "claude_code.cost.usage", "unit": "USD",
        "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": points}}]}]}]})
    .to_string();
    (
        normalize(
            decode_request(Signal::Logs, Encoding::Json, logs.as_bytes()).expect("logs"),
            1,
        ),
        normalize(
            decode_request(Signal::Metrics, Encoding::Json, metrics.as_bytes()).expect("metrics"),
            1,
        ),
    )
}

#[tokio::test]
async fn hourly_sums_and_raw_edges_give_exact_totals_for_any_range() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let hour = 3_600_000_000_000i64;
    let t0 = 1_795_000_000_000_000_000i64 - 1_795_000_000_000_000_000i64 % hour
        + 13 * 60 * 1_000_000_000;
    let n = 100;
    let step = 7 * 60 * 1_000_000_000i64;
    let (writer, thread) = start_writer(&path);
    let (logs, metrics) = spread(t0, n);
    writer.write(logs, 1).await.expect("logs");
    writer.write(metrics, 1).await.expect("metrics");
    drop(writer);
    thread.join();
    let reader = Reader::open(&path).expect("reader");
    let in_range =
        |a: i64, b: i64| (0..n).filter(|i| (a..b).contains(&(t0 + i * step))).count() as f64;
    let ranges = [
        (0, i64::MAX / 2),
        (t0, t0 + 3 * hour),
        (t0 + 5, t0 + 5 * hour + 17),
        (t0 - t0 % hour, t0 - t0 % hour + 4 * hour),
        (t0 + 2 * hour + 1, t0 + 2 * hour + 20 * 60 * 1_000_000_000),
        (
            t0 + 31 * 60 * 1_000_000_000,
            t0 + 9 * hour + 59 * 60 * 1_000_000_000,
        ),
    ];
    for (a, b) in ranges {
        let filter = Filter {
            from_ns: a,
            to_ns: b,
            ..Filter::default()
        };
        let r = reader.report(&filter).expect("report");
        let expected = in_range(a, b) * 0.01 + in_range(a, b) * 1.0;
        assert!(
            (r.cost_usd - expected).abs() < 1e-9,
            "[{a}, {b}): {} vs {expected}",
            r.cost_usd
        );
        assert_eq!(
            r.events.get("api_request").copied().unwrap_or(0) as f64,
            in_range(a, b),
            "[{a}, {b})"
        );
        // The same through the chart queries, which bucket by hours and more.
        let cost = reader
            .usage_series(false, &ccscope_query::Dimension::Model, &filter)
            .expect("series");
        let charted: f64 = cost.totals().values().sum();
        assert!(
            (charted - expected).abs() < 1e-9,
            "chart [{a}, {b}): {charted} vs {expected}"
        );
        // Tokens by type: this session sent no token metrics, so its api_request events count.
        let tokens = reader
            .usage_series(true, &ccscope_query::Dimension::Type, &filter)
            .expect("tokens");
        let totals = tokens.totals();
        assert_eq!(
            totals.get("input").copied().unwrap_or(0.0),
            r.tokens.input,
            "[{a}, {b}) input"
        );
        assert_eq!(
            totals.get("output").copied().unwrap_or(0.0),
            in_range(a, b) * 5.0,
            "[{a}, {b}) output"
        );
        assert_eq!(r.tokens.output, in_range(a, b) * 5.0);
        // Sessions per bucket: the events-only and the metrics-only session, each counted once
        // in every bucket where either side has a record.
        let sessions = reader.session_series(&filter).expect("sessions");
        let per_bucket: Vec<f64> = sessions
            .groups
            .values()
            .flat_map(|b| b.values().copied())
            .collect();
        assert!(
            per_bucket.iter().all(|n| *n == 1.0 || *n == 2.0),
            "[{a}, {b}) {per_bucket:?}"
        );
        if in_range(a, b) > 0.0 {
            assert!(
                per_bucket.contains(&2.0),
                "[{a}, {b}) both sessions share a bucket: {per_bucket:?}"
            );
        }
        let latency = reader.latency_series(&filter).expect("latency");
        let requests: u64 = latency.buckets.values().map(|(_, _, n)| n).sum();
        assert_eq!(requests as f64, in_range(a, b), "latency [{a}, {b})");
        // Narrowed to one session (the filter also narrows which series' rows are read), or
        // to the model both share.
        for (session, per_record) in [("metrics-only", 1.0), ("events-only", 0.01)] {
            let one = Filter {
                session: Some(session.into()),
                ..filter.clone()
            };
            let r = reader.report(&one).expect("report");
            assert!(
                (r.cost_usd - in_range(a, b) * per_record).abs() < 1e-9,
                "{session} [{a}, {b}): {}",
                r.cost_usd
            );
            let listed = reader.sessions(&one).expect("sessions");
            assert_eq!(
                listed
                    .iter()
                    .map(|s| s.session_id.as_str())
                    .collect::<Vec<_>>(),
                if in_range(a, b) > 0.0 {
                    vec![session]
                } else {
                    vec![]
                },
                "[{a}, {b})"
            );
            if let Some(s) = listed.first() {
                assert!((s.cost_usd - in_range(a, b) * per_record).abs() < 1e-9);
            }
        }
        let by_model = reader
            .report(&Filter {
                model: Some("m".into()),
                ..filter.clone()
            })
            .expect("report");
        assert!(
            (by_model.cost_usd - expected).abs() < 1e-9,
            "model m [{a}, {b})"
        );
        let other_model = reader
            .report(&Filter {
                model: Some("other".into()),
                ..filter.clone()
            })
            .expect("report");
        assert_eq!(other_model.cost_usd, 0.0, "model other [{a}, {b})");
    }
}

/// Attributes the store keeps in columns (identity, prompt id, sequence) come back exactly as
/// sent, whatever their type: moved out only when they are non-empty strings or an integer
/// sequence, put back on reading; a repeated key keeps its last value; other senders' records
/// without a sequence are told apart by content.
#[tokio::test]
async fn event_attributes_come_back_exactly_as_sent() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let (writer, thread) = start_writer(&path);
    let records = json!([
        {"timeUnixNano": "1000", "attributes": [
            {"key": "session.id", "value": {"stringValue": "first"}},
            {"key": "event.name", "value": {"stringValue": "api_request"}},
            {"key": "user.id", "value": {"stringValue": ""}},
            {"key": "organization.id", "value": {"intValue": "42"}},
            {"key": "terminal.type", "value": {"boolValue": true}},
            {"key": "app.version", "value": {"doubleValue": 2.5}},
            {"key": "prompt.id", "value": {"bytesValue": "q80="}},
            {"key": "event.sequence", "value": {"stringValue": "7"}},
            {"key": "model", "value": {"stringValue": "claude-opus-4-8[1m]"}},
            {"key": "session.id", "value": {"stringValue": "last"}},
            {"key": "cost_usd", "value": {"doubleValue": 0.5}},
            {"key": "input_tokens", "value": {"intValue": "120"}},
            {"key": "output_tokens", "value": {"stringValue": "42"}},
            {"key": "cache_read_tokens", "value": {"stringValue": " 7"}},
            {"key": "duration_ms", "value": {"intValue": "51"}},
            {"key": "ttft_ms", "value": {"doubleValue": 20.5}},
            {"key": "request_id", "value": {"stringValue": "req_1"}},
            {"key": "success", "value": {"boolValue": true}},
            {"key": "status_code", "value": {"stringValue": "0429"}},
            {"key": "attempt", "value": {"doubleValue": 2.0}}
        ]},
        {"timeUnixNano": "2000", "attributes": [
            {"key": "session.id", "value": {"stringValue": "s"}},
            {"key": "user.email", "value": {"stringValue": "a@example.com"}},
            {"key": "event.name", "value": {"stringValue": "tool_result"}},
            {"key": "event.sequence", "value": {"intValue": "3"}},
            {"key": "prompt.id", "value": {"stringValue": "p-1"}},
            {"key": "duration_ms", "value": {"stringValue": "18"}},
            {"key": "success", "value": {"stringValue": "true"}},
            {"key": "tool_name", "value": {"stringValue": "Edit"}},
            {"key": "tool_use_id", "value": {"stringValue": "toolu_1"}},
            {"key": "decision", "value": {"stringValue": "accept"}},
            {"key": "decision_type", "value": {"stringValue": "accept"}},
            {"key": "error", "value": {"stringValue": ""}}
        ]},
        {"timeUnixNano": "2500", "attributes": [
            {"key": "event.name", "value": {"stringValue": "api_error"}},
            {"key": "status_code", "value": {"intValue": "429"}},
            {"key": "error", "value": {"stringValue": "Boom"}},
            {"key": "attempt", "value": {"intValue": "1"}},
            {"key": "duration_ms", "value": {"stringValue": "18.0"}},
            {"key": "cost_usd", "value": {"doubleValue": -0.0}},
            {"key": "model", "value": {"stringValue": "claude-haiku-4-5"}}
        ]},
        {"timeUnixNano": "3000", "attributes": [{"key": "other", "value": {"stringValue": "a"}}]},
        {"timeUnixNano": "3000", "attributes": [{"key": "other", "value": {"stringValue": "b"}}]}
    ]);
    let body = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}).to_string();
    let request = decode_request(Signal::Logs, Encoding::Json, body.as_bytes()).expect("decode");
    let ccscope_telemetry::ExportRequest::Logs(sent) = &request else {
        panic!("logs")
    };
    let expected: Vec<serde_json::Value> = sent.resource_logs[0].scope_logs[0]
        .log_records
        .iter()
        .map(|r| {
            // As sent, with the known attributes typed by the table of facts (as every source
            // shows them): everything else, and the key order, exactly as sent.
            let mut sent = ccscope_telemetry::value::key_values_to_json(&r.attributes);
            ccscope_telemetry::facts::type_attributes(&mut sent);
            serde_json::Value::Object(sent)
        })
        .collect();
    let committed = writer.write(normalize(request, 1), 1).await.expect("write");
    assert_eq!(committed.events, 5);
    drop(writer);
    thread.join();
    let reader = Reader::open(&path).expect("reader");
    let mut stored = Vec::new();
    reader
        .events(
            &ccscope_query::EventQuery {
                filter: Filter {
                    from_ns: 0,
                    to_ns: i64::MAX,
                    ..Filter::default()
                },
                ..Default::default()
            },
            |row| {
                stored.push((
                    row.time_ns,
                    row.session_id.clone(),
                    row.sequence,
                    row.attributes,
                ));
                Ok(())
            },
        )
        .expect("events");
    stored.sort_by(|a, b| a.0.cmp(&b.0).then(a.3.to_string().cmp(&b.3.to_string())));
    let attributes: Vec<&serde_json::Value> = stored.iter().map(|s| &s.3).collect();
    assert_eq!(attributes, expected.iter().collect::<Vec<_>>());
    // The columns hold what was read from the attributes.
    assert_eq!((stored[0].1.as_str(), stored[0].2), ("last", Some(7)));
    assert_eq!((stored[1].1.as_str(), stored[1].2), ("s", Some(3)));

    // Filters and search see attributes kept in columns as they were sent.
    let count = |attributes: &[(&str, &str)], search: Option<&str>| {
        reader
            .count_events(&ccscope_query::EventQuery {
                filter: Filter {
                    from_ns: 0,
                    to_ns: i64::MAX,
                    attributes: attributes
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Filter::default()
                },
                search: search.map(str::to_owned),
                ..Default::default()
            })
            .expect("count")
    };
    for (key, value, expected) in [
        ("event.name", "api_error", 1),
        ("model", "claude-opus-4-8[1m]", 1),
        ("input_tokens", "120", 1),
        ("output_tokens", "42", 1),
        ("cost_usd", "0.5", 1),
        ("duration_ms", "51", 1),
        ("duration_ms", "18", 1),
        ("duration_ms", "18.0", 1),
        ("ttft_ms", "20.5", 1),
        ("success", "true", 1),
        ("status_code", "429", 1),
        ("status_code", "0429", 1),
        ("tool_use_id", "toolu_1", 1),
        ("decision", "accept", 1),
        ("attempt", "1", 1),
        ("session.id", "last", 1),
        ("duration_ms", "19", 0),
    ] {
        assert_eq!(count(&[(key, value)], None), expected, "{key}={value}");
    }
    assert_eq!(count(&[], Some("boom")), 1);
    assert_eq!(count(&[], Some("req_1")), 1);
    assert_eq!(count(&[], Some("toolu_1")), 1);
}

/// A session's start and end are its first and last record to the nanosecond, whether the
/// record is an event or a metric point, over ranges with whole hours (read from the hourly
/// sums) and partial ones (raw rows), and on a database migrated from before the hourly sums
/// kept their times.
#[tokio::test]
async fn session_start_and_end_are_the_first_and_last_record_exactly() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let (writer, thread) = start_writer(&path);
    // 2026-11-30 19:15:09 UTC and two seconds later; then a metric-only session at 19:40:31.
    let second = 1_000_000_000i64;
    let t0 = 1_796_066_109 * second;
    writer
        .write(events_at("both", &[t0, t0 + 2 * second], 0), t0)
        .await
        .expect("events");
    let (_, metrics_a) = spread(t0 + 2 * second + 500, 1);
    writer.write(metrics_a, t0).await.expect("points");
    let points = |session: &str, time: i64| {
        let body = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "claude_code.cost.usage", "unit": "USD",
            "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [{
                "attributes": [{"key": "session.id", "value": {"stringValue": session}}],
                "startTimeUnixNano": (time - second).to_string(),
                "timeUnixNano": time.to_string(), "asDouble": 0.5}]}}]}]}]})
        .to_string();
        normalize(
            decode_request(Signal::Metrics, Encoding::Json, body.as_bytes()).expect("metrics"),
            1,
        )
    };
    let late = t0 + (25 * 60 + 22) * second;
    writer
        .write(points("metric-only", late), t0)
        .await
        .expect("p");
    writer
        .write(points("metric-only", late + 3 * second), t0)
        .await
        .expect("p");
    // The point of session `both` comes 2.0000005 s after its first event.
    writer
        .write(points("both", t0 + 4 * second), t0)
        .await
        .expect("p");
    drop(writer);
    thread.join();

    let check = |path: &std::path::Path| {
        let reader = Reader::open(path).expect("reader");
        let hour = 3600 * second;
        // Whole hours: the hourly event sums answer, per session too.
        let whole = Filter {
            from_ns: t0 - t0 % hour - 10 * hour,
            to_ns: t0 - t0 % hour + 10 * hour,
            ..Filter::default()
        };
        let report = reader.report(&whole).expect("report");
        assert_eq!(report.events.get("tool_result"), Some(&2));
        let one = Filter {
            session: Some("both".into()),
            ..whole.clone()
        };
        let report = reader.report(&one).expect("report");
        assert_eq!(report.events.get("tool_result"), Some(&2));
        let other = Filter {
            session: Some("metric-only".into()),
            ..whole
        };
        let report = reader.report(&other).expect("report");
        assert_eq!(report.events.get("tool_result"), None);
        assert!((report.cost_usd - 1.0).abs() < 1e-9, "{}", report.cost_usd);
        for (from, to) in [
            (0, i64::MAX),
            (t0 - t0 % hour, t0 - t0 % hour + hour),
            (t0 - 10 * hour, t0 + 10 * hour),
            (t0 - 1, late + 10 * second),
        ] {
            let filter = Filter {
                from_ns: from,
                to_ns: to,
                ..Filter::default()
            };
            let sessions = reader.sessions(&filter).expect("sessions");
            let by = |id: &str| {
                sessions
                    .iter()
                    .find(|s| s.session_id == id)
                    .map(|s| (s.first_ns, s.last_ns))
            };
            assert_eq!(
                by("both"),
                Some((t0, t0 + 4 * second)),
                "range {from}..{to}"
            );
            assert_eq!(
                by("metric-only"),
                Some((late, late + 3 * second)),
                "range {from}..{to}"
            );
        }
    };
    check(&path);
    // As a database written before migration 5: the hourly rows without times, filled in by
    // it (and the series without session keys, given them by migration 6).
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        undo_session_keys(&conn);
        conn.execute_batch(
            "ALTER TABLE point_hours DROP COLUMN first_ns;
             ALTER TABLE point_hours DROP COLUMN last_ns; PRAGMA user_version = 4;",
        )
        .expect("downgrade");
        let mut conn = conn;
        schema::migrate(&mut conn).expect("migrate");
    }
    check(&path);
}

/// A session's events are found by its key (events written since migration 7) and by its
/// text (events from before, whose key is NULL), together, in every reader path that filters
/// by session: the events page and its count, raw sums over partial hours and the hourly sums.
#[tokio::test]
async fn a_session_is_found_in_events_written_before_and_after_its_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let second = 1_000_000_000i64;
    let t0 = 1_796_066_109 * second;
    let (writer, thread) = start_writer(&path);
    writer
        .write(events_at("s1", &[t0, t0 + second], 0), t0)
        .await
        .expect("events");
    drop(writer);
    thread.join();
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        undo_session_keys(&conn);
        let keyed: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'session_key'",
                [],
                |r| r.get(0),
            )
            .expect("columns");
        assert_eq!(keyed, 0, "undone");
    }
    // Migrated again on opening: the two old events keep a NULL key.
    let (writer, thread) = start_writer(&path);
    writer
        .write(
            events_at(
                "s1",
                &[t0 + 2 * second, t0 + 3 * second, t0 + 4 * second],
                0,
            ),
            t0,
        )
        .await
        .expect("events");
    writer
        .write(events_at("s2", &[t0 + 5 * second], 0), t0)
        .await
        .expect("events");
    drop(writer);
    thread.join();
    let conn = rusqlite::Connection::open(&path).expect("open");
    let (old, new): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*) FILTER (WHERE session_key IS NULL), COUNT(session_key) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("keys");
    assert_eq!((old, new), (2, 4));

    let reader = Reader::open(&path).expect("reader");
    let hour = 3600 * second;
    let whole = (t0 - t0 % hour - hour, t0 - t0 % hour + 2 * hour);
    for (session, expected) in [("s1", 5usize), ("s2", 1), ("none", 0)] {
        let filter = |(from_ns, to_ns): (i64, i64)| Filter {
            from_ns,
            to_ns,
            session: Some(session.into()),
            ..Filter::default()
        };
        let query = ccscope_query::EventQuery {
            filter: filter((0, i64::MAX)),
            ..Default::default()
        };
        let mut listed = 0;
        reader
            .events(&query, |_| {
                listed += 1;
                Ok(())
            })
            .expect("events");
        assert_eq!(listed, expected, "{session}: events page");
        assert_eq!(
            reader.count_events(&query).expect("count"),
            expected as u64,
            "{session}: count"
        );
        for range in [(t0 - second, t0 + 10 * second), whole] {
            let report = reader.report(&filter(range)).expect("report");
            assert_eq!(
                report.events.get("tool_result").copied().unwrap_or(0),
                expected as u64,
                "{session}: report over {range:?}"
            );
        }
    }
}

/// Puts `series`, the hourly event sums and `events` back as they were before migrations 6
/// and 7 (unique `hash`, indexed `session_id`, sums keyed by session text, no `sessions`
/// table, no `events.session_key`), keeping their rows and ids, and sets the schema version
/// to 5.
fn undo_session_keys(conn: &rusqlite::Connection) {
    conn.execute_batch(
        "CREATE TABLE event_hours_v5 (
            hour_ns INTEGER NOT NULL, session_id TEXT NOT NULL, name TEXT NOT NULL,
            model TEXT NOT NULL, model_base TEXT NOT NULL, n INTEGER NOT NULL,
            cost_usd REAL NOT NULL, input_tokens REAL NOT NULL, output_tokens REAL NOT NULL,
            cache_read_tokens REAL NOT NULL, cache_creation_tokens REAL NOT NULL,
            PRIMARY KEY (hour_ns, session_id, name, model)) WITHOUT ROWID;
         INSERT INTO event_hours_v5 SELECT hour_ns, session_id, name, model, model_base, n,
            cost_usd, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens
            FROM event_hours;
         DROP TABLE event_hours;
         ALTER TABLE event_hours_v5 RENAME TO event_hours;
         CREATE TABLE event_detail_hours_v5 (
            hour_ns INTEGER NOT NULL, session_id TEXT NOT NULL, name TEXT NOT NULL,
            model TEXT NOT NULL, detail TEXT NOT NULL, model_base TEXT NOT NULL,
            n INTEGER NOT NULL, successes INTEGER NOT NULL, failures INTEGER NOT NULL,
            duration_ms_sum REAL NOT NULL, duration_n INTEGER NOT NULL,
            PRIMARY KEY (hour_ns, session_id, name, model, detail)) WITHOUT ROWID;
         INSERT INTO event_detail_hours_v5 SELECT hour_ns, session_id, name, model, detail,
            model_base, n, successes, failures, duration_ms_sum, duration_n
            FROM event_detail_hours;
         DROP TABLE event_detail_hours;
         ALTER TABLE event_detail_hours_v5 RENAME TO event_detail_hours;
         CREATE TABLE series_v5 (
            id INTEGER PRIMARY KEY, hash INTEGER NOT NULL UNIQUE, metric TEXT NOT NULL,
            unit TEXT NOT NULL, temporality TEXT NOT NULL, session_id TEXT NOT NULL DEFAULT '',
            user_id TEXT, user_email TEXT, organization_id TEXT, terminal_type TEXT,
            app_version TEXT, model TEXT, model_base TEXT, point_type TEXT,
            attributes TEXT NOT NULL, resource_id INTEGER NOT NULL REFERENCES resources(id),
            cum_start_ns INTEGER, cum_time_ns INTEGER, cum_value REAL);
         INSERT INTO series_v5 SELECT id, hash, metric, unit, temporality, session_id, user_id,
            user_email, organization_id, terminal_type, app_version, model, model_base,
            point_type, attributes, resource_id, cum_start_ns, cum_time_ns, cum_value FROM series;
         DROP TABLE series;
         DROP TABLE sessions;
         ALTER TABLE series_v5 RENAME TO series;
         CREATE INDEX series_by_metric ON series(metric);
         CREATE INDEX series_by_session ON series(session_id);
         DROP INDEX events_by_session_key;
         DROP INDEX events_by_session;
         ALTER TABLE events DROP COLUMN session_key;
         CREATE INDEX events_by_session ON events(session_id, time_ns);
         PRAGMA user_version = 5;",
    )
    .expect("undo migrations 6 and 7");
}

/// Context switches of this process's thread named `name` (Linux: /proc/self/task).
#[cfg(target_os = "linux")]
fn thread_switches(name: &str) -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            return status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .sum();
        }
    }
    None
}

/// An idle store wakes nobody: the checkpointer sleeps until a commit (the desktop app sits in
/// the tray all day on laptops).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_idle_store_does_not_wake_its_checkpointer() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let (writer, thread) = start_writer(&path);
    let now = ccscope_store::now_ns();
    writer
        .write(events_at("s", &[now], 0), now)
        .await
        .expect("write");
    // Thread names are cut to 15 bytes.
    let name = "ccscope-store-c";
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = thread_switches(name).expect("the checkpointer thread");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let after = thread_switches(name).expect("the checkpointer thread");
    assert!(
        after - before <= 2,
        "the checkpointer woke {} times in 1.5 s of idleness",
        after - before
    );
    // It still checkpoints after the next commit: the WAL's frames reach the database.
    writer
        .write(events_at("s2", &[now + 1], 0), now)
        .await
        .expect("write");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(thread_switches(name).expect("alive") > after);
    drop(writer);
    thread.join();
    assert_eq!(count_events(&path), 2);
}

/// Under a steady stream of commits the WAL is restarted from its start once it passes
/// `WAL_RESTART_BYTES`, so its file stays near that size however much is written.
#[tokio::test]
async fn the_wal_stays_small_under_a_steady_stream_of_commits() {
    use ccscope_store::writer::WAL_RESTART_BYTES;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let (writer, thread) = start_writer(&path);
    let wal = dir.path().join("ccscope.db-wal");
    let now = ccscope_store::now_ns();
    // 100 records of 4 KB a batch: 6 times WAL_RESTART_BYTES in all.
    let batches = (6 * WAL_RESTART_BYTES / (100 * 4_000)) as i64;
    let mut largest = 0;
    for b in 0..batches {
        let times: Vec<i64> = (0..100).map(|i| now - b * 1_000 - i).collect();
        writer
            .write(events_at(&format!("s{b}"), &times, 4_000), now)
            .await
            .expect("write");
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    assert!(
        largest <= 3 * WAL_RESTART_BYTES,
        "the WAL grew to {largest} bytes while {} were written",
        6 * WAL_RESTART_BYTES
    );
    drop(writer);
    thread.join();
    assert_eq!(count_events(&path), 100 * batches as u64);
}

/// One session's events: `api_request`s of `cost` each and `prompts` user prompts, from a user
/// on a terminal.
fn session_events(
    session: &str,
    user: &str,
    terminal: &str,
    requests: &[f64],
    prompts: usize,
    t0: i64,
) -> serde_json::Value {
    let mut records = Vec::new();
    let attrs = |name: &str, seq: usize| {
        vec![
            json!({"key": "session.id", "value": {"stringValue": session}}),
            json!({"key": "user.email", "value": {"stringValue": user}}),
            json!({"key": "terminal.type", "value": {"stringValue": terminal}}),
            json!({"key": "event.name", "value": {"stringValue": name}}),
            json!({"key": "event.sequence", "value": {"intValue": seq}}),
        ]
    };
    for i in 0..prompts {
        records.push(json!({"timeUnixNano": (t0 + i as i64).to_string(), "attributes": attrs("user_prompt", i)}));
    }
    for (i, cost) in requests.iter().enumerate() {
        let mut a = attrs("api_request", prompts + i);
        a.extend([
            json!({"key": "model", "value": {"stringValue": "claude-sonnet-4-6"}}),
            json!({"key": "cost_usd", "value": {"doubleValue": cost}}),
            json!({"key": "input_tokens", "value": {"intValue": 100}}),
            json!({"key": "output_tokens", "value": {"intValue": 20}}),
            json!({"key": "cache_read_tokens", "value": {"intValue": 3}}),
        ]);
        records.push(json!({"timeUnixNano": (t0 + 1000 + i as i64).to_string(), "attributes": a}));
    }
    json!({"scopeLogs": [{"logRecords": records}]})
}

#[tokio::test]
async fn per_group_usage_in_one_read_equals_the_generic_path() {
    use ccscope_query::Dimension;
    use ccscope_query::{Source, usage_by_parts};

    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ccscope.db");
    let t0 = 1_795_000_000_000_000_000i64;
    let (writer, thread) = start_writer(&path);
    let logs = json!({"resourceLogs": [
        session_events("events-a", "alice@example.com", "xterm", &[0.5, 0.5, 0.5], 2, t0),
        session_events("events-b", "bob@example.com", "vscode", &[0.25, 0.25], 1, t0 + 60_000_000_000),
        // Sends cost and token metrics: its events' cost must not count a second time.
        session_events("metered", "alice@example.com", "vscode", &[9.0], 1, t0 + 120_000_000_000),
    ]})
    .to_string();
    let point = |value: f64, extra: serde_json::Value| {
        let mut attributes = vec![
            json!({"key": "session.id", "value": {"stringValue": "metered"}}),
            json!({"key": "user.email", "value": {"stringValue": "alice@example.com"}}),
            json!({"key": "terminal.type", "value": {"stringValue": "vscode"}}),
            json!({"key": "model", "value": {"stringValue": "claude-sonnet-4-6"}}),
        ];
        if !extra.is_null() {
            attributes.push(extra);
        }
        json!({"attributes": attributes, "startTimeUnixNano": (t0 + 100_000_000_000).to_string(),
               "timeUnixNano": (t0 + 130_000_000_000).to_string(), "asDouble": value})
    };
    let metrics = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "claude_code.cost.usage", "unit": "USD",
         "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [point(2.0, serde_json::Value::Null)]}},
        {"name": "claude_code.token.usage", "unit": "tokens",
         "sum": {"aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [
            point(700.0, json!({"key": "type", "value": {"stringValue": "input"}})),
            point(50.0, json!({"key": "type", "value": {"stringValue": "output"}}))]}}]}]}]})
    .to_string();
    for (signal, body) in [(Signal::Logs, logs), (Signal::Metrics, metrics)] {
        let batch = normalize(
            decode_request(signal, Encoding::Json, body.as_bytes()).expect("decode"),
            1,
        );
        writer.write(batch, 1).await.expect("write");
    }
    drop(writer);
    thread.join();
    let reader = Reader::open(&path).expect("reader");
    let all = Filter {
        from_ns: 0,
        to_ns: i64::MAX / 2,
        ..Filter::default()
    };

    let by_user = Source::usage_by(&reader, &Dimension::User, &all).expect("usage");
    let row = |key: &str| {
        by_user
            .iter()
            .find(|r| r.key == key)
            .unwrap_or_else(|| panic!("no {key} in {by_user:?}"))
    };
    let alice = row("alice@example.com");
    assert!((alice.cost_usd - 3.5).abs() < 1e-12, "{alice:?}");
    assert_eq!(alice.tokens, 3.0 * 123.0 + 750.0, "{alice:?}");
    assert_eq!((alice.users, alice.sessions, alice.prompts), (1, 2, 3));
    let bob = row("bob@example.com");
    assert!((bob.cost_usd - 0.5).abs() < 1e-12, "{bob:?}");
    assert_eq!(bob.tokens, 2.0 * 123.0);
    assert_eq!(by_user[0].key, "alice@example.com", "highest cost first");

    let filters = [
        all.clone(),
        Filter {
            user: Some("alice@example.com".into()),
            ..all.clone()
        },
        Filter {
            attributes: vec![("terminal.type".into(), "vscode".into())],
            ..all.clone()
        },
        Filter {
            model: Some("claude-sonnet-4-6".into()),
            ..all.clone()
        },
        Filter {
            from_ns: t0 + 500,
            to_ns: t0 + 125_000_000_000,
            ..all.clone()
        },
    ];
    for filter in &filters {
        for group in [
            Dimension::None,
            Dimension::User,
            Dimension::Session,
            Dimension::Model,
            Dimension::TerminalType,
            Dimension::Attribute("terminal.type".into()),
        ] {
            let one_read = Source::usage_by(&reader, &group, filter).expect("usage_by");
            let parts = usage_by_parts(&reader, &group, filter).expect("parts");
            assert_eq!(
                one_read.len(),
                parts.len(),
                "{group:?} {filter:?}\n{one_read:?}\n{parts:?}"
            );
            for (a, b) in one_read.iter().zip(&parts) {
                assert!(
                    a.key == b.key
                        && (a.cost_usd - b.cost_usd).abs() < 1e-9
                        && a.tokens == b.tokens
                        && (a.users, a.sessions, a.prompts) == (b.users, b.sessions, b.prompts)
                        && (a.lines_added, a.edits_accepted) == (b.lines_added, b.edits_accepted),
                    "{group:?} {filter:?}\n{a:?}\n{b:?}"
                );
            }
        }
    }
}
