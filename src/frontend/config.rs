//! `app.extensions`: enabling, disabling, configuring and re-attaching extensions by id.

use serde_json::Value;

use super::error::AppError;
use super::extension::AttachTo;
use crate::services::config::Config;

/// One item of `app.extensions`, normalised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExtensionParams {
    pub(crate) id: String,
    pub(crate) attach_to: Option<AttachTo>,
    pub(crate) disabled: Option<bool>,
    pub(crate) config: Option<Value>,
}

/// Reads `app.extensions`. Each item is `id` (enable), `id: true|false` (enable or disable), or
/// `id: { attachTo: { id, input }, disabled, config }`. Later items for the same id override
/// the fields they set.
pub(crate) fn read_extension_params(config: &Config) -> Result<Vec<ExtensionParams>, AppError> {
    let Some(value) = config.get("app.extensions") else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(AppError::InvalidExtensionsConfig {
            index: 0,
            reason: "app.extensions must be a list".to_string(),
        });
    };
    let mut out: Vec<ExtensionParams> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let bad = |reason: String| AppError::InvalidExtensionsConfig { index, reason };
        let params = match item {
            Value::String(id) => ExtensionParams {
                id: id.clone(),
                attach_to: None,
                disabled: Some(false),
                config: None,
            },
            Value::Object(map) if map.len() == 1 => {
                let Some((id, value)) = map.iter().next() else {
                    return Err(bad("expected a single-key map".to_string()));
                };
                match value {
                    Value::Bool(enabled) => ExtensionParams {
                        id: id.clone(),
                        attach_to: None,
                        disabled: Some(!enabled),
                        config: None,
                    },
                    Value::Null => ExtensionParams {
                        id: id.clone(),
                        attach_to: None,
                        disabled: Some(false),
                        config: None,
                    },
                    Value::Object(fields) => {
                        let mut params = ExtensionParams {
                            id: id.clone(),
                            attach_to: None,
                            disabled: None,
                            config: None,
                        };
                        for (key, v) in fields {
                            match key.as_str() {
                                "attachTo" => {
                                    let parent = v.get("id").and_then(Value::as_str);
                                    let input = v.get("input").and_then(Value::as_str);
                                    match (parent, input) {
                                        (Some(p), Some(i)) => {
                                            params.attach_to = Some(AttachTo::new(p, i))
                                        }
                                        _ => {
                                            return Err(bad(format!(
                                                "'{id}'.attachTo must be {{ id, input }}"
                                            )));
                                        }
                                    }
                                }
                                "disabled" => match v {
                                    Value::Bool(b) => params.disabled = Some(*b),
                                    _ => {
                                        return Err(bad(format!(
                                            "'{id}'.disabled must be a boolean"
                                        )));
                                    }
                                },
                                "config" => params.config = Some(v.clone()),
                                other => {
                                    return Err(bad(format!(
                                        "'{id}' has unknown key '{other}' (expected attachTo, disabled or config)"
                                    )));
                                }
                            }
                        }
                        params
                    }
                    _ => {
                        return Err(bad(format!(
                            "'{id}' must be a boolean or a map of attachTo, disabled and config"
                        )));
                    }
                }
            }
            _ => {
                return Err(bad(
                    "expected an extension id or a map with a single extension id key".to_string(),
                ));
            }
        };
        match out.iter_mut().find(|p| p.id == params.id) {
            Some(existing) => {
                if params.attach_to.is_some() {
                    existing.attach_to = params.attach_to;
                }
                if params.disabled.is_some() {
                    existing.disabled = params.disabled;
                }
                if params.config.is_some() {
                    existing.config = params.config;
                }
            }
            None => out.push(params),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(yaml: &str) -> Result<Vec<ExtensionParams>, AppError> {
        let value: Value = serde_yaml::from_str(yaml).unwrap();
        read_extension_params(&Config::from_value(value))
    }

    #[test]
    fn reads_every_form() {
        let params = read(
            "app:\n  extensions:\n    - nav-item:search\n    - page:catalog: false\n    - entity-card:catalog/about:\n        attachTo: { id: page:catalog/entity, input: cards }\n        config: { title: About }\n",
        )
        .unwrap();
        assert_eq!(params.len(), 3);
        assert_eq!(params[0].id, "nav-item:search");
        assert_eq!(params[0].disabled, Some(false));
        assert_eq!(params[1].disabled, Some(true));
        assert_eq!(
            params[2].attach_to,
            Some(AttachTo::new("page:catalog/entity", "cards"))
        );
        assert_eq!(params[2].config, Some(json!({"title": "About"})));
        assert_eq!(params[2].disabled, None);
    }

    #[test]
    fn later_items_override_fields() {
        let params =
            read("app:\n  extensions:\n    - page:x: { config: { a: 1 } }\n    - page:x: false\n")
                .unwrap();
        assert_eq!(params.len(), 1);
        assert_eq!(params[0].disabled, Some(true));
        assert_eq!(params[0].config, Some(json!({"a": 1})));
    }

    #[test]
    fn rejects_malformed_items() {
        for yaml in [
            "app:\n  extensions: { page:x: false }\n",
            "app:\n  extensions:\n    - 3\n",
            "app:\n  extensions:\n    - { a: true, b: true }\n",
            "app:\n  extensions:\n    - page:x: { colour: red }\n",
            "app:\n  extensions:\n    - page:x: { attachTo: { id: app } }\n",
            "app:\n  extensions:\n    - page:x: 'yes'\n",
        ] {
            assert!(
                matches!(read(yaml), Err(AppError::InvalidExtensionsConfig { .. })),
                "{yaml}"
            );
        }
    }
}
