//! The ledger schema and its migrations.
//!
//! Versions are recorded in a `schema_migrations` table (version, name, applied_at) rather than
//! SQLite's `PRAGMA user_version`, so a PostgreSQL backend can keep the same table and the same
//! numbered list: each [`Migration`] has one version and name for every backend, and its SQL per
//! backend (SQLite and PostgreSQL). Migrations only ever add; a ledger whose version is newer
//! than [`SCHEMA_VERSION`] is refused rather than guessed at.
//!
//! This module must not read or write runs.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    /// SQLite statements, run in one transaction with the version row.
    pub sqlite: &'static str,
    /// PostgreSQL statements for the same step, run in one transaction with the version row.
    pub postgres: &'static str,
}

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = 7;

/// The first version whose SQLite ledgers store records packed (see `packed.rs`): opening an older
/// one packs its records.
pub const PACKED_SINCE: u32 = 4;

/// Every migration, in order. Append only: never edit a released one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "runs and samples",
        sqlite: r#"
        -- One row per run: the full record as JSON, plus copies of the fields filters need.
        -- Times are RFC 3339 UTC text with fixed microsecond precision, so text order is time order.
        CREATE TABLE runs (
            id             TEXT PRIMARY KEY NOT NULL,
            project        TEXT NOT NULL,
            phase          TEXT NOT NULL,
            status         TEXT NOT NULL,     -- as stored; reads derive `interrupted` for dead trackers
            started_at     TEXT NOT NULL,
            ended_at       TEXT,
            hostname       TEXT NOT NULL,     -- record.host.hostname
            tracker_pid    INTEGER NOT NULL,  -- record.tracker.pid
            heartbeat_at   TEXT NOT NULL,     -- ledger clock at the last begin/checkpoint/finish
            record_version INTEGER NOT NULL,
            record_json    TEXT NOT NULL
        );
        CREATE INDEX runs_started_at ON runs (started_at);
        CREATE INDEX runs_project_started_at ON runs (project, started_at);
        CREATE INDEX runs_phase_started_at ON runs (phase, started_at);
        CREATE INDEX runs_status_started_at ON runs (status, started_at);
        CREATE INDEX runs_host_pid ON runs (hostname, tracker_pid);
        CREATE INDEX runs_heartbeat_at ON runs (heartbeat_at);

        -- Per-interval power samples. (run_id, seq) is the key, so a retried write never duplicates.
        CREATE TABLE samples (
            run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            seq    INTEGER NOT NULL,
            t_s    REAL NOT NULL,  -- seconds since the run started, end of the interval
            cpu_w  REAL,           -- NULL stores a non-finite reading (read back as NaN)
            gpu_w  REAL,
            ram_w  REAL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
    "#,
        postgres: r#"
        -- The same tables as SQLite, with native types: times are timestamptz, the record jsonb
        -- (so SQL and dashboards can reach inside it).
        CREATE TABLE runs (
            id             TEXT PRIMARY KEY NOT NULL,
            project        TEXT NOT NULL,
            phase          TEXT NOT NULL,
            status         TEXT NOT NULL,
            started_at     TIMESTAMPTZ NOT NULL,
            ended_at       TIMESTAMPTZ,
            hostname       TEXT NOT NULL,
            tracker_pid    BIGINT NOT NULL,
            heartbeat_at   TIMESTAMPTZ NOT NULL,
            record_version INTEGER NOT NULL,
            record_json    JSONB NOT NULL
        );
        CREATE INDEX runs_started_at ON runs (started_at);
        CREATE INDEX runs_project_started_at ON runs (project, started_at);
        CREATE INDEX runs_phase_started_at ON runs (phase, started_at);
        CREATE INDEX runs_status_started_at ON runs (status, started_at);
        CREATE INDEX runs_host_pid ON runs (hostname, tracker_pid);
        CREATE INDEX runs_heartbeat_at ON runs (heartbeat_at);

        CREATE TABLE samples (
            run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            seq    BIGINT NOT NULL,
            t_s    DOUBLE PRECISION NOT NULL,
            cpu_w  DOUBLE PRECISION,
            gpu_w  DOUBLE PRECISION,
            ram_w  DOUBLE PRECISION,
            PRIMARY KEY (run_id, seq)
        );
    "#,
    },
    Migration {
        version: 2,
        name: "serving hours",
        sqlite: r#"
        -- Energy and work of a serving run rolled up per hour (ecotrace serve/attach): one row per
        -- run and hour, rewritten while the hour is current. The row is ecotrace_core's HourRow as
        -- JSON; `hour` is its RFC 3339 UTC start, so text order is time order.
        CREATE TABLE run_hours (
            run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            hour     TEXT NOT NULL,
            row_json TEXT NOT NULL,
            PRIMARY KEY (run_id, hour)
        ) WITHOUT ROWID;
        CREATE INDEX run_hours_hour ON run_hours (hour);
    "#,
        postgres: r#"
        CREATE TABLE run_hours (
            run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            hour     TIMESTAMPTZ NOT NULL,
            row_json JSONB NOT NULL,
            PRIMARY KEY (run_id, hour)
        );
        CREATE INDEX run_hours_hour ON run_hours (hour);
    "#,
    },
    Migration {
        version: 3,
        name: "report columns",
        sqlite: r#"
        -- Typed copies of the figures `ecotrace report` adds up, so that it sums them with GROUP BY
        -- instead of reading every record (see sums.rs). NULL in sum_apart: not filled yet (rows
        -- written before this version; the ledger fills them when it opens) and read as records.
        ALTER TABLE runs ADD COLUMN duration_ns   INTEGER;  -- wall time, nanoseconds
        ALTER TABLE runs ADD COLUMN cpu_j         REAL;     -- IT energy by component, joules
        ALTER TABLE runs ADD COLUMN gpu_j         REAL;
        ALTER TABLE runs ADD COLUMN ram_j         REAL;
        ALTER TABLE runs ADD COLUMN total_j       REAL;
        ALTER TABLE runs ADD COLUMN operational_g REAL;     -- operational CO2e, grams
        ALTER TABLE runs ADD COLUMN embodied_g    REAL;     -- NULL: not assessed
        ALTER TABLE runs ADD COLUMN water_l       REAL;     -- NULL: not assessed
        ALTER TABLE runs ADD COLUMN cost_usd      REAL;     -- NULL: no price known
        ALTER TABLE runs ADD COLUMN job_id        TEXT;     -- NULL: not part of a job
        ALTER TABLE runs ADD COLUMN sum_apart     INTEGER;  -- 1: read as a record, not summed in SQL
        -- One index holds every column a report reads, so that its scan never reads the records;
        -- it starts with (project, started_at) and replaces that index.
        CREATE INDEX runs_sums ON runs (project, started_at, phase, status, sum_apart, job_id,
            duration_ns, cpu_j, gpu_j, ram_j, total_j, operational_g, embodied_g, water_l, cost_usd);
        DROP INDEX runs_project_started_at;
        -- The rows a report reads as records: stored `running` ones and those summed apart.
        CREATE INDEX runs_apart ON runs (started_at) WHERE status = 'running' OR sum_apart IS NOT 0;
    "#,
        postgres: r#"
        ALTER TABLE runs ADD COLUMN duration_ns   BIGINT;   -- wall time, nanoseconds
        ALTER TABLE runs ADD COLUMN cpu_j         DOUBLE PRECISION; -- IT energy by component, joules
        ALTER TABLE runs ADD COLUMN gpu_j         DOUBLE PRECISION;
        ALTER TABLE runs ADD COLUMN ram_j         DOUBLE PRECISION;
        ALTER TABLE runs ADD COLUMN total_j       DOUBLE PRECISION;
        ALTER TABLE runs ADD COLUMN operational_g DOUBLE PRECISION; -- operational CO2e, grams
        ALTER TABLE runs ADD COLUMN embodied_g    DOUBLE PRECISION; -- NULL: not assessed
        ALTER TABLE runs ADD COLUMN water_l       DOUBLE PRECISION; -- NULL: not assessed
        ALTER TABLE runs ADD COLUMN cost_usd      DOUBLE PRECISION; -- NULL: no price known
        ALTER TABLE runs ADD COLUMN job_id        TEXT;     -- NULL: not part of a job
        ALTER TABLE runs ADD COLUMN sum_apart     BIGINT;   -- 1: read as a record, not summed in SQL
        CREATE INDEX runs_sums ON runs (project, started_at) INCLUDE (phase, status, sum_apart,
            job_id, duration_ns, cpu_j, gpu_j, ram_j, total_j, operational_g, embodied_g, water_l,
            cost_usd);
        DROP INDEX runs_project_started_at;
        CREATE INDEX runs_apart ON runs (started_at)
            WHERE status = 'running' OR sum_apart IS DISTINCT FROM 0;
    "#,
    },
    Migration {
        version: 4,
        name: "packed records, ledger meta",
        sqlite: r#"
        -- record_json holds the record packed (zstd against a fixed dictionary, a blob whose first
        -- byte names the dictionary; see packed.rs) instead of JSON text. No table changes: the
        -- ledger packs the text records of older versions when it opens, and reads both.
        -- What the ledger keeps about itself, e.g. where automatic compaction of samples stopped.
        CREATE TABLE ledger_meta (
            key   TEXT PRIMARY KEY NOT NULL,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
    "#,
        postgres: r#"
        -- PostgreSQL keeps the record as jsonb (SQL reaches into it; the server compresses it). It
        -- is moved out of the row (to TOAST) from 128 bytes on, so that the rows a report scans
        -- stay narrow.
        ALTER TABLE runs SET (toast_tuple_target = 128);
        CREATE TABLE ledger_meta (
            key   TEXT PRIMARY KEY NOT NULL,
            value TEXT NOT NULL
        );
    "#,
    },
    Migration {
        version: 5,
        name: "packed records on PostgreSQL",
        sqlite: r#"
        -- Nothing changes on SQLite, which packs its records since version 4.
        SELECT 1;
    "#,
        postgres: r#"
        -- The record is stored packed like SQLite's (see packed.rs): `record_packed` holds the
        -- blob, and `record_json` is NULL, except in rows an older version wrote (the ledger packs
        -- them when it opens, a batch per transaction; the partial index finds those left) or in
        -- the rare row whose packing failed. A packed record (a few hundred bytes, already
        -- compressed) stays in the row, uncompressed by the server (storage EXTERNAL).
        ALTER TABLE runs ADD COLUMN record_packed BYTEA;
        ALTER TABLE runs ALTER COLUMN record_packed SET STORAGE EXTERNAL;
        ALTER TABLE runs ALTER COLUMN record_json DROP NOT NULL;
        ALTER TABLE runs RESET (toast_tuple_target);
        CREATE INDEX runs_unpacked ON runs (id) WHERE record_packed IS NULL;
    "#,
    },
    Migration {
        version: 6,
        name: "intensity basis and signal columns",
        sqlite: r#"
        -- The basis (lifecycle, direct; NULL for a number the user gave and for marginal rates)
        -- and signal (average, marginal) of the intensity each run's CO2e was charged at, so that
        -- a report sums each apart and says which it shows. Filled from the stored records when
        -- the ledger opens: every row's report columns are marked not filled (sum_apart NULL)
        -- and filled again, these two with them.
        ALTER TABLE runs ADD COLUMN grid_basis TEXT;
        ALTER TABLE runs ADD COLUMN signal     TEXT;
        UPDATE runs SET sum_apart = NULL;
        DROP INDEX runs_sums;
        CREATE INDEX runs_sums ON runs (project, started_at, phase, status, sum_apart, job_id,
            duration_ns, cpu_j, gpu_j, ram_j, total_j, operational_g, embodied_g, water_l, cost_usd,
            grid_basis, signal);
    "#,
        postgres: r#"
        ALTER TABLE runs ADD COLUMN grid_basis TEXT;
        ALTER TABLE runs ADD COLUMN signal     TEXT;
        UPDATE runs SET sum_apart = NULL;
        DROP INDEX runs_sums;
        CREATE INDEX runs_sums ON runs (project, started_at) INCLUDE (phase, status, sum_apart,
            job_id, duration_ns, cpu_j, gpu_j, ram_j, total_j, operational_g, embodied_g, water_l,
            cost_usd, grid_basis, signal);
    "#,
    },
    Migration {
        version: 7,
        name: "report index grouped by basis",
        sqlite: r#"
        -- Reports sum per group *and* per basis and signal (version 6). With the basis and signal
        -- last in the covering index, SQLite sorted every row in a temporary B-tree to group them
        -- (`report --by project` over 1,000,000 runs: 1.1 s instead of 0.4 s). With them right
        -- after the project, `--by project` is one ordered scan; a project's date range is still
        -- read from the index alone.
        DROP INDEX runs_sums;
        CREATE INDEX runs_sums ON runs (project, grid_basis, signal, started_at, phase, status,
            sum_apart, job_id, duration_ns, cpu_j, gpu_j, ram_j, total_j, operational_g,
            embodied_g, water_l, cost_usd);
    "#,
        postgres: r#"
        -- PostgreSQL groups by hashing: its index (version 6) stays as it is.
        SELECT 1;
    "#,
    },
];

/// The migrations table, as PostgreSQL spells it.
pub(crate) const CREATE_MIGRATIONS_TABLE_PG: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)";

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// Why migrating failed.
#[derive(Debug)]
pub(crate) enum MigrateError {
    TooNew { found: u32, supported: u32 },
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Db(e)
    }
}

/// The highest applied version; 0 for a database with no migrations table.
pub(crate) fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    let has_table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_table.is_none() {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
}

/// Brings the schema up to the last of `migrations`; returns the version reached. Safe against
/// several processes opening a new ledger at once: the work runs under the write lock
/// (`BEGIN IMMEDIATE`) and rechecks the version there.
pub(crate) fn migrate(
    conn: &Connection,
    migrations: &[Migration],
    applied_at: &str,
) -> Result<u32, MigrateError> {
    let latest = migrations.last().map_or(0, |m| m.version);
    // Fast path without the write lock: already up to date.
    let found = current_version(conn)?;
    if found > latest {
        return Err(MigrateError::TooNew {
            found,
            supported: latest,
        });
    }
    if found == latest {
        return Ok(found);
    }
    // The unchecked form only lacks the `&mut` borrow; dropping `tx` on error rolls back.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    tx.execute_batch(CREATE_MIGRATIONS_TABLE)?;
    let found = current_version(&tx)?;
    if found > latest {
        return Err(MigrateError::TooNew {
            found,
            supported: latest,
        });
    }
    for m in migrations.iter().filter(|m| m.version > found) {
        tx.execute_batch(m.sqlite)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, applied_at],
        )?;
    }
    tx.commit()?;
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_and_match_the_constant() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
        }
        assert_eq!(MIGRATIONS.last().unwrap().version, SCHEMA_VERSION);
    }

    #[test]
    fn migrates_an_empty_database_once() {
        let c = Connection::open_in_memory().unwrap();
        assert_eq!(current_version(&c).unwrap(), 0);
        assert_eq!(migrate(&c, MIGRATIONS, "t0").unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&c, MIGRATIONS, "t1").unwrap(), SCHEMA_VERSION);
        let rows: i64 = c
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, MIGRATIONS.len() as i64);
    }

    #[test]
    fn applies_only_pending_migrations() {
        let c = Connection::open_in_memory().unwrap();
        migrate(&c, MIGRATIONS, "t0").unwrap();
        c.execute(
            "INSERT INTO runs (id, project, phase, status, started_at, hostname, tracker_pid, heartbeat_at, record_version, record_json)
             VALUES ('r', 'p', 'other', 'finished', 't', 'h', 1, 't', 1, '{}')",
            [],
        )
        .unwrap();
        let mut next = MIGRATIONS.to_vec();
        next.push(Migration {
            version: SCHEMA_VERSION + 1,
            name: "test: add a column",
            sqlite: "ALTER TABLE runs ADD COLUMN gpu_count INTEGER NOT NULL DEFAULT 0",
            postgres: "ALTER TABLE runs ADD COLUMN gpu_count INTEGER NOT NULL DEFAULT 0",
        });
        assert_eq!(migrate(&c, &next, "t1").unwrap(), SCHEMA_VERSION + 1);
        let (id, gpus): (String, i64) = c
            .query_row("SELECT id, gpu_count FROM runs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((id.as_str(), gpus), ("r", 0));
        // The older build now refuses it instead of guessing.
        match migrate(&c, MIGRATIONS, "t2") {
            Err(MigrateError::TooNew { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_migration_leaves_nothing_behind() {
        let c = Connection::open_in_memory().unwrap();
        let bad = [Migration {
            version: 1,
            name: "broken",
            sqlite: "CREATE TABLE a (x INTEGER); THIS IS NOT SQL;",
            postgres: "CREATE TABLE a (x INTEGER); THIS IS NOT SQL;",
        }];
        assert!(matches!(migrate(&c, &bad, "t0"), Err(MigrateError::Db(_))));
        assert_eq!(current_version(&c).unwrap(), 0);
        let tables: i64 = c
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0);
    }
}
