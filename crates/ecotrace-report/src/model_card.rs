//! The Hugging Face model card metadata block `co2_eq_emissions` (emissions in grams, source,
//! training_type, geographical_location, hardware_used; https://huggingface.co/docs/hub/model-cards-co2)
//! as YAML front matter, ready to paste into a model's README.md.
//!
//! `emissions` is the operational CO2e (location-based) in grams, the figure the Hub shows;
//! embodied CO2e, which the Hub has no field for, is given in a comment and never added in. Strings
//! are YAML double-quoted with every special character escaped ([`yaml_str`]); comment lines are
//! cleaned so no record text can end a comment and start a key. This module must not do I/O.

use std::fmt::Write as _;

use ecotrace_core::{IntensityBasis, RunRecord};

use crate::aggregate::GroupBy;
use crate::runset::RunSet;
use crate::text::sig;

/// A YAML double-quoted scalar: `"`, `\` and every control or line-break character escaped, so
/// the value is one line and reads back exactly.
pub(crate) fn yaml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}') => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Grams of CO2e as the `emissions` value, so that huggingface_hub reads the right number back:
/// six significant digits, never in exponent notation. Its emissions filter
/// (`HfApi.list_models(emissions_thresholds=...)`) reads `str(value)` with the pattern
/// `\d+\.\d+|\d+`, so a float that Python prints as `1e-05` would read as 1 g. A YAML number
/// below 1e-4 always becomes such a float, so those values are written as a quoted decimal string
/// (`"0.00001"`), which `ModelCard` keeps as written and the filter reads whole; the others are
/// plain YAML numbers (`1234.57`, `1000000000`), whose Python `str()` has no exponent.
pub(crate) fn emissions_yaml(grams: f64) -> String {
    if !grams.is_finite() {
        return "null".to_string();
    }
    let text = plain_decimal(grams, 6);
    if grams != 0.0 && grams.abs() < 1e-4 {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// `x` with `digits` significant digits in positional notation (no exponent), trailing zeros of
/// the fraction dropped: 1e-5 → `0.00001`, 1234567 → `1234570`, 2.5e16 → `25000000000000000`.
fn plain_decimal(x: f64, digits: i32) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    let exp = x.abs().log10().floor() as i32;
    let decimals = (digits - 1 - exp).max(0) as usize;
    // Round to the significant digits first, so that large values print their rounded integer.
    let scale = 10f64.powi(digits - 1 - exp);
    let rounded = (x * scale).round() / scale;
    let mut s = format!("{rounded:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s
}

/// Text safe inside a `#` comment line: control and line-break characters become spaces.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Where the electricity came from, as precisely as the records say: `France (grid zone FR)`.
/// Where runs with this grid intensity ran, as the card says it.
pub(crate) fn location_text(basis: IntensityBasis, zone: &str) -> String {
    match basis {
        IntensityBasis::WorldDefault => {
            "not recorded (the world-average grid intensity was used)".to_string()
        }
        IntensityBasis::User if zone.is_empty() || zone == "user" => {
            "not recorded (grid intensity given by the user)".to_string()
        }
        _ => match ecotrace_data::zone(zone) {
            Some(z) => format!("{} (grid zone {})", z.name, z.id),
            None => format!("grid zone {zone}"),
        },
    }
}

/// The model card block for a set of runs (one run is a set of one). `training_type` is written
/// when given, else when every run carries the same `training_type` tag; otherwise a comment says
/// to add it. `what` names the runs in the header comment.
pub fn model_card(rs: &[RunRecord], training_type: Option<&str>, what: Option<&str>) -> String {
    model_card_set(&RunSet::of(rs, GroupBy::Project, None), training_type, what)
}

/// [`model_card`] for a [`RunSet`].
pub fn model_card_set(set: &RunSet, training_type: Option<&str>, what: Option<&str>) -> String {
    let mut out = String::from("---\n");
    let t = &set.totals;
    let what = what.map(str::to_string).unwrap_or_else(|| {
        let projects = &set.projects;
        if projects.len() == 1 {
            format!("project {}", projects.iter().next().expect("one"))
        } else {
            format!("{} projects", projects.len())
        }
    });
    let phases: Vec<String> = set
        .phases
        .iter()
        .map(|(p, t)| format!("{p} {}", t.runs))
        .collect();
    let _ = writeln!(
        out,
        "# CO2 emissions for a Hugging Face model card (https://huggingface.co/docs/hub/model-cards-co2),\n# written by ecotrace from {} {} of {} (phases: {}).\n# Merge the co2_eq_emissions key into the YAML front matter of your README.md.",
        t.runs,
        if t.runs == 1 { "run" } else { "runs" },
        comment(&what),
        if phases.is_empty() {
            "none".to_string()
        } else {
            phases.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "# emissions: operational CO2e in grams (IT energy x PUE x grid intensity, location-based)."
    );
    match t.embodied_kg.value() {
        Some(kg) => {
            let _ = writeln!(
                out,
                "# Embodied (manufacturing) CO2e charged to these runs, not included in emissions: {} g{}.",
                sig(kg * 1000.0, 6),
                if t.embodied_kg.known < t.runs {
                    format!(" ({} of {} runs assessed)", t.embodied_kg.known, t.runs)
                } else {
                    String::new()
                }
            );
        }
        None => out.push_str("# Embodied (manufacturing) CO2e was not assessed for these runs.\n"),
    }
    if t.failed_runs > 0 {
        let _ = writeln!(
            out,
            "# Includes {} failed or interrupted runs: that energy was spent too.",
            t.failed_runs
        );
    }
    out.push_str("co2_eq_emissions:\n");
    let _ = writeln!(
        out,
        "  emissions: {}",
        emissions_yaml(t.operational_kg * 1000.0)
    );
    let mut source = String::from("ecotrace");
    let methods = &set.methods;
    if !methods.is_empty() {
        let _ = write!(source, ", energy measured with {}", methods.join(", "));
    }
    if let Some(grid) = &set.grid {
        let _ = write!(
            source,
            "; grid intensity {}; PUE {}",
            grid.intensity_sources_short.join("; "),
            if grid.pue_min == grid.pue_max {
                format!("{:.2}", grid.pue_min)
            } else {
                format!("{:.2}-{:.2}", grid.pue_min, grid.pue_max)
            }
        );
    }
    let _ = writeln!(out, "  source: {}", yaml_str(&source));
    let tagged = &set.training_types;
    let tt = training_type.or(match (tagged.len(), tagged.iter().next()) {
        (1, Some(Some(v))) => Some(v.as_str()),
        _ => None,
    });
    match tt {
        Some(v) => {
            let _ = writeln!(out, "  training_type: {}", yaml_str(v));
        }
        None => out.push_str(
            "  # training_type: \"pre-training\" or \"fine-tuning\": not recorded with the runs; add it\n  # here, or pass --training-type (or tag the runs training_type=...).\n",
        ),
    }
    let _ = writeln!(
        out,
        "  geographical_location: {}",
        yaml_str(&set.locations.join("; "))
    );
    let mut hw = set.hardware.join("; ");
    if t.gpu_hours > 0.0 {
        let _ = write!(hw, " ({} GPU-hours)", sig(t.gpu_hours, 3));
    }
    if hw.trim().is_empty() {
        hw = "not recorded".to_string();
    }
    let _ = writeln!(out, "  hardware_used: {}", yaml_str(hw.trim()));
    out.push_str("---\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_stay_on_one_line() {
        assert_eq!(yaml_str("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
        assert_eq!(yaml_str("x\ny: 1\u{1b}"), "\"x\\ny: 1\\u001B\"");
        assert_eq!(
            comment("evil\nco2_eq_emissions: 0"),
            "evil co2_eq_emissions: 0"
        );
    }

    #[test]
    fn emissions_never_use_an_exponent() {
        for (g, want) in [
            (1e-5, "\"0.00001\""),
            (1.234567e-12, "\"0.00000000000123457\""),
            (0.0001, "0.0001"),
            (0.5, "0.5"),
            (1234.5678, "1234.57"),
            (1e9, "1000000000"),
            (2.5e16, "25000000000000000"),
            (0.0, "0"),
        ] {
            assert_eq!(emissions_yaml(g), want, "{g}");
        }
    }
}
