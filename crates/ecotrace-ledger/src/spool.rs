//! The spool: keeps runs locally while their ledger cannot be written, and sends them when it
//! can.
//!
//! [`SpooledLedger`] wraps a ledger (the primary): a shared PostgreSQL ledger, or, for `ecotrace
//! run`, a SQLite file that may be broken (see [`crate::open_for_run`]). Every write goes to the
//! primary first; when it fails with a [`Fault`] of its place (server unreachable, file not a
//! ledger, no permission, disk full, locked by another writer), the run moves to a local SQLite
//! file (the spool) and stays there for the rest of its life, so a run never ends up half in one
//! place and half in the other. Spooled runs are sent when the run ends if the primary is back,
//! else by the next ecotrace command that opens it ([`crate::open`] syncs on every open), or by
//! `ecotrace sync`. A run is removed from the spool only after the primary has accepted its final
//! record and samples. When the spool cannot be written either, the run goes on unrecorded: a loud
//! notice says why, and its final write fails with [`LedgerError::NotRecorded`] so the caller can
//! print the record.
//!
//! Sending is safe with many processes at once: each run is claimed with an exclusive `flock` on a
//! file of its own beside the spool (released by the kernel if the process dies), and a run that
//! another process holds, or that is gone from the spool because it was sent already, is skipped.
//! A spool problem is reported, never raised at open: it must not stop a command.
//!
//! Other errors (a refused statement, a run that already ended) are passed on as they are: the
//! spool is for faults of the ledger's place, not for hiding mistakes. This module must not change
//! records.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ecotrace_core::serving::HourRow;
use ecotrace_core::{PowerSample, RunRecord, RunStatus};

use crate::{Fault, ImportReport, Ledger, LedgerError, RetryPolicy, RunFilter, SqliteLedger};

/// After a fault, how long writes go straight to the spool before the primary is tried again (so
/// that a dead server does not cost every checkpoint a connect timeout).
pub const RETRY_PRIMARY_AFTER: Duration = Duration::from_secs(30);

/// How long a write waits for other writers of the spool before the run goes on unrecorded.
const SPOOL_RETRY: RetryPolicy = RetryPolicy {
    busy_timeout: Duration::from_secs(2),
    max_wait: Duration::from_secs(15),
};

/// What a [`Ledger::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Runs sent to the primary ledger and removed from the spool.
    pub sent: Vec<String>,
    /// Runs still in the spool: being measured right now, or not sent because the primary still
    /// cannot be written.
    pub waiting: usize,
    /// Runs another process was sending at the same time (or had sent already): left to it.
    pub skipped: usize,
    /// Why sending stopped or a run could not be sent, if it did.
    pub error: Option<String>,
    /// Where the spool is.
    pub spool: Option<PathBuf>,
}

/// A ledger with a local spool for the times it cannot be written.
pub struct SpooledLedger {
    primary: Box<dyn Ledger>,
    /// The spool file, or why there is none (no data directory).
    spool_path: Result<PathBuf, String>,
    spool: Option<SqliteLedger>,
    /// Runs of this process whose writes go to the spool.
    spooled: BTreeSet<String>,
    /// Runs of this process that neither the primary nor the spool could take, with why.
    unrecorded: BTreeMap<String, (String, String)>,
    /// Writes skip the primary until then.
    down_until: Option<Instant>,
    /// The last fault of the primary, for runs that skip it while it is down.
    last_fault: Option<(Fault, String)>,
    retry_after: Duration,
    notices: Vec<String>,
    /// Runs sent by [`SpooledLedger::sync_on_open`], reported by the next [`Ledger::sync`].
    sent_on_open: Vec<String>,
}

impl std::fmt::Debug for SpooledLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpooledLedger")
            .field("primary", &self.primary.location())
            .field("spool", &self.spool_path)
            .field("spooled", &self.spooled)
            .finish_non_exhaustive()
    }
}

/// An exclusive claim on one spooled run (an `flock` on its claim file), released on drop.
struct Claim {
    file: File,
    path: PathBuf,
}

impl Claim {
    /// Takes the claim on `id` in `dir` without waiting; `Ok(None)` when another process holds it.
    fn take(dir: &Path, id: &str) -> std::io::Result<Option<Claim>> {
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(dir)?;
        let path = dir.join(claim_name(id));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        // SAFETY: flock on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(Claim { file, path }))
    }

    /// The run has left the spool: its claim file goes too (still under the lock, so a process
    /// that opened it before sees the run gone once it gets the lock).
    fn done(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Why a spooled run was not sent: the primary refused it, or the spool failed.
enum SendError {
    Primary(LedgerError),
    Spool(LedgerError),
}

/// A file name for a run id: the id itself when it is plain, else a hash of it.
fn claim_name(id: &str) -> String {
    let plain = !id.is_empty()
        && id.len() <= 200
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        format!("{id}.claim")
    } else {
        format!("h{:016x}.claim", crate::path::fnv1a(id.as_bytes()))
    }
}

impl SpooledLedger {
    /// Wraps `primary`; runs that cannot be written to it wait in the SQLite file `spool_path`
    /// (created when first needed).
    pub fn new(primary: Box<dyn Ledger>, spool_path: impl Into<PathBuf>) -> Self {
        Self::with_spool(primary, Ok(spool_path.into()))
    }

    /// [`SpooledLedger::new`] where the spool may be missing (`Err` says why): runs the primary
    /// cannot take then go on unrecorded.
    pub fn with_spool(primary: Box<dyn Ledger>, spool_path: Result<PathBuf, String>) -> Self {
        SpooledLedger {
            primary,
            spool_path,
            spool: None,
            spooled: BTreeSet::new(),
            unrecorded: BTreeMap::new(),
            down_until: None,
            last_fault: None,
            retry_after: RETRY_PRIMARY_AFTER,
            notices: Vec::new(),
            sent_on_open: Vec::new(),
        }
    }

    /// How long writes skip the primary after it failed (default [`RETRY_PRIMARY_AFTER`]).
    pub fn with_retry_after(mut self, d: Duration) -> Self {
        self.retry_after = d;
        self
    }

    /// Where runs wait while the primary cannot be written (`None` if there is no place).
    pub fn spool_path(&self) -> Option<&Path> {
        self.spool_path.as_deref().ok()
    }

    /// Ids of this process's runs that are in the spool.
    pub fn spooled(&self) -> impl Iterator<Item = &str> {
        self.spooled.iter().map(String::as_str)
    }

    fn spool(&mut self) -> Result<&mut SqliteLedger, LedgerError> {
        if self.spool.is_none() {
            let path = self
                .spool_path
                .as_ref()
                .map_err(|why| LedgerError::Unopened {
                    fault: Fault::Broken,
                    message: why.clone(),
                })?;
            self.spool = Some(SqliteLedger::open_with_retry(path, SPOOL_RETRY)?);
        }
        Ok(self.spool.as_mut().expect("opened above"))
    }

    fn spool_display(&self) -> String {
        match &self.spool_path {
            Ok(p) => p.display().to_string(),
            Err(_) => "(no spool)".into(),
        }
    }

    fn is_down(&self) -> bool {
        self.down_until.is_some_and(|t| Instant::now() < t)
    }

    fn mark_down(&mut self, e: &LedgerError) {
        self.down_until = Some(Instant::now() + self.retry_after);
        if let Some(f) = e.fault() {
            self.last_fault = Some((f, e.to_string()));
        }
    }

    /// `op` on the primary; `Ok(Err(fault))` when it cannot be written (now, or recently).
    fn try_primary<T>(
        &mut self,
        op: impl FnOnce(&mut dyn Ledger) -> Result<T, LedgerError>,
    ) -> Result<Result<T, (Fault, String)>, LedgerError> {
        if self.is_down() {
            if let Some(f) = &self.last_fault {
                return Ok(Err(f.clone()));
            }
        }
        match op(self.primary.as_mut()) {
            Ok(v) => {
                self.down_until = None;
                Ok(Ok(v))
            }
            Err(e) => match e.fault() {
                Some(f) => {
                    self.mark_down(&e);
                    Ok(Err((f, e.to_string())))
                }
                None => Err(e),
            },
        }
    }

    /// Puts `record` (with `samples`) in the spool, creating its row there if needed. `why` is
    /// the primary's fault. When the spool fails too, the run is marked unrecorded (with a notice)
    /// and the spool's error returned.
    fn keep_locally(
        &mut self,
        record: &RunRecord,
        samples: &[PowerSample],
        why: (Fault, String),
    ) -> Result<(), LedgerError> {
        match self.write_spool(record, samples) {
            Ok(()) => {
                if self.spooled.insert(record.id.clone()) {
                    let (fault, message) = why;
                    let location = self.primary.location();
                    let spool = self.spool_display();
                    self.notices.push(match fault {
                        Fault::Unreachable => format!(
                            "the shared ledger {location} cannot be reached: run {} is kept in {spool} and will be sent on the next ecotrace command that reaches it (or with `ecotrace sync`)",
                            record.id
                        ),
                        _ => format!(
                            "warning: {message}. Run {} goes on and is kept in the fallback spool {spool}; once that is fixed, `ecotrace sync` (or any ecotrace command using the ledger) moves it to {location}",
                            record.id
                        ),
                    });
                }
                Ok(())
            }
            Err(e) => {
                let spool_error = e.to_string();
                if !self.unrecorded.contains_key(&record.id) {
                    self.notices.push(format!(
                        "WARNING: run {} is NOT being recorded. The ledger {}: {}. The fallback spool {}: {spool_error}. The command goes on; its record is printed when it ends",
                        record.id,
                        self.primary.location(),
                        why.1,
                        self.spool_display(),
                    ));
                    self.unrecorded
                        .insert(record.id.clone(), (why.1, spool_error));
                }
                Err(e)
            }
        }
    }

    fn write_spool(
        &mut self,
        record: &RunRecord,
        samples: &[PowerSample],
    ) -> Result<(), LedgerError> {
        let spool = self.spool()?;
        let exists = match spool.stored(&record.id) {
            Ok(_) => true,
            Err(LedgerError::NotFound { .. }) => false,
            Err(e) => return Err(e),
        };
        if !exists {
            let mut first = record.clone();
            if first.status != RunStatus::FailedToStart {
                first.status = RunStatus::Running;
            }
            spool.begin(&first)?;
        }
        match record.status {
            RunStatus::Running => spool.checkpoint(record, samples),
            _ if record.status == RunStatus::FailedToStart && !exists => Ok(()),
            _ => spool.finish(record, samples),
        }
    }

    fn not_recorded(&self, id: &str) -> LedgerError {
        let (ledger, spool) = self.unrecorded.get(id).cloned().unwrap_or_default();
        LedgerError::NotRecorded {
            id: id.to_string(),
            location: self.primary.location(),
            ledger,
            spool,
        }
    }

    /// The directory of the claim files: `<spool>.claims` beside the spool.
    fn claims_dir(&self) -> Option<PathBuf> {
        let p = self.spool_path.as_ref().ok()?;
        let mut name = p.file_name()?.to_os_string();
        name.push(".claims");
        Some(p.with_file_name(name))
    }

    /// Sends one spooled run to the primary and removes it from the spool. `Ok(false)`: another
    /// process holds it, or it has left the spool already (sent by another process).
    fn send(&mut self, id: &str) -> Result<bool, SendError> {
        let spool_err = |message: String| {
            SendError::Spool(LedgerError::Unopened {
                fault: Fault::Broken,
                message,
            })
        };
        let dir = self.claims_dir().ok_or_else(|| {
            spool_err(format!(
                "the spool {} has no usable path",
                self.spool_display()
            ))
        })?;
        let claim = match Claim::take(&dir, id) {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(false),
            Err(e) => {
                return Err(spool_err(format!(
                    "cannot claim run {id} in {}: {e}",
                    dir.display()
                )))
            }
        };
        let (record, samples, hours) = {
            let spool = self.spool().map_err(SendError::Spool)?;
            match spool.stored(id) {
                Ok(s) => (
                    s.record,
                    spool.samples(id).map_err(SendError::Spool)?,
                    spool.hours(id).map_err(SendError::Spool)?,
                ),
                Err(LedgerError::NotFound { .. }) => {
                    claim.done();
                    self.spooled.remove(id);
                    return Ok(false);
                }
                Err(e) => return Err(SendError::Spool(e)),
            }
        };
        let mut first = record.clone();
        if first.status != RunStatus::FailedToStart {
            first.status = RunStatus::Running;
        }
        let primary = self.primary.as_mut();
        match primary.begin(&first) {
            Ok(()) | Err(LedgerError::AlreadyExists { .. }) => {}
            Err(e) => return Err(SendError::Primary(e)),
        }
        // The hourly rows (a serving run's) go with it, before the final write: a run the
        // primary shows ended has its hours. Rows the primary has already (the run left for the
        // spool mid-hour) are replaced by the spool's, which are later.
        if !hours.is_empty() {
            primary
                .store_hours(id, &hours)
                .map_err(SendError::Primary)?;
        }
        let result = if record.status == RunStatus::Running {
            primary.checkpoint(&record, &samples)
        } else if record.status == RunStatus::FailedToStart && samples.is_empty() {
            Ok(())
        } else {
            primary.finish(&record, &samples)
        };
        match result {
            Ok(()) => {}
            // The primary already holds a final version of the run: it wins.
            Err(LedgerError::AlreadyEnded { .. }) => self.notices.push(format!(
                "run {id}: the ledger already had it ended; the spooled copy was dropped"
            )),
            Err(e) => return Err(SendError::Primary(e)),
        }
        self.spool()
            .and_then(|s| s.remove(id))
            .map_err(SendError::Spool)?;
        claim.done();
        self.spooled.remove(id);
        Ok(true)
    }

    /// Sends every spooled run that is not being measured right now. Stops at the first fault of
    /// the primary; a run that cannot be sent for another reason is reported and the others go on.
    /// Never fails: what went wrong is in the report.
    fn sync_all(&mut self) -> SyncReport {
        let mut report = SyncReport {
            spool: self.spool_path.as_ref().ok().cloned(),
            ..Default::default()
        };
        let exists = self.spool_path.as_ref().is_ok_and(|p| p.exists());
        if self.spool.is_none() && !exists {
            return report;
        }
        let runs = match self.spool().and_then(|s| s.list(&RunFilter::default())) {
            Ok(r) => r,
            Err(e) => {
                report.error = Some(format!("cannot read the spool: {e}"));
                return report;
            }
        };
        let mut ids = Vec::new();
        for r in runs {
            // Still `running` (effective status): its tracker is alive and writing to the spool;
            // it is sent when it ends. A dead tracker's run reads as interrupted and is sent.
            if r.status == RunStatus::Running {
                report.waiting += 1;
            } else {
                ids.push(r.id);
            }
        }
        ids.reverse(); // oldest first
        let n = ids.len();
        for (i, id) in ids.into_iter().enumerate() {
            match self.send(&id) {
                Ok(true) => report.sent.push(id),
                Ok(false) => report.skipped += 1,
                Err(SendError::Primary(e)) if e.fault().is_some() => {
                    self.mark_down(&e);
                    report.waiting += n - i;
                    report.error = Some(e.to_string());
                    break;
                }
                Err(SendError::Primary(e) | SendError::Spool(e)) => {
                    report.waiting += 1;
                    report.error.get_or_insert_with(|| format!("run {id}: {e}"));
                }
            }
        }
        report
    }

    /// The error of a read, with a word about runs waiting in the spool.
    fn explain(&self, e: LedgerError) -> LedgerError {
        match e {
            LedgerError::Unavailable { location, reason } if !self.spooled.is_empty() => {
                LedgerError::Unavailable {
                    location,
                    reason: format!(
                        "{reason} (runs of this process wait in {})",
                        self.spool_display()
                    ),
                }
            }
            e => e,
        }
    }
}

impl Ledger for SpooledLedger {
    fn begin(&mut self, record: &RunRecord) -> Result<(), LedgerError> {
        if let Err(why) = self.try_primary(|p| p.begin(record))? {
            // Unrecorded: the run goes on; the notice says so, the final write fails.
            let _ = self.keep_locally(record, &[], why);
        }
        Ok(())
    }

    fn checkpoint(
        &mut self,
        record: &RunRecord,
        new_samples: &[PowerSample],
    ) -> Result<(), LedgerError> {
        if self.unrecorded.contains_key(&record.id) {
            return Err(self.not_recorded(&record.id));
        }
        if self.spooled.contains(&record.id) {
            return self.spool()?.checkpoint(record, new_samples);
        }
        if let Err(why) = self.try_primary(|p| p.checkpoint(record, new_samples))? {
            self.keep_locally(record, new_samples, why)?;
        }
        Ok(())
    }

    fn finish(
        &mut self,
        record: &RunRecord,
        new_samples: &[PowerSample],
    ) -> Result<(), LedgerError> {
        if self.unrecorded.contains_key(&record.id) {
            // One more try, primary first: the problem may have been fixed meanwhile.
            let mut first = record.clone();
            first.status = RunStatus::Running;
            let stored = self.try_primary(|p| {
                p.begin(&first)?;
                p.finish(record, new_samples)
            });
            return match stored {
                Ok(Ok(())) => Ok(()),
                _ => match self.write_spool(record, new_samples) {
                    Ok(()) => {
                        self.unrecorded.remove(&record.id);
                        self.spooled.insert(record.id.clone());
                        Ok(())
                    }
                    Err(_) => Err(self.not_recorded(&record.id)),
                },
            };
        }
        if self.spooled.contains(&record.id) {
            self.spool()?.finish(record, new_samples)?;
        } else if let Err(why) = self.try_primary(|p| p.finish(record, new_samples))? {
            if self.keep_locally(record, new_samples, why).is_err() {
                return Err(self.not_recorded(&record.id));
            }
        }
        // Back already? Send it now rather than on the next command.
        if self.spooled.contains(&record.id) && !self.is_down() {
            match self.send(&record.id) {
                Ok(true) => self.notices.push(format!(
                    "run {} was sent to the ledger {} after it came back",
                    record.id,
                    self.primary.location()
                )),
                Ok(false) => {}
                Err(SendError::Primary(e)) if e.fault().is_some() => self.mark_down(&e),
                // Safe in the spool all the same; the next sync tries again.
                Err(SendError::Primary(e) | SendError::Spool(e)) => self.notices.push(format!(
                    "run {} stays in {} for now: {e}",
                    record.id,
                    self.spool_display()
                )),
            }
        }
        Ok(())
    }

    /// Imports go to the primary in one transaction, or fail: an import is an explicit request,
    /// so an outage is reported (retry later) rather than spooled.
    fn import(&mut self, records: &[RunRecord]) -> Result<ImportReport, LedgerError> {
        let r = self.primary.import(records);
        r.map_err(|e| self.explain(e))
    }

    fn tidy_after_import(&mut self) -> Result<(), LedgerError> {
        let r = self.primary.tidy_after_import();
        r.map_err(|e| self.explain(e))
    }

    fn get(&self, id_or_prefix: &str) -> Result<RunRecord, LedgerError> {
        self.primary.get(id_or_prefix).map_err(|e| self.explain(e))
    }

    fn list(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, LedgerError> {
        self.primary.list(filter).map_err(|e| self.explain(e))
    }

    fn scan(
        &self,
        filter: &RunFilter,
        f: &mut dyn FnMut(RunRecord) -> bool,
    ) -> Result<(), LedgerError> {
        self.primary.scan(filter, f).map_err(|e| self.explain(e))
    }

    fn scan_with_hours(
        &self,
        filter: &RunFilter,
        f: &mut dyn FnMut(RunRecord) -> bool,
    ) -> Result<(), LedgerError> {
        self.primary
            .scan_with_hours(filter, f)
            .map_err(|e| self.explain(e))
    }

    fn group_sums(
        &self,
        filter: &RunFilter,
        by: crate::SumKey,
    ) -> Result<crate::GroupedSums, LedgerError> {
        self.primary
            .group_sums(filter, by)
            .map_err(|e| self.explain(e))
    }

    fn samples(&self, id: &str) -> Result<Vec<PowerSample>, LedgerError> {
        self.primary.samples(id).map_err(|e| self.explain(e))
    }

    /// Hourly rows follow their run: to the spool while the run is kept there (`sync` sends them
    /// with the run and its samples), else to the shared ledger, falling back to the spool during
    /// an outage.
    fn store_hours(&mut self, run_id: &str, rows: &[HourRow]) -> Result<(), LedgerError> {
        if self.unrecorded.contains_key(run_id) {
            return Err(self.not_recorded(run_id));
        }
        if self.spooled.contains(run_id) {
            return self.spool()?.store_hours(run_id, rows);
        }
        // Failing right now: the run's next checkpoint moves it to the spool, and the rows of the
        // current hour are written again with it.
        match self.try_primary(|p| p.store_hours(run_id, rows))? {
            Ok(()) | Err(_) => Ok(()),
        }
    }

    fn hours(&self, id: &str) -> Result<Vec<HourRow>, LedgerError> {
        self.primary.hours(id).map_err(|e| self.explain(e))
    }

    fn location(&self) -> String {
        self.primary.location()
    }

    fn compact_samples_between(
        &mut self,
        ended_after: Option<chrono::DateTime<chrono::Utc>>,
        ended_before: chrono::DateTime<chrono::Utc>,
        bucket: Duration,
    ) -> Result<crate::CompactReport, LedgerError> {
        self.primary
            .compact_samples_between(ended_after, ended_before, bucket)
    }

    fn set_sample_retention(&mut self, retention: Option<crate::SampleRetention>) {
        self.primary.set_sample_retention(retention);
    }

    /// Where the run's samples are: the spool while the run is kept there, else the ledger.
    fn downsample_samples(
        &mut self,
        run_id: &str,
        before_s: f64,
        bucket: Duration,
    ) -> Result<(), LedgerError> {
        if self.unrecorded.contains_key(run_id) {
            return Ok(());
        }
        if self.spooled.contains(run_id) {
            return self.spool()?.downsample_samples(run_id, before_s, bucket);
        }
        match self.try_primary(|p| p.downsample_samples(run_id, before_s, bucket))? {
            Ok(()) | Err(_) => Ok(()),
        }
    }

    fn sync(&mut self) -> Result<SyncReport, LedgerError> {
        // An explicit sync always tries the primary, even right after a fault.
        self.down_until = None;
        let mut report = self.sync_all();
        let mut sent = std::mem::take(&mut self.sent_on_open);
        sent.append(&mut report.sent);
        report.sent = sent;
        Ok(report)
    }

    fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }
}

impl SpooledLedger {
    /// Sends what waits in the spool if the primary answers. Never fails: an outage leaves the
    /// runs waiting (and makes later writes go straight to the spool), and a spool problem becomes
    /// a notice, so that it never stops a command. (`Result` for compatibility.)
    pub fn sync_on_open(&mut self) -> Result<(), LedgerError> {
        let report = self.sync_all();
        if !report.sent.is_empty() {
            self.notices.push(format!(
                "sent {} run(s) that waited in {} to {}",
                report.sent.len(),
                self.spool_display(),
                self.primary.location()
            ));
        }
        if let Some(e) = &report.error {
            if report.sent.is_empty() && report.waiting > 0 && self.is_down() {
                // An outage: the runs wait, as the write notices say.
            } else {
                self.notices.push(format!(
                    "the spool {} was not fully sent: {e}",
                    self.spool_display()
                ));
            }
        }
        self.sent_on_open = report.sent;
        Ok(())
    }
}

/// A ledger that could not be opened: every call answers with why (see [`crate::open_for_run`],
/// whose [`SpooledLedger`] then keeps the run in the spool).
pub(crate) struct Unopened {
    pub location: String,
    pub fault: Fault,
    pub message: String,
}

impl Unopened {
    fn err(&self) -> LedgerError {
        LedgerError::Unopened {
            fault: self.fault,
            message: self.message.clone(),
        }
    }
}

impl Ledger for Unopened {
    fn begin(&mut self, _: &RunRecord) -> Result<(), LedgerError> {
        Err(self.err())
    }
    fn checkpoint(&mut self, _: &RunRecord, _: &[PowerSample]) -> Result<(), LedgerError> {
        Err(self.err())
    }
    fn finish(&mut self, _: &RunRecord, _: &[PowerSample]) -> Result<(), LedgerError> {
        Err(self.err())
    }
    fn get(&self, _: &str) -> Result<RunRecord, LedgerError> {
        Err(self.err())
    }
    fn list(&self, _: &RunFilter) -> Result<Vec<RunRecord>, LedgerError> {
        Err(self.err())
    }
    fn samples(&self, _: &str) -> Result<Vec<PowerSample>, LedgerError> {
        Err(self.err())
    }
    fn location(&self) -> String {
        self.location.clone()
    }
    fn import(&mut self, _: &[RunRecord]) -> Result<ImportReport, LedgerError> {
        Err(self.err())
    }
}
