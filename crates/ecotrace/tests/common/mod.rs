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

/// The header of a CodeCarbon 3.x `emissions.csv`, and one row of it (`cc_row`) for run `id`.
pub const CC_HEADER: &str = "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb,on_cloud,pue,wue";

pub fn cc_row(id: &str, duration: &str, emissions: &str) -> String {
    format!("2026-08-12T19:37:35,bert,{id},5b0fa12a-3dd7-45bb-9766-cc326314d9f1,{duration},{emissions},1.1e-06,9.2,0.0,6.0,3.1e-05,0.0,2.0e-05,5.1e-05,0.0,Spain,ESP,madrid,,,Linux,3.13.13,3.3.0,10,Intel Xeon,0,,-3.7,40.4,24.0,machine,8.3,0,64.6,9.25,N,1.0,0.0")
}
