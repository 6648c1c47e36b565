//! The test environment shared by the binary's end-to-end tests: a temp HOME with its own config
//! and data dirs, a ledger, and pinned sensors (an empty fake sysfs so no RAPL, no NVML, the real
//! /proc), with every inherited `ECOTRACE_*` variable removed.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sys")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Env { dir }
    }

    pub fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger.db")
    }

    /// The working directory the commands run in.
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// A file in the working directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work().join(name)
    }

    /// The binary, set up to run in this environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ecotrace"));
        for (k, _) in std::env::vars() {
            if k.starts_with("ECOTRACE_") {
                c.env_remove(k);
            }
        }
        c.current_dir(self.work())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("ECOTRACE_SYSFS_ROOT", self.dir.path().join("sys"))
            .env("ECOTRACE_NVML_LIBRARY", "none")
            .env("ECOTRACE_AMDSMI_LIBRARY", "none")
            .env("ECOTRACE_LEDGER", self.ledger())
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Stdout of a command that must succeed.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Stdout of a command that must succeed, parsed as JSON.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let s = self.ok(args);
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {s}"))
    }

    /// Exit code 2 and a message on stderr containing every one of `needles`.
    #[track_caller]
    pub fn usage_error(&self, args: &[&str], needles: &[&str]) {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
        }
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
