//! Table 3: CPU TDP (and core count where known) from `data/cpus.csv`, and the lookup of a
//! `/proc/cpuinfo` model name in it.
//!
//! Matching normalises both sides (drops `(R)`, `(TM)`, `CPU`, `Processor`, `@ 2.40GHz`,
//! `64-Core`, `13th Gen`, `with Radeon Graphics`, ...) and then wants either the same normalised
//! name, or the same brand and model-number tokens (`e5-2620 v3`, `i7-1365u`, `epyc 7b13` ->
//! `7b13`) with compatible family words and a single TDP among the candidates. It never guesses
//! across different model numbers: `i7-1365U` does not match `i7-1365UE`.

use std::collections::HashMap;
use std::sync::OnceLock;

use ecotrace_core::Power;
use serde::Serialize;

use crate::csv::Table;

const CPUS_CSV: &str = include_str!("../data/cpus.csv");

/// One CPU of the bundled TDP table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuSpec {
    /// Name as the upstream table writes it, e.g. `Intel Xeon E5-2620 v3`.
    pub name: String,
    /// Thermal design power of the package.
    pub tdp: Power,
    /// Physical cores, where the vendor dataset gives them.
    pub cores: Option<u32>,
    pub source: String,
    /// Year of the data snapshot the row was taken from (not the CPU's launch year).
    pub year: i32,
}

struct Cpus {
    list: Vec<CpuSpec>,
    /// Normalised full name -> rows.
    by_name: HashMap<String, Vec<usize>>,
    /// brand|model tokens -> rows.
    by_model: HashMap<String, Vec<usize>>,
    keys: Vec<Key>,
}

/// A normalised CPU name.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    /// All tokens, in order.
    full: String,
    brand: &'static str,
    /// Tokens that hold a digit: the model number and its suffixes (`e5-2620`, `v3`).
    model: Vec<String>,
    /// The other tokens, less the brand (`xeon`, `gold`, `ryzen`, `pro`).
    family: Vec<String>,
}

impl Key {
    fn model_key(&self) -> Option<String> {
        (!self.model.is_empty()).then(|| format!("{}|{}", self.brand, self.model.join(" ")))
    }
}

const DROP_WORDS: &[&str] = &[
    "cpu",
    "processor",
    "processors",
    "apu",
    "gen",
    "generation",
    "x-series",
    "(r)",
    "(tm)",
];

fn is_ordinal(t: &str) -> bool {
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &t[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && matches!(suffix, "st" | "nd" | "rd" | "th")
}

fn is_core_count(t: &str) -> bool {
    t.strip_suffix("-core")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn is_frequency(t: &str) -> bool {
    (t.ends_with("ghz") || t.ends_with("mhz"))
        && t[..t.len() - 3]
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
}

fn normalise(name: &str) -> Key {
    let mut s = name.to_lowercase();
    for noise in ["(r)", "(tm)", "(c)", "®", "™"] {
        s = s.replace(noise, " ");
    }
    if let Some(at) = s.find('@') {
        s.truncate(at);
    }
    // Drop parenthesised remarks: "(9M Cache, up to 4.00 GHz)", "(OEM Only)".
    let mut cleaned = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => cleaned.push(if c == ',' { ' ' } else { c }),
            _ => {}
        }
    }
    let mut tokens: Vec<&str> = Vec::new();
    for t in cleaned.split_whitespace() {
        if t == "with" || t == "w/" {
            break; // "with Radeon Graphics", "w/ Radeon 780M Graphics"
        }
        if DROP_WORDS.contains(&t)
            || t == "0" // "E5-2620 0": first-generation marker in cpuinfo
            || is_ordinal(t)
            || is_core_count(t)
            || is_frequency(t)
        {
            continue;
        }
        tokens.push(t);
    }
    let brand = tokens
        .iter()
        .find_map(|t| match *t {
            "intel" => Some("intel"),
            "amd" => Some("amd"),
            "apple" => Some("apple"),
            _ => None,
        })
        .unwrap_or("");
    let mut model = Vec::new();
    let mut family = Vec::new();
    for t in &tokens {
        if t.chars().any(|c| c.is_ascii_digit()) {
            model.push(t.to_string());
        } else if *t != brand {
            family.push(t.to_string());
        }
    }
    Key {
        full: tokens.join(" "),
        brand,
        model,
        family,
    }
}

fn load(text: &str) -> Result<Cpus, String> {
    let t = Table::parse("cpus.csv", text)?;
    let (c_name, c_tdp, c_cores, c_src, c_year) = (
        t.col("name"),
        t.col("tdp_w"),
        t.col("cores"),
        t.col("source"),
        t.col("year"),
    );
    let mut cpus = Cpus {
        list: Vec::with_capacity(t.rows.len()),
        by_name: HashMap::new(),
        by_model: HashMap::new(),
        keys: Vec::with_capacity(t.rows.len()),
    };
    for r in &t.rows {
        let name = r[c_name].clone();
        let tdp: f64 = r[c_tdp]
            .parse()
            .map_err(|e| format!("cpus.csv {name}: tdp_w {:?}: {e}", r[c_tdp]))?;
        if !(tdp.is_finite() && tdp > 0.0 && tdp < 2000.0) {
            return Err(format!("cpus.csv {name}: tdp_w {tdp} out of range"));
        }
        let cores = match r[c_cores].trim() {
            "" => None,
            c => Some(
                c.parse::<u32>()
                    .map_err(|e| format!("cpus.csv {name}: cores {c:?}: {e}"))?,
            ),
        };
        let year: i32 = r[c_year]
            .parse()
            .map_err(|e| format!("cpus.csv {name}: year: {e}"))?;
        let key = normalise(&name);
        let i = cpus.list.len();
        if let Some(mk) = key.model_key() {
            cpus.by_name.entry(key.full.clone()).or_default().push(i);
            cpus.by_model.entry(mk).or_default().push(i);
        }
        cpus.keys.push(key);
        cpus.list.push(CpuSpec {
            name,
            tdp: Power::from_watts(tdp),
            cores,
            source: r[c_src].clone(),
            year,
        });
    }
    Ok(cpus)
}

fn table() -> &'static Cpus {
    static CPUS: OnceLock<Cpus> = OnceLock::new();
    CPUS.get_or_init(|| {
        load(CPUS_CSV).unwrap_or_else(|e| panic!("bundled CPU data is invalid: {e}"))
    })
}

/// Every row of the bundled CPU TDP table.
pub fn cpus() -> &'static [CpuSpec] {
    &table().list
}

/// The one row of `rows` if they all agree on TDP (the shortest name wins), else None.
fn agreed(t: &Cpus, rows: &[usize]) -> Option<CpuSpec> {
    let first = *rows.first()?;
    let tdp = t.list[first].tdp;
    if rows.iter().any(|&i| t.list[i].tdp != tdp) {
        return None;
    }
    rows.iter()
        .min_by_key(|&&i| (t.list[i].name.len(), i))
        .map(|&i| t.list[i].clone())
}

/// Whether `hay` contains `needle` (already lower case), ignoring ASCII case.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    n.is_empty()
        || hay
            .as_bytes()
            .windows(n.len())
            .any(|w| w.eq_ignore_ascii_case(n))
}

fn subset(a: &[String], b: &[String]) -> bool {
    a.iter().all(|x| b.contains(x))
}

/// Finds the CPU in the bundled table from a /proc/cpuinfo `model name` such as
/// "Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz" or "AMD EPYC 7B13 64-Core Processor" or
/// "13th Gen Intel(R) Core(TM) i7-1365U". Returns None rather than a wrong guess.
pub fn cpu_lookup(model_name: &str) -> Option<CpuSpec> {
    let key = normalise(model_name);
    let mk = key.model_key()?;
    // Every row that can match has the query's model tokens in its name, so only those rows are
    // parsed and normalised: a lookup at start-up then costs a scan of the text, not the whole
    // table (see `scripts/bench-overhead`). No field of the table spans lines.
    let mut text = String::new();
    let mut lines = CPUS_CSV.lines();
    text.push_str(lines.next()?);
    text.push('\n');
    for line in lines {
        if key.model.iter().all(|m| contains_ignore_case(line, m)) {
            text.push_str(line);
            text.push('\n');
        }
    }
    let t = load(&text).unwrap_or_else(|e| panic!("bundled CPU data is invalid: {e}"));
    lookup_in(&t, &key, &mk)
}

/// The matching rules, over any table (the whole one, or the rows pre-selected by model tokens).
fn lookup_in(t: &Cpus, key: &Key, mk: &str) -> Option<CpuSpec> {
    if let Some(rows) = t.by_name.get(&key.full) {
        return agreed(t, rows);
    }
    let rows: Vec<usize> = t
        .by_model
        .get(mk)?
        .iter()
        .copied()
        .filter(|&i| {
            let f = &t.keys[i].family;
            subset(f, &key.family) || subset(&key.family, f)
        })
        .collect();
    agreed(t, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preselected_lookup_agrees_with_the_whole_table() {
        let whole = table();
        for (i, row) in whole.list.iter().enumerate().step_by(31) {
            for query in [row.name.clone(), format!("{} @ 2.40GHz", row.name)] {
                let key = normalise(&query);
                let Some(mk) = key.model_key() else { continue };
                assert_eq!(
                    cpu_lookup(&query),
                    lookup_in(whole, &key, &mk),
                    "row {i}: {query}"
                );
            }
        }
    }

    #[test]
    fn normalises_cpuinfo_names() {
        let k = normalise("Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz");
        assert_eq!(k.full, "intel xeon e5-2620 v3");
        assert_eq!(k.model, ["e5-2620", "v3"]);
        assert_eq!(
            normalise("13th Gen Intel(R) Core(TM) i7-1365U").full,
            "intel core i7-1365u"
        );
        assert_eq!(
            normalise("AMD EPYC 7B13 64-Core Processor").full,
            "amd epyc 7b13"
        );
        assert_eq!(
            normalise("AMD Ryzen 7 PRO 4750U with Radeon Graphics").full,
            "amd ryzen 7 pro 4750u"
        );
        assert_eq!(
            normalise("Intel(R) Xeon(R) CPU E5-2620 0 @ 2.00GHz").full,
            "intel xeon e5-2620"
        );
        assert_eq!(
            normalise("Intel(R) Xeon(R) CPU @ 2.20GHz").model_key(),
            None
        );
        assert_eq!(normalise("AMD 7th Gen A10-9600P APU").full, "amd a10-9600p");
    }
}
