//! The spool under faults: a ledger file that is not a ledger sends runs to the spool, and many
//! processes sending one spool at once each send a run at most once, skip what another sent, and
//! never fail for it (the race of issue 11: the losers failed with "no run with id … in
//! spool.db").

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use ecotrace_core::{Phase, RunStatus};
use ecotrace_ledger::{Fault, Ledger, LedgerError, RunFilter, SpooledLedger, SqliteLedger};
use support::{record, rt, samples, t};

fn finished(mut r: ecotrace_core::RunRecord) -> ecotrace_core::RunRecord {
    r.status = RunStatus::Finished;
    r
}

/// A primary that fails like a broken file does on every call.
struct Broken(String);
impl Ledger for Broken {
    fn begin(&mut self, _: &ecotrace_core::RunRecord) -> Result<(), LedgerError> {
        Err(self.err())
    }
    fn checkpoint(
        &mut self,
        _: &ecotrace_core::RunRecord,
        _: &[ecotrace_core::PowerSample],
    ) -> Result<(), LedgerError> {
        Err(self.err())
    }
    fn finish(
        &mut self,
        _: &ecotrace_core::RunRecord,
        _: &[ecotrace_core::PowerSample],
    ) -> Result<(), LedgerError> {
        Err(self.err())
    }
    fn get(&self, _: &str) -> Result<ecotrace_core::RunRecord, LedgerError> {
        Err(self.err())
    }
    fn list(&self, _: &RunFilter) -> Result<Vec<ecotrace_core::RunRecord>, LedgerError> {
        Err(self.err())
    }
    fn samples(&self, _: &str) -> Result<Vec<ecotrace_core::PowerSample>, LedgerError> {
        Err(self.err())
    }
    fn location(&self) -> String {
        self.0.clone()
    }
}
impl Broken {
    fn err(&self) -> LedgerError {
        LedgerError::NotADatabase {
            path: self.0.clone().into(),
        }
    }
}

#[test]
fn a_garbage_file_is_a_fault_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ledger.db");
    std::fs::write(
        &bad,
        "this is not a database, it is a shopping list\n".repeat(200),
    )
    .unwrap();
    let e = SqliteLedger::open(&bad).unwrap_err();
    assert_eq!(e.fault(), Some(Fault::NotALedger), "{e:?}");
    assert!(e.to_string().contains("is not an ecotrace ledger"), "{e}");
    // The file is left as it was.
    assert!(std::fs::read_to_string(&bad)
        .unwrap()
        .starts_with("this is not"));
    // Errors about what was asked are not faults: they must not be spooled away.
    let ok = SqliteLedger::open(dir.path().join("good.db")).unwrap();
    let e = ok.get("nope").unwrap_err();
    assert_eq!(e.fault(), None, "{e:?}");
}

#[test]
fn many_senders_at_once_send_each_run_exactly_once() {
    const RUNS: usize = 24;
    const SENDERS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let spool_path = dir.path().join("spool.db");
    let primary_path = dir.path().join("ledger.db");
    // Runs that waited in the spool (as after an outage), each with its samples.
    {
        let mut spool = SqliteLedger::open(&spool_path).unwrap();
        for i in 0..RUNS {
            let r = record(&format!("run{i:03}"), "p", Phase::Training, t(i as i64));
            spool.begin(&r).unwrap();
            spool.finish(&finished(r), &samples(0, 5)).unwrap();
        }
    }
    let barrier = Arc::new(Barrier::new(SENDERS));
    let handles: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (barrier, spool_path, primary_path) = (
                Arc::clone(&barrier),
                spool_path.clone(),
                primary_path.clone(),
            );
            std::thread::spawn(move || {
                let primary = SqliteLedger::open(&primary_path).unwrap();
                let mut l = SpooledLedger::new(Box::new(primary), &spool_path);
                barrier.wait();
                l.sync().unwrap()
            })
        })
        .collect();
    let reports: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut sent = Vec::new();
    for r in &reports {
        assert_eq!(r.error, None, "{reports:?}");
        sent.extend(r.sent.iter().cloned());
    }
    let unique: BTreeSet<_> = sent.iter().cloned().collect();
    assert_eq!(sent.len(), RUNS, "each run sent exactly once: {sent:?}");
    assert_eq!(unique.len(), RUNS);
    let primary = SqliteLedger::open(&primary_path).unwrap();
    let stored = primary.list(&RunFilter::default()).unwrap();
    assert_eq!(stored.len(), RUNS);
    for r in &stored {
        assert_eq!(r.status, RunStatus::Finished);
        assert_eq!(primary.samples(&r.id).unwrap(), samples(0, 5), "{}", r.id);
    }
    let spool = SqliteLedger::open(&spool_path).unwrap();
    assert!(spool.list(&RunFilter::default()).unwrap().is_empty());
    // Nothing left to send, and no claim left behind.
    let again = SpooledLedger::new(Box::new(primary), &spool_path)
        .sync()
        .unwrap();
    assert_eq!((again.sent.len(), again.skipped), (0, 0));
    let claims = dir.path().join("spool.db.claims");
    assert_eq!(std::fs::read_dir(claims).unwrap().count(), 0);
}

#[test]
fn a_broken_ledger_spools_the_run_and_a_fixed_one_receives_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.db");
    let spool = dir.path().join("fallback.db");
    std::fs::write(&ledger, vec![b'x'; 4096]).unwrap();
    let broken = SqliteLedger::open(&ledger).unwrap_err();
    assert_eq!(broken.fault(), Some(Fault::NotALedger));
    let mut l = SpooledLedger::new(Box::new(Broken(ledger.display().to_string())), &spool);
    let r = record("fallback1", "p", Phase::Training, t(0));
    l.begin(&r).unwrap();
    l.checkpoint(&r, &samples(0, 3)).unwrap();
    let done = finished(r);
    l.finish(&done, &samples(3, 2)).unwrap();
    let notices = l.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("is not an ecotrace ledger"),
        "{notices:?}"
    );
    assert!(
        notices[0].contains(&spool.display().to_string()),
        "{notices:?}"
    );
    drop(l);

    // The file is moved aside: the next open of the ledger receives the run, samples and all.
    std::fs::remove_file(&ledger).unwrap();
    let mut l = SpooledLedger::new(Box::new(SqliteLedger::open(&ledger).unwrap()), &spool);
    l.sync_on_open().unwrap();
    assert!(l.take_notices()[0].contains("sent 1 run(s)"));
    let fixed = SqliteLedger::open(&ledger).unwrap();
    assert_eq!(fixed.get("fallback1").unwrap(), rt(&done));
    assert_eq!(fixed.samples("fallback1").unwrap(), samples(0, 5));
}

#[test]
fn without_a_spool_the_run_goes_on_unrecorded_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    // The spool's directory cannot be created: a file is in the way.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let mut l = SpooledLedger::with_spool(
        Box::new(Broken("/x/ledger.db".into())),
        Ok(blocker.join("spool.db")),
    );
    let r = record("unrecorded", "p", Phase::Training, t(0));
    l.begin(&r).unwrap();
    let notices = l.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("is NOT being recorded"), "{notices:?}");
    assert!(
        notices[0].contains("is not an ecotrace ledger"),
        "{notices:?}"
    );
    // Checkpoints fail (the tracker keeps the samples), and so does the final write: the caller
    // prints the record.
    assert!(matches!(
        l.checkpoint(&r, &samples(0, 2)),
        Err(LedgerError::NotRecorded { .. })
    ));
    let e = l.finish(&finished(r), &samples(0, 4)).unwrap_err();
    assert!(matches!(e, LedgerError::NotRecorded { .. }), "{e:?}");
    assert!(e.to_string().contains("was not recorded"), "{e}");
}

/// A serving run that waited in the spool reaches the ledger with its hourly rows; rows the
/// ledger had already (the run left for the spool mid-hour) are replaced by the spool's later ones.
#[test]
fn sync_sends_the_hourly_rows_with_the_run() {
    use ecotrace_core::serving::HourRow;
    let dir = tempfile::tempdir().unwrap();
    let spool_path = dir.path().join("spool.db");
    let primary_path = dir.path().join("ledger.db");
    let hour = |h: i64, requests: u64| {
        let mut row = HourRow::new(t(h * 3600));
        row.measured_s = 3600.0;
        row.work.requests = requests;
        row.work.generated_tokens = requests * 50;
        row
    };
    let r = record("served1", "p", Phase::Inference, t(0));
    // The ledger saw the run begin and the first hour's rows until then.
    {
        let mut primary = SqliteLedger::open(&primary_path).unwrap();
        primary.begin(&r).unwrap();
        primary.store_hours("served1", &[hour(0, 10)]).unwrap();
    }
    let rows = vec![hour(0, 40), hour(1, 75), hour(2, 3)];
    {
        let mut spool = SqliteLedger::open(&spool_path).unwrap();
        spool.begin(&r).unwrap();
        spool.store_hours("served1", &rows).unwrap();
        spool.finish(&finished(r), &samples(0, 4)).unwrap();
    }
    let primary = SqliteLedger::open(&primary_path).unwrap();
    let mut l = SpooledLedger::new(Box::new(primary), &spool_path);
    let report = l.sync().unwrap();
    assert_eq!(report.sent, ["served1"], "{report:?}");
    let primary = SqliteLedger::open(&primary_path).unwrap();
    assert_eq!(primary.hours("served1").unwrap(), rows);
    assert_eq!(primary.get("served1").unwrap().status, RunStatus::Finished);
    let spool = SqliteLedger::open(&spool_path).unwrap();
    assert!(
        matches!(spool.hours("served1"), Err(LedgerError::NotFound { .. })),
        "the run and its rows left the spool"
    );
}
