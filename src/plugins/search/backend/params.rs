//! Reading `/query` parameters in the `qs` bracket form Backstage's clients send.

use std::collections::BTreeMap;

use crate::plugins::search::common::{FilterValue, SearchQuery};
use crate::plugins::search::node::SearchError;

/// Limits the router enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryLimits {
    pub(crate) default_page_limit: usize,
    pub(crate) max_page_limit: usize,
    pub(crate) max_term_length: usize,
}

enum FilterAcc {
    One(String),
    Many(BTreeMap<usize, String>, Vec<String>),
}

/// Parses a raw query string: `term`, `types[0]=a` / `types[]=a` / `types=a`,
/// `filters[kind]=x` / `filters[kind][0]=x`, `pageCursor`, `pageLimit`. Other keys are ignored.
pub(crate) fn parse_query(raw: &str, limits: QueryLimits) -> Result<SearchQuery, SearchError> {
    let mut query = SearchQuery::default();
    let mut indexed_types: BTreeMap<usize, String> = BTreeMap::new();
    let mut plain_types: Vec<String> = Vec::new();
    let mut filters: BTreeMap<String, FilterAcc> = BTreeMap::new();
    let mut page_limit: Option<String> = None;
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let (key, value) = (key.into_owned(), value.into_owned());
        match key.as_str() {
            "term" => query.term = value,
            "pageCursor" => query.page_cursor = (!value.is_empty()).then_some(value),
            "pageLimit" => page_limit = Some(value),
            "types" | "types[]" => plain_types.push(value),
            _ => {
                if let Some(rest) = key.strip_prefix("types[") {
                    let index = rest
                        .strip_suffix(']')
                        .and_then(|i| i.parse::<usize>().ok())
                        .ok_or_else(|| {
                            SearchError::invalid_query(format!("invalid parameter '{key}'"))
                        })?;
                    indexed_types.insert(index, value);
                } else if let Some(rest) = key.strip_prefix("filters[") {
                    add_filter(&mut filters, &key, rest, value)?;
                }
            }
        }
    }
    query.types = indexed_types.into_values().chain(plain_types).collect();
    query.filters = filters
        .into_iter()
        .map(|(k, acc)| {
            let value = match acc {
                FilterAcc::One(v) => FilterValue::One(v),
                FilterAcc::Many(indexed, plain) => {
                    FilterValue::AnyOf(indexed.into_values().chain(plain).collect())
                }
            };
            (k, value)
        })
        .collect();
    if query.term.chars().count() > limits.max_term_length {
        return Err(SearchError::invalid_query(format!(
            "the term length \"{}\" is greater than \"{}\"",
            query.term.chars().count(),
            limits.max_term_length
        )));
    }
    let limit = match page_limit {
        None => limits.default_page_limit,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(SearchError::invalid_query(format!(
                    "the page limit \"{v}\" is not a positive integer"
                )));
            }
        },
    };
    if limit > limits.max_page_limit {
        return Err(SearchError::invalid_query(format!(
            "the page limit \"{limit}\" is greater than \"{}\"",
            limits.max_page_limit
        )));
    }
    query.page_limit = Some(limit);
    Ok(query)
}

fn add_filter(
    filters: &mut BTreeMap<String, FilterAcc>,
    key: &str,
    rest: &str,
    value: String,
) -> Result<(), SearchError> {
    let bad = || SearchError::invalid_query(format!("invalid parameter '{key}'"));
    let close = rest.find(']').ok_or_else(bad)?;
    let field = &rest[..close];
    if field.is_empty() {
        return Err(bad());
    }
    let tail = &rest[close + 1..];
    if tail.is_empty() {
        let next = match filters.remove(field) {
            None => FilterAcc::One(value),
            Some(FilterAcc::One(prev)) => FilterAcc::Many(BTreeMap::new(), vec![prev, value]),
            Some(FilterAcc::Many(indexed, mut plain)) => {
                plain.push(value);
                FilterAcc::Many(indexed, plain)
            }
        };
        filters.insert(field.to_string(), next);
        return Ok(());
    }
    let inner = tail
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(bad)?;
    let acc = filters
        .entry(field.to_string())
        .or_insert_with(|| FilterAcc::Many(BTreeMap::new(), Vec::new()));
    if let FilterAcc::One(prev) = acc {
        *acc = FilterAcc::Many(BTreeMap::new(), vec![std::mem::take(prev)]);
    }
    if let FilterAcc::Many(indexed, plain) = acc {
        if inner.is_empty() {
            plain.push(value);
        } else {
            let i = inner.parse::<usize>().map_err(|_| bad())?;
            indexed.insert(i, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: QueryLimits = QueryLimits {
        default_page_limit: 25,
        max_page_limit: 100,
        max_term_length: 100,
    };

    #[test]
    fn bracket_forms() {
        let q = parse_query(
            "term=pet&types%5B0%5D=software-catalog&types%5B1%5D=techdocs&filters%5Bkind%5D=Component&filters%5Blifecycle%5D%5B0%5D=production&filters%5Blifecycle%5D%5B1%5D=experimental&pageLimit=10&other=x",
            LIMITS,
        )
        .unwrap();
        assert_eq!(q.term, "pet");
        assert_eq!(q.types, vec!["software-catalog", "techdocs"]);
        assert_eq!(q.filters["kind"], FilterValue::One("Component".into()));
        assert_eq!(
            q.filters["lifecycle"],
            FilterValue::AnyOf(vec!["production".into(), "experimental".into()])
        );
        assert_eq!(q.page_limit, Some(10));
    }

    #[test]
    fn repeated_plain_filter_becomes_any_of() {
        let q = parse_query("filters[kind]=A&filters[kind]=B&types[]=x&types=y", LIMITS).unwrap();
        assert_eq!(
            q.filters["kind"],
            FilterValue::AnyOf(vec!["A".into(), "B".into()])
        );
        assert_eq!(q.types, vec!["x", "y"]);
        assert_eq!(q.page_limit, Some(25));
    }

    #[test]
    fn bad_limits_are_input_errors() {
        for raw in [
            "pageLimit=101",
            "pageLimit=abc",
            "pageLimit=0",
            "types[x]=a",
            "filters[]=a",
        ] {
            assert!(
                matches!(
                    parse_query(raw, LIMITS),
                    Err(SearchError::InvalidQuery { .. })
                ),
                "{raw}"
            );
        }
        let long = format!("term={}", "a".repeat(101));
        assert!(matches!(
            parse_query(&long, LIMITS),
            Err(SearchError::InvalidQuery { .. })
        ));
    }
}
