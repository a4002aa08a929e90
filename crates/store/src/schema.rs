//! The SQLite schema and its migrations. `PRAGMA user_version` holds the number of migrations
//! applied; a database from a newer ccscope is refused rather than guessed at.

use rusqlite::Connection;

use crate::StoreError;

/// The `detail` of an event row in `event_hours` (see `series::event_detail`), as SQL.
pub const EVENT_DETAIL_SQL: &str = "CASE WHEN name IN ('tool_result', 'tool_decision') THEN COALESCE(tool_name, '')
     WHEN name = 'api_error' THEN COALESCE(CAST(status_code AS TEXT), '')
     WHEN name = 'api_request' AND duration_ms IS NOT NULL THEN CAST(ccscope_latency_bin(duration_ms) AS TEXT)
     ELSE '' END";

/// Each entry moves the schema one version up. Append only; never edit a released entry.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
    CREATE TABLE resources (
        id          INTEGER PRIMARY KEY,
        hash        INTEGER NOT NULL UNIQUE,
        attributes  TEXT NOT NULL
    );

    CREATE TABLE events (
        id                    INTEGER PRIMARY KEY,
        dedup_key             INTEGER NOT NULL,
        time_ns               INTEGER NOT NULL,
        observed_ns           INTEGER NOT NULL,
        received_ns           INTEGER NOT NULL,
        name                  TEXT NOT NULL,
        session_id            TEXT NOT NULL DEFAULT '',
        seq                   INTEGER,
        prompt_id             TEXT,
        user_id               TEXT,
        user_email            TEXT,
        organization_id       TEXT,
        terminal_type         TEXT,
        app_version           TEXT,
        model                 TEXT,
        model_base            TEXT,
        cost_usd              REAL,
        input_tokens          INTEGER,
        output_tokens         INTEGER,
        cache_read_tokens     INTEGER,
        cache_creation_tokens INTEGER,
        duration_ms           REAL,
        ttft_ms               REAL,
        success               INTEGER,
        status_code           INTEGER,
        attempt               INTEGER,
        tool_name             TEXT,
        tool_use_id           TEXT,
        request_id            TEXT,
        decision              TEXT,
        decision_source       TEXT,
        error                 TEXT,
        prompt_text           TEXT,
        severity              TEXT,
        body                  TEXT,
        trace_id              TEXT,
        span_id               TEXT,
        scope                 TEXT,
        attributes            TEXT NOT NULL,
        resource_id           INTEGER NOT NULL REFERENCES resources(id)
    );
    -- Re-sent events are refused by this index. Time comes first so that inserts append to
    -- its right edge (a hash-first key would dirty a random page per event) and so that it
    -- also serves every time-range scan.
    CREATE UNIQUE INDEX events_by_time ON events(time_ns, dedup_key);
    CREATE INDEX events_by_session ON events(session_id, time_ns);
    CREATE INDEX events_by_name ON events(name, time_ns);

    CREATE TABLE series (
        id              INTEGER PRIMARY KEY,
        hash            INTEGER NOT NULL UNIQUE,
        metric          TEXT NOT NULL,
        unit            TEXT NOT NULL,
        temporality     TEXT NOT NULL,
        session_id      TEXT NOT NULL DEFAULT '',
        user_id         TEXT,
        user_email      TEXT,
        organization_id TEXT,
        terminal_type   TEXT,
        app_version     TEXT,
        model           TEXT,
        model_base      TEXT,
        point_type      TEXT,
        attributes      TEXT NOT NULL,
        resource_id     INTEGER NOT NULL REFERENCES resources(id),
        cum_start_ns    INTEGER,
        cum_time_ns     INTEGER,
        cum_value       REAL
    );
    CREATE INDEX series_by_metric ON series(metric);
    CREATE INDEX series_by_session ON series(session_id);

    CREATE TABLE points (
        id        INTEGER PRIMARY KEY,
        series_id INTEGER NOT NULL,
        start_ns  INTEGER NOT NULL,
        time_ns   INTEGER NOT NULL,
        value     REAL NOT NULL,
        extra     TEXT
    );
    -- Re-sent points are refused by this index; time first, as for events.
    CREATE UNIQUE INDEX points_by_time ON points(time_ns, series_id, start_ns);

    CREATE TABLE spans (
        id              INTEGER PRIMARY KEY,
        trace_id        TEXT NOT NULL,
        span_id         TEXT NOT NULL,
        parent_span_id  TEXT,
        name            TEXT NOT NULL,
        kind            INTEGER NOT NULL,
        start_ns        INTEGER NOT NULL,
        end_ns          INTEGER NOT NULL,
        status_code     INTEGER NOT NULL,
        status_message  TEXT,
        session_id      TEXT NOT NULL DEFAULT '',
        user_id         TEXT,
        attributes      TEXT NOT NULL,
        events          TEXT NOT NULL,
        links           TEXT NOT NULL,
        scope           TEXT,
        resource_id     INTEGER NOT NULL REFERENCES resources(id),
        UNIQUE (trace_id, span_id)
    );
    CREATE INDEX spans_by_time ON spans(start_ns);
    CREATE INDEX spans_by_session ON spans(session_id, start_ns);
    "#,
    // 2: hourly sums per series, so charts over weeks read one row per series-hour instead of
    // every point (kept by the writer; see `series::point_sums`).
    r#"
    CREATE TABLE point_hours (
        hour_ns   INTEGER NOT NULL,
        series_id INTEGER NOT NULL,
        value     REAL NOT NULL,
        PRIMARY KEY (hour_ns, series_id)
    ) WITHOUT ROWID;
    INSERT INTO point_hours (hour_ns, series_id, value)
        SELECT time_ns - (time_ns % 3600000000000), series_id, SUM(value) FROM points GROUP BY 1, 2;
    "#,
    // 3: hourly event sums, for the same reason (see `series::event_rows_sql`): counts, cost
    // and tokens per session, name and model; and, for API requests and errors and tool
    // events, counts, outcomes and durations per `detail` (the latency bin of a request, the
    // status of an error, the tool of a tool event).
    r#"
    CREATE TABLE event_hours (
        hour_ns               INTEGER NOT NULL,
        session_id            TEXT NOT NULL,
        name                  TEXT NOT NULL,
        model                 TEXT NOT NULL,
        model_base            TEXT NOT NULL,
        n                     INTEGER NOT NULL,
        cost_usd              REAL NOT NULL,
        input_tokens          REAL NOT NULL,
        output_tokens         REAL NOT NULL,
        cache_read_tokens     REAL NOT NULL,
        cache_creation_tokens REAL NOT NULL,
        PRIMARY KEY (hour_ns, session_id, name, model)
    ) WITHOUT ROWID;
    INSERT INTO event_hours
        SELECT time_ns - (time_ns % 3600000000000), session_id, name, COALESCE(model, ''),
               MAX(COALESCE(model_base, '')), COUNT(*), TOTAL(cost_usd), TOTAL(input_tokens),
               TOTAL(output_tokens), TOTAL(cache_read_tokens), TOTAL(cache_creation_tokens)
        FROM events GROUP BY 1, 2, 3, 4;
    CREATE TABLE event_detail_hours (
        hour_ns         INTEGER NOT NULL,
        session_id      TEXT NOT NULL,
        name            TEXT NOT NULL,
        model           TEXT NOT NULL,
        detail          TEXT NOT NULL,
        model_base      TEXT NOT NULL,
        n               INTEGER NOT NULL,
        successes       INTEGER NOT NULL,
        failures        INTEGER NOT NULL,
        duration_ms_sum REAL NOT NULL,
        duration_n      INTEGER NOT NULL,
        PRIMARY KEY (hour_ns, session_id, name, model, detail)
    ) WITHOUT ROWID;
    INSERT INTO event_detail_hours
        SELECT time_ns - (time_ns % 3600000000000), session_id, name, COALESCE(model, ''), EVENT_DETAIL,
               MAX(COALESCE(model_base, '')), COUNT(*), COALESCE(SUM(success = 1), 0),
               COALESCE(SUM(success = 0), 0), TOTAL(duration_ms), COUNT(duration_ms)
        FROM events WHERE name IN ('api_request', 'api_error', 'tool_result', 'tool_decision')
        GROUP BY 1, 2, 3, 4, 5;
    "#,
    // 4: which event attributes the stored JSON text leaves out because a fact column holds
    // them exactly (see `prepare::MOVED_KEYS`); NULL on the rows written before.
    "ALTER TABLE events ADD COLUMN moved INTEGER;",
    // 5: the times of the first and last point in each series-hour, so a session's start and
    // end come out exact (to the nanosecond) without reading its raw points.
    r#"
    ALTER TABLE point_hours ADD COLUMN first_ns INTEGER;
    ALTER TABLE point_hours ADD COLUMN last_ns INTEGER;
    UPDATE point_hours SET (first_ns, last_ns) = (
        SELECT MIN(p.time_ns), MAX(p.time_ns) FROM points p
        WHERE p.series_id = point_hours.series_id
          AND p.time_ns >= point_hours.hour_ns AND p.time_ns < point_hours.hour_ns + 3600000000000);
    UPDATE point_hours SET first_ns = hour_ns WHERE first_ns IS NULL;
    UPDATE point_hours SET last_ns = hour_ns WHERE last_ns IS NULL;
    "#,
    // 6: series keyed by an integer session key, so that a new session's series append at the
    // right edge of their index instead of landing on random pages of two text/hash indexes
    // (`series.hash` UNIQUE and `series_by_session`): a session's metrics cost one random
    // insert (its `sessions` row) instead of two per series. `sessions` holds every session
    // some series (and, from migration 7, some event) has, the empty one included, and is
    // never pruned. The table is rebuilt because SQLite cannot drop a column's UNIQUE; ids
    // are kept (points refer to them).
    r#"
    CREATE TABLE sessions (
        id          INTEGER PRIMARY KEY,
        session_id  TEXT NOT NULL UNIQUE
    );
    INSERT INTO sessions (session_id) SELECT session_id FROM series GROUP BY session_id ORDER BY MIN(id);
    CREATE TABLE series_keyed (
        id              INTEGER PRIMARY KEY,
        hash            INTEGER NOT NULL,
        metric          TEXT NOT NULL,
        unit            TEXT NOT NULL,
        temporality     TEXT NOT NULL,
        session_id      TEXT NOT NULL DEFAULT '',
        user_id         TEXT,
        user_email      TEXT,
        organization_id TEXT,
        terminal_type   TEXT,
        app_version     TEXT,
        model           TEXT,
        model_base      TEXT,
        point_type      TEXT,
        attributes      TEXT NOT NULL,
        resource_id     INTEGER NOT NULL REFERENCES resources(id),
        cum_start_ns    INTEGER,
        cum_time_ns     INTEGER,
        cum_value       REAL,
        session_key     INTEGER NOT NULL REFERENCES sessions(id)
    );
    INSERT INTO series_keyed SELECT s.*, k.id FROM series s JOIN sessions k ON k.session_id = s.session_id;
    DROP TABLE series;
    ALTER TABLE series_keyed RENAME TO series;
    CREATE UNIQUE INDEX series_by_key ON series(session_key, hash);
    CREATE INDEX series_by_metric ON series(metric);
    "#,
    // 7: events and the hourly event sums keyed by session too. Session ids are random UUIDs,
    // so an index on their text puts every new session's rows on random pages of it (and
    // the WAL and the checkpointer copy each such page whole); keyed by `sessions.id`, which
    // grows, a new session's rows append at the right edge. Every event's session gets a
    // key here and from the writer. The sums are rebuilt keyed (their text stays in each row:
    // readers select it). Events written from now on carry their key; the rows from before
    // keep it NULL and stay in the text index, now partial (filling their key in would
    // rewrite every stored event, as costly as rewriting the database). Readers match a
    // session in both (`reader::event_session_condition`).
    r#"
    INSERT OR IGNORE INTO sessions (session_id)
        SELECT session_id FROM events GROUP BY session_id ORDER BY MIN(id);
    CREATE TABLE event_hours_keyed (
        hour_ns               INTEGER NOT NULL,
        session_key           INTEGER NOT NULL,
        session_id            TEXT NOT NULL,
        name                  TEXT NOT NULL,
        model                 TEXT NOT NULL,
        model_base            TEXT NOT NULL,
        n                     INTEGER NOT NULL,
        cost_usd              REAL NOT NULL,
        input_tokens          REAL NOT NULL,
        output_tokens         REAL NOT NULL,
        cache_read_tokens     REAL NOT NULL,
        cache_creation_tokens REAL NOT NULL,
        PRIMARY KEY (hour_ns, session_key, name, model)
    ) WITHOUT ROWID;
    INSERT INTO event_hours_keyed
        SELECT h.hour_ns, k.id, h.session_id, h.name, h.model, h.model_base, h.n, h.cost_usd,
               h.input_tokens, h.output_tokens, h.cache_read_tokens, h.cache_creation_tokens
        FROM event_hours h JOIN sessions k ON k.session_id = h.session_id;
    DROP TABLE event_hours;
    ALTER TABLE event_hours_keyed RENAME TO event_hours;
    CREATE TABLE event_detail_hours_keyed (
        hour_ns         INTEGER NOT NULL,
        session_key     INTEGER NOT NULL,
        session_id      TEXT NOT NULL,
        name            TEXT NOT NULL,
        model           TEXT NOT NULL,
        detail          TEXT NOT NULL,
        model_base      TEXT NOT NULL,
        n               INTEGER NOT NULL,
        successes       INTEGER NOT NULL,
        failures        INTEGER NOT NULL,
        duration_ms_sum REAL NOT NULL,
        duration_n      INTEGER NOT NULL,
        PRIMARY KEY (hour_ns, session_key, name, model, detail)
    ) WITHOUT ROWID;
    INSERT INTO event_detail_hours_keyed
        SELECT h.hour_ns, k.id, h.session_id, h.name, h.model, h.detail, h.model_base, h.n,
               h.successes, h.failures, h.duration_ms_sum, h.duration_n
        FROM event_detail_hours h JOIN sessions k ON k.session_id = h.session_id;
    DROP TABLE event_detail_hours;
    ALTER TABLE event_detail_hours_keyed RENAME TO event_detail_hours;
    ALTER TABLE events ADD COLUMN session_key INTEGER;
    DROP INDEX events_by_session;
    CREATE INDEX events_by_session ON events(session_id, time_ns) WHERE session_key IS NULL;
    CREATE INDEX events_by_session_key ON events(session_key, time_ns) WHERE session_key IS NOT NULL;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to `SCHEMA_VERSION`, or refuses a newer one.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(&sql.replace("EVENT_DETAIL", EVENT_DETAIL_SQL))?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "applied store migration");
    }
    Ok(())
}

/// Checks, without changing anything, that a database can be read by this build.
pub fn check_version(conn: &Connection) -> Result<i64, StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        return Err(StoreError::SchemaTooOld {
            found,
            expected: SCHEMA_VERSION,
        });
    }
    Ok(found)
}
