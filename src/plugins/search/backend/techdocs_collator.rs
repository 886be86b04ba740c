//! The TechDocs collator: every page section of every entity's docs as a `techdocs` document.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use serde::Deserialize;

use super::catalog_collator::default_schedule;
use super::config::CollatorConfig;
use crate::backend::{BackendModule, BoxError, ModuleRegistrar, Registration};
use crate::plugins::catalog::common::{Entity, EntityFilter, QueryEntitiesRequest};
use crate::plugins::catalog::node::{CATALOG, CatalogApi};
use crate::plugins::search::common::SearchDocument;
use crate::plugins::search::node::{DocumentCollator, SEARCH_INDEX_REGISTRY, SearchError};
use crate::plugins::techdocs::common::{TECHDOCS_REF_ANNOTATION, docs_url_path};
use crate::services::auth::{AUTH, AuthService, Credentials};
use crate::services::config::Config;
use crate::services::core_services::{DISCOVERY, LOGGER, ROOT_CONFIG};
use crate::services::logger::{LoggerService, LoggerServiceExt};

/// The document type the TechDocs collator writes.
pub const TECHDOCS_DOCUMENT_TYPE: &str = "techdocs";
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
/// use std::sync::Arc;
/// use backlot::plugins::catalog::common::{CatalogClient, Entity};
/// use backlot::plugins::search::backend::{SearchIndexEntry, TechDocsCollator};
///
/// let collator = TechDocsCollator::new(
///     Arc::new(CatalogClient::new("http://localhost:7007/api/catalog")),
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
    catalog: Arc<dyn CatalogApi>,
    auth: Option<Arc<dyn AuthService>>,
    techdocs_base_url: String,
    http: reqwest::Client,
    logger: Option<Arc<dyn LoggerService>>,
    location_template: String,
    parallelism: usize,
}

impl TechDocsCollator {
    /// A collator reading entities through `catalog` and indexes from the techdocs backend
    /// at `techdocs_base_url` (`…/api/techdocs`), with the defaults.
    pub fn new(catalog: Arc<dyn CatalogApi>, techdocs_base_url: impl Into<String>) -> Self {
        Self {
            catalog,
            auth: None,
            techdocs_base_url: techdocs_base_url.into().trim_end_matches('/').to_string(),
            http: crate::services::http_client::default_http_client(),
            logger: None,
            location_template: DEFAULT_LOCATION_TEMPLATE.to_string(),
            parallelism: DEFAULT_PARALLELISM,
        }
    }

    /// Authenticates as the plugin `auth` belongs to: reads the catalog with its own service
    /// credentials and sends a plugin token to the techdocs backend.
    #[must_use]
    pub fn with_auth(mut self, auth: Arc<dyn AuthService>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Reads `search.collators.techdocs.{locationTemplate, parallelismLimit}`.
    pub fn from_config(
        catalog: Arc<dyn CatalogApi>,
        techdocs_base_url: impl Into<String>,
        config: &Config,
    ) -> Result<Self, SearchError> {
        let config = CollatorConfig::read(config, "techdocs")?;
        Ok(Self::new(catalog, techdocs_base_url).with_collator_config(&config))
    }

    fn with_collator_config(mut self, config: &CollatorConfig) -> Self {
        if let Some(t) = &config.location_template {
            self.location_template = t.clone();
        }
        if let Some(n) = config.parallelism_limit {
            self.parallelism = n.max(1);
        }
        self
    }

    /// Logs the entities it skips through `logger` (the plugin's `LOGGER`).
    #[must_use]
    pub fn logger(mut self, logger: Arc<dyn LoggerService>) -> Self {
        self.logger = Some(logger);
        self
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
        format!(
            "{}/static/docs/{}/search/search_index.json",
            self.techdocs_base_url,
            docs_url_path(entity)
        )
    }

    /// The document of one index entry of `entity`'s docs.
    pub fn document(&self, entity: &Entity, entry: &SearchIndexEntry) -> SearchDocument {
        let path = docs_url_path(entity);
        let mut parts = path.splitn(3, '/');
        let (namespace, kind, name) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let location = self
            .location_template
            .replace(":namespace", namespace)
            .replace(":kind", kind)
            .replace(":name", name)
            .replace(":path", &entry.location);
        let meta = &entity.metadata;
        SearchDocument::new(entry.title.clone(), entry.text.clone(), location)
            .with_field("path", entry.location.clone())
            .with_field("kind", kind)
            .with_field("namespace", namespace)
            .with_field("name", name)
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
        let request = QueryEntitiesRequest {
            filter: vec![
                EntityFilter::new()
                    .exists(format!("metadata.annotations.{TECHDOCS_REF_ANNOTATION}")),
            ],
            fields: FIELDS.iter().map(|f| f.to_string()).collect(),
            limit: Some(BATCH_SIZE),
            ..Default::default()
        };
        Ok(self
            .catalog
            .query_all_entities(&request, &self.credentials())
            .await?)
    }

    /// The documents of one entity's docs; none (logged) when its index is unavailable.
    async fn entity_documents(&self, entity: Entity) -> Vec<SearchDocument> {
        match self.fetch_index(&entity).await {
            Ok(entries) => entries.iter().map(|e| self.document(&entity, e)).collect(),
            Err(error) => {
                if let Some(logger) = &self.logger {
                    logger.warn(&format!(
                        "skipping the docs of {} in the techdocs collator: {error}",
                        entity.ref_string()
                    ));
                }
                Vec::new()
            }
        }
    }

    /// The credentials the collator reads as: the plugin's own.
    fn credentials(&self) -> Credentials {
        match &self.auth {
            Some(auth) => auth.own_service_credentials(),
            None => Credentials::service("plugin:search"),
        }
    }

    async fn fetch_index(&self, entity: &Entity) -> Result<Vec<SearchIndexEntry>, String> {
        let url = self.index_url(entity);
        let mut req = self.http.get(&url);
        if let Some(auth) = &self.auth {
            let token = auth
                .plugin_request_token(&auth.own_service_credentials(), "techdocs")
                .await
                .map_err(|e| format!("cannot authenticate to techdocs: {e}"))?;
            req = req.bearer_auth(token);
        }
        let res = req
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
/// `search-backend-module-techdocs`). It reads the catalog through the
/// [`CATALOG`] service ref, finds the techdocs backend through discovery and runs on `search.collators.techdocs.schedule`.
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
            (
                &ROOT_CONFIG,
                &DISCOVERY,
                &CATALOG,
                &LOGGER,
                &SEARCH_INDEX_REGISTRY,
                &AUTH,
            ),
            |(root_config, discovery, catalog, logger, registry, auth)| async move {
                let config = CollatorConfig::read(&root_config, "techdocs")?;
                let collator = TechDocsCollator::new(catalog, discovery.base_url("techdocs"))
                    .with_auth(auth)
                    .with_collator_config(&config)
                    .http_client(crate::services::http_client::http_client(&root_config)?)
                    .logger(logger);
                let schedule = config.schedule("techdocs", default_schedule())?;
                registry.get()?.add_collator(schedule, Arc::new(collator));
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::catalog::common::CatalogClient;

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
        let c = TechDocsCollator::new(Arc::new(CatalogClient::new("http://c")), "http://t/");
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
        let c = TechDocsCollator::new(Arc::new(CatalogClient::new("http://c")), "http://t")
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
