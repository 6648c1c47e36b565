//! ecotrace-ledger: the run store. Every `ecotrace run` is written here when it starts, checkpointed
//! while it runs, and finalized when it ends, together with its per-interval power samples; the
//! `runs`/`show` commands and reports read it back.
//!
//! The API is the [`Ledger`] trait, with two backends: [`SqliteLedger`] (one file, the default)
//! and [`PostgresLedger`] (a database shared by many nodes, used through [`SpooledLedger`] so that
//! runs survive an outage of the server). Reads report the *effective* status of a run: a stored
//! `running` row whose tracker is gone (dead pid on this host, or no checkpoint for longer than the
//! staleness limit) is returned as `interrupted` (see [`liveness`]).
//!
//! This crate must not measure anything, compute footprints, or print: it stores and returns
//! [`RunRecord`]s and [`PowerSample`]s as given. Reads never modify stored data (a late `finish`
//! from a tracker that was only slow must still land).

mod compat;
mod error;
pub mod liveness;
mod packed;
mod path;
mod postgres;
pub mod schema;
mod spool;
mod sqlite;
mod sums;

use chrono::{DateTime, Utc};
use ecotrace_core::serving::HourRow;
use ecotrace_core::{Phase, PowerSample, RunRecord, RunStatus};

pub use error::{Fault, LedgerError};

pub use liveness::{
    Clock, InterruptCause, Interruption, Liveness, ManualClock, PidState, SystemClock, SystemProbe,
    TrackerProbe, DEFAULT_STALE_AFTER,
};
pub use path::{default_path, default_path_from, default_spool_path, fallback_path};
pub use postgres::{PostgresLedger, DEFAULT_CONNECT_TIMEOUT};
pub use schema::SCHEMA_VERSION;
pub use spool::{SpooledLedger, SyncReport, RETRY_PRIMARY_AFTER};
pub use sqlite::{RetryPolicy, SqliteLedger, StoredRun};
pub use sums::{GroupedSums, RunSums, SumKey};

/// Shortest id prefix [`Ledger::get`] accepts (a full id of any length is always accepted).
pub const MIN_PREFIX_LEN: usize = 4;

/// Every run a scan gives, collected: [`Ledger::list`] for backends that read by scanning.
pub(crate) fn collect_scan(
    scan: impl FnOnce(&mut dyn FnMut(RunRecord) -> bool) -> Result<(), LedgerError>,
) -> Result<Vec<RunRecord>, LedgerError> {
    let mut out = Vec::new();
    scan(&mut |r| {
        out.push(r);
        true
    })?;
    Ok(out)
}

/// The run store. One implementation per backend (SQLite, PostgreSQL); callers hold a
/// `Box<dyn Ledger>` from [`open`].
pub trait Ledger: Send {
    /// Inserts a new run (status running or failed-to-start). Errors if the id exists.
    fn begin(&mut self, record: &RunRecord) -> Result<(), LedgerError>;
    /// Replaces the stored record (same id) and appends new samples; updates the heartbeat.
    fn checkpoint(
        &mut self,
        record: &RunRecord,
        new_samples: &[PowerSample],
    ) -> Result<(), LedgerError>;
    /// Final write: record with a final status, remaining samples.
    fn finish(
        &mut self,
        record: &RunRecord,
        new_samples: &[PowerSample],
    ) -> Result<(), LedgerError>;
    /// One run by full id or unique id prefix (≥ 4 chars). NotFound / Ambiguous (lists candidates) errors.
    fn get(&self, id_or_prefix: &str) -> Result<RunRecord, LedgerError>;
    /// Runs matching `filter`, newest first (by `started_at`).
    fn list(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, LedgerError>;
    /// Calls `f` with each run `filter` selects, in the order of [`Ledger::list`], reading them
    /// one at a time rather than all at once; stops early when `f` returns `false`.
    fn scan(
        &self,
        filter: &RunFilter,
        f: &mut dyn FnMut(RunRecord) -> bool,
    ) -> Result<(), LedgerError> {
        for r in self.list(filter)? {
            if !f(r) {
                break;
            }
        }
        Ok(())
    }
    /// [`Ledger::scan`] of the runs `filter` selects that have hourly rows (serving runs, see
    /// [`Ledger::hours`]), without reading the others. This default reads every run and passes on
    /// the serving ones.
    fn scan_with_hours(
        &self,
        filter: &RunFilter,
        f: &mut dyn FnMut(RunRecord) -> bool,
    ) -> Result<(), LedgerError> {
        self.scan(filter, &mut |r| {
            if r.serving.is_some() {
                f(r)
            } else {
                true
            }
        })
    }
    /// The runs `filter` selects (its limit and offset aside), summed per group of `by` by the
    /// database, and the runs it leaves to the caller (see [`GroupedSums`]). This default, for backends
    /// without SQL sums, leaves every run to the caller.
    fn group_sums(&self, filter: &RunFilter, by: SumKey) -> Result<GroupedSums, LedgerError> {
        let _ = by;
        let all = RunFilter {
            limit: None,
            offset: 0,
            ..filter.clone()
        };
        Ok(GroupedSums {
            groups: Vec::new(),
            apart: self.list(&all)?,
        })
    }
    /// The power samples of one run (full id or unique prefix), in time order.
    fn samples(&self, id: &str) -> Result<Vec<PowerSample>, LedgerError>;
    /// Stores hourly rows of a serving run, replacing any stored row of the same hour (the
    /// current hour is rewritten at each checkpoint). This default is for backends that cannot
    /// keep them: it says so rather than dropping them silently.
    fn store_hours(&mut self, run_id: &str, rows: &[HourRow]) -> Result<(), LedgerError> {
        if rows.is_empty() {
            return Ok(());
        }
        Err(LedgerError::InvalidRecord {
            id: run_id.to_string(),
            reason: format!("{} cannot store hourly rows", self.location()),
        })
    }
    /// The hourly rows of one run (full id or unique prefix), in time order.
    fn hours(&self, _id: &str) -> Result<Vec<HourRow>, LedgerError> {
        Ok(Vec::new())
    }
    /// Where the ledger lives, for messages ("ledger: /home/u/.local/share/ecotrace/ledger.db").
    /// Never includes a password.
    fn location(&self) -> String;
    /// Adds runs that ended elsewhere (e.g. read by `ecotrace import codecarbon`). Runs whose id
    /// is already stored are skipped, so importing the same file twice adds nothing twice; the
    /// others are stored as given, with their final status. The SQLite ledger does it in one
    /// transaction: all of them or none. This default, for backends without that, stores them one
    /// by one with `begin` and `finish`.
    fn import(&mut self, records: &[RunRecord]) -> Result<ImportReport, LedgerError> {
        let mut report = ImportReport::default();
        for r in records {
            if !r.is_final() {
                return Err(LedgerError::InvalidRecord {
                    id: r.id.clone(),
                    reason: "an imported run must have ended".into(),
                });
            }
            if self.get(&r.id).is_ok_and(|stored| stored.id == r.id) {
                report.skipped.push(r.id.clone());
                continue;
            }
            let mut start = r.clone();
            start.status = RunStatus::Running;
            self.begin(&start)?;
            self.finish(r, &[])?;
            report.imported.push(r.id.clone());
        }
        Ok(report)
    }
    /// Called once after a bulk import (`ecotrace import codecarbon`) has stored its last batch,
    /// so that the database can bring its statistics and visibility information up to date at
    /// once instead of whenever its background maintenance gets to it. Best effort: the runs are
    /// stored whether or not it succeeds. Nothing to do for SQLite.
    fn tidy_after_import(&mut self) -> Result<(), LedgerError> {
        Ok(())
    }
    /// Downsamples the power samples of runs that ended before `ended_before` to one per
    /// `bucket` of run time: each kept sample is the mean power of its bucket (per component;
    /// unknown readings left out), at the time of the bucket's last sample. Records, and so every
    /// energy and CO2e figure, are unchanged; runs already at that resolution are left alone, so
    /// compacting again changes nothing.
    fn compact_samples(
        &mut self,
        ended_before: DateTime<Utc>,
        bucket: std::time::Duration,
    ) -> Result<CompactReport, LedgerError> {
        self.compact_samples_between(None, ended_before, bucket)
    }
    /// [`Ledger::compact_samples`] for the runs that ended in `[ended_after, ended_before)`
    /// (`None`: since the beginning). This default is for backends that cannot.
    fn compact_samples_between(
        &mut self,
        ended_after: Option<DateTime<Utc>>,
        ended_before: DateTime<Utc>,
        bucket: std::time::Duration,
    ) -> Result<CompactReport, LedgerError> {
        let _ = (ended_after, ended_before, bucket);
        Err(LedgerError::Unsupported {
            spec: self.location(),
            reason: "this ledger cannot compact its samples".into(),
        })
    }
    /// Downsamples the samples one run took before `before_s` seconds of run time, as
    /// [`Ledger::compact_samples`] does for ended runs: a long-running run (a server measured for
    /// weeks) keeps its last hours at full rate and one sample per `bucket` before. Buckets
    /// already downsampled are left alone. This default keeps every sample (a backend that
    /// cannot rewrite them).
    fn downsample_samples(
        &mut self,
        run_id: &str,
        before_s: f64,
        bucket: std::time::Duration,
    ) -> Result<(), LedgerError> {
        let _ = (run_id, before_s, bucket);
        Ok(())
    }
    /// Keeps samples downsampled past `retention`: after this ledger's final writes, the samples
    /// of runs that ended longer ago than its age are compacted (at most once per
    /// [`AUTO_COMPACT_EVERY`], from where the last compaction stopped). `None` (the default):
    /// never automatically.
    fn set_sample_retention(&mut self, retention: Option<SampleRetention>) {
        let _ = retention;
    }
    /// A value the ledger keeps about itself (`ledger_meta`), e.g. where automatic compaction
    /// stopped. This default keeps none.
    fn marker(&self, key: &str) -> Result<Option<String>, LedgerError> {
        let _ = key;
        Ok(None)
    }
    /// Sets a [`Ledger::marker`]. This default keeps none.
    fn set_marker(&mut self, key: &str, value: &str) -> Result<(), LedgerError> {
        let _ = (key, value);
        Ok(())
    }
    /// The automatic compaction of [`Ledger::set_sample_retention`], if due at `now`: compacts the
    /// runs that ended between the last cutoff and `now - retention.older_than`, and records the
    /// new cutoff. `None` when it is not due (done less than [`AUTO_COMPACT_EVERY`] ago).
    fn compact_due(
        &mut self,
        retention: SampleRetention,
        now: DateTime<Utc>,
    ) -> Result<Option<CompactReport>, LedgerError> {
        let Ok(age) = chrono::Duration::from_std(retention.older_than) else {
            return Ok(None);
        };
        let cutoff = now - age;
        let from = self
            .marker(COMPACTED_BEFORE)?
            .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .map(|t| t.with_timezone(&Utc));
        let every = chrono::Duration::from_std(AUTO_COMPACT_EVERY).unwrap_or_default();
        if from.is_some_and(|f| cutoff < f + every) {
            return Ok(None);
        }
        let report = self.compact_samples_between(from, cutoff, retention.bucket)?;
        self.set_marker(COMPACTED_BEFORE, &cutoff.to_rfc3339())?;
        Ok(Some(report))
    }
    /// Sends runs kept locally during an outage of a shared ledger (see [`SpooledLedger`]). A
    /// ledger without a spool has nothing to send.
    fn sync(&mut self) -> Result<SyncReport, LedgerError> {
        Ok(SyncReport::default())
    }
    /// Things the user should be told that are not errors (a run kept in the spool, spooled runs
    /// sent); each returned once.
    fn take_notices(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// How long power samples are kept at full resolution, and the resolution after (see
/// [`Ledger::set_sample_retention`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRetention {
    /// Runs that ended longer ago than this are compacted.
    pub older_than: std::time::Duration,
    /// To one sample per this much run time.
    pub bucket: std::time::Duration,
}

/// 90 days, then one sample a minute (as `ecotrace ledger compact` by default).
pub const DEFAULT_SAMPLE_RETENTION: SampleRetention = SampleRetention {
    older_than: std::time::Duration::from_secs(90 * 86_400),
    bucket: std::time::Duration::from_secs(60),
};

/// The automatic compaction of samples runs at most this often.
pub const AUTO_COMPACT_EVERY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// The [`Ledger::marker`] of the automatic compaction: the cutoff it last compacted to.
const COMPACTED_BEFORE: &str = "samples_compacted_before";

/// What [`Ledger::compact_samples`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Runs whose samples were downsampled.
    pub runs: usize,
    /// Their samples before and after.
    pub samples_before: u64,
    pub samples_after: u64,
}

impl CompactReport {
    /// Counts one run compacted from `before` samples to `after`.
    pub fn count(&mut self, before: i64, after: i64) {
        self.runs += 1;
        self.samples_before += u64::try_from(before).unwrap_or(0);
        self.samples_after += u64::try_from(after).unwrap_or(0);
    }
}

impl std::ops::AddAssign for CompactReport {
    fn add_assign(&mut self, o: CompactReport) {
        self.runs += o.runs;
        self.samples_before += o.samples_before;
        self.samples_after += o.samples_after;
    }
}

/// What [`Ledger::import`] did: the ids stored, and the ids skipped because the ledger already
/// held them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: Vec<String>,
    pub skipped: Vec<String>,
}

/// Which runs [`Ledger::list`] returns. Every `None` field matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    pub project: Option<String>,
    pub phase: Option<Phase>,
    /// Matches the *effective* status: a stale `running` row matches `interrupted`, not `running`.
    pub status: Option<RunStatus>,
    /// Runs started at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// At most this many runs (the newest ones).
    pub limit: Option<usize>,
    /// Skip this many of the newest matching runs first (pages of `runs`).
    pub offset: usize,
}

/// `spec` as it may be shown: a PostgreSQL URL without its password, a path as it is.
pub fn display_spec(spec: &str) -> String {
    match path::parse_spec(spec) {
        Ok(path::Spec::Postgres(url)) => postgres::redact_url(&url),
        _ => spec.trim().to_string(),
    }
}

/// Whether `spec` names a PostgreSQL ledger (a `postgres://` or `postgresql://` URL).
pub fn names_postgres(spec: &str) -> bool {
    matches!(path::parse_spec(spec), Ok(path::Spec::Postgres(_)))
}

/// Opens the ledger named by `spec`: a filesystem path (SQLite; `file://` and `sqlite://` URLs are
/// accepted as paths), or a `postgres://` / `postgresql://` URL. Creates the file and schema if
/// needed.
///
/// A PostgreSQL ledger comes wrapped in a [`SpooledLedger`] whose spool is
/// [`default_spool_path`]; runs waiting there from an earlier outage are sent now if the server
/// answers (the connection is otherwise opened on first use). A SQLite ledger with runs waiting in
/// its fallback spool ([`fallback_path`], from runs that could not write it) is wrapped likewise,
/// and those runs are moved into it now.
pub fn open(spec: &str) -> Result<Box<dyn Ledger>, LedgerError> {
    match path::parse_spec(spec)? {
        path::Spec::Sqlite(p) => {
            let ledger = SqliteLedger::open(&p)?;
            match fallback_path(&p) {
                Ok(f) if f.exists() => {
                    let mut l = SpooledLedger::new(Box::new(ledger), f);
                    l.sync_on_open()?;
                    Ok(Box::new(l))
                }
                _ => Ok(Box::new(ledger)),
            }
        }
        path::Spec::Postgres(url) => {
            let primary = PostgresLedger::new(&url)?;
            let mut l = SpooledLedger::new(Box::new(primary), default_spool_path()?);
            l.sync_on_open()?;
            Ok(Box::new(l))
        }
    }
}

/// How long a run waits for another writer of its SQLite ledger before it goes to the fallback
/// spool: a tracker must not hold up the command it measures.
pub const RUN_RETRY: RetryPolicy = RetryPolicy {
    busy_timeout: std::time::Duration::from_secs(1),
    max_wait: std::time::Duration::from_secs(5),
};

/// Opens the ledger for a run that must go on whatever happens to the ledger (`ecotrace run`, the
/// Python tracker): `spec` as in [`open`], `None` for [`default_path`]. Fails only for a spec that
/// names no ledger (a usage error). A SQLite ledger that cannot be opened or written (not a
/// ledger, no permission, a full disk, locked by another writer for longer than [`RUN_RETRY`]) or
/// a PostgreSQL server that cannot be reached sends the run to a spool ([`fallback_path`], or
/// [`default_spool_path`] for PostgreSQL), with a notice that names the problem and what to do;
/// when the spool cannot be written either, the run goes on unrecorded, with a loud notice, and its
/// final write fails with [`LedgerError::NotRecorded`].
pub fn open_for_run(spec: Option<&str>) -> Result<Box<dyn Ledger>, LedgerError> {
    open_for_run_with(spec, &|url: &str| Ok(Box::new(PostgresLedger::new(url)?)))
}

/// Opens a PostgreSQL ledger from its URL, for [`open_for_run_with`].
pub type PostgresOpener<'a> = &'a dyn Fn(&str) -> Result<Box<dyn Ledger>, LedgerError>;

/// [`open_for_run`], with the PostgreSQL ledger opened by `postgres`: a binary that calls only this
/// (and checks [`names_postgres`] first) links no PostgreSQL client (`ecotrace-run`).
pub fn open_for_run_with(
    spec: Option<&str>,
    postgres: PostgresOpener,
) -> Result<Box<dyn Ledger>, LedgerError> {
    let spec = match spec {
        Some(s) => path::parse_spec(s)?,
        None => match default_path() {
            Ok(p) => path::Spec::Sqlite(p),
            Err(e) => {
                let primary = spool::Unopened {
                    location: "(default ledger)".into(),
                    fault: Fault::Broken,
                    message: e.to_string(),
                };
                return Ok(Box::new(SpooledLedger::with_spool(
                    Box::new(primary),
                    Err(e.to_string()),
                )));
            }
        },
    };
    let (primary, spool): (Box<dyn Ledger>, _) = match spec {
        path::Spec::Sqlite(p) => {
            let primary: Box<dyn Ledger> = match SqliteLedger::open_with_retry(&p, RUN_RETRY) {
                Ok(l) => Box::new(l),
                Err(e) => match e.fault() {
                    Some(fault) => Box::new(spool::Unopened {
                        location: p.display().to_string(),
                        fault,
                        message: e.to_string(),
                    }),
                    None => return Err(e),
                },
            };
            (primary, fallback_path(&p))
        }
        path::Spec::Postgres(url) => (postgres(&url)?, default_spool_path()),
    };
    let mut l = SpooledLedger::with_spool(primary, spool.map_err(|e| e.to_string()));
    l.sync_on_open()?;
    Ok(Box::new(l))
}

/// The runs waiting in the spool of the ledger `spec` names (`None`: the default ledger), newest
/// first, with where they wait: for `ecotrace runs` while the ledger itself cannot be read.
/// `Ok(None)` when nothing waits.
pub fn spooled_runs(
    spec: Option<&str>,
    filter: &RunFilter,
) -> Result<Option<(std::path::PathBuf, Vec<RunRecord>)>, LedgerError> {
    let spool = match spec.map(path::parse_spec).transpose()? {
        Some(path::Spec::Postgres(_)) => default_spool_path()?,
        Some(path::Spec::Sqlite(p)) => fallback_path(&p)?,
        None => fallback_path(&default_path()?)?,
    };
    if !spool.exists() {
        return Ok(None);
    }
    let runs = SqliteLedger::open(&spool)?.list(filter)?;
    Ok((!runs.is_empty()).then_some((spool, runs)))
}
