//! Runs collators and decorators into the engine, on the scheduler.

use std::fmt;
use std::sync::Arc;

use crate::plugins::search::node::{
    CollatorRegistration, DocumentCollator, DocumentDecorator, DocumentSink, SearchEngine,
    SearchError,
};
use crate::services::logger::{LoggerService, LoggerServiceExt};
use crate::services::scheduler::{PluginScheduler, SchedulerError, TaskDefinition, TaskError};

/// Batches a collator may be ahead of the engine.
const BATCHES_IN_FLIGHT: usize = 2;

/// Builds the index of each document type: collates, decorates and hands the full set to the
/// engine, which swaps it in atomically. A failing collator or decorator leaves the type's
/// previous documents in place.
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use backlot::backend::BoxError;
/// use backlot::plugins::search::backend::{EmbeddedEngine, IndexBuilder};
/// use backlot::plugins::search::common::{SearchDocument, SearchQuery};
/// use backlot::plugins::search::node::{DocumentCollator, SearchEngine};
///
/// #[derive(Debug)]
/// struct Faq;
///
/// #[async_trait]
/// impl DocumentCollator for Faq {
///     fn doc_type(&self) -> &str { "faq" }
///     async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError> {
///         Ok(vec![SearchDocument::new("Deploying", "Run the pipeline", "/faq/deploy")])
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = Arc::new(EmbeddedEngine::in_memory()?);
/// let builder = IndexBuilder::new(engine.clone(), vec![]);
/// assert_eq!(builder.build_type(&Faq).await?, 1);
/// assert_eq!(engine.query(&SearchQuery::new("pipeline")).await?.results.len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct IndexBuilder {
    engine: Arc<dyn SearchEngine>,
    decorators: Vec<Arc<dyn DocumentDecorator>>,
    /// Documents and build time of each type's last build, for the metrics.
    built: Option<Arc<parking_lot::Mutex<BuiltTypes>>>,
}

/// Per document type: documents indexed by the last build, and when it ended.
type BuiltTypes = std::collections::HashMap<String, (u64, std::time::Instant)>;

impl fmt::Debug for IndexBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexBuilder")
            .field("engine", &self.engine)
            .field("decorators", &self.decorators)
            .finish()
    }
}

/// The scheduler task id of a collator: `search_index_<type>` with `-` as `_`, as Backstage
/// names it.
///
/// ```
/// assert_eq!(
///     backlot::plugins::search::backend::collator_task_id("software-catalog"),
///     "search_index_software_catalog"
/// );
/// ```
pub fn collator_task_id(doc_type: &str) -> String {
    format!("search_index_{}", doc_type.replace('-', "_"))
}

impl IndexBuilder {
    /// A builder feeding `engine`, applying `decorators` to the types they name.
    pub fn new(engine: Arc<dyn SearchEngine>, decorators: Vec<Arc<dyn DocumentDecorator>>) -> Self {
        Self {
            engine,
            decorators,
            built: None,
        }
    }

    /// Reports each type's documents and index age to `metrics` at every scrape.
    pub(crate) fn with_metrics(
        mut self,
        metrics: &crate::services::metrics::PluginMetrics,
    ) -> Self {
        if !metrics.enabled() {
            return self;
        }
        let built = Arc::new(parking_lot::Mutex::new(BuiltTypes::new()));
        let sampled = Arc::downgrade(&built);
        let recorder = metrics.clone();
        metrics.add_sampler(move || {
            if let Some(built) = sampled.upgrade() {
                for (doc_type, (documents, at)) in built.lock().iter() {
                    recorder.set_search_index(doc_type, *documents, at.elapsed());
                }
            }
        });
        self.built = Some(built);
        self
    }

    /// Collates, decorates and indexes one type; returns the number of documents indexed.
    ///
    /// The collator's batches ([`DocumentCollator::collate_into`]) go through the
    /// decorators and to the engine as they come, with at most two waiting between them, so
    /// a type of many documents is never held whole. A failing collator, decorator or engine
    /// leaves the type's previous documents in place.
    pub async fn build_type(&self, collator: &dyn DocumentCollator) -> Result<usize, SearchError> {
        let doc_type = collator.doc_type().to_string();
        let decorators: Vec<Arc<dyn DocumentDecorator>> = self
            .decorators
            .iter()
            .filter(|d| {
                let types = d.types();
                types.is_empty() || types.contains(&doc_type)
            })
            .cloned()
            .collect();
        let (mut sink, batches) =
            DocumentSink::with_decorators(&doc_type, BATCHES_IN_FLIGHT, decorators);
        // The sink moves in: dropping it when the collator is done ends the batches.
        let collator_type = doc_type.clone();
        let produce = async move {
            let collated = collator.collate_into(&mut sink).await;
            let engine_gone = sink.engine_gone();
            let outcome = match (collated, sink.take_failure()) {
                (Ok(()), None) => Ok(sink.sent()),
                (_, Some(decorator)) => Err(sink.fail(decorator).await),
                (Err(source), None) => Err(sink
                    .fail(SearchError::Collator {
                        doc_type: collator_type,
                        source,
                    })
                    .await),
            };
            (outcome, engine_gone)
        };
        let ((collated, engine_gone), indexed) =
            tokio::join!(produce, self.engine.index_batches(&doc_type, batches));
        let count = match (collated, indexed) {
            (Ok(count), Ok(())) => count,
            // The engine stopped first: its error is the cause.
            (_, Err(e)) if engine_gone => return Err(e),
            (Err(e), _) | (Ok(_), Err(e)) => return Err(e),
        };
        if let Some(built) = &self.built {
            built
                .lock()
                .insert(doc_type, (count as u64, std::time::Instant::now()));
        }
        Ok(count)
    }

    /// Schedules one task per collator on `scheduler` (ids from [`collator_task_id`]).
    pub async fn schedule(
        &self,
        scheduler: &PluginScheduler,
        collators: Vec<CollatorRegistration>,
        logger: Arc<dyn LoggerService>,
    ) -> Result<(), SchedulerError> {
        for registration in collators {
            let builder = self.clone();
            let collator = registration.collator;
            let logger = logger.clone();
            let id = collator_task_id(collator.doc_type());
            let task = TaskDefinition::new(id, registration.schedule, move |_cancel| {
                let builder = builder.clone();
                let collator = collator.clone();
                let logger = logger.clone();
                async move {
                    match builder.build_type(collator.as_ref()).await {
                        Ok(count) => {
                            logger.info(&format!(
                                "indexed {count} documents of type '{}'",
                                collator.doc_type()
                            ));
                            Ok(())
                        }
                        Err(e) => Err(Box::new(e) as TaskError),
                    }
                }
            })?;
            scheduler.schedule_task(task).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::backend::BoxError;
    use crate::plugins::search::backend::EmbeddedEngine;
    use crate::plugins::search::common::{SearchDocument, SearchQuery};

    #[derive(Debug, Default)]
    struct Flaky {
        fail: AtomicBool,
    }

    #[async_trait]
    impl DocumentCollator for Flaky {
        fn doc_type(&self) -> &str {
            "flaky"
        }
        async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError> {
            if self.fail.load(Ordering::SeqCst) {
                return Err("catalog unreachable".into());
            }
            Ok(vec![
                SearchDocument::new("alpha", "first", "/a").with_field("lifecycle", "production"),
                SearchDocument::new("beta", "second", "/b").with_field("lifecycle", "experimental"),
            ])
        }
    }

    #[derive(Debug)]
    struct DropExperimental(Vec<String>);

    #[async_trait]
    impl DocumentDecorator for DropExperimental {
        fn types(&self) -> Vec<String> {
            self.0.clone()
        }
        async fn decorate(
            &self,
            docs: Vec<SearchDocument>,
        ) -> Result<Vec<SearchDocument>, BoxError> {
            Ok(docs
                .into_iter()
                .filter(|d| d.field_str("lifecycle") != Some("experimental"))
                .collect())
        }
    }

    #[tokio::test]
    async fn decorators_apply_to_their_types_and_failures_keep_old_documents() {
        let engine = Arc::new(EmbeddedEngine::in_memory().unwrap());
        let collator = Flaky::default();
        let other = IndexBuilder::new(
            engine.clone(),
            vec![Arc::new(DropExperimental(vec!["techdocs".into()]))],
        );
        assert_eq!(other.build_type(&collator).await.unwrap(), 2);
        let builder = IndexBuilder::new(
            engine.clone(),
            vec![Arc::new(DropExperimental(vec!["flaky".into()]))],
        );
        assert_eq!(builder.build_type(&collator).await.unwrap(), 1);
        collator.fail.store(true, Ordering::SeqCst);
        let err = builder.build_type(&collator).await.unwrap_err();
        assert!(matches!(err, SearchError::Collator { ref doc_type, .. } if doc_type == "flaky"));
        let page = engine.query(&SearchQuery::new("")).await.unwrap();
        assert_eq!(page.number_of_results, Some(1));
        assert_eq!(page.results[0].document.title, "alpha");
    }

    /// Sends `batches` batches of 100 documents, then fails when `fail_after` is reached.
    #[derive(Debug)]
    struct Batched {
        batches: usize,
        fail_after: Option<usize>,
        /// The sink's count of documents sent, after each batch it accepted.
        sent: std::sync::Mutex<Vec<usize>>,
    }

    #[async_trait]
    impl DocumentCollator for Batched {
        fn doc_type(&self) -> &str {
            "batched"
        }
        async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError> {
            Err("collate_into is the way in".into())
        }
        async fn collate_into(&self, sink: &mut DocumentSink) -> Result<(), BoxError> {
            for b in 0..self.batches {
                if self.fail_after == Some(b) {
                    return Err("catalog went away".into());
                }
                let docs = (0..100)
                    .map(|i| {
                        let lifecycle = if i % 2 == 0 {
                            "production"
                        } else {
                            "experimental"
                        };
                        SearchDocument::new(format!("doc {b} {i}"), "batch", format!("/{b}/{i}"))
                            .with_field("lifecycle", lifecycle)
                    })
                    .collect();
                sink.send(docs).await?;
                self.sent.lock().unwrap().push(sink.sent());
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn batches_are_decorated_and_indexed_as_they_come_and_a_failure_midway_keeps_the_old_set()
    {
        let engine = Arc::new(EmbeddedEngine::in_memory().unwrap());
        let builder = IndexBuilder::new(
            engine.clone(),
            vec![Arc::new(DropExperimental(vec!["batched".into()]))],
        );
        let collator = Batched {
            batches: 30,
            fail_after: None,
            sent: Default::default(),
        };
        // Every batch went through the decorator (half of each is dropped).
        assert_eq!(builder.build_type(&collator).await.unwrap(), 30 * 50);
        assert_eq!(collator.sent.lock().unwrap().len(), 30);
        let all = engine.query(&SearchQuery::new("batch")).await.unwrap();
        assert_eq!(all.number_of_results, Some(1500));

        // The next run fails after 10 batches were indexed: the 1,500 stay, nothing of the
        // failed run shows.
        let failing = Batched {
            batches: 30,
            fail_after: Some(10),
            sent: Default::default(),
        };
        let err = builder.build_type(&failing).await.unwrap_err();
        assert!(
            matches!(err, SearchError::Collator { ref doc_type, .. } if doc_type == "batched"),
            "{err:?}"
        );
        assert_eq!(failing.sent.lock().unwrap().len(), 10);
        let after = engine.query(&SearchQuery::new("batch")).await.unwrap();
        assert_eq!(after.number_of_results, Some(1500));

        // A smaller set replaces the whole type.
        let small = Batched {
            batches: 2,
            fail_after: None,
            sent: Default::default(),
        };
        assert_eq!(builder.build_type(&small).await.unwrap(), 100);
        let now = engine.query(&SearchQuery::new("batch")).await.unwrap();
        assert_eq!(now.number_of_results, Some(100));
    }

    /// An engine that fails on its second batch.
    #[derive(Debug)]
    struct Refusing;

    #[async_trait]
    impl SearchEngine for Refusing {
        async fn index(&self, _: &str, _: Vec<SearchDocument>) -> Result<(), SearchError> {
            Ok(())
        }
        async fn index_batches(
            &self,
            _: &str,
            mut batches: crate::plugins::search::node::DocumentBatches,
        ) -> Result<(), SearchError> {
            let _ = batches.next().await;
            Err(SearchError::engine(
                "refusing",
                "disk full",
                "no space left",
            ))
        }
        async fn query(
            &self,
            _: &SearchQuery,
        ) -> Result<crate::plugins::search::common::SearchResultSet, SearchError> {
            Ok(Default::default())
        }
    }

    #[tokio::test]
    async fn an_engine_that_stops_reading_stops_the_collator_and_its_error_is_reported() {
        let builder = IndexBuilder::new(Arc::new(Refusing), vec![]);
        let collator = Batched {
            batches: 50,
            fail_after: None,
            sent: Default::default(),
        };
        let err = builder.build_type(&collator).await.unwrap_err();
        assert!(
            matches!(
                err,
                SearchError::Engine {
                    engine: "refusing",
                    ..
                }
            ),
            "{err:?}"
        );
        // The collator stopped soon after: it could not send far past what the engine read.
        assert!(collator.sent.lock().unwrap().len() <= 1 + BATCHES_IN_FLIGHT + 1);
    }
}
