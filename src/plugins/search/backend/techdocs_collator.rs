//! The TechDocs collator: every page section of every entity's docs as a `techdocs` document.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use serde::Deserialize;

use crate::backend::{BackendModule, BoxError, ModuleRegistrar, Registration};
use crate::plugins::catalog::common::{CatalogClient, Entity, EntityFilter, QueryEntitiesRequest};
use crate::plugins::catalog::react::EntityParams;
use crate::plugins::search::common::SearchDocument;
use crate::plugins::search::node::{DocumentCollator, SEARCH_INDEX_REGISTRY, SearchError};
use crate::plugins::techdocs::react::DocsLocation;
use crate::services::config::Config;
use crate::services::core_services::{DISCOVERY, ROOT_CONFIG};

use super::catalog_collator::schedule_from_config;

/// The document type the TechDocs collator writes.
pub const TECHDOCS_DOCUMENT_TYPE: &str = "techdocs";
const TECHDOCS_REF_ANNOTATION: &str = "backstage.io/techdocs-ref";
const DEFAULT_LOCATION_TEMPLATE: &str = "/docs/:namespace/:kind/:name/:path";
const DEFAULT_PARALLELISM: usize = 10;
const BATCH_SIZE: usize = 500;
const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.annotations",
    "spec.type",
    "spec.lifecycle",
    "spec.owner",
];

/// One entry of an mkdocs `search/search_index.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchIndexEntry {
    /// The site path of the page or section (`guides/setup/#install`).
    pub location: String,
    /// The page or section title.
    #[serde(default)]
    pub title: String,
    /// The text.
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Deserialize)]
struct SearchIndex {
    #[serde(default)]
    docs: Vec<SearchIndexEntry>,
}

/// Reads the catalog entities carrying `backstage.io/techdocs-ref`, fetches each one's
/// `search/search_index.json` from the techdocs backend (which builds the site on first view
/// with `techdocs.builder: local`), and turns every entry into a `techdocs` document:
/// `title`, `text`, `location` (the reader URL of the entry), `path` (the entry's site path),
/// `kind`, `namespace`, `name` (the entity's, kind and namespace lowercased), `entityTitle`,
/// `componentType`, `lifecycle`, `owner`, and `authorization.resourceRef`. An entity whose
/// index cannot be fetched or read is logged and skipped.
///
/// ```
/// use backlot::plugins::catalog::common::{CatalogClient, Entity};
/// use backlot::plugins::search::backend::{SearchIndexEntry, TechDocsCollator};
///
/// let collator = TechDocsCollator::new(
///     CatalogClient::new("http://localhost:7007/api/catalog"),
///     "http://localhost:7007/api/techdocs",
/// );
/// let entity: Entity = serde_json::from_value(serde_json::json!({
///     "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
///     "metadata": { "name": "petstore", "namespace": "Pets", "title": "Pet Store" },
///     "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" }
/// }))?;
/// let entry = SearchIndexEntry {
///     location: "guides/setup/#install".into(),
///     title: "Install".into(),
///     text: "Run the installer".into(),
/// };
/// let doc = collator.document(&entity, &entry);
/// assert_eq!(doc.location, "/docs/pets/component/petstore/guides/setup/#install");
/// assert_eq!(doc.field_str("entityTitle"), Some("Pet Store"));
/// assert_eq!(
///     collator.index_url(&entity),
///     "http://localhost:7007/api/techdocs/static/docs/pets/component/petstore/search/search_index.json"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TechDocsCollator {
    catalog: CatalogClient,
    techdocs_base_url: String,
    http: reqwest::Client,
    location_template: String,
    parallelism: usize,
}

impl TechDocsCollator {
    /// A collator reading entities through `catalog` and indexes from the techdocs backend
    /// at `techdocs_base_url` (`…/api/techdocs`), with the defaults.
    pub fn new(catalog: CatalogClient, techdocs_base_url: impl Into<String>) -> Self {
        Self {
            catalog,
            techdocs_base_url: techdocs_base_url.into().trim_end_matches('/').to_string(),
            http: crate::services::http_client::default_http_client(),
            location_template: DEFAULT_LOCATION_TEMPLATE.to_string(),
            parallelism: DEFAULT_PARALLELISM,
        }
    }

    /// Reads `search.collators.techdocs.{locationTemplate, parallelismLimit}`.
    pub fn from_config(
        catalog: CatalogClient,
        techdocs_base_url: impl Into<String>,
        config: &Config,
    ) -> Result<Self, SearchError> {
        let mut collator = Self::new(catalog, techdocs_base_url);
        let key = |k: &str| format!("search.collators.techdocs.{k}");
        let bad = |k: &str, e: &dyn std::fmt::Display| SearchError::Config {
            key: key(k),
            message: e.to_string(),
        };
        if let Some(t) = config
            .opt_string(&key("locationTemplate"))
            .map_err(|e| bad("locationTemplate", &e))?
        {
            collator.location_template = t;
        }
        if let Some(n) = config
            .opt_u64(&key("parallelismLimit"))
            .map_err(|e| bad("parallelismLimit", &e))?
        {
            collator.parallelism = usize::try_from(n.max(1)).unwrap_or(DEFAULT_PARALLELISM);
        }
        Ok(collator)
    }

    /// Fetches search indexes through `http` (for its timeouts).
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Uses `template` for locations (`:namespace`, `:kind`, `:name`, `:path` are replaced).
    #[must_use]
    pub fn with_location_template(mut self, template: impl Into<String>) -> Self {
        self.location_template = template.into();
        self
    }

    /// The URL of an entity's `search/search_index.json` on the techdocs backend.
    pub fn index_url(&self, entity: &Entity) -> String {
        let p = EntityParams::from_entity(entity);
        format!(
            "{}/static/docs/{}/{}/{}/search/search_index.json",
            self.techdocs_base_url, p.namespace, p.kind, p.name
        )
    }

    /// The document of one index entry of `entity`'s docs.
    pub fn document(&self, entity: &Entity, entry: &SearchIndexEntry) -> SearchDocument {
        let p = EntityParams::from_entity(entity);
        let location = if self.location_template == DEFAULT_LOCATION_TEMPLATE {
            // The reader's own link building, as the docs pages use it.
            let base = format!("/docs/{}/{}/{}", p.namespace, p.kind, p.name);
            DocsLocation::new(base, "").page_href(&entry.location)
        } else {
            self.location_template
                .replace(":namespace", &p.namespace)
                .replace(":kind", &p.kind)
                .replace(":name", &p.name)
                .replace(":path", &entry.location)
        };
        let meta = &entity.metadata;
        SearchDocument::new(entry.title.clone(), entry.text.clone(), location)
            .with_field("path", entry.location.clone())
            .with_field("kind", p.kind.clone())
            .with_field("namespace", p.namespace.clone())
            .with_field("name", p.name.clone())
            .with_field("entityTitle", meta.title.clone().unwrap_or_default())
            .with_field("componentType", entity.spec_str("type").unwrap_or("other"))
            .with_field(
                "lifecycle",
                entity.spec_str("lifecycle").unwrap_or_default(),
            )
            .with_field("owner", entity.spec_str("owner").unwrap_or_default())
            .with_resource_ref(entity.ref_string())
    }

    async fn entities(&self) -> Result<Vec<Entity>, BoxError> {
        let mut request = QueryEntitiesRequest {
            filter: vec![
                EntityFilter::new()
                    .exists(format!("metadata.annotations.{TECHDOCS_REF_ANNOTATION}")),
            ],
            fields: FIELDS.iter().map(|f| f.to_string()).collect(),
            limit: Some(BATCH_SIZE),
            ..Default::default()
        };
        let mut entities = Vec::new();
        loop {
            let page = self.catalog.query_entities(&request).await?;
            let done = page.items.is_empty();
            entities.extend(page.items);
            match page.page_info.next_cursor {
                Some(cursor) if !done => request.cursor = Some(cursor),
                _ => break,
            }
        }
        Ok(entities)
    }

    /// The documents of one entity's docs; none (logged) when its index is unavailable.
    async fn entity_documents(&self, entity: Entity) -> Vec<SearchDocument> {
        match self.fetch_index(&entity).await {
            Ok(entries) => entries.iter().map(|e| self.document(&entity, e)).collect(),
            Err(error) => {
                tracing::warn!(
                    entity = %entity.ref_string(),
                    %error,
                    "skipping the docs of an entity in the techdocs collator"
                );
                Vec::new()
            }
        }
    }

    async fn fetch_index(&self, entity: &Entity) -> Result<Vec<SearchIndexEntry>, String> {
        let url = self.index_url(entity);
        let res = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("cannot fetch {url}: {e}"))?;
        let status = res.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        let index: SearchIndex = res
            .json()
            .await
            .map_err(|e| format!("cannot read {url}: {e}"))?;
        Ok(index.docs)
    }
}

#[async_trait]
impl DocumentCollator for TechDocsCollator {
    fn doc_type(&self) -> &str {
        TECHDOCS_DOCUMENT_TYPE
    }

    async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError> {
        let entities = self.entities().await?;
        let per_entity: Vec<Vec<SearchDocument>> = stream::iter(entities)
            .map(|entity| self.entity_documents(entity))
            .buffer_unordered(self.parallelism)
            .collect()
            .await;
        Ok(per_entity.into_iter().flatten().collect())
    }
}

/// The module adding the [`TechDocsCollator`] to the `search` plugin (Backstage's
/// `search-backend-module-techdocs`). It finds the catalog and the techdocs backend through
/// discovery and runs on `search.collators.techdocs.schedule`.
///
/// ```
/// use backlot::backend::Feature;
/// use backlot::plugins::search::backend::{SearchPlugin, SearchTechdocsCollatorModule};
///
/// let features = [Feature::plugin(SearchPlugin::new()), Feature::module(SearchTechdocsCollatorModule)];
/// # let _ = features;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchTechdocsCollatorModule;

impl BackendModule for SearchTechdocsCollatorModule {
    fn plugin_id(&self) -> &str {
        "search"
    }

    fn module_id(&self) -> &str {
        "techdocs-collator"
    }

    fn register(&self, reg: ModuleRegistrar) -> Registration {
        reg.init(
            (&ROOT_CONFIG, &DISCOVERY, &SEARCH_INDEX_REGISTRY),
            |(config, discovery, registry)| async move {
                let http = crate::services::http_client::http_client(&config)?;
                let catalog =
                    CatalogClient::with_client(discovery.base_url("catalog"), http.clone());
                let collator = TechDocsCollator::from_config(
                    catalog,
                    discovery.base_url("techdocs"),
                    &config,
                )?
                .http_client(http);
                let schedule = schedule_from_config(&config, "techdocs")?;
                registry.get()?.add_collator(schedule, Arc::new(collator));
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity() -> Entity {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": { "name": "Shop", "namespace": "Retail" },
            "spec": { "lifecycle": "experimental", "owner": "group:team-a" }
        }))
        .unwrap()
    }

    fn entry(location: &str) -> SearchIndexEntry {
        SearchIndexEntry {
            location: location.into(),
            title: "T".into(),
            text: "x".into(),
        }
    }

    #[test]
    fn document_fields_and_default_location() {
        let c = TechDocsCollator::new(CatalogClient::new("http://c"), "http://t/");
        let doc = c.document(&entity(), &entry(""));
        assert_eq!(doc.location, "/docs/retail/component/Shop/");
        assert_eq!(doc.field_str("name"), Some("Shop"));
        assert_eq!(doc.field_str("namespace"), Some("retail"));
        assert_eq!(doc.field_str("componentType"), Some("other"));
        assert_eq!(doc.field_str("entityTitle"), Some(""));
        assert_eq!(doc.field_str("owner"), Some("group:team-a"));
        assert_eq!(doc.field_str("path"), Some(""));
        assert_eq!(
            c.index_url(&entity()),
            "http://t/static/docs/retail/component/Shop/search/search_index.json"
        );
    }

    #[test]
    fn custom_template() {
        let c = TechDocsCollator::new(CatalogClient::new("http://c"), "http://t")
            .with_location_template("/x/:kind/:name?p=:path");
        assert_eq!(
            c.document(&entity(), &entry("a/#b")).location,
            "/x/component/Shop?p=a/#b"
        );
    }

    #[test]
    fn index_parses_mkdocs_format() {
        let index: SearchIndex = serde_json::from_str(
            r#"{"config":{"lang":["en"]},"docs":[{"location":"a/","title":"A","text":"t"}]}"#,
        )
        .unwrap();
        assert_eq!(index.docs.len(), 1);
        assert_eq!(index.docs[0].location, "a/");
    }
}
