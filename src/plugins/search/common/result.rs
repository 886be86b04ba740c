use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SearchDocument;

/// Matches marked up in a result's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultHighlight {
    /// The tag put before each match.
    pub pre_tag: String,
    /// The tag put after each match.
    pub post_tag: String,
    /// Field name → the field's text with matches wrapped in the tags.
    pub fields: BTreeMap<String, String>,
}

/// One result: Backstage's `Result<IndexableDocument>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// The document type, e.g. `software-catalog`.
    #[serde(rename = "type")]
    pub doc_type: String,
    /// The document.
    pub document: SearchDocument,
    /// The 1-based position across all pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// Matches in the document's fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight: Option<ResultHighlight>,
}

/// A page of results: Backstage's `SearchResultSet`.
///
/// ```
/// use backlot::plugins::search::common::SearchResultSet;
///
/// let json = serde_json::to_value(SearchResultSet::default())?;
/// assert_eq!(json, serde_json::json!({ "results": [] }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResultSet {
    /// The page's results.
    pub results: Vec<SearchResult>,
    /// The cursor of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_cursor: Option<String>,
    /// The cursor of the previous page; absent on the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_page_cursor: Option<String>,
    /// The number of results across all pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_results: Option<usize>,
}
