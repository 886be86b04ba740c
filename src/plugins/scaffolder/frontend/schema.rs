//! The form model: the parameter schema's steps read into fields the pages render and the
//! posts are checked against.

use serde_json::{Map, Value};

/// The largest number of fields a template's form may have (all steps, nested objects
/// included); a schema with more is refused.
pub(crate) const MAX_FIELDS: usize = 200;
/// How deep objects may nest in a form.
pub(crate) const MAX_DEPTH: usize = 4;

/// What a field asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Text,
    Number {
        integer: bool,
    },
    Boolean,
    /// One of fixed values (`enum`), with display names (`enumNames`).
    Choice(Vec<(Value, String)>),
    /// Several of fixed values (an array whose `items` has an `enum`).
    MultiChoice(Vec<(Value, String)>),
    /// An entity from the catalog (`EntityPicker`, `OwnerPicker`).
    Entity,
    /// `host?owner=o&repo=r` (`RepoUrlPicker`).
    RepoUrl,
    /// A password input whose value goes to `secrets` (`Secret`).
    Secret,
    /// A group of fields (`type: object`).
    Object(Vec<Field>),
}

/// One form field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    /// The path of the value (`name`, `repo.settings.visibility`).
    pub(crate) path: Vec<String>,
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) help: Option<String>,
    pub(crate) kind: Kind,
    pub(crate) required: bool,
    pub(crate) default: Option<Value>,
    pub(crate) autofocus: bool,
    pub(crate) widget: Option<String>,
    pub(crate) ui_field: Option<String>,
    pub(crate) options: Map<String, Value>,
    pub(crate) show_in_review: bool,
    pub(crate) pattern: Option<String>,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) minimum: Option<f64>,
    pub(crate) maximum: Option<f64>,
}

impl Field {
    /// The form-field name of the value: the path joined with dots.
    pub(crate) fn name(&self) -> String {
        self.path.join(".")
    }

    /// Every leaf field of this one (itself unless an object).
    pub(crate) fn leaves(&self) -> Vec<&Field> {
        match &self.kind {
            Kind::Object(children) => children.iter().flat_map(Field::leaves).collect(),
            _ => vec![self],
        }
    }
}

/// One page of the form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) fields: Vec<Field>,
}

impl Step {
    /// Every leaf field of the step.
    pub(crate) fn leaves(&self) -> Vec<&Field> {
        self.fields.iter().flat_map(Field::leaves).collect()
    }
}

/// Why a schema cannot be a form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SchemaError {
    #[error("the form has more than {MAX_FIELDS} fields")]
    TooManyFields,
    #[error("the form nests objects deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn choices(schema: &Value) -> Option<Vec<(Value, String)>> {
    let values = schema.get("enum")?.as_array()?;
    let names = schema.get("enumNames").and_then(Value::as_array);
    Some(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let label = names
                    .and_then(|n| n.get(i))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                (v.clone(), label)
            })
            .collect(),
    )
}

/// The properties of an object schema in display order: `ui:order` first (`*` stands for
/// the rest), the rest in the order of the JSON map (sorted by name: this crate's JSON maps
/// do not keep the order of the YAML, so templates that care set `ui:order`).
fn ordered(schema: &Value) -> Vec<(String, Value)> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let order: Vec<String> = schema
        .get("ui:order")
        .and_then(Value::as_array)
        .map(|o| {
            o.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut head = Vec::new();
    let mut tail = Vec::new();
    let star = order.iter().position(|k| k == "*");
    for key in &order {
        if key != "*"
            && let Some(v) = props.get(key)
        {
            head.push((key.clone(), v.clone()));
        }
    }
    let rest: Vec<(String, Value)> = props
        .iter()
        .filter(|(k, _)| !order.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match star {
        Some(i) => {
            let after: Vec<(String, Value)> = head.split_off(i.min(head.len()));
            tail.extend(after);
            let mut out = head;
            out.extend(rest);
            out.extend(tail);
            out
        }
        None => {
            head.extend(rest);
            head
        }
    }
}

fn read_fields(
    schema: &Value,
    prefix: &[String],
    depth: usize,
    count: &mut usize,
) -> Result<Vec<Field>, SchemaError> {
    if depth > MAX_DEPTH {
        return Err(SchemaError::TooDeep);
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (key, prop) in ordered(schema) {
        *count += 1;
        if *count > MAX_FIELDS {
            return Err(SchemaError::TooManyFields);
        }
        let mut path = prefix.to_vec();
        path.push(key.clone());
        let ui_field = str_of(&prop, "ui:field");
        let ty = str_of(&prop, "type").unwrap_or_else(|| "string".to_string());
        let kind = match (ui_field.as_deref(), ty.as_str()) {
            (Some("EntityPicker" | "OwnerPicker" | "OwnedEntityPicker"), _) => Kind::Entity,
            (Some("RepoUrlPicker"), _) => Kind::RepoUrl,
            (Some("Secret"), _) => Kind::Secret,
            (_, "object") => Kind::Object(read_fields(&prop, &path, depth + 1, count)?),
            (_, "boolean") => Kind::Boolean,
            (_, "array") => match prop.get("items").and_then(choices) {
                Some(c) => Kind::MultiChoice(c),
                None => Kind::Text,
            },
            _ => match choices(&prop) {
                Some(c) => Kind::Choice(c),
                None if ty == "number" => Kind::Number { integer: false },
                None if ty == "integer" => Kind::Number { integer: true },
                None => Kind::Text,
            },
        };
        let options = prop
            .get("ui:options")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let pattern = str_of(&prop, "pattern").or_else(|| {
            (ui_field.as_deref() == Some("EntityNamePicker"))
                .then(|| ENTITY_NAME_PATTERN.to_string())
        });
        out.push(Field {
            title: str_of(&prop, "title").unwrap_or_else(|| key.clone()),
            description: str_of(&prop, "description"),
            help: str_of(&prop, "ui:help"),
            required: required.contains(&key.as_str()),
            default: prop.get("default").cloned(),
            autofocus: prop.get("ui:autofocus").and_then(Value::as_bool) == Some(true),
            widget: str_of(&prop, "ui:widget"),
            show_in_review: prop
                .pointer("/ui:backstage/review/show")
                .and_then(Value::as_bool)
                != Some(false),
            pattern,
            min_length: prop.get("minLength").and_then(Value::as_u64),
            max_length: prop
                .get("maxLength")
                .and_then(Value::as_u64)
                .or_else(|| (ui_field.as_deref() == Some("EntityNamePicker")).then_some(63)),
            minimum: prop.get("minimum").and_then(Value::as_f64),
            maximum: prop.get("maximum").and_then(Value::as_f64),
            ui_field,
            options,
            kind,
            path,
        });
    }
    Ok(out)
}

/// What an entity name must look like (`EntityNamePicker`): letters and digits, with `-`,
/// `_` or `.` between them, at most 63 characters.
pub(crate) const ENTITY_NAME_PATTERN: &str = "^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$";

/// The steps of a parameter schema as form pages.
pub(crate) fn read_steps(
    steps: &[crate::plugins::scaffolder::react::ParameterStep],
) -> Result<Vec<Step>, SchemaError> {
    let mut count = 0;
    steps
        .iter()
        .map(|s| {
            Ok(Step {
                title: s.title.clone(),
                description: s.description.clone(),
                fields: read_fields(&s.schema, &[], 0, &mut count)?,
            })
        })
        .collect()
}

/// The value at `path` in nested `values`.
pub(crate) fn get_path<'a>(values: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut v = values.get(first)?;
    for p in rest {
        v = v.get(p)?;
    }
    Some(v)
}

/// Sets (or with `None` removes) the value at `path` in nested `values`.
pub(crate) fn set_path(values: &mut Map<String, Value>, path: &[String], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut map = values;
    for p in parents {
        let entry = map
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return;
        };
        map = next;
    }
    match value {
        Some(v) => {
            map.insert(last.clone(), v);
        }
        None => {
            map.remove(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::scaffolder::react::ParameterStep;
    use serde_json::json;

    #[test]
    fn reads_types_widgets_order_and_extensions() {
        let step = ParameterStep::new(
            "Basics",
            json!({
                "required": ["name"],
                "ui:order": ["owner", "*", "name"],
                "properties": {
                    "name": { "type": "string", "ui:field": "EntityNamePicker", "ui:autofocus": true },
                    "size": { "type": "integer", "minimum": 1, "maximum": 9 },
                    "lang": { "type": "string", "enum": ["rs", "go"], "enumNames": ["Rust", "Go"] },
                    "tags": { "type": "array", "items": { "type": "string", "enum": ["a", "b"] } },
                    "owner": { "type": "string", "ui:field": "OwnerPicker" },
                    "token": { "type": "string", "ui:field": "Secret", "ui:backstage": { "review": { "show": false } } },
                    "repo": { "type": "object", "properties": { "private": { "type": "boolean" } } }
                }
            }),
        );
        let steps = read_steps(&[step]).unwrap();
        let names: Vec<String> = steps[0].fields.iter().map(Field::name).collect();
        // The rest in map order (sorted by name): templates that care set `ui:order`.
        assert_eq!(
            names,
            ["owner", "lang", "repo", "size", "tags", "token", "name"]
        );
        let f = |n: &str| steps[0].fields.iter().find(|f| f.name() == n).unwrap();
        assert!(f("name").required && f("name").autofocus);
        assert_eq!(f("name").pattern.as_deref(), Some(ENTITY_NAME_PATTERN));
        assert_eq!(f("size").kind, Kind::Number { integer: true });
        assert_eq!(
            f("lang").kind,
            Kind::Choice(vec![
                (json!("rs"), "Rust".into()),
                (json!("go"), "Go".into())
            ])
        );
        assert!(matches!(f("tags").kind, Kind::MultiChoice(_)));
        assert_eq!(f("owner").kind, Kind::Entity);
        assert!(!f("token").show_in_review);
        assert_eq!(
            steps[0].leaves().last().map(|l| l.name()),
            Some("name".into())
        );
        assert!(steps[0].leaves().iter().any(|l| l.name() == "repo.private"));
    }

    #[test]
    fn refuses_huge_and_deep_schemas() {
        let mut props = Map::new();
        for i in 0..=MAX_FIELDS {
            props.insert(format!("f{i}"), json!({ "type": "string" }));
        }
        let big = ParameterStep::new("x", json!({ "properties": props }));
        assert_eq!(read_steps(&[big]), Err(SchemaError::TooManyFields));
        let mut deep = json!({ "type": "string" });
        for _ in 0..=MAX_DEPTH + 1 {
            deep = json!({ "type": "object", "properties": { "x": deep } });
        }
        let deep = ParameterStep::new("x", json!({ "properties": { "x": deep } }));
        assert_eq!(read_steps(&[deep]), Err(SchemaError::TooDeep));
    }

    #[test]
    fn paths_nest() {
        let mut v = Map::new();
        set_path(&mut v, &["a".into(), "b".into()], Some(json!(1)));
        assert_eq!(get_path(&v, &["a".into(), "b".into()]), Some(&json!(1)));
        set_path(&mut v, &["a".into(), "b".into()], None);
        assert_eq!(Value::Object(v), json!({ "a": {} }));
    }
}
