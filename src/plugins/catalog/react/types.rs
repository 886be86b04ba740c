//! Request and response shapes of the catalog API calls the UI makes.

use serde::{Deserialize, Serialize};

use crate::plugins::catalog::common::Entity;

/// One filter set: conditions that must all hold. A key repeated means any of its values; a
/// key with `None` means the key exists. Several sets in a request are OR-ed.
///
/// ```
/// use backlot::plugins::catalog::react::EntityFilter;
///
/// let filter = EntityFilter::new().with("kind", "component").with("spec.type", "service");
/// assert_eq!(filter.to_query_value(), "kind=component,spec.type=service");
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
