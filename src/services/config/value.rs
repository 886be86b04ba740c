//! [`Config`]: an immutable, cheaply cloned view of merged configuration.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use regex::Regex;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::duration::parse_duration_value;
use super::error::ConfigError;
use super::path::{self, Lookup, Segment, render};

static NULL: Value = Value::Null;

/// Merged configuration, or a part of it.
///
/// A `Config` is immutable; cloning it only bumps a reference count, and sub-configs returned by
/// [`Config::config`] and [`Config::config_array`] share the same data. Paths are dotted keys
/// with optional array indexes: `backend.listen.port`, `catalog.locations[2].target`. Errors
/// from a sub-config name the full path from the root, so a plugin reading its own section
/// still reports `catalog.locations[2].target`.
///
/// Typed getters come in pairs: `x(path)` fails with [`ConfigError::Missing`] when the value is
/// absent or `null`, `opt_x(path)` returns `Ok(None)` then. Both fail with
/// [`ConfigError::WrongType`] when the value is present with another type. As in Backstage,
/// strings that hold a number or `true`/`false` are accepted by the number and boolean
/// getters (they are common after `${VAR}` substitution), and empty strings are not strings.
///
/// `Debug` prints the path and the keys only, never values, so a config can be logged without
/// leaking secrets.
///
/// ```
/// use backlot::services::config::{Config, ConfigLoader};
///
/// let config: Config = ConfigLoader::new()
///     .yaml(
///         "app-config.yaml",
///         "backend:\n  baseUrl: http://localhost:7007\n  listen:\n    port: 7007\n\
///          catalog:\n  locations:\n    - type: url\n      target: https://example.com/a.yaml\n",
///     )
///     .env_vars(Vec::<(String, String)>::new())
///     .load()?;
///
/// assert_eq!(config.string("backend.baseUrl")?, "http://localhost:7007");
/// let backend = config.config("backend")?;
/// assert_eq!(backend.u16("listen.port")?, 7007);
/// assert_eq!(backend.opt_bool("https")?, None);
/// assert_eq!(config.string("catalog.locations[0].type")?, "url");
///
/// // Errors name the full path, even from a sub-config.
/// let err = backend.string("listen.port").unwrap_err();
/// assert_eq!(err.to_string(), "backend.listen.port: expected a string");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Config {
    root: Arc<Value>,
    location: Arc<[Segment]>,
    prefix: Arc<str>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("prefix", &&*self.prefix)
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::empty()
    }
}

impl Config {
    /// Wraps already-built data as a config, without substitution or directives.
    ///
    /// ```
    /// use backlot::services::config::Config;
    /// use serde_json::json;
    ///
    /// let config = Config::from_value(json!({"app": {"title": "Portal"}}));
    /// assert_eq!(config.string("app.title")?, "Portal");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_value(value: Value) -> Self {
        Self {
            root: Arc::new(value),
            location: Arc::from(Vec::new()),
            prefix: Arc::from(""),
        }
    }

    /// A config with no values.
    ///
    /// ```
    /// use backlot::services::config::Config;
    ///
    /// let config = Config::empty();
    /// assert!(config.keys().is_empty());
    /// assert_eq!(config.opt_string("app.title")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn empty() -> Self {
        Self::from_value(Value::Object(serde_json::Map::new()))
    }

    /// The data of this config (the whole tree, or this sub-config's object).
    pub fn as_value(&self) -> &Value {
        match path::lookup(&self.root, &self.location) {
            Lookup::Found(v) => v,
            _ => &NULL,
        }
    }

    /// The full path of this config from the root; empty for the root config.
    pub fn path_prefix(&self) -> &str {
        &self.prefix
    }

    /// The raw value at `path`; `None` when absent, `null`, or when `path` is malformed.
    ///
    /// As in Backstage, `null` means "explicitly unset": a `key: null` in a later file removes
    /// the value an earlier file gave, and reads as missing.
    pub fn get(&self, path: &str) -> Option<&Value> {
        let segments = path::parse(path).ok()?;
        match path::lookup(self.as_value(), &segments) {
            Lookup::Found(Value::Null) => None,
            Lookup::Found(v) => Some(v),
            _ => None,
        }
    }

    /// Whether a (non-`null`) value exists at `path`.
    pub fn has(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// The keys of this config's object whose values are not `null` (empty when this config
    /// is not an object).
    pub fn keys(&self) -> Vec<String> {
        match self.as_value() {
            Value::Object(map) => map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The full path of `rel` from the root.
    fn full_path(&self, rel: &[Segment]) -> String {
        render(&self.prefix, rel)
    }

    /// Reads the value at `path`: `None` when absent or `null`, an error when the walk meets a
    /// non-container on the way.
    fn read(&self, path: &str) -> Result<Option<(&Value, Vec<Segment>)>, ConfigError> {
        let segments = path::parse(path)?;
        match path::lookup(self.as_value(), &segments) {
            Lookup::Found(Value::Null) | Lookup::Absent => Ok(None),
            Lookup::Found(v) => Ok(Some((v, segments))),
            Lookup::Blocked { depth, expected } => Err(ConfigError::WrongType {
                path: self.full_path(&segments[..depth]),
                expected,
            }),
        }
    }

    fn wrong(&self, rel: &[Segment], expected: &'static str) -> ConfigError {
        ConfigError::WrongType {
            path: self.full_path(rel),
            expected,
        }
    }

    fn required<T>(&self, path: &str, value: Option<T>) -> Result<T, ConfigError> {
        value.ok_or_else(|| ConfigError::Missing {
            path: match path::parse(path) {
                Ok(segments) => self.full_path(&segments),
                Err(_) => path.to_owned(),
            },
        })
    }

    fn typed<T>(
        &self,
        path: &str,
        convert: impl FnOnce(&Value) -> Option<T>,
        expected: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        match self.read(path)? {
            None => Ok(None),
            Some((value, rel)) => convert(value)
                .map(Some)
                .ok_or_else(|| self.wrong(&rel, expected)),
        }
    }

    /// A required non-empty string.
    pub fn string(&self, path: &str) -> Result<String, ConfigError> {
        let v = self.opt_string(path)?;
        self.required(path, v)
    }

    /// An optional non-empty string.
    pub fn opt_string(&self, path: &str) -> Result<Option<String>, ConfigError> {
        match self.read(path)? {
            None => Ok(None),
            Some((Value::String(s), _)) if !s.is_empty() => Ok(Some(s.clone())),
            Some((Value::String(_), rel)) => Err(self.wrong(&rel, "a non-empty string")),
            Some((_, rel)) => Err(self.wrong(&rel, "a string")),
        }
    }

    /// A required number. Numeric strings are converted.
    pub fn number(&self, path: &str) -> Result<f64, ConfigError> {
        let v = self.opt_number(path)?;
        self.required(path, v)
    }

    /// An optional number. Numeric strings are converted.
    pub fn opt_number(&self, path: &str) -> Result<Option<f64>, ConfigError> {
        self.typed(path, as_f64, "a number")
    }

    /// A required non-negative integer.
    pub fn u64(&self, path: &str) -> Result<u64, ConfigError> {
        let v = self.opt_u64(path)?;
        self.required(path, v)
    }

    /// An optional non-negative integer.
    pub fn opt_u64(&self, path: &str) -> Result<Option<u64>, ConfigError> {
        self.integer(
            path,
            |v| match v {
                Value::Number(n) if n.is_u64() => n.as_u64(),
                _ => as_f64(v).and_then(|f| {
                    (f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64).then_some(f as u64)
                }),
            },
            "a non-negative integer",
        )
    }

    /// A required integer.
    pub fn i64(&self, path: &str) -> Result<i64, ConfigError> {
        let v = self.opt_i64(path)?;
        self.required(path, v)
    }

    /// An optional integer.
    pub fn opt_i64(&self, path: &str) -> Result<Option<i64>, ConfigError> {
        self.integer(
            path,
            |v| match v {
                Value::Number(n) if n.is_i64() => n.as_i64(),
                _ => as_f64(v).and_then(|f| {
                    (f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64)
                        .then_some(f as i64)
                }),
            },
            "an integer",
        )
    }

    /// A required integer in `0..=65535`, such as a port.
    pub fn u16(&self, path: &str) -> Result<u16, ConfigError> {
        let v = self.opt_u16(path)?;
        self.required(path, v)
    }

    /// An optional integer in `0..=65535`, such as a port.
    pub fn opt_u16(&self, path: &str) -> Result<Option<u16>, ConfigError> {
        self.integer(
            path,
            |v| {
                as_f64(v).and_then(|f| {
                    (f >= 0.0 && f.fract() == 0.0 && f <= f64::from(u16::MAX)).then_some(f as u16)
                })
            },
            "an integer between 0 and 65535",
        )
    }

    /// Reads an integer: a non-number is "expected a number", a number out of range or with a
    /// fraction is "expected <range>".
    fn integer<T>(
        &self,
        path: &str,
        convert: impl FnOnce(&Value) -> Option<T>,
        range: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        match self.read(path)? {
            None => Ok(None),
            Some((value, rel)) => {
                if as_f64(value).is_none() {
                    return Err(self.wrong(&rel, "a number"));
                }
                convert(value)
                    .map(Some)
                    .ok_or_else(|| self.wrong(&rel, range))
            }
        }
    }

    /// A required boolean. The strings `"true"` and `"false"` are accepted.
    pub fn bool(&self, path: &str) -> Result<bool, ConfigError> {
        let v = self.opt_bool(path)?;
        self.required(path, v)
    }

    /// An optional boolean. The strings `"true"` and `"false"` are accepted.
    pub fn opt_bool(&self, path: &str) -> Result<Option<bool>, ConfigError> {
        self.typed(
            path,
            |v| match v {
                Value::Bool(b) => Some(*b),
                Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
                Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            },
            "a boolean",
        )
    }

    /// A required array of non-empty strings.
    pub fn string_array(&self, path: &str) -> Result<Vec<String>, ConfigError> {
        let v = self.opt_string_array(path)?;
        self.required(path, v)
    }

    /// An optional array of non-empty strings.
    pub fn opt_string_array(&self, path: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some((value, mut rel)) = self.read(path)? else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return Err(self.wrong(&rel, "an array of strings"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(s) if !s.is_empty() => out.push(s.clone()),
                _ => {
                    rel.push(Segment::Index(index));
                    return Err(self.wrong(&rel, "a non-empty string"));
                }
            }
        }
        Ok(Some(out))
    }

    /// A required object, as a sub-config.
    pub fn config(&self, path: &str) -> Result<Config, ConfigError> {
        let v = self.opt_config(path)?;
        self.required(path, v)
    }

    /// An optional object, as a sub-config.
    pub fn opt_config(&self, path: &str) -> Result<Option<Config>, ConfigError> {
        match self.read(path)? {
            None => Ok(None),
            Some((Value::Object(_), rel)) => Ok(Some(self.child(rel))),
            Some((_, rel)) => Err(self.wrong(&rel, "an object")),
        }
    }

    /// A required array of objects, as sub-configs.
    pub fn config_array(&self, path: &str) -> Result<Vec<Config>, ConfigError> {
        let v = self.opt_config_array(path)?;
        self.required(path, v)
    }

    /// An optional array of objects, as sub-configs.
    pub fn opt_config_array(&self, path: &str) -> Result<Option<Vec<Config>>, ConfigError> {
        let Some((value, rel)) = self.read(path)? else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return Err(self.wrong(&rel, "an array of objects"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let mut item_rel = rel.clone();
            item_rel.push(Segment::Index(index));
            if !item.is_object() {
                return Err(self.wrong(&item_rel, "an object"));
            }
            out.push(self.child(item_rel));
        }
        Ok(Some(out))
    }

    fn child(&self, rel: Vec<Segment>) -> Config {
        let prefix = self.full_path(&rel);
        let mut location = self.location.to_vec();
        location.extend(rel);
        Config {
            root: Arc::clone(&self.root),
            location: Arc::from(location),
            prefix: Arc::from(prefix),
        }
    }

    /// A required duration; see [`parse_duration_value`](super::parse_duration_value) for
    /// the accepted forms.
    pub fn duration(&self, path: &str) -> Result<Duration, ConfigError> {
        let v = self.opt_duration(path)?;
        self.required(path, v)
    }

    /// An optional duration: a number of milliseconds, an `ms`-style string (`"10m"`,
    /// `"2 seconds"`), an ISO 8601 string (`"PT1M30S"`) or a unit object (`{minutes: 10}`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use backlot::services::config::Config;
    /// use serde_json::json;
    ///
    /// let config = Config::from_value(json!({
    ///     "a": "10m", "b": "PT1M30S", "c": {"hours": 1, "minutes": 30}, "d": 1500
    /// }));
    /// assert_eq!(config.opt_duration("a")?, Some(Duration::from_secs(600)));
    /// assert_eq!(config.opt_duration("b")?, Some(Duration::from_secs(90)));
    /// assert_eq!(config.opt_duration("c")?, Some(Duration::from_secs(5400)));
    /// assert_eq!(config.opt_duration("d")?, Some(Duration::from_millis(1500)));
    /// assert_eq!(config.opt_duration("e")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn opt_duration(&self, path: &str) -> Result<Option<Duration>, ConfigError> {
        match self.read(path)? {
            None => Ok(None),
            Some((value, rel)) => {
                parse_duration_value(value)
                    .map(Some)
                    .map_err(|message| ConfigError::Invalid {
                        path: self.full_path(&rel),
                        message,
                    })
            }
        }
    }

    /// Deserializes the required value at `path` (use `""` for this whole config).
    ///
    /// Errors name the full path down to the failing field, and never quote string values.
    ///
    /// ```
    /// use backlot::services::config::Config;
    /// use serde::Deserialize;
    /// use serde_json::json;
    ///
    /// #[derive(Debug, Deserialize)]
    /// struct Endpoint { target: String, #[serde(default)] headers: Vec<String> }
    ///
    /// let config = Config::from_value(json!({
    ///     "proxy": {"endpoints": [{"target": "http://a"}, {"target": 5}]}
    /// }));
    /// let first: Endpoint = config.get_as("proxy.endpoints[0]")?;
    /// assert_eq!(first.target, "http://a");
    /// assert!(first.headers.is_empty());
    ///
    /// let err = config.get_as::<Vec<Endpoint>>("proxy.endpoints").unwrap_err();
    /// assert!(err.to_string().starts_with("proxy.endpoints[1].target: invalid type"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, ConfigError> {
        let v = self.opt_get_as(path)?;
        self.required(path, v)
    }

    /// Deserializes the value at `path` if present and not `null`.
    pub fn opt_get_as<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ConfigError> {
        let (value, mut rel) = if path.is_empty() {
            (self.as_value(), Vec::new())
        } else {
            match self.read(path)? {
                None => return Ok(None),
                Some(found) => found,
            }
        };
        serde_path_to_error::deserialize::<_, T>(value)
            .map(Some)
            .map_err(|e| {
                for segment in e.path().iter() {
                    match segment {
                        serde_path_to_error::Segment::Seq { index } => {
                            rel.push(Segment::Index(*index));
                        }
                        serde_path_to_error::Segment::Map { key }
                        | serde_path_to_error::Segment::Enum { variant: key } => {
                            rel.push(Segment::Key(key.clone()));
                        }
                        serde_path_to_error::Segment::Unknown => {
                            rel.push(Segment::Key("?".to_owned()));
                        }
                    }
                }
                ConfigError::Deserialize {
                    path: self.full_path(&rel),
                    message: redact(&e.into_inner().to_string()),
                }
            })
    }
}

/// A number, or a string holding a finite number.
fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(string|character|unknown variant) ("(?:[^"\\]|\\.)*"|`[^`]*`)"#)
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

/// Removes quoted values from a deserializer message, keeping what kind of value it was.
fn redact(message: &str) -> String {
    QUOTED.replace_all(message, "$1").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    fn sample() -> Config {
        Config::from_value(json!({
            "backend": {
                "baseUrl": "http://localhost:7007",
                "listen": {"port": 7007, "host": ""},
                "https": "true",
                "timeout": "PT1M",
                "badTimeout": "s3cret-ish",
                "list": ["a", "b"],
                "badList": ["a", 3],
                "cors": {"origin": ["x"], "credentials": false},
            },
            "catalog": {"locations": [
                {"type": "url", "target": "https://a"},
                {"type": "file", "target": "./b.yaml"},
                {"type": "file", "target": 17},
            ]},
            "nums": {"f": 1.5, "neg": -3, "str": " 42 ", "big": 70000, "word": "abc", "frac": 2.5},
            "nothing": null,
            "empty": "",
        }))
    }

    fn err(result: Result<impl fmt::Debug, ConfigError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn get_has_keys() {
        let c = sample();
        assert_eq!(c.get("backend.listen.port"), Some(&json!(7007)));
        assert_eq!(c.get("catalog.locations[1].type"), Some(&json!("file")));
        assert_eq!(c.get("backend.nope"), None);
        assert_eq!(c.get("backend..x"), None);
        assert_eq!(c.get("nothing"), None);
        assert!(!c.keys().contains(&"nothing".to_owned()));
        assert!(c.keys().contains(&"empty".to_owned()));
        assert!(c.has("backend.listen"));
        assert!(!c.has("nothing"));
        assert!(!c.has("backend.listen.port.deeper"));
        let mut keys = c.config("backend.listen").unwrap().keys();
        keys.sort();
        assert_eq!(keys, ["host", "port"]);
        assert!(Config::empty().keys().is_empty());
        assert_eq!(c.path_prefix(), "");
    }

    #[test]
    fn strings() {
        let c = sample();
        assert_eq!(
            c.string("backend.baseUrl").unwrap(),
            "http://localhost:7007"
        );
        assert_eq!(c.opt_string("backend.missing").unwrap(), None);
        assert_eq!(c.opt_string("nothing").unwrap(), None);
        assert_eq!(
            err(c.string("backend.missing")),
            "backend.missing: missing required config value"
        );
        assert_eq!(
            err(c.string("backend.listen.port")),
            "backend.listen.port: expected a string"
        );
        assert_eq!(
            err(c.opt_string("empty")),
            "empty: expected a non-empty string"
        );
        assert_eq!(
            err(c.string("backend.baseUrl.x")),
            "backend.baseUrl: expected an object"
        );
        assert_eq!(err(c.string("backend[0]")), "backend: expected an array");
        assert_eq!(
            err(c.string("a..b")),
            "invalid config path 'a..b': empty key"
        );
    }

    #[test]
    fn numbers() {
        let c = sample();
        assert_eq!(c.number("nums.f").unwrap(), 1.5);
        assert_eq!(c.number("nums.str").unwrap(), 42.0);
        assert_eq!(c.opt_number("nums.none").unwrap(), None);
        assert_eq!(err(c.number("nums.word")), "nums.word: expected a number");
        assert_eq!(
            err(c.number("nums.none")),
            "nums.none: missing required config value"
        );

        assert_eq!(c.u64("nums.big").unwrap(), 70000);
        assert_eq!(c.u64("nums.str").unwrap(), 42);
        assert_eq!(
            err(c.u64("nums.neg")),
            "nums.neg: expected a non-negative integer"
        );
        assert_eq!(
            err(c.opt_u64("nums.frac")),
            "nums.frac: expected a non-negative integer"
        );
        assert_eq!(
            err(c.u64("backend.list")),
            "backend.list: expected a number"
        );

        assert_eq!(c.i64("nums.neg").unwrap(), -3);
        assert_eq!(err(c.i64("nums.frac")), "nums.frac: expected an integer");

        assert_eq!(c.u16("backend.listen.port").unwrap(), 7007);
        assert_eq!(c.opt_u16("nums.str").unwrap(), Some(42));
        assert_eq!(c.opt_u16("nums.none").unwrap(), None);
        assert_eq!(
            err(c.u16("nums.big")),
            "nums.big: expected an integer between 0 and 65535"
        );
        assert_eq!(err(c.u16("nums.word")), "nums.word: expected a number");
    }

    #[test]
    fn booleans() {
        let c = sample();
        assert!(c.bool("backend.https").unwrap());
        assert_eq!(c.opt_bool("backend.cors.credentials").unwrap(), Some(false));
        assert_eq!(c.opt_bool("backend.nope").unwrap(), None);
        assert_eq!(
            err(c.bool("backend.baseUrl")),
            "backend.baseUrl: expected a boolean"
        );
        assert_eq!(err(c.bool("nums.f")), "nums.f: expected a boolean");
        assert_eq!(
            err(c.bool("backend.nope")),
            "backend.nope: missing required config value"
        );
    }

    #[test]
    fn string_arrays() {
        let c = sample();
        assert_eq!(c.string_array("backend.list").unwrap(), ["a", "b"]);
        assert_eq!(c.opt_string_array("backend.none").unwrap(), None);
        assert_eq!(
            err(c.string_array("backend.badList")),
            "backend.badList[1]: expected a non-empty string"
        );
        assert_eq!(
            err(c.string_array("backend.baseUrl")),
            "backend.baseUrl: expected an array of strings"
        );
        assert_eq!(
            err(c.string_array("backend.none")),
            "backend.none: missing required config value"
        );
    }

    #[test]
    fn sub_configs_keep_full_paths() {
        let c = sample();
        let backend = c.config("backend").unwrap();
        assert_eq!(backend.path_prefix(), "backend");
        assert_eq!(backend.u16("listen.port").unwrap(), 7007);
        assert_eq!(
            err(backend.bool("listen.port")),
            "backend.listen.port: expected a boolean"
        );
        let listen = backend.config("listen").unwrap();
        assert_eq!(
            err(listen.u16("host")),
            "backend.listen.host: expected a number"
        );
        assert_eq!(
            err(listen.string("missing")),
            "backend.listen.missing: missing required config value"
        );
        assert_eq!(
            err(c.config("backend.baseUrl")),
            "backend.baseUrl: expected an object"
        );
        assert_eq!(err(c.config("nope")), "nope: missing required config value");
        assert!(c.opt_config("nope").unwrap().is_none());
        assert_eq!(listen.as_value(), &json!({"port": 7007, "host": ""}));
    }

    #[test]
    fn config_arrays() {
        let c = sample();
        let locations = c.config_array("catalog.locations").unwrap();
        assert_eq!(locations.len(), 3);
        assert_eq!(locations[1].string("target").unwrap(), "./b.yaml");
        assert_eq!(locations[2].path_prefix(), "catalog.locations[2]");
        assert_eq!(
            err(locations[2].string("target")),
            "catalog.locations[2].target: expected a string"
        );
        assert_eq!(
            err(c.config_array("backend.list")),
            "backend.list[0]: expected an object"
        );
        assert_eq!(
            err(c.config_array("backend.listen")),
            "backend.listen: expected an array of objects"
        );
        assert!(c.opt_config_array("catalog.rules").unwrap().is_none());
        let sub = c
            .config("catalog")
            .unwrap()
            .config_array("locations")
            .unwrap();
        assert_eq!(sub[0].path_prefix(), "catalog.locations[0]");
    }

    #[test]
    fn durations() {
        let c = sample();
        assert_eq!(
            c.duration("backend.timeout").unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(c.opt_duration("backend.nope").unwrap(), None);
        let e = err(c.duration("backend.badTimeout"));
        assert!(e.starts_with("backend.badTimeout: invalid duration"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        assert_eq!(
            err(c.duration("backend.nope")),
            "backend.nope: missing required config value"
        );
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Location {
        #[serde(rename = "type")]
        kind: String,
        target: String,
    }

    #[test]
    fn deserialization_names_full_path_and_hides_values() {
        let c = sample();
        let first: Location = c.get_as("catalog.locations[0]").unwrap();
        assert_eq!(first.kind, "url");
        let e = err(c.get_as::<Vec<Location>>("catalog.locations"));
        assert!(
            e.starts_with(
                "catalog.locations[2].target: invalid type: integer `17`, expected a string"
            ),
            "{e}"
        );
        let catalog = c.config("catalog").unwrap();
        let e = err(catalog.get_as::<Vec<Location>>("locations"));
        assert!(e.starts_with("catalog.locations[2].target:"), "{e}");

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Listen {
            port: u16,
            host: u16,
        }
        let e = err(c.config("backend").unwrap().get_as::<Listen>("listen"));
        assert_eq!(e, "backend.listen.host: invalid type: string, expected u16");
        let e = err(c.get_as::<u16>("backend.baseUrl"));
        assert!(!e.contains("localhost"), "{e}");
        assert_eq!(
            err(c.get_as::<u16>("nope")),
            "nope: missing required config value"
        );
        assert_eq!(c.opt_get_as::<u16>("nothing").unwrap(), None);
        let whole: Value = c.config("backend.listen").unwrap().get_as("").unwrap();
        assert_eq!(whole, json!({"port": 7007, "host": ""}));

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        enum Mode {
            Fast,
        }
        let e = Config::from_value(json!({"m": "s3cret"}))
            .get_as::<Mode>("m")
            .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn debug_shows_no_values_and_clones_share_data() {
        let c = sample();
        let dbg = format!("{:?}", c.config("backend.listen").unwrap());
        assert!(dbg.contains("backend.listen"), "{dbg}");
        assert!(!dbg.contains("7007"), "{dbg}");
        let clone = c.clone();
        assert!(Arc::ptr_eq(&c.root, &clone.root));
        let sub = c.config("backend").unwrap();
        assert!(Arc::ptr_eq(&c.root, &sub.root));
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Config>();
    }
}
