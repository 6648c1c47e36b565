//! Every bundled table is credited: listed by `bundled_tables` (what `ecotrace data licenses`
//! prints) and in the repository's THIRD_PARTY_NOTICES.md, and no listed table is missing.

use std::collections::BTreeSet;
use std::path::Path;

use ecotrace_data::bundled_tables;

/// The CSV files under `data/` and its `hourly/` folder, as `name.csv` or `hourly/name.csv`.
fn data_files() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let mut out = BTreeSet::new();
    for (sub, prefix) in [("", ""), ("hourly", "hourly/")] {
        let dir = root.join(sub);
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let n = e
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if n.ends_with(".csv") {
                out.insert(format!("{prefix}{n}"));
            }
        }
    }
    out
}

#[test]
fn every_bundled_table_is_listed_with_a_licence_and_an_attribution() {
    let files = data_files();
    assert!(files.len() >= 10, "{files:?}");
    let listed: BTreeSet<String> = bundled_tables()
        .iter()
        .map(|t| t.file.to_string())
        .collect();
    assert_eq!(files, listed, "data/*.csv and bundled_tables() differ");
    for t in bundled_tables() {
        assert!(!t.license.trim().is_empty(), "{} has no licence", t.file);
        assert!(
            !t.attribution.trim().is_empty(),
            "{} has no attribution",
            t.file
        );
        assert!(!t.contents.trim().is_empty(), "{}", t.file);
    }
}

#[test]
fn every_bundled_table_is_in_the_notices_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let notices = std::fs::read_to_string(root.join("THIRD_PARTY_NOTICES.md"))
        .expect("THIRD_PARTY_NOTICES.md at the repository root");
    for f in data_files() {
        assert!(
            notices.contains(&format!("| `{f}` |")),
            "{f} has no row in THIRD_PARTY_NOTICES.md"
        );
    }
    // The notices each licence requires are carried in full.
    for required in [
        "Copyright (c) 2019 Mila, BCG Gamma, CometML, Haverford College",
        "Copyright (c) 2023, Alliance for Sustainable Energy, LLC",
        "https://opendatacommons.org/licenses/odbl/1-0/",
        "https://creativecommons.org/licenses/by-sa/4.0/",
        "https://creativecommons.org/licenses/by/4.0/",
    ] {
        assert!(notices.contains(required), "notices lack {required:?}");
    }
    let license = std::fs::read_to_string(root.join("LICENSE")).expect("LICENSE");
    assert!(license.contains("Apache License") && license.contains("Version 2.0"));
}

#[test]
fn each_row_licence_is_covered_by_its_table_licence() {
    // Every licence named in a row's `license` column appears in its table's licence text, so
    // `data licenses` never understates what a table carries.
    let checks: Vec<(&str, Vec<String>)> = vec![
        (
            "zones.csv",
            ecotrace_data::zones()
                .iter()
                .map(|z| z.license.clone())
                .collect(),
        ),
        (
            "accelerators.csv",
            ecotrace_data::accelerators()
                .iter()
                .map(|a| a.license.clone())
                .collect(),
        ),
        (
            "water.csv",
            ecotrace_data::water_factors()
                .iter()
                .map(|w| w.license.clone())
                .collect(),
        ),
    ];
    for (file, rows) in checks {
        let table = bundled_tables()
            .iter()
            .find(|t| t.file == file)
            .expect(file);
        for row in rows {
            for id in [
                "ODbL-1.0",
                "CC-BY-SA-4.0",
                "CC-BY-4.0",
                "MIT",
                "BSD-3-Clause",
                "Apache-2.0",
            ] {
                if row.contains(id) {
                    assert!(
                        table.license.contains(id),
                        "{file}: row licence {row:?} names {id}, the table's does not"
                    );
                }
            }
        }
    }
}
