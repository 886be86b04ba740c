//! The requests, answers and errors of the catalog client, also what the [`CATALOG`] service
//! ref speaks.
//!
//! [`CATALOG`]: crate::plugins::catalog::node::CATALOG

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plugins::catalog::common::Entity;

/// Errors of [`CatalogClient`](super::CatalogClient).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogClientError {
    /// The request could not be sent or its answer not read.
    #[error("catalog request {method} {url} failed")]
    Transport {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The catalog answered with an error (Backstage's error JSON where it sent one).
    #[error("catalog request {method} {url} answered {status} {name}: {message}")]
    Response {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Backstage's error name, e.g. `NotFoundError`, `InputError`, `ConflictError`.
        name: String,
        /// The error message.
        message: String,
    },
    /// The answer was not the JSON expected.
    #[error("catalog request {method} {url} answered unreadable JSON")]
    Decode {
        /// The method.
        method: String,
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl CatalogClientError {
    /// The HTTP status of a [`Response`](Self::Response) error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Response { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Backstage's error name of a [`Response`](Self::Response) error.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Response { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// One filter set: conditions that must all hold. A key repeated means any of its values;
/// a key with `None` means the key exists. Several sets in a request are OR-ed.
///
/// ```
/// use backlot::plugins::catalog::common::EntityFilter;
///
/// let filter = EntityFilter::new().with("kind", "component").with("kind", "api").exists("spec.owner");
/// assert_eq!(filter.to_query_value(), "kind=component,kind=api,spec.owner");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityFilter {
    conditions: Vec<(String, Option<String>)>,
}

impl EntityFilter {
    /// An empty filter set (matches everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key=value`.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.conditions.push((key.into(), Some(value.into())));
        self
    }

    /// Adds "`key` exists".
    #[must_use]
    pub fn exists(mut self, key: impl Into<String>) -> Self {
        self.conditions.push((key.into(), None));
        self
    }

    /// Whether it has no condition.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// The `filter` query parameter value.
    pub fn to_query_value(&self) -> String {
        self.conditions
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads Backstage's config form: an object of key → string or list of strings
    /// (`{ kind: ['Component', 'API'] }`).
    pub fn from_json(value: &Value) -> Option<Self> {
        let mut filter = Self::new();
        for (key, v) in value.as_object()? {
            match v {
                Value::String(s) => filter = filter.with(key.clone(), s.clone()),
                Value::Array(items) => {
                    for item in items {
                        filter = filter.with(key.clone(), item.as_str()?.to_string());
                    }
                }
                _ => return None,
            }
        }
        Some(filter)
    }
}

/// A request to `GET /entities` (offset paging).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetEntitiesRequest {
    /// Filter sets, OR-ed.
    pub filter: Vec<EntityFilter>,
    /// Field paths to return (`metadata.name`, `spec.owner`, ...); empty means all.
    pub fields: Vec<String>,
    /// Page size.
    pub limit: Option<usize>,
    /// Entities to skip.
    pub offset: Option<usize>,
}

/// A request to `GET /entities/by-query` (cursor paging).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryEntitiesRequest {
    /// Filter sets, OR-ed.
    pub filter: Vec<EntityFilter>,
    /// Field paths to return; empty means all.
    pub fields: Vec<String>,
    /// Page size.
    pub limit: Option<usize>,
    /// Sort fields with `asc`/`desc` (`("metadata.name", "asc")`).
    pub order_fields: Vec<(String, String)>,
    /// Full-text filter term.
    pub full_text_filter_term: Option<String>,
    /// The cursor of the page to fetch (then filter and order come from the cursor).
    pub cursor: Option<String>,
}

/// Paging information of a by-query page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// The cursor of the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// The cursor of the previous page.
    #[serde(default)]
    pub prev_cursor: Option<String>,
}

/// A page of `GET /entities/by-query`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryEntitiesResponse {
    /// The entities of the page.
    pub items: Vec<Entity>,
    /// The number of entities matching, across pages.
    #[serde(default)]
    pub total_items: usize,
    /// Cursors.
    #[serde(default)]
    pub page_info: PageInfo,
}

/// A facet value and its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetValue {
    /// The value.
    pub value: String,
    /// How many entities have it.
    pub count: usize,
}

/// A registered location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The location id.
    pub id: String,
    /// The type, e.g. `url`.
    #[serde(rename = "type")]
    pub location_type: String,
    /// The target URL or path.
    pub target: String,
}

/// A request to `POST /locations/by-query` (cursor paging over registered locations).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryLocationsRequest {
    /// A filter predicate over the fields `id`, `type` and `target` (`{"type": "url"}`,
    /// `{"target": {"$hasPrefix": "https://example.com/"}}`, `$all`/`$any`/`$not`); `None`
    /// matches every location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
    /// Page size (the catalog's default is 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// The cursor of the page to fetch; the query then comes from the cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A page of `POST /locations/by-query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryLocationsResponse {
    /// The locations of the page, ordered by type, target and id.
    pub items: Vec<Location>,
    /// The number of locations matching, across pages.
    #[serde(default)]
    pub total_items: usize,
    /// The cursor of the next page, while there is one.
    #[serde(default)]
    pub page_info: PageInfo,
}

/// The answer to `POST /locations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddLocationResponse {
    /// The location.
    pub location: Location,
    /// The entities read from it.
    #[serde(default)]
    pub entities: Vec<Entity>,
    /// Whether it was already registered (dry runs).
    #[serde(default)]
    pub exists: Option<bool>,
}
