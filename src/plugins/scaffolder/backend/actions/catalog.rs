//! Built-in `catalog:*` actions: `catalog:register`, `catalog:write` and `catalog:fetch`. The
//! catalog is called as the task's user (`ctx.credentials`).
//!
//! ```yaml
//! scaffolder:
//!   actions:
//!     catalogFetch:
//!       maxEntityRefs: 100   # refs one catalog:fetch may name (default 100)
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::BuiltinActionDeps;
use crate::plugins::catalog::common::{CatalogClientError, Entity, EntityRef, RefDefaults};
use crate::plugins::catalog::node::CatalogApi;
use crate::plugins::scaffolder::common::ActionExample;
use crate::plugins::scaffolder::node::{
    ActionContext, ActionError, TemplateAction, resolve_safe_child_path,
};

/// How many refs one `catalog:fetch` may name unless `scaffolder.actions.catalogFetch.maxEntityRefs`
/// says.
const DEFAULT_MAX_REFS: u64 = 100;
/// The largest `catalog:write` entity, serialised.
const MAX_ENTITY_BYTES: usize = 1024 * 1024;
/// The annotation naming the template an entity was created from.
const SOURCE_TEMPLATE_ANNOTATION: &str = "backstage.io/source-template";

/// The `catalog:*` actions.
pub(super) fn actions(deps: &BuiltinActionDeps) -> Vec<Arc<dyn TemplateAction>> {
    // A bad value fails the action when it runs rather than lifting the limit.
    let max_refs = deps
        .config
        .opt_u64("scaffolder.actions.catalogFetch.maxEntityRefs")
        .map(|v| usize::try_from(v.unwrap_or(DEFAULT_MAX_REFS)).unwrap_or(usize::MAX))
        .map_err(|e| e.to_string());
    vec![
        Arc::new(CatalogRegister {
            catalog: Arc::clone(&deps.catalog),
        }),
        Arc::new(CatalogWrite),
        Arc::new(CatalogFetch {
            catalog: Arc::clone(&deps.catalog),
            max_refs,
        }),
    ]
}

fn example(description: &str, yaml: &str) -> ActionExample {
    ActionExample {
        description: description.to_string(),
        example: yaml.to_string(),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(ctx: &ActionContext) -> Result<T, ActionError> {
    serde_json::from_value(ctx.input.clone()).map_err(|e| ActionError::InvalidInput(e.to_string()))
}

/// A catalog error as an action error, with its causes.
fn catalog_error(e: CatalogClientError) -> ActionError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    ActionError::Failed(message)
}

/// `catalog:register`: registers a `url` location in the catalog.
#[derive(Debug)]
struct CatalogRegister {
    catalog: Arc<dyn CatalogApi>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterInput {
    #[serde(default)]
    catalog_info_url: Option<String>,
    #[serde(default)]
    repo_contents_url: Option<String>,
    #[serde(default)]
    catalog_info_path: Option<String>,
    #[serde(default)]
    optional: Option<bool>,
}

/// `path` of the repository whose contents are at `base`: a path starting with `/` is taken
/// from the repository root, not the host's.
fn resolve_in_repo(base: &str, path: &str) -> Result<String, ActionError> {
    let parsed = url::Url::parse(base)
        .map_err(|e| ActionError::InvalidInput(format!("repoContentsUrl is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ActionError::InvalidInput(
            "repoContentsUrl must be an http(s) URL".to_string(),
        ));
    }
    let mut root = parsed;
    root.set_query(None);
    root.set_fragment(None);
    if !root.path().ends_with('/') {
        let p = format!("{}/", root.path());
        root.set_path(&p);
    }
    let joined = root
        .join(path.trim_start_matches('/'))
        .map_err(|e| ActionError::InvalidInput(format!("catalogInfoPath: {e}")))?;
    if !joined.as_str().starts_with(root.as_str()) {
        return Err(ActionError::InvalidInput(format!(
            "catalogInfoPath '{path}' leaves the repository"
        )));
    }
    Ok(joined.to_string())
}

#[async_trait]
impl TemplateAction for CatalogRegister {
    fn id(&self) -> &str {
        "catalog:register"
    }

    fn description(&self) -> Option<&str> {
        Some(
            "Registers entities from a catalog descriptor file in the workspace into the software catalog.",
        )
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Register with the catalog",
                "steps:\n  - action: catalog:register\n    id: register-with-catalog\n    name: Register with the catalog\n    input:\n      catalogInfoUrl: http://github.com/backstage/backstage/blob/master/catalog-info.yaml\n",
            ),
            example(
                "Register the repository just published",
                "steps:\n  - action: catalog:register\n    id: register\n    name: Register\n    input:\n      repoContentsUrl: ${{ steps['publish'].output.repoContentsUrl }}\n      catalogInfoPath: /catalog-info.yaml\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        let optional = json!({
            "title": "Optional",
            "description": "Permit the registered location to optionally exist. Default: false",
            "type": "boolean"
        });
        Some(json!({
            "oneOf": [
                {
                    "type": "object",
                    "required": ["catalogInfoUrl"],
                    "properties": {
                        "catalogInfoUrl": {
                            "title": "Catalog Info URL",
                            "description": "An absolute URL pointing to the catalog info file location",
                            "type": "string"
                        },
                        "optional": optional
                    }
                },
                {
                    "type": "object",
                    "required": ["repoContentsUrl"],
                    "properties": {
                        "repoContentsUrl": {
                            "title": "Repository Contents URL",
                            "description": "An absolute URL pointing to the root of a repository directory tree",
                            "type": "string"
                        },
                        "catalogInfoPath": {
                            "title": "Fetch URL",
                            "description": "A relative path from the repo root pointing to the catalog info file, defaults to /catalog-info.yaml",
                            "type": "string"
                        },
                        "optional": optional
                    }
                }
            ]
        }))
    }

    fn output_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "properties": {
                "entityRef": { "title": "The entity reference of the registered entity", "type": "string" },
                "catalogInfoUrl": { "title": "The URL of the registered catalog file", "type": "string" }
            }
        }))
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let input: RegisterInput = parse(ctx)?;
        let optional = input.optional.unwrap_or(false);
        let url = match (&input.catalog_info_url, &input.repo_contents_url) {
            (Some(u), None) => u.clone(),
            (None, Some(base)) => resolve_in_repo(
                base,
                input
                    .catalog_info_path
                    .as_deref()
                    .unwrap_or("/catalog-info.yaml"),
            )?,
            _ => {
                return Err(ActionError::InvalidInput(
                    "give either catalogInfoUrl or repoContentsUrl".to_string(),
                ));
            }
        };
        ctx.logger
            .info(&format!("Registering {url} in the catalog"));

        // Registering twice is a conflict; an optional registration accepts that (and a
        // location that does not exist yet).
        if let Err(e) = self
            .catalog
            .add_location("url", &url, false, &ctx.credentials)
            .await
        {
            if !optional {
                return Err(catalog_error(e));
            }
            ctx.logger
                .warn(&format!("Registering {url} failed, it is optional: {e}"));
        }
        ctx.check_cancelled()?;

        // A dry run tells which entities the location holds, registered before or not.
        match self
            .catalog
            .add_location("url", &url, true, &ctx.credentials)
            .await
        {
            Ok(result) => {
                if let Some(entity) = pick_entity(&result.entities) {
                    ctx.output("entityRef", entity.ref_string());
                }
            }
            Err(e) if optional => ctx
                .logger
                .warn(&format!("Reading {url} failed, it is optional: {e}")),
            Err(e) => return Err(catalog_error(e)),
        }
        ctx.output("catalogInfoUrl", url);
        Ok(())
    }
}

/// The entity to name for a location: a Component first, then anything not generated.
fn pick_entity(entities: &[Entity]) -> Option<&Entity> {
    let generated = |e: &&Entity| e.metadata.name.starts_with("generated-");
    entities
        .iter()
        .find(|e| !generated(e) && e.kind.eq_ignore_ascii_case("Component"))
        .or_else(|| entities.iter().find(|e| !generated(e)))
        .or_else(|| entities.first())
}

/// `catalog:write`: writes an entity as a catalog descriptor file into the workspace.
#[derive(Debug)]
struct CatalogWrite;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WriteInput {
    #[serde(default)]
    file_path: Option<String>,
    entity: Map<String, Value>,
}

#[async_trait]
impl TemplateAction for CatalogWrite {
    fn id(&self) -> &str {
        "catalog:write"
    }

    fn description(&self) -> Option<&str> {
        Some("Writes the catalog-info.yaml for your template")
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![example(
            "Write a catalog yaml file",
            "steps:\n  - action: catalog:write\n    id: create-catalog-info-file\n    name: Create catalog file\n    input:\n      entity:\n        apiVersion: backstage.io/v1alpha1\n        kind: Component\n        metadata:\n          name: test\n          annotations: {}\n        spec:\n          type: service\n          lifecycle: production\n          owner: default/owner\n",
        )]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "required": ["entity"],
            "properties": {
                "filePath": {
                    "title": "Catalog file path",
                    "description": "Defaults to catalog-info.yaml",
                    "type": "string"
                },
                "entity": {
                    "title": "Entity info to write catalog-info.yaml",
                    "description": "You can provide the same values used in the Entity schema.",
                    "type": "object"
                }
            }
        }))
    }

    fn supports_dry_run(&self) -> bool {
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let input: WriteInput = parse(ctx)?;
        let file_path = input.file_path.as_deref().unwrap_or("catalog-info.yaml");
        let path = resolve_safe_child_path(&ctx.workspace_path, file_path)?;
        let mut entity = input.entity;
        if let Some(template_ref) = ctx.template_info.as_ref().map(|t| t.entity_ref.clone()) {
            let metadata = entity
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(metadata) = metadata else {
                return Err(ActionError::InvalidInput(
                    "entity.metadata must be an object".to_string(),
                ));
            };
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(annotations) = annotations else {
                return Err(ActionError::InvalidInput(
                    "entity.metadata.annotations must be an object".to_string(),
                ));
            };
            annotations.insert(
                SOURCE_TEMPLATE_ANNOTATION.to_string(),
                Value::String(template_ref),
            );
        }
        let yaml = serde_yaml::to_string(&entity)
            .map_err(|e| ActionError::InvalidInput(format!("the entity is not writable: {e}")))?;
        if yaml.len() > MAX_ENTITY_BYTES {
            return Err(ActionError::InvalidInput(format!(
                "the entity is larger than {MAX_ENTITY_BYTES} bytes"
            )));
        }
        ctx.logger.info(&format!("Writing {file_path}"));
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::write(&path, yaml).await?;
        Ok(())
    }
}

/// `catalog:fetch`: reads entities from the catalog by reference.
#[derive(Debug)]
struct CatalogFetch {
    catalog: Arc<dyn CatalogApi>,
    max_refs: Result<usize, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FetchInput {
    #[serde(default)]
    entity_ref: Option<String>,
    #[serde(default)]
    entity_refs: Option<Vec<String>>,
    #[serde(default)]
    optional: Option<bool>,
    #[serde(default)]
    default_kind: Option<String>,
    #[serde(default)]
    default_namespace: Option<String>,
}

impl CatalogFetch {
    async fn fetch(
        &self,
        ctx: &ActionContext,
        input: &FetchInput,
        raw: &str,
    ) -> Result<Option<Entity>, ActionError> {
        let defaults = RefDefaults {
            default_kind: input.default_kind.as_deref(),
            default_namespace: input.default_namespace.as_deref(),
        };
        let entity_ref = EntityRef::parse(raw, defaults)
            .map_err(|e| ActionError::InvalidInput(format!("entity ref '{raw}': {e}")))?;
        let entity = self
            .catalog
            .entity_by_ref(&entity_ref, &ctx.credentials)
            .await
            .map_err(catalog_error)?;
        if entity.is_none() && !input.optional.unwrap_or(false) {
            return Err(ActionError::NotFound(format!("Entity {raw} not found")));
        }
        Ok(entity)
    }
}

#[async_trait]
impl TemplateAction for CatalogFetch {
    fn id(&self) -> &str {
        "catalog:fetch"
    }

    fn description(&self) -> Option<&str> {
        Some("Returns entity or entities from the catalog by entity reference(s)")
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Fetch an entity from the catalog",
                "steps:\n  - action: catalog:fetch\n    id: fetch\n    name: Fetch catalog entity\n    input:\n      entityRef: component:default/name\n",
            ),
            example(
                "Fetch several entities, any of them missing",
                "steps:\n  - action: catalog:fetch\n    id: fetch-multiple\n    name: Fetch catalog entities\n    input:\n      entityRefs:\n        - component:default/name\n        - team-a\n      defaultKind: group\n      optional: true\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "properties": {
                "entityRef": { "type": "string", "description": "Entity reference of the entity to get" },
                "entityRefs": {
                    "type": "array",
                    "items": { "type": "string" },
                    "description": "Entity references of the entities to get"
                },
                "optional": {
                    "type": "boolean",
                    "description": "Allow the entity or entities to optionally exist. Default: false"
                },
                "defaultKind": { "type": "string", "description": "The default kind" },
                "defaultNamespace": { "type": "string", "description": "The default namespace" }
            }
        }))
    }

    fn output_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "properties": {
                "entity": {
                    "description": "Object containing same values used in the Entity schema. Only when used with `entityRef` parameter."
                },
                "entities": {
                    "type": "array",
                    "description": "Array containing objects with same values used in the Entity schema. Only when used with `entityRefs` parameter."
                }
            }
        }))
    }

    fn supports_dry_run(&self) -> bool {
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let input: FetchInput = parse(ctx)?;
        if input.entity_ref.is_none() && input.entity_refs.is_none() {
            if input.optional.unwrap_or(false) {
                return Ok(());
            }
            return Err(ActionError::InvalidInput(
                "Missing entity reference or references".to_string(),
            ));
        }
        if let Some(raw) = &input.entity_ref {
            let entity = self.fetch(ctx, &input, raw).await?;
            let value = serde_json::to_value(entity)
                .map_err(|e| ActionError::Failed(format!("entity not serialisable: {e}")))?;
            ctx.output("entity", value);
        }
        if let Some(refs) = &input.entity_refs {
            let max_refs = self.max_refs.clone().map_err(ActionError::Failed)?;
            if refs.len() > max_refs {
                return Err(ActionError::InvalidInput(format!(
                    "at most {max_refs} entity refs may be fetched at once (scaffolder.actions.catalogFetch.maxEntityRefs)"
                )));
            }
            let mut out = Vec::with_capacity(refs.len());
            for raw in refs {
                ctx.check_cancelled()?;
                let entity = self.fetch(ctx, &input, raw).await?;
                out.push(
                    serde_json::to_value(entity).map_err(|e| {
                        ActionError::Failed(format!("entity not serialisable: {e}"))
                    })?,
                );
            }
            ctx.output("entities", out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_info_paths_resolve_inside_the_repository() -> Result<(), ActionError> {
        let base = "http://git.example/acme/app/raw/branch/main";
        assert_eq!(
            resolve_in_repo(base, "/catalog-info.yaml")?,
            "http://git.example/acme/app/raw/branch/main/catalog-info.yaml"
        );
        assert_eq!(
            resolve_in_repo(&format!("{base}/"), "sub/c.yaml")?,
            "http://git.example/acme/app/raw/branch/main/sub/c.yaml"
        );
        assert!(resolve_in_repo(base, "../../other/x.yaml").is_err());
        assert!(resolve_in_repo("file:///etc", "passwd").is_err());
        Ok(())
    }
}
