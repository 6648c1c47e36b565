//! Keeps `docs/run-record.md` true: its full example must be exactly the JSON of the `finished`
//! fixture (so it parses as a `RunRecord` and cannot drift), and every field name the record
//! serialises must be documented there.

mod common;

use ecotrace_core::RunRecord;
use serde_json::Value;

const DOC: &str = include_str!("../../../docs/run-record.md");

/// The first ```json block after the heading `## Full example`.
fn example() -> &'static str {
    let at = DOC
        .find("## Full example")
        .expect("a `## Full example` section");
    let rest = &DOC[at..];
    let start = rest.find("```json\n").expect("a json block") + "```json\n".len();
    let len = rest[start..].find("```").expect("closed block");
    &rest[start..start + len]
}

#[test]
fn example_is_the_fixture_and_parses() {
    let text = example();
    let fixture = common::finished();
    let doc: Value = serde_json::from_str(text).expect("the example is JSON");
    let want = serde_json::to_value(&fixture).unwrap();
    assert_eq!(
        doc,
        want,
        "docs/run-record.md example differs from tests/common::finished(); replace it with:\n{}\n",
        serde_json::to_string_pretty(&fixture).unwrap()
    );
    let parsed: RunRecord = serde_json::from_str(text).expect("the example parses as a RunRecord");
    assert_eq!(parsed, fixture);
}

fn keys(path: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                out.push(p.clone());
                // Free-form maps: their keys are data, not fields.
                if !matches!(k.as_str(), "tags" | "metrics" | "figures") {
                    keys(&p, x, out);
                }
            }
        }
        Value::Array(a) => {
            if let Some(x) = a.first() {
                keys(&format!("{path}[]"), x, out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_field_is_documented() {
    let mut all = Vec::new();
    keys(
        "",
        &serde_json::to_value(common::finished()).unwrap(),
        &mut all,
    );
    let missing: Vec<&String> = all
        .iter()
        .filter(|p| !DOC.contains(&format!("`{p}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "fields missing from docs/run-record.md: {missing:?}"
    );
}

#[test]
fn every_status_and_method_is_documented() {
    use ecotrace_core::{IntensityBasis, Method, RunStatus};
    for s in RunStatus::ALL {
        assert!(DOC.contains(&format!("`{s}`")), "status {s}");
    }
    for m in Method::ALL {
        assert!(DOC.contains(&format!("`{m}`")), "method {m}");
    }
    for b in [
        IntensityBasis::Zone,
        IntensityBasis::User,
        IntensityBasis::WorldDefault,
    ] {
        let name = serde_json::to_value(b).unwrap();
        assert!(
            DOC.contains(&format!("`{}`", name.as_str().unwrap())),
            "basis {name}"
        );
    }
}
