//! Table 5: the hardware catalog — accelerators (GPUs, TPUs) from `data/accelerators.csv` with TDP,
//! memory, peak FLOP/s and embodied carbon, and the embodied carbon of hosts and CPU packages from
//! `data/embodied.csv`.
//!
//! An accelerator's embodied figure is either a published life-cycle assessment of the card
//! (`embodied_estimated == false`) or derived (`true`: a component method, die + memory + board,
//! calibrated on the published cards); `embodied_basis` and `embodied_source` say which, and
//! `embodied_range` gives its uncertainty. Each spec field names its own source. See
//! docs/footprint.md and docs/data.md §5.

use std::sync::OnceLock;

use ecotrace_core::{CarbonMass, Power};
use serde::Serialize;

use crate::csv::Table;
use crate::resolve::levenshtein;
use crate::DataError;

const ACCELERATORS_CSV: &str = include_str!("../data/accelerators.csv");
const EMBODIED_CSV: &str = include_str!("../data/embodied.csv");

/// One GPU or TPU of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accelerator {
    /// Canonical id, e.g. `A100-SXM4-80GB`, `H100-SXM`, `TPU-v4`.
    pub id: String,
    /// Other names accepted for it (`A100-80GB`, NVML names such as `NVIDIA A100-SXM4-80GB`).
    pub aliases: Vec<String>,
    pub vendor: String,
    /// Name as the spec source writes it.
    pub name: String,
    /// `gpu` or `tpu`.
    pub kind: String,
    pub form_factor: String,
    pub memory_gb: f64,
    /// `HBM` or `GDDR`.
    pub memory_type: String,
    /// Where `memory_gb` comes from.
    pub memory_source: String,
    /// Thermal design power (or typical board power) of one device.
    pub tdp: Power,
    /// The range of TDPs the sources give, where they disagree (`tdp` is the one chosen; the
    /// notes say why).
    pub tdp_range: Option<(Power, Power)>,
    /// Where `tdp` comes from.
    pub tdp_source: String,
    /// Peak dense throughput in TFLOP/s, where the sources give it.
    pub tflops_fp32: Option<f64>,
    /// Peak dense tensor FP16/BF16 throughput in TFLOP/s (no sparsity).
    pub tflops_fp16: Option<f64>,
    pub tflops_fp8: Option<f64>,
    /// Where the peak FLOP/s come from.
    pub flops_source: String,
    /// Die area (all dies) and process node, the inputs of the component method.
    pub die_area_mm2: Option<f64>,
    pub process_nm: Option<f64>,
    /// Where die area and process come from.
    pub silicon_source: String,
    pub release_year: Option<i32>,
    /// The spec row the device is taken from (name, release year; per-field sources above).
    pub spec_source: String,
    /// Embodied carbon of one device over its life.
    pub embodied: CarbonMass,
    /// The uncertainty range of `embodied` (low, high): the spread of the calibration cards'
    /// factors for derived figures, published vs derived for published ones.
    pub embodied_range: (CarbonMass, CarbonMass),
    /// True when `embodied` is derived, not a published figure for this device.
    pub embodied_estimated: bool,
    /// `published` (a published card LCA), `published-model` (a published parametric LCA
    /// model's output for this card), `published+memory` (a published card plus a memory
    /// difference), `component` (die + memory + board, docs/data.md §5) or `tpu-component`.
    pub embodied_basis: String,
    pub embodied_source: String,
    pub license: String,
    pub notes: String,
    /// How many devices the driver lists for one card: 2 for an MI250X, whose two dies (GCDs)
    /// AMD SMI and ROCm list as devices of their own; 1 for the rest. A device is charged
    /// `1 / devices_per_card` of the card's embodied carbon (see [`Accelerator::per_device`]).
    pub devices_per_card: u32,
}

impl Accelerator {
    /// The share of one card that one driver device is: `1 / devices_per_card`.
    pub fn per_device(&self) -> f64 {
        1.0 / f64::from(self.devices_per_card.max(1))
    }

    /// The embodied figure's provenance as one text for records and outputs: published or
    /// derived and how (`embodied_source`), then its uncertainty range.
    pub fn embodied_provenance(&self) -> String {
        let (lo, hi) = self.embodied_range;
        format!(
            "{}; uncertainty range {:.1}-{:.1} kgCO2e",
            self.embodied_source,
            lo.kg(),
            hi.kg()
        )
    }

    /// The peak throughput used to turn FLOPs into device-hours: dense FP16/BF16 tensor, else FP32.
    /// Returns the figure in FLOP/s and which precision it is.
    pub fn peak_flops(&self) -> Option<(f64, &'static str)> {
        self.tflops_fp16
            .map(|t| (t * 1e12, "fp16/bf16 dense"))
            .or(self.tflops_fp32.map(|t| (t * 1e12, "fp32")))
    }
}

/// A reference figure of embodied carbon that is not an accelerator: a host (server without its
/// accelerators and CPUs) or a CPU package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbodiedRef {
    /// `gpu-server`, `cpu-server`, `cpu`.
    pub id: String,
    pub name: String,
    /// `host` or `cpu`.
    pub kind: String,
    /// Devices the host holds (accelerator slots, or CPU sockets); its embodied carbon is shared
    /// among them.
    pub slots: u32,
    pub embodied: CarbonMass,
    /// The uncertainty range of `embodied` (low, high): a chips-only component method below, the
    /// largest published server figure above (docs/data.md §5).
    pub embodied_range: (CarbonMass, CarbonMass),
    pub estimated: bool,
    pub basis: String,
    pub source: String,
    /// How the range was derived, and from which sources.
    pub range_source: String,
    pub year: i32,
    pub license: String,
    pub notes: String,
}

impl EmbodiedRef {
    /// The figure's provenance as one text for records and outputs, as
    /// [`Accelerator::embodied_provenance`] writes it: the source, then the uncertainty range and
    /// how it was derived.
    pub fn embodied_provenance(&self) -> String {
        let (lo, hi) = self.embodied_range;
        format!(
            "{}; uncertainty range {:.1}-{:.1} kgCO2e ({})",
            self.source,
            lo.kg(),
            hi.kg(),
            self.range_source
        )
    }
}

fn opt_f64(id: &str, col: &str, s: &str) -> Result<Option<f64>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let v: f64 = t
        .parse()
        .map_err(|e| format!("accelerators.csv {id}: {col} {t:?}: {e}"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("accelerators.csv {id}: {col} must be positive"));
    }
    Ok(Some(v))
}

fn load_accelerators() -> Result<Vec<Accelerator>, String> {
    let t = Table::parse("accelerators.csv", ACCELERATORS_CSV)?;
    let c = |n: &str| t.col(n);
    t.rows
        .iter()
        .map(|r| {
            let id = r[c("id")].trim().to_string();
            let req = |col: &str| {
                opt_f64(&id, col, &r[c(col)])?
                    .ok_or_else(|| format!("accelerators.csv {id}: {col} missing"))
            };
            let estimated = match r[c("embodied_estimated")].trim() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(format!(
                        "accelerators.csv {id}: embodied_estimated {other:?}"
                    ))
                }
            };
            let low = req("embodied_low_kgco2e")?;
            let high = req("embodied_high_kgco2e")?;
            let kg = req("embodied_kgco2e")?;
            if !(low <= kg && kg <= high) {
                return Err(format!(
                    "accelerators.csv {id}: embodied {kg} outside its range {low}-{high}"
                ));
            }
            let tdp_range = match (
                opt_f64(&id, "tdp_low_w", &r[c("tdp_low_w")])?,
                opt_f64(&id, "tdp_high_w", &r[c("tdp_high_w")])?,
            ) {
                (Some(l), Some(h)) => Some((Power::from_watts(l), Power::from_watts(h))),
                (None, None) => None,
                _ => return Err(format!("accelerators.csv {id}: half a TDP range")),
            };
            Ok(Accelerator {
                memory_type: r[c("memory_type")].clone(),
                memory_source: r[c("memory_source")].clone(),
                tdp_range,
                tdp_source: r[c("tdp_source")].clone(),
                flops_source: r[c("flops_source")].clone(),
                die_area_mm2: opt_f64(&id, "die_area_mm2", &r[c("die_area_mm2")])?,
                process_nm: opt_f64(&id, "process_nm", &r[c("process_nm")])?,
                silicon_source: r[c("silicon_source")].clone(),
                embodied_range: (CarbonMass::from_kg(low), CarbonMass::from_kg(high)),
                aliases: r[c("aliases")]
                    .split(';')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect(),
                vendor: r[c("vendor")].clone(),
                name: r[c("name")].clone(),
                kind: r[c("kind")].clone(),
                form_factor: r[c("form_factor")].clone(),
                memory_gb: req("memory_gb")?,
                tdp: Power::from_watts(req("tdp_w")?),
                tflops_fp32: opt_f64(&id, "tflops_fp32", &r[c("tflops_fp32")])?,
                tflops_fp16: opt_f64(&id, "tflops_fp16", &r[c("tflops_fp16")])?,
                tflops_fp8: opt_f64(&id, "tflops_fp8", &r[c("tflops_fp8")])?,
                release_year: opt_f64(&id, "release_year", &r[c("release_year")])?
                    .map(|y| y as i32),
                spec_source: r[c("spec_source")].clone(),
                embodied: CarbonMass::from_kg(kg),
                embodied_estimated: estimated,
                embodied_basis: r[c("embodied_basis")].clone(),
                embodied_source: r[c("embodied_source")].clone(),
                license: r[c("license")].clone(),
                notes: r[c("notes")].clone(),
                devices_per_card: match r[c("devices_per_card")].trim() {
                    "" => 1,
                    n => n
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=8).contains(n))
                        .ok_or_else(|| {
                            format!("accelerators.csv {id}: devices_per_card {n:?}: 1 to 8")
                        })?,
                },
                id,
            })
        })
        .collect()
}

fn load_embodied() -> Result<Vec<EmbodiedRef>, String> {
    let t = Table::parse("embodied.csv", EMBODIED_CSV)?;
    let c = |n: &str| t.col(n);
    t.rows
        .iter()
        .map(|r| {
            let id = r[c("id")].trim().to_string();
            let num = |col: &str| -> Result<f64, String> {
                r[c(col)]
                    .trim()
                    .parse::<f64>()
                    .map_err(|e| format!("embodied.csv {id}: {col}: {e}"))
            };
            let kg = num("embodied_kgco2e")?;
            let low = num("embodied_low_kgco2e")?;
            let high = num("embodied_high_kgco2e")?;
            let slots = num("slots")?;
            if !(kg.is_finite() && kg > 0.0 && slots >= 1.0) {
                return Err(format!("embodied.csv {id}: implausible figures"));
            }
            if !(low > 0.0 && low <= kg && kg <= high && high.is_finite()) {
                return Err(format!(
                    "embodied.csv {id}: embodied {kg} outside its range {low}-{high}"
                ));
            }
            Ok(EmbodiedRef {
                name: r[c("name")].clone(),
                kind: r[c("kind")].clone(),
                slots: slots as u32,
                embodied: CarbonMass::from_kg(kg),
                embodied_range: (CarbonMass::from_kg(low), CarbonMass::from_kg(high)),
                estimated: r[c("estimated")].trim() == "true",
                basis: r[c("basis")].clone(),
                source: r[c("source")].clone(),
                range_source: r[c("range_source")].clone(),
                year: num("year")? as i32,
                license: r[c("license")].clone(),
                notes: r[c("notes")].clone(),
                id,
            })
        })
        .collect()
}

/// Every accelerator of the catalog, in catalog order (vendor, then generation).
pub fn accelerators() -> &'static [Accelerator] {
    static TABLE: OnceLock<Vec<Accelerator>> = OnceLock::new();
    TABLE.get_or_init(|| load_accelerators().unwrap_or_else(|e| panic!("bundled data: {e}")))
}

/// Hosts and CPU packages with their embodied carbon.
pub fn embodied_refs() -> &'static [EmbodiedRef] {
    static TABLE: OnceLock<Vec<EmbodiedRef>> = OnceLock::new();
    TABLE.get_or_init(|| load_embodied().unwrap_or_else(|e| panic!("bundled data: {e}")))
}

/// One of [`embodied_refs`] by id (`gpu-server`, `cpu-server`, `cpu`).
pub fn embodied_ref(id: &str) -> Option<&'static EmbodiedRef> {
    embodied_refs().iter().find(|e| e.id == id)
}

/// Lower case, alphanumerics only, vendor and family words dropped: `NVIDIA Tesla V100-SXM2-16GB`
/// and `v100 sxm2 16gb` normalise alike.
fn normalise(name: &str) -> String {
    let mut s = name.to_ascii_lowercase();
    for w in [
        "nvidia", "tesla", "geforce", "amd", "instinct", "radeon", "google", "cloud",
    ] {
        s = s.replace(w, " ");
    }
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

/// Looks an accelerator up by id or alias, case-insensitive, ignoring spaces, dashes and vendor
/// words (`a100-80gb`, `NVIDIA A100-SXM4-80GB`, `h100 sxm`, `tpu v4`). An unknown name is an
/// error that lists the closest catalog ids.
pub fn accelerator(name: &str) -> Result<&'static Accelerator, DataError> {
    let n = normalise(name);
    if n.is_empty() {
        return Err(DataError::UnknownHardware {
            input: name.to_string(),
            suggestions: Vec::new(),
        });
    }
    for a in accelerators() {
        if normalise(&a.id) == n || a.aliases.iter().any(|al| normalise(al) == n) {
            return Ok(a);
        }
    }
    Err(DataError::UnknownHardware {
        input: name.to_string(),
        suggestions: suggest(&n),
    })
}

/// The accelerator a device name reported by a driver (NVML's `nvmlDeviceGetName`) denotes, if the
/// catalog has it. Tries the whole name, then the name without a trailing memory-type word.
pub fn accelerator_for_device(device_name: &str) -> Option<&'static Accelerator> {
    if let Ok(a) = accelerator(device_name) {
        return Some(a);
    }
    let n = normalise(device_name);
    // "H100 80GB HBM3" -> try prefixes that still name the model and memory.
    accelerators().iter().find(|a| {
        std::iter::once(&a.id)
            .chain(a.aliases.iter())
            .map(|x| normalise(x))
            .any(|k| k.len() >= 4 && n.starts_with(&k) && n[k.len()..].starts_with("hbm"))
    })
}

fn suggest(n: &str) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = Vec::new();
    for a in accelerators() {
        let d = std::iter::once(&a.id)
            .chain(a.aliases.iter())
            .map(|k| {
                let k = normalise(k);
                if k.contains(n) || n.contains(&k) {
                    k.len().abs_diff(n.len())
                } else {
                    levenshtein(n, &k)
                }
            })
            .min()
            .unwrap_or(usize::MAX);
        scored.push((d, &a.id));
    }
    scored.sort();
    let limit = (n.len() / 2).max(2);
    scored
        .iter()
        .filter(|(d, _)| *d <= limit)
        .take(5)
        .map(|(_, id)| id.to_string())
        .collect()
}
