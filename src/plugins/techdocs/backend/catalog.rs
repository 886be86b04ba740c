//! Reads entities from the catalog over HTTP.

use std::sync::Arc;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::TechdocsError;
use crate::plugins::catalog::common::Entity;
use crate::plugins::techdocs::common::DocsEntity;
use crate::services::discovery::DiscoveryService;

/// A catalog entity as the catalog sent it, and parsed.
#[derive(Debug, Clone)]
pub(crate) struct CatalogEntity {
    pub(crate) raw: Value,
    pub(crate) entity: Entity,
}

#[derive(Debug, Clone)]
pub(crate) struct CatalogClient {
    discovery: Arc<dyn DiscoveryService>,
    http: reqwest::Client,
}

impl CatalogClient {
    pub(crate) fn new(discovery: Arc<dyn DiscoveryService>, http: reqwest::Client) -> Self {
        Self { discovery, http }
    }

    /// `GET <catalog>/entities/by-name/:kind/:namespace/:name`.
    pub(crate) async fn entity(&self, docs: &DocsEntity) -> Result<CatalogEntity, TechdocsError> {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let url = format!(
            "{}/entities/by-name/{}/{}/{}",
            self.discovery.base_url("catalog"),
            enc(&docs.kind),
            enc(&docs.namespace),
            enc(&docs.name)
        );
        let failed = |reason: String| TechdocsError::Catalog {
            url: url.clone(),
            reason,
        };
        let res = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(TechdocsError::EntityNotFound {
                entity: docs.to_string(),
            });
        }
        if !res.status().is_success() {
            return Err(failed(format!("http status {}", res.status().as_u16())));
        }
        let raw: Value = res.json().await.map_err(|e| failed(e.to_string()))?;
        let entity: Entity = serde_json::from_value(raw.clone())
            .map_err(|e| failed(format!("invalid entity: {e}")))?;
        Ok(CatalogEntity { raw, entity })
    }
}
