//! `APP_CONFIG_*` environment overrides.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::error::ConfigError;

/// Prefix of environment variables that override config values.
pub(crate) const ENV_PREFIX: &str = "APP_CONFIG_";

/// A key part: starts with a letter; letters, digits and single `-` separators.
static KEY_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

/// Builds the override layer from `APP_CONFIG_*` variables, as Backstage does: the name after
/// the prefix is split on `_` into a key path (case kept), and the value is parsed as JSON when
/// it is valid JSON, else taken as a string. Empty values are ignored; `null` is rejected.
/// Variables are applied in name order, so the result does not depend on the environment's
/// iteration order.
pub(crate) fn env_overrides(vars: &BTreeMap<String, String>) -> Result<Option<Value>, ConfigError> {
    let mut data: Option<Map<String, Value>> = None;
    for (name, raw) in vars.range(ENV_PREFIX.to_owned()..) {
        let Some(key) = name.strip_prefix(ENV_PREFIX) else {
            break;
        };
        if raw.is_empty() {
            continue;
        }
        let fail = |message: String| ConfigError::EnvOverride {
            name: name.clone(),
            message,
        };
        let parts: Vec<&str> = key.split('_').collect();
        if let Some(bad) = parts.iter().find(|p| !KEY_PART.is_match(p)) {
            return Err(fail(format!(
                "invalid key part '{bad}'; parts must start with a letter and hold letters, digits and '-'"
            )));
        }
        let value = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Null) => return Err(fail("the value may not be null".to_owned())),
            Ok(v) => v,
            Err(_) => Value::String(raw.clone()),
        };
        let mut obj = data.get_or_insert_with(Map::new);
        let (last, parents) = parts
            .split_last()
            .ok_or_else(|| fail("empty key".to_owned()))?;
        for (index, part) in parents.iter().enumerate() {
            let entry = obj
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(next) => obj = next,
                _ => {
                    return Err(fail(format!(
                        "cannot nest config under the existing value at '{}'",
                        parts[..=index].join("_")
                    )));
                }
            }
        }
        if obj.contains_key(*last) {
            return Err(fail(format!(
                "refusing to override existing config at key '{key}'"
            )));
        }
        obj.insert((*last).to_owned(), value);
    }
    Ok(data.map(Value::Object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn builds_nested_values_and_parses_json() {
        let out = env_overrides(&vars(&[
            ("APP_CONFIG_app_title", "\"My Title\""),
            ("APP_CONFIG_backend_listen_port", "8080"),
            ("APP_CONFIG_backend_https", "true"),
            ("APP_CONFIG_backend_baseUrl", "http://localhost:8080"),
            ("APP_CONFIG_catalog_rules", "[{\"allow\":[\"Component\"]}]"),
            ("APP_CONFIG_quoted_number", "\"42\""),
            ("PATH", "/usr/bin"),
            ("app_config_lower", "1"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            json!({
                "app": {"title": "My Title"},
                "backend": {"listen": {"port": 8080}, "https": true, "baseUrl": "http://localhost:8080"},
                "catalog": {"rules": [{"allow": ["Component"]}]},
                "quoted": {"number": "42"},
            })
        );
    }

    #[test]
    fn no_overrides_gives_none_and_empty_values_are_skipped() {
        assert_eq!(env_overrides(&vars(&[("HOME", "/root")])).unwrap(), None);
        assert_eq!(env_overrides(&vars(&[("APP_CONFIG_a", "")])).unwrap(), None);
    }

    #[test]
    fn kebab_case_parts_are_allowed() {
        let out = env_overrides(&vars(&[("APP_CONFIG_proxy_my-api_target", "x")])).unwrap();
        assert_eq!(out, Some(json!({"proxy": {"my-api": {"target": "x"}}})));
    }

    #[test]
    fn rejects_bad_keys_null_and_conflicts() {
        let err = env_overrides(&vars(&[("APP_CONFIG_a__b", "1")])).unwrap_err();
        assert!(
            matches!(&err, ConfigError::EnvOverride { name, .. } if name == "APP_CONFIG_a__b"),
            "{err}"
        );
        assert!(env_overrides(&vars(&[("APP_CONFIG_1a", "1")])).is_err());
        assert!(env_overrides(&vars(&[("APP_CONFIG_", "1")])).is_err());
        let null = env_overrides(&vars(&[("APP_CONFIG_a", "null")])).unwrap_err();
        assert!(null.to_string().contains("may not be null"), "{null}");
        let nest =
            env_overrides(&vars(&[("APP_CONFIG_a", "1"), ("APP_CONFIG_a_b", "2")])).unwrap_err();
        assert!(nest.to_string().contains("cannot nest config"), "{nest}");
        assert!(!nest.to_string().contains(": 2"), "{nest}");
    }

    #[test]
    fn object_value_can_be_extended_by_a_longer_name() {
        let out = env_overrides(&vars(&[
            ("APP_CONFIG_a", "{\"x\":1}"),
            ("APP_CONFIG_a_y", "2"),
        ]))
        .unwrap();
        assert_eq!(out, Some(json!({"a": {"x": 1, "y": 2}})));
    }

    #[test]
    fn a_key_set_by_a_json_object_is_not_overridden() {
        let err = env_overrides(&vars(&[
            ("APP_CONFIG_a", "{\"b\":1}"),
            ("APP_CONFIG_a_b", "2"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("refusing to override existing config at key 'a_b'"),
            "{err}"
        );
    }
}
