//! `Ledger::import`: runs that ended elsewhere are stored as given, all or none, and importing
//! the same runs twice adds nothing twice.

mod support;

use ecotrace_core::{Phase, RunStatus};
use ecotrace_ledger::{Ledger, LedgerError, RunFilter, SqliteLedger};
use support::{record, rt, t};

fn finished(id: &str, s: i64) -> ecotrace_core::RunRecord {
    let mut r = record(id, "imported", Phase::Training, t(s));
    r.status = RunStatus::Finished;
    r
}

#[test]
fn import_stores_final_records_and_skips_known_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = SqliteLedger::open(dir.path().join("ledger.db")).unwrap();
    let a = finished("aaaa0000-0000-4000-8000-000000000001", 0);
    let b = finished("bbbb0000-0000-4000-8000-000000000002", 60);
    let report = l.import(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(report.imported, vec![a.id.clone(), b.id.clone()]);
    assert!(report.skipped.is_empty());
    assert_eq!(l.get(&a.id).unwrap(), rt(&a));
    // Again, with one new run: only that one is added.
    let c = finished("cccc0000-0000-4000-8000-000000000003", 120);
    let report = l.import(&[a.clone(), b.clone(), c.clone()]).unwrap();
    assert_eq!(report.imported, vec![c.id.clone()]);
    assert_eq!(report.skipped, vec![a.id.clone(), b.id.clone()]);
    assert_eq!(l.list(&RunFilter::default()).unwrap().len(), 3);
}

#[test]
fn a_bad_record_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = SqliteLedger::open(dir.path().join("ledger.db")).unwrap();
    let good = finished("aaaa0000-0000-4000-8000-000000000001", 0);
    let mut running = finished("bbbb0000-0000-4000-8000-000000000002", 60);
    running.status = RunStatus::Running;
    let e = l.import(&[good.clone(), running]).unwrap_err();
    assert!(matches!(e, LedgerError::InvalidRecord { .. }), "{e}");
    let mut bad_id = finished(" padded", 60);
    bad_id.id = " padded".into();
    assert!(l.import(&[good, bad_id]).is_err());
    assert!(l.list(&RunFilter::default()).unwrap().is_empty());
}
