//! Documents in batches, from a collator to an engine: a type of many documents is indexed
//! while it is collated instead of being held whole (Backstage's collators and decorators are
//! streams for the same reason).

use std::fmt;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{DocumentDecorator, SearchError};
use crate::backend::BoxError;
use crate::plugins::search::common::SearchDocument;

/// One item between a sink and its batches: documents, or the error that ended collation.
type Item = Result<Vec<SearchDocument>, SearchError>;

/// Where a collator sends the documents of its type, a batch at a time
/// ([`DocumentCollator::collate_into`](super::DocumentCollator::collate_into)). Each batch
/// goes through the type's decorators, then to the engine, which indexes it while the
/// collator reads the next; `send` waits while the engine is a batch behind.
///
/// ```
/// use backlot::plugins::search::common::SearchDocument;
/// use backlot::plugins::search::node::document_batches;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let (mut sink, batches) = document_batches("faq", 4);
/// sink.send(vec![SearchDocument::new("Deploying", "Run the pipeline", "/faq/deploy")]).await?;
/// assert_eq!(sink.sent(), 1);
/// drop(sink); // the end of the type's documents
/// assert_eq!(batches.collect().await?.len(), 1);
/// # Ok(())
/// # }
/// ```
pub struct DocumentSink {
    doc_type: String,
    decorators: Vec<Arc<dyn DocumentDecorator>>,
    tx: mpsc::Sender<Item>,
    sent: usize,
    /// A decorator's error: the batches end with it.
    failed: Option<SearchError>,
    /// The engine stopped reading (it failed): its error is the one to report.
    engine_gone: bool,
}

impl fmt::Debug for DocumentSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentSink")
            .field("doc_type", &self.doc_type)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

/// A [`DocumentSink`] and the [`DocumentBatches`] it feeds, holding at most `capacity`
/// batches between them (at least 1).
pub fn document_batches(doc_type: &str, capacity: usize) -> (DocumentSink, DocumentBatches) {
    DocumentSink::with_decorators(doc_type, capacity, Vec::new())
}

impl DocumentSink {
    pub(crate) fn with_decorators(
        doc_type: &str,
        capacity: usize,
        decorators: Vec<Arc<dyn DocumentDecorator>>,
    ) -> (Self, DocumentBatches) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let sink = Self {
            doc_type: doc_type.to_owned(),
            decorators,
            tx,
            sent: 0,
            failed: None,
            engine_gone: false,
        };
        (sink, DocumentBatches { rx })
    }

    /// Decorates `documents` and hands them to the engine. An error means: stop collating
    /// (a decorator failed, or the engine stopped indexing); the type keeps its previous
    /// documents.
    pub async fn send(&mut self, documents: Vec<SearchDocument>) -> Result<(), BoxError> {
        if self.failed.is_some() {
            return Err("a decorator failed; indexing stopped".into());
        }
        let mut docs = documents;
        for decorator in &self.decorators {
            match decorator.decorate(docs).await {
                Ok(out) => docs = out,
                Err(source) => {
                    let message = source.to_string();
                    self.failed = Some(SearchError::Decorator {
                        doc_type: self.doc_type.clone(),
                        source,
                    });
                    return Err(format!("a decorator failed: {message}").into());
                }
            }
        }
        self.sent += docs.len();
        if self.tx.send(Ok(docs)).await.is_err() {
            self.engine_gone = true;
            return Err("the search engine stopped indexing".into());
        }
        Ok(())
    }

    /// How many documents went to the engine (after the decorators).
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Ends the batches with `error` (collation failed), so the engine keeps the type's
    /// previous documents; returns `error`.
    pub(crate) async fn fail(self, error: SearchError) -> SearchError {
        let _ = self
            .tx
            .send(Err(SearchError::Collator {
                doc_type: self.doc_type.clone(),
                source: error.to_string().into(),
            }))
            .await;
        error
    }

    /// The decorator's error that stopped the sink, if any.
    pub(crate) fn take_failure(&mut self) -> Option<SearchError> {
        self.failed.take()
    }

    /// Whether the engine stopped reading before the end.
    pub(crate) fn engine_gone(&self) -> bool {
        self.engine_gone
    }
}

/// The documents of one type as an engine reads them
/// ([`SearchEngine::index_batches`](super::SearchEngine::index_batches)): batches until the
/// end (`None`), or an error, after which the engine must keep the type's previous
/// documents.
#[derive(Debug)]
pub struct DocumentBatches {
    rx: mpsc::Receiver<Item>,
}

impl DocumentBatches {
    /// The next batch; `None` after the last one.
    pub async fn next(&mut self) -> Option<Result<Vec<SearchDocument>, SearchError>> {
        self.rx.recv().await
    }

    /// [`DocumentBatches::next`] for an engine that indexes on a thread of its own (not in
    /// an async context).
    pub fn blocking_next(&mut self) -> Option<Result<Vec<SearchDocument>, SearchError>> {
        self.rx.blocking_recv()
    }

    /// Every document, in one vector: for engines that index a type at once.
    pub async fn collect(mut self) -> Result<Vec<SearchDocument>, SearchError> {
        let mut all = Vec::new();
        while let Some(batch) = self.next().await {
            all.extend(batch?);
        }
        Ok(all)
    }
}
