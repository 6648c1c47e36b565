//! Hardware → rated power, peak FLOP/s and embodied carbon, each a [`Factor`] naming its table
//! row, for every command that charges hardware (`run`'s embodied items, `estimate`,
//! `estimate inference`, `compare`). The catalog and its lookups are `ecotrace-data`'s; the user's
//! overrides (`--power-w`, `--peak-tflops`, `--embodied-kg`, ...) are applied by the estimator
//! over these.

use ecotrace_core::{CarbonMass, Power};
use ecotrace_data::{Accelerator, CpuSpec, EmbodiedRef};

use crate::provenance::{Factor, TableRow};

fn accelerator_row(a: &Accelerator, source: &str, note: String) -> TableRow {
    TableRow::new("accelerators", a.id.clone(), source.to_string())
        .licence(a.license.clone())
        .note(note)
}

/// Published or derived (estimated), as a row note.
fn embodied_note(estimated: bool, basis: &str) -> String {
    match (estimated, basis.is_empty()) {
        (false, _) => "published".to_string(),
        (true, true) => "derived".to_string(),
        (true, false) => format!("derived ({basis})"),
    }
}

/// An accelerator's rated power (TDP).
pub fn accelerator_power(a: &Accelerator) -> Factor<Power> {
    Factor::table(
        a.tdp,
        accelerator_row(a, &a.tdp_source, format!("TDP of {}", a.id)),
    )
}

/// An accelerator's peak FLOP/s (dense FP16/BF16, else FP32), the note naming the precision.
pub fn accelerator_peak(a: &Accelerator) -> Option<Factor<f64>> {
    a.peak_flops().map(|(flops, precision)| {
        Factor::table(
            flops,
            accelerator_row(a, &a.flops_source, format!("{precision} peak")),
        )
    })
}

/// An accelerator's embodied carbon over its life, published or estimated.
pub fn accelerator_embodied(a: &Accelerator) -> Factor<CarbonMass> {
    Factor::table(
        a.embodied,
        accelerator_row(
            a,
            &a.embodied_provenance(),
            embodied_note(a.embodied_estimated, &a.embodied_basis),
        ),
    )
}

/// The embodied carbon of a host or a CPU package.
pub fn reference_embodied(e: &EmbodiedRef) -> Factor<CarbonMass> {
    Factor::table(
        e.embodied,
        TableRow::new("embodied", e.id.clone(), e.embodied_provenance())
            .year(e.year)
            .licence(e.license.clone())
            .note(embodied_note(e.estimated, &e.basis)),
    )
}

/// A CPU's rated power (TDP) from the CPU table.
pub fn cpu_power(c: &CpuSpec) -> Factor<Power> {
    Factor::table(
        c.tdp,
        TableRow::new("cpus", c.name.clone(), c.source.clone())
            .year(c.year)
            .note(format!("TDP of {}", c.name)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hardware_factor_names_its_row() {
        let a = ecotrace_data::accelerator("A100-80GB").unwrap();
        let p = accelerator_power(a);
        assert_eq!(p.value, a.tdp);
        let row = p.provenance.row().unwrap();
        assert_eq!(
            (row.table, row.row.as_str()),
            ("accelerators", a.id.as_str())
        );
        let e = accelerator_embodied(a).provenance.to_string();
        assert!(
            (e.starts_with("published; ") || e.starts_with("derived"))
                && e.contains("uncertainty range"),
            "{e}"
        );
        assert!(accelerator_peak(a)
            .unwrap()
            .provenance
            .to_string()
            .contains("peak"));
        let host = ecotrace_data::embodied_ref("gpu-server").unwrap();
        let h = reference_embodied(host).provenance.to_string();
        assert!(h.contains("[embodied table, row gpu-server"), "{h}");
    }
}
