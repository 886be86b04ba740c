//! The spec of a `Template` (the scaffolder's kind) and its steps.

use serde_json::{Map, Value};

use super::super::entity::Entity;
use super::super::error::{SpecError, ValidationError};
use super::super::kinds::KnownKind;
use super::super::spec_reader::{ObjReader, json_type};
use super::read_view;

/// One step of a Template.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TemplateStep {
    /// `id`: how later steps address this step's output.
    pub id: Option<String>,
    /// `name`: shown in the task log.
    pub name: Option<String>,
    /// `action`: the action id, e.g. `fetch:template` (required).
    pub action: String,
    /// `input`: the templated action input.
    pub input: Option<Map<String, Value>>,
    /// `if`: a templated condition (string or boolean).
    pub condition: Option<Value>,
    /// `each`: a templated collection to run the step for.
    pub each: Option<Value>,
}

/// The spec of a `Template` (`scaffolder.backstage.io/v1beta3`).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TemplateSpec {
    /// `type`: what the template produces.
    pub template_type: String,
    /// `owner`: reference to a Group (default kind) or User.
    pub owner: Option<String>,
    /// `lifecycle`.
    pub lifecycle: Option<String>,
    /// `parameters`: JSON-schema forms, one per wizard page (a single object becomes one page).
    pub parameters: Vec<Map<String, Value>>,
    /// `steps` (required).
    pub steps: Vec<TemplateStep>,
    /// `output`: links, text and templated values shown after a run.
    pub output: Option<Map<String, Value>>,
}

impl TemplateSpec {
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Self {
        let template_type = r.req_string("type");
        let owner = r.opt_string("owner");
        let lifecycle = r.opt_string("lifecycle");
        let parameters = match r.raw("parameters") {
            None => Vec::new(),
            Some(Value::Object(m)) if r.collects() => vec![m.clone()],
            Some(Value::Object(_)) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(m) => {
                            if r.collects() {
                                out.push(m.clone());
                            }
                        }
                        other => r.push(ValidationError::WrongType {
                            field: format!("spec.parameters.{i}"),
                            expected: "an object",
                            found: json_type(other),
                        }),
                    }
                }
                out
            }
            Some(other) => {
                r.push(ValidationError::WrongType {
                    field: "spec.parameters".to_owned(),
                    expected: "an object or an array of objects",
                    found: json_type(other),
                });
                Vec::new()
            }
        };
        let steps = match r.raw("steps") {
            None | Some(Value::Null) => {
                r.push(ValidationError::Missing {
                    field: "spec.steps".to_owned(),
                });
                Vec::new()
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| Self::read_step(r, i, item))
                .collect(),
            Some(other) => {
                r.push(ValidationError::WrongType {
                    field: "spec.steps".to_owned(),
                    expected: "an array",
                    found: json_type(other),
                });
                Vec::new()
            }
        };
        let output = r.opt_object("output").filter(|_| r.collects()).cloned();
        Self {
            template_type,
            owner,
            lifecycle,
            parameters,
            steps,
            output,
        }
    }

    pub(super) fn read_step<'a>(
        r: &mut ObjReader<'a, '_>,
        i: usize,
        item: &'a Value,
    ) -> Option<TemplateStep> {
        let Value::Object(map) = item else {
            r.push(ValidationError::WrongType {
                field: format!("spec.steps.{i}"),
                expected: "an object",
                found: json_type(item),
            });
            return None;
        };
        let key = format!("steps.{i}");
        let mut s = r.nested(&key, map);
        let action = match s.raw("action") {
            None | Some(Value::Null) => {
                s.push(ValidationError::Missing {
                    field: s.path("action"),
                });
                String::new()
            }
            Some(_) => {
                let a = s.opt_any_str("action").unwrap_or("");
                s.own(a)
            }
        };
        let condition = match s.raw("if") {
            None => None,
            Some(v @ (Value::String(_) | Value::Bool(_))) => Some(v.clone()),
            Some(other) => {
                s.push(ValidationError::WrongType {
                    field: s.path("if"),
                    expected: "a string or a boolean",
                    found: json_type(other),
                });
                None
            }
        };
        Some(TemplateStep {
            id: s.opt_any_str("id").map(|v| s.own(v)),
            name: s.opt_any_str("name").map(|v| s.own(v)),
            action,
            input: s.opt_object("input").cloned(),
            condition,
            each: s.raw("each").cloned(),
        })
    }
}
from_entity!(TemplateSpec, KnownKind::Template, "Template");
