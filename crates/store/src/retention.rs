//! Retention: records older than the configured age are deleted, then, while the database is
//! over its size cap, the oldest day of data goes, a day at a time. Freed pages are returned to
//! the file system with an incremental vacuum.

use rusqlite::{Connection, params};

use crate::{Retention, StoreError};

const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;
/// The size cap is approached at most this many days per sweep, so one sweep stays short.
const MAX_DAYS_DROPPED_PER_SWEEP: usize = 3650;

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub events: u64,
    pub points: u64,
    pub spans: u64,
}

fn delete_before(conn: &Connection, cutoff_ns: i64) -> Result<Swept, StoreError> {
    let events = conn.execute("DELETE FROM events WHERE time_ns < ?1", params![cutoff_ns])?;
    let event_hour = crate::series::hour_of(cutoff_ns);
    let next_hour = event_hour + crate::series::HOUR_NS;
    conn.execute(
        "DELETE FROM event_hours WHERE hour_ns <= ?1",
        params![event_hour],
    )?;
    conn.execute(
        "DELETE FROM event_detail_hours WHERE hour_ns <= ?1",
        params![event_hour],
    )?;
    // Every event's session has a key (the writer and migration 7 give them); this only
    // makes sure of it before the sums below look them up.
    conn.execute(
        "INSERT OR IGNORE INTO sessions (session_id)
         SELECT DISTINCT session_id FROM events WHERE time_ns >= ?1 AND time_ns < ?2",
        params![event_hour, next_hour],
    )?;
    conn.execute(
        "INSERT INTO event_hours
         SELECT ?1, (SELECT k.id FROM sessions k WHERE k.session_id = e.session_id), e.session_id,
                name, COALESCE(model, ''), MAX(COALESCE(model_base, '')), COUNT(*),
                TOTAL(cost_usd), TOTAL(input_tokens), TOTAL(output_tokens), TOTAL(cache_read_tokens),
                TOTAL(cache_creation_tokens)
         FROM events e WHERE time_ns >= ?1 AND time_ns < ?2 GROUP BY 3, 4, 5",
        params![event_hour, next_hour],
    )?;
    conn.execute(
        &format!(
            "INSERT INTO event_detail_hours
             SELECT ?1, (SELECT k.id FROM sessions k WHERE k.session_id = e.session_id),
                    e.session_id, name, COALESCE(model, ''), {}, MAX(COALESCE(model_base, '')),
                    COUNT(*), COALESCE(SUM(success = 1), 0), COALESCE(SUM(success = 0), 0),
                    TOTAL(duration_ms), COUNT(duration_ms)
             FROM events e WHERE time_ns >= ?1 AND time_ns < ?2
               AND name IN ('api_request', 'api_error', 'tool_result', 'tool_decision')
             GROUP BY 3, 4, 5, 6",
            crate::schema::EVENT_DETAIL_SQL
        ),
        params![event_hour, next_hour],
    )?;
    let points = conn.execute("DELETE FROM points WHERE time_ns < ?1", params![cutoff_ns])?;
    // The hourly sums: whole hours before the cutoff go; the hour it falls in is summed anew.
    let hour = crate::series::hour_of(cutoff_ns);
    conn.execute("DELETE FROM point_hours WHERE hour_ns <= ?1", params![hour])?;
    conn.execute(
        "INSERT INTO point_hours (hour_ns, series_id, value, first_ns, last_ns)
         SELECT ?1, series_id, SUM(value), MIN(time_ns), MAX(time_ns) FROM points
         WHERE time_ns >= ?1 AND time_ns < ?2 GROUP BY series_id",
        params![hour, hour + crate::series::HOUR_NS],
    )?;
    let spans = conn.execute("DELETE FROM spans WHERE start_ns < ?1", params![cutoff_ns])?;
    Ok(Swept {
        events: events as u64,
        points: points as u64,
        spans: spans as u64,
    })
}

/// Bytes in use by the database (pages that hold data).
pub fn used_bytes(conn: &Connection) -> Result<u64, StoreError> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(((pages - free).max(0) * size) as u64)
}

fn oldest_ns(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn.query_row(
        "SELECT min(t) FROM (SELECT min(time_ns) AS t FROM events
                            UNION ALL SELECT min(time_ns) FROM points
                            UNION ALL SELECT min(start_ns) FROM spans)",
        [],
        |r| r.get(0),
    )?)
}

pub fn sweep(
    conn: &mut Connection,
    retention: Retention,
    now_ns: i64,
) -> Result<Swept, StoreError> {
    // Recomputing the hourly sums of the cutoff hour needs the store's SQL functions.
    crate::sql::register_functions(conn)?;
    let mut swept = Swept::default();
    let mut add = |s: Swept| {
        swept.events += s.events;
        swept.points += s.points;
        swept.spans += s.spans;
    };
    if let Some(days) = retention.max_age_days {
        let tx = conn.transaction()?;
        add(delete_before(
            &tx,
            now_ns.saturating_sub(i64::from(days) * NS_PER_DAY),
        )?);
        tx.commit()?;
    }
    if let Some(max_bytes) = retention.max_bytes {
        for _ in 0..MAX_DAYS_DROPPED_PER_SWEEP {
            if used_bytes(conn)? <= max_bytes {
                break;
            }
            let Some(oldest) = oldest_ns(conn)? else {
                break;
            };
            let tx = conn.transaction()?;
            add(delete_before(&tx, oldest.saturating_add(NS_PER_DAY))?);
            tx.commit()?;
        }
    }
    if swept != Swept::default() {
        conn.execute_batch("PRAGMA incremental_vacuum")?;
        tracing::info!(
            events = swept.events,
            points = swept.points,
            spans = swept.spans,
            "retention removed old records"
        );
    }
    Ok(swept)
}
