//! CodeCarbon's `emissions.csv`, both ways: [`codecarbon_csv`] writes runs in CodeCarbon's
//! columns and order, so tools built for CodeCarbon output read ecotrace's; [`parse_codecarbon`]
//! reads such a file into run records, so users switching over keep their history.
//!
//! The columns are those of CodeCarbon 3.3.0 (the `EmissionsData` dataclass in
//! `codecarbon/output_methods/emissions_data.py`, as written by a real 3.3.0 run captured in
//! mlco2/codecarbon `tests/cli/test_cli_ci_report.py`): [`COLUMNS`]. Reading accepts older layouts
//! (columns are found by name). Two CodeCarbon conventions matter: its energy columns include the
//! PUE (`energy *= self._pue` in `emissions_tracker.py`), while ecotrace stores IT energy; and it
//! appends one cumulative row per flush, so a run's last row holds its totals.
//!
//! Imported records keep CodeCarbon's figures (emissions as written, energy ÷ its PUE), say in
//! their notes and component notes that they were imported and what CodeCarbon did not record,
//! and never claim a measurement method CodeCarbon does not name. Parsing is all or nothing: any
//! bad row fails the whole file. This module must not do I/O; the caller reads the file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use ecotrace_core::{
    CarbonIntensity, CarbonMass, ComponentEnergy, ComponentKind, Energy, EnergyBreakdown, Host,
    IntensityBasis, IntensityUsed, Method, Phase, Power, Pue, PueUsed, RecordKind, RunRecord,
    RunStatus, SamplesSummary, Scope, TrackerInfo, Water, WaterIntensity, WaterUsed,
    RECORD_VERSION,
};

use crate::figures::gpu_groups;
use crate::text::{csv_row, plain};

/// CodeCarbon 3.3.0's `emissions.csv` header, in its order.
pub const COLUMNS: [&str; 38] = [
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "water_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "cpu_utilization_percent",
    "gpu_utilization_percent",
    "ram_utilization_percent",
    "ram_used_gb",
    "on_cloud",
    "pue",
    "wue",
];

/// Columns a file must have to be read as CodeCarbon's.
const REQUIRED: [&str; 5] = [
    "timestamp",
    "project_name",
    "duration",
    "emissions",
    "energy_consumed",
];

/// Tag prefix of the CodeCarbon columns ecotrace has no field for, kept on import and written
/// back on export.
pub const TAG_PREFIX: &str = "codecarbon.";

/// Columns kept as `codecarbon.*` tags on import.
const KEPT_AS_TAGS: [&str; 11] = [
    "experiment_id",
    "codecarbon_version",
    "python_version",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "on_cloud",
    "longitude",
    "latitude",
];

/// CodeCarbon's time format (local time, no zone). ecotrace writes UTC in it.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

fn tag<'a>(r: &'a RunRecord, column: &str) -> Option<&'a str> {
    r.tags
        .get(&format!("{TAG_PREFIX}{column}"))
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// ISO 3166-1 alpha-3 code of the country of a grid zone (`FR` → `FRA`, `US-CA` → `USA`), from
/// the bundled zone aliases.
fn alpha3(zone: &str) -> Option<&'static str> {
    let country = zone.split('-').next().unwrap_or(zone);
    ecotrace_data::zone_aliases()
        .find(|(alias, id)| {
            *id == country && alias.len() == 3 && alias.chars().all(|c| c.is_ascii_alphabetic())
        })
        .map(|(alias, _)| alias)
}

/// Mean of a figure over the components of one kind that have it.
fn figure_mean(r: &RunRecord, kind: ComponentKind, key: &str) -> Option<f64> {
    let v: Vec<f64> = r
        .components
        .iter()
        .filter(|c| c.component == kind)
        .filter_map(|c| c.figures.get(key).copied())
        .filter(|v| v.is_finite())
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn opt(v: Option<f64>) -> String {
    v.map(plain).unwrap_or_default()
}

/// Runs as CodeCarbon's `emissions.csv`: the [`COLUMNS`] header, one row per run (a run's
/// final, cumulative figures, as CodeCarbon's last row for a run holds).
///
/// Mapping: `timestamp` the end of the run in UTC; `duration` s; `emissions` operational kgCO2e;
/// `emissions_rate` kg/s; `*_power` mean IT power by kind (W); `*_energy` and `energy_consumed`
/// IT energy × PUE in kWh, as CodeCarbon counts it; `water_consumed` on-site water (L) and `wue`
/// when assessed; the grid zone's country name and alpha-3 code, and the zone in `region` for a
/// sub-national zone; host, GPU (`2 x NAME`) and CPU details; `tracking_mode` the scope; `pue`.
/// Columns ecotrace does not know are empty (never guessed), except for runs imported from
/// CodeCarbon, whose kept `codecarbon.*` tags are written back.
pub fn codecarbon_csv(rs: &[RunRecord]) -> String {
    let mut out = codecarbon_csv_header();
    for r in rs {
        out.push_str(&codecarbon_csv_row(r));
    }
    out
}

/// The header line of [`codecarbon_csv`], with its newline.
pub fn codecarbon_csv_header() -> String {
    let mut out = csv_row(&COLUMNS);
    out.push('\n');
    out
}

/// One run as a line of [`codecarbon_csv`], with its newline: for writing a ledger's runs as they
/// are read, one at a time.
pub fn codecarbon_csv_row(r: &RunRecord) -> String {
    {
        let secs = r.duration.as_secs_f64();
        let pue = r.pue.value.value();
        let per_s = |kwh: f64| if secs > 0.0 { kwh * 3.6e6 / secs } else { 0.0 };
        let end = r.ended_at.unwrap_or_else(|| {
            r.started_at + chrono::Duration::milliseconds(r.duration.as_millis() as i64)
        });
        let zone = r.intensity.zone.as_str();
        let known_zone = ecotrace_data::zone(zone).filter(|_| {
            !matches!(r.intensity.basis, IntensityBasis::WorldDefault) && zone != "user"
        });
        let country_name = tag(r, "country_name").map(str::to_string).or_else(|| {
            known_zone.map(|z| {
                let country = z.id.split('-').next().unwrap_or(&z.id);
                ecotrace_data::zone(country)
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| z.name.clone())
            })
        });
        let iso = tag(r, "country_iso_code")
            .map(str::to_string)
            .or_else(|| known_zone.and_then(|z| alpha3(&z.id)).map(str::to_string));
        let region = tag(r, "region").map(str::to_string).or_else(|| {
            known_zone
                .filter(|z| z.id.contains('-'))
                .map(|z| z.id.clone())
        });
        let water_onsite = r.water_used.as_ref().map(|w| w.onsite.litres());
        let wue = r.water_used.as_ref().map(|w| w.wue.l_per_kwh());
        let t = |c: &str| tag(r, c).unwrap_or("").to_string();
        let row = [
            end.format(TIME_FORMAT).to_string(),
            r.project.clone(),
            r.id.clone(),
            t("experiment_id"),
            plain(secs),
            plain(r.operational.kg()),
            plain(if secs > 0.0 {
                r.operational.kg() / secs
            } else {
                0.0
            }),
            plain(per_s(r.energy_kwh.cpu.kwh())),
            plain(per_s(r.energy_kwh.gpu.kwh())),
            plain(per_s(r.energy_kwh.ram.kwh())),
            plain(r.energy_kwh.cpu.kwh() * pue),
            plain(r.energy_kwh.gpu.kwh() * pue),
            plain(r.energy_kwh.ram.kwh() * pue),
            plain(r.energy_kwh.total.kwh() * pue),
            opt(water_onsite),
            country_name.unwrap_or_default(),
            iso.unwrap_or_default(),
            region.unwrap_or_default(),
            t("cloud_provider"),
            t("cloud_region"),
            r.host.os.clone(),
            t("python_version"),
            t("codecarbon_version"),
            if r.host.cpu_count > 0 {
                r.host.cpu_count.to_string()
            } else {
                String::new()
            },
            r.host.cpu_model.clone(),
            r.host.gpus.len().to_string(),
            gpu_groups(&r.host.gpus).join(", "),
            t("longitude"),
            t("latitude"),
            if r.host.memory_gb > 0.0 {
                plain(r.host.memory_gb)
            } else {
                String::new()
            },
            r.scope.to_string(),
            opt(figure_mean(r, ComponentKind::Cpu, "util_mean").map(|u| u * 100.0)),
            opt(figure_mean(r, ComponentKind::Gpu, "util_mean").map(|u| u * 100.0)),
            String::new(),
            opt(figure_mean(r, ComponentKind::Ram, "memory_gb_mean")),
            t("on_cloud"),
            plain(pue),
            opt(wue),
        ];
        let mut out = csv_row(&row);
        out.push('\n');
        out
    }
}

/// Why a CodeCarbon file could not be read. `line` is the 1-based line of the file (the header is
/// line 1) when the problem is in one row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ImportError {
    pub line: Option<usize>,
    pub message: String,
}

fn err(line: Option<usize>, message: impl Into<String>) -> ImportError {
    ImportError {
        line,
        message: message.into(),
    }
}

/// How to import: where the file came from (for the notes), and what to set that CodeCarbon does
/// not record.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions<'a> {
    /// The file's name or path, written into each record's notes.
    pub source_name: &'a str,
    /// Project for every run instead of CodeCarbon's `project_name`.
    pub project: Option<&'a str>,
    /// Phase of every run (CodeCarbon has none); default `other`.
    pub phase: Option<Phase>,
}

/// RFC 4180 records with the line each starts on. Quoted fields may hold commas, quotes and line
/// breaks; a UTF-8 byte order mark is skipped.
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, ImportError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut started = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if field.is_empty() => {
                if !started {
                    start_line = line;
                }
                started = true;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(ch) => {
                            if ch == '\n' {
                                line += 1;
                            }
                            field.push(ch);
                        }
                        None => {
                            return Err(err(Some(start_line), "a quoted field is never closed"))
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') | Some('\r') => {}
                    Some(other) => {
                        return Err(err(
                            Some(line),
                            format!("unexpected {other:?} after a closing quote"),
                        ))
                    }
                }
            }
            ',' => {
                if !started {
                    start_line = line;
                }
                started = true;
                record.push(std::mem::take(&mut field));
            }
            '\r' => {}
            '\n' => {
                if started {
                    record.push(std::mem::take(&mut field));
                    records.push((start_line, std::mem::take(&mut record)));
                }
                started = false;
                line += 1;
            }
            '"' => return Err(err(Some(line), "a quote inside an unquoted field")),
            _ => {
                if !started {
                    start_line = line;
                }
                started = true;
                field.push(c);
            }
        }
    }
    if started {
        record.push(field);
        records.push((start_line, record));
    }
    Ok(records)
}

/// One data row, with its columns by name.
struct Row<'a> {
    line: usize,
    header: &'a [String],
    fields: &'a [String],
}

impl Row<'_> {
    fn get(&self, column: &str) -> &str {
        self.header
            .iter()
            .position(|h| h == column)
            .map(|i| self.fields[i].trim())
            .unwrap_or("")
    }

    /// A number that may be empty (`None`); a non-number or a non-finite value is an error.
    fn num(&self, column: &str) -> Result<Option<f64>, ImportError> {
        let s = self.get(column);
        if s.is_empty() {
            return Ok(None);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(err(
                Some(self.line),
                format!("column {column}: {s:?} is not a number"),
            )),
        }
    }

    /// A number that must be there and must not be negative.
    fn amount(&self, column: &str) -> Result<f64, ImportError> {
        let v = self
            .num(column)?
            .ok_or_else(|| err(Some(self.line), format!("column {column} is empty")))?;
        if v < 0.0 {
            return Err(err(
                Some(self.line),
                format!("column {column}: {v} is negative"),
            ));
        }
        Ok(v)
    }

    /// An optional amount (empty → 0), never negative.
    fn amount_or_zero(&self, column: &str) -> Result<f64, ImportError> {
        match self.num(column)? {
            None => Ok(0.0),
            Some(v) if v < 0.0 => Err(err(
                Some(self.line),
                format!("column {column}: {v} is negative"),
            )),
            Some(v) => Ok(v),
        }
    }
}

/// FNV-1a, for stable ids of rows that have no `run_id`.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn parse_time(s: &str, line: usize) -> Result<(DateTime<Utc>, bool), ImportError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok((t.with_timezone(&Utc), true));
    }
    for f in [
        TIME_FORMAT,
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok((Utc.from_utc_datetime(&t), false));
        }
    }
    Err(err(
        Some(line),
        format!("column timestamp: {s:?} is not a time like 2024-05-01T09:00:00"),
    ))
}

/// GPU names from CodeCarbon's `gpu_model` (`2 x NAME`, or `NAME`, several joined by `, `) and
/// `gpu_count`: one entry per device.
fn gpus(model: &str, count: Option<f64>) -> Vec<String> {
    let mut out = Vec::new();
    for part in model.split(", ").map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once(" x ") {
            Some((n, name)) if n.trim().parse::<usize>().is_ok() => {
                let n = n.trim().parse::<usize>().unwrap_or(1).min(4096);
                out.extend(std::iter::repeat_n(name.trim().to_string(), n));
            }
            _ => out.push(part.to_string()),
        }
    }
    let count = count.unwrap_or(0.0).max(0.0) as usize;
    if out.len() == 1 && count > 1 {
        let name = out[0].clone();
        out = vec![name; count.min(4096)];
    }
    out
}

/// Reads a CodeCarbon `emissions.csv` into run records, one per CodeCarbon run (`run_id`): its
/// last, cumulative row (the one with the longest duration). Rows without a `run_id` are each a
/// run, with an id derived from their content (so importing twice gives the same ids).
///
/// Each record: status `finished` with no exit code (CodeCarbon records neither), no command;
/// `duration_s` and operational CO2e (`emissions`) as written; IT energy per kind = CodeCarbon's
/// energy ÷ its PUE; grid intensity = emissions ÷ `energy_consumed` (basis `user`, source saying
/// so); the host from CodeCarbon's columns; on-site water from `water_consumed` and `wue` when
/// CodeCarbon assessed it; the other CodeCarbon columns as `codecarbon.*` tags; notes saying it was
/// imported and what that means. Any malformed row fails the whole file.
pub fn parse_codecarbon(text: &str, opts: &ImportOptions) -> Result<Vec<RunRecord>, ImportError> {
    let mut reader = CodecarbonRows::new(text.as_bytes())?;
    let mut rows = Vec::new();
    while let Some(row) = reader.next_row() {
        rows.push(row?);
    }
    if rows.is_empty() {
        return Err(err(None, "the file has a header but no rows"));
    }
    // Group the rows of each run, keeping file order of first appearance.
    let mut order: Vec<&str> = Vec::new();
    let mut by_run: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let idx = by_run.entry(row.id.as_str()).or_default();
        if idx.is_empty() {
            order.push(row.id.as_str());
        }
        idx.push(i);
    }
    let mut out = Vec::with_capacity(order.len());
    for id in order {
        let idx = &by_run[id];
        // Keep the cumulative last row: the longest.
        let mut best = idx[0];
        for &i in idx {
            if rows[i].duration_s >= rows[best].duration_s {
                best = i;
            }
        }
        out.push(reader.record(&rows[best], idx.len(), opts)?);
    }
    Ok(out)
}

/// One data row of a CodeCarbon file, checked: as many fields as the header, the duration,
/// emissions and energy there and not negative.
#[derive(Debug, Clone)]
pub struct CodecarbonRow {
    /// The line the row starts on.
    pub line: usize,
    /// The run it belongs to: CodeCarbon's `run_id`, or an id derived from the row's content
    /// when it has none (so importing twice gives the same id).
    pub id: String,
    /// CodeCarbon's `duration`: of several rows of one run, the longest is the run.
    pub duration_s: f64,
    fields: Vec<String>,
}

/// A CodeCarbon `emissions.csv` read one row at a time from `R` (a file, or bytes in memory), so
/// that a file of millions of runs is never held whole. [`parse_codecarbon`] is the in-memory
/// form.
pub struct CodecarbonRows<R> {
    reader: R,
    header: Vec<String>,
    /// The number of the next physical line.
    line: usize,
    buf: String,
}

impl<R: std::io::BufRead> CodecarbonRows<R> {
    /// Reads and checks the header.
    pub fn new(reader: R) -> Result<Self, ImportError> {
        let mut rows = CodecarbonRows {
            reader,
            header: Vec::new(),
            line: 1,
            buf: String::new(),
        };
        let Some((_, header)) = rows.next_record()? else {
            return Err(err(
                None,
                "the file is empty (expected CodeCarbon's emissions.csv header)",
            ));
        };
        let header: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|c| !header.iter().any(|h| h == c))
            .collect();
        if !missing.is_empty() {
            return Err(err(
                Some(1),
                format!(
                    "not a CodeCarbon emissions.csv: no column {} (CodeCarbon's header starts timestamp,project_name,run_id,experiment_id,duration,emissions,...)",
                    missing.join(", ")
                ),
            ));
        }
        rows.header = header;
        Ok(rows)
    }

    /// The next CSV record (physical lines joined while a quoted field is open), with the line it
    /// starts on; `None` at the end.
    fn next_record(&mut self) -> Result<Option<(usize, Vec<String>)>, ImportError> {
        loop {
            self.buf.clear();
            let start = self.line;
            loop {
                let n = self
                    .reader
                    .read_line(&mut self.buf)
                    .map_err(|e| err(Some(self.line), format!("cannot read it: {e}")))?;
                if n == 0 {
                    break;
                }
                self.line += 1;
                // Quotes inside a quoted field are doubled: an odd count means it is still open.
                if self.buf.bytes().filter(|&b| b == b'"').count() % 2 == 0 {
                    break;
                }
            }
            if self.buf.is_empty() {
                return Ok(None);
            }
            let shift = |l: usize| l + start - 1;
            let mut records = csv_records(&self.buf).map_err(|e| ImportError {
                line: e.line.map(shift),
                message: e.message,
            })?;
            // A blank line holds no record.
            if let Some((l, fields)) = records.pop() {
                return Ok(Some((shift(l), fields)));
            }
        }
    }

    /// The next data row, checked; `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<CodecarbonRow, ImportError>> {
        let (line, fields) = match self.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        Some(self.check(line, fields))
    }

    fn check(&self, line: usize, fields: Vec<String>) -> Result<CodecarbonRow, ImportError> {
        if fields.len() != self.header.len() {
            return Err(err(
                Some(line),
                format!(
                    "{} fields, but the header has {}",
                    fields.len(),
                    self.header.len()
                ),
            ));
        }
        let row = Row {
            line,
            header: &self.header,
            fields: &fields,
        };
        let duration_s = row.amount("duration")?;
        row.amount("emissions")?;
        row.amount("energy_consumed")?;
        let run_id = row.get("run_id");
        let id = if run_id.is_empty() {
            format!(
                "codecarbon-{:016x}",
                fnv(&format!(
                    "{}|{}|{}|{}",
                    row.get("timestamp"),
                    row.get("project_name"),
                    row.get("duration"),
                    row.get("emissions")
                ))
            )
        } else {
            run_id.to_string()
        };
        Ok(CodecarbonRow {
            line,
            id,
            duration_s,
            fields,
        })
    }

    /// The run record of `row`, the last (longest) of the `rows_of_run` rows of its run.
    pub fn record(
        &self,
        row: &CodecarbonRow,
        rows_of_run: usize,
        opts: &ImportOptions,
    ) -> Result<RunRecord, ImportError> {
        let r = Row {
            line: row.line,
            header: &self.header,
            fields: &row.fields,
        };
        record(&r, row.id.clone(), rows_of_run, opts)
    }
}

fn record(
    row: &Row,
    id: String,
    rows_of_run: usize,
    opts: &ImportOptions,
) -> Result<RunRecord, ImportError> {
    let line = Some(row.line);
    let (ended, zoned) = parse_time(row.get("timestamp"), row.line)?;
    let secs = row.amount("duration")?;
    let duration = Duration::try_from_secs_f64(secs)
        .map_err(|_| err(line, format!("column duration: {secs} is out of range")))?;
    let emissions = row.amount("emissions")?;
    let consumed = row.amount("energy_consumed")?;
    let pue_value = row.num("pue")?.unwrap_or(1.0);
    let pue = Pue::new(pue_value).map_err(|e| err(line, format!("column pue: {e}")))?;
    let version = row.get("codecarbon_version");
    let cc = if version.is_empty() {
        "CodeCarbon".to_string()
    } else {
        format!("CodeCarbon {version}")
    };
    let it = |kwh: f64| Energy::from_kwh(kwh / pue_value);
    let mut components = Vec::new();
    let kinds = [
        (ComponentKind::Cpu, "cpu", Method::Imported, "CPU energy as CodeCarbon reported it (it reads RAPL where it can and otherwise models from the CPU's TDP; its CSV does not say which)"),
        (ComponentKind::Gpu, "gpu", Method::Imported, "GPU energy of all GPUs as CodeCarbon reported it (CodeCarbon reads the NVML energy counter)"),
        (ComponentKind::Ram, "ram", Method::Imported, "RAM energy as CodeCarbon modelled it"),
    ];
    for (kind, name, method, what) in kinds {
        let kwh = row.amount_or_zero(&format!("{name}_energy"))?;
        let power = row.num(&format!("{name}_power"))?;
        if kind == ComponentKind::Gpu && kwh == 0.0 && row.num("gpu_count")?.unwrap_or(0.0) == 0.0 {
            continue;
        }
        let energy = it(kwh);
        let mean = energy / duration;
        let mut figs = BTreeMap::new();
        figs.insert("codecarbon_energy_kwh".to_string(), kwh);
        if let Some(p) = power {
            figs.insert("codecarbon_power_w".to_string(), p);
        }
        // Utilisation and memory as CodeCarbon measured them, under the names ecotrace's own
        // sensors use (so an export writes them back).
        let (util_col, mem_col) = match kind {
            ComponentKind::Cpu => (Some("cpu_utilization_percent"), None),
            ComponentKind::Gpu => (Some("gpu_utilization_percent"), None),
            ComponentKind::Ram => (None, Some("ram_used_gb")),
        };
        if let Some(pct) = util_col.map(|c| row.num(c)).transpose()?.flatten() {
            figs.insert("util_mean".to_string(), pct / 100.0);
        }
        if let Some(gb) = mem_col.map(|c| row.num(c)).transpose()?.flatten() {
            figs.insert("memory_gb_mean".to_string(), gb);
        }
        components.push(ComponentEnergy {
            component: kind,
            device: name.to_string(),
            energy,
            mean_power: mean,
            peak_power: mean,
            method,
            figures: figs,
            note: format!(
                "imported from {cc}: {what}, divided by its PUE {pue_value}; peak not recorded (shown as the mean)"
            ),
        });
    }
    let energy_kwh = EnergyBreakdown::from_components(&components);
    let intensity_g = if consumed > 0.0 {
        emissions * 1000.0 / consumed
    } else {
        0.0
    };
    let iso = row.get("country_iso_code");
    let zone = if iso.is_empty() {
        String::new()
    } else {
        ecotrace_data::zone(iso)
            .map(|z| z.id.clone())
            .unwrap_or_else(|| iso.to_string())
    };
    let place = [row.get("country_name"), row.get("region")]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let intensity = IntensityUsed {
        value: CarbonIntensity::from_g_per_kwh(intensity_g)
            .map_err(|e| err(line, format!("derived grid intensity: {e}")))?,
        zone,
        source: format!(
            "imported from {cc}: emissions / energy_consumed{}",
            if place.is_empty() {
                String::new()
            } else {
                format!(" (CodeCarbon's grid data for {place})")
            }
        ),
        year: None,
        basis: IntensityBasis::User,
        grid_basis: None,
        resolution: Default::default(),
        series: None,
        signal: Default::default(),
        live: None,
    };
    let mut tags = BTreeMap::new();
    tags.insert("imported_from".to_string(), "codecarbon".to_string());
    for c in KEPT_AS_TAGS {
        let v = row.get(c);
        if !v.is_empty() {
            tags.insert(format!("{TAG_PREFIX}{c}"), v.to_string());
        }
    }
    let scope = if row.get("tracking_mode").eq_ignore_ascii_case("process") {
        Scope::Process
    } else {
        Scope::Machine
    };
    let water_l = row.amount_or_zero("water_consumed")?;
    let wue = row.amount_or_zero("wue")?;
    let water_used = (water_l > 0.0 || wue > 0.0).then(|| WaterUsed {
        wue: WaterIntensity::from_l_per_kwh(wue).unwrap_or(WaterIntensity::ZERO),
        wue_source: format!("imported from {cc} (wue column)"),
        offsite_factor: WaterIntensity::ZERO,
        offsite_source: "not in CodeCarbon's emissions.csv: off-site water not assessed"
            .to_string(),
        onsite: Water::from_litres(water_l),
        offsite: Water::from_litres(0.0),
    });
    let started = ended
        - chrono::Duration::from_std(duration)
            .map_err(|_| err(line, "column duration is out of range"))?;
    let mut notes = vec![format!(
        "imported from {cc} emissions.csv ({}, line {}{}): duration, energy, emissions, PUE and hardware are CodeCarbon's figures as written; the command and its exit status were not recorded",
        opts.source_name,
        row.line,
        if rows_of_run > 1 {
            format!("; the last of {rows_of_run} cumulative rows of this run")
        } else {
            String::new()
        }
    )];
    notes.push(format!(
        "energy is IT energy: CodeCarbon's energy columns include its PUE ({pue_value}) and were divided by it"
    ));
    notes.push("grid intensity derived as emissions / energy_consumed: CodeCarbon's CSV does not record the factor or its year".to_string());
    if !zoned {
        notes.push(
            "CodeCarbon writes local time without a zone: its timestamp (the end of the run) was read as UTC"
                .to_string(),
        );
    }
    let sum_cc = row.amount_or_zero("cpu_energy")?
        + row.amount_or_zero("gpu_energy")?
        + row.amount_or_zero("ram_energy")?;
    if (sum_cc - consumed).abs() > 1e-9 + consumed * 1e-6 {
        notes.push(format!(
            "CodeCarbon's energy_consumed ({consumed} kWh) differs from the sum of its cpu, gpu and ram energy ({sum_cc} kWh); the sum is used"
        ));
    }
    let host = Host {
        hostname: String::new(),
        cpu_model: row.get("cpu_model").to_string(),
        cpu_count: row
            .num("cpu_count")?
            .map(|c| c.max(0.0).min(u32::MAX as f64) as u32)
            .unwrap_or(0),
        memory_gb: row.num("ram_total_size")?.unwrap_or(0.0).max(0.0),
        gpus: gpus(row.get("gpu_model"), row.num("gpu_count")?),
        os: row.get("os").to_string(),
    };
    let mut r = RunRecord {
        record_version: RECORD_VERSION,
        id,
        project: opts
            .project
            .map(str::to_string)
            .unwrap_or_else(|| row.get("project_name").to_string()),
        phase: opts.phase.unwrap_or(Phase::Other),
        tags,
        command: Vec::new(),
        status: RunStatus::Finished,
        exit_code: None,
        signal: None,
        error: None,
        started_at: started,
        ended_at: Some(ended),
        duration,
        scope,
        host,
        energy_kwh,
        components,
        mean_power: energy_kwh.total / duration,
        pue: PueUsed {
            value: pue,
            source: format!("imported from {cc} (pue column)"),
        },
        intensity,
        operational: CarbonMass::from_kg(emissions),
        embodied: None,
        embodied_items: Vec::new(),
        water: water_used.as_ref().map(|w| w.onsite + w.offsite),
        water_used,
        cost: None,
        cost_used: None,
        kind: RecordKind::Measured,
        job: None,
        notes,
        metrics: BTreeMap::new(),
        samples: SamplesSummary {
            count: 0,
            mean_power_w: Power::ZERO,
            peak_power_w: Power::ZERO,
        },
        tracker: TrackerInfo {
            version: cc.to_ascii_lowercase(),
            interval_s: Duration::ZERO,
            pid: 0,
        },
        serving: None,
        windows: Vec::new(),
    };
    if !r.mean_power.watts().is_finite() {
        r.mean_power = Power::ZERO;
    }
    Ok(r)
}

/// A one-line account of an import for the terminal: `3 runs read from emissions.csv (CodeCarbon
/// 3.3.0): 12.3 gCO2e, 45.6 Wh`.
pub fn import_summary(rs: &[RunRecord]) -> String {
    let kg: f64 = rs.iter().map(|r| r.operational.kg()).sum();
    let kwh: f64 = rs.iter().map(|r| r.energy_kwh.total.kwh()).sum();
    import_totals(rs.len(), kwh, kg)
}

/// [`import_summary`] from the count and sums of the runs imported (kWh of IT energy, kg of
/// operational CO2e).
pub fn import_totals(runs: usize, kwh: f64, kg: f64) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{} {} ({} IT energy, {} operational)",
        runs,
        if runs == 1 { "run" } else { "runs" },
        crate::text::energy(kwh),
        crate::text::co2(kg)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reader_handles_quotes_and_reports_lines() {
        let r = csv_records("a,b\n1,\"x, \"\"y\"\"\nz\"\n\n2,3").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1], (2, vec!["1".to_string(), "x, \"y\"\nz".to_string()]));
        assert_eq!(r[2].0, 5);
        assert_eq!(csv_records("a\n\"open").unwrap_err().line, Some(2));
    }

    #[test]
    fn gpu_models() {
        assert_eq!(gpus("2 x NVIDIA A100", Some(2.0)).len(), 2);
        assert_eq!(gpus("NVIDIA T4", Some(3.0)), vec!["NVIDIA T4"; 3]);
        assert_eq!(gpus("1 x A, 2 x B", Some(3.0)), vec!["A", "B", "B"]);
        assert!(gpus("", Some(0.0)).is_empty());
    }
}
