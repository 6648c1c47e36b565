//! The PostgreSQL backend of [`Ledger`]: a shared ledger many nodes write to.
//!
//! Same tables, same numbered migrations and same rules as the SQLite backend (see
//! [`crate::schema`]): a run is inserted once, checkpoints replace the record and append samples
//! (numbered after the last stored one, so a retried batch adds nothing twice), a final run cannot
//! be rewritten with another status, and reads show a dead tracker's `running` row as
//! `interrupted` without writing anything.
//!
//! The connection is opened lazily and opened again after it breaks. A failure to reach the server
//! is reported as [`LedgerError::Unavailable`], which the spool ([`crate::SpooledLedger`]) answers by
//! keeping the run locally; every other failure is final.
//!
//! This module must not derive figures, and reads must never write.

use std::cell::RefCell;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ecotrace_core::serving::HourRow;
use ecotrace_core::{Power, PowerSample, RunRecord, RunStatus};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::{Client, Config, NoTls, Transaction};

use crate::compat::{canonical_json, decode_record};
use crate::liveness::{Liveness, LivenessView};
use crate::packed;
use crate::schema::{CREATE_MIGRATIONS_TABLE_PG, MIGRATIONS};
use crate::sums::{self, Figures, GroupedSums, SumKey};
use crate::{ImportReport, Ledger, LedgerError, RunFilter, MIN_PREFIX_LEN};

/// How long connecting may take before the server counts as unreachable, unless the URL sets
/// `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An arbitrary constant naming the advisory lock that serializes migrations across nodes.
const MIGRATION_LOCK: i64 = 0x6563_6f74_7261_6365; // "ecotrace"

/// A ledger in a PostgreSQL database.
pub struct PostgresLedger {
    config: Config,
    client: RefCell<Option<Client>>,
    location: String,
    liveness: Liveness,
    retention: Option<crate::SampleRetention>,
}

impl std::fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresLedger")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Inserts a run's row unless its id is there already (then 0 rows change).
const INSERT_RUN: &str = "INSERT INTO runs (id, project, phase, status, started_at, ended_at,
     hostname, tracker_pid, heartbeat_at, record_version, record_json, duration_ns, cpu_j, gpu_j,
     ram_j, total_j, operational_g, embodied_g, water_l, cost_usd, job_id, sum_apart,
     record_packed, grid_basis, signal)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb, $12, $13, $14, $15, $16, $17,
     $18, $19, $20, $21, $22, $23, $24, $25)
 ON CONFLICT (id) DO NOTHING";

/// A record as the `runs` row stores it (schema version 5): packed into `record_packed` (see
/// [`crate::packed`]), or, should packing fail, as JSON in `record_json`.
struct Stored {
    packed: Option<Vec<u8>>,
    json: Option<String>,
}

impl Stored {
    fn of(json: String) -> Self {
        match packed::pack(&json) {
            Ok(b) => Stored {
                packed: Some(b),
                json: None,
            },
            Err(_) => Stored {
                packed: None,
                json: Some(json),
            },
        }
    }
}

/// The record's JSON from the `record_packed` and `record_json` columns of a row, the first of
/// them not NULL.
fn stored_json(packed: Option<&[u8]>, json: Option<String>) -> Result<String, String> {
    match (packed, json) {
        (Some(b), _) => packed::unpack(b),
        (None, Some(j)) => Ok(j),
        (None, None) => {
            Err("the row holds no record (record_packed and record_json are both NULL)".into())
        }
    }
}

/// The `runs` row of a record, as parameters $1..$25 in the column order of [`INSERT_RUN`] and of
/// the updates of a stored run.
struct RunRow<'a> {
    record: &'a RunRecord,
    heartbeat: &'a DateTime<Utc>,
    stored: &'a Stored,
    phase: &'static str,
    status: &'static str,
    pid: i64,
    version: i32,
    figures: Figures,
}

impl<'a> RunRow<'a> {
    fn new(record: &'a RunRecord, heartbeat: &'a DateTime<Utc>, stored: &'a Stored) -> Self {
        RunRow {
            record,
            heartbeat,
            stored,
            phase: record.phase.as_str(),
            status: record.status.as_str(),
            pid: i64::from(record.tracker.pid),
            version: record.record_version as i32,
            figures: Figures::of(record),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 25] {
        let r = self.record;
        let [f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13] = figure_params(&self.figures);
        [
            &r.id,
            &r.project,
            &self.phase,
            &self.status,
            &r.started_at,
            &r.ended_at,
            &r.host.hostname,
            &self.pid,
            self.heartbeat,
            &self.version,
            &self.stored.json,
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
            &self.stored.packed,
            f12,
            f13,
        ]
    }
}

/// The report columns of a row as parameters, in the order of [`INSERT_RUN`].
fn figure_params(f: &Figures) -> [&(dyn ToSql + Sync); 13] {
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

/// A failure inside one operation: a database error (classified later) or a final ledger error.
enum Fail {
    Pg(postgres::Error),
    Ledger(LedgerError),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<LedgerError> for Fail {
    fn from(e: LedgerError) -> Self {
        Fail::Ledger(e)
    }
}

/// Whether `e` means the server could not be reached or the connection broke (as opposed to a
/// statement the server refused).
fn is_unavailable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // Class 08: connection exception; 57P0x: the server is shutting down or starting;
        // 53300: too many connections.
        Some(c) => {
            let c = c.code();
            c.starts_with("08")
                || c.starts_with("57P")
                || c == SqlState::TOO_MANY_CONNECTIONS.code()
        }
        None => {
            // Connection-level errors carry no SQLSTATE: I/O, timeouts, failed connects.
            let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
            while let Some(s) = src {
                if s.is::<std::io::Error>() {
                    return true;
                }
                src = s.source();
            }
            let m = e.to_string();
            m.contains("error connecting") || m.contains("timed out") || m.contains("timeout")
        }
    }
}

/// Whether the transaction may simply be run again (serialization failure, deadlock).
fn is_retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// The URL without its password, for messages and `location()`.
pub(crate) fn redact_url(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split(':').next().unwrap_or("");
            format!("{user}@{}", &authority[at + 1..])
        }
        None => authority.to_string(),
    };
    // Drop query parameters that could hold a secret.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.to_ascii_lowercase().starts_with("password"))
                .collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

impl PostgresLedger {
    /// A ledger for the database at `url` (`postgres://user:password@host:port/db`). Parses the URL
    /// now; connects (and migrates the schema) on first use or with [`PostgresLedger::connect`].
    /// Without a password in the URL, `PGPASSWORD` is used if set.
    pub fn new(url: &str) -> Result<Self, LedgerError> {
        let location = redact_url(url.trim());
        let mut config = Config::from_str(url.trim()).map_err(|e| LedgerError::Unsupported {
            spec: location.clone(),
            reason: format!(
                "not a valid PostgreSQL URL ({e}); write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        // A server that vanishes mid-write must not hang the tracker for the kernel's TCP timeout.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        #[cfg(target_os = "linux")]
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(Duration::from_secs(15));
        }
        if config.get_password().is_none() {
            if let Some(p) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
                config.password(p.to_string_lossy().as_bytes());
            }
        }
        if config.get_application_name().is_none() {
            config.application_name("ecotrace");
        }
        Ok(PostgresLedger {
            config,
            client: RefCell::new(None),
            location,
            liveness: Liveness::system(),
            retention: None,
        })
    }

    /// Connects now (and brings the schema up to date), instead of on first use.
    pub fn connect(url: &str) -> Result<Self, LedgerError> {
        let ledger = Self::new(url)?;
        ledger.with_client(|_| Ok(()))?;
        Ok(ledger)
    }

    /// Judges `running` rows with this clock, probe and staleness limit instead of the system's.
    pub fn with_liveness(mut self, liveness: Liveness) -> Self {
        self.liveness = liveness;
        self
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<u32, LedgerError> {
        self.with_client(|c| Ok(current_version(c)?))
    }

    fn unavailable(&self, e: &postgres::Error) -> LedgerError {
        LedgerError::Unavailable {
            location: self.location.clone(),
            reason: error_text(e),
        }
    }

    fn pg_error(&self, e: postgres::Error) -> LedgerError {
        if is_unavailable(&e) {
            return self.unavailable(&e);
        }
        match e.code() {
            Some(c)
                if *c == SqlState::INVALID_PASSWORD
                    || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
            {
                LedgerError::CannotOpen {
                    path: self.location.clone().into(),
                    reason: format!(
                        "{}: check the user and password in the URL (or PGPASSWORD)",
                        error_text(&e)
                    ),
                }
            }
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => LedgerError::CannotOpen {
                path: self.location.clone().into(),
                reason: format!(
                    "{}: create the database first (createdb), or name an existing one in the URL",
                    error_text(&e)
                ),
            },
            _ => LedgerError::Storage {
                location: self.location.clone(),
                source: Box::new(e),
            },
        }
    }

    fn not_found(&self, id: &str) -> LedgerError {
        LedgerError::NotFound {
            id: id.to_string(),
            location: self.location.clone(),
        }
    }

    fn open_client(&self) -> Result<Client, LedgerError> {
        let mut client = self.config.connect(NoTls).map_err(|e| self.pg_error(e))?;
        match migrate(&mut client) {
            Ok(()) => {
                pack_records(&mut client).map_err(|e| self.pg_error(e))?;
                fill_figures(&mut client).map_err(|e| self.pg_error(e))?;
                Ok(client)
            }
            Err(MigrateFail::TooNew { found, supported }) => Err(LedgerError::SchemaTooNew {
                location: self.location.clone(),
                found,
                supported,
            }),
            Err(MigrateFail::Pg(e)) => Err(self.pg_error(e)),
        }
    }

    /// Runs `op` with a live connection: connects if there is none (or it broke), retries a
    /// transaction the server asks to retry, and forgets a connection that broke.
    fn with_client<T>(
        &self,
        mut op: impl FnMut(&mut Client) -> Result<T, Fail>,
    ) -> Result<T, LedgerError> {
        let mut slot = self.client.borrow_mut();
        if slot.as_ref().is_some_and(Client::is_closed) {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(self.open_client()?);
        }
        let client = slot.as_mut().expect("connected above");
        let mut attempts = 0;
        loop {
            attempts += 1;
            match op(client) {
                Ok(v) => return Ok(v),
                Err(Fail::Ledger(e)) => return Err(e),
                Err(Fail::Pg(e)) if is_retryable(&e) && attempts < 10 => {
                    std::thread::sleep(Duration::from_millis(10 * attempts));
                }
                Err(Fail::Pg(e)) => {
                    if is_unavailable(&e) {
                        *slot = None;
                    }
                    return Err(self.pg_error(e));
                }
            }
        }
    }

    /// The run in `row`, whose columns from `first` on are `record_packed`, `record_json::text`
    /// and `heartbeat_at`, as reads show it.
    fn effective(
        &self,
        view: &LivenessView<'_>,
        id: &str,
        row: &postgres::Row,
        first: usize,
    ) -> Result<RunRecord, LedgerError> {
        let heartbeat_at: DateTime<Utc> = row.get(first + 2);
        let mut record = stored_json(row.get(first), row.get(first + 1))
            .and_then(|json| decode_record(&json))
            .map_err(|reason| LedgerError::UnreadableRecord {
                id: id.to_string(),
                location: self.location.clone(),
                reason,
            })?;
        if let Some(i) = view.check(&record, heartbeat_at) {
            i.apply(&mut record);
        }
        Ok(record)
    }

    /// The run `id_or_prefix` names: exact id first, then a unique prefix of at least
    /// [`MIN_PREFIX_LEN`] characters. Returns the full id.
    fn resolve(&self, c: &mut Client, id_or_prefix: &str) -> Result<String, Fail> {
        let q = id_or_prefix.trim();
        if let Some(row) = c.query_opt("SELECT id FROM runs WHERE id = $1", &[&q])? {
            return Ok(row.get(0));
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
        let ids: Vec<String> = c
            .query(
                "SELECT id FROM runs WHERE left(id, $2) = $1 ORDER BY started_at DESC, id DESC",
                &[&q, &(n as i32)],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
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

    /// The stored status of `id`, locking its row for the rest of the transaction.
    fn lock_status(&self, tx: &mut Transaction<'_>, id: &str) -> Result<RunStatus, Fail> {
        let Some(row) = tx.query_opt("SELECT status FROM runs WHERE id = $1 FOR UPDATE", &[&id])?
        else {
            return Err(self.not_found(id).into());
        };
        let s: String = row.get(0);
        s.parse::<RunStatus>().map_err(|e| {
            Fail::Ledger(LedgerError::UnreadableRecord {
                id: id.to_string(),
                location: self.location.clone(),
                reason: e.to_string(),
            })
        })
    }

    /// Replaces the row and appends the samples, in one transaction, after `check` approved the
    /// stored status.
    fn write_update(
        &self,
        record: &RunRecord,
        samples: &[PowerSample],
        check: impl Fn(RunStatus) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        let row = encode(record)?;
        let heartbeat = self.liveness.now();
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            let stored = self.lock_status(&mut tx, &record.id)?;
            check(stored)?;
            tx.execute(
                "UPDATE runs SET project = $2, phase = $3, status = $4, started_at = $5,
                     ended_at = $6, hostname = $7, tracker_pid = $8, heartbeat_at = $9,
                     record_version = $10, record_json = $11::text::jsonb, duration_ns = $12,
                     cpu_j = $13, gpu_j = $14, ram_j = $15, total_j = $16, operational_g = $17,
                     embodied_g = $18, water_l = $19, cost_usd = $20, job_id = $21,
                     sum_apart = $22, record_packed = $23, grid_basis = $24, signal = $25
                 WHERE id = $1",
                &RunRow::new(record, &heartbeat, &row).params(),
            )?;
            append_samples(&mut tx, &record.id, samples)?;
            tx.commit()?;
            Ok(())
        })
    }
}

fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(x) = src {
                s.push_str(": ");
                s.push_str(&x.to_string());
                src = x.source();
            }
            s
        }
    }
}

fn encode(record: &RunRecord) -> Result<Stored, LedgerError> {
    serde_json::to_string(record)
        .map(Stored::of)
        .map_err(|source| LedgerError::Encode {
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

/// Appends the samples newer than the last stored one (by `t_s`), numbering them after it, in one
/// statement.
fn append_samples(
    tx: &mut Transaction<'_>,
    id: &str,
    samples: &[PowerSample],
) -> Result<usize, postgres::Error> {
    if samples.is_empty() {
        return Ok(0);
    }
    let last = tx.query_opt(
        "SELECT seq, t_s FROM samples WHERE run_id = $1 ORDER BY seq DESC LIMIT 1",
        &[&id],
    )?;
    let (mut seq, mut last_t) = last.map_or((0i64, f64::NEG_INFINITY), |r| {
        (r.get::<_, i64>(0) + 1, r.get::<_, f64>(1))
    });
    let w = |p: Power| Some(p.watts()).filter(|x| x.is_finite());
    let (mut seqs, mut ts, mut cpu, mut gpu, mut ram) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in samples {
        if !s.t_s.is_finite() || s.t_s <= last_t {
            continue;
        }
        seqs.push(seq);
        ts.push(s.t_s);
        cpu.push(w(s.cpu_w));
        gpu.push(w(s.gpu_w));
        ram.push(w(s.ram_w));
        seq += 1;
        last_t = s.t_s;
    }
    if seqs.is_empty() {
        return Ok(0);
    }
    tx.execute(
        "INSERT INTO samples (run_id, seq, t_s, cpu_w, gpu_w, ram_w)
         SELECT $1, u.seq, u.t_s, u.cpu_w, u.gpu_w, u.ram_w
         FROM UNNEST($2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[])
              AS u(seq, t_s, cpu_w, gpu_w, ram_w)",
        &[&id, &seqs, &ts, &cpu, &gpu, &ram],
    )?;
    Ok(seqs.len())
}

enum MigrateFail {
    TooNew { found: u32, supported: u32 },
    Pg(postgres::Error),
}

impl From<postgres::Error> for MigrateFail {
    fn from(e: postgres::Error) -> Self {
        MigrateFail::Pg(e)
    }
}

fn current_version(c: &mut impl postgres::GenericClient) -> Result<u32, postgres::Error> {
    let has: bool = c
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
        .get(0);
    if !has {
        return Ok(0);
    }
    let v: i32 = c
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .get(0);
    Ok(u32::try_from(v).unwrap_or(0))
}

/// Brings the schema up to date. Several nodes may connect to a new database at once: the work
/// runs under an advisory lock and rechecks the version there.
fn migrate(c: &mut Client) -> Result<(), MigrateFail> {
    let latest = MIGRATIONS.last().map_or(0, |m| m.version);
    let found = current_version(c)?;
    if found > latest {
        return Err(MigrateFail::TooNew {
            found,
            supported: latest,
        });
    }
    if found == latest {
        return Ok(());
    }
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(CREATE_MIGRATIONS_TABLE_PG)?;
    let found = current_version(&mut tx)?;
    if found > latest {
        return Err(MigrateFail::TooNew {
            found,
            supported: latest,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.batch_execute(m.postgres)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())",
            &[&(m.version as i32), &m.name],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The rows a report reads as records rather than summing them in SQL (see [`crate::sums`]);
/// the partial index `runs_apart` holds exactly these.
const APART: &str = "(status = 'running' OR sum_apart IS DISTINCT FROM 0)";

/// A query's arguments.
type Args = Vec<Box<dyn ToSql + Sync>>;

/// The `AND ...` clauses and their arguments for the project, phase and start of `filter`, and
/// for its status when `status` is set; the flag says whether the status is exact (`interrupted`
/// and `running` select stored `running` rows too, whose effective status is judged per row).
fn where_clauses(filter: &RunFilter, status: bool) -> (String, Args, bool) {
    let mut sql = String::new();
    let mut args: Args = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, v: Box<dyn ToSql + Sync>| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ${}", args.len()));
    };
    if let Some(p) = &filter.project {
        bind(&mut sql, "project =", Box::new(p.clone()));
    }
    if let Some(p) = filter.phase {
        bind(&mut sql, "phase =", Box::new(p.as_str()));
    }
    if let Some(since) = filter.since {
        bind(&mut sql, "started_at >=", Box::new(since));
    }
    let exact = match filter.status {
        _ if !status => true,
        None => true,
        Some(RunStatus::Interrupted) => {
            sql.push_str(" AND status IN ('running', 'interrupted')");
            false
        }
        Some(RunStatus::Running) => {
            sql.push_str(" AND status = 'running'");
            false
        }
        Some(s) => {
            bind(&mut sql, "status =", Box::new(s.as_str()));
            true
        }
    };
    (sql, args, exact)
}

/// Rows fetched from the server at a time while scanning.
const SCAN_BATCH: i32 = 1_000;

/// How many rows one transaction fills with their report columns.
const FILL_BATCH: i64 = 2_000;

/// Fills the report columns of rows written before schema version 3, a batch per transaction;
/// several nodes connecting at once share the work (`SKIP LOCKED`). A row whose record cannot be
/// read is marked to be read as a record, so that a report names the problem as `list` does.
fn fill_figures(c: &mut Client) -> Result<(), postgres::Error> {
    let select = format!(
        "SELECT id, record_packed, record_json::text FROM runs
         WHERE {APART} AND sum_apart IS NULL LIMIT $1 FOR UPDATE SKIP LOCKED"
    );
    loop {
        let mut tx = c.transaction()?;
        let rows = tx.query(select.as_str(), &[&FILL_BATCH])?;
        if rows.is_empty() {
            return Ok(());
        }
        let update = tx.prepare(
            "UPDATE runs SET duration_ns = $2, cpu_j = $3, gpu_j = $4, ram_j = $5, total_j = $6,
                 operational_g = $7, embodied_g = $8, water_l = $9, cost_usd = $10, job_id = $11,
                 sum_apart = $12, grid_basis = $13, signal = $14
             WHERE id = $1",
        )?;
        for row in &rows {
            let id: String = row.get(0);
            let f = stored_json(row.get(1), row.get(2))
                .and_then(|json| decode_record(&json))
                .map_or_else(|_| Figures::unreadable(), |r| Figures::of(&r));
            let mut args: Vec<&(dyn ToSql + Sync)> = vec![&id];
            args.extend(figure_params(&f));
            tx.execute(&update, &args)?;
        }
        tx.commit()?;
    }
}

/// Packs the records stored as `jsonb` by versions before 5 (see [`crate::packed`]), a batch of
/// rows per transaction, in id order; the partial index `runs_unpacked` finds them, so a ledger
/// with none left costs one index probe. Several nodes connecting at once share the work (`SKIP
/// LOCKED`). A record that cannot be packed stays as it is, and is read as it is.
fn pack_records(c: &mut Client) -> Result<(), postgres::Error> {
    let mut after = String::new();
    loop {
        let mut tx = c.transaction()?;
        let rows = tx.query(
            "SELECT id, record_json::text FROM runs WHERE record_packed IS NULL AND id > $1
             ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&after, &FILL_BATCH],
        )?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.get(0);
        let update =
            tx.prepare("UPDATE runs SET record_packed = $2, record_json = NULL WHERE id = $1")?;
        for row in &rows {
            let id: &str = row.get(0);
            let Some(json) = row.get::<_, Option<String>>(1) else {
                continue;
            };
            // jsonb gives keys back in its own order, spaced out: the record as ecotrace writes
            // it packs to about a third of that against the dictionary.
            let json = canonical_json(&json).unwrap_or(json);
            if let Ok(b) = packed::pack(&json) {
                tx.execute(&update, &[&id, &b])?;
            }
        }
        tx.commit()?;
    }
}

impl PostgresLedger {
    /// Calls `f` with each run `filter` selects (and `extra`, an SQL condition, allows), newest
    /// first, as reads show them, fetching [`SCAN_BATCH`] rows at a time; stops when `f` returns
    /// `false`.
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
        let (clauses, args, exact_status) = where_clauses(filter, true);
        let extra = extra.map(|e| format!(" AND {e}")).unwrap_or_default();
        let mut sql = format!(
            "SELECT id, record_packed, record_json::text, heartbeat_at FROM runs WHERE TRUE{clauses}{extra}
             ORDER BY started_at DESC, id DESC"
        );
        // With an exact status the page is cut in SQL; `interrupted` is judged per row below.
        let mut skip_rows = filter.offset;
        if exact_status {
            if limit != usize::MAX {
                sql.push_str(&format!(" LIMIT {limit}"));
            }
            if skip_rows > 0 {
                sql.push_str(&format!(" OFFSET {skip_rows}"));
                skip_rows = 0;
            }
        }
        let view = self.liveness.view();
        self.with_client(|c| {
            // A portal (inside a transaction) hands the rows over a batch at a time.
            let mut tx = c.transaction()?;
            let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
            let portal = tx.bind(sql.as_str(), &params)?;
            let mut skip = skip_rows;
            let mut taken = 0;
            loop {
                let rows = tx.query_portal(&portal, SCAN_BATCH)?;
                if rows.is_empty() {
                    return Ok(());
                }
                for row in rows {
                    let id: String = row.get(0);
                    let record = self.effective(&view, &id, &row, 1)?;
                    if filter.status.is_some_and(|s| s != record.status) {
                        continue;
                    }
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    taken += 1;
                    if !f(record) || taken >= limit {
                        return Ok(());
                    }
                }
            }
        })
    }
}

/// The table an import copies its rows into (`COPY ... FROM STDIN`, binary) before inserting the
/// new ones into `runs`: the columns of [`INSERT_RUN`] in its order (the record's JSON as text, cast
/// to `jsonb` on the way in), emptied at the end of each transaction.
const IMPORT_TABLE: &str = "CREATE TEMP TABLE IF NOT EXISTS import_runs (
    id TEXT, project TEXT, phase TEXT, status TEXT, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ,
    hostname TEXT, tracker_pid BIGINT, heartbeat_at TIMESTAMPTZ, record_version INTEGER,
    record_json TEXT, duration_ns BIGINT, cpu_j FLOAT8, gpu_j FLOAT8, ram_j FLOAT8,
    total_j FLOAT8, operational_g FLOAT8, embodied_g FLOAT8, water_l FLOAT8, cost_usd FLOAT8,
    job_id TEXT, sum_apart BIGINT, record_packed BYTEA, grid_basis TEXT, signal TEXT
) ON COMMIT DELETE ROWS";

/// The types of [`IMPORT_TABLE`]'s columns, for the binary copy.
const IMPORT_TYPES: [Type; 25] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::INT4,
    Type::TEXT,
    Type::INT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::TEXT,
    Type::INT8,
    Type::BYTEA,
    Type::TEXT,
    Type::TEXT,
];

/// Moves the copied rows into `runs`, skipping ids already there (and a second row of one id);
/// returns the ids stored.
const IMPORT_RUNS: &str = "INSERT INTO runs (id, project, phase, status, started_at, ended_at,
     hostname, tracker_pid, heartbeat_at, record_version, record_json, duration_ns, cpu_j, gpu_j,
     ram_j, total_j, operational_g, embodied_g, water_l, cost_usd, job_id, sum_apart,
     record_packed, grid_basis, signal)
 SELECT id, project, phase, status, started_at, ended_at, hostname, tracker_pid, heartbeat_at,
     record_version, record_json::jsonb, duration_ns, cpu_j, gpu_j, ram_j, total_j,
     operational_g, embodied_g, water_l, cost_usd, job_id, sum_apart, record_packed, grid_basis,
     signal
 FROM import_runs
 ON CONFLICT (id) DO NOTHING
 RETURNING id";

impl Ledger for PostgresLedger {
    /// `VACUUM (ANALYZE) runs`: a freshly loaded table has no visibility map, so the reports'
    /// covering index cannot be read alone (`report --by project` over 1,000,000 just-imported
    /// runs: 1.1 s, then 0.3 s once vacuumed), and its planner statistics are stale. Autovacuum
    /// would get there later; this does it now. VACUUM cannot run in a transaction: it is sent
    /// as a simple query. A role that does not own the table gets a warning from the server,
    /// not an error.
    fn tidy_after_import(&mut self) -> Result<(), LedgerError> {
        self.with_client(|c| Ok(c.batch_execute("VACUUM (ANALYZE) runs")?))
    }
    fn import(&mut self, records: &[RunRecord]) -> Result<ImportReport, LedgerError> {
        let mut encoded = Vec::with_capacity(records.len());
        for r in records {
            validate_id(r)?;
            if !r.is_final() {
                return Err(LedgerError::InvalidRecord {
                    id: r.id.clone(),
                    reason: "an imported run must have ended".into(),
                });
            }
            encoded.push(encode(r)?);
        }
        let heartbeat = self.liveness.now();
        let rows: Vec<RunRow<'_>> = records
            .iter()
            .zip(&encoded)
            .map(|(r, stored)| RunRow::new(r, &heartbeat, stored))
            .collect();
        // One transaction: every new run is stored, or none is.
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            tx.batch_execute(IMPORT_TABLE)?;
            let mut copy = BinaryCopyInWriter::new(
                tx.copy_in("COPY import_runs FROM STDIN (FORMAT binary)")?,
                &IMPORT_TYPES,
            );
            for row in &rows {
                copy.write(&row.params())?;
            }
            copy.finish()?;
            let mut stored: std::collections::HashSet<String> = tx
                .query(IMPORT_RUNS, &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            tx.commit()?;
            let mut report = ImportReport::default();
            for r in records {
                // A second row of one id in the batch was not stored: it counts as skipped.
                if stored.remove(&r.id) {
                    report.imported.push(r.id.clone());
                } else {
                    report.skipped.push(r.id.clone());
                }
            }
            Ok(report)
        })
    }

    fn begin(&mut self, record: &RunRecord) -> Result<(), LedgerError> {
        validate_id(record)?;
        if !matches!(record.status, RunStatus::Running | RunStatus::FailedToStart) {
            return Err(LedgerError::InvalidRecord {
                id: record.id.clone(),
                reason: format!(
                    "a run begins as running or failed-to-start, not {}; use finish to end it",
                    record.status
                ),
            });
        }
        let stored = encode(record)?;
        let heartbeat = self.liveness.now();
        self.with_client(|c| {
            let n = c.execute(
                INSERT_RUN,
                &RunRow::new(record, &heartbeat, &stored).params(),
            )?;
            if n == 0 {
                return Err(LedgerError::AlreadyExists {
                    id: record.id.clone(),
                    location: self.location.clone(),
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
        validate_id(record)?;
        if record.status != RunStatus::Running {
            return Err(LedgerError::InvalidRecord {
                id: record.id.clone(),
                reason: format!(
                    "a checkpoint is for a running run, not {}; use finish to end it",
                    record.status
                ),
            });
        }
        self.write_update(record, new_samples, |stored| {
            if stored != RunStatus::Running {
                return Err(LedgerError::AlreadyEnded {
                    id: record.id.clone(),
                    stored,
                    attempted: record.status,
                    location: self.location.clone(),
                });
            }
            Ok(())
        })
    }

    fn finish(
        &mut self,
        record: &RunRecord,
        new_samples: &[PowerSample],
    ) -> Result<(), LedgerError> {
        validate_id(record)?;
        if !record.is_final() {
            return Err(LedgerError::InvalidRecord {
                id: record.id.clone(),
                reason: "finish needs a final status (finished, failed, failed-to-start, interrupted); use checkpoint while it runs".into(),
            });
        }
        let stored = self.write_update(record, new_samples, |stored| {
            // A retried finish (same final status) may overwrite; nothing else may.
            if stored != RunStatus::Running && stored != record.status {
                return Err(LedgerError::AlreadyEnded {
                    id: record.id.clone(),
                    stored,
                    attempted: record.status,
                    location: self.location.clone(),
                });
            }
            Ok(())
        });
        if stored.is_ok() {
            // The run is stored; compacting old samples may fail and is tried again next time.
            if let Some(r) = self.retention {
                let now = self.liveness.now();
                let _ = self.compact_due(r, now);
            }
        }
        stored
    }

    fn get(&self, id_or_prefix: &str) -> Result<RunRecord, LedgerError> {
        let view = self.liveness.view();
        self.with_client(|c| {
            let id = self.resolve(c, id_or_prefix)?;
            let row = c.query_one(
                "SELECT record_packed, record_json::text, heartbeat_at FROM runs WHERE id = $1",
                &[&id],
            )?;
            Ok(self.effective(&view, &id, &row, 0)?)
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
        let key = sums::key_sql(
            by,
            "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM')",
        );
        let (clauses, args, _) = where_clauses(filter, false);
        let sql = format!(
            "SELECT {key}, {}, {basis} FROM runs
             WHERE status <> 'running' AND sum_apart = 0{clauses} GROUP BY 1, {basis}",
            sums::sum_columns(
                |c| format!("COALESCE(SUM({c}), 0)::float8"),
                |c| format!("COALESCE(SUM({c}), 0)::bigint")
            ),
            basis = sums::BASIS_COLUMNS,
        );
        let groups = self.with_client(|c| {
            let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
            let rows = c.query(sql.as_str(), &params)?;
            Ok(rows
                .iter()
                .map(|r| {
                    sums::read_sums(
                        r.get(0),
                        |i| r.try_get(i),
                        |i| r.try_get(i),
                        |i| r.try_get(i),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?)
        })?;
        let mut apart = Vec::new();
        self.scan_where(&sums::unpaged(filter), Some(APART), &mut |r| {
            apart.push(r);
            true
        })?;
        Ok(GroupedSums { groups, apart })
    }

    fn set_sample_retention(&mut self, retention: Option<crate::SampleRetention>) {
        self.retention = retention;
    }

    fn marker(&self, key: &str) -> Result<Option<String>, LedgerError> {
        self.with_client(|c| {
            Ok(
                c.query_opt("SELECT value FROM ledger_meta WHERE key = $1", &[&key])?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn set_marker(&mut self, key: &str, value: &str) -> Result<(), LedgerError> {
        self.with_client(|c| {
            c.execute(
                "INSERT INTO ledger_meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&key, &value],
            )?;
            Ok(())
        })
    }

    fn compact_samples_between(
        &mut self,
        ended_after: Option<DateTime<Utc>>,
        ended_before: DateTime<Utc>,
        bucket: Duration,
    ) -> Result<crate::CompactReport, LedgerError> {
        let width = bucket.as_secs_f64().max(1e-3);
        let ids: Vec<String> = self.with_client(|c| {
            let rows = c.query(
                "SELECT id FROM runs WHERE ended_at IS NOT NULL AND ended_at < $1
                     AND ($2::timestamptz IS NULL OR ended_at >= $2)
                 ORDER BY ended_at",
                &[&ended_before, &ended_after],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?;
        let mut report = crate::CompactReport::default();
        // One transaction per batch of runs, so other writers wait briefly.
        for batch in ids.chunks(100) {
            let done = self.with_client(|c| {
                let mut tx = c.transaction()?;
                let mut done = crate::CompactReport::default();
                for id in batch {
                    if let Some((n, buckets)) = compact_run(&mut tx, id, width, f64::MAX)? {
                        done.count(n, buckets);
                    }
                }
                tx.commit()?;
                Ok(done)
            })?;
            report += done;
        }
        Ok(report)
    }

    fn downsample_samples(
        &mut self,
        run_id: &str,
        before_s: f64,
        bucket: Duration,
    ) -> Result<(), LedgerError> {
        let width = bucket.as_secs_f64().max(1e-3);
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            compact_run(&mut tx, run_id, width, before_s)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn samples(&self, id: &str) -> Result<Vec<PowerSample>, LedgerError> {
        self.with_client(|c| {
            let id = self.resolve(c, id)?;
            let w = |v: Option<f64>| Power::from_watts(v.unwrap_or(f64::NAN));
            Ok(c.query(
                "SELECT t_s, cpu_w, gpu_w, ram_w FROM samples WHERE run_id = $1 ORDER BY seq",
                &[&id],
            )?
            .iter()
            .map(|r| PowerSample {
                t_s: r.get(0),
                cpu_w: w(r.get(1)),
                gpu_w: w(r.get(2)),
                ram_w: w(r.get(3)),
            })
            .collect())
        })
    }

    fn store_hours(&mut self, run_id: &str, rows: &[HourRow]) -> Result<(), LedgerError> {
        if rows.is_empty() {
            return Ok(());
        }
        let encoded = crate::sqlite::encode_hours(run_id, rows)?;
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            for (row, json) in rows.iter().zip(&encoded) {
                tx.execute(
                    "INSERT INTO run_hours (run_id, hour, row_json) VALUES ($1, $2, $3::text::jsonb)
                     ON CONFLICT (run_id, hour) DO UPDATE SET row_json = EXCLUDED.row_json",
                    &[&run_id, &row.hour, &json.as_str()],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn hours(&self, id: &str) -> Result<Vec<HourRow>, LedgerError> {
        self.with_client(|c| {
            let id = self.resolve(c, id)?;
            let jsons: Vec<String> = c
                .query(
                    "SELECT row_json::text FROM run_hours WHERE run_id = $1 ORDER BY hour",
                    &[&id],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            Ok(crate::sqlite::decode_hours(&id, &jsons, &self.location)?)
        })
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

/// Downsamples one run's samples taken before `before` s of run time to one per `width` s (see
/// [`Ledger::compact_samples`]), in `tx`: the counts before and after, or `None` when they are
/// at that resolution already.
fn compact_run(
    tx: &mut postgres::Transaction<'_>,
    id: &str,
    width: f64,
    before: f64,
) -> Result<Option<(i64, i64)>, postgres::Error> {
    let row = tx.query_one(
        "SELECT COUNT(*), COUNT(DISTINCT floor(t_s / $2)) FROM samples WHERE run_id = $1 AND t_s < $3",
        &[&id, &width, &before],
    )?;
    let (n, buckets): (i64, i64) = (row.get(0), row.get(1));
    if n <= buckets {
        return Ok(None);
    }
    tx.batch_execute(
        "CREATE TEMP TABLE IF NOT EXISTS compacted
           (seq BIGINT, t_s DOUBLE PRECISION, cpu_w DOUBLE PRECISION,
            gpu_w DOUBLE PRECISION, ram_w DOUBLE PRECISION);
         TRUNCATE compacted;",
    )?;
    tx.execute(
        "INSERT INTO compacted
         SELECT MIN(seq), MAX(t_s), AVG(cpu_w), AVG(gpu_w), AVG(ram_w)
         FROM samples WHERE run_id = $1 AND t_s < $3 GROUP BY floor(t_s / $2)",
        &[&id, &width, &before],
    )?;
    tx.execute(
        "DELETE FROM samples WHERE run_id = $1 AND t_s < $2",
        &[&id, &before],
    )?;
    tx.execute(
        "INSERT INTO samples (run_id, seq, t_s, cpu_w, gpu_w, ram_w)
         SELECT $1, seq, t_s, cpu_w, gpu_w, ram_w FROM compacted",
        &[&id],
    )?;
    tx.batch_execute("TRUNCATE compacted")?;
    Ok(Some((n, buckets)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_password() {
        assert_eq!(
            redact_url("postgres://me:s3cret@db.example:5432/eco"),
            "postgres://me@db.example:5432/eco"
        );
        assert_eq!(
            redact_url("postgresql://db/eco?sslmode=disable&password=x"),
            "postgresql://db/eco?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://db/eco"), "postgres://db/eco");
    }

    #[test]
    fn a_bad_url_says_how_to_write_one() {
        let e = PostgresLedger::new("postgres://me:pw@host:notaport/db").unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("postgres://USER:PASSWORD@HOST:PORT/DATABASE"),
            "{m}"
        );
        assert!(!m.contains("pw@"), "{m}");
    }

    #[test]
    fn an_unreachable_server_is_unavailable_not_fatal() {
        // Port 1 on loopback: nothing listens there, the connect is refused at once.
        let l = PostgresLedger::new("postgres://u:secret@127.0.0.1:1/db").unwrap();
        let e = l.list(&RunFilter::default()).unwrap_err();
        assert!(matches!(e, LedgerError::Unavailable { .. }), "{e:?}");
        let m = e.to_string();
        assert!(m.contains("postgres://u@127.0.0.1:1/db"), "{m}");
        assert!(!m.contains("secret"), "{m}");
    }
}
