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
