//! Parsing config text (YAML, or JSON for `.json` includes) into JSON values.

use serde_json::{Map, Number, Value};

use super::error::ConfigError;

/// Parses YAML text into a JSON value. Returns `None` for an empty document (a file with only
/// comments), which Backstage treats as contributing nothing.
pub(crate) fn parse_yaml(name: &str, text: &str) -> Result<Option<Value>, ConfigError> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
        name: name.to_owned(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })?;
    match yaml_to_json(yaml) {
        Ok(Value::Null) => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(message) => Err(ConfigError::Parse {
            name: name.to_owned(),
            line: None,
            message,
        }),
    }
}

/// Parses JSON text.
pub(crate) fn parse_json(name: &str, text: &str) -> Result<Value, ConfigError> {
    serde_json::from_str(text).map_err(|e| ConfigError::Parse {
        name: name.to_owned(),
        line: Some(e.line()),
        message: e.to_string(),
    })
}

fn yaml_to_json(value: serde_yaml::Value) -> Result<Value, String> {
    Ok(match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Value::Number(
                    Number::from_f64(f)
                        .ok_or_else(|| "numbers must be finite (no .nan or .inf)".to_owned())?,
                )
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        serde_yaml::Value::Mapping(mapping) => {
            let mut map = Map::with_capacity(mapping.len());
            for (k, v) in mapping {
                let key = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Null => "null".to_owned(),
                    _ => return Err("mapping keys must be strings".to_owned()),
                };
                map.insert(key, yaml_to_json(v)?);
            }
            Value::Object(map)
        }
        serde_yaml::Value::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_becomes_json() {
        let v = parse_yaml(
            "t.yaml",
            "a:\n  b: 1\n  c: [x, 2.5, true, null]\n  3: numeric key\n  d: !custom tagged\n",
        )
        .unwrap();
        assert_eq!(
            v,
            Some(
                json!({"a": {"b": 1, "c": ["x", 2.5, true, null], "3": "numeric key", "d": "tagged"}})
            )
        );
    }

    #[test]
    fn empty_documents_give_none() {
        assert_eq!(parse_yaml("t.yaml", "").unwrap(), None);
        assert_eq!(parse_yaml("t.yaml", "# only a comment\n").unwrap(), None);
    }

    #[test]
    fn errors_carry_name_and_line() {
        let err = parse_yaml("x.yaml", "a: 1\nb: 2\n  c: [\n").unwrap_err();
        match &err {
            ConfigError::Parse { name, line, .. } => {
                assert_eq!(name, "x.yaml");
                assert!(line.is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            err.to_string().starts_with("config file 'x.yaml' line "),
            "{err}"
        );

        let dup = parse_yaml("d.yaml", "a: 1\na: 2\n").unwrap_err();
        assert!(dup.to_string().contains("duplicate"), "{dup}");

        let nan = parse_yaml("n.yaml", "a: .nan\n").unwrap_err();
        assert!(nan.to_string().contains("finite"), "{nan}");

        let json = parse_json("j.json", "{\n\"a\": 1,\n}").unwrap_err();
        assert!(
            json.to_string().starts_with("config file 'j.json' line 3"),
            "{json}"
        );
    }
}
