//! Indexing: BM25 scores computed here, rows written in bulk (postings by `COPY`, documents
//! and words by `UNNEST`) in one transaction.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::PgPool;

use super::{ENGINE, db_err};
use crate::plugins::search::backend::matching::{self, MAX_TOKEN_LEN};
use crate::plugins::search::common::SearchDocument;
use crate::plugins::search::node::SearchError;
use crate::services::database::{copy_lines, push_copy_text};

/// Documents per `INSERT` of documents.
const DOC_BATCH: usize = 1_000;
/// Rows per `INSERT` of postings or terms.
const ROW_BATCH: usize = 20_000;
/// A title occurrence counts as this many text occurrences.
const TITLE_WEIGHT: f32 = 2.0;
const K1: f32 = 1.2;
/// The first character of a filter posting's term.
const FILTER_MARK: char = '\u{1}';
const B: f32 = 0.75;

/// One document's words: (word, weighted term frequency), and its length in words.
struct DocWords {
    words: Vec<(String, f32)>,
    len: f32,
}

fn doc_words(doc: &SearchDocument) -> DocWords {
    let mut tf: HashMap<String, f32> = HashMap::new();
    let mut len = 0.0;
    for (text, weight) in [(&doc.title, TITLE_WEIGHT), (&doc.text, 1.0)] {
        for (_, _, token) in matching::tokens_with_offsets(text) {
            if token.len() <= MAX_TOKEN_LEN {
                *tf.entry(token).or_default() += weight;
                len += 1.0;
            }
        }
    }
    let mut words: Vec<(String, f32)> = tf.into_iter().collect();
    words.sort_by(|a, b| a.0.cmp(&b.0));
    DocWords { words, len }
}

/// The BM25 weight of a word of frequency `tf` in a document of `len` words.
fn bm25(idf: f32, tf: f32, len: f32, avg_len: f32) -> f32 {
    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len.max(1.0)))
}

fn filter_terms(doc: &SearchDocument) -> Vec<String> {
    let mut out = Vec::new();
    for key in doc.fields.keys() {
        for value in doc.filter_values(key) {
            out.push(format!("{key}={value}"));
        }
    }
    out
}

/// The posting term of a filter term: marked so no query word (letters and digits) can
/// match or prefix it.
pub(super) fn filter_posting(term: &str) -> String {
    format!("{FILTER_MARK}{term}")
}

/// Replaces every row of `doc_type` in one transaction, under an advisory lock per type.
pub(super) async fn replace_type(
    pool: &PgPool,
    doc_type: &str,
    documents: Vec<SearchDocument>,
) -> Result<(), SearchError> {
    let words: Vec<DocWords> = documents.iter().map(doc_words).collect();
    // Each document's filter terms, marked as posting terms.
    let filters_of: Vec<Vec<String>> = documents
        .iter()
        .map(|d| filter_terms(d).iter().map(|f| filter_posting(f)).collect())
        .collect();
    let mut df: HashMap<&str, i32> = HashMap::new();
    for w in &words {
        for (word, _) in &w.words {
            *df.entry(word.as_str()).or_default() += 1;
        }
    }
    let n = words.len() as f32;
    let avg_len = words.iter().map(|w| w.len).sum::<f32>() / n.max(1.0);
    let mut tx = pool
        .begin()
        .await
        .map_err(db_err("cannot begin a transaction"))?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('backlot_search:' || $1))")
        .bind(doc_type)
        .execute(&mut *tx)
        .await
        .map_err(db_err("cannot lock the document type"))?;
    for table in ["search_documents", "search_postings", "search_terms"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE type = $1"))
            .bind(doc_type)
            .execute(&mut *tx)
            .await
            .map_err(db_err("cannot delete the old documents"))?;
    }

    let mut p_terms: Vec<&str> = Vec::with_capacity(ROW_BATCH);
    let mut p_scores: Vec<f32> = Vec::with_capacity(ROW_BATCH);
    let mut p_ords: Vec<i32> = Vec::with_capacity(ROW_BATCH);
    for (chunk_no, ((docs, words), doc_filters)) in documents
        .chunks(DOC_BATCH)
        .zip(words.chunks(DOC_BATCH))
        .zip(filters_of.chunks(DOC_BATCH))
        .enumerate()
    {
        let mut ords = Vec::with_capacity(docs.len());
        let mut jsons = Vec::with_capacity(docs.len());
        let mut filters = Vec::with_capacity(docs.len());
        let mut scores = Vec::with_capacity(docs.len());
        for (i, ((doc, w), fs)) in docs.iter().zip(words).zip(doc_filters).enumerate() {
            let ord = i32::try_from(chunk_no * DOC_BATCH + i)
                .map_err(|e| SearchError::engine(ENGINE, "too many documents", e))?;
            ords.push(ord);
            jsons.push(
                serde_json::to_value(doc)
                    .map_err(|e| SearchError::engine(ENGINE, "cannot serialize a document", e))?,
            );
            filters.push(Value::from(
                fs.iter()
                    .map(|f| Value::from(f.strip_prefix(FILTER_MARK).unwrap_or(f)))
                    .collect::<Vec<_>>(),
            ));
            // Filter terms are postings too (score 0), so a query checks them by index.
            for f in fs {
                p_terms.push(f);
                p_scores.push(0.0);
                p_ords.push(ord);
            }
            let mut map = Map::new();
            for (word, tf) in &w.words {
                // The word's weight without its rarity: the query multiplies in the inverse
                // document frequency over the types it searches.
                let score = bm25(1.0, *tf, w.len, avg_len);
                map.insert(word.clone(), Value::from(f64::from(score)));
                p_terms.push(word);
                p_scores.push(score);
                p_ords.push(ord);
            }
            scores.push(Value::Object(map));
        }
        sqlx::query(
            "INSERT INTO search_documents (type, ord, document, filters, scores)
             SELECT $1, o, d, ARRAY(SELECT jsonb_array_elements_text(f)), s
             FROM UNNEST($2::int4[], $3::jsonb[], $4::jsonb[], $5::jsonb[]) AS u(o, d, f, s)",
        )
        .bind(doc_type)
        .bind(&ords)
        .bind(&jsons)
        .bind(&filters)
        .bind(&scores)
        .execute(&mut *tx)
        .await
        .map_err(db_err("cannot insert documents"))?;
        if p_terms.len() >= ROW_BATCH {
            insert_postings(&mut tx, doc_type, &p_terms, &p_scores, &p_ords).await?;
            p_terms.clear();
            p_scores.clear();
            p_ords.clear();
        }
    }
    insert_postings(&mut tx, doc_type, &p_terms, &p_scores, &p_ords).await?;
    let mut terms: Vec<(&str, i32)> = df.into_iter().collect();
    if !documents.is_empty() {
        // The empty word (never a token) holds the type's number of documents.
        let count = i32::try_from(documents.len())
            .map_err(|e| SearchError::engine(ENGINE, "too many documents", e))?;
        terms.push(("", count));
    }
    for chunk in terms.chunks(ROW_BATCH) {
        let (words, dfs): (Vec<&str>, Vec<i32>) = chunk.iter().copied().unzip();
        sqlx::query(
            "INSERT INTO search_terms (type, term, df)
             SELECT $1, t, d FROM UNNEST($2::text[], $3::int4[]) AS u(t, d)",
        )
        .bind(doc_type)
        .bind(&words)
        .bind(&dfs)
        .execute(&mut *tx)
        .await
        .map_err(db_err("cannot insert the word table"))?;
    }
    tx.commit()
        .await
        .map_err(db_err("cannot commit the new documents"))?;
    // Marks the new rows visible to all (index-only scans then skip the heap) and refreshes
    // the planner's statistics. Only pages changed since the last vacuum are read. A failure
    // is not the index's: autovacuum does the same later.
    let _ = sqlx::raw_sql("VACUUM (ANALYZE) search_postings, search_documents, search_terms")
        .execute(pool)
        .await;
    Ok(())
}

async fn insert_postings(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    doc_type: &str,
    terms: &[&str],
    scores: &[f32],
    ords: &[i32],
) -> Result<(), SearchError> {
    if terms.is_empty() {
        return Ok(());
    }
    // `COPY ... FROM STDIN` in text format: one line per posting.
    let postings = terms.iter().zip(scores).zip(ords);
    copy_lines(
        tx,
        "search_postings (type, term, score, ord)",
        postings,
        |buf, ((term, score), ord)| {
            push_copy_text(buf, doc_type);
            buf.push(b'\t');
            push_copy_text(buf, term);
            buf.push(b'\t');
            buf.extend_from_slice(score.to_string().as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(ord.to_string().as_bytes());
        },
    )
    .await
    .map_err(|e| SearchError::engine(ENGINE, "cannot insert postings", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_words_weigh_more_and_rarer_words_score_higher() {
        let doc = SearchDocument::new("Pet store", "sells pets and pet food", "/p");
        let w = doc_words(&doc);
        let pet = w.words.iter().find(|(t, _)| t == "pet").map(|p| p.1);
        assert_eq!(pet, Some(TITLE_WEIGHT + 1.0));
        assert_eq!(w.len, 7.0);
        assert!(bm25(2.0, 1.0, 5.0, 5.0) > bm25(1.0, 1.0, 5.0, 5.0));
        assert!(bm25(1.0, 3.0, 5.0, 5.0) > bm25(1.0, 1.0, 5.0, 5.0));
    }
}
