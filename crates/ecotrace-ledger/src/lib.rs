//! ecotrace-ledger: the run store. Every `ecotrace run` is written here when it starts, checkpointed
//! while it runs, and finalized when it ends, together with its per-interval power samples; the
//! `runs`/`show` commands and reports read it back.
//!
//! The API is the [`Ledger`] trait, so that a PostgreSQL backend can be added beside
//! [`SqliteLedger`] without touching callers. Reads report the *effective* status of a run: a stored
//! `running` row whose tracker is gone (dead pid on this host, or no checkpoint for longer than the
//! staleness limit) is returned as `interrupted` (see [`liveness`]).
//!
//! This crate must not measure anything, compute footprints, or print: it stores and returns
//! [`RunRecord`]s and [`PowerSample`]s as given. Reads never modify stored data (a late `finish`
//! from a tracker that was only slow must still land).

mod compat;
mod error;
pub mod liveness;
mod path;
pub mod schema;
mod sqlite;

use chrono::{DateTime, Utc};
use ecotrace_core::{Phase, PowerSample, RunRecord, RunStatus};

pub use error::LedgerError;
pub use liveness::{
    Clock, InterruptCause, Interruption, Liveness, ManualClock, PidState, SystemClock, SystemProbe,
    TrackerProbe, DEFAULT_STALE_AFTER,
};
pub use path::{default_path, default_path_from};
pub use schema::SCHEMA_VERSION;
pub use sqlite::{RetryPolicy, SqliteLedger, StoredRun};

/// Shortest id prefix [`Ledger::get`] accepts (a full id of any length is always accepted).
pub const MIN_PREFIX_LEN: usize = 4;

/// The run store. One implementation per backend (SQLite now, PostgreSQL later); callers hold a
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
    /// The power samples of one run (full id or unique prefix), in time order.
    fn samples(&self, id: &str) -> Result<Vec<PowerSample>, LedgerError>;
    /// Where the ledger lives, for messages ("ledger: /home/u/.local/share/ecotrace/ledger.db").
    fn location(&self) -> String;
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
}

/// Opens the ledger named by `spec`: a filesystem path (SQLite), or later `postgres://...` (for
/// now: a clear "not supported yet" error). Creates the file and schema if needed.
///
/// `file://` and `sqlite://` URLs are accepted as paths.
pub fn open(spec: &str) -> Result<Box<dyn Ledger>, LedgerError> {
    let path = path::resolve_spec(spec)?;
    Ok(Box::new(SqliteLedger::open(path)?))
}
