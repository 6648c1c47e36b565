//! LaTeX for papers: a paragraph and a table a researcher can paste into a paper's body, stating
//! what the Green AI reporting practice asks for — hardware, device-hours, energy, PUE, grid
//! intensity and its source, operational and embodied CO2e (apart), and FLOPs when known.
//!
//! The output uses plain LaTeX only (no packages: `tabular` with `\hline`, `$_2$`), so it compiles
//! in any preamble. Every string from a record goes through [`tex`]. This module must not do I/O
//! and must not invent a figure a record does not hold: what is unknown is written as such.

use std::fmt::Write as _;

use ecotrace_core::RunRecord;

use crate::aggregate::GroupBy;
use crate::figures::Partial;
use crate::runset::RunSet;
use crate::text::num;

/// Escapes text for LaTeX body text: the ten special characters (`\ { } $ & # % _ ^ ~`), `<`, `>`
/// and `|` (which print wrongly in the default font encoding), control characters as spaces, and
/// characters outside Latin-1 as `[U+XXXX]`, so that any string compiles with plain pdflatex.
pub(crate) fn tex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            '$' => out.push_str("\\$"),
            '&' => out.push_str("\\&"),
            '#' => out.push_str("\\#"),
            '%' => out.push_str("\\%"),
            '_' => out.push_str("\\_"),
            '^' => out.push_str("\\textasciicircum{}"),
            '~' => out.push_str("\\textasciitilde{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            '|' => out.push_str("\\textbar{}"),
            '"' => out.push_str("''"),
            c if c.is_control() => out.push(' '),
            c if c.is_ascii() => out.push(c),
            // Latin-1 letters are in pdflatex's default UTF-8 input; the rest may not be.
            c if ('\u{C0}'..='\u{FF}').contains(&c) && c != '×' && c != '÷' => out.push(c),
            '×' => out.push_str("$\\times$"),
            c => {
                let _ = write!(out, "[U+{:04X}]", c as u32);
            }
        }
    }
    out
}

/// A number for LaTeX text with three significant digits (no scientific notation for ordinary
/// magnitudes); tiny values as `$1.23\times10^{-12}$`.
fn n(x: f64) -> String {
    tex_number(num(x))
}

/// A formatted number for LaTeX: scientific notation (`1.23e-12`) typeset as a power of ten.
fn tex_number(s: String) -> String {
    match s.split_once('e') {
        Some((m, e)) => format!("${m}\\times10^{{{}}}$", e.trim_start_matches('+')),
        None => s,
    }
}

/// FLOPs as `$3.14\times10^{21}$`.
fn sci(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    let e = x.abs().log10().floor() as i32;
    let m = x / 10f64.powi(e);
    format!("${m:.2}\\times10^{{{e}}}$")
}

fn partial(p: &Partial, runs: usize, show: fn(f64) -> String) -> String {
    match p.value() {
        None => "not assessed".to_string(),
        Some(v) if p.known == runs => show(v),
        Some(v) => format!("{} ({} of {runs} runs)", show(v), p.known),
    }
}

/// A quantity scaled by the one formatter (`ecotrace_core::human`), its unit typeset.
fn scaled(s: ecotrace_core::human::Scaled) -> String {
    let number = tex_number(s.number);
    let unit = s.unit.replace("CO2e", CO2E).replace("m³", "m$^3$");
    format!("{number} {unit}")
}

/// CO2e given in kg, scaled (mg to t).
fn co2(kg: f64) -> String {
    scaled(ecotrace_core::human::co2(kg))
}

/// Energy given in kWh, scaled (mWh to GWh).
fn energy(kwh: f64) -> String {
    scaled(ecotrace_core::human::energy(kwh))
}

/// Water given in litres, scaled (mL to m³).
fn water(litres: f64) -> String {
    scaled(ecotrace_core::human::water(litres))
}

const CO2E: &str = "CO$_2$e";

/// What the text calls the runs: `run 3f9a2c1e of project vision` or `12 runs of project vision`.
fn subject(set: &RunSet, what: Option<&str>) -> String {
    let projects = &set.projects;
    let of = match (what, projects.len()) {
        (Some(w), _) => format!(" of {}", tex(w)),
        (None, 1) => format!(
            " of project ``{}''",
            tex(projects.iter().next().expect("one"))
        ),
        (None, k) => format!(" of {k} projects"),
    };
    match &set.single_id {
        Some(id) => format!(
            "The run {}{of}",
            tex(&id.chars().take(8).collect::<String>())
        ),
        None => format!("The {} runs{of}", set.runs()),
    }
}

/// The paragraph and the table for a set of runs (one run is a set of one). `what` names them in
/// the text (e.g. `project vision`); by default the project name is used.
pub fn latex(rs: &[RunRecord], what: Option<&str>) -> String {
    latex_set(&RunSet::of(rs, GroupBy::Project, None), what)
}

/// [`latex`] for a [`RunSet`].
pub fn latex_set(set: &RunSet, what: Option<&str>) -> String {
    let mut out = String::new();
    out.push_str("% Energy and carbon footprint, written by ecotrace. Plain LaTeX: paste into the body\n% of your paper (no package needed). Operational and embodied CO2e are reported apart.\n");
    let Some(grid) = &set.grid else {
        out.push_str("% No runs matched: nothing to report.\n");
        return out;
    };
    let t = &set.totals;
    let hardware = &set.hardware;
    let methods = &set.methods;
    let hw_text = if hardware.is_empty() {
        "unrecorded hardware".to_string()
    } else {
        hardware
            .iter()
            .map(|h| tex(h))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let hours = t.duration.as_secs_f64() / 3600.0;
    let facility = set.facility_kwh;

    // The paragraph.
    let mut p = format!(
        "{} ran on {} for {} hours of wall-clock time",
        subject(set, what),
        hw_text,
        n(hours)
    );
    let mut dh = Vec::new();
    if t.gpu_hours > 0.0 {
        dh.push(format!("{} GPU-hours", n(t.gpu_hours)));
    }
    if t.cpu_hours > 0.0 {
        dh.push(format!("{} CPU device-hours", n(t.cpu_hours)));
    }
    if !dh.is_empty() {
        let _ = write!(p, " ({})", dh.join(", "));
    }
    let _ = write!(
        p,
        ". They used {} of IT energy ({}), ",
        energy(t.energy.total.kwh()),
        if methods.is_empty() {
            "no device measured".to_string()
        } else {
            format!("obtained with: {}", tex(&methods.join(", ")))
        }
    );
    let pue = if grid.pue_min == grid.pue_max {
        format!("a PUE of {:.2}", grid.pue_min)
    } else {
        format!("PUEs of {:.2} to {:.2}", grid.pue_min, grid.pue_max)
    };
    let _ = write!(p, "or {} at the facility with {}. ", energy(facility), pue);
    let intensity = if grid.intensity_min == grid.intensity_max {
        format!("{} g{CO2E}/kWh", n(grid.intensity_min))
    } else {
        format!(
            "{} to {} g{CO2E}/kWh ({} on average, weighted by energy)",
            n(grid.intensity_min),
            n(grid.intensity_max),
            n(grid.intensity_mean)
        )
    };
    let _ = write!(
        p,
        "At a grid carbon intensity of {intensity} ({}), this amounts to {} of operational (location-based) emissions. ",
        tex(&grid.intensity_sources_short.join("; ")),
        co2(t.operational_kg)
    );
    let _ = write!(p, "{} ", tex(&set.total.bases.statement()));
    match t.embodied_kg.value() {
        Some(kg) => {
            let _ = write!(
                p,
                "The share of the hardware's embodied (manufacturing) emissions charged to {} for the time used is a further {}{}, reported separately. ",
                if set.single_id.is_some() { "it" } else { "them" },
                co2(kg),
                if t.embodied_kg.known < t.runs {
                    format!(" (assessed for {} of the {} runs)", t.embodied_kg.known, t.runs)
                } else {
                    String::new()
                }
            );
        }
        None => {
            p.push_str("Embodied (manufacturing) emissions of the hardware were not assessed. ")
        }
    }
    if let Some(f) = t.flops.value() {
        let _ = write!(
            p,
            "The logged computation was {} floating-point operations{}. ",
            sci(f),
            if t.flops.known < t.runs {
                format!(" ({} of the {} runs logged it)", t.flops.known, t.runs)
            } else {
                String::new()
            }
        );
    }
    if t.failed_runs > 0 {
        let _ = write!(
            p,
            "These figures include {} failed or interrupted {}. ",
            t.failed_runs,
            if t.failed_runs == 1 { "run" } else { "runs" }
        );
    }
    p.push_str("Measured with ecotrace.");
    out.push_str(&p);
    out.push_str("\n\n");

    // The table.
    let water = partial(&t.water_l, t.runs, water);
    let cost = match t.cost_usd.value() {
        None => "not assessed".to_string(),
        Some(v) if t.cost_usd.known == t.runs => format!("{v:.2} USD"),
        Some(v) => format!("{v:.2} USD ({} of {} runs)", t.cost_usd.known, t.runs),
    };
    let rows: Vec<(String, String)> = vec![
        ("Hardware".into(), hw_text.clone()),
        ("Runs".into(), format!("{}", t.runs)),
        ("Wall-clock time".into(), format!("{} h", n(hours))),
        (
            "GPU device-hours".into(),
            if t.gpu_hours > 0.0 {
                format!("{} h", n(t.gpu_hours))
            } else {
                "none".into()
            },
        ),
        ("CPU device-hours".into(), format!("{} h", n(t.cpu_hours))),
        (
            "IT energy (CPU / GPU / RAM)".into(),
            format!(
                "{} ({} / {} / {})",
                energy(t.energy.total.kwh()),
                energy(t.energy.cpu.kwh()),
                energy(t.energy.gpu.kwh()),
                energy(t.energy.ram.kwh())
            ),
        ),
        (
            "Energy measurement".into(),
            if methods.is_empty() {
                "none".into()
            } else {
                tex(&methods.join(", "))
            },
        ),
        (
            "PUE".into(),
            if grid.pue_min == grid.pue_max {
                format!("{:.2}", grid.pue_min)
            } else {
                format!("{:.2}--{:.2}", grid.pue_min, grid.pue_max)
            },
        ),
        ("Facility energy".into(), energy(facility)),
        ("Grid intensity".into(), intensity.clone()),
        (
            "Intensity source".into(),
            tex(&grid.intensity_sources.join("; ")),
        ),
        (format!("Operational {CO2E}"), co2(t.operational_kg)),
        (
            format!("Embodied {CO2E} (not included above)"),
            partial(&t.embodied_kg, t.runs, co2),
        ),
        ("Water".into(), water),
        ("Cost".into(), cost),
        (
            "FLOPs".into(),
            match t.flops.value() {
                Some(f) => sci(f),
                None => "not recorded".into(),
            },
        ),
    ];
    out.push_str(
        "\\begin{table}[ht]\n\\centering\n\\begin{tabular}{lp{0.55\\linewidth}}\n\\hline\n",
    );
    let _ = writeln!(out, "Quantity & Value \\\\\n\\hline");
    for (k, v) in rows {
        let _ = writeln!(out, "{k} & {v} \\\\");
    }
    out.push_str("\\hline\n\\end{tabular}\n");
    let _ = writeln!(
        out,
        "\\caption{{Energy and carbon footprint of {}, measured with ecotrace. Operational {CO2E} = IT energy $\\times$ PUE $\\times$ grid intensity.}}",
        if set.single_id.is_some() {
            "the run".to_string()
        } else {
            format!("the {} runs", set.runs())
        }
    );
    out.push_str("\\label{tab:ecotrace-footprint}\n\\end{table}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert() {
        assert_eq!(
            tex("\\input{/etc/passwd}"),
            "\\textbackslash{}input\\{/etc/passwd\\}"
        );
        assert_eq!(
            tex("50% & #1_a^b~$"),
            "50\\% \\& \\#1\\_a\\textasciicircum{}b\\textasciitilde{}\\$"
        );
        assert_eq!(
            tex("<script>|"),
            "\\textless{}script\\textgreater{}\\textbar{}"
        );
        assert_eq!(tex("café 中"), "café [U+4E2D]");
        assert_eq!(tex("a\nb"), "a b");
    }

    #[test]
    fn numbers() {
        assert_eq!(n(0.0618), "0.0618");
        assert_eq!(n(1.234e-12), "$1.23\\times10^{-12}$");
        assert_eq!(sci(3.14e21), "$3.14\\times10^{21}$");
    }
}
