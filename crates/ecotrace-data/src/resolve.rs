//! Resolving a user's `--region` to an intensity (and, for cloud regions, a PUE and WUE).

use ecotrace_core::{CarbonIntensity, GridBasis, Pue};
use serde::Serialize;

use crate::cloud::{canonical_provider, cloud_regions, CloudRegion};
use crate::zones::{self, GridMapping, ZoneIntensity};
use crate::DataError;

/// What a user's --region resolved to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedRegion {
    /// Canonical id: a zone id (`FR`, `US-CA`, `US-CAL-CISO`) or a cloud region
    /// (`aws:eu-west-3`).
    pub zone: String,
    pub name: String,
    /// The figure on [`ResolvedRegion::basis`].
    pub intensity: CarbonIntensity,
    /// The basis of `intensity`: the one asked for, except where the zone has no direct figure
    /// (then life-cycle, and `note` says so).
    pub basis: GridBasis,
    /// The grid zone of `zones.csv` whose figures are used (`US-MIDA-PJM` for `US-VA` and for
    /// `aws:us-east-1`; the zone itself otherwise).
    pub grid_zone: String,
    pub year: i32,
    pub source: String,
    /// What a reader should know about the figure: the zone that serves a mapped id, or a basis
    /// that differs from the one asked for.
    pub note: Option<String>,
    /// Only cloud regions carry a PUE.
    pub pue: Option<(Pue, String)>,
    pub wue_l_per_kwh: Option<(f64, String)>,
    pub cloud: Option<CloudRegion>,
}

/// The note for a zone asked on `basis` that answered on `got`.
fn basis_note(z: &ZoneIntensity, asked: GridBasis, got: GridBasis) -> Option<String> {
    (asked != got).then(|| {
        format!(
            "{} has no {asked} figure bundled (its source publishes life-cycle only): its {got} figure is used",
            z.id
        )
    })
}

fn join_notes(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

impl ResolvedRegion {
    fn from_zone(z: &ZoneIntensity, asked: GridBasis) -> Self {
        let (intensity, basis) = z.on(asked);
        ResolvedRegion {
            zone: z.id.clone(),
            name: z.name.clone(),
            intensity,
            basis,
            grid_zone: z.id.clone(),
            year: z.year,
            source: z.source.clone(),
            note: basis_note(z, asked, basis),
            pue: None,
            wue_l_per_kwh: None,
            cloud: None,
        }
    }

    fn from_mapping(m: &GridMapping, z: &ZoneIntensity, asked: GridBasis) -> Self {
        let mut r = Self::from_zone(z, asked);
        let why = format!(
            "{} ({}) is served by grid zone {} ({}): {}",
            m.id, m.name, z.id, z.name, m.source
        );
        r.zone = m.id.clone();
        r.name = format!("{} (grid zone {})", m.name, z.id);
        r.source = format!("grid zone {}: {}", z.id, z.source);
        r.note = join_notes(Some(why), r.note);
        r
    }

    fn from_cloud(c: &CloudRegion, asked: GridBasis) -> Self {
        let z = zones::zone(&c.zone).expect("cloud regions are checked to name a known zone");
        let (intensity, basis) = z.on(asked);
        let provider = match c.provider.as_str() {
            "aws" => "AWS",
            "gcp" => "Google Cloud",
            "azure" => "Azure",
            other => other,
        };
        ResolvedRegion {
            zone: c.id(),
            name: format!("{provider} {} ({})", c.region, c.location),
            intensity,
            basis,
            grid_zone: z.id.clone(),
            year: c.intensity_year.unwrap_or(z.year),
            source: c.intensity_source.clone(),
            note: basis_note(z, asked, basis),
            pue: c.pue.map(|p| (p, c.pue_source.clone())),
            wue_l_per_kwh: c.wue_l_per_kwh.map(|w| (w, c.wue_source.clone())),
            cloud: Some(c.clone()),
        }
    }
}

/// [`resolve_region_on`] on the default basis (life-cycle).
pub fn resolve_region(input: &str) -> Result<ResolvedRegion, DataError> {
    resolve_region_on(input, GridBasis::Lifecycle)
}

/// Accepts ISO2 (`FR`), ISO3 (`FRA`), zone ids (`US-CA`, `AU-NSW`, `US-CAL-CISO`), cloud regions
/// as `provider:region` (`aws:eu-west-3`, `gcp:europe-west9`, `azure:francecentral`; also the
/// aliases `google`/`gcp`, `azure`/`microsoft`, `amazon`/`aws`), case-insensitive, surrounding
/// spaces ignored. Also accepted: a bare cloud region id that only one provider uses
/// (`eu-west-3`), a zone's exact name when only one zone has it (`France`), and ids that are
/// served by a grid zone (`US-VA` -> `US-MIDA-PJM`, `CN-YN` -> `CN`; `data/grid_map.csv`).
/// The intensity is on `basis` where the zone has a figure on it.
pub fn resolve_region_on(input: &str, basis: GridBasis) -> Result<ResolvedRegion, DataError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DataError::EmptyRegion);
    }
    let unknown = |suggestions| DataError::UnknownZone {
        input: s.to_string(),
        suggestions,
    };
    if let Some((p, r)) = s.split_once(':') {
        let region = r.trim().to_ascii_lowercase();
        if let Some(p) = canonical_provider(p) {
            if let Some(c) = cloud_regions()
                .iter()
                .find(|c| c.provider == p && c.region == region)
            {
                return Ok(ResolvedRegion::from_cloud(c, basis));
            }
            let norm = format!("{p}:{region}");
            return Err(unknown(suggest(&norm)));
        }
        return Err(unknown(suggest(&s.to_ascii_lowercase())));
    }
    // A zone or a mapped id is found from its row alone; the rest needs the whole tables.
    if let Some(z) = zones::zone(s) {
        return Ok(ResolvedRegion::from_zone(z, basis));
    }
    if let Some(m) = zones::grid_mapping(s) {
        let z = zones::zone(&m.grid_zone).expect("grid_map.csv is checked at load");
        return Ok(ResolvedRegion::from_mapping(m, z, basis));
    }
    let t = zones::table();
    let lower = s.to_ascii_lowercase();
    let bare: Vec<&CloudRegion> = cloud_regions()
        .iter()
        .filter(|c| c.region == lower)
        .collect();
    match bare.as_slice() {
        [one] => return Ok(ResolvedRegion::from_cloud(one, basis)),
        [] => {}
        many => return Err(unknown(many.iter().map(|c| c.id()).collect())),
    }
    let by_name: Vec<&ZoneIntensity> = t
        .list
        .iter()
        .filter(|z| z.name.eq_ignore_ascii_case(s))
        .collect();
    let mapped_by_name: Vec<&GridMapping> = t
        .mapped
        .iter()
        .filter(|m| m.name.eq_ignore_ascii_case(s))
        .collect();
    match (by_name.as_slice(), mapped_by_name.as_slice()) {
        ([one], []) => Ok(ResolvedRegion::from_zone(one, basis)),
        ([], [m]) => {
            let z = t
                .get(&m.grid_zone)
                .expect("grid_map.csv is checked at load");
            Ok(ResolvedRegion::from_mapping(m, z, basis))
        }
        ([], []) => Err(unknown(suggest(s))),
        (zs, ms) => Err(unknown(
            zs.iter()
                .map(|z| z.id.clone())
                .chain(ms.iter().map(|m| m.id.clone()))
                .collect(),
        )),
    }
}

/// Every id `resolve_region` accepts canonically: zone ids, then `provider:region` ids.
pub fn known_ids() -> Vec<String> {
    let mut ids: Vec<String> = zones::zones().iter().map(|z| z.id.clone()).collect();
    ids.extend(zones::grid_mappings().iter().map(|m| m.id.clone()));
    ids.extend(cloud_regions().iter().map(|c| c.id()));
    ids
}

const MAX_SUGGESTIONS: usize = 8;

/// Closest known ids to `input`: those at the smallest edit distance (if close enough), then
/// ids that extend the input (`US-CAL` -> `US-CAL-CISO`, ...).
fn suggest(input: &str) -> Vec<String> {
    let is_cloud = input.contains(':');
    let needle = if is_cloud {
        input.to_ascii_lowercase()
    } else {
        input.to_ascii_uppercase()
    };
    let t = zones::table();
    // Candidates: canonical ids and aliases (an alias is suggested as its canonical id).
    let mut cands: Vec<(String, String)> = if is_cloud {
        cloud_regions().iter().map(|c| (c.id(), c.id())).collect()
    } else {
        let mut v: Vec<(String, String)> = t
            .list
            .iter()
            .map(|z| (z.id.clone(), z.id.clone()))
            .collect();
        v.extend(t.aliases.iter().map(|(a, id)| (a.clone(), id.clone())));
        v.extend(t.mapped.iter().map(|m| (m.id.clone(), m.id.clone())));
        v
    };
    cands.sort();
    let limit = (needle.chars().count() / 3).max(2);
    let mut best = usize::MAX;
    let mut scored = Vec::new();
    for (key, id) in &cands {
        let d = levenshtein(&needle, key);
        best = best.min(d);
        scored.push((d, id));
    }
    let mut out: Vec<String> = Vec::new();
    let push = |id: &String, out: &mut Vec<String>| {
        if out.len() < MAX_SUGGESTIONS && !out.contains(id) {
            out.push(id.clone());
        }
    };
    if best <= limit {
        let mut tier: Vec<&String> = scored
            .iter()
            .filter(|(d, _)| *d == best)
            .map(|(_, id)| *id)
            .collect();
        tier.sort();
        for id in tier {
            push(id, &mut out);
        }
    }
    if needle.len() >= 2 {
        for (key, id) in &cands {
            if key.starts_with(needle.as_str()) {
                push(id, &mut out);
            }
        }
    }
    out
}

/// Edit distance between two strings (for "did you mean" suggestions).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("US-CAA", "US-CA"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_rank_closest_first() {
        assert_eq!(suggest("US-CAA")[0], "US-CA");
        let s = suggest("aws:eu-west-9");
        assert_eq!(&s[..3], ["aws:eu-west-1", "aws:eu-west-2", "aws:eu-west-3"]);
        assert!(suggest("US-CAL").contains(&"US-CAL-CISO".to_string()));
        // An alias is suggested as its canonical id.
        assert!(suggest("FRAA").contains(&"FR".to_string()));
        assert!(suggest("qqqqqqqqqqqq").is_empty());
    }
}
