//! The single writer. One thread owns the write connection; exports arrive through a bounded
//! queue and are committed in groups (one transaction for every batch waiting), and each
//! submitter is answered only once the commit that holds its batch is on disk. A full queue is
//! refused at once (`WriteError::Saturated`) so the receiver can answer 503/UNAVAILABLE
//! instead of buffering without bound.
//!
//! Durability is pipelined: the writer commits without waiting for the disk
//! (`synchronous=NORMAL`: SQLite writes the commit's WAL frames but does not fsync them) and
//! hands the answers to a syncer thread, which fsyncs the WAL file once for every commit
//! finished before the fsync began and only then answers them. The writer meanwhile inserts
//! the next group, so the CPU works while the disk flushes. After a crash, SQLite's recovery
//! keeps every commit whose frames reached the disk whole: every acknowledged one. (A WAL
//! restart overwrites frames only after a checkpoint has copied them into the database file
//! and synced it, which SQLite does at `synchronous=NORMAL` too.)
//!
//! Must never: acknowledge a batch before its commit is on disk; let one bad batch fail others.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ccscope_telemetry::{
    Batch, Resource, Temporality,
    cumulative::{CumulativeState, CumulativeStep, cumulative_step},
};
use rusqlite::{CachedStatement, Connection, OptionalExtension, Transaction, params};
use rustc_hash::FxHashMap;
use tokio::sync::{broadcast, oneshot};

use crate::prepare::{Prepared, PreparedEvent, PreparedPoint, PreparedSpan, json_text};
use crate::{Retention, StoreError, retention, schema};

/// Batches waiting for the writer. When full, new exports are refused with "try later".
pub const WRITE_QUEUE_CAPACITY: usize = 256;
/// At most this many batches share one transaction.
pub const MAX_BATCHES_PER_COMMIT: usize = 128;
/// Live subscribers that fall this many commits behind miss the oldest notifications.
pub const CHANGE_FEED_CAPACITY: usize = 1024;
/// Committed groups waiting for the syncer's fsync; the writer waits when this many are.
pub const SYNC_QUEUE_CAPACITY: usize = 64;
/// How often retention runs while the writer is up.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(600);
/// How often, at most, the checkpointer copies committed WAL frames into the database while
/// commits come (it sleeps while none do). Often, so that
/// each copy (and the database fsync that ends it) is small: at 200 ms, the fsyncs of larger
/// copies delayed the syncer's WAL fsyncs, and so the answers (p99 22-31 ms against 7-11 ms at
/// 60k records/s in the ingest benchmark).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(50);
/// SQLite restarts the WAL from its start on its own, at no cost, when a commit begins with
/// every frame already copied into the database; with the checkpointer every
/// `CHECKPOINT_INTERVAL`, a steady stream of commits never allows that. So once the WAL holds
/// more than this, the checkpointer copies after every commit (`MAX_CATCH_UP_CHECKPOINTS`),
/// which soon finishes a copy while the writer is between commits. Only if that fails does it
/// flag a restart, which the writer runs after its next commit (a busy restart is dropped
/// until the next flag): that one copies what is left and syncs the database while exports
/// wait, 10-20 ms at half the maximum rate. Small, so that each restart has little to copy:
/// at 64 MB, restarts and the commits after them stalled answers for 20-50 ms
/// (docs/benchmarks.md).
pub const WAL_RESTART_BYTES: u64 = 8 * 1024 * 1024;
/// Checkpoints after consecutive commits, at most, before the checkpointer flags a restart
/// for the writer (see `WAL_RESTART_BYTES`). Letting SQLite restart the WAL instead of the
/// writer took p99 at 32k records/s from 28-32 ms to 8-17 ms (docs/benchmarks.md).
const MAX_CATCH_UP_CHECKPOINTS: usize = 16;
/// While exports wait for the writer, a flagged restart waits until the WAL holds this much:
/// at the maximum rate, restarting every 8 MB cost ~5 % of the throughput, and answers are
/// queued behind commits then anyway.
pub const WAL_BUSY_RESTART_BYTES: u64 = 64 * 1024 * 1024;
/// If the WAL grows past this all the same, the writer restarts it whatever it costs: a hard
/// bound on the file.
pub const WAL_WRITER_RESTART_BYTES: u64 = 4 * WAL_BUSY_RESTART_BYTES;
/// How long the writer waits for a lock a reader or the checkpointer holds.
const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The writer's SQLite page cache, in KiB. Every index the writer inserts into grows at its
/// right edge (no random keys), so its working set is a few pages per B-tree: 8 MB was as
/// fast as 32 MB on a 1 GB database and faster on a small one (SQLite walks the whole cache
/// at every commit of a page split while the file is under 1 GiB: `pcache1TruncateUnsafe`),
/// and peak RSS under the ingest benchmark fell from 93–115 to 61–77 MiB
/// (docs/benchmarks.md).
const WRITER_CACHE_KIB: i64 = 8_000;
/// The WAL file is cut back to this size when it restarts (up to it, it is reused, not regrown).
const WAL_SIZE_LIMIT_BYTES: u64 = WAL_BUSY_RESTART_BYTES;
/// Series states kept in memory; beyond this the cache is cleared and refilled from disk.
const SERIES_CACHE_LIMIT: usize = 200_000;
/// Session keys kept in memory; beyond this the cache is cleared and refilled from disk.
const SESSION_CACHE_LIMIT: usize = 50_000;

/// What one committed batch added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Committed {
    pub events: u64,
    pub points: u64,
    pub spans: u64,
    /// Records already stored (re-sent exports) or stale cumulative points.
    pub duplicates: u64,
}

impl Committed {
    fn add(&mut self, other: Committed) {
        self.events += other.events;
        self.points += other.points;
        self.spans += other.spans;
        self.duplicates += other.duplicates;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the store's write queue is full ({WRITE_QUEUE_CAPACITY} exports waiting)")]
    Saturated,
    #[error("the store is shutting down")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a submitter gets back: the outcome, and its batch, so that the batch's memory is freed
/// on the submitting thread that allocated it rather than on the writer's.
type Reply = (Result<Committed, StoreError>, Prepared);

struct Job {
    batch: Prepared,
    received_ns: i64,
    reply: oneshot::Sender<Reply>,
}

/// A submitter's answer, held until it may be sent.
struct Answer {
    reply: oneshot::Sender<Reply>,
    result: Result<Committed, StoreError>,
    batch: Prepared,
}

/// Sends the answers and tells live views what they added.
fn send_answers(answers: Vec<Answer>, changes: &broadcast::Sender<Committed>) {
    let mut total = Committed::default();
    for Answer {
        reply,
        result,
        batch,
    } in answers
    {
        if let Ok(committed) = &result {
            total.add(*committed);
        }
        let _ = reply.send((result, batch));
    }
    if total != Committed::default() {
        // No receivers is fine: nobody is watching live.
        let _ = changes.send(total);
    }
}

/// Turns the successful answers into errors: their commits may not be on disk. (They are
/// stored, and visible; a retried export is recognised as a duplicate.)
fn refuse_unsynced(answers: &mut [Answer], error: &std::io::Error) {
    for answer in answers {
        if answer.result.is_ok() {
            answer.result = Err(StoreError::WalSync(std::io::Error::new(
                error.kind(),
                error.to_string(),
            )));
        }
    }
}

/// Starts the syncer (see the module docs) for the WAL at `wal`: it fsyncs the WAL once for
/// every group of answers waiting, then sends them.
fn start_syncer(
    wal: PathBuf,
    changes: broadcast::Sender<Committed>,
) -> Result<(SyncSender<Vec<Answer>>, JoinHandle<()>), StoreError> {
    let (pending, queue) = mpsc::sync_channel::<Vec<Answer>>(SYNC_QUEUE_CAPACITY);
    let thread = std::thread::Builder::new()
        .name("ccscope-store-syncer".into())
        .spawn(move || {
            let mut file: Option<std::fs::File> = None;
            while let Ok(first) = queue.recv() {
                let mut answers = first;
                while let Ok(more) = queue.try_recv() {
                    answers.extend(more);
                }
                // Opened on first use: SQLite creates the WAL with the first commit, and keeps
                // the same file (restarts and truncations reuse it) while the writer is open.
                let started = Instant::now();
                let synced = match &file {
                    Some(f) => f.sync_data(),
                    None => std::fs::OpenOptions::new()
                        .write(true)
                        .open(&wal)
                        .and_then(|f| f.sync_data().map(|()| file = Some(f))),
                };
                slow("WAL fsync", started);
                if let Err(error) = synced {
                    tracing::error!(%error, wal = %wal.display(), "WAL fsync failed; refusing the exports it held");
                    refuse_unsynced(&mut answers, &error);
                }
                send_answers(answers, &changes);
            }
        })
        .map_err(StoreError::Thread)?;
    Ok((pending, thread))
}

/// The handle exports are submitted through. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: SyncSender<Job>,
    changes: broadcast::Sender<Committed>,
    path: PathBuf,
}

/// Owns the writer thread; `close` drains the queue, commits and joins.
pub struct WriterThread {
    thread: Option<JoinHandle<()>>,
}

impl WriterThread {
    /// Waits for the writer to commit everything queued. Call after every `Writer` is dropped.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("store writer thread panicked");
        }
    }
}

impl Writer {
    /// Opens (creating and migrating if needed) the database at `path` and starts the writer.
    pub fn start(path: &Path, retention: Retention) -> Result<(Writer, WriterThread), StoreError> {
        let mut conn = open_write_connection(path)?;
        schema::migrate(&mut conn)?;
        let (jobs, queue) = mpsc::sync_channel::<Job>(WRITE_QUEUE_CAPACITY);
        let (changes, _) = broadcast::channel(CHANGE_FEED_CAPACITY);
        let feed = changes.clone();
        let thread = std::thread::Builder::new()
            .name("ccscope-store-writer".into())
            .spawn(move || run(conn, queue, feed, retention))
            .map_err(StoreError::Thread)?;
        Ok((
            Writer {
                jobs,
                changes,
                path: path.to_path_buf(),
            },
            WriterThread {
                thread: Some(thread),
            },
        ))
    }

    /// Queues a batch and waits for its commit. Returns `Saturated` at once if the queue is full.
    pub async fn write(&self, batch: Batch, received_ns: i64) -> Result<Committed, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Job {
                batch: Prepared::from(batch),
                received_ns,
                reply,
            })
            .map_err(|e| match e {
                TrySendError::Full(_) => WriteError::Saturated,
                TrySendError::Disconnected(_) => WriteError::Closed,
            })?;
        let (result, batch) = answer.await.map_err(|_| WriteError::Closed)?;
        drop(batch);
        Ok(result?)
    }

    /// A feed of commits, for live views.
    pub fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.changes.subscribe()
    }

    /// The sending side of the commit feed, for handing out subscriptions later.
    pub fn changes(&self) -> broadcast::Sender<Committed> {
        self.changes.clone()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_write_connection(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let conn = Connection::open(path)?;
    // auto_vacuum only takes effect before the first table is created.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal(mode));
    }
    // FULL: the WAL is fsynced at every commit, so an acknowledged export survives a crash
    // of the process and of the machine. `run` lowers it to NORMAL once the syncer, which
    // fsyncs the WAL before any answer, is running.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    // No checkpoints on the writer's own commits: the checkpointer thread copies the WAL back
    // in the background, and the writer only restarts the WAL once it is large.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.busy_timeout(WRITER_BUSY_TIMEOUT)?;
    crate::sql::register_functions(&conn)?;
    Ok(conn)
}

/// Hourly sums gathered over one transaction and written once per key before it commits
/// (a batch of a session's events shares a few keys: one upsert instead of one per event).
/// Keys borrow the group's rows: (hour, session key, name, model[, detail]).
#[derive(Default)]
struct Rollups<'a> {
    points: FxHashMap<(i64, i64), crate::series::TimedSum>,
    events: FxHashMap<(i64, i64, &'a str, &'a str), EventSums<'a>>,
    details: FxHashMap<(i64, i64, &'a str, &'a str, String), DetailSums<'a>>,
}

#[derive(Default)]
struct EventSums<'a> {
    session: &'a str,
    model_base: &'a str,
    n: i64,
    cost_usd: f64,
    tokens: [f64; 4],
}

#[derive(Default)]
struct DetailSums<'a> {
    session: &'a str,
    model_base: &'a str,
    n: i64,
    successes: i64,
    failures: i64,
    duration_ms_sum: f64,
    duration_n: i64,
}

impl Rollups<'_> {
    fn flush(self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let mut points = tx.prepare_cached(
            "INSERT INTO point_hours (hour_ns, series_id, value, first_ns, last_ns)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (hour_ns, series_id) DO UPDATE SET value = value + excluded.value,
                first_ns = MIN(first_ns, excluded.first_ns), last_ns = MAX(last_ns, excluded.last_ns)",
        )?;
        for ((hour, series), sum) in self.points {
            points.execute(params![hour, series, sum.value, sum.first_ns, sum.last_ns])?;
        }
        let mut events = tx.prepare_cached(
            "INSERT INTO event_hours VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (hour_ns, session_key, name, model) DO UPDATE SET
                n = n + excluded.n, cost_usd = cost_usd + excluded.cost_usd,
                input_tokens = input_tokens + excluded.input_tokens,
                output_tokens = output_tokens + excluded.output_tokens,
                cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
                cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens",
        )?;
        for ((hour, session_key, name, model), sums) in self.events {
            let [input, output, cache_read, cache_creation] = sums.tokens;
            events.execute(params![
                hour,
                session_key,
                sums.session,
                name,
                model,
                sums.model_base,
                sums.n,
                sums.cost_usd,
                input,
                output,
                cache_read,
                cache_creation
            ])?;
        }
        let mut details = tx.prepare_cached(
            "INSERT INTO event_detail_hours VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (hour_ns, session_key, name, model, detail) DO UPDATE SET
                n = n + excluded.n, successes = successes + excluded.successes,
                failures = failures + excluded.failures,
                duration_ms_sum = duration_ms_sum + excluded.duration_ms_sum,
                duration_n = duration_n + excluded.duration_n",
        )?;
        for ((hour, session_key, name, model, detail), d) in self.details {
            details.execute(params![
                hour,
                session_key,
                d.session,
                name,
                model,
                detail,
                d.model_base,
                d.n,
                d.successes,
                d.failures,
                d.duration_ms_sum,
                d.duration_n
            ])?;
        }
        Ok(())
    }
}

/// Per-connection memo of ids the writer has already looked up.
struct Caches {
    resources: FxHashMap<u64, i64>,
    series: FxHashMap<u64, SeriesState>,
    /// Session id → `sessions.id`.
    sessions: FxHashMap<String, i64>,
    /// Sessions with this key or a greater one were created after `series` was last cleared,
    /// so every series of theirs is in `series`: one that is not is new, and needs no lookup
    /// (a new session's metrics, the common case, cost no index probe). Keys only grow:
    /// `sessions` rows are never deleted.
    fresh_sessions_from: i64,
}

impl Default for Caches {
    fn default() -> Caches {
        Caches {
            resources: FxHashMap::default(),
            series: FxHashMap::default(),
            sessions: FxHashMap::default(),
            fresh_sessions_from: i64::MAX,
        }
    }
}

#[derive(Clone, Copy)]
struct SeriesState {
    id: i64,
    cumulative: Option<CumulativeState>,
}

fn run(
    mut conn: Connection,
    queue: mpsc::Receiver<Job>,
    changes: broadcast::Sender<Committed>,
    retention: Retention,
) {
    let mut caches = Caches::default();
    let mut next_sweep = Instant::now();
    let wal_path = wal_path(&conn);
    let wal_bytes = watch_wal_size(&mut conn);
    let checkpointer = start_checkpointer(&conn);
    if checkpointer.is_none()
        && let Err(error) = conn.pragma_update(None, "wal_autocheckpoint", 1000)
    {
        tracing::warn!(%error, "no checkpointer and no automatic checkpoints");
    }
    // With a syncer the writer's commits skip their fsync; without one (no WAL file to sync)
    // every commit keeps its own (`synchronous=FULL`).
    let syncer = wal_path.clone().and_then(|wal| {
        match start_syncer(wal, changes.clone()).and_then(|syncer| {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            Ok(syncer)
        }) {
            Ok(syncer) => Some(syncer),
            Err(error) => {
                tracing::warn!(%error, "no WAL syncer; every commit waits for its own fsync");
                None
            }
        }
    });
    // A job taken off the queue to see whether exports are waiting (see `WAL_BUSY_RESTART_BYTES`).
    let mut waiting: Option<Job> = None;
    loop {
        if Instant::now() >= next_sweep {
            if let Err(error) = retention::sweep(&mut conn, retention, now_ns()) {
                tracing::warn!(%error, "retention sweep failed");
            }
            next_sweep = Instant::now() + RETENTION_INTERVAL;
        }
        let first = match waiting.take() {
            Some(job) => job,
            None => {
                match queue.recv_timeout(next_sweep.saturating_duration_since(Instant::now())) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCHES_PER_COMMIT {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let answers = commit_group(&mut conn, &mut caches, jobs);
        slow("commit", started);
        match &syncer {
            Some((pending, _)) => {
                if let Err(mpsc::SendError(mut answers)) = pending.send(answers) {
                    // The syncer is gone (it cannot be, short of a panic): sync here.
                    if let Some(wal) = &wal_path
                        && let Err(error) = std::fs::OpenOptions::new()
                            .write(true)
                            .open(wal)
                            .and_then(|f| f.sync_data())
                    {
                        refuse_unsynced(&mut answers, &error);
                    }
                    send_answers(answers, &changes);
                }
            }
            None => send_answers(answers, &changes),
        }
        if let Some(c) = &checkpointer {
            // Full means a checkpoint is already due: nothing to add.
            let _ = c.dirty.try_send(());
        }
        let wal = wal_bytes.as_ref().map_or(0, |b| b.load(Ordering::Relaxed));
        let too_large = wal > WAL_WRITER_RESTART_BYTES;
        waiting = queue.try_recv().ok();
        let busy = waiting.is_some() && wal <= WAL_BUSY_RESTART_BYTES;
        let flagged = !busy
            && checkpointer
                .as_ref()
                .is_some_and(|c| c.restart_due.swap(false, Ordering::Relaxed));
        if flagged || too_large {
            let started = Instant::now();
            restart_wal(&conn, !too_large);
            slow("WAL restart", started);
        }
    }
    if let Some((pending, thread)) = syncer {
        drop(pending);
        if thread.join().is_err() {
            tracing::error!("store syncer thread panicked");
        }
    }
    if let Some(Checkpointer { dirty, thread, .. }) = checkpointer {
        drop(dirty);
        let _ = thread.join();
    }
    if let Err(error) = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
        tracing::warn!(%error, "final checkpoint failed");
    }
    tracing::debug!("store writer stopped");
}

/// How long a step of the writer, syncer or checkpointer may take before a debug line says so
/// (`CCSCOPE_LOG=ccscope_store=debug`): the latency an export sees is made of these.
const SLOW_STEP: Duration = Duration::from_millis(10);

fn slow(step: &str, started: Instant) {
    let took = started.elapsed();
    if took >= SLOW_STEP {
        tracing::debug!(step, ms = took.as_millis() as u64, "slow store step");
    }
}

/// The bytes a WAL frame takes: a page and its 24-byte header.
fn wal_frame_bytes(conn: &Connection) -> Option<u64> {
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).ok()?;
    Some(page_size.max(0) as u64 + 24)
}

/// Keeps count of the bytes in the WAL after each commit (SQLite's WAL hook reports its frames),
/// so the writer knows when to restart it; `None` when the hook cannot be set.
fn watch_wal_size(conn: &mut Connection) -> Option<Arc<AtomicU64>> {
    let frame_bytes = wal_frame_bytes(conn)?;
    if let Err(error) = conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES as i64)
    {
        tracing::warn!(%error, "cannot limit the WAL file's size");
    }
    let bytes = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&bytes);
    let hooked = conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, frames: i32| {
        seen.store(frames.max(0) as u64 * frame_bytes, Ordering::Relaxed);
        Ok(())
    }));
    match hooked {
        Ok(()) => Some(bytes),
        Err(error) => {
            tracing::warn!(%error, "no WAL hook; the WAL is restarted only when idle");
            None
        }
    }
}

fn wal_path(conn: &Connection) -> Option<PathBuf> {
    conn.path()
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(format!("{p}-wal")))
}

/// Restarts the WAL (see `WAL_RESTART_BYTES`); with `without_waiting`, gives up at once
/// rather than wait for the checkpointer or a reader.
fn restart_wal(conn: &Connection, without_waiting: bool) {
    if without_waiting {
        let _ = conn.busy_timeout(Duration::ZERO);
    }
    // (busy, frames in the WAL, frames copied)
    match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
        Ok(0) => {}
        Ok(_) => tracing::debug!("WAL restart put off: a reader or the checkpointer is busy"),
        Err(error) => tracing::warn!(%error, "WAL restart failed"),
    }
    if without_waiting {
        let _ = conn.busy_timeout(WRITER_BUSY_TIMEOUT);
    }
}

/// The background checkpointer; dropping `dirty` stops it.
struct Checkpointer {
    /// Told after each commit (a full one-place channel coalesces them); the checkpointer
    /// sleeps until then, so an idle store wakes nobody.
    dirty: mpsc::SyncSender<()>,
    thread: JoinHandle<()>,
    /// Set when `MAX_CATCH_UP_CHECKPOINTS` checkpoints in a row found the WAL still over
    /// `WAL_RESTART_BYTES`.
    restart_due: Arc<AtomicBool>,
}

/// Starts the background checkpointer on a connection of its own.
fn start_checkpointer(conn: &Connection) -> Option<Checkpointer> {
    let path = conn.path().filter(|p| !p.is_empty())?.to_owned();
    let (dirty, commits) = mpsc::sync_channel::<()>(1);
    let restart_due = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&restart_due);
    let thread = std::thread::Builder::new()
        .name("ccscope-store-checkpointer".into())
        .spawn(move || {
            let conn = match Connection::open(&path) {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(%error, "checkpointer cannot open the database; the writer checkpoints alone");
                    return;
                }
            };
            let _ = conn.busy_timeout(Duration::from_secs(1));
            let frame_bytes = wal_frame_bytes(&conn).unwrap_or(4096 + 24);
            // Checkpoints since the WAL grew over WAL_RESTART_BYTES.
            let mut catching_up = 0usize;
            // Asleep until a commit; then a checkpoint at most every CHECKPOINT_INTERVAL while
            // commits keep coming. Ends when the writer drops its side.
            while commits.recv().is_ok() {
                // (busy, frames in the WAL, frames copied into the database)
                let started = Instant::now();
                let passive =
                    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
                slow("checkpoint", started);
                match passive {
                    Ok(frames) if frames.max(0) as u64 * frame_bytes > WAL_RESTART_BYTES => {
                        // Over the restart size: copy after every commit, without waiting
                        // (see `MAX_CATCH_UP_CHECKPOINTS`), and flag a restart only if SQLite
                        // has not restarted the WAL by then.
                        catching_up += 1;
                        if catching_up < MAX_CATCH_UP_CHECKPOINTS {
                            continue;
                        }
                        flag.store(true, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(error) => tracing::debug!(%error, "background checkpoint skipped"),
                }
                catching_up = 0;
                std::thread::sleep(CHECKPOINT_INTERVAL);
            }
        })
        .ok()?;
    Some(Checkpointer {
        dirty,
        thread,
        restart_due,
    })
}

/// Commits every job in one transaction; if that fails, each job in its own, so only the
/// batch at fault is refused. Returns every job's answer, to send once the commits are on disk.
fn commit_group(conn: &mut Connection, caches: &mut Caches, jobs: Vec<Job>) -> Vec<Answer> {
    let group: Result<Vec<Committed>, StoreError> = (|| {
        let tx = conn.transaction()?;
        let mut results = Vec::with_capacity(jobs.len());
        let mut rollups = Rollups::default();
        for job in &jobs {
            results.push(apply(
                &tx,
                caches,
                &mut rollups,
                &job.batch,
                job.received_ns,
            )?);
        }
        rollups.flush(&tx)?;
        tx.commit()?;
        Ok(results)
    })();
    match group {
        Ok(results) => jobs
            .into_iter()
            .zip(results)
            .map(|(job, committed)| Answer {
                reply: job.reply,
                result: Ok(committed),
                batch: job.batch,
            })
            .collect(),
        Err(error) if jobs.len() == 1 => {
            caches.clear();
            tracing::warn!(%error, "store commit failed");
            let mut answers = Vec::with_capacity(1);
            if let Some(job) = jobs.into_iter().next() {
                answers.push(Answer {
                    reply: job.reply,
                    result: Err(error),
                    batch: job.batch,
                });
            }
            answers
        }
        Err(error) => {
            caches.clear();
            tracing::warn!(%error, batches = jobs.len(), "group commit failed; committing batches one by one");
            jobs.into_iter()
                .flat_map(|job| commit_group(conn, caches, vec![job]))
                .collect()
        }
    }
}

impl Caches {
    fn clear(&mut self) {
        self.resources.clear();
        self.sessions.clear();
        self.clear_series();
    }

    fn clear_series(&mut self) {
        self.series.clear();
        self.fresh_sessions_from = i64::MAX;
    }
}

fn apply<'a>(
    tx: &Transaction<'_>,
    caches: &mut Caches,
    rollups: &mut Rollups<'a>,
    batch: &'a Prepared,
    received_ns: i64,
) -> Result<Committed, StoreError> {
    let mut committed = Committed::default();
    // Each statement is looked up once per batch: a cache lookup hashes the whole SQL text.
    if !batch.events.is_empty() {
        let mut insert = tx.prepare_cached(INSERT_EVENT_SQL)?;
        for event in &batch.events {
            if insert_event(tx, &mut insert, caches, rollups, event, received_ns)? {
                committed.events += 1;
            } else {
                committed.duplicates += 1;
            }
        }
    }
    if !batch.points.is_empty() {
        let mut insert = tx.prepare_cached(INSERT_POINT_SQL)?;
        for point in &batch.points {
            if insert_point(tx, &mut insert, caches, rollups, point)? {
                committed.points += 1;
            } else {
                committed.duplicates += 1;
            }
        }
    }
    for span in &batch.spans {
        if insert_span(tx, caches, span)? {
            committed.spans += 1;
        } else {
            committed.duplicates += 1;
        }
    }
    Ok(committed)
}

fn resource_id(
    tx: &Transaction<'_>,
    caches: &mut Caches,
    resource: &Resource,
) -> Result<i64, StoreError> {
    if let Some(id) = caches.resources.get(&resource.hash) {
        return Ok(*id);
    }
    let hash = resource.hash as i64;
    tx.prepare_cached("INSERT OR IGNORE INTO resources (hash, attributes) VALUES (?1, ?2)")?
        .execute(params![hash, json_text(&resource.attributes)])?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM resources WHERE hash = ?1")?
        .query_row([hash], |r| r.get(0))?;
    caches.resources.insert(resource.hash, id);
    Ok(id)
}

const INSERT_EVENT_SQL: &str = "INSERT OR IGNORE INTO events (dedup_key, time_ns, observed_ns,
    received_ns, name, session_id, seq, prompt_id, user_id, user_email, organization_id,
    terminal_type, app_version, model, model_base, cost_usd, input_tokens, output_tokens,
    cache_read_tokens, cache_creation_tokens, duration_ms, ttft_ms, success, status_code, attempt,
    tool_name, tool_use_id, request_id, decision, decision_source, error, prompt_text, severity,
    body, trace_id, span_id, scope, attributes, resource_id, moved, session_key)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
    ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38,
    ?39, ?40, ?41)";

fn insert_event<'a>(
    tx: &Transaction<'_>,
    insert: &mut CachedStatement<'_>,
    caches: &mut Caches,
    rollups: &mut Rollups<'a>,
    prepared: &'a PreparedEvent,
    received_ns: i64,
) -> Result<bool, StoreError> {
    let e = &prepared.event;
    let resource_id = resource_id(tx, caches, &e.resource)?;
    let f = &e.facts;
    let id = &e.identity;
    let session = id.session_id.as_deref().unwrap_or("");
    let session_key = session_key(tx, caches, session)?;
    let changed = insert.execute(params![
        e.dedup_key,
        e.time_ns,
        e.observed_ns,
        received_ns,
        e.name,
        session,
        e.sequence,
        e.prompt_id,
        id.user_id,
        id.user_email,
        id.organization_id,
        id.terminal_type,
        id.app_version,
        f.model,
        prepared.model_base,
        f.cost_usd,
        f.input_tokens,
        f.output_tokens,
        f.cache_read_tokens,
        f.cache_creation_tokens,
        f.duration_ms,
        f.ttft_ms,
        f.success,
        f.status_code,
        f.attempt,
        f.tool_name,
        f.tool_use_id,
        f.request_id,
        f.decision,
        f.decision_source,
        f.error,
        f.prompt_text,
        e.severity,
        prepared.body,
        e.trace_id,
        e.span_id,
        e.scope,
        prepared.attributes,
        resource_id,
        prepared.moved,
        session_key,
    ])?;
    if changed == 1 {
        let hour = crate::series::hour_of(e.time_ns);
        let model = f.model.as_deref().unwrap_or_default();
        let model_base = prepared.model_base.as_deref().unwrap_or_default();
        let sums = rollups
            .events
            .entry((hour, session_key, e.name.as_str(), model))
            .or_default();
        sums.session = session;
        sums.model_base = model_base;
        sums.n += 1;
        sums.cost_usd += f.cost_usd.unwrap_or(0.0);
        for (total, value) in sums.tokens.iter_mut().zip([
            f.input_tokens,
            f.output_tokens,
            f.cache_read_tokens,
            f.cache_creation_tokens,
        ]) {
            *total += value.unwrap_or(0) as f64;
        }
        if crate::series::DETAILED_EVENTS.contains(&e.name.as_str()) {
            let key = (
                hour,
                session_key,
                e.name.as_str(),
                model,
                crate::series::event_detail(&e.name, f),
            );
            let d = rollups.details.entry(key).or_default();
            d.session = session;
            d.model_base = model_base;
            d.n += 1;
            d.successes += i64::from(f.success == Some(true));
            d.failures += i64::from(f.success == Some(false));
            d.duration_ms_sum += f.duration_ms.unwrap_or(0.0);
            d.duration_n += i64::from(f.duration_ms.is_some());
        }
    }
    Ok(changed == 1)
}

fn series_state(
    tx: &Transaction<'_>,
    caches: &mut Caches,
    prepared: &PreparedPoint,
) -> Result<SeriesState, StoreError> {
    let p = &prepared.point;
    if let Some(state) = caches.series.get(&p.series_hash) {
        return Ok(*state);
    }
    if caches.series.len() >= SERIES_CACHE_LIMIT {
        caches.clear_series();
    }
    let hash = p.series_hash as i64;
    let session = p.identity.session_id.as_deref().unwrap_or("");
    let session_key = session_key(tx, caches, session)?;
    let found = if session_key >= caches.fresh_sessions_from {
        None
    } else {
        find_series(tx, session_key, hash)?
    };
    let state = match found {
        Some(state) => state,
        None => {
            let resource_id = resource_id(tx, caches, &p.resource)?;
            let id = &p.identity;
            tx.prepare_cached(
                "INSERT INTO series (hash, metric, unit, temporality, session_id, user_id,
                    user_email, organization_id, terminal_type, app_version, model, model_base,
                    point_type, attributes, resource_id, session_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
                hash,
                p.metric,
                p.unit,
                p.temporality.as_str(),
                session,
                id.user_id,
                id.user_email,
                id.organization_id,
                id.terminal_type,
                id.app_version,
                p.model,
                prepared.model_base,
                p.point_type,
                prepared.attributes,
                resource_id,
                session_key,
            ])?;
            SeriesState {
                id: tx.last_insert_rowid(),
                cumulative: None,
            }
        }
    };
    caches.series.insert(p.series_hash, state);
    Ok(state)
}

/// The `sessions` key of `session`, creating it if new (see `Caches::fresh_sessions_from`).
fn session_key(
    tx: &Transaction<'_>,
    caches: &mut Caches,
    session: &str,
) -> Result<i64, StoreError> {
    if let Some(key) = caches.sessions.get(session) {
        return Ok(*key);
    }
    if caches.sessions.len() >= SESSION_CACHE_LIMIT {
        caches.sessions.clear();
    }
    let created = tx
        .prepare_cached("INSERT INTO sessions (session_id) VALUES (?1) ON CONFLICT DO NOTHING")?
        .execute([session])?;
    let key = if created == 1 {
        let key = tx.last_insert_rowid();
        caches.fresh_sessions_from = caches.fresh_sessions_from.min(key);
        key
    } else {
        tx.prepare_cached("SELECT id FROM sessions WHERE session_id = ?1")?
            .query_row([session], |r| r.get(0))?
    };
    caches.sessions.insert(session.to_owned(), key);
    Ok(key)
}

/// A stored series and its cumulative state.
fn find_series(
    tx: &Transaction<'_>,
    session_key: i64,
    hash: i64,
) -> Result<Option<SeriesState>, StoreError> {
    Ok(tx
        .prepare_cached(
            "SELECT id, cum_start_ns, cum_time_ns, cum_value FROM series
             WHERE session_key = ?1 AND hash = ?2",
        )?
        .query_row([session_key, hash], |r| {
            let id: i64 = r.get(0)?;
            let start: Option<i64> = r.get(1)?;
            let time: Option<i64> = r.get(2)?;
            let value: Option<f64> = r.get(3)?;
            Ok(SeriesState {
                id,
                cumulative: match (start, time, value) {
                    (Some(start_ns), Some(time_ns), Some(value)) => Some(CumulativeState {
                        start_ns,
                        time_ns,
                        value,
                    }),
                    _ => None,
                },
            })
        })
        .optional()?)
}

const INSERT_POINT_SQL: &str = "INSERT OR IGNORE INTO points (series_id, start_ns, time_ns, value,
    extra) VALUES (?1, ?2, ?3, ?4, ?5)";

fn insert_point(
    tx: &Transaction<'_>,
    insert: &mut CachedStatement<'_>,
    caches: &mut Caches,
    rollups: &mut Rollups<'_>,
    prepared: &PreparedPoint,
) -> Result<bool, StoreError> {
    let p = &prepared.point;
    let state = series_state(tx, caches, prepared)?;
    // Histograms and summaries keep their own cumulative shape in `extra`.
    let (value, new_state) = if p.temporality == Temporality::Cumulative && prepared.extra.is_none()
    {
        match cumulative_step(state.cumulative, p.start_ns, p.time_ns, p.value) {
            CumulativeStep::Stale => return Ok(false),
            CumulativeStep::Delta {
                delta, state: next, ..
            } => (delta, Some(next)),
        }
    } else {
        (p.value, None)
    };
    let changed = insert.execute(params![
        state.id,
        p.start_ns,
        p.time_ns,
        value,
        prepared.extra
    ])?;
    if changed == 1 {
        use crate::series::BucketSum;
        rollups
            .points
            .entry((crate::series::hour_of(p.time_ns), state.id))
            .or_default()
            .add(value, p.time_ns, p.time_ns);
    }
    if changed == 1
        && let Some(next) = new_state
    {
        tx.prepare_cached(
            "UPDATE series SET cum_start_ns = ?2, cum_time_ns = ?3, cum_value = ?4 WHERE id = ?1",
        )?
        .execute(params![state.id, next.start_ns, next.time_ns, next.value])?;
        caches.series.insert(
            p.series_hash,
            SeriesState {
                id: state.id,
                cumulative: Some(next),
            },
        );
    }
    Ok(changed == 1)
}

fn insert_span(
    tx: &Transaction<'_>,
    caches: &mut Caches,
    prepared: &PreparedSpan,
) -> Result<bool, StoreError> {
    let s = &prepared.span;
    let resource_id = resource_id(tx, caches, &s.resource)?;
    let changed = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind,
                start_ns, end_ns, status_code, status_message, session_id, user_id, attributes,
                events, links, scope, resource_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?
        .execute(params![
            s.trace_id,
            s.span_id,
            s.parent_span_id,
            s.name,
            s.kind,
            s.start_ns,
            s.end_ns,
            s.status_code,
            s.status_message,
            s.identity.session_id.as_deref().unwrap_or(""),
            s.identity.user_id,
            prepared.attributes,
            prepared.events,
            prepared.links,
            s.scope,
            resource_id,
        ])?;
    Ok(changed == 1)
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
