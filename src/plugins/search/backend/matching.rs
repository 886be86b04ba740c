//! Query-term handling shared by the engines: tokenizing, the match rule and highlighting.

use std::collections::BTreeMap;

use crate::plugins::search::common::{ResultHighlight, SearchDocument};

/// Terms at least this long also match with one typo.
pub(crate) const FUZZY_MIN_LEN: usize = 4;
/// Tokens longer than this are not indexed.
pub(crate) const MAX_TOKEN_LEN: usize = 40;

/// Splits text into lowercase alphanumeric tokens with their byte ranges, like tantivy's
/// `SimpleTokenizer` + `LowerCaser`.
pub(crate) fn tokens_with_offsets(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push((s, i, text[s..i].to_lowercase()));
        }
    }
    if let Some(s) = start {
        out.push((s, text.len(), text[s..].to_lowercase()));
    }
    out
}

/// The distinct query tokens of a search term, in order.
pub(crate) fn query_tokens(term: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, _, token) in tokens_with_offsets(term) {
        if token.len() <= MAX_TOKEN_LEN && !out.contains(&token) {
            out.push(token);
        }
    }
    out
}

/// Whether a document token matches a query token: equal, a prefix of it, or (for query
/// tokens of [`FUZZY_MIN_LEN`] characters or more) one edit away.
pub(crate) fn token_matches(doc_token: &str, query_token: &str) -> bool {
    doc_token.starts_with(query_token)
        || (query_token.chars().count() >= FUZZY_MIN_LEN && within_one_edit(doc_token, query_token))
}

/// Damerau-Levenshtein distance ≤ 1 (one insertion, deletion, substitution or transposition).
pub(crate) fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if prefix == la && prefix == lb {
        return true;
    }
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match la.cmp(&lb) {
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        std::cmp::Ordering::Greater => ra[1..] == *rb,
        std::cmp::Ordering::Less => *ra == rb[1..],
    }
}

/// Wraps every token of `text` that matches one of `query` in the tags; `None` without a
/// match.
pub(crate) fn highlight_text(
    text: &str,
    query: &[String],
    pre_tag: &str,
    post_tag: &str,
) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 32);
    let mut last = 0;
    let mut any = false;
    for (start, end, token) in tokens_with_offsets(text) {
        if query.iter().any(|q| token_matches(&token, q)) {
            any = true;
            out.push_str(&text[last..start]);
            out.push_str(pre_tag);
            out.push_str(&text[start..end]);
            out.push_str(post_tag);
            last = end;
        }
    }
    if !any {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// The highlight of a document's `title` and `text` for the query tokens.
pub(crate) fn highlight_document(
    doc: &SearchDocument,
    query: &[String],
    pre_tag: &str,
    post_tag: &str,
) -> Option<ResultHighlight> {
    if query.is_empty() {
        return None;
    }
    let mut fields = BTreeMap::new();
    for (name, text) in [("title", &doc.title), ("text", &doc.text)] {
        if let Some(marked) = highlight_text(text, query, pre_tag, post_tag) {
            fields.insert(name.to_string(), marked);
        }
    }
    Some(ResultHighlight {
        pre_tag: pre_tag.to_string(),
        post_tag: post_tag.to_string(),
        fields,
    })
}

/// Random per-instance tags, as Backstage's engines use, so that no document text can forge
/// them.
pub(crate) fn random_tags() -> (String, String) {
    let id = uuid::Uuid::new_v4();
    (format!("<{id}>"), format!("</{id}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_words() {
        let t: Vec<String> = tokens_with_offsets("The Pet-Store API, v2")
            .into_iter()
            .map(|t| t.2)
            .collect();
        assert_eq!(t, vec!["the", "pet", "store", "api", "v2"]);
    }

    #[test]
    fn one_edit_rule() {
        assert!(within_one_edit("petstore", "petstroe"));
        assert!(within_one_edit("petstore", "petstor"));
        assert!(within_one_edit("petstore", "petsxore"));
        assert!(within_one_edit("petstore", "ppetstore"));
        assert!(!within_one_edit("petstore", "pxtstxre"));
        assert!(!within_one_edit("abc", "abcde"));
    }

    #[test]
    fn match_rule_needs_four_chars_for_typos() {
        assert!(token_matches("petstore", "pet"));
        assert!(!token_matches("pat", "pet"));
        assert!(token_matches("paymnt", "payment") || token_matches("payment", "paymnt"));
        assert!(token_matches("payment", "paymnt"));
    }

    #[test]
    fn highlight_wraps_matches_only() {
        let q = query_tokens("pet");
        assert_eq!(
            highlight_text("The Petstore and pets", &q, "<b>", "</b>").as_deref(),
            Some("The <b>Petstore</b> and <b>pets</b>")
        );
        assert_eq!(highlight_text("nothing here", &q, "<b>", "</b>"), None);
    }
}
