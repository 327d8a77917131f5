//! Loading a role's TOML config and applying command-line / environment overrides on top.
//!
//! The file is read into a TOML table, each given flag replaces its key, and only then is the
//! table turned into the role's typed config, so a flag and the file are validated alike.

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use std::path::Path;
use toml::{Table, Value};

/// Overrides to apply: (key, value). `None` values are skipped.
#[derive(Clone)]
pub struct Overrides(Vec<(&'static str, Value)>);

impl Overrides {
    /// An empty set of overrides, to add flags to with [`Overrides::set`] and [`Overrides::list`].
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Replaces the top-level key `key` with `v` when a flag or variable gave one; `None` leaves the file's value.
    pub fn set(mut self, key: &'static str, v: Option<impl Into<Value>>) -> Self {
        if let Some(v) = v {
            self.0.push((key, v.into()));
        }
        self
    }

    /// Replaces the array `key` with `v` when it is not empty; an empty list leaves the file's value.
    pub fn list(mut self, key: &'static str, v: &[String]) -> Self {
        if !v.is_empty() {
            self.0.push((key, Value::Array(v.iter().cloned().map(Value::String).collect())));
        }
        self
    }
}

/// Reads `path` (if any), applies `overrides`, and deserializes the result.
pub fn load<T: DeserializeOwned>(path: Option<&Path>, overrides: Overrides) -> Result<T> {
    let mut table = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading config {}", p.display()))?;
            text.parse::<Table>().with_context(|| format!("parsing config {}", p.display()))?
        }
        None => Table::new(),
    };
    for (k, v) in overrides.0 {
        table.insert(k.to_string(), v);
    }
    let what = path.map(|p| p.display().to_string()).unwrap_or_else(|| "command-line settings".into());
    Value::Table(table).try_into().with_context(|| format!("invalid config ({what})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct C {
        model: String,
        proxies: Vec<String>,
        #[serde(default)]
        coefficient: u32,
    }

    #[test]
    fn flags_override_file() {
        let dir = std::env::temp_dir().join(format!("cocoon-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("w.toml");
        std::fs::write(&f, "model = \"a\"\nproxies = [\"x:1\"]\ncoefficient = 5\n").unwrap();
        let c: C = load(Some(&f), Overrides::new().set("model", Some("b")).list("proxies", &[])).unwrap();
        assert_eq!((c.model.as_str(), c.proxies.len(), c.coefficient), ("b", 1, 5));
        std::fs::write(&f, "model = \"a\"\nproxies = []\ntypo = 1\n").unwrap();
        assert!(load::<C>(Some(&f), Overrides::new()).is_err(), "unknown keys are rejected");
    }
}
