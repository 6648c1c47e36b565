//! The spool: keeps runs locally while a shared ledger cannot be reached, and sends them when it
//! is back.
//!
//! [`SpooledLedger`] wraps the shared ledger (PostgreSQL). Every write goes to it first; when it
//! answers [`LedgerError::Unavailable`], the run moves to a local SQLite file (the spool, by
//! default `$XDG_DATA_HOME/ecotrace/spool.db`, or `$ECOTRACE_SPOOL`) and stays there for the rest
//! of its life, so a run never ends up half in one place and half in the other. Spooled runs are
//! sent when the run ends if the server is back, else by the next ecotrace command that reaches
//! the server ([`crate::open`] syncs on every open), or by `ecotrace sync`. A run is removed from
//! the spool only after the shared ledger has accepted its final record and samples.
//!
//! Other errors (a refused statement, a run that already ended) are passed on as they are: the
//! spool is for outages, not for hiding mistakes. This module must not change records.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ecotrace_core::{PowerSample, RunRecord, RunStatus};

use crate::{ImportReport, Ledger, LedgerError, RunFilter, SqliteLedger};

/// After an outage, how long writes go straight to the spool before the server is tried again
/// (so that a dead server does not cost every checkpoint a connect timeout).
pub const RETRY_PRIMARY_AFTER: Duration = Duration::from_secs(30);

/// What a [`Ledger::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Runs sent to the shared ledger and removed from the spool.
    pub sent: Vec<String>,
    /// Runs still in the spool: being measured right now, or not sent because the server is
    /// still unreachable.
    pub waiting: usize,
    /// Why sending stopped, if it did.
    pub error: Option<String>,
    /// Where the spool is.
    pub spool: Option<PathBuf>,
}

/// A shared ledger with a local spool for outages.
pub struct SpooledLedger {
    primary: Box<dyn Ledger>,
    spool_path: PathBuf,
    spool: Option<SqliteLedger>,
    /// Runs of this process whose writes go to the spool.
    spooled: BTreeSet<String>,
    /// Writes skip the server until then.
    down_until: Option<Instant>,
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

impl SpooledLedger {
    /// Wraps `primary`; runs that cannot reach it wait in the SQLite file `spool_path` (created
    /// when first needed).
    pub fn new(primary: Box<dyn Ledger>, spool_path: impl Into<PathBuf>) -> Self {
        SpooledLedger {
            primary,
            spool_path: spool_path.into(),
            spool: None,
            spooled: BTreeSet::new(),
            down_until: None,
            retry_after: RETRY_PRIMARY_AFTER,
            notices: Vec::new(),
            sent_on_open: Vec::new(),
        }
    }

    /// How long writes skip the server after it failed (default [`RETRY_PRIMARY_AFTER`]).
    pub fn with_retry_after(mut self, d: Duration) -> Self {
        self.retry_after = d;
        self
    }

    /// Where runs wait during an outage.
    pub fn spool_path(&self) -> &Path {
        &self.spool_path
    }

    /// Ids of this process's runs that are in the spool.
    pub fn spooled(&self) -> impl Iterator<Item = &str> {
        self.spooled.iter().map(String::as_str)
    }

    fn spool(&mut self) -> Result<&mut SqliteLedger, LedgerError> {
        if self.spool.is_none() {
            self.spool = Some(SqliteLedger::open(&self.spool_path)?);
        }
        Ok(self.spool.as_mut().expect("opened above"))
    }

    fn is_down(&self) -> bool {
        self.down_until.is_some_and(|t| Instant::now() < t)
    }

    fn mark_down(&mut self) {
        self.down_until = Some(Instant::now() + self.retry_after);
    }

    /// `op` on the shared ledger; `Ok(None)` when it is unreachable (now, or recently).
    fn try_primary<T>(
        &mut self,
        op: impl FnOnce(&mut dyn Ledger) -> Result<T, LedgerError>,
    ) -> Result<Option<T>, LedgerError> {
        if self.is_down() {
            return Ok(None);
        }
        match op(self.primary.as_mut()) {
            Ok(v) => {
                self.down_until = None;
                Ok(Some(v))
            }
            Err(LedgerError::Unavailable { .. }) => {
                self.mark_down();
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Puts `record` (with `samples`) in the spool, creating its row there if needed.
    fn keep_locally(
        &mut self,
        record: &RunRecord,
        samples: &[PowerSample],
    ) -> Result<(), LedgerError> {
        let location = self.primary.location();
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
            RunStatus::Running => spool.checkpoint(record, samples)?,
            _ if record.status == RunStatus::FailedToStart && !exists => {}
            _ => spool.finish(record, samples)?,
        }
        if self.spooled.insert(record.id.clone()) {
            self.notices.push(format!(
                "the shared ledger {location} cannot be reached: run {} is kept in {} and will be sent on the next ecotrace command that reaches it (or with `ecotrace sync`)",
                record.id,
                self.spool_path.display()
            ));
        }
        Ok(())
    }

    /// Sends one spooled run to the shared ledger and removes it from the spool.
    fn send(&mut self, id: &str) -> Result<(), LedgerError> {
        let (record, samples) = {
            let spool = self.spool()?;
            (spool.stored(id)?.record, spool.samples(id)?)
        };
        let mut first = record.clone();
        if first.status != RunStatus::FailedToStart {
            first.status = RunStatus::Running;
        }
        let primary = self.primary.as_mut();
        match primary.begin(&first) {
            Ok(()) | Err(LedgerError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
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
            // The shared ledger already holds a final version of the run: it wins.
            Err(LedgerError::AlreadyEnded { .. }) => self.notices.push(format!(
                "run {id}: the shared ledger already had it ended; the spooled copy was dropped"
            )),
            Err(e) => return Err(e),
        }
        self.spool()?.remove(id)?;
        self.spooled.remove(id);
        Ok(())
    }

    /// Sends every spooled run that is not being measured right now. Stops at the first outage.
    fn sync_all(&mut self) -> Result<SyncReport, LedgerError> {
        let mut report = SyncReport {
            spool: Some(self.spool_path.clone()),
            ..Default::default()
        };
        if self.spool.is_none() && !self.spool_path.exists() {
            return Ok(report);
        }
        let runs = self.spool()?.list(&RunFilter::default())?;
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
                Ok(()) => report.sent.push(id),
                Err(e @ LedgerError::Unavailable { .. }) => {
                    self.mark_down();
                    report.waiting += n - i;
                    report.error = Some(e.to_string());
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// The error of a read, with a word about runs waiting in the spool.
    fn explain(&self, e: LedgerError) -> LedgerError {
        match e {
            LedgerError::Unavailable { location, reason } if !self.spooled.is_empty() => {
                LedgerError::Unavailable {
                    location,
                    reason: format!(
                        "{reason} (runs of this process wait in {})",
                        self.spool_path.display()
                    ),
                }
            }
            e => e,
        }
    }
}

impl Ledger for SpooledLedger {
    fn begin(&mut self, record: &RunRecord) -> Result<(), LedgerError> {
        if self.try_primary(|p| p.begin(record))?.is_none() {
            self.keep_locally(record, &[])?;
        }
        Ok(())
    }

    fn checkpoint(
        &mut self,
        record: &RunRecord,
        new_samples: &[PowerSample],
    ) -> Result<(), LedgerError> {
        if self.spooled.contains(&record.id) {
            return self.spool()?.checkpoint(record, new_samples);
        }
        if self
            .try_primary(|p| p.checkpoint(record, new_samples))?
            .is_none()
        {
            self.keep_locally(record, new_samples)?;
        }
        Ok(())
    }

    fn finish(
        &mut self,
        record: &RunRecord,
        new_samples: &[PowerSample],
    ) -> Result<(), LedgerError> {
        if self.spooled.contains(&record.id) {
            self.spool()?.finish(record, new_samples)?;
        } else if self
            .try_primary(|p| p.finish(record, new_samples))?
            .is_none()
        {
            self.keep_locally(record, new_samples)?;
        }
        // Back already? Send it now rather than on the next command.
        if self.spooled.contains(&record.id) && !self.is_down() {
            match self.send(&record.id) {
                Ok(()) => self.notices.push(format!(
                    "run {} was sent to the shared ledger {} after it came back",
                    record.id,
                    self.primary.location()
                )),
                Err(LedgerError::Unavailable { .. }) => self.mark_down(),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Imports go to the shared ledger in one transaction, or fail: an import is an explicit
    /// request, so an outage is reported (retry later) rather than spooled.
    fn import(&mut self, records: &[RunRecord]) -> Result<ImportReport, LedgerError> {
        let r = self.primary.import(records);
        r.map_err(|e| self.explain(e))
    }

    fn get(&self, id_or_prefix: &str) -> Result<RunRecord, LedgerError> {
        self.primary.get(id_or_prefix).map_err(|e| self.explain(e))
    }

    fn list(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, LedgerError> {
        self.primary.list(filter).map_err(|e| self.explain(e))
    }

    fn samples(&self, id: &str) -> Result<Vec<PowerSample>, LedgerError> {
        self.primary.samples(id).map_err(|e| self.explain(e))
    }

    fn location(&self) -> String {
        self.primary.location()
    }

    fn sync(&mut self) -> Result<SyncReport, LedgerError> {
        // An explicit sync always tries the server, even right after an outage.
        self.down_until = None;
        let mut report = self.sync_all()?;
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
    /// Sends what waits in the spool if the server answers; an outage is not an error here (the
    /// runs keep waiting), and it makes later writes go straight to the spool.
    pub fn sync_on_open(&mut self) -> Result<(), LedgerError> {
        let report = self.sync_all()?;
        if !report.sent.is_empty() {
            self.notices.push(format!(
                "sent {} run(s) that waited in {} to {}",
                report.sent.len(),
                self.spool_path.display(),
                self.primary.location()
            ));
        }
        self.sent_on_open = report.sent;
        Ok(())
    }
}
