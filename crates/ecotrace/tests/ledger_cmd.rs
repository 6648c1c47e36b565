//! `ecotrace ledger compact`: old runs' samples downsampled, the record unchanged, bad ages a usage
//! error; `ecotrace runs --page N`.

mod common;

use common::Env;

fn sample_count(env: &Env) -> i64 {
    let c = rusqlite::Connection::open(env.ledger()).unwrap();
    c.query_row("SELECT COUNT(*) FROM samples", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn compact_downsamples_old_runs_and_keeps_the_record() {
    let env = Env::new();
    env.ok(&["run", "-q", "--interval", "100ms", "--", "sleep", "1.2"]);
    let before = env.json(&["runs", "--json"]);
    let n = sample_count(&env);
    assert!(n >= 8, "{n} samples");
    // Runs that ended more than 90 days ago: none yet.
    let out = env.ok(&["ledger", "compact"]);
    assert!(out.contains("0 run(s)"), "{out}");
    assert_eq!(sample_count(&env), n);
    // Everything that has ended, one sample per second of run time.
    let out = env.ok(&["ledger", "compact", "--older-than", "0s", "--bucket", "1s"]);
    assert!(out.contains("1 run(s)"), "{out}");
    let after = sample_count(&env);
    assert!(
        (1..=3).contains(&after),
        "{after} samples after compaction (from {n})"
    );
    assert_eq!(
        env.json(&["runs", "--json"]),
        before,
        "the record is unchanged"
    );
    env.usage_error(
        &["ledger", "compact", "--older-than", "3 weeks"],
        &["--older-than", "e.g. 90d"],
    );
}

#[test]
fn runs_come_in_pages() {
    let env = Env::new();
    for code in 1..=5 {
        let o = env.run(&["run", "-q", "--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(o.status.code(), Some(code));
    }
    let codes = |page: &str| -> Vec<i64> {
        env.json(&["runs", "--json", "--limit", "2", "--page", page])
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["exit_code"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(codes("1"), [5, 4]);
    assert_eq!(codes("2"), [3, 2]);
    assert_eq!(codes("3"), [1]);
    env.usage_error(&["runs", "--page", "0"], &["--page", "from 1"]);
}
