//! The licences of the Rust crates compiled into the binary and the Python wheel: every crate
//! `cargo tree` says is shipped is in THIRD_PARTY_NOTICES.md's crate table with its version and
//! licence (and nothing else is), and `ecotrace data licenses`, the README and the wheel's
//! metadata name the licences they are followed under (issue 10, "Licences").

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use common::Env;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (crate, version, licence expression) of every crate compiled into `ecotrace` and the wheel
/// (`ecotrace-py` with its `python` feature) on Linux: what scripts/third-party-notices lists.
fn shipped() -> BTreeSet<(String, String, String)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(repo())
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}|{l}", "--features", "ecotrace-py/python"])
        .args(["--target", "x86_64-unknown-linux-gnu"])
        .args(["--target", "aarch64-unknown-linux-gnu"])
        .args(["-p", "ecotrace", "-p", "ecotrace-py"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree failed (are the crates in cargo's cache? `cargo fetch --locked`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut crates = BTreeSet::new();
    // One tree per root, separated by an empty line.
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let Some((p, licence)) = line.split_once('|') else {
            assert!(line.trim().is_empty(), "{line}");
            continue;
        };
        let mut words = p.split_whitespace();
        let (name, version) = (words.next().unwrap(), words.next().unwrap());
        if name.starts_with("ecotrace") {
            continue;
        }
        let licence = licence.trim_end_matches(" (*)").trim();
        crates.insert((
            name.to_string(),
            version.trim_start_matches('v').to_string(),
            licence.to_string(),
        ));
    }
    assert!(crates.len() > 50, "too few crates: {crates:?}");
    crates
}

/// The rows of the crate table: (crate, version, licence expression, followed under).
fn notice_rows(text: &str) -> Vec<[String; 4]> {
    let section = text
        .split_once("## Rust crates compiled into ecotrace")
        .expect(
            "THIRD_PARTY_NOTICES.md has no Rust crates section: run scripts/third-party-notices",
        )
        .1;
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            assert_eq!(cells.len(), 4, "{l}");
            [
                cells[0].clone(),
                cells[1].clone(),
                cells[2].clone(),
                cells[3].clone(),
            ]
        })
        .collect()
}

#[test]
fn every_shipped_crate_is_in_the_third_party_notices_with_its_licence() {
    let text = std::fs::read_to_string(repo().join("THIRD_PARTY_NOTICES.md")).unwrap();
    let rows = notice_rows(&text);
    let listed: BTreeSet<(String, String, String)> = rows
        .iter()
        .map(|[n, v, l, _]| (n.clone(), v.clone(), l.clone()))
        .collect();
    let shipped = shipped();
    let missing: Vec<_> = shipped.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "shipped but not in THIRD_PARTY_NOTICES.md (run scripts/third-party-notices): {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&shipped).collect();
    assert!(
        stale.is_empty(),
        "in THIRD_PARTY_NOTICES.md but no longer shipped (run scripts/third-party-notices): {stale:?}"
    );
    // Each crate's texts are there: a heading names it, and the crates that ask for notices
    // beyond a licence text have theirs.
    for [name, version, _, _] in &rows {
        assert!(
            text.lines()
                .any(|l| l.starts_with("#### ") && l.contains(&format!("{name} {version}"))),
            "no licence text for {name} {version}"
        );
    }
    for needle in [
        "LICENSE-BoringSSL",                                  // ring's BoringSSL terms
        "Community Data License Agreement",                   // webpki-roots
        "public domain",                                      // SQLite in libsqlite3-sys
        "Permission to use, copy, modify, and/or distribute", // ISC (rustls-webpki, untrusted)
    ] {
        assert!(
            text.contains(needle),
            "{needle} not in THIRD_PARTY_NOTICES.md"
        );
    }
}

#[test]
fn data_licenses_the_readme_and_the_wheel_name_the_crate_licences() {
    let text = std::fs::read_to_string(repo().join("THIRD_PARTY_NOTICES.md")).unwrap();
    let followed: BTreeSet<String> = notice_rows(&text)
        .iter()
        .flat_map(|[_, _, _, f]| f.split(" AND ").map(str::to_string).collect::<Vec<_>>())
        .collect();
    assert!(
        followed.contains("MIT") && followed.contains("ISC"),
        "{followed:?}"
    );

    let e = Env::new();
    let out = e.ok(&["data", "licenses"]);
    let json = e.json(&["data", "licenses", "--json"]);
    let listed: BTreeSet<String> = json["crate_licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed, followed,
        "`data licenses` must list the licences of THIRD_PARTY_NOTICES.md's crate table \
         (ecotrace_report::licenses::CRATE_LICENSES)"
    );
    assert!(out.contains("Rust crates compiled in"), "{out}");
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let pyproject = std::fs::read_to_string(repo().join("python/pyproject.toml")).unwrap();
    let expression = pyproject
        .lines()
        .find(|l| l.starts_with("license = "))
        .unwrap();
    for l in &followed {
        assert!(out.contains(l.as_str()), "{l} not in `data licenses`");
        assert!(readme.contains(l.as_str()), "{l} not in the README");
        assert!(
            expression.contains(l.as_str()),
            "{l} not in the wheel's licence: {expression}"
        );
    }
    // The wheel ships the notices (python/ links to the repository's file; the Python tests
    // check the installed wheel).
    assert_eq!(
        std::fs::read_to_string(repo().join("python/THIRD_PARTY_NOTICES.md")).unwrap(),
        text
    );
    assert!(pyproject.contains(r#"license-files = ["LICENSE", "THIRD_PARTY_NOTICES.md"]"#));
}
