//! The config-file layer: `$ECOTRACE_CONFIG`, else `ecotrace.toml` found upward from the working
//! directory, then the user's `~/.config/ecotrace/config.toml`. Its keys are the ids of the
//! option definitions ([`crate::options`]: the measure options and the agent's socket limits)
//! plus `ledger`, `quiet` and `sample_retention`; an unknown key is an error
//! that names the closest one. Values are parsed by the same definitions as the flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Command;

use crate::options::{agent_option_ids, measure_option_ids, OptionGroup, Origins};
use crate::provenance::Origin;
use crate::FactorError;

type Result<T> = std::result::Result<T, FactorError>;

/// Config keys that are not measure options.
const OTHER_KEYS: [&str; 3] = ["ledger", "quiet", "sample_retention"];

/// One config file's contents, its keys checked against the option definitions.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FileLayer {
    table: toml::Table,
}

impl FileLayer {
    /// Parses a config file's text. Unknown keys are an error, so typos don't pass silently.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("not valid: {}", e.to_string().trim()))?;
        let mut ids = measure_option_ids();
        ids.extend(agent_option_ids());
        for key in table.keys() {
            if !ids.iter().any(|i| i == key) && !OTHER_KEYS.contains(&key.as_str()) {
                let known = ids.iter().map(String::as_str).chain(OTHER_KEYS);
                return Err(format!(
                    "unknown key {key:?}{}",
                    did_you_mean(key, known, "")
                ));
            }
        }
        if let Some(t) = table.get("tags") {
            if !t.is_table() {
                return Err("tags must be a table: [tags] with KEY = \"VALUE\" lines".into());
            }
        }
        Ok(FileLayer { table })
    }

    fn get(&self, key: &str) -> Option<&toml::Value> {
        self.table.get(key)
    }
}

/// `; did you mean `region`?` for the known name closest to `input`, if any is close.
pub(crate) fn did_you_mean<'a>(
    input: &str,
    known: impl Iterator<Item = &'a str>,
    suffix: &str,
) -> String {
    let best = known
        .map(|k| (ecotrace_data::levenshtein(input, k), k))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, k)) if d <= (input.len() / 3).max(2) => format!("; did you mean {k}{suffix}?"),
        _ => String::new(),
    }
}

/// The config files that apply here, most specific first, with where they came from.
#[derive(Debug, Default, Clone)]
pub struct FileLayers {
    pub layers: Vec<(PathBuf, FileLayer)>,
}

impl FileLayers {
    /// `$ECOTRACE_CONFIG` if set (only that file); otherwise `ecotrace.toml` in `cwd` or the nearest
    /// parent, then `$XDG_CONFIG_HOME/ecotrace/config.toml` (or `~/.config/...`).
    pub fn discover(cwd: &Path) -> Result<Self> {
        let mut paths = Vec::new();
        if let Some(p) = std::env::var_os("ECOTRACE_CONFIG").filter(|v| !v.is_empty()) {
            let p = PathBuf::from(p);
            if !p.is_file() {
                return Err(FactorError::Config {
                    path: p,
                    detail: "ECOTRACE_CONFIG points at it, but it is not a file".into(),
                });
            }
            paths.push(p);
        } else {
            if let Some(p) = cwd
                .ancestors()
                .map(|d| d.join("ecotrace.toml"))
                .find(|p| p.is_file())
            {
                paths.push(p);
            }
            let config_home = std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
            if let Some(dir) = config_home {
                let p = dir.join("ecotrace/config.toml");
                if p.is_file() {
                    paths.push(p);
                }
            }
        }
        let mut layers = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| FactorError::Config {
                path: p.clone(),
                detail: format!("cannot read it: {e}"),
            })?;
            let layer = FileLayer::parse(&text).map_err(|detail| FactorError::Config {
                path: p.clone(),
                detail,
            })?;
            layers.push((p, layer));
        }
        Ok(FileLayers { layers })
    }

    /// One layer, as if read from `path` (for tests and callers with their own text).
    pub fn from_text(path: impl Into<PathBuf>, text: &str) -> Result<Self> {
        let path = path.into();
        let layer = FileLayer::parse(text).map_err(|detail| FactorError::Config {
            path: path.clone(),
            detail,
        })?;
        Ok(FileLayers {
            layers: vec![(path, layer)],
        })
    }

    /// The ledger spec of the first layer that sets one.
    pub fn ledger(&self) -> Option<String> {
        self.string_with_origin("ledger").map(|(v, _)| v)
    }

    /// `sample_retention` of the first layer that sets it (`90d`, `off`).
    pub fn sample_retention(&self) -> Option<String> {
        self.string_with_origin("sample_retention").map(|(v, _)| v)
    }

    /// The string value of `key` in the first layer that sets it, with where it came from (the
    /// key and its file), for errors that must name it.
    pub fn string_with_origin(&self, key: &str) -> Option<(String, Origin)> {
        self.layers.iter().find_map(|(path, l)| {
            let v = l.get(key)?.as_str()?.to_string();
            Some((
                v,
                Origin::Config {
                    key: key.to_string(),
                    file: path.clone(),
                },
            ))
        })
    }

    /// `quiet` of the first layer that sets it.
    pub fn quiet(&self) -> Option<bool> {
        self.layers
            .iter()
            .find_map(|(_, l)| l.get("quiet")?.as_bool())
    }

    /// `phase` of the first layer that sets it (`serve` defaults to inference only without one).
    pub fn phase(&self) -> Option<String> {
        self.layers
            .iter()
            .find_map(|(_, l)| l.get("phase")?.as_str().map(str::to_string))
    }

    /// The tags of every layer: the user file's, then the project file's over them.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::new();
        for (_, l) in self.layers.iter().rev() {
            if let Some(t) = l.get("tags").and_then(toml::Value::as_table) {
                for (k, v) in t {
                    let v = match v {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Integer(i) => i.to_string(),
                        toml::Value::Float(x) => x.to_string(),
                        toml::Value::Boolean(b) => b.to_string(),
                        other => other.type_str().to_string(),
                    };
                    tags.insert(k.clone(), v);
                }
            }
        }
        tags
    }

    /// Fills the options of `args` that hold no value from the config files, most specific first, parsing each value with the option's own
    /// definition and recording where it came from. Keys that are not options of `A` are left
    /// to the commands that take them.
    pub fn fill<A: OptionGroup>(&self, args: &mut A, origins: &mut Origins) -> Result<()> {
        let mut given: Vec<String> = args.given_ids().iter().map(|s| s.to_string()).collect();
        let cmd = A::augment_args(Command::new("config").no_binary_name(true))
            .mut_args(|a| a.env(None::<&str>));
        for (path, layer) in &self.layers {
            let mut argv = Vec::new();
            let mut keys = Vec::new();
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "tags" || given.iter().any(|g| g == id) {
                    continue;
                }
                let Some(v) = layer.get(id) else { continue };
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(x) => x.to_string(),
                    // A list (`gpus = [0, 2]`) is the option's comma-separated value.
                    toml::Value::Array(items)
                        if !items.is_empty()
                            && items.iter().all(|i| i.is_str() || i.is_integer()) =>
                    {
                        items
                            .iter()
                            .map(|i| match i {
                                toml::Value::String(s) => s.clone(),
                                other => other.as_integer().unwrap_or_default().to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(",")
                    }
                    other => {
                        return Err(FactorError::Config {
                            path: path.clone(),
                            detail: format!(
                                "{id} is a {}: expected a string, a number or a list of them",
                                other.type_str()
                            ),
                        })
                    }
                };
                argv.push(format!("--{}={text}", arg.get_long().unwrap_or(id)));
                keys.push(id.to_string());
            }
            if argv.is_empty() {
                continue;
            }
            let m = cmd
                .clone()
                .try_get_matches_from(argv)
                .map_err(|e| FactorError::Config {
                    path: path.clone(),
                    detail: e
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                })?;
            args.update_from_arg_matches(&m)
                .map_err(|e| FactorError::Config {
                    path: path.clone(),
                    detail: e.to_string().trim().to_string(),
                })?;
            for key in keys {
                given.push(key.clone());
                origins.set(
                    &key,
                    Origin::Config {
                        key: key.clone(),
                        file: path.clone(),
                    },
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{FactorArgs, MeasureArgs};

    #[test]
    fn unknown_keys_are_rejected_with_the_closest_one() {
        let e = FileLayer::parse("regoin = \"FR\"").unwrap_err();
        assert!(e.contains("did you mean region?"), "{e}");
        assert!(FileLayer::parse("projet = \"x\"").is_err());
        assert!(FileLayer::parse("tags = \"a=1\"").is_err());
        assert!(FileLayer::parse("ledger = \"/x.db\"\nquiet = true\n[tags]\na = \"1\"").is_ok());
    }

    #[test]
    fn files_fill_what_flags_left_and_say_so() {
        let files = FileLayers::from_text(
            "/p/ecotrace.toml",
            "pue = 1.4\nintensity = 50\nregion = \"FR\"",
        )
        .unwrap();
        let mut f = FactorArgs {
            pue: Some(1.1),
            ..Default::default()
        };
        let mut o = Origins::default();
        o.set("pue", Origin::Flag("pue".into()));
        files.fill(&mut f, &mut o).unwrap();
        assert_eq!(f.pue, Some(1.1));
        assert_eq!(f.intensity, Some(50.0));
        assert_eq!(f.region.as_deref(), Some("FR"));
        assert_eq!(
            o.get("intensity"),
            Origin::Config {
                key: "intensity".into(),
                file: "/p/ecotrace.toml".into()
            }
        );
        assert_eq!(o.get("pue"), Origin::Flag("pue".into()));
    }

    #[test]
    fn a_bad_value_names_the_file() {
        let files = FileLayers::from_text("/p/ecotrace.toml", "pue = \"high\"").unwrap();
        let mut m = MeasureArgs::default();
        let mut o = Origins::default();
        let e = files.fill(&mut m, &mut o).unwrap_err();
        assert!(e.to_string().contains("/p/ecotrace.toml"), "{e}");
        assert!(e.to_string().contains("high"), "{e}");
    }
}
