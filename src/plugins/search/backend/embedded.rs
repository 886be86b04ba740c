//! The embedded engine: a tantivy index in a directory or in memory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tokio::sync::Mutex;

use super::matching::{self, FUZZY_MIN_LEN, MAX_TOKEN_LEN};
use crate::plugins::search::common::{
    PageCursor, SearchDocument, SearchQuery, SearchResult, SearchResultSet,
};
use crate::plugins::search::node::{DocumentBatches, SearchEngine, SearchError};

const ENGINE: &str = "embedded";
const TOKENIZER: &str = "backlot";
const DEFAULT_PAGE_LIMIT: usize = 25;
/// The index writer's memory budget by default (`search.embedded.indexingMemoryBytes`).
pub(crate) const WRITER_MEMORY: usize = 32 * 1024 * 1024;
/// The least budget tantivy accepts for its one indexing thread.
pub(crate) const WRITER_MEMORY_MIN: usize = 15_000_000;
/// The most budget tantivy accepts for one indexing thread.
pub(crate) const WRITER_MEMORY_MAX: usize = u32::MAX as usize - 1_000_000;

#[derive(Clone, Copy)]
struct Fields {
    doc_type: Field,
    title: Field,
    text: Field,
    all: Field,
    filter: Field,
    stored: Field,
}

/// The embedded search engine on tantivy: BM25 ranking over `title` (boosted) and `text`,
/// prefix matching (`pet` finds `petstore`), one typo allowed in terms of four characters or
/// more, field filters and highlighting.
///
/// Each [`index`](SearchEngine::index) call deletes the type's documents and adds the new ones
/// in one commit; readers switch to the new commit only when it is complete.
///
/// ```
/// use backlot::plugins::search::backend::EmbeddedEngine;
/// use backlot::plugins::search::common::{SearchDocument, SearchQuery};
/// use backlot::plugins::search::node::SearchEngine;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let engine = EmbeddedEngine::in_memory()?;
/// engine
///     .index("software-catalog", vec![
///         SearchDocument::new("petstore", "Sells pets", "/catalog/default/component/petstore"),
///     ])
///     .await?;
/// let page = engine.query(&SearchQuery::new("pet")).await?;
/// assert_eq!(page.results[0].document.title, "petstore");
/// assert_eq!(page.number_of_results, Some(1));
/// # Ok(())
/// # }
/// ```
pub struct EmbeddedEngine {
    index: Index,
    reader: IndexReader,
    /// Serializes writers: each `index` call opens one and drops it (with its indexing heap
    /// and thread) once committed, so an idle engine holds no indexing memory.
    writing: Arc<Mutex<()>>,
    fields: Fields,
    pre_tag: String,
    post_tag: String,
    location: Option<PathBuf>,
    /// The index writer's memory budget while a type is indexed.
    writer_memory: usize,
}

impl fmt::Debug for EmbeddedEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedEngine")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analyzed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        doc_type: builder.add_text_field("type", STRING | STORED),
        title: builder.add_text_field("title", analyzed.clone()),
        text: builder.add_text_field("text", analyzed.clone()),
        all: builder.add_text_field("all", analyzed),
        filter: builder.add_text_field("filter", STRING),
        stored: builder.add_text_field("document", STORED),
    };
    (builder.build(), fields)
}

fn open_writer(index: &Index, memory: usize) -> Result<IndexWriter, SearchError> {
    index
        .writer_with_num_threads(1, memory)
        .map_err(err("cannot open the index writer"))
}

fn err(message: &str) -> impl FnOnce(tantivy::TantivyError) -> SearchError + '_ {
    move |e| SearchError::engine(ENGINE, message, e)
}

impl EmbeddedEngine {
    /// An engine whose index lives in memory only.
    pub fn in_memory() -> Result<Self, SearchError> {
        let (schema, fields) = schema();
        Self::open(Index::create_in_ram(schema), fields, None)
    }

    /// An engine whose index lives in `dir` (created when missing); documents indexed by an
    /// earlier run are served at once.
    pub fn in_directory(dir: impl AsRef<Path>) -> Result<Self, SearchError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            SearchError::engine(
                ENGINE,
                format!("cannot create index directory '{}'", dir.display()),
                e,
            )
        })?;
        let directory = MmapDirectory::open(dir).map_err(|e| {
            SearchError::engine(
                ENGINE,
                format!("cannot open index directory '{}'", dir.display()),
                e,
            )
        })?;
        let (schema, fields) = schema();
        let index = Index::open_or_create(directory, schema).map_err(|e| {
            SearchError::engine(
                ENGINE,
                format!("cannot open the index in '{}'", dir.display()),
                e,
            )
        })?;
        Self::open(index, fields, Some(dir.to_path_buf()))
    }

    fn open(index: Index, fields: Fields, location: Option<PathBuf>) -> Result<Self, SearchError> {
        index.tokenizers().register(
            TOKENIZER,
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(MAX_TOKEN_LEN + 1))
                .filter(LowerCaser)
                .build(),
        );
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err("cannot open an index reader"))?;
        // Fail at start, not at the first collator run, when another process holds the
        // index directory.
        drop(open_writer(&index, WRITER_MEMORY)?);
        let (pre_tag, post_tag) = matching::random_tags();
        Ok(Self {
            index,
            reader,
            writing: Arc::new(Mutex::new(())),
            fields,
            pre_tag,
            post_tag,
            location,
            writer_memory: WRITER_MEMORY,
        })
    }

    /// Sets the memory the index writer may use while it indexes a type (default 32 MiB,
    /// config `search.embedded.indexingMemoryBytes`): the writer flushes a segment whenever
    /// it fills, so a smaller budget holds less while a collator runs and writes more
    /// segments, merged afterwards. The writer, and its memory, exists only while a type is
    /// indexed. Between 15,000,000 bytes and 4 GiB.
    ///
    /// ```
    /// use backlot::plugins::search::backend::EmbeddedEngine;
    ///
    /// let engine = EmbeddedEngine::in_memory()?.with_indexing_memory(16 << 20)?;
    /// assert!(EmbeddedEngine::in_memory()?.with_indexing_memory(1 << 20).is_err());
    /// # let _ = engine;
    /// # Ok::<(), backlot::plugins::search::node::SearchError>(())
    /// ```
    pub fn with_indexing_memory(mut self, bytes: usize) -> Result<Self, SearchError> {
        if !(WRITER_MEMORY_MIN..=WRITER_MEMORY_MAX).contains(&bytes) {
            return Err(SearchError::Config {
                key: "search.embedded.indexingMemoryBytes".into(),
                message: format!(
                    "{bytes} is outside {WRITER_MEMORY_MIN}..={WRITER_MEMORY_MAX} bytes"
                ),
            });
        }
        self.writer_memory = bytes;
        Ok(self)
    }

    /// The directory the index lives in; `None` in memory.
    pub fn directory(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    fn to_tantivy(
        f: Fields,
        doc_type: &str,
        doc: &SearchDocument,
    ) -> Result<TantivyDocument, SearchError> {
        let mut out = TantivyDocument::default();
        out.add_text(f.doc_type, doc_type);
        out.add_text(f.title, &doc.title);
        out.add_text(f.text, &doc.text);
        out.add_text(f.all, &doc.title);
        out.add_text(f.all, &doc.text);
        for key in doc.fields.keys() {
            for value in doc.filter_values(key) {
                out.add_text(f.filter, format!("{key}={value}"));
            }
        }
        let json = serde_json::to_string(doc)
            .map_err(|e| SearchError::engine(ENGINE, "cannot serialize a document", e))?;
        out.add_text(f.stored, json);
        Ok(out)
    }

    fn build_query(&self, query: &SearchQuery, tokens: &[String]) -> Box<dyn Query> {
        let f = self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for token in tokens {
            // Exact words score with BM25 (title above text); prefixes and typos match once,
            // on the combined field, with a constant score below an exact word.
            let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (field, boost) in [(f.title, 4.0_f32), (f.text, 2.0)] {
                should.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(
                            Term::from_field_text(field, token),
                            IndexRecordOption::WithFreqs,
                        )),
                        boost,
                    )),
                ));
            }
            let all = Term::from_field_text(f.all, token);
            should.push((
                Occur::Should,
                Box::new(FuzzyTermQuery::new_prefix(all.clone(), 0, true)),
            ));
            if token.chars().count() >= FUZZY_MIN_LEN {
                should.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(FuzzyTermQuery::new(all, 1, true)),
                        0.5,
                    )),
                ));
            }
            must.push((Occur::Must, Box::new(BooleanQuery::new(should))));
        }
        if !query.types.is_empty() {
            must.push((Occur::Must, any_of(f.doc_type, query.types.iter().cloned())));
        }
        for (key, value) in &query.filters {
            must.push((
                Occur::Must,
                any_of(
                    f.filter,
                    value.values().iter().map(|v| format!("{key}={v}")),
                ),
            ));
        }
        if must.is_empty() {
            return Box::new(AllQuery);
        }
        if tokens.is_empty() {
            must.push((Occur::Must, Box::new(AllQuery)));
        }
        Box::new(BooleanQuery::new(must))
    }
}

fn any_of(field: Field, values: impl Iterator<Item = String>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        values
            .map(|v| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(field, &v),
                    IndexRecordOption::Basic,
                ));
                (Occur::Should, q)
            })
            .collect(),
    ))
}

/// The page a query asks for, from its cursor.
pub(crate) fn requested_page(query: &SearchQuery) -> Result<(usize, usize), SearchError> {
    let limit = query.page_limit.unwrap_or(DEFAULT_PAGE_LIMIT).max(1);
    let page = match &query.page_cursor {
        None => 0,
        Some(c) => {
            PageCursor::decode(c)
                .ok_or_else(|| SearchError::invalid_query(format!("invalid page cursor '{c}'")))?
                .page
        }
    };
    Ok((page, limit))
}

impl EmbeddedEngine {
    /// Replaces the documents of `doc_type` with the batches `next` yields (until `None`),
    /// on a blocking thread: one document converted at a time, committed after the last
    /// batch, rolled back on the first error.
    async fn write<F>(&self, doc_type: &str, mut next: F) -> Result<(), SearchError>
    where
        F: FnMut() -> Option<Result<Vec<SearchDocument>, SearchError>> + Send + 'static,
    {
        let guard = Arc::clone(&self.writing).lock_owned().await;
        let type_term = Term::from_field_text(self.fields.doc_type, doc_type);
        let (index, reader, fields) = (self.index.clone(), self.reader.clone(), self.fields);
        let (doc_type, memory) = (doc_type.to_string(), self.writer_memory);
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            let mut writer = open_writer(&index, memory)?;
            writer.delete_term(type_term);
            while let Some(batch) = next() {
                let added = batch.and_then(|docs| {
                    docs.iter().try_for_each(|doc| {
                        Self::to_tantivy(fields, &doc_type, doc).and_then(|d| {
                            writer
                                .add_document(d)
                                .map(drop)
                                .map_err(err("cannot add a document"))
                        })
                    })
                });
                if let Err(e) = added {
                    let _ = writer.rollback();
                    return Err(e);
                }
            }
            if let Err(e) = writer.commit() {
                let _ = writer.rollback();
                return Err(SearchError::engine(ENGINE, "cannot commit the index", e));
            }
            // Drops the writer's indexing heap and thread once its merges are done.
            writer
                .wait_merging_threads()
                .map_err(err("cannot finish the index merges"))?;
            reader
                .reload()
                .map_err(|e| SearchError::engine(ENGINE, "cannot reload the index reader", e))
        })
        .await
        .map_err(|e| SearchError::engine(ENGINE, "indexing task failed", e))?
    }
}

/// The cursors around `page` given the total number of results.
pub(crate) fn page_cursors(
    page: usize,
    limit: usize,
    total: usize,
) -> (Option<String>, Option<String>) {
    let next = (page.saturating_add(1).saturating_mul(limit) < total)
        .then(|| PageCursor { page: page + 1 }.encode());
    let prev = (page > 0).then(|| PageCursor { page: page - 1 }.encode());
    (next, prev)
}

#[async_trait]
impl SearchEngine for EmbeddedEngine {
    async fn index(
        &self,
        doc_type: &str,
        documents: Vec<SearchDocument>,
    ) -> Result<(), SearchError> {
        let mut once = Some(documents);
        self.write(doc_type, move || once.take().map(Ok)).await
    }

    /// Adds each batch to the index writer as it arrives; commits after the last.
    async fn index_batches(
        &self,
        doc_type: &str,
        mut batches: DocumentBatches,
    ) -> Result<(), SearchError> {
        self.write(doc_type, move || batches.blocking_next()).await
    }

    async fn query(&self, query: &SearchQuery) -> Result<SearchResultSet, SearchError> {
        let (page, limit) = requested_page(query)?;
        let tokens = matching::query_tokens(&query.term);
        let tantivy_query = self.build_query(query, &tokens);
        let searcher = self.reader.searcher();
        let offset = page.saturating_mul(limit);
        let (top, total) = searcher
            .search(
                &tantivy_query,
                &(TopDocs::with_limit(limit).and_offset(offset), Count),
            )
            .map_err(err("query failed"))?;
        let mut results = Vec::with_capacity(top.len());
        for (i, (_score, address)) in top.into_iter().enumerate() {
            let stored: TantivyDocument = searcher
                .doc(address)
                .map_err(err("cannot read a document"))?;
            let doc_type = stored
                .get_first(self.fields.doc_type)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let json = stored
                .get_first(self.fields.stored)
                .and_then(|v| v.as_str())
                .unwrap_or("{}");
            let document: SearchDocument = serde_json::from_str(json)
                .map_err(|e| SearchError::engine(ENGINE, "cannot read a stored document", e))?;
            let highlight =
                matching::highlight_document(&document, &tokens, &self.pre_tag, &self.post_tag);
            results.push(SearchResult {
                doc_type,
                document,
                rank: Some(offset + i + 1),
                highlight,
            });
        }
        let (next_page_cursor, previous_page_cursor) = page_cursors(page, limit, total);
        Ok(SearchResultSet {
            results,
            next_page_cursor,
            previous_page_cursor,
            number_of_results: Some(total),
        })
    }
}
