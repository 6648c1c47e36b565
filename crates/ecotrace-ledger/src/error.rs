//! The ledger's error type. Every message names the ledger or run involved and says what to do
//! next. Backend-neutral: no SQLite type appears in it, so a PostgreSQL backend reuses it as is.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use ecotrace_core::RunStatus;

/// Anything that can go wrong opening, writing or reading a ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("no run with id '{id}' in ledger {location}; `ecotrace runs` lists runs")]
    NotFound { id: String, location: String },

    #[error(
        "run id prefix '{prefix}' matches {n} runs in ledger {location}: {list}; give more characters of the id",
        n = .candidates.len(),
        list = candidate_list(.candidates)
    )]
    Ambiguous {
        prefix: String,
        /// Full ids of the matching runs, newest first.
        candidates: Vec<String>,
        location: String,
    },

    #[error(
        "no run with id '{prefix}' in ledger {location}, and a prefix needs at least {min} characters; `ecotrace runs` lists runs"
    )]
    PrefixTooShort {
        prefix: String,
        min: usize,
        location: String,
    },

    #[error("run '{id}' already exists in ledger {location}; a new run needs a new id")]
    AlreadyExists { id: String, location: String },

    #[error(
        "run '{id}' has already ended ({stored}) in ledger {location}, so it cannot be written again as {attempted}; start a new run instead"
    )]
    AlreadyEnded {
        id: String,
        stored: RunStatus,
        attempted: RunStatus,
        location: String,
    },

    #[error("cannot store run '{id}': {reason}")]
    InvalidRecord { id: String, reason: String },

    #[error(
        "cannot create the ledger directory {}: {source}; pass a path in a writable directory with --ledger, or set XDG_DATA_HOME",
        dir.display()
    )]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "cannot open ledger {}: {reason}; check that the file and its directory are writable, or pass another path with --ledger",
        path.display()
    )]
    CannotOpen { path: PathBuf, reason: String },

    #[error(
        "{} is not an ecotrace ledger (not a SQLite database); move it aside or pass another path with --ledger",
        path.display()
    )]
    NotADatabase { path: PathBuf },

    #[error(
        "ledger {location} has schema version {found}, newer than this ecotrace understands ({supported}); upgrade ecotrace to use it"
    )]
    SchemaTooNew {
        location: String,
        found: u32,
        supported: u32,
    },

    #[error(
        "run '{id}' in ledger {location} cannot be read ({reason}); it may have been written by a newer ecotrace: upgrade ecotrace"
    )]
    UnreadableRecord {
        id: String,
        location: String,
        reason: String,
    },

    #[error(
        "ledger {location} stayed locked by other writers for {waited:?} ({attempts} attempts); retry, and look for a stuck ecotrace process holding it"
    )]
    Busy {
        location: String,
        attempts: u32,
        waited: Duration,
    },

    #[error(
        "cannot reach ledger {location}: {reason}; check that the database server is up and reachable from here"
    )]
    Unavailable { location: String, reason: String },

    #[error(
        "the disk holding the ledger {location} is full ({detail}); free some space there, or pass a ledger on another disk with --ledger"
    )]
    DiskFull { location: String, detail: String },

    #[error(
        "no permission to write the ledger {location} ({detail}); ask for write access to the file and its directory, or pass a path you can write with --ledger"
    )]
    NoPermission { location: String, detail: String },

    #[error(
        "run '{id}' was not recorded: the ledger {location} cannot be written ({ledger}) and neither can the fallback spool ({spool}); its record is printed below instead"
    )]
    NotRecorded {
        id: String,
        location: String,
        ledger: String,
        spool: String,
    },

    /// A ledger that could not be opened, as seen by later calls (see [`crate::open_for_run`]).
    #[error("{message}")]
    Unopened { fault: Fault, message: String },

    #[error("ledger '{spec}' is not supported: {reason}")]
    Unsupported { spec: String, reason: String },

    #[error(
        "no default ledger location: neither XDG_DATA_HOME nor HOME is set; set one, or pass --ledger PATH"
    )]
    NoDefaultPath,

    #[error("cannot encode run '{id}' as JSON: {source}")]
    Encode {
        id: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("ledger {location}: {source}")]
    Storage {
        location: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why a ledger cannot be used right now, for the errors that are a problem of the place the
/// ledger lives rather than of what was asked of it. A run facing one of these goes on, kept in a
/// fallback spool (see [`crate::SpooledLedger`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The file is not a SQLite database (or its schema is newer than this build).
    NotALedger,
    /// The user may not write the file or its directory.
    NoPermission,
    /// The disk holding it is full.
    DiskFull,
    /// Another writer holds it locked for longer than a run can wait.
    Locked,
    /// The database server cannot be reached.
    Unreachable,
    /// Anything else that keeps the file from being opened or written (I/O errors).
    Broken,
}

impl Fault {
    /// The problem in a few words, for warnings.
    pub fn describe(self) -> &'static str {
        match self {
            Fault::NotALedger => "the file is not an ecotrace ledger",
            Fault::NoPermission => "no permission to write it",
            Fault::DiskFull => "the disk holding it is full",
            Fault::Locked => "another process holds it locked",
            Fault::Unreachable => "the database server cannot be reached",
            Fault::Broken => "it cannot be opened or written",
        }
    }
}

impl LedgerError {
    /// The fault of the ledger's place behind this error, if it is one (see [`Fault`]); `None`
    /// for errors about what was asked (unknown run, a run that already ended, a bad record).
    pub fn fault(&self) -> Option<Fault> {
        match self {
            LedgerError::NotADatabase { .. } | LedgerError::SchemaTooNew { .. } => {
                Some(Fault::NotALedger)
            }
            LedgerError::NoPermission { .. } => Some(Fault::NoPermission),
            LedgerError::DiskFull { .. } => Some(Fault::DiskFull),
            LedgerError::Busy { .. } => Some(Fault::Locked),
            LedgerError::Unavailable { .. } => Some(Fault::Unreachable),
            LedgerError::CreateDir { source, .. } => Some(match source.raw_os_error() {
                Some(libc::ENOSPC | libc::EDQUOT) => Fault::DiskFull,
                Some(libc::EACCES | libc::EPERM | libc::EROFS) => Fault::NoPermission,
                _ => Fault::Broken,
            }),
            LedgerError::CannotOpen { .. } | LedgerError::Storage { .. } => Some(Fault::Broken),
            LedgerError::Unopened { fault, .. } => Some(*fault),
            LedgerError::NoDefaultPath => Some(Fault::Broken),
            _ => None,
        }
    }
}

const MAX_LISTED: usize = 10;

fn candidate_list(ids: &[String]) -> String {
    let mut s = ids
        .iter()
        .take(MAX_LISTED)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > MAX_LISTED {
        s.push_str(&format!(" and {} more", ids.len() - MAX_LISTED));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = LedgerError::NotFound {
            id: "abcd".into(),
            location: "/l.db".into(),
        };
        assert_eq!(
            e.to_string(),
            "no run with id 'abcd' in ledger /l.db; `ecotrace runs` lists runs"
        );
        let ids: Vec<String> = (0..12).map(|i| format!("abcd{i:02}")).collect();
        let e = LedgerError::Ambiguous {
            prefix: "abcd".into(),
            candidates: ids,
            location: "/l.db".into(),
        };
        let m = e.to_string();
        assert!(m.contains("matches 12 runs"), "{m}");
        assert!(m.contains("abcd00, abcd01"), "{m}");
        assert!(m.contains("and 2 more"), "{m}");
        assert!(!m.contains("abcd11"), "{m}");
    }
}
