//! Templates: reading them from the catalog as the caller, applying the parameter and step
//! permissions, `parameter-schema`, and the values check of task creation.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{AppState, Caller, Shared, json_response};
use crate::backend::ApiError;
use crate::plugins::catalog::common::{EntityRef, RefDefaults};
use crate::plugins::scaffolder::backend::permissions::template_item_allowed;
use crate::plugins::scaffolder::backend::validation::{strip_ui, validate};
use crate::plugins::scaffolder::common::permissions::{
    TEMPLATE_PARAMETER_READ, TEMPLATE_STEP_READ,
};
use crate::services::permissions::PolicyDecision;

/// The API version of the templates the scaffolder runs.
pub(crate) const TEMPLATE_API_VERSION: &str = "scaffolder.backstage.io/v1beta3";

/// The template entity `entity_ref` names, read as the caller (404 when the caller may not
/// see it or it does not exist; 400 when it is not a v1beta3 template).
pub(crate) async fn load_template(
    state: &AppState,
    caller: &Caller,
    entity_ref: &EntityRef,
) -> Result<Value, ApiError> {
    let entity = state
        .catalog
        .entity_by_ref(entity_ref, &caller.0)
        .await
        .map_err(|e| ApiError::internal(format!("could not read template {entity_ref}: {e}")))?
        .ok_or_else(|| ApiError::not_found(format!("Template {entity_ref} not found")))?;
    let entity = serde_json::to_value(entity).map_err(ApiError::internal)?;
    check_template(&entity)?;
    Ok(entity)
}

/// 400 unless `entity` is a `scaffolder.backstage.io/v1beta3` Template with steps.
pub(crate) fn check_template(entity: &Value) -> Result<(), ApiError> {
    let kind = entity.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = entity
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !kind.eq_ignore_ascii_case("template") || api != TEMPLATE_API_VERSION {
        return Err(ApiError::input(format!(
            "the entity is not a {TEMPLATE_API_VERSION} Template"
        )));
    }
    if entity
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(ApiError::input("the template has no metadata.name"));
    }
    match entity.pointer("/spec/steps") {
        Some(Value::Array(_)) | None => Ok(()),
        Some(_) => Err(ApiError::input("the template's spec.steps is not a list")),
    }
}

/// The template's parameter steps (`spec.parameters` as one object or a list).
pub(crate) fn parameter_steps(template: &Value) -> Vec<Value> {
    match template.pointer("/spec/parameters") {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => Vec::new(),
    }
}

/// The template with the parameter steps and steps the caller may not read removed.
pub(crate) async fn authorize_template(
    state: &AppState,
    caller: &Caller,
    mut template: Value,
) -> Result<Value, ApiError> {
    let decisions = state
        .conditional(caller, &[&TEMPLATE_PARAMETER_READ, &TEMPLATE_STEP_READ])
        .await?;
    let (params, steps) = (&decisions[0], &decisions[1]);
    if !matches!(params, PolicyDecision::Allow) {
        let kept: Vec<Value> = parameter_steps(&template)
            .into_iter()
            .filter(|p| template_item_allowed(params, p))
            .collect();
        if let Some(spec) = template.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("parameters".into(), Value::Array(kept));
        }
    }
    if !matches!(steps, PolicyDecision::Allow)
        && let Some(Value::Array(list)) = template.pointer_mut("/spec/steps")
    {
        list.retain(|s| template_item_allowed(steps, s));
    }
    Ok(template)
}

/// Validates `values` against every parameter step (without its `ui:*` keys); the errors
/// of the first step that fails, Backstage-shaped.
pub(crate) fn check_values(
    template: &Value,
    values: &Value,
) -> Result<Option<Vec<Value>>, ApiError> {
    for step in parameter_steps(template) {
        let schema = strip_ui(&step);
        let errors = validate(&schema, values).map_err(|e| {
            ApiError::input(format!(
                "the template's parameters are not a valid schema: {e}"
            ))
        })?;
        if !errors.is_empty() {
            return Ok(Some(errors));
        }
    }
    Ok(None)
}

/// Moves the values of `ui:field: Secret` properties into `secrets`.
pub(crate) fn split_secrets(
    template: &Value,
    values: &mut Map<String, Value>,
    secrets: &mut BTreeMap<String, String>,
) {
    for step in parameter_steps(template) {
        let Some(Value::Object(props)) = step.get("properties") else {
            continue;
        };
        for (name, prop) in props {
            if prop.get("ui:field").and_then(Value::as_str) == Some("Secret")
                && let Some(v) = values.remove(name)
            {
                let s = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                secrets.insert(name.clone(), s);
            }
        }
    }
}

/// Where relative urls of the template resolve: its source or managed-by location.
pub(crate) fn base_url(template: &Value) -> Option<String> {
    let annotations = template.pointer("/metadata/annotations")?;
    let location = [
        "backstage.io/source-location",
        "backstage.io/managed-by-location",
        "backstage.io/managed-by-origin-location",
    ]
    .iter()
    .find_map(|k| annotations.get(*k).and_then(Value::as_str))?;
    let (kind, target) = location.split_once(':')?;
    match kind {
        "url" => Some(target.to_string()),
        "file" => Some(if target.starts_with("file://") {
            target.to_string()
        } else {
            format!("file://{target}")
        }),
        _ => None,
    }
}

/// The task spec of a template run with `values` for `user`.
pub(crate) fn task_spec(
    template: &Value,
    entity_ref: &str,
    values: Map<String, Value>,
    user: Value,
    base_url: Option<String>,
) -> Value {
    let steps: Vec<Value> = template
        .pointer("/spec/steps")
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut s = s.clone();
                    if let Some(o) = s.as_object_mut() {
                        if !o.get("id").is_some_and(Value::is_string) {
                            o.insert("id".into(), Value::String(format!("step-{}", i + 1)));
                        }
                        if !o.get("name").is_some_and(Value::is_string) {
                            let action = o.get("action").cloned().unwrap_or(Value::Null);
                            o.insert("name".into(), action);
                        }
                    }
                    s
                })
                .collect()
        })
        .unwrap_or_default();
    let mut template_info = json!({
        "entityRef": entity_ref,
        "entity": {"metadata": template.get("metadata").cloned().unwrap_or(Value::Null)},
    });
    if let Some(b) = base_url {
        template_info["baseUrl"] = Value::String(b);
    }
    let mut spec = json!({
        "apiVersion": template.get("apiVersion").cloned().unwrap_or(Value::Null),
        "steps": steps,
        "output": template.pointer("/spec/output").cloned().unwrap_or_else(|| json!({})),
        "parameters": values,
        "user": user,
        "templateInfo": template_info,
    });
    if let Some(r) = template.pointer("/spec/EXPERIMENTAL_recovery") {
        spec["EXPERIMENTAL_recovery"] = r.clone();
    }
    spec
}

/// `{entity?, ref?}` of the caller, the entity read as the caller.
pub(crate) async fn task_user(state: &AppState, caller: &Caller) -> Value {
    let Some(user_ref) = caller.user_ref() else {
        return json!({});
    };
    let entity = match EntityRef::parse(user_ref, RefDefaults::kind("User")) {
        Ok(r) => state
            .catalog
            .entity_by_ref(&r, &caller.0)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    let mut user = json!({"ref": user_ref});
    if let Some(e) = entity.and_then(|e| serde_json::to_value(e).ok()) {
        user["entity"] = e;
    }
    user
}

/// `GET /v2/templates/{namespace}/{kind}/{name}/parameter-schema`.
pub(crate) async fn parameter_schema(
    State(state): Shared,
    caller: Caller,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require_principal()?;
    let entity_ref = EntityRef::new(kind.to_lowercase(), namespace, name);
    let template = load_template(&state, &caller, &entity_ref).await?;
    let template = authorize_template(&state, &caller, template).await?;
    let meta = template.get("metadata").cloned().unwrap_or(Value::Null);
    let title = meta
        .get("title")
        .or_else(|| meta.get("name"))
        .cloned()
        .unwrap_or(Value::Null);
    let steps: Vec<Value> = parameter_steps(&template)
        .into_iter()
        .map(|schema| {
            let mut step = json!({
                "title": schema.get("title").cloned()
                    .unwrap_or_else(|| Value::String("Please enter the following information".into())),
                "schema": schema,
            });
            if let Some(d) = step["schema"].get("description").cloned() {
                step["description"] = d;
            }
            step
        })
        .collect();
    let mut body = json!({"title": title, "steps": steps});
    if let Some(d) = meta.get("description") {
        body["description"] = d.clone();
    }
    for key in ["presentation", "EXPERIMENTAL_formDecorators"] {
        if let Some(v) = template.pointer(&format!("/spec/{key}")) {
            body[key] = v.clone();
        }
    }
    Ok(json_response(StatusCode::OK, &body))
}
