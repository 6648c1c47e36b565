//! A ledger that cannot be opened or written never stops `ecotrace run` (issue 11): a garbage
//! file, a read-only directory (as an unprivileged user), a full disk (a small tmpfs), a ledger
//! locked by another writer, and no usable place at all. In every case the command runs, its exit
//! code passes through, the message names the problem, and the run is kept in the fallback spool
//! (or printed) and reaches the ledger with `ecotrace sync`, once, never twice; several commands
//! sending the spool at once never fail for it.
//!
//! The unprivileged and tmpfs cases need root (to switch user with `setpriv`, to mount); without
//! it they print "skipped: ..." and pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{stderr, Env};
use serde_json::Value;

/// The runs in the ledger (as `ecotrace runs --json` lists them).
fn ledger_runs(env: &Env, ledger: &Path) -> Vec<Value> {
    let v = env.json(&["--ledger", ledger.to_str().unwrap(), "runs", "--json"]);
    v.as_array().unwrap().clone()
}

/// The fallback spools under the environment's data dir.
fn fallback_files(env: &Env) -> Vec<PathBuf> {
    let dir = env.dir.path().join("data/ecotrace/fallback");
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .collect()
}

#[track_caller]
fn assert_ran(o: &Output, code: i32, marker: &Path) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(marker.exists(), "the command did not run: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `sh -c 'touch MARKER; exit CODE'`
fn cmd(marker: &Path, code: i32) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("touch '{}'; exit {code}", marker.display()),
    ]
}

fn run_args<'a>(ledger: &'a str, cmd: &'a [String]) -> Vec<&'a str> {
    let mut a = vec!["--ledger", ledger, "run", "-q", "--"];
    a.extend(cmd.iter().map(String::as_str));
    a
}

/// Runs a command that exits `code` through `ecotrace run` on `ledger`: it must run, its code must
/// pass through, and stderr must name every one of `needles`. Returns stderr.
#[track_caller]
fn run_despite(env: &Env, ledger: &str, code: i32, needles: &[&str]) -> String {
    let marker = env.path(&format!("ran-{code}"));
    let c = cmd(&marker, code);
    let o = env.run(&run_args(ledger, &c));
    assert_ran(&o, code, &marker);
    let err = stderr(&o);
    for n in needles {
        assert!(err.contains(n), "{err:?} lacks {n:?}");
    }
    err
}

#[test]
fn a_garbage_ledger_file_never_stops_the_command() {
    let env = Env::new();
    let ledger = env.path("ledger.db");
    std::fs::write(&ledger, "not a database\n".repeat(300)).unwrap();
    let l = ledger.to_str().unwrap();
    run_despite(
        &env,
        l,
        3,
        &[
            "is not an ecotrace ledger",
            "move it aside",
            "fallback spool",
            "ecotrace sync",
        ],
    );
    // The file is untouched.
    assert!(std::fs::read_to_string(&ledger)
        .unwrap()
        .starts_with("not a database"));

    // `runs` lists the spooled run, marked, while the ledger cannot be read.
    let o = env.run(&["--ledger", l, "runs"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("failed (spooled)"), "{table}");
    assert!(
        stderr(&o).contains("is not an ecotrace ledger"),
        "{}",
        stderr(&o)
    );

    // Fixed (moved aside): sync moves the run into the ledger, once.
    std::fs::rename(&ledger, env.path("ledger.db.bad")).unwrap();
    let out = env.ok(&["--ledger", l, "sync"]);
    assert!(out.contains("sent 1 run(s)"), "{out}");
    let runs = ledger_runs(&env, &ledger);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["exit_code"], 3);
    assert_eq!(runs[0]["status"], "failed");
    let out = env.ok(&["--ledger", l, "sync"]);
    assert!(out.contains("sent 0 run(s)"), "{out}");
    assert_eq!(ledger_runs(&env, &ledger).len(), 1);
}

#[test]
fn a_ledger_locked_by_another_writer_never_stops_the_command() {
    let env = Env::new();
    let ledger = env.path("ledger.db");
    let l = ledger.to_str().unwrap();
    env.ok(&["--ledger", l, "run", "-q", "--", "true"]);
    // Another process holds the write lock for longer than a run waits.
    let holder = rusqlite::Connection::open(&ledger).unwrap();
    holder
        .execute_batch("BEGIN IMMEDIATE; UPDATE runs SET project = project;")
        .unwrap();
    run_despite(&env, l, 4, &["locked", "fallback spool"]);
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    // Released: the next command moves the run over by itself.
    let runs = ledger_runs(&env, &ledger);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().any(|r| r["exit_code"] == 4));
}

/// Root, and a `setpriv` that can switch to `nobody`: else `None` after a "skipped:" line.
fn can_switch_user(test: &str) -> bool {
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if !(root && setpriv) {
        eprintln!("skipped: {test}: needs root and setpriv to run ecotrace as the unprivileged user nobody");
    }
    root && setpriv
}

fn chown(p: &Path, uid: u32) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string; chown only reads it.
    assert_eq!(
        unsafe { libc::chown(c.as_ptr(), uid, uid) },
        0,
        "chown {}",
        p.display()
    );
}

#[test]
fn a_read_only_directory_never_stops_an_unprivileged_users_command() {
    if !can_switch_user("a_read_only_directory_never_stops_an_unprivileged_users_command") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    const NOBODY: u32 = 65534;
    let env = Env::new();
    let root = env.dir.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["data", "work"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
        chown(&root.join(d), NOBODY);
    }
    let ro = root.join("shared");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let ledger = ro.join("ledger.db");
    let l = ledger.to_str().unwrap();
    let marker = env.path("ran");
    let c = cmd(&marker, 5);
    let as_nobody = |args: &[&str]| {
        let mut cmd = env.cmd();
        let prog = cmd.get_program().to_owned();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(prog)
            .args(args);
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.current_dir(env.work());
        cmd = c;
        cmd.output().unwrap()
    };
    let o = as_nobody(&run_args(l, &c));
    assert_ran(&o, 5, &marker);
    let err = stderr(&o);
    assert!(err.contains("no permission to write the ledger"), "{err}");
    assert!(err.contains("fallback spool"), "{err}");
    assert_eq!(fallback_files(&env).len(), 1, "{err}");
    // The directory becomes writable: the user's sync moves the run.
    chown(&ro, NOBODY);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = as_nobody(&["--ledger", l, "sync"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("sent 1 run(s)"),
        "{}",
        stderr(&o)
    );
    let runs = ledger_runs(&env, &ledger);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["exit_code"], 5);
}

/// A tmpfs of `kib` KiB mounted on `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, kib: u32, test: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .output();
        match o {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_path_buf())),
            Ok(o) => {
                eprintln!(
                    "skipped: {test}: cannot mount a small tmpfs here ({})",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: {test}: cannot run mount ({e})");
                None
            }
        }
    }

    /// Fills the filesystem to the last block.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.0.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut f, &block).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_never_stops_the_command_and_is_named() {
    let test = "a_full_disk_never_stops_the_command_and_is_named";
    let env = Env::new();
    let Some(disk) = Tmpfs::mount(&env.dir.path().join("disk"), 1024, test) else {
        return;
    };
    let ledger = disk.0.join("ledger.db");
    let l = ledger.to_str().unwrap();
    // A ledger in use, then its disk fills up (SQLite's raw "disk I/O error … xShmMap" case).
    env.ok(&["--ledger", l, "run", "-q", "--", "true"]);
    disk.fill();
    let err = run_despite(
        &env,
        l,
        6,
        &[
            "the disk holding the ledger",
            "is full",
            "free some space",
            "fallback spool",
        ],
    );
    assert!(!err.contains("xShmMap"), "{err}");

    // Neither the ledger nor the spool can be written (the data dir is on the full disk too):
    // the command still runs, a loud warning says why, and the record is printed.
    let marker = env.path("ran");
    let mut o = env.cmd();
    o.env("XDG_DATA_HOME", disk.0.join("data"));
    let c7 = cmd(&marker, 7);
    let o = o.args(run_args(l, &c7)).output().unwrap();
    assert_ran(&o, 7, &marker);
    let err = stderr(&o);
    assert!(err.contains("is NOT being recorded"), "{err}");
    assert!(err.contains("its record follows"), "{err}");
    assert!(err.contains("\"exit_code\": 7"), "{err}");

    disk.free();
    let out = env.ok(&["--ledger", l, "sync"]);
    assert!(out.contains("sent 1 run(s)"), "{out}");
    let runs = ledger_runs(&env, &ledger);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().any(|r| r["exit_code"] == 6));
}

#[test]
fn many_commands_sending_one_spool_at_once_never_fail_or_send_twice() {
    const SPOOLED: usize = 6;
    const AT_ONCE: usize = 4;
    let env = Env::new();
    let ledger = env.path("ledger.db");
    let l = ledger.to_str().unwrap();
    std::fs::write(&ledger, "garbage\n".repeat(600)).unwrap();
    for i in 0..SPOOLED {
        run_despite(&env, l, i as i32, &["fallback spool"]);
    }
    std::fs::remove_file(&ledger).unwrap();
    // Several commands start together: each sends what it can claim and skips the rest.
    let children: Vec<_> = (0..AT_ONCE)
        .flat_map(|i| {
            let mut sync = env.cmd();
            sync.args(["--ledger", l, "sync"]);
            let mut run = env.cmd();
            run.args(run_args(l, &cmd(&env.path("ran"), 10 + i as i32)));
            [(None, sync), (Some(10 + i as i32), run)].map(|(code, mut c)| {
                let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
                (code, child.unwrap())
            })
        })
        .collect();
    for (code, c) in children {
        let o = c.wait_with_output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code.unwrap_or(0)), "{err}");
        assert!(!err.contains("no run with id"), "{err}");
        assert!(!err.contains("error"), "{err}");
    }
    let runs = ledger_runs(&env, &ledger);
    assert_eq!(runs.len(), SPOOLED + AT_ONCE, "{runs:?}");
    let mut codes: Vec<i64> = runs
        .iter()
        .map(|r| r["exit_code"].as_i64().unwrap())
        .collect();
    codes.sort_unstable();
    let mut want: Vec<i64> = (0..SPOOLED as i64).chain(10..10 + AT_ONCE as i64).collect();
    want.sort_unstable();
    assert_eq!(codes, want);
    let out = env.ok(&["--ledger", l, "sync"]);
    assert!(out.contains("sent 0 run(s)"), "{out}");
}
