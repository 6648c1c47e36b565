//! The SQLite backend of [`Ledger`].
//!
//! Concurrency: WAL journal (readers never block the writer), a busy timeout, every write one
//! `BEGIN IMMEDIATE` transaction (so two writers never deadlock on a lock upgrade), and the whole
//! transaction retried with backoff while SQLite answers BUSY/LOCKED. Several `ecotrace run`s can
//! thus share one ledger file.
//!
//! This module stores records as given and must not derive figures. Reads must never write: the
//! `interrupted` status of a dead tracker's run exists only in what reads return.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use ecotrace_core::serving::HourRow;
use ecotrace_core::{Power, PowerSample, RunRecord, RunStatus};
use rusqlite::types::ToSql;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::compat::decode_record;
use crate::liveness::{Liveness, LivenessView};
use crate::packed::{self, StoredJson};
use crate::schema::{self, MigrateError, MIGRATIONS};
use crate::sums::{self, Figures, GroupedSums, SumKey};
use crate::{ImportReport, Ledger, LedgerError, RunFilter, MIN_PREFIX_LEN};

/// How long writes wait for other writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// SQLite's own wait inside one attempt (`busy_timeout`).
    pub busy_timeout: Duration,
    /// Total time to keep retrying a BUSY/LOCKED transaction before giving up.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            busy_timeout: Duration::from_secs(5),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// A stored row as written, without the `interrupted` mapping reads apply.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub record: RunRecord,
    /// Ledger clock time of the last begin/checkpoint/finish.
    pub heartbeat_at: DateTime<Utc>,
    pub sample_count: u64,
}

/// A ledger in one SQLite file (or in memory, for tests).
pub struct SqliteLedger {
    conn: Connection,
    /// The file, `None` in memory.
    path: Option<PathBuf>,
    location: String,
    liveness: Liveness,
    retry: RetryPolicy,
    retention: Option<crate::SampleRetention>,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("location", &self.location)
            .field("liveness", &self.liveness)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A failure inside one attempt: a database error (maybe retryable) or a final ledger error.
enum Fail {
    Db(rusqlite::Error),
    Ledger(LedgerError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Db(e)
    }
}

impl From<LedgerError> for Fail {
    fn from(e: LedgerError) -> Self {
        Fail::Ledger(e)
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Inserts a run's row unless its id is there already (then 0 rows change).
const INSERT_RUN: &str =
    "INSERT INTO runs (id, project, phase, status, started_at, ended_at, hostname,
     tracker_pid, heartbeat_at, record_version, record_json, duration_ns, cpu_j, gpu_j, ram_j,
     total_j, operational_g, embodied_g, water_l, cost_usd, job_id, sum_apart, grid_basis, signal)
 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
     ?20, ?21, ?22, ?23, ?24)
 ON CONFLICT (id) DO NOTHING";

/// The `runs` row of one record: its columns as parameters ?1..?24, in the column order of
/// [`INSERT_RUN`] and of the update in `update_row`.
struct RunRow<'a> {
    record: &'a RunRecord,
    /// The record as stored: packed (see [`crate::packed`]).
    stored: rusqlite::types::Value,
    heartbeat: &'a str,
    started_at: String,
    ended_at: Option<String>,
    phase: &'static str,
    status: &'static str,
    figures: Figures,
}

impl<'a> RunRow<'a> {
    fn new(record: &'a RunRecord, json: &'a str, heartbeat: &'a str) -> Self {
        RunRow {
            record,
            stored: packed::stored_value(json),
            heartbeat,
            started_at: ts(record.started_at),
            ended_at: record.ended_at.map(ts),
            phase: record.phase.as_str(),
            status: record.status.as_str(),
            figures: Figures::of(record),
        }
    }

    fn params(&self) -> [&dyn ToSql; 24] {
        let r = self.record;
        let [f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13] = figure_params(&self.figures);
        [
            &r.id,
            &r.project,
            &self.phase,
            &self.status,
            &self.started_at,
            &self.ended_at,
            &r.host.hostname,
            &r.tracker.pid,
            &self.heartbeat,
            &r.record_version,
            &self.stored,
            f1,
            f2,
            f3,
            f4,
            f5,
            f6,
            f7,
            f8,
            f9,
            f10,
            f11,
            f12,
            f13,
        ]
    }
}

/// The report columns of a row as parameters, in the order of [`INSERT_RUN`].
fn figure_params(f: &Figures) -> [&dyn ToSql; 13] {
    [
        &f.duration_ns,
        &f.cpu_j,
        &f.gpu_j,
        &f.ram_j,
        &f.total_j,
        &f.operational_g,
        &f.embodied_g,
        &f.water_l,
        &f.cost_usd,
        &f.job_id,
        &f.sum_apart,
        &f.grid_basis,
        &f.signal,
    ]
}

/// Fixed-width RFC 3339 UTC, so that text order is time order in the indexed columns.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A small pseudo-random backoff, so that retrying writers do not stay in lockstep.
fn backoff(attempt: u32) -> Duration {
    let base = 5u64 << attempt.min(5); // 10 ms .. 160 ms
    let jitter = u64::from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    ) % base;
    Duration::from_millis(base + jitter)
}

/// A SQLite error as a [`LedgerError`] that names the problem: not a database, a full disk (SQLite
/// says "disk I/O error … xShmMap" when the shared-memory file cannot grow), no permission.
fn classify(location: &str, path: Option<&Path>, e: rusqlite::Error) -> LedgerError {
    let dir = path.map(|p| crate::path::parent_dir(p).unwrap_or(Path::new(".")));
    let full = || dir.is_some_and(disk_is_full);
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => LedgerError::NotADatabase {
            path: PathBuf::from(location),
        },
        Some(ErrorCode::DiskFull) => LedgerError::DiskFull {
            location: location.to_string(),
            detail: "SQLite could not grow the file".into(),
        },
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) if full() => {
            LedgerError::DiskFull {
                location: location.to_string(),
                detail: format!(
                    "no space left in {}",
                    dir.map(|d| d.display().to_string()).unwrap_or_default()
                ),
            }
        }
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied)
            if path.is_some_and(|p| !writable(p)) =>
        {
            LedgerError::NoPermission {
                location: location.to_string(),
                detail: e.to_string(),
            }
        }
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            LedgerError::CannotOpen {
                path: PathBuf::from(location),
                reason: e.to_string(),
            }
        }
        _ => LedgerError::Storage {
            location: location.to_string(),
            source: Box::new(e),
        },
    }
}

/// Less than 1 MiB free for this user in the filesystem holding `dir`.
fn disk_is_full(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs writes into the zeroed struct we own; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    (st.f_bavail as u128) * (st.f_frsize as u128) < 1 << 20
}

/// Whether this user may write the ledger file (if it exists) and its directory (where SQLite
/// creates the `-wal` and `-shm` files).
fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let ok = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            // SAFETY: a valid C string; access only reads it.
            .is_ok_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0)
    };
    let dir = crate::path::parent_dir(path).unwrap_or(Path::new("."));
    (!path.exists() || ok(path)) && ok(dir)
}

const SELECT_RUN: &str = "SELECT id, record_json, heartbeat_at FROM runs";

impl SqliteLedger {
    /// Opens (creating if needed) the ledger file at `path`, its parent directories, and its
    /// schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        Self::open_with_retry(path, RetryPolicy::default())
    }

    /// [`SqliteLedger::open`], waiting for other writers (also while opening) as `retry` says.
    pub fn open_with_retry(
        path: impl AsRef<Path>,
        retry: RetryPolicy,
    ) -> Result<Self, LedgerError> {
        let path = path.as_ref().to_path_buf();
        if path.as_os_str().is_empty() {
            return Err(LedgerError::CannotOpen {
                path,
                reason: "the path is empty".into(),
            });
        }
        if path.is_dir() {
            return Err(LedgerError::CannotOpen {
                path,
                reason: "it is a directory; name a file inside it, e.g. ledger.db".into(),
            });
        }
        if let Some(dir) = crate::path::parent_dir(&path) {
            if !dir.is_dir() {
                std::fs::create_dir_all(dir).map_err(|source| LedgerError::CreateDir {
                    dir: dir.to_path_buf(),
                    source,
                })?;
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let location = path.display().to_string();
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| classify(&location, Some(&path), e))?;
        Self::setup(conn, Some(path), location, true, retry)
    }

    /// A private ledger in memory (tests, dry runs). Not shared with any other connection.
    pub fn open_in_memory() -> Result<Self, LedgerError> {
        let conn = Connection::open_in_memory().map_err(|e| LedgerError::Storage {
            location: ":memory:".into(),
            source: Box::new(e),
        })?;
        Self::setup(conn, None, ":memory:".into(), false, RetryPolicy::default())
    }

    fn setup(
        conn: Connection,
        path: Option<PathBuf>,
        location: String,
        wal: bool,
        retry: RetryPolicy,
    ) -> Result<Self, LedgerError> {
        let ledger = SqliteLedger {
            conn,
            path,
            location,
            liveness: Liveness::system(),
            retry,
            retention: None,
        };
        let retry = ledger.retry;
        ledger
            .conn
            .busy_timeout(retry.busy_timeout)
            .map_err(|e| ledger.db_error(e))?;
        ledger.conn.set_prepared_statement_cache_capacity(32);
        ledger.with_retry(|conn| {
            if wal {
                // Persistent: later opens find the file already in WAL mode.
                let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    return Err(Fail::Ledger(LedgerError::CannotOpen {
                        path: PathBuf::from(&ledger.location),
                        reason: format!(
                            "SQLite refused WAL mode here (journal mode is {mode}); put the ledger on a local disk"
                        ),
                    }));
                }
            }
            // WAL + NORMAL: a commit survives a crash of the process; only an OS crash or power
            // loss may lose the last few commits (not corrupt the file).
            conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
            Ok(())
        })?;
        let now = ts(ledger.liveness.now());
        let before = ledger.with_retry(|conn| Ok(schema::current_version(conn)?))?;
        ledger.with_retry(|conn| match schema::migrate(conn, MIGRATIONS, &now) {
            Ok(_) => Ok(()),
            Err(MigrateError::TooNew { found, supported }) => {
                Err(Fail::Ledger(LedgerError::SchemaTooNew {
                    location: ledger.location.clone(),
                    found,
                    supported,
                }))
            }
            Err(MigrateError::Db(e)) => Err(Fail::Db(e)),
        })?;
        ledger.fill_figures()?;
        if (1..schema::PACKED_SINCE).contains(&before) {
            ledger.repack()?;
        }
        Ok(ledger)
    }

    /// Judges `running` rows with this clock, probe and staleness limit instead of the system's.
    pub fn with_liveness(mut self, liveness: Liveness) -> Self {
        self.liveness = liveness;
        self
    }

    /// Waits for other writers according to `retry` instead of the default.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Result<Self, LedgerError> {
        self.conn
            .busy_timeout(retry.busy_timeout)
            .map_err(|e| self.db_error(e))?;
        self.retry = retry;
        Ok(self)
    }

    pub fn liveness(&self) -> &Liveness {
        &self.liveness
    }

    /// The ledger file; `None` for an in-memory ledger.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open ledger.
    pub fn schema_version(&self) -> Result<u32, LedgerError> {
        schema::current_version(&self.conn).map_err(|e| self.db_error(e))
    }

    /// One run exactly as stored (full id only), with its heartbeat: no `interrupted` mapping.
    pub fn stored(&self, id: &str) -> Result<StoredRun, LedgerError> {
        self.with_retry(|conn| {
            let row: Option<(StoredJson, String)> = conn
                .prepare_cached("SELECT record_json, heartbeat_at FROM runs WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((json, heartbeat)) = row else {
                return Err(self.not_found(id).into());
            };
            let record = self.decode(id, &json.0)?;
            let heartbeat_at = parse_ts(&heartbeat).unwrap_or(record.started_at);
            let sample_count: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM samples WHERE run_id = ?1")?
                .query_row([id], |r| r.get(0))?;
            Ok(StoredRun {
                record,
                heartbeat_at,
                sample_count: u64::try_from(sample_count).unwrap_or(0),
            })
        })
    }

    /// Deletes one run (full id) and its samples; `false` if there was none. Used by the spool
    /// once a run has reached the shared ledger; never by reads.
    pub fn remove(&mut self, id: &str) -> Result<bool, LedgerError> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM samples WHERE run_id = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM run_hours WHERE run_id = ?1")?
                .execute([id])?;
            let n = tx
                .prepare_cached("DELETE FROM runs WHERE id = ?1")?
                .execute([id])?;
            Ok(n > 0)
        })
    }

    // ---- internals ----

    fn not_found(&self, id: &str) -> LedgerError {
        LedgerError::NotFound {
            id: id.to_string(),
            location: self.location.clone(),
        }
    }

    fn db_error(&self, e: rusqlite::Error) -> LedgerError {
        classify(&self.location, self.path.as_deref(), e)
    }

    fn decode(&self, id: &str, json: &str) -> Result<RunRecord, LedgerError> {
        decode_record(json).map_err(|reason| LedgerError::UnreadableRecord {
            id: id.to_string(),
            location: self.location.clone(),
            reason,
        })
    }

    /// Runs `op` (a whole transaction) until it succeeds, fails for good, or other writers kept
    /// the database busy for longer than the retry policy allows.
    fn with_retry<T>(
        &self,
        mut op: impl FnMut(&Connection) -> Result<T, Fail>,
    ) -> Result<T, LedgerError> {
        let start = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match op(&self.conn) {
                Ok(v) => return Ok(v),
                Err(Fail::Ledger(e)) => return Err(e),
                Err(Fail::Db(e)) if is_busy(&e) => {
                    if start.elapsed() >= self.retry.max_wait {
                        return Err(LedgerError::Busy {
                            location: self.location.clone(),
                            attempts,
                            waited: start.elapsed(),
                        });
                    }
                    std::thread::sleep(backoff(attempts));
                }
                Err(Fail::Db(e)) => return Err(self.db_error(e)),
            }
        }
    }

    fn encode(record: &RunRecord) -> Result<String, LedgerError> {
        serde_json::to_string(record).map_err(|source| LedgerError::Encode {
            id: record.id.clone(),
            source,
        })
    }

    fn validate_id(record: &RunRecord) -> Result<(), LedgerError> {
        let id = &record.id;
        if id.is_empty() || id.trim() != id || id.chars().any(char::is_control) {
            return Err(LedgerError::InvalidRecord {
                id: id.clone(),
                reason:
                    "the run id must be non-empty, without surrounding spaces or control characters"
                        .into(),
            });
        }
        Ok(())
    }

    /// The stored status of `id`, inside a write transaction.
    fn stored_status(&self, tx: &rusqlite::Transaction<'_>, id: &str) -> Result<RunStatus, Fail> {
        let s: Option<String> = tx
            .prepare_cached("SELECT status FROM runs WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let Some(s) = s else {
            return Err(self.not_found(id).into());
        };
        s.parse::<RunStatus>().map_err(|e| {
            Fail::Ledger(LedgerError::UnreadableRecord {
                id: id.to_string(),
                location: self.location.clone(),
                reason: e.to_string(),
            })
        })
    }

    /// Writes every indexed column and the JSON of `record` over its row.
    fn update_row(
        tx: &rusqlite::Transaction<'_>,
        record: &RunRecord,
        json: &str,
        heartbeat: &str,
    ) -> rusqlite::Result<()> {
        tx.prepare_cached(
            "UPDATE runs SET project = ?2, phase = ?3, status = ?4, started_at = ?5, ended_at = ?6,
                 hostname = ?7, tracker_pid = ?8, heartbeat_at = ?9, record_version = ?10,
                 record_json = ?11, duration_ns = ?12, cpu_j = ?13, gpu_j = ?14, ram_j = ?15,
                 total_j = ?16, operational_g = ?17, embodied_g = ?18, water_l = ?19,
                 cost_usd = ?20, job_id = ?21, sum_apart = ?22, grid_basis = ?23, signal = ?24
             WHERE id = ?1",
        )?
        .execute(&RunRow::new(record, json, heartbeat).params()[..])?;
        Ok(())
    }

    /// Appends the samples newer than the last stored one (by `t_s`), numbering them after it.
    /// A retried batch thus adds nothing twice, and `seq` order is time order.
    fn append_samples(
        tx: &rusqlite::Transaction<'_>,
        id: &str,
        samples: &[PowerSample],
    ) -> rusqlite::Result<usize> {
        if samples.is_empty() {
            return Ok(0);
        }
        let last: Option<(i64, f64)> = tx
            .prepare_cached(
                "SELECT seq, t_s FROM samples WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (mut seq, mut last_t) = last.map_or((0, f64::NEG_INFINITY), |(s, t)| (s + 1, t));
        let mut insert = tx.prepare_cached(
            "INSERT INTO samples (run_id, seq, t_s, cpu_w, gpu_w, ram_w) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let w = |p: Power| Some(p.watts()).filter(|x| x.is_finite());
        let mut added = 0;
        for s in samples {
            // Only strictly later, finite times: a NaN t_s could not be ordered.
            if !s.t_s.is_finite() || s.t_s <= last_t {
                continue;
            }
            insert.execute(params![id, seq, s.t_s, w(s.cpu_w), w(s.gpu_w), w(s.ram_w)])?;
            seq += 1;
            last_t = s.t_s;
            added += 1;
        }
        Ok(added)
    }

    /// The run `id_or_prefix` names: exact id first, then a unique prefix of at least
    /// [`MIN_PREFIX_LEN`] characters. Returns the full id.
    fn resolve(&self, conn: &Connection, id_or_prefix: &str) -> Result<String, Fail> {
        let q = id_or_prefix.trim();
        let exact: Option<String> = conn
            .prepare_cached("SELECT id FROM runs WHERE id = ?1")?
            .query_row([q], |r| r.get(0))
            .optional()?;
        if let Some(id) = exact {
            return Ok(id);
        }
        let n = q.chars().count();
        if n < MIN_PREFIX_LEN {
            return Err(LedgerError::PrefixTooShort {
                prefix: q.to_string(),
                min: MIN_PREFIX_LEN,
                location: self.location.clone(),
            }
            .into());
        }
        let ids = conn
            .prepare_cached(
                "SELECT id FROM runs WHERE substr(id, 1, ?2) = ?1
                 ORDER BY started_at DESC, id DESC",
            )?
            .query_map(params![q, n as i64], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        match ids.len() {
            0 => Err(self.not_found(q).into()),
            1 => Ok(ids.into_iter().next().expect("one id")),
            _ => Err(LedgerError::Ambiguous {
                prefix: q.to_string(),
                candidates: ids,
                location: self.location.clone(),
            }
            .into()),
        }
    }

    /// A stored row as reads return it: decoded, and shown as interrupted if its tracker is gone.
    fn effective(
        &self,
        view: &LivenessView<'_>,
        id: &str,
        json: &str,
        heartbeat: &str,
    ) -> Result<RunRecord, LedgerError> {
        let mut record = self.decode(id, json)?;
        let heartbeat_at = parse_ts(heartbeat).unwrap_or(record.started_at);
        if let Some(i) = view.check(&record, heartbeat_at) {
            i.apply(&mut record);
        }
        Ok(record)
    }
}

impl Ledger for SqliteLedger {
    fn import(&mut self, records: &[RunRecord]) -> Result<ImportReport, LedgerError> {
        let mut encoded = Vec::with_capacity(records.len());
        for r in records {
            Self::validate_id(r)?;
            if !r.is_final() {
                return Err(LedgerError::InvalidRecord {
                    id: r.id.clone(),
                    reason: "an imported run must have ended".into(),
                });
            }
            encoded.push(Self::encode(r)?);
        }
        let heartbeat = ts(self.liveness.now());
        // One transaction: every new run is stored, or none is.
        self.write(|tx| {
            let mut report = ImportReport::default();
            let mut insert = tx.prepare_cached(INSERT_RUN)?;
            for (record, json) in records.iter().zip(&encoded) {
                let inserted =
                    insert.execute(&RunRow::new(record, json, &heartbeat).params()[..])?;
                if inserted == 0 {
                    report.skipped.push(record.id.clone());
                } else {
                    report.imported.push(record.id.clone());
                }
            }
            Ok(report)
        })
    }

    fn begin(&mut self, record: &RunRecord) -> Result<(), LedgerError> {
        Self::validate_id(record)?;
        if !matches!(record.status, RunStatus::Running | RunStatus::FailedToStart) {
            return Err(LedgerError::InvalidRecord {
                id: record.id.clone(),
                reason: format!(
                    "a run begins as running or failed-to-start, not {}; use finish to end it",
                    record.status
                ),
            });
        }
        let json = Self::encode(record)?;
        let heartbeat = ts(self.liveness.now());
        let location = &self.location;
        self.write(|tx| {
            let inserted = tx
                .prepare_cached(INSERT_RUN)?
                .execute(&RunRow::new(record, &json, &heartbeat).params()[..])?;
            if inserted == 0 {
                return Err(LedgerError::AlreadyExists {
                    id: record.id.clone(),
                    location: location.clone(),
                }
                .into());
            }
            Ok(())
        })
    }

    fn checkpoint(
        &mut self,
        record: &RunRecord,
        new_samples: &[PowerSample],
    ) -> Result<(), LedgerError> {
        Self::validate_id(record)?;
        if record.status != RunStatus::Running {
            return Err(LedgerError::InvalidRecord {
                id: record.id.clone(),
                reason: format!(
                    "a checkpoint is for a running run, not {}; use finish to end it",
                    record.status
                ),
            });
        }
        let json = Self::encode(record)?;
        let heartbeat = ts(self.liveness.now());
        self.write(|tx| {
            let stored = self.stored_status(tx, &record.id)?;
            if stored != RunStatus::Running {
                return Err(LedgerError::AlreadyEnded {
                    id: record.id.clone(),
                    stored,
                    attempted: record.status,
                    location: self.location.clone(),
                }
                .into());
            }
            Self::update_row(tx, record, &json, &heartbeat)?;
            Self::append_samples(tx, &record.id, new_samples)?;
            Ok(())
        })
    }

    fn finish(
        &mut self,
        record: &RunRecord,
        new_samples: &[PowerSample],
    ) -> Result<(), LedgerError> {
        Self::validate_id(record)?;
        if !record.is_final() {
            return Err(LedgerError::InvalidRecord {
                id: record.id.clone(),
                reason: "finish needs a final status (finished, failed, failed-to-start, interrupted); use checkpoint while it runs".into(),
            });
        }
        let json = Self::encode(record)?;
        let heartbeat = ts(self.liveness.now());
        self.write(|tx| {
            let stored = self.stored_status(tx, &record.id)?;
            // A retried finish (same final status) may overwrite; nothing else may.
            if stored != RunStatus::Running && stored != record.status {
                return Err(LedgerError::AlreadyEnded {
                    id: record.id.clone(),
                    stored,
                    attempted: record.status,
                    location: self.location.clone(),
                }
                .into());
            }
            Self::update_row(tx, record, &json, &heartbeat)?;
            Self::append_samples(tx, &record.id, new_samples)?;
            Ok(())
        })?;
        // The run is stored; compacting old samples may fail and is tried again next time.
        if let Some(r) = self.retention {
            let now = self.liveness.now();
            let _ = self.compact_due(r, now);
        }
        Ok(())
    }

    fn get(&self, id_or_prefix: &str) -> Result<RunRecord, LedgerError> {
        let view = self.liveness.view();
        self.with_retry(|conn| {
            let id = self.resolve(conn, id_or_prefix)?;
            let (json, heartbeat): (StoredJson, String) = conn
                .prepare_cached("SELECT record_json, heartbeat_at FROM runs WHERE id = ?1")?
                .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(self.effective(&view, &id, &json.0, &heartbeat)?)
        })
    }

    fn list(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, LedgerError> {
        crate::collect_scan(|f| self.scan_where(filter, None, f))
    }

    fn scan(
        &self,
        filter: &RunFilter,
        f: &mut dyn FnMut(RunRecord) -> bool,
    ) -> Result<(), LedgerError> {
        self.scan_where(filter, None, f)
    }

    fn scan_with_hours(
        &self,
        filter: &RunFilter,
        f: &mut dyn FnMut(RunRecord) -> bool,
    ) -> Result<(), LedgerError> {
        self.scan_where(filter, Some(crate::sums::WITH_HOURS), f)
    }

    fn group_sums(&self, filter: &RunFilter, by: SumKey) -> Result<GroupedSums, LedgerError> {
        let key = sums::key_sql(by, "substr(started_at, 1, 10)", "substr(started_at, 1, 7)");
        let (clauses, args) = where_clauses(filter, false);
        let sql = format!(
            "SELECT {key}, {}, {basis} FROM runs INDEXED BY runs_sums
             WHERE status <> 'running' AND sum_apart = 0{clauses} GROUP BY 1, {basis}",
            sums::sum_columns(|c| format!("TOTAL({c})"), |c| format!("SUM({c})")),
            basis = sums::BASIS_COLUMNS,
        );
        let groups = self.with_retry(|conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
                sums::read_sums(
                    r.get(0)?,
                    |i| Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0)),
                    |i| r.get(i),
                    |i| r.get(i),
                )
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        let mut apart = Vec::new();
        self.scan_where(&sums::unpaged(filter), Some(APART), &mut |r| {
            apart.push(r);
            true
        })?;
        Ok(GroupedSums { groups, apart })
    }

    fn compact_samples_between(
        &mut self,
        ended_after: Option<DateTime<Utc>>,
        ended_before: DateTime<Utc>,
        bucket: Duration,
    ) -> Result<crate::CompactReport, LedgerError> {
        self.compact(ended_after, ended_before, bucket)
    }

    fn set_sample_retention(&mut self, retention: Option<crate::SampleRetention>) {
        self.retention = retention;
    }

    fn marker(&self, key: &str) -> Result<Option<String>, LedgerError> {
        self.with_retry(|conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM ledger_meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        })
    }

    fn set_marker(&mut self, key: &str, value: &str) -> Result<(), LedgerError> {
        self.write(|tx| {
            tx.prepare_cached("INSERT OR REPLACE INTO ledger_meta (key, value) VALUES (?1, ?2)")?
                .execute([key, value])?;
            Ok(())
        })
    }

    fn downsample_samples(
        &mut self,
        run_id: &str,
        before_s: f64,
        bucket: Duration,
    ) -> Result<(), LedgerError> {
        let width = bucket.as_secs_f64().max(1e-3);
        self.write(|tx| Ok(compact_run(tx, run_id, width, before_s)?))
            .map(|_| ())
    }

    fn samples(&self, id: &str) -> Result<Vec<PowerSample>, LedgerError> {
        self.with_retry(|conn| {
            let id = self.resolve(conn, id)?;
            let w = |v: Option<f64>| Power::from_watts(v.unwrap_or(f64::NAN));
            let out = conn
                .prepare_cached(
                    "SELECT t_s, cpu_w, gpu_w, ram_w FROM samples WHERE run_id = ?1 ORDER BY seq",
                )?
                .query_map([&id], |r| {
                    Ok(PowerSample {
                        t_s: r.get(0)?,
                        cpu_w: w(r.get(1)?),
                        gpu_w: w(r.get(2)?),
                        ram_w: w(r.get(3)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(out)
        })
    }

    fn store_hours(&mut self, run_id: &str, rows: &[HourRow]) -> Result<(), LedgerError> {
        if rows.is_empty() {
            return Ok(());
        }
        let encoded = encode_hours(run_id, rows)?;
        self.write(|tx| {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO run_hours (run_id, hour, row_json) VALUES (?1, ?2, ?3)",
            )?;
            for (row, json) in rows.iter().zip(&encoded) {
                put.execute(params![run_id, ts(row.hour), json])?;
            }
            Ok(())
        })
    }

    fn hours(&self, id: &str) -> Result<Vec<HourRow>, LedgerError> {
        self.with_retry(|conn| {
            let id = self.resolve(conn, id)?;
            let jsons = conn
                .prepare_cached("SELECT row_json FROM run_hours WHERE run_id = ?1 ORDER BY hour")?
                .query_map([&id], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(decode_hours(&id, &jsons, &self.location)?)
        })
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

/// The rows a report reads as records rather than summing them in SQL (see [`crate::sums`]);
/// the partial index `runs_apart` holds exactly these.
const APART: &str = "(status = 'running' OR sum_apart IS NOT 0)";

/// The `AND ...` clauses and their arguments for the project, phase and start of `filter`, and
/// for its status when `status` is set: `interrupted` selects the stored `running` rows too, whose
/// effective status is judged per row.
fn where_clauses(filter: &RunFilter, status: bool) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut args: Vec<String> = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, v: String| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(p) = &filter.project {
        bind(&mut sql, "project =", p.clone());
    }
    if let Some(p) = filter.phase {
        bind(&mut sql, "phase =", p.as_str().to_string());
    }
    if let Some(since) = filter.since {
        bind(&mut sql, "started_at >=", ts(since));
    }
    match filter.status {
        _ if !status => {}
        None => {}
        Some(RunStatus::Interrupted) => sql.push_str(" AND status IN ('running', 'interrupted')"),
        Some(s) => bind(&mut sql, "status =", s.as_str().to_string()),
    }
    (sql, args)
}

/// How many rows one transaction fills with their report columns.
const FILL_BATCH: i64 = 2_000;

impl SqliteLedger {
    /// Calls `f` with each run `filter` selects (and `extra`, an SQL condition, allows), newest
    /// first, as reads show them, reading them one at a time; stops when `f` returns `false`.
    fn scan_where(
        &self,
        filter: &RunFilter,
        extra: Option<&str>,
        f: &mut dyn FnMut(RunRecord) -> bool,
    ) -> Result<(), LedgerError> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(());
        }
        let (clauses, args) = where_clauses(filter, true);
        let extra = extra.map(|e| format!(" AND {e}")).unwrap_or_default();
        let sql =
            format!("{SELECT_RUN} WHERE 1 = 1{clauses}{extra} ORDER BY started_at DESC, id DESC");
        let view = self.liveness.view();
        self.with_retry(|conn| {
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
            let mut taken = 0;
            let mut skip = filter.offset;
            // Rows are stepped lazily: stops reading as soon as the limit is met.
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                if skip > 0 && filter.status.is_none() {
                    // Skipped rows of an unfiltered page need no decoding.
                    skip -= 1;
                    continue;
                }
                let json: StoredJson = row.get(1)?;
                let heartbeat: String = row.get(2)?;
                let record = self.effective(&view, &id, &json.0, &heartbeat)?;
                if filter.status.is_some_and(|s| s != record.status) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                taken += 1;
                if !f(record) || taken >= limit {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Fills the report columns of rows written before schema version 3 (or by a build that did
    /// not fill them), a batch per transaction. A row whose record cannot be read is marked to be
    /// read as a record, so that a report names the problem as `list` does.
    fn fill_figures(&self) -> Result<(), LedgerError> {
        let pending = |conn: &Connection| -> rusqlite::Result<bool> {
            conn.prepare_cached(&format!(
                "SELECT 1 FROM runs WHERE {APART} AND sum_apart IS NULL LIMIT 1"
            ))?
            .exists([])
        };
        while self.with_retry(|conn| Ok(pending(conn)?))? {
            self.write(|tx| {
                let rows = tx
                    .prepare_cached(&format!(
                        "SELECT id, record_json FROM runs WHERE {APART} AND sum_apart IS NULL LIMIT ?1"
                    ))?
                    .query_map([FILL_BATCH], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, StoredJson>(1)?.0))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let mut update = tx.prepare_cached(
                    "UPDATE runs SET duration_ns = ?2, cpu_j = ?3, gpu_j = ?4, ram_j = ?5,
                         total_j = ?6, operational_g = ?7, embodied_g = ?8, water_l = ?9,
                         cost_usd = ?10, job_id = ?11, sum_apart = ?12, grid_basis = ?13,
                         signal = ?14
                     WHERE id = ?1",
                )?;
                for (id, json) in &rows {
                    let f = decode_record(json)
                        .map_or_else(|_| Figures::unreadable(), |r| Figures::of(&r));
                    let mut args: Vec<&dyn ToSql> = vec![id];
                    args.extend(figure_params(&f));
                    update.execute(&args[..])?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

/// Downsamples one run's samples taken before `before` s of run time to one per `width` s (see
/// [`Ledger::compact_samples`]), in `tx`: the counts before and after, or `None` when they are
/// at that resolution already.
fn compact_run(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    width: f64,
    before: f64,
) -> rusqlite::Result<Option<(i64, i64)>> {
    let (n, buckets): (i64, i64) = tx
        .prepare_cached(
            "SELECT COUNT(*), COUNT(DISTINCT CAST(t_s / ?2 AS INTEGER))
             FROM samples WHERE run_id = ?1 AND t_s < ?3",
        )?
        .query_row(params![id, width, before], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if n <= buckets {
        return Ok(None);
    }
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS compacted
           (seq INTEGER, t_s REAL, cpu_w REAL, gpu_w REAL, ram_w REAL);
         DELETE FROM temp.compacted;",
    )?;
    tx.prepare_cached(
        "INSERT INTO temp.compacted
         SELECT MIN(seq), MAX(t_s), AVG(cpu_w), AVG(gpu_w), AVG(ram_w)
         FROM samples WHERE run_id = ?1 AND t_s < ?3 GROUP BY CAST(t_s / ?2 AS INTEGER)",
    )?
    .execute(params![id, width, before])?;
    tx.prepare_cached("DELETE FROM samples WHERE run_id = ?1 AND t_s < ?2")?
        .execute(params![id, before])?;
    tx.prepare_cached(
        "INSERT INTO samples (run_id, seq, t_s, cpu_w, gpu_w, ram_w)
         SELECT ?1, seq, t_s, cpu_w, gpu_w, ram_w FROM temp.compacted",
    )?
    .execute([id])?;
    tx.execute("DELETE FROM temp.compacted", [])?;
    Ok(Some((n, buckets)))
}

impl SqliteLedger {
    /// Packs the records an older version stored as text (see [`crate::packed`]), a batch of rows
    /// per transaction, in rowid order. Space they free is reused by later rows (`VACUUM` gives it
    /// back to the file system).
    fn repack(&self) -> Result<(), LedgerError> {
        let mut last = 0i64;
        loop {
            let next = self.write(|tx| {
                let rows = tx
                    .prepare_cached(
                        "SELECT rowid, record_json FROM runs WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
                    )?
                    .query_map(params![last, FILL_BATCH], |r| {
                        let text = match r.get_ref(1)? {
                            rusqlite::types::ValueRef::Text(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                            _ => None,
                        };
                        Ok((r.get::<_, i64>(0)?, text))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let mut update =
                    tx.prepare_cached("UPDATE runs SET record_json = ?2 WHERE rowid = ?1")?;
                for (rowid, text) in &rows {
                    if let Some(json) = text {
                        update.execute(params![rowid, packed::stored_value(json)])?;
                    }
                }
                Ok(rows.last().map(|(rowid, _)| *rowid))
            })?;
            match next {
                Some(rowid) => last = rowid,
                None => return Ok(()),
            }
        }
    }
}

/// Hourly rows as the JSON stored in `run_hours.row_json`.
pub(crate) fn encode_hours(run_id: &str, rows: &[HourRow]) -> Result<Vec<String>, LedgerError> {
    rows.iter()
        .map(|r| {
            serde_json::to_string(r).map_err(|source| LedgerError::Encode {
                id: run_id.to_string(),
                source,
            })
        })
        .collect()
}

pub(crate) fn decode_hours(
    run_id: &str,
    jsons: &[String],
    location: &str,
) -> Result<Vec<HourRow>, LedgerError> {
    jsons
        .iter()
        .map(|j| {
            serde_json::from_str(j).map_err(|e| LedgerError::UnreadableRecord {
                id: run_id.to_string(),
                location: location.to_string(),
                reason: format!("hourly row: {e}"),
            })
        })
        .collect()
}

/// How many runs one compaction transaction takes (so other writers wait briefly).
const COMPACT_BATCH: usize = 100;

impl SqliteLedger {
    /// [`Ledger::compact_samples`] for SQLite: one transaction per [`COMPACT_BATCH`] runs.
    fn compact(
        &mut self,
        ended_after: Option<DateTime<Utc>>,
        ended_before: DateTime<Utc>,
        bucket: Duration,
    ) -> Result<crate::CompactReport, LedgerError> {
        let width = bucket.as_secs_f64().max(1e-3);
        let cutoff = ts(ended_before);
        let from = ended_after.map(ts);
        let ids: Vec<String> = self.with_retry(|conn| {
            let mut q = conn.prepare(
                "SELECT id FROM runs WHERE ended_at IS NOT NULL AND ended_at < ?1
                     AND (?2 IS NULL OR ended_at >= ?2)
                 ORDER BY ended_at",
            )?;
            let ids = q
                .query_map(params![&cutoff, &from], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(ids)
        })?;
        let mut report = crate::CompactReport::default();
        for batch in ids.chunks(COMPACT_BATCH) {
            let done = self.write(|tx| {
                let mut done = crate::CompactReport::default();
                for id in batch {
                    if let Some((n, buckets)) = compact_run(tx, id, width, f64::MAX)? {
                        done.count(n, buckets);
                    }
                }
                Ok(done)
            })?;
            report += done;
        }
        Ok(report)
    }

    /// One write transaction under the write lock (`BEGIN IMMEDIATE`), retried as a whole.
    /// Dropping the transaction on error rolls it back.
    fn write<T>(
        &self,
        mut op: impl FnMut(&rusqlite::Transaction<'_>) -> Result<T, Fail>,
    ) -> Result<T, LedgerError> {
        self.with_retry(|conn| {
            // `Connection::transaction_with_behavior` needs `&mut`; this connection is owned by
            // this ledger and used by one thread at a time, so the unchecked form is equivalent.
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let v = op(&tx)?;
            tx.commit()?;
            Ok(v)
        })
    }
}
