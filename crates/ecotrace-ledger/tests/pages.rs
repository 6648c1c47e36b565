//! Pages of `list` (`ecotrace runs --page N`): `offset` skips the newest matching runs, with and
//! without a status filter, on SQLite and PostgreSQL.

mod pg;
mod support;

use ecotrace_core::{Phase, RunStatus};
use ecotrace_ledger::{Ledger, PostgresLedger, RunFilter, SqliteLedger};
use support::{record, t};

fn pages_follow_each_other(l: &mut dyn Ledger) {
    for i in 0..7 {
        let r = record(&format!("run{i}"), "p", Phase::Training, t(i));
        let mut first = r.clone();
        first.status = RunStatus::Running;
        l.begin(&first).unwrap();
        let mut done = r;
        done.status = if i % 2 == 0 {
            RunStatus::Finished
        } else {
            RunStatus::Failed
        };
        l.finish(&done, &[]).unwrap();
    }
    let page = |offset, status| {
        let f = RunFilter {
            limit: Some(3),
            offset,
            status,
            ..Default::default()
        };
        l.list(&f)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(page(0, None), "run6,run5,run4");
    assert_eq!(page(3, None), "run3,run2,run1");
    assert_eq!(page(6, None), "run0");
    assert_eq!(page(9, None), "");
    assert_eq!(page(2, Some(RunStatus::Finished)), "run2,run0");
    assert_eq!(page(1, Some(RunStatus::Failed)), "run3,run1");
}

#[test]
fn sqlite_pages_follow_each_other() {
    let dir = tempfile::tempdir().unwrap();
    pages_follow_each_other(&mut SqliteLedger::open(dir.path().join("l.db")).unwrap());
}

#[test]
fn postgres_pages_follow_each_other() {
    let Some(url) = pg::server("postgres_pages_follow_each_other") else {
        return;
    };
    let url = pg::fresh_db(&url, "pages");
    pages_follow_each_other(&mut PostgresLedger::new(&url).unwrap());
}
