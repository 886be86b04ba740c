use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A filter's accepted values: one value, or any of several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FilterValue {
    /// The field must equal this value.
    One(String),
    /// The field must equal one of these values.
    AnyOf(Vec<String>),
}

impl FilterValue {
    /// The accepted values.
    pub fn values(&self) -> &[String] {
        match self {
            Self::One(v) => std::slice::from_ref(v),
            Self::AnyOf(v) => v,
        }
    }
}

/// A search query: Backstage's `SearchQuery`.
///
/// ```
/// use backlot::plugins::search::common::{FilterValue, SearchQuery};
///
/// let query = SearchQuery::new("petstore")
///     .with_types(["software-catalog"])
///     .with_filter("kind", FilterValue::One("API".into()))
///     .with_page_limit(10);
/// assert_eq!(query.types, vec!["software-catalog"]);
/// assert_eq!(query.page_limit, Some(10));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    /// Free text; empty matches every document.
    pub term: String,
    /// Document types to search; empty means all.
    #[serde(default)]
    pub types: Vec<String>,
    /// Field equality filters.
    #[serde(default)]
    pub filters: BTreeMap<String, FilterValue>,
    /// The cursor of the page to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_cursor: Option<String>,
    /// Results per page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_limit: Option<usize>,
}

impl SearchQuery {
    /// A query for `term`.
    pub fn new(term: impl Into<String>) -> Self {
        Self {
            term: term.into(),
            ..Self::default()
        }
    }

    /// Restricts the query to these document types.
    #[must_use]
    pub fn with_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a field filter.
    #[must_use]
    pub fn with_filter(mut self, field: impl Into<String>, value: FilterValue) -> Self {
        self.filters.insert(field.into(), value);
        self
    }

    /// Sets the page cursor.
    #[must_use]
    pub fn with_page_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.page_cursor = Some(cursor.into());
        self
    }

    /// Sets the page size.
    #[must_use]
    pub fn with_page_limit(mut self, limit: usize) -> Self {
        self.page_limit = Some(limit);
        self
    }
}
