use std::fmt;

use async_trait::async_trait;

use super::{DocumentBatches, SearchError};
use crate::plugins::search::common::{SearchDocument, SearchQuery, SearchResultSet};

/// A search engine: stores documents per type and answers queries.
///
/// `index` replaces every document of one type at once: queries running while it works see
/// the type's old documents, then, once it returns, the new ones — never a mix or an empty
/// set. `query` pages with the opaque cursors it hands out itself.
///
/// ```
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use backlot::plugins::search::common::{SearchDocument, SearchQuery, SearchResult, SearchResultSet};
/// use backlot::plugins::search::node::{SearchEngine, SearchError};
///
/// /// Answers every query with all documents whose title contains the term.
/// #[derive(Debug, Default)]
/// struct Naive(Mutex<Vec<(String, SearchDocument)>>);
///
/// #[async_trait]
/// impl SearchEngine for Naive {
///     async fn index(&self, doc_type: &str, docs: Vec<SearchDocument>) -> Result<(), SearchError> {
///         let mut all = self.0.lock().unwrap();
///         all.retain(|(t, _)| t != doc_type);
///         all.extend(docs.into_iter().map(|d| (doc_type.to_string(), d)));
///         Ok(())
///     }
///     async fn query(&self, query: &SearchQuery) -> Result<SearchResultSet, SearchError> {
///         let all = self.0.lock().unwrap();
///         let results: Vec<SearchResult> = all
///             .iter()
///             .filter(|(_, d)| d.title.contains(&query.term))
///             .enumerate()
///             .map(|(i, (t, d))| SearchResult { doc_type: t.clone(), document: d.clone(), rank: Some(i + 1), highlight: None })
///             .collect();
///         Ok(SearchResultSet { number_of_results: Some(results.len()), results, ..Default::default() })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), SearchError> {
/// let engine = Naive::default();
/// engine.index("software-catalog", vec![SearchDocument::new("petstore", "", "/p")]).await?;
/// assert_eq!(engine.query(&SearchQuery::new("pet")).await?.results.len(), 1);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait SearchEngine: Send + Sync + fmt::Debug + 'static {
    /// Replaces all documents of `doc_type` with `documents`, atomically.
    async fn index(
        &self,
        doc_type: &str,
        documents: Vec<SearchDocument>,
    ) -> Result<(), SearchError>;

    /// [`SearchEngine::index`] fed a batch at a time, as the collator produces them: the
    /// type's documents are replaced, atomically, by every batch once the last has arrived;
    /// on an error item the type keeps its previous documents and the error is returned. The
    /// default collects the batches and calls `index`; an engine that can index as they
    /// come overrides it, so that a large type is never held in memory whole.
    async fn index_batches(
        &self,
        doc_type: &str,
        batches: DocumentBatches,
    ) -> Result<(), SearchError> {
        let documents = batches.collect().await?;
        self.index(doc_type, documents).await
    }

    /// Answers a query. `query.page_limit` is set by the caller (the router applies the
    /// default and the maximum).
    async fn query(&self, query: &SearchQuery) -> Result<SearchResultSet, SearchError>;
}
