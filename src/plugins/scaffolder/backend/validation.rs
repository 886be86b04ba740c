//! JSON Schema validation with errors shaped like Backstage's (the `jsonschema` npm
//! package's `ValidationError`: `path`, `property`, `message`, `schema`, `instance`, `name`,
//! `argument`, `stack`).

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use serde_json::{Value, json};

/// Validates `instance` against `schema` (draft 7 unless the schema says otherwise; no
/// remote references). `Err` holds the schema's own error when it is not a valid schema.
pub(crate) fn validate(schema: &Value, instance: &Value) -> Result<Vec<Value>, String> {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(schema)
        .map_err(|e| format!("invalid JSON schema: {e}"))?;
    let mut out = Vec::new();
    for error in validator.iter_errors(instance).take(100) {
        let mut path: Vec<Value> = Vec::new();
        let mut property = String::from("instance");
        for seg in error.instance_path().iter() {
            match seg {
                LocationSegment::Property(p) => {
                    property.push('.');
                    property.push_str(&p);
                    path.push(Value::String(p.to_string()));
                }
                LocationSegment::Index(i) => {
                    property.push_str(&format!("[{i}]"));
                    path.push(json!(i));
                }
            }
        }
        let keyword = error.kind().keyword().to_string();
        let schema_ptr = error.schema_path().as_str().to_string();
        let owner_ptr = schema_ptr
            .rsplit_once('/')
            .map(|(head, _)| head.to_string())
            .unwrap_or_default();
        let sub_schema = schema.pointer(&owner_ptr).cloned().unwrap_or(Value::Null);
        let argument = sub_schema.get(&keyword).cloned().unwrap_or(Value::Null);
        let (message, argument) = match error.kind() {
            ValidationErrorKind::Required { property: p } => {
                let name = p
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| p.to_string());
                (format!("requires property \"{name}\""), Value::String(name))
            }
            ValidationErrorKind::Type { .. } => {
                let types = match &argument {
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                    Value::String(s) => s.clone(),
                    _ => String::new(),
                };
                (
                    format!("is not of a type(s) {types}"),
                    match argument {
                        Value::String(s) => json!([s]),
                        other => other,
                    },
                )
            }
            _ => (error.to_string(), argument),
        };
        out.push(json!({
            "path": path,
            "property": property,
            "message": message,
            "schema": sub_schema,
            "instance": error.instance().as_ref(),
            "name": keyword,
            "argument": argument,
            "stack": format!("{property} {message}"),
        }));
    }
    Ok(out)
}

/// `value` without the `ui:*` keys (and `backstage:*` annotations) at any depth: the schema
/// part of a parameter step.
pub(crate) fn strip_ui(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with("ui:") && !k.starts_with("backstage:"))
                .map(|(k, v)| (k.clone(), strip_ui(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_ui).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_look_like_backstage() {
        let schema = json!({"type": "object", "required": ["name"],
                            "properties": {"n": {"type": "number"}}});
        let errors = validate(&schema, &json!({"n": "x"})).unwrap();
        assert_eq!(errors.len(), 2);
        let required = errors.iter().find(|e| e["name"] == "required").unwrap();
        assert_eq!(required["property"], "instance");
        assert_eq!(required["argument"], "name");
        assert_eq!(required["stack"], "instance requires property \"name\"");
        let ty = errors.iter().find(|e| e["name"] == "type").unwrap();
        assert_eq!(ty["path"], json!(["n"]));
        assert_eq!(ty["property"], "instance.n");
        assert_eq!(ty["message"], "is not of a type(s) number");
        assert_eq!(ty["argument"], json!(["number"]));
        assert_eq!(ty["instance"], "x");
        assert_eq!(ty["schema"], json!({"type": "number"}));
    }

    #[test]
    fn remote_refs_are_refused() {
        let schema = json!({"$ref": "http://127.0.0.1:9/schema.json"});
        assert!(validate(&schema, &json!({})).is_err());
    }

    #[test]
    fn ui_keys_are_stripped() {
        let v = strip_ui(
            &json!({"properties": {"a": {"type": "string", "ui:field": "Secret"}}, "ui:order": ["a"]}),
        );
        assert_eq!(v, json!({"properties": {"a": {"type": "string"}}}));
    }
}
