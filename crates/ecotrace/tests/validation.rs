//! The estimator against published footprints: every case of `validation/cases.csv` (Strubell et
//! al. 2019 Table 3, Patterson et al. 2021 Table 4, Luccioni et al. 2023 BLOOM) is run through
//! `ecotrace estimate --json` with the paper's own inputs, and energy, operational CO2e and (where
//! published) embodied CO2e must come within the case's tolerance of the published figure.
//! `validation/README.md` says how close each comes.

use std::process::Command;

use serde_json::Value;

const CASES: &str = include_str!("../../../validation/cases.csv");

/// Minimal RFC 4180 reader: quoted fields with doubled quotes; no newlines inside fields.
fn parse_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

fn estimate(args: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_ecotrace"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECOTRACE_") {
            c.env_remove(k);
        }
    }
    let out = c
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .arg("estimate")
        .args(args.split_whitespace())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn published_footprints_are_reproduced_within_tolerance() {
    let mut lines = CASES.lines();
    let header = parse_line(lines.next().unwrap());
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut checked = 0;
    let mut report = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f = parse_line(line);
        assert_eq!(f.len(), header.len(), "{line}");
        let id = &f[col("id")];
        let tol = f[col("tolerance_pct")].parse::<f64>().unwrap() / 100.0;
        let v = estimate(&f[col("args")]);
        for (published, field) in [
            ("published_facility_energy_kwh", "facility_energy_kwh"),
            ("published_operational_kgco2e", "operational_kgco2e"),
            ("published_embodied_kgco2e", "embodied_kgco2e"),
            ("published_energy_wh_per_request", "energy_wh_per_request"),
            (
                "published_energy_wh_per_1k_tokens",
                "energy_wh_per_1k_tokens",
            ),
        ] {
            let p = &f[col(published)];
            if p.is_empty() {
                continue;
            }
            let want: f64 = p.parse().unwrap();
            let got = v[field].as_f64().unwrap();
            let rel = (got - want) / want;
            report.push(format!(
                "{id:<28} {field:<20} {got:>14.1} vs {want:>12} ({:+.2} %)",
                rel * 100.0
            ));
            assert!(
                rel.abs() <= tol,
                "{id}: {field} {got} is {:.2} % from the published {want} (tolerance {} %)",
                rel * 100.0,
                tol * 100.0
            );
            checked += 1;
        }
    }
    println!("{}", report.join("\n"));
    assert!(checked >= 25, "only {checked} figures checked");
}
