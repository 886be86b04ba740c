//! The catalog collator: every catalog entity as a `software-catalog` document.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::config::CollatorConfig;
use crate::backend::{BackendModule, BoxError, ModuleRegistrar, Registration};
use crate::plugins::catalog::common::permissions::CATALOG_ENTITY_READ;
use crate::plugins::catalog::common::{Entity, EntityFilter, QueryEntitiesRequest};
use crate::plugins::catalog::node::{CATALOG, CatalogApi};
use crate::plugins::search::common::SearchDocument;
use crate::plugins::search::node::{
    DocumentCollator, DocumentSink, SEARCH_INDEX_REGISTRY, SearchError, document_batches,
};
use crate::services::auth::{AUTH, Credentials};
use crate::services::config::Config;
use crate::services::core_services::ROOT_CONFIG;
use crate::services::permissions::Permission;
use crate::services::scheduler::{TaskFrequency, TaskSchedule};

/// The document type the catalog collator writes.
pub const CATALOG_DOCUMENT_TYPE: &str = "software-catalog";
const DEFAULT_LOCATION_TEMPLATE: &str = "/catalog/:namespace/:kind/:name";
const DEFAULT_BATCH_SIZE: usize = 500;
const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "spec.type",
    "spec.lifecycle",
    "spec.owner",
];

/// Reads every entity from the catalog's `/entities/by-query`, page by page, and turns it
/// into a `software-catalog` document: `title` (`metadata.title` or name), `text`
/// (description), `location` (from the template), `kind`, `type`, `componentType`,
/// `lifecycle`, `owner`, `namespace`, and `authorization.resourceRef` (the entity ref).
///
/// ```
/// use std::sync::Arc;
/// use backlot::plugins::catalog::common::{CatalogClient, Entity};
/// use backlot::plugins::search::backend::CatalogCollator;
///
/// let collator =
///     CatalogCollator::new(Arc::new(CatalogClient::new("http://localhost:7007/api/catalog")));
/// let entity: Entity = serde_json::from_value(serde_json::json!({
///     "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
///     "metadata": { "name": "petstore", "description": "Sells pets" },
///     "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" }
/// }))?;
/// let doc = collator.document(&entity);
/// assert_eq!(doc.location, "/catalog/default/component/petstore");
/// assert_eq!(doc.field_str("owner"), Some("team-a"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CatalogCollator {
    catalog: Arc<dyn CatalogApi>,
    credentials: Credentials,
    location_template: String,
    filter: Vec<EntityFilter>,
    batch_size: usize,
}

impl CatalogCollator {
    /// A collator reading through `catalog`, with the defaults.
    pub fn new(catalog: Arc<dyn CatalogApi>) -> Self {
        Self {
            catalog,
            credentials: Credentials::service("plugin:search"),
            location_template: DEFAULT_LOCATION_TEMPLATE.to_string(),
            filter: Vec::new(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// Reads the catalog as `credentials` (by default the `search` plugin's service
    /// credentials; the module passes `auth.own_service_credentials()`).
    #[must_use]
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Reads `search.collators.catalog.{locationTemplate, filter, batchSize}`.
    pub fn from_config(catalog: Arc<dyn CatalogApi>, config: &Config) -> Result<Self, SearchError> {
        Self::from_collator_config(catalog, &CollatorConfig::read(config, "catalog")?)
    }

    fn from_collator_config(
        catalog: Arc<dyn CatalogApi>,
        config: &CollatorConfig,
    ) -> Result<Self, SearchError> {
        let mut collator = Self::new(catalog);
        if let Some(t) = &config.location_template {
            collator.location_template = t.clone();
        }
        if let Some(n) = config.batch_size {
            collator.batch_size = n.max(1);
        }
        if let Some(value) = &config.filter {
            let filters = match value {
                serde_json::Value::Array(items) => {
                    items.iter().map(EntityFilter::from_json).collect()
                }
                other => EntityFilter::from_json(other).map(|f| vec![f]),
            };
            collator.filter = filters.ok_or_else(|| SearchError::Config {
                key: "search.collators.catalog.filter".into(),
                message: "expected an object of strings or lists of strings".into(),
            })?;
        }
        Ok(collator)
    }

    /// Uses `template` for locations (`:namespace`, `:kind`, `:name` are replaced).
    #[must_use]
    pub fn with_location_template(mut self, template: impl Into<String>) -> Self {
        self.location_template = template.into();
        self
    }

    /// The document of one entity.
    pub fn document(&self, entity: &Entity) -> SearchDocument {
        let meta = &entity.metadata;
        let namespace = meta.namespace();
        let location = self
            .location_template
            .replace(":namespace", namespace)
            .replace(":kind", &entity.kind.to_lowercase())
            .replace(":name", &meta.name);
        let spec_type = entity.spec_str("type").unwrap_or("other");
        SearchDocument::new(
            meta.title.clone().unwrap_or_else(|| meta.name.clone()),
            meta.description.clone().unwrap_or_default(),
            location,
        )
        .with_field("kind", entity.kind.clone())
        .with_field("type", spec_type)
        .with_field("componentType", spec_type)
        .with_field(
            "lifecycle",
            entity.spec_str("lifecycle").unwrap_or_default(),
        )
        .with_field("owner", entity.spec_str("owner").unwrap_or_default())
        .with_field("namespace", namespace)
        .with_resource_ref(entity.ref_string())
    }
}

#[async_trait]
impl DocumentCollator for CatalogCollator {
    fn doc_type(&self) -> &str {
        CATALOG_DOCUMENT_TYPE
    }

    /// `catalog.entity.read`: a reader sees the documents of entities it may read.
    fn visibility_permission(&self) -> Option<Permission> {
        Some(Permission::clone(&CATALOG_ENTITY_READ))
    }

    async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError> {
        let (mut sink, batches) = document_batches(CATALOG_DOCUMENT_TYPE, 2);
        let send = async move {
            let sent = self.collate_into(&mut sink).await;
            drop(sink);
            sent
        };
        let (sent, docs) = tokio::join!(send, batches.collect());
        sent?;
        Ok(docs?)
    }

    /// Page by page: each page of entities becomes a batch of documents that the engine
    /// indexes while the next page is read, so neither the catalog's entities nor its
    /// documents are ever held whole.
    async fn collate_into(&self, sink: &mut DocumentSink) -> Result<(), BoxError> {
        let mut request = QueryEntitiesRequest {
            filter: self.filter.clone(),
            fields: FIELDS.iter().map(|f| f.to_string()).collect(),
            limit: Some(self.batch_size),
            ..Default::default()
        };
        loop {
            let page = self
                .catalog
                .query_entities(&request, &self.credentials)
                .await?;
            let done = page.items.is_empty();
            if !done {
                sink.send(page.items.iter().map(|e| self.document(e)).collect())
                    .await?;
            }
            match page.page_info.next_cursor {
                Some(cursor) if !done => request.cursor = Some(cursor),
                _ => break,
            }
        }
        Ok(())
    }
}

/// The default collator schedule: every 10 minutes, 15 minutes timeout, 3 seconds initial
/// delay.
pub(crate) fn default_schedule() -> TaskSchedule {
    TaskSchedule::new(
        TaskFrequency::Every(Duration::from_secs(600)),
        Duration::from_secs(900),
    )
    .with_initial_delay(Duration::from_secs(3))
}

/// The module adding the [`CatalogCollator`] to the `search` plugin (Backstage's
/// `search-backend-module-catalog`). It reads the catalog through the [`CATALOG`] service
/// ref and runs on
/// `search.collators.catalog.schedule`.
///
/// ```
/// use backlot::backend::Feature;
/// use backlot::plugins::search::backend::{SearchCatalogCollatorModule, SearchPlugin};
///
/// let features = [Feature::plugin(SearchPlugin::new()), Feature::module(SearchCatalogCollatorModule)];
/// # let _ = features;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchCatalogCollatorModule;

impl BackendModule for SearchCatalogCollatorModule {
    fn plugin_id(&self) -> &str {
        "search"
    }

    fn module_id(&self) -> &str {
        "catalog-collator"
    }

    fn register(&self, reg: ModuleRegistrar) -> Registration {
        reg.init(
            (&ROOT_CONFIG, &CATALOG, &AUTH, &SEARCH_INDEX_REGISTRY),
            |(config, catalog, auth, registry)| async move {
                let config = CollatorConfig::read(&config, "catalog")?;
                let collator = CatalogCollator::from_collator_config(catalog, &config)?
                    .with_credentials(auth.own_service_credentials());
                let schedule = config.schedule("catalog", default_schedule())?;
                registry.get()?.add_collator(schedule, Arc::new(collator));
                Ok(())
            },
        )
    }
}
