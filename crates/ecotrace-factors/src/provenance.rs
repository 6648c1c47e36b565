//! Where a factor comes from, as a type: given by the user (which flag, environment variable,
//! config key or keyword argument), a row of a bundled table (which table and row, its source,
//! year, licence and, for grid intensity, its accounting basis), or a default (and why). Its
//! `Display` is the one way every output writes a provenance. No lookups here.

use std::fmt;
use std::path::PathBuf;

/// How the user gave a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag, by its long name without the dashes (`pue` for `--pue`).
    Flag(String),
    /// An environment variable (`ECOTRACE_PUE`).
    Env(String),
    /// A key of a config file.
    Config { key: String, file: PathBuf },
    /// A keyword argument of the Python package (`pue`).
    Keyword(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(name) => write!(f, "--{name}"),
            Origin::Env(var) => f.write_str(var),
            Origin::Config { key, file } => write!(f, "{key} in {}", file.display()),
            Origin::Keyword(name) => write!(f, "{name}="),
        }
    }
}

/// Which emissions a grid intensity counts: the core's [`ecotrace_core::GridBasis`]
/// (life-cycle or direct).
pub use ecotrace_core::GridBasis as Accounting;

/// One row of a bundled table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    /// The table (`zones`, `cloud regions`, `water`, `electricity prices`, `accelerators`, ...).
    pub table: &'static str,
    /// The row's key (`FR`, `aws:eu-west-3`, `A100-80GB`).
    pub row: String,
    /// The upstream source, as the table cites it.
    pub source: String,
    /// The year (or date, or period) the figure is for; `None` when the table does not say.
    pub year: Option<String>,
    /// The licence of the upstream data; empty when the table does not record one.
    pub licence: String,
    /// For grid intensity: life-cycle or direct emissions, where the source says.
    pub basis: Option<Accounting>,
    /// How the figure was taken from the row when not as is (a fallback, a conversion).
    pub note: Option<String>,
}

impl TableRow {
    pub fn new(table: &'static str, row: impl Into<String>, source: impl Into<String>) -> Self {
        TableRow {
            table,
            row: row.into(),
            source: source.into(),
            year: None,
            licence: String::new(),
            basis: None,
            note: None,
        }
    }

    pub fn year(mut self, year: impl ToString) -> Self {
        self.year = Some(year.to_string());
        self
    }

    pub fn licence(mut self, licence: impl Into<String>) -> Self {
        self.licence = licence.into();
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

impl fmt::Display for TableRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.note {
            write!(f, "{n}; ")?;
        }
        write!(f, "{} [{} table, row {}", self.source, self.table, self.row)?;
        if let Some(y) = &self.year {
            write!(f, ", {y}")?;
        }
        if let Some(b) = self.basis {
            write!(f, ", {}", b.label())?;
        }
        if !self.licence.is_empty() {
            write!(f, ", {}", self.licence)?;
        }
        f.write_str("]")
    }
}

/// Where a factor's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// Given by the user.
    Given(Origin),
    /// A row of a bundled table.
    Table(TableRow),
    /// Chosen for the user: why, and the table row it is, if it is one (the world average).
    Default { why: String, row: Option<TableRow> },
    /// Asked of a live provider the user configured: what was asked and answered
    /// (`live: Electricity Maps API v3 carbon-intensity/latest, zone FR, ...`).
    Live(String),
}

impl Provenance {
    pub fn default_because(why: impl Into<String>) -> Self {
        Provenance::Default {
            why: why.into(),
            row: None,
        }
    }

    pub fn is_given(&self) -> bool {
        matches!(self, Provenance::Given(_))
    }

    pub fn is_default(&self) -> bool {
        matches!(self, Provenance::Default { .. })
    }

    /// The table row behind the value, if any.
    pub fn row(&self) -> Option<&TableRow> {
        match self {
            Provenance::Table(r) => Some(r),
            Provenance::Default { row, .. } => row.as_ref(),
            Provenance::Given(_) | Provenance::Live(_) => None,
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Given(o) => write!(f, "given by the user ({o})"),
            Provenance::Table(r) => r.fmt(f),
            Provenance::Default { why, row: None } => write!(f, "default {why}"),
            Provenance::Default { why, row: Some(r) } => write!(f, "default {why}: {r}"),
            Provenance::Live(what) => f.write_str(what),
        }
    }
}

/// A factor's value with where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor<T> {
    pub value: T,
    pub provenance: Provenance,
}

impl<T> Factor<T> {
    pub fn new(value: T, provenance: Provenance) -> Self {
        Factor { value, provenance }
    }

    pub fn given(value: T, origin: Origin) -> Self {
        Factor::new(value, Provenance::Given(origin))
    }

    pub fn table(value: T, row: TableRow) -> Self {
        Factor::new(value, Provenance::Table(row))
    }

    pub fn default_because(value: T, why: impl Into<String>) -> Self {
        Factor::new(value, Provenance::default_because(why))
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Factor<U> {
        Factor {
            value: f(self.value),
            provenance: self.provenance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_origin_renders_what_the_user_wrote() {
        let cases = [
            (Origin::Flag("pue".into()), "given by the user (--pue)"),
            (
                Origin::Env("ECOTRACE_PUE".into()),
                "given by the user (ECOTRACE_PUE)",
            ),
            (
                Origin::Config {
                    key: "pue".into(),
                    file: PathBuf::from("/p/ecotrace.toml"),
                },
                "given by the user (pue in /p/ecotrace.toml)",
            ),
            (Origin::Keyword("pue".into()), "given by the user (pue=)"),
        ];
        for (o, text) in cases {
            assert_eq!(Provenance::Given(o).to_string(), text);
        }
    }

    #[test]
    fn a_table_row_names_table_row_year_basis_and_licence() {
        let mut r = TableRow::new("zones", "FR", "Electricity Maps 2024")
            .year(2024)
            .licence("ODbL-1.0");
        r.basis = Some(Accounting::Lifecycle);
        assert_eq!(
            Provenance::Table(r.clone()).to_string(),
            "Electricity Maps 2024 [zones table, row FR, 2024, life-cycle, ODbL-1.0]"
        );
        let d = Provenance::Default {
            why: "world average: no region given".into(),
            row: Some(r.note("fallback")),
        };
        assert!(d
            .to_string()
            .starts_with("default world average: no region given: fallback; "));
    }
}
