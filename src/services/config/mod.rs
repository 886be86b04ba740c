//! Interim configuration shim; replaced by the full config service.
#![allow(missing_docs, dead_code)]
use std::sync::Arc;
use std::path::PathBuf;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{path}: missing required config value")]
    Missing { path: String },
    #[error("{path}: expected {expected}")]
    WrongType { path: String, expected: &'static str },
    #[error("failed to read config file '{file}': {message}")]
    Read { file: String, message: String },
}

#[derive(Debug, Clone)]
pub struct Config { root: Arc<Value>, prefix: String }

impl Config {
    pub fn empty() -> Self { Self::from_value(Value::Object(Default::default())) }
    pub fn from_value(v: Value) -> Self { Self { root: Arc::new(v), prefix: String::new() } }
    fn full(&self, p: &str) -> String { if self.prefix.is_empty() { p.to_string() } else { format!("{}.{}", self.prefix, p) } }
    pub fn get(&self, path: &str) -> Option<&Value> {
        let mut cur: &Value = &self.root;
        for part in self.full(path).split('.') { cur = cur.get(part)?; }
        Some(cur)
    }
    pub fn has(&self, path: &str) -> bool { self.get(path).is_some() }
    pub fn as_value(&self) -> &Value { if self.prefix.is_empty() { &self.root } else { self.get("").unwrap_or(&Value::Null) } }
    pub fn opt_string(&self, path: &str) -> Result<Option<String>, ConfigError> {
        match self.get(path) { None | Some(Value::Null) => Ok(None), Some(Value::String(s)) => Ok(Some(s.clone())), Some(_) => Err(ConfigError::WrongType { path: self.full(path), expected: "a string" }) }
    }
    pub fn string(&self, path: &str) -> Result<String, ConfigError> { self.opt_string(path)?.ok_or(ConfigError::Missing { path: self.full(path) }) }
    pub fn opt_u64(&self, path: &str) -> Result<Option<u64>, ConfigError> {
        match self.get(path) { None | Some(Value::Null) => Ok(None), Some(v) => v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).map(Some).ok_or(ConfigError::WrongType { path: self.full(path), expected: "a number" }) }
    }
    pub fn opt_u16(&self, path: &str) -> Result<Option<u16>, ConfigError> { self.opt_u64(path)?.map(|n| u16::try_from(n).map_err(|_| ConfigError::WrongType { path: self.full(path), expected: "a number" })).transpose() }
    pub fn opt_bool(&self, path: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(path) { None | Some(Value::Null) => Ok(None), Some(Value::Bool(b)) => Ok(Some(*b)), Some(_) => Err(ConfigError::WrongType { path: self.full(path), expected: "a boolean" }) }
    }
    pub fn opt_duration(&self, path: &str) -> Result<Option<std::time::Duration>, ConfigError> {
        match self.get(path) { None | Some(Value::Null) => Ok(None), Some(v) => v.as_u64().map(|n| Some(std::time::Duration::from_millis(n))).ok_or(ConfigError::WrongType { path: self.full(path), expected: "a duration" }) }
    }
    pub fn opt_config(&self, path: &str) -> Result<Option<Config>, ConfigError> {
        match self.get(path) { None | Some(Value::Null) => Ok(None), Some(Value::Object(_)) => Ok(Some(Config { root: self.root.clone(), prefix: self.full(path) })), Some(_) => Err(ConfigError::WrongType { path: self.full(path), expected: "an object" }) }
    }
    pub fn opt_config_array(&self, path: &str) -> Result<Option<Vec<Config>>, ConfigError> {
        match self.get(path) { None | Some(Value::Null) => Ok(None), Some(Value::Array(a)) => Ok(Some(a.iter().map(|v| Config::from_value(v.clone())).collect())), Some(_) => Err(ConfigError::WrongType { path: self.full(path), expected: "an array" }) }
    }
    pub fn opt_string_array(&self, path: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.get(path) { None | Some(Value::Null) => Ok(None), Some(Value::Array(a)) => Ok(Some(a.iter().filter_map(|v| v.as_str().map(String::from)).collect())), Some(_) => Err(ConfigError::WrongType { path: self.full(path), expected: "an array" }) }
    }
}

#[derive(Debug, Default)]
pub struct ConfigLoader { files: Vec<PathBuf>, yamls: Vec<(String, String)>, values: Vec<Value> }
impl ConfigLoader {
    pub fn new() -> Self { Self::default() }
    pub fn file(mut self, p: impl Into<PathBuf>) -> Self { self.files.push(p.into()); self }
    pub fn yaml(mut self, name: impl Into<String>, s: impl Into<String>) -> Self { self.yamls.push((name.into(), s.into())); self }
    pub fn value(mut self, v: Value) -> Self { self.values.push(v); self }
    pub fn load(self) -> Result<Config, ConfigError> {
        let mut out = Value::Object(Default::default());
        for f in &self.files {
            let s = std::fs::read_to_string(f).map_err(|e| ConfigError::Read { file: f.display().to_string(), message: e.to_string() })?;
            let v: Value = serde_yaml::from_str(&s).map_err(|e| ConfigError::Read { file: f.display().to_string(), message: e.to_string() })?;
            merge(&mut out, v);
        }
        for (n, s) in &self.yamls {
            let v: Value = serde_yaml::from_str(s).map_err(|e| ConfigError::Read { file: n.clone(), message: e.to_string() })?;
            merge(&mut out, v);
        }
        for v in self.values { merge(&mut out, v); }
        Ok(Config::from_value(out))
    }
}
fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => for (k, v) in b { match a.get_mut(&k) { Some(x) => merge(x, v), None => { a.insert(k, v); } } },
        (a, b) => *a = b,
    }
}
