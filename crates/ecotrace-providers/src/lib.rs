//! ecotrace-providers: live grid carbon intensity, opt-in and never required.
//!
//! Three providers, chosen by `--grid-provider` (defined once in `ecotrace-factors`):
//!
//! - [`ProviderKind::ElectricityMaps`]: Electricity Maps API v3 (`auth-token` from
//!   `ELECTRICITYMAPS_API_KEY`): `carbon-intensity/latest`, `history` (the last 24 h),
//!   `past-range` (older hours) and `forecast`; average intensities on the basis asked for
//!   (life-cycle or direct).
//! - [`ProviderKind::Ukci`]: the UK Carbon Intensity API of NESO (no key): national or one of its
//!   regions, half-hourly, average intensities of **direct** emissions only.
//! - [`ProviderKind::WattTime`]: WattTime v3 marginal emissions (`co2_moer`, login with
//!   `WATTTIME_USERNAME` / `WATTTIME_PASSWORD` for a token): **marginal** figures, which are
//!   labelled so and never mixed with average ones.
//!
//! Every answer is cached on disk ([`cache`]) with a time-to-live; every request has a 2 s
//! timeout and all the requests made with one [`ProviderConfig`] (and its clones: the [`Budget`]
//! is shared) take at most 2 s together, so a command never waits longer for a provider. Every failure is a [`ProviderError`] whose message says what happened
//! and what to do; the callers then use the bundled data and say so. The JSON readers
//! ([`parse`]) are pure; the network is [`http`]'s.

pub mod cache;
mod http;
pub mod parse;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, DurationRound, Utc};
use ecotrace_core::{EmissionSignal, GridBasis};

pub use parse::Point;

/// The longest one request may take, and the longest all the requests of one command (one
/// [`Budget`]) may take together.
pub const BUDGET: Duration = Duration::from_secs(2);

/// The time a command may still spend waiting for a provider: [`BUDGET`] at first, less the time
/// each request took. Clones share it, so every [`Client`] made from one [`ProviderConfig`] (a
/// run's start, `--when-green`'s plan, the run's start again after the wait) draws on the same
/// 2 s.
#[derive(Debug, Clone)]
pub struct Budget(Arc<Mutex<Duration>>);

impl Default for Budget {
    fn default() -> Self {
        Budget::new(BUDGET)
    }
}

impl PartialEq for Budget {
    /// Budgets compare equal whatever is left of them (a config's identity is its settings).
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Budget {
    pub fn new(total: Duration) -> Self {
        Budget(Arc::new(Mutex::new(total)))
    }

    /// What is left.
    pub fn left(&self) -> Duration {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `spent` off what is left.
    pub fn spend(&self, spent: Duration) {
        let mut left = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *left = left.saturating_sub(spent);
    }
}

/// How long a cached answer is used: the latest figure, a forecast, and hours of the past.
pub const TTL_LATEST: Duration = Duration::from_secs(5 * 60);
pub const TTL_FORECAST: Duration = Duration::from_secs(30 * 60);
pub const TTL_PAST: Duration = Duration::from_secs(24 * 3600);

/// 1 lb/MWh in g/kWh (WattTime's unit).
pub const G_PER_KWH_PER_LB_PER_MWH: f64 = 0.453_592_37;

/// A live provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    ElectricityMaps,
    Ukci,
    WattTime,
}

impl ProviderKind {
    /// The name the option takes (`electricitymaps`, `ukci`, `watttime`).
    pub fn id(self) -> &'static str {
        match self {
            ProviderKind::ElectricityMaps => "electricitymaps",
            ProviderKind::Ukci => "ukci",
            ProviderKind::WattTime => "watttime",
        }
    }

    /// The provider's name in output.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::ElectricityMaps => "Electricity Maps API v3",
            ProviderKind::Ukci => "UK Carbon Intensity API (NESO)",
            ProviderKind::WattTime => "WattTime v3 (marginal, co2_moer)",
        }
    }

    /// Average or marginal figures.
    pub fn signal(self) -> EmissionSignal {
        match self {
            ProviderKind::WattTime => EmissionSignal::Marginal,
            _ => EmissionSignal::Average,
        }
    }

    /// The public base URL (`--grid-provider-url` replaces it).
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::ElectricityMaps => "https://api.electricitymap.org",
            ProviderKind::Ukci => "https://api.carbonintensity.org.uk",
            ProviderKind::WattTime => "https://api.watttime.org",
        }
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_', ' '], "")
            .as_str()
        {
            "electricitymaps" | "electricitymap" | "em" => Ok(ProviderKind::ElectricityMaps),
            "ukci" | "carbonintensity" | "ukcarbonintensity" | "neso" => Ok(ProviderKind::Ukci),
            "watttime" | "wt" => Ok(ProviderKind::WattTime),
            _ => Err(format!(
                "unknown grid provider {s:?}: use electricitymaps, ukci or watttime (or none)"
            )),
        }
    }
}

/// Why a provider gave no usable answer. Each message says what to do next; the caller uses
/// the bundled data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    NoCredentials(String),
    #[error("the provider refused the credentials (HTTP {status}{}): {hint}", detail_suffix(.detail))]
    Unauthorized {
        status: u16,
        detail: String,
        hint: String,
    },
    #[error("rate limited (HTTP 429{}){}: not asked again until then", detail_suffix(.detail), retry_text(*.retry_after_s))]
    RateLimited {
        retry_after_s: Option<u64>,
        detail: String,
    },
    #[error("not asked: rate limited until {until} (an earlier HTTP 429 said so)")]
    BackingOff { until: String },
    #[error("the provider does not know zone {zone:?}{}: set --grid-provider-zone to its name for your grid", detail_suffix(.detail))]
    UnknownZone { zone: String, detail: String },
    #[error("the provider failed (HTTP {status}{}): try again later", detail_suffix(.detail))]
    Server { status: u16, detail: String },
    #[error("no answer within {ms} ms (the limit for live providers)")]
    Timeout { ms: u128 },
    #[error("cannot reach {url}: {detail}")]
    Network { url: String, detail: String },
    #[error("unreadable answer from {url}: {detail}")]
    Malformed { url: String, detail: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    NotCovered(String),
}

fn detail_suffix(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!(": {d}")
    }
}

fn retry_text(s: Option<u64>) -> String {
    match s {
        Some(s) => format!(", retry after {s} s"),
        None => String::new(),
    }
}

/// The credentials a provider needs, read from the environment.
#[derive(Clone, Default, PartialEq)]
pub struct Credentials {
    pub electricitymaps_key: Option<String>,
    pub watttime_user: Option<String>,
    pub watttime_password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |o: &Option<String>| if o.is_some() { "set" } else { "unset" };
        f.debug_struct("Credentials")
            .field("electricitymaps_key", &set(&self.electricitymaps_key))
            .field("watttime_user", &set(&self.watttime_user))
            .field("watttime_password", &set(&self.watttime_password))
            .finish()
    }
}

impl Credentials {
    /// `ELECTRICITYMAPS_API_KEY`, `WATTTIME_USERNAME`, `WATTTIME_PASSWORD`.
    pub fn from_env() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        Credentials {
            electricitymaps_key: var("ELECTRICITYMAPS_API_KEY"),
            watttime_user: var("WATTTIME_USERNAME"),
            watttime_password: var("WATTTIME_PASSWORD"),
        }
    }
}

/// Where answers are cached: `$ECOTRACE_CACHE_DIR/providers`, else
/// `$XDG_CACHE_HOME/ecotrace/providers`, else `~/.cache/ecotrace/providers`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |n: &str| {
        std::env::var_os(n)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("ECOTRACE_CACHE_DIR") {
        return Some(d.join("providers"));
    }
    var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("ecotrace").join("providers"))
}

/// A provider as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// Without a trailing slash.
    pub base_url: String,
    /// `--grid-provider-zone`: the provider's zone for every region (`CAISO_NORTH`), or
    /// `REGION=ZONE` pairs, comma-separated.
    pub zones: Option<String>,
    pub credentials: Credentials,
    /// `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// The time left for this provider, shared by the config's clones.
    pub budget: Budget,
}

impl ProviderConfig {
    /// From the option values: `provider` (`None` or `none`: no provider), the base URL and
    /// zone overrides; credentials and cache folder from the environment.
    pub fn from_options(
        provider: Option<&str>,
        url: Option<&str>,
        zones: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let Some(p) = provider.map(str::trim).filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        if p.eq_ignore_ascii_case("none") || p.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let kind: ProviderKind = p.parse()?;
        let base_url = match url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                u.trim_end_matches('/').to_string()
            }
            Some(u) => {
                return Err(format!(
                    "{u:?} is not an http:// or https:// URL (e.g. https://api.electricitymap.org)"
                ))
            }
            None => kind.default_base_url().to_string(),
        };
        Ok(Some(ProviderConfig {
            kind,
            base_url,
            zones: zones
                .map(str::trim)
                .filter(|z| !z.is_empty())
                .map(str::to_string),
            credentials: Credentials::from_env(),
            cache_dir: default_cache_dir(),
            budget: Budget::default(),
        }))
    }

    /// The provider's zone for a region: the override for it (`REGION=ZONE`, or a single value
    /// for every region), else the grid zone itself (Electricity Maps), `national` for GB
    /// (UK Carbon Intensity); WattTime's regions must be given.
    pub fn zone_for(&self, region: &str, grid_zone: &str) -> Result<String, ProviderError> {
        if let Some(z) = &self.zones {
            let pairs: Vec<(&str, &str)> = z
                .split(',')
                .filter_map(|p| p.split_once('='))
                .map(|(r, z)| (r.trim(), z.trim()))
                .collect();
            if pairs.is_empty() {
                return Ok(z.clone());
            }
            if let Some((_, z)) = pairs
                .iter()
                .find(|(r, _)| r.eq_ignore_ascii_case(region) || r.eq_ignore_ascii_case(grid_zone))
            {
                return Ok(z.to_string());
            }
        }
        match self.kind {
            ProviderKind::ElectricityMaps => Ok(grid_zone.to_string()),
            ProviderKind::Ukci => {
                if grid_zone.eq_ignore_ascii_case("GB") || grid_zone.eq_ignore_ascii_case("UK") {
                    Ok("national".into())
                } else {
                    Err(ProviderError::UnknownZone {
                        zone: grid_zone.to_string(),
                        detail: "the UK Carbon Intensity API covers Great Britain only".into(),
                    })
                }
            }
            ProviderKind::WattTime => Err(ProviderError::Unsupported(format!(
                "WattTime needs its region for {region} (e.g. CAISO_NORTH): set --grid-provider-zone \
                 (WattTime's /v3/region-from-loc gives it for a latitude and longitude)"
            ))),
        }
    }
}

/// One figure: the latest intensity of a zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub provider: ProviderKind,
    /// The provider's zone or region.
    pub zone: String,
    /// gCO2e/kWh (WattTime's lb/MWh converted).
    pub g_per_kwh: f64,
    /// The start of the period the figure is for.
    pub at: DateTime<Utc>,
    pub signal: EmissionSignal,
    /// Life-cycle or direct for average figures; `None` for marginal ones.
    pub basis: Option<GridBasis>,
    /// What was asked (`carbon-intensity/latest`), for provenance.
    pub endpoint: String,
    /// When the answer was fetched, and whether it came from the cache.
    pub fetched_at: DateTime<Utc>,
    pub cached: bool,
}

impl Reading {
    /// How the figure is written in a record's provenance.
    pub fn describe(&self) -> String {
        format!(
            "live: {} {}, zone {}, {} ({}{}; fetched {}{})",
            self.provider.name(),
            self.endpoint,
            self.zone,
            self.at.format("%Y-%m-%dT%H:%MZ"),
            self.signal.as_str(),
            self.basis
                .map(|b| format!(", {}", b.label()))
                .unwrap_or_default(),
            self.fetched_at.format("%Y-%m-%dT%H:%M:%SZ"),
            if self.cached { ", from the cache" } else { "" }
        )
    }
}

/// Hourly figures of a zone over a span.
#[derive(Debug, Clone, PartialEq)]
pub struct Hourly {
    pub provider: ProviderKind,
    pub zone: String,
    pub first_hour: DateTime<Utc>,
    /// One per hour, the mean of the provider's periods in it; NaN for an hour without any.
    pub values: Vec<f64>,
    pub signal: EmissionSignal,
    pub basis: Option<GridBasis>,
    /// The endpoints asked, e.g. `carbon-intensity/forecast`.
    pub endpoints: Vec<String>,
    pub cached: bool,
}

impl Hourly {
    /// `live: Electricity Maps API v3 carbon-intensity/forecast, zone FR (average, life-cycle)`.
    pub fn describe(&self) -> String {
        format!(
            "live: {} {}, zone {} ({}{}{})",
            self.provider.name(),
            self.endpoints.join(" + "),
            self.zone,
            self.signal.as_str(),
            self.basis
                .map(|b| format!(", {}", b.label()))
                .unwrap_or_default(),
            if self.cached { ", from the cache" } else { "" }
        )
    }

    /// The last hour with a value, exclusive end.
    pub fn end(&self) -> DateTime<Utc> {
        let n = self
            .values
            .iter()
            .rposition(|v| v.is_finite())
            .map_or(0, |i| i + 1);
        self.first_hour + Span::hours(n as i64)
    }
}

/// Means per whole UTC hour of timed points, from the hour of `from` to the hour before `to`.
pub fn hourly_means(points: &[Point], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<f64> {
    let first = from.duration_trunc(Span::hours(1)).unwrap_or(from);
    let n = ((to - first).num_seconds().max(0) as f64 / 3600.0).ceil() as usize;
    let mut sum = vec![0.0; n];
    let mut count = vec![0u32; n];
    for p in points {
        let i = (p.at - first).num_seconds();
        if i < 0 {
            continue;
        }
        let i = (i / 3600) as usize;
        if i < n && p.value.is_finite() {
            sum[i] += p.value;
            count[i] += 1;
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
        .collect()
}

/// A session with one provider: its requests draw on the config's [`Budget`].
pub struct Client {
    cfg: ProviderConfig,
    agent: ureq::Agent,
    token: Option<String>,
}

impl Client {
    pub fn new(cfg: ProviderConfig) -> Self {
        let agent = http::agent(&cfg.base_url);
        Client {
            cfg,
            agent,
            token: None,
        }
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.cfg
    }

    /// One request within what is left of the budget, its time taken off the budget.
    fn ask(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
    ) -> Result<http::Answer, ProviderError> {
        let started = Instant::now();
        let answer = http::get(&self.agent, url, headers, self.cfg.budget.left());
        self.cfg.budget.spend(started.elapsed());
        answer
    }

    /// The latest figure of `zone` on `basis` (the basis is ignored by marginal providers).
    pub fn latest(&mut self, zone: &str, basis: GridBasis) -> Result<Reading, ProviderError> {
        let kind = self.cfg.kind;
        let now = Utc::now();
        let (endpoint, url, ttl) = match kind {
            ProviderKind::ElectricityMaps => (
                "carbon-intensity/latest".to_string(),
                format!(
                    "{}/v3/carbon-intensity/latest?zone={}&emissionFactorType={}",
                    self.cfg.base_url,
                    http::encode(zone),
                    basis.as_str()
                ),
                TTL_LATEST,
            ),
            ProviderKind::Ukci => {
                self.ukci_basis(basis)?;
                let url = match ukci_region(zone)? {
                    None => format!("{}/intensity", self.cfg.base_url),
                    Some(id) => format!("{}/regional/regionid/{id}", self.cfg.base_url),
                };
                (
                    if zone == "national" {
                        "intensity".to_string()
                    } else {
                        format!("regional/regionid/{zone}")
                    },
                    url,
                    TTL_LATEST,
                )
            }
            ProviderKind::WattTime => (
                "v3/forecast".to_string(),
                self.watttime_forecast_url(zone),
                TTL_FORECAST,
            ),
        };
        let (body, fetched_at, cached) = self.get(&url, ttl, zone)?;
        let malformed = |detail: String| ProviderError::Malformed {
            url: url.clone(),
            detail,
        };
        let (point, basis_out) = match kind {
            ProviderKind::ElectricityMaps => {
                let (p, b) = parse::em_latest(&body).map_err(malformed)?;
                check_em_basis(b, basis, &url)?;
                (p, Some(basis))
            }
            ProviderKind::Ukci => {
                let pts = parse::ukci(&body).map_err(malformed)?;
                let p = pts
                    .iter()
                    .rev()
                    .find(|p| p.at <= now)
                    .or_else(|| pts.first())
                    .cloned()
                    .ok_or_else(|| {
                        ProviderError::NotCovered("the answer holds no period".into())
                    })?;
                (p, Some(GridBasis::Direct))
            }
            ProviderKind::WattTime => {
                let pts = parse::watttime(&body).map_err(malformed)?;
                let p = pts
                    .iter()
                    .rev()
                    .find(|p| p.at <= now)
                    .or_else(|| pts.first())
                    .cloned()
                    .ok_or_else(|| ProviderError::NotCovered("the answer holds no point".into()))?;
                (p, None)
            }
        };
        Ok(Reading {
            provider: kind,
            zone: zone.to_string(),
            g_per_kwh: point.value,
            at: point.at,
            signal: kind.signal(),
            basis: basis_out,
            endpoint,
            fetched_at,
            cached,
        })
    }

    /// Hourly figures of `zone` over `[from, to)`: the past from the history (or, older than a
    /// day, the past range), the future from the forecast. `now` is the clock.
    pub fn hourly(
        &mut self,
        zone: &str,
        basis: GridBasis,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Hourly, ProviderError> {
        let kind = self.cfg.kind;
        if kind == ProviderKind::Ukci {
            self.ukci_basis(basis)?;
        }
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%MZ").to_string();
        // (endpoint, url, ttl)
        let mut asks: Vec<(String, String, Duration)> = Vec::new();
        let b = &self.cfg.base_url;
        let zq = http::encode(zone);
        // Hours begun before this one are history; this hour on is the forecast's.
        let this_hour = now.duration_trunc(Span::hours(1)).unwrap_or(now);
        if from < this_hour {
            let end = to.min(this_hour);
            match kind {
                ProviderKind::ElectricityMaps if this_hour - from <= Span::hours(24) => asks.push((
                    "carbon-intensity/history".into(),
                    format!(
                        "{b}/v3/carbon-intensity/history?zone={zq}&emissionFactorType={}",
                        basis.as_str()
                    ),
                    TTL_LATEST,
                )),
                ProviderKind::ElectricityMaps => asks.push((
                    "carbon-intensity/past-range".into(),
                    format!(
                        "{b}/v3/carbon-intensity/past-range?zone={zq}&start={}&end={}&emissionFactorType={}",
                        http::encode(&fmt(from)),
                        http::encode(&fmt(end)),
                        basis.as_str()
                    ),
                    TTL_PAST,
                )),
                ProviderKind::Ukci => asks.push((
                    "intensity/{from}/{to}".into(),
                    match ukci_region(zone)? {
                        None => format!("{b}/intensity/{}/{}", fmt(from), fmt(end)),
                        Some(id) => format!(
                            "{b}/regional/intensity/{}/{}/regionid/{id}",
                            fmt(from),
                            fmt(end)
                        ),
                    },
                    TTL_PAST,
                )),
                ProviderKind::WattTime => asks.push((
                    "v3/historical".into(),
                    format!(
                        "{b}/v3/historical?region={zq}&signal_type=co2_moer&start={}&end={}",
                        http::encode(&from.to_rfc3339()),
                        http::encode(&end.to_rfc3339())
                    ),
                    TTL_PAST,
                )),
            }
        }
        if to > this_hour {
            let hour = this_hour;
            match kind {
                ProviderKind::ElectricityMaps => asks.push((
                    "carbon-intensity/forecast".into(),
                    format!(
                        "{b}/v3/carbon-intensity/forecast?zone={zq}&emissionFactorType={}",
                        basis.as_str()
                    ),
                    TTL_FORECAST,
                )),
                ProviderKind::Ukci => asks.push((
                    "intensity/{from}/fw48h".into(),
                    match ukci_region(zone)? {
                        None => format!("{b}/intensity/{}/fw48h", fmt(hour)),
                        Some(id) => {
                            format!("{b}/regional/intensity/{}/fw48h/regionid/{id}", fmt(hour))
                        }
                    },
                    TTL_FORECAST,
                )),
                ProviderKind::WattTime => asks.push((
                    "v3/forecast".into(),
                    self.watttime_forecast_url(zone),
                    TTL_FORECAST,
                )),
            }
        }
        let mut points = Vec::new();
        let mut cached_all = true;
        let mut endpoints = Vec::new();
        for (endpoint, url, ttl) in asks {
            let (body, _, cached) = self.get(&url, ttl, zone)?;
            cached_all &= cached;
            let malformed = |detail: String| ProviderError::Malformed {
                url: url.clone(),
                detail,
            };
            let mut pts = match kind {
                ProviderKind::ElectricityMaps => {
                    let (p, b) = parse::em_series(&body).map_err(malformed)?;
                    check_em_basis(b, basis, &url)?;
                    p
                }
                ProviderKind::Ukci => parse::ukci(&body).map_err(malformed)?,
                ProviderKind::WattTime => parse::watttime(&body).map_err(malformed)?,
            };
            points.append(&mut pts);
            endpoints.push(endpoint);
        }
        let first_hour = from.duration_trunc(Span::hours(1)).unwrap_or(from);
        let values = hourly_means(&points, first_hour, to);
        if values.iter().all(|v| !v.is_finite()) {
            return Err(ProviderError::NotCovered(format!(
                "no figure for {zone} between {} and {}",
                fmt(from),
                fmt(to)
            )));
        }
        Ok(Hourly {
            provider: kind,
            zone: zone.to_string(),
            first_hour,
            values,
            signal: kind.signal(),
            basis: match kind {
                ProviderKind::WattTime => None,
                ProviderKind::Ukci => Some(GridBasis::Direct),
                ProviderKind::ElectricityMaps => Some(basis),
            },
            endpoints,
            cached: cached_all,
        })
    }

    fn ukci_basis(&self, basis: GridBasis) -> Result<(), ProviderError> {
        if basis == GridBasis::Direct {
            Ok(())
        } else {
            Err(ProviderError::Unsupported(
                "the UK Carbon Intensity API publishes direct (combustion) figures only, and this \
                 is on a life-cycle basis: pass --basis direct to use it"
                    .into(),
            ))
        }
    }

    fn watttime_forecast_url(&self, zone: &str) -> String {
        format!(
            "{}/v3/forecast?region={}&signal_type=co2_moer",
            self.cfg.base_url,
            http::encode(zone)
        )
    }

    /// The body of `url`: from the cache while fresh, else asked (within the budget) and cached.
    fn get(
        &mut self,
        url: &str,
        ttl: Duration,
        zone: &str,
    ) -> Result<(String, DateTime<Utc>, bool), ProviderError> {
        let kind = self.cfg.kind;
        let cache = self
            .cfg
            .cache_dir
            .as_deref()
            .map(|d| cache::Cache::new(d, kind.id()));
        if let Some(c) = &cache {
            if let Some((body, at)) = c.get(url, ttl) {
                return Ok((body, at, true));
            }
            if let Some(until) = c.backoff_until() {
                return Err(ProviderError::BackingOff {
                    until: until.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                });
            }
        }
        let auth = self.auth()?;
        let answer = self.ask(url, &auth)?;
        match answer.status {
            200..=299 => {
                if let Some(c) = &cache {
                    c.put(url, &answer.body);
                }
                Ok((answer.body, Utc::now(), false))
            }
            401 | 403 => Err(ProviderError::Unauthorized {
                status: answer.status,
                detail: http::short(&answer.body),
                hint: match kind {
                    ProviderKind::ElectricityMaps => {
                        "check ELECTRICITYMAPS_API_KEY (and that its plan covers this zone)".into()
                    }
                    ProviderKind::WattTime => {
                        "check WATTTIME_USERNAME and WATTTIME_PASSWORD".into()
                    }
                    ProviderKind::Ukci => "the API needs no key: check --grid-provider-url".into(),
                },
            }),
            429 => {
                if let (Some(c), Some(s)) = (&cache, answer.retry_after_s) {
                    c.set_backoff(Utc::now() + Span::seconds(s as i64));
                }
                Err(ProviderError::RateLimited {
                    retry_after_s: answer.retry_after_s,
                    detail: http::short(&answer.body),
                })
            }
            400 | 404 => Err(ProviderError::UnknownZone {
                zone: zone.to_string(),
                detail: format!("HTTP {}: {}", answer.status, http::short(&answer.body)),
            }),
            s => Err(ProviderError::Server {
                status: s,
                detail: http::short(&answer.body),
            }),
        }
    }

    /// The headers that authenticate a request: Electricity Maps' `auth-token`, WattTime's
    /// bearer token (logging in first).
    fn auth(&mut self) -> Result<Vec<(&'static str, String)>, ProviderError> {
        match self.cfg.kind {
            ProviderKind::Ukci => Ok(Vec::new()),
            ProviderKind::ElectricityMaps => match &self.cfg.credentials.electricitymaps_key {
                Some(k) => Ok(vec![("auth-token", k.clone())]),
                None => Err(ProviderError::NoCredentials(
                    "ELECTRICITYMAPS_API_KEY is not set: export your Electricity Maps API key"
                        .into(),
                )),
            },
            ProviderKind::WattTime => {
                if self.token.is_none() {
                    let c = &self.cfg.credentials;
                    let (Some(u), Some(p)) = (&c.watttime_user, &c.watttime_password) else {
                        return Err(ProviderError::NoCredentials(
                            "WATTTIME_USERNAME and WATTTIME_PASSWORD are not both set: export \
                             your WattTime account's"
                                .into(),
                        ));
                    };
                    let url = format!("{}/login", self.cfg.base_url);
                    let basic = vec![(
                        "Authorization",
                        format!("Basic {}", http::base64(&format!("{u}:{p}"))),
                    )];
                    let a = self.ask(&url, &basic)?;
                    match a.status {
                        200..=299 => {}
                        401 | 403 => {
                            return Err(ProviderError::Unauthorized {
                                status: a.status,
                                detail: http::short(&a.body),
                                hint: "check WATTTIME_USERNAME and WATTTIME_PASSWORD".into(),
                            })
                        }
                        429 => {
                            return Err(ProviderError::RateLimited {
                                retry_after_s: a.retry_after_s,
                                detail: http::short(&a.body),
                            })
                        }
                        s => {
                            return Err(ProviderError::Server {
                                status: s,
                                detail: http::short(&a.body),
                            })
                        }
                    }
                    let token = parse::watttime_token(&a.body)
                        .map_err(|detail| ProviderError::Malformed { url, detail })?;
                    self.token = Some(token);
                }
                Ok(vec![(
                    "Authorization",
                    format!("Bearer {}", self.token.as_deref().unwrap_or_default()),
                )])
            }
        }
    }
}

/// `national` → `None`; a region id `1`..`17` → `Some(id)`.
fn ukci_region(zone: &str) -> Result<Option<u32>, ProviderError> {
    if zone.eq_ignore_ascii_case("national") {
        return Ok(None);
    }
    match zone.trim().parse::<u32>() {
        Ok(id) if (1..=17).contains(&id) => Ok(Some(id)),
        _ => Err(ProviderError::UnknownZone {
            zone: zone.to_string(),
            detail: "the UK Carbon Intensity API takes `national` or a region id 1 to 17".into(),
        }),
    }
}

fn check_em_basis(got: Option<GridBasis>, want: GridBasis, url: &str) -> Result<(), ProviderError> {
    match got {
        Some(g) if g != want => Err(ProviderError::Malformed {
            url: url.to_string(),
            detail: format!("asked for {want} figures, the answer holds {g} ones"),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cfg(kind: ProviderKind, zones: Option<&str>) -> ProviderConfig {
        ProviderConfig {
            kind,
            base_url: "http://127.0.0.1:9".into(),
            zones: zones.map(str::to_string),
            credentials: Credentials::default(),
            cache_dir: None,
            budget: Budget::default(),
        }
    }

    #[test]
    fn kinds_and_options() {
        assert_eq!(
            "Electricity-Maps".parse::<ProviderKind>(),
            Ok(ProviderKind::ElectricityMaps)
        );
        assert_eq!("UKCI".parse::<ProviderKind>(), Ok(ProviderKind::Ukci));
        assert!("wattime".parse::<ProviderKind>().is_err());
        assert_eq!(
            ProviderConfig::from_options(Some("none"), None, None),
            Ok(None)
        );
        assert!(ProviderConfig::from_options(Some("ukci"), Some("ftp://x"), None).is_err());
        let c = ProviderConfig::from_options(Some("ukci"), Some("http://127.0.0.1:1/"), None)
            .unwrap()
            .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:1");
        assert_eq!(ProviderKind::WattTime.signal(), EmissionSignal::Marginal);
    }

    #[test]
    fn zones_per_provider_and_overrides() {
        let em = cfg(ProviderKind::ElectricityMaps, None);
        assert_eq!(em.zone_for("aws:eu-north-1", "SE-SE3").unwrap(), "SE-SE3");
        let uk = cfg(ProviderKind::Ukci, None);
        assert_eq!(uk.zone_for("GB", "GB").unwrap(), "national");
        assert!(matches!(
            uk.zone_for("FR", "FR"),
            Err(ProviderError::UnknownZone { .. })
        ));
        let wt = cfg(ProviderKind::WattTime, None);
        assert!(wt.zone_for("US-CA", "US-CAL-CISO").is_err());
        let wt = cfg(ProviderKind::WattTime, Some("CAISO_NORTH"));
        assert_eq!(wt.zone_for("US-CA", "US-CAL-CISO").unwrap(), "CAISO_NORTH");
        let pairs = cfg(
            ProviderKind::WattTime,
            Some("US-CA=CAISO_NORTH, US-MIDA-PJM=PJM_DC"),
        );
        assert_eq!(pairs.zone_for("US-VA", "US-MIDA-PJM").unwrap(), "PJM_DC");
        assert!(pairs.zone_for("FR", "FR").is_err());
    }

    #[test]
    fn hourly_means_average_sub_hour_periods_and_leave_gaps() {
        let t0 = Utc.with_ymd_and_hms(2023, 3, 14, 12, 0, 0).unwrap();
        let pts: Vec<Point> = [(0, 100.0), (30, 80.0), (120, 50.0), (150, 70.0)]
            .iter()
            .map(|&(m, v)| Point {
                at: t0 + Span::minutes(m),
                value: v,
            })
            .collect();
        let h = hourly_means(&pts, t0, t0 + Span::hours(3));
        assert_eq!(h.len(), 3);
        assert_eq!(h[0], 90.0);
        assert!(h[1].is_nan());
        assert_eq!(h[2], 60.0);
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = ProviderError::RateLimited {
            retry_after_s: Some(120),
            detail: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "rate limited (HTTP 429), retry after 120 s: not asked again until then"
        );
        assert!(ProviderError::Unauthorized {
            status: 401,
            detail: "bad token".into(),
            hint: "check ELECTRICITYMAPS_API_KEY".into()
        }
        .to_string()
        .contains("HTTP 401: bad token): check ELECTRICITYMAPS_API_KEY"));
    }

    #[test]
    fn the_budget_is_shared_and_stops_asking() {
        let c0 = cfg(ProviderKind::Ukci, None);
        let mut c = Client::new(c0.clone());
        // A clone of the config draws on the same budget.
        c0.budget.spend(BUDGET);
        let e = c.latest("national", GridBasis::Direct).unwrap_err();
        assert!(matches!(e, ProviderError::Timeout { .. }), "{e}");
        // Ukci on a life-cycle basis is refused before any request.
        let e = c.latest("national", GridBasis::Lifecycle).unwrap_err();
        assert!(e.to_string().contains("--basis direct"), "{e}");
    }
}
