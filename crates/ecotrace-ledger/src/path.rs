//! Where the ledger lives: the default path (XDG base directories), the spool beside it, and the
//! parsing of a `--ledger` spec into a SQLite path or a PostgreSQL URL. Pure apart from
//! [`default_path`] and [`default_spool_path`] reading environment variables; must not touch the
//! filesystem.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::LedgerError;

/// `$XDG_DATA_HOME/ecotrace/ledger.db`, falling back to `$HOME/.local/share/ecotrace/ledger.db`.
pub fn default_path() -> Result<PathBuf, LedgerError> {
    default_path_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// [`default_path`] with the environment values passed in (testable without touching the
/// process environment). As the XDG spec says, an empty or relative `XDG_DATA_HOME` is ignored.
pub fn default_path_from(
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, LedgerError> {
    let usable = |v: Option<OsString>| {
        v.map(PathBuf::from)
            .filter(|p| !p.as_os_str().is_empty() && p.is_absolute())
    };
    let data = match (usable(xdg_data_home), usable(home)) {
        (Some(xdg), _) => xdg,
        (None, Some(home)) => home.join(".local").join("share"),
        (None, None) => return Err(LedgerError::NoDefaultPath),
    };
    Ok(data.join("ecotrace").join("ledger.db"))
}

/// Where runs wait while a shared (PostgreSQL) ledger cannot be reached: `$ECOTRACE_SPOOL` if set,
/// else `spool.db` beside the default ledger (`$XDG_DATA_HOME/ecotrace/spool.db`).
pub fn default_spool_path() -> Result<PathBuf, LedgerError> {
    if let Some(p) = std::env::var_os("ECOTRACE_SPOOL").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    Ok(default_path()?.with_file_name("spool.db"))
}

/// Where a run whose SQLite ledger at `ledger` cannot be written is kept instead (see
/// [`crate::open_for_run`]): `$XDG_DATA_HOME/ecotrace/fallback/<name>-<hash>.db`, one file per
/// ledger (named by a hash of its absolute path), so that `ecotrace sync` sends each run to the
/// ledger it was meant for.
pub fn fallback_path(ledger: &Path) -> Result<PathBuf, LedgerError> {
    let abs = std::path::absolute(ledger).unwrap_or_else(|_| ledger.to_path_buf());
    // The directory's canonical form when it exists, so `./l.db` and `/x/l.db` agree.
    let abs = match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .map(|d| d.join(name))
            .unwrap_or(abs.clone()),
        _ => abs,
    };
    let stem: String = abs
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    let hash = fnv1a(abs.as_os_str().as_encoded_bytes());
    Ok(default_path()?
        .with_file_name("fallback")
        .join(format!("{stem}-{hash:016x}.db")))
}

/// 64-bit FNV-1a: a stable hash for file names (not for security).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a `--ledger` spec names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Spec {
    Sqlite(PathBuf),
    /// The URL as given (with its password, if any: never print it, see `redact`).
    Postgres(String),
}

/// Turns a `--ledger` spec into a SQLite path or a PostgreSQL URL, or says why it can't be used.
pub(crate) fn parse_spec(spec: &str) -> Result<Spec, LedgerError> {
    let s = spec.trim();
    match split_scheme(s) {
        Some((scheme, _))
            if ["postgres", "postgresql"].contains(&scheme.to_ascii_lowercase().as_str()) =>
        {
            Ok(Spec::Postgres(s.to_string()))
        }
        _ => resolve_spec(s).map(Spec::Sqlite),
    }
}

/// Turns a `--ledger` spec into the path of a SQLite ledger, or says why it can't be used.
pub(crate) fn resolve_spec(spec: &str) -> Result<PathBuf, LedgerError> {
    let s = spec.trim();
    if s.is_empty() {
        return Err(LedgerError::Unsupported {
            spec: String::new(),
            reason: "the ledger spec is empty; pass a file path for a SQLite ledger".into(),
        });
    }
    let Some((scheme, rest)) = split_scheme(s) else {
        return Ok(PathBuf::from(s));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" | "sqlite" if !rest.is_empty() => Ok(PathBuf::from(rest)),
        "postgres" | "postgresql" => Err(LedgerError::Unsupported {
            spec: redact(s),
            reason: "a PostgreSQL URL is not a SQLite file; open it with ecotrace_ledger::open".into(),
        }),
        _ => Err(LedgerError::Unsupported {
            spec: redact(s),
            reason: format!(
                "unknown ledger scheme '{scheme}://'; pass a file path (SQLite) or a postgres:// URL"
            ),
        }),
    }
}

/// `scheme://rest` when `s` starts with a URL scheme (letter, then letters, digits, `+-.`).
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (first_ok && rest_ok).then_some((scheme, rest))
}

/// The spec with any `user:password@` removed, so errors never echo a credential.
fn redact(s: &str) -> String {
    match split_scheme(s) {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => s.to_string(),
            }
        }
        None => s.to_string(),
    }
}

/// The directory a ledger file will be created in, if it names one.
pub(crate) fn parent_dir(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn default_path_honours_xdg_data_home() {
        assert_eq!(
            default_path_from(os("/data"), os("/home/u")).unwrap(),
            PathBuf::from("/data/ecotrace/ledger.db")
        );
    }

    #[test]
    fn default_path_falls_back_to_home() {
        let want = PathBuf::from("/home/u/.local/share/ecotrace/ledger.db");
        assert_eq!(default_path_from(None, os("/home/u")).unwrap(), want);
        // Empty or relative XDG_DATA_HOME is ignored, per the XDG base directory spec.
        assert_eq!(default_path_from(os(""), os("/home/u")).unwrap(), want);
        assert_eq!(
            default_path_from(os("rel/dir"), os("/home/u")).unwrap(),
            want
        );
    }

    #[test]
    fn default_path_needs_some_home() {
        let e = default_path_from(None, None).unwrap_err();
        assert!(matches!(e, LedgerError::NoDefaultPath));
        assert!(e.to_string().contains("--ledger"));
        assert!(default_path_from(os(""), os("")).is_err());
    }

    #[test]
    fn default_path_reads_the_environment() {
        // Only checks that it agrees with the pure helper; never sets variables (tests run in
        // parallel threads of one process).
        let direct = default_path_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"));
        match (default_path(), direct) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{a:?} vs {b:?}"),
        }
    }

    #[test]
    fn specs_resolve_to_paths() {
        assert_eq!(
            resolve_spec(" /tmp/l.db ").unwrap(),
            PathBuf::from("/tmp/l.db")
        );
        assert_eq!(resolve_spec("l.db").unwrap(), PathBuf::from("l.db"));
        assert_eq!(
            resolve_spec("sqlite:///tmp/l.db").unwrap(),
            PathBuf::from("/tmp/l.db")
        );
        assert_eq!(
            resolve_spec("file:///tmp/l.db").unwrap(),
            PathBuf::from("/tmp/l.db")
        );
        // Not a scheme: a relative path that happens to contain "://".
        assert_eq!(resolve_spec("./a://b").unwrap(), PathBuf::from("./a://b"));
        assert!(resolve_spec("  ").is_err());
    }

    #[test]
    fn postgres_urls_are_recognised_and_errors_hide_credentials() {
        assert_eq!(
            parse_spec(" postgres://me:s3cret@db.example/ecotrace ").unwrap(),
            Spec::Postgres("postgres://me:s3cret@db.example/ecotrace".into())
        );
        assert!(matches!(
            parse_spec("PostgreSQL://db/e").unwrap(),
            Spec::Postgres(_)
        ));
        assert_eq!(
            parse_spec("/tmp/l.db").unwrap(),
            Spec::Sqlite(PathBuf::from("/tmp/l.db"))
        );
        let e = resolve_spec("postgres://me:s3cret@db.example/ecotrace").unwrap_err();
        let m = e.to_string();
        assert!(m.contains("postgres://***@db.example/ecotrace"), "{m}");
        assert!(!m.contains("s3cret"), "{m}");
        let e = parse_spec("mysql://me:pw@h/db").unwrap_err();
        let m = e.to_string();
        assert!(m.contains("unknown ledger scheme 'mysql://'"), "{m}");
        assert!(!m.contains("pw@"), "{m}");
    }
}
