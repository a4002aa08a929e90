//! Growth: how ingest rate, query latency and bytes per event change as the store fills
//! (issue 13). One `ccscope serve` on a fresh data directory is filled over gRPC with Claude
//! Code's real event mix (half the turns in sessions of 1 turn, half in sessions of 50),
//! spread over 30 days; at each checkpoint (`CCSCOPE_BENCH_GROWTH=1,10,30`, millions of
//! stored events) it measures one window of the headline load (new session every turn), then
//! times the dashboard's queries over the whole range through the read seam, with the
//! receiver idle, as the API runs them (a fresh read-only connection each time).

use std::path::Path;
use std::time::Instant;

use ccscope_query::Source;
use ccscope_query::{Dimension, EventQuery, Filter};
use ccscope_store::Reader;

use super::{BATCH, Receiver, Sender, Transport, mix, rss_kib, throughput};

const DAY_NS: i64 = 86_400_000_000_000;
/// Exports of the measured window at each checkpoint (100 records each): 400,000 records, a few
/// seconds, since a window of 100,000 (one or two seconds) read 90k then 55k records/s in one run
/// and 66k then 93k in the next.
const WINDOW_EXPORTS: usize = 4_000;
/// Exports encoded and sent at a time while filling.
const FILL_EXPORTS: usize = 2_000;
/// Runs of each query at a checkpoint (the worst is printed beside the median).
const QUERY_RUNS: usize = 5;
/// `run` numbers of the growth mixes (apart from the other runs' ids).
const SHORT_RUN: u64 = 1 << 40;
const LONG_RUN: u64 = (1 << 40) + 1;

/// The checkpoints, in stored events, from `CCSCOPE_BENCH_GROWTH` (millions, comma-separated).
pub fn checkpoints() -> Option<Vec<usize>> {
    let spec = std::env::var("CCSCOPE_BENCH_GROWTH").ok()?;
    let mut out: Vec<usize> = spec
        .split(',')
        .filter_map(|m| m.trim().parse::<f64>().ok())
        .map(|m| (m * 1e6) as usize)
        .filter(|&n| n >= WINDOW_EXPORTS * BATCH)
        .collect();
    out.sort_unstable();
    (!out.is_empty()).then_some(out)
}

fn encode(mix: &mut mix::LogMix, exports: usize) -> Vec<Vec<u8>> {
    use prost::Message;
    (0..exports)
        .map(|_| mix.export(BATCH).encode_to_vec())
        .collect()
}

/// Median and worst of `QUERY_RUNS` runs of `query` on a fresh reader, in ms.
fn time<T>(db: &Path, mut query: impl FnMut(&dyn Source) -> T) -> (f64, f64) {
    let mut ms = Vec::with_capacity(QUERY_RUNS);
    for _ in 0..QUERY_RUNS {
        let t = Instant::now();
        let reader: Box<dyn Source> = Box::new(Reader::open(db).expect("reader"));
        std::hint::black_box(query(reader.as_ref()));
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    (ms[QUERY_RUNS / 2], ms[QUERY_RUNS - 1])
}

pub async fn run(serve: &Receiver, dir: &Path, checkpoints: &[usize]) {
    let total = *checkpoints.last().expect("a checkpoint");
    // Records spread evenly over 30 days at the last checkpoint; each mix sends half.
    let step_ns = (2 * 30 * DAY_NS as u64) / total as u64;
    let mut short = mix::LogMix::new(SHORT_RUN, 1).with_record_step(step_ns);
    let mut long = mix::LogMix::new(LONG_RUN, 50).with_record_step(step_ns);
    let sender = Sender::new(serve, Transport::Grpc, false);
    let db = dir.join("ccscope.db");
    let all = Filter {
        from_ns: mix::BASE_NS as i64,
        to_ns: mix::BASE_NS as i64 + 31 * DAY_NS,
        ..Filter::default()
    };
    let timeline = Filter {
        session: Some(mix::session_id(LONG_RUN, 0)),
        from_ns: 0,
        to_ns: i64::MAX,
        ..Filter::default()
    };
    let page = EventQuery {
        filter: all.clone(),
        limit: Some(200),
        newest_first: true,
        ..EventQuery::default()
    };
    println!(
        "growth: gRPC logs, the real mix (half the turns in 1-turn sessions, half in 50-turn ones) over 30 days; rate = a window of {} records, new session every turn; queries over everything stored, median / worst of {QUERY_RUNS}, receiver idle",
        WINDOW_EXPORTS * BATCH
    );
    let mut sent = 0usize;
    let started = Instant::now();
    for &target in checkpoints {
        let window = WINDOW_EXPORTS * BATCH;
        let mut turn = false;
        while sent + window < target {
            let exports = FILL_EXPORTS.min((target - window - sent).div_ceil(BATCH));
            turn = !turn;
            let mix = if turn { &mut short } else { &mut long };
            let bodies = encode(mix, exports);
            throughput(&sender, bodies, exports * BATCH).await;
            sent += exports * BATCH;
        }
        let bodies = encode(&mut short, WINDOW_EXPORTS);
        let (rate, _) = throughput(&sender, bodies, window).await;
        sent += window;
        let report = time(&db, |r| r.report(&all).expect("report"));
        let cost_chart = time(&db, |r| {
            r.usage_series(false, &Dimension::Model, &all)
                .expect("series")
        });
        let events_page = time(&db, |r| {
            r.events(&page, &mut |_| Ok(())).expect("events");
            r.count_events(&page).expect("count")
        });
        let session = time(&db, |r| {
            r.events(
                &EventQuery {
                    filter: timeline.clone(),
                    ..EventQuery::default()
                },
                &mut |_| Ok(()),
            )
            .expect("timeline");
            r.sessions(&timeline).expect("session")
        });
        let per_user = time(&db, |r| r.usage_by(&Dimension::User, &all).expect("users"));
        let dau = time(&db, |r| {
            r.active_users(DAY_NS, &Dimension::None, &all).expect("dau")
        });
        let health = Reader::open(&db)
            .expect("reader")
            .health(&db)
            .expect("health");
        let bytes = ["ccscope.db", "ccscope.db-wal"]
            .iter()
            .map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0))
            .sum::<u64>();
        let ms = |(p50, worst): (f64, f64)| format!("{p50:.0}/{worst:.0}");
        println!(
            "{:>6.1}M events stored ({:>4.0} s): ingest {:>7.0} records/s | ms: report {} · cost chart {} · events page+count {} · timeline {} · per-user {} · DAU {} | {:>4.0} bytes/event ({} MiB), {} sessions, serve RSS {} MiB",
            health.events as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            rate,
            ms(report),
            ms(cost_chart),
            ms(events_page),
            ms(session),
            ms(per_user),
            ms(dau),
            bytes as f64 / health.events.max(1) as f64,
            bytes >> 20,
            health.sessions,
            rss_kib(serve.child.id(), "VmRSS:") / 1024,
        );
    }
}
