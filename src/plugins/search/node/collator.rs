use async_trait::async_trait;

use super::DocumentSink;
use crate::backend::BoxError;
use crate::plugins::search::common::SearchDocument;
use crate::services::permissions::Permission;

/// Produces every document of one type, in full, each time it runs (Backstage's
/// `DocumentCollatorFactory`).
///
/// ```
/// use async_trait::async_trait;
/// use backlot::backend::BoxError;
/// use backlot::plugins::search::common::SearchDocument;
/// use backlot::plugins::search::node::DocumentCollator;
///
/// #[derive(Debug)]
/// struct Faq;
///
/// #[async_trait]
/// impl DocumentCollator for Faq {
///     fn doc_type(&self) -> &str {
///         "faq"
///     }
///     async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError> {
///         Ok(vec![SearchDocument::new("How do I deploy?", "Run the pipeline.", "/faq/deploy")])
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// assert_eq!(Faq.collate().await?.len(), 1);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait DocumentCollator: Send + Sync + std::fmt::Debug + 'static {
    /// The document type it produces, e.g. `software-catalog`.
    fn doc_type(&self) -> &str;
    /// The permission a reader needs to see documents of the type (Backstage's
    /// `visibilityPermission`): a resource permission is checked per document against its
    /// `authorization.resourceRef`. `None` (the default): every reader sees them.
    fn visibility_permission(&self) -> Option<Permission> {
        None
    }
    /// Every document of the type.
    async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError>;

    /// Sends every document of the type to `sink`, a batch at a time: the index build calls
    /// this, and the engine indexes each batch while the next is collated, so a collator of
    /// many documents overrides it to send as it reads and never holds them all. The
    /// default sends [`DocumentCollator::collate`] as one batch.
    async fn collate_into(&self, sink: &mut DocumentSink) -> Result<(), BoxError> {
        sink.send(self.collate().await?).await
    }
}

/// Adds to or alters collated documents before they are indexed (Backstage's
/// `DocumentDecoratorFactory`).
///
/// ```
/// use async_trait::async_trait;
/// use backlot::backend::BoxError;
/// use backlot::plugins::search::common::SearchDocument;
/// use backlot::plugins::search::node::DocumentDecorator;
///
/// /// Drops experimental components from the index.
/// #[derive(Debug)]
/// struct HideExperimental;
///
/// #[async_trait]
/// impl DocumentDecorator for HideExperimental {
///     fn types(&self) -> Vec<String> {
///         vec!["software-catalog".into()]
///     }
///     async fn decorate(&self, docs: Vec<SearchDocument>) -> Result<Vec<SearchDocument>, BoxError> {
///         Ok(docs.into_iter().filter(|d| d.field_str("lifecycle") != Some("experimental")).collect())
///     }
/// }
/// # let _ = HideExperimental;
/// ```
#[async_trait]
pub trait DocumentDecorator: Send + Sync + std::fmt::Debug + 'static {
    /// The document types it applies to; empty means every type.
    fn types(&self) -> Vec<String> {
        Vec::new()
    }
    /// The decorated documents.
    async fn decorate(
        &self,
        documents: Vec<SearchDocument>,
    ) -> Result<Vec<SearchDocument>, BoxError>;
}
