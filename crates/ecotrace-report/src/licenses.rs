//! `ecotrace data licenses`: every bundled table with the licence it is offered under and whom it
//! credits, and the licences of the Rust crates compiled in, as a table or JSON. This module must
//! not do I/O.

use std::fmt::Write as _;

use ecotrace_data::bundled_tables;

/// The code's licence and where the full notices are, said under the table.
const FOOTER: &str = "The code is Apache-2.0 (LICENSE). The notices each source's licence requires are in THIRD_PARTY_NOTICES.md; per-row provenance in docs/data.md and in each table's source and license columns.";

/// The licences under which the Rust crates compiled into the binary and the Python wheel are
/// redistributed: the "followed under" column of THIRD_PARTY_NOTICES.md's crate table, which
/// `scripts/third-party-notices` writes (a test keeps the two in step).
pub const CRATE_LICENSES: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "ISC",
    "BSD-3-Clause",
    "BSD-2-Clause",
    "Zlib",
    "Unicode-3.0",
    "CDLA-Permissive-2.0",
    "Apache-2.0 WITH LLVM-exception",
];

/// The bundled tables with licence and attribution: a table for the terminal, or JSON
/// (`{"code_license": ..., "tables": [{file, contents, license, attribution}, ...],
/// "crate_licenses": [...]}`).
pub fn data_licenses(as_json: bool) -> String {
    let tables = bundled_tables();
    if as_json {
        let v = serde_json::json!({
            "code_license": "Apache-2.0",
            "notices": "THIRD_PARTY_NOTICES.md",
            "tables": tables,
            "crate_licenses": CRATE_LICENSES,
        });
        return serde_json::to_string_pretty(&v).expect("plain JSON values serialise");
    }
    let mut o = String::new();
    for t in tables {
        let _ = writeln!(o, "{}  ({})", t.file, t.contents);
        let _ = writeln!(o, "  licence:     {}", t.license);
        let _ = writeln!(o, "  attribution: {}", t.attribution);
    }
    let _ = writeln!(
        o,
        "\nRust crates compiled in: under {}; each crate, its version, licence and the copyright \
         and licence texts it ships are in THIRD_PARTY_NOTICES.md (\"Rust crates\").",
        CRATE_LICENSES.join(", ")
    );
    let _ = writeln!(o, "\n{FOOTER}");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_printed_in_both_forms() {
        let text = data_licenses(false);
        let json: serde_json::Value = serde_json::from_str(&data_licenses(true)).unwrap();
        let rows = json["tables"].as_array().unwrap();
        assert_eq!(rows.len(), bundled_tables().len());
        for t in bundled_tables() {
            assert!(
                text.contains(t.file) && text.contains(t.license),
                "{}",
                t.file
            );
            assert!(rows
                .iter()
                .any(|r| r["file"] == t.file && r["attribution"] == t.attribution));
        }
    }
}
