//! Fleet queries over an organisation's ClickHouse, as the dashboard runs them through the read
//! seam: the overview (this range and the previous), the per-team table, daily active users,
//! the per-user table, the cost chart by model, and one developer's session timeline. Prints
//! p50/p95 per query; asserts nothing.
//!
//!     scripts/bench-clickhouse.sh            # generates 1,000 users / 10M events / 50M points
//!                                            # into chdb once, serves it, runs this
//!     CCSCOPE_BENCH_SOURCE=clickhouse://… CCSCOPE_BENCH_FROM_NS=… CCSCOPE_BENCH_TO_NS=… \
//!         cargo bench --bench fleet          # against any ClickHouse holding such data

use std::time::Instant;

use ccscope_clickhouse::{ClickHouse, Config};
use ccscope_query::{Dimension, EventQuery, Filter, Source};
use ccscope_telemetry::MetricKind;

const DAY_NS: i64 = 86_400_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;

fn runs() -> usize {
    std::env::var("CCSCOPE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10)
}

fn time<T>(label: &str, source: &dyn Source, mut query: impl FnMut(&dyn Source) -> T) {
    if let Ok(only) = std::env::var("CCSCOPE_BENCH_ONLY")
        && !label.contains(&only)
    {
        return;
    }
    let runs = runs();
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(query(source));
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{label:<40} p50 {:>8.0} ms   p95 {:>8.0} ms",
        ms[runs / 2],
        ms[(runs * 95 / 100).min(runs - 1)]
    );
}

fn env_i64(name: &str) -> Option<i64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    // CCSCOPE_LOG=ccscope_clickhouse=debug prints each statement with its time.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("CCSCOPE_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let Ok(url) = std::env::var("CCSCOPE_BENCH_SOURCE") else {
        println!(
            "fleet bench: set CCSCOPE_BENCH_SOURCE=clickhouse://… (scripts/bench-clickhouse.sh does)"
        );
        return;
    };
    let config = Config::parse(&url)
        .expect("CCSCOPE_BENCH_SOURCE")
        .with_password(std::env::var("CCSCOPE_CLICKHOUSE_PASSWORD").ok());
    let ch = ClickHouse::new(config).expect("the ClickHouse client");
    ch.check().expect("the source answers");
    let to = env_i64("CCSCOPE_BENCH_TO_NS")
        .unwrap_or_else(|| ch.newest_ns().expect("newest").expect("data") + 1);
    // As the dashboard's day presets: from the start of the hour N days before `to`.
    let span = env_i64("CCSCOPE_BENCH_SPAN_H").map_or(30 * DAY_NS, |h| h * HOUR_NS);
    let from = env_i64("CCSCOPE_BENCH_FROM_NS")
        .unwrap_or_else(|| (to - span).div_euclid(HOUR_NS) * HOUR_NS);
    let f = Filter {
        from_ns: from,
        to_ns: to,
        ..Filter::default()
    };
    let s: &dyn Source = &ch;
    let report = s.report(&f).expect("report");
    println!(
        "source: {} — {} sessions, {} events, ${:.0} over {} days; {} runs each",
        s.describe(),
        report.sessions,
        report.events.values().sum::<u64>(),
        report.cost_usd,
        (to - from) / DAY_NS,
        runs()
    );
    // The two periods at once, as the API's overview asks them (the test front runs one query
    // at a time, so there they add up).
    let previous = Filter {
        from_ns: f.from_ns - (f.to_ns - f.from_ns),
        to_ns: f.from_ns,
        ..f.clone()
    };
    time("overview (report, this + previous)", s, |r| {
        let other = ch.clone();
        std::thread::scope(|scope| {
            let before = scope.spawn(|| other.report(&previous).expect("q"));
            let current = r.report(&f).expect("q");
            (current, before.join().expect("previous report"))
        })
    });
    time("per-team table (attr:department)", s, |r| {
        r.usage_by(&Dimension::Attribute("department".into()), &f)
            .expect("q")
    });
    time("daily active users", s, |r| {
        r.active_users(DAY_NS, &Dimension::None, &f).expect("q")
    });
    time("per-user table (top spenders)", s, |r| {
        r.usage_by(&Dimension::User, &f).expect("q")
    });
    time("chart cost by model", s, |r| {
        r.usage_series(false, &Dimension::Model, &f).expect("q")
    });
    time("chart tokens by type", s, |r| {
        r.metric_series(MetricKind::TokenUsage, &Dimension::Type, &f)
            .expect("q")
    });
    // One developer's busiest session: its summary and every event (the timeline page).
    let user = s
        .usage_by(&Dimension::User, &f)
        .expect("users")
        .into_iter()
        .next()
        .map(|g| g.key)
        .expect("a user");
    let sessions = s
        .sessions(&Filter {
            user: Some(user.clone()),
            ..f.clone()
        })
        .expect("sessions");
    let session = sessions
        .iter()
        .max_by_key(|x| x.events)
        .map(|x| x.session_id.clone())
        .expect("a session");
    time("one user's sessions", s, |r| {
        r.sessions(&Filter {
            user: Some(user.clone()),
            ..f.clone()
        })
        .expect("q")
    });
    time("session timeline (all its events)", s, |r| {
        let all = Filter {
            session: Some(session.clone()),
            ..f.clone()
        };
        let mut n = 0;
        r.events(
            &EventQuery {
                filter: all.clone(),
                ..EventQuery::default()
            },
            &mut |_| {
                n += 1;
                Ok(())
            },
        )
        .expect("q");
        (n, r.sessions(&all).expect("q"))
    });
    // Where the time and the money went.
    let whole = Filter {
        from_ns: 0,
        to_ns: i64::MAX,
        ..Filter::default()
    };
    let traced = s
        .prompt_spans(&f, 400)
        .expect("prompt spans")
        .into_iter()
        .map(|p| p.session_id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .find(|id| {
            ccscope_query::session_trace(s, id, &whole).is_ok_and(|t| t.prompts.len() >= 50)
        });
    match &traced {
        Some(id) => time("waterfall of a 50-prompt session", s, |r| {
            let trace = ccscope_query::session_trace(r, id, &whole).expect("q");
            r.events(
                &EventQuery {
                    filter: Filter {
                        session: Some(id.clone()),
                        ..whole.clone()
                    },
                    ..EventQuery::default()
                },
                &mut |_| Ok(()),
            )
            .expect("q");
            trace
        }),
        None => println!("no traced session of 50 prompts in the range (generate.py makes them)"),
    }
    time("report --by agent.name (cost and tokens)", s, |r| {
        ccscope_query::usage_by_attribute(r, "agent.name", &f).expect("q")
    });
    time("where the money went (7 splits, cost)", s, |r| {
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
    time("chart time to first token by model", s, |r| {
        ccscope_query::latency::ttft_by_model(r, &f).expect("q")
    });
    time("latency: tools' run and wait", s, |r| {
        ccscope_query::latency::tool_latency(r, &f).expect("q")
    });
    time("latency: 10 slowest prompts with splits", s, |r| {
        ccscope_query::latency::slowest_prompts(r, &f, 10).expect("q")
    });
}
