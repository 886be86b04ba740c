//! Query parameters of the entity endpoints: `filter`, `fields`, `order`/`orderField`,
//! full-text filters and cursors; and the SQL they turn into.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::CatalogError;
use super::index::{Position, SortKey};
use super::predicate::Predicate;

fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// One condition: the key exists (`values` empty and `exists`) or has one of `values`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Condition {
    /// Lowercased key.
    pub(crate) key: String,
    /// Lowercased accepted values; empty means "the key exists".
    pub(crate) values: Vec<String>,
}

/// Alternatives (one per `filter` param), each a list of conditions that must all hold.
pub(crate) type Filter = Vec<Vec<Condition>>;

/// Parses repeated `filter` params (Backstage's `parseEntityFilterParams`).
pub(crate) fn parse_filters(params: &[String]) -> Result<Filter, CatalogError> {
    let mut out = Vec::new();
    for param in params {
        let mut conditions: Vec<Condition> = Vec::new();
        for statement in param.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = match statement.find('=') {
                Some(i) => (statement[..i].trim(), Some(statement[i + 1..].trim())),
                None => (statement, None),
            };
            if key.is_empty() {
                return Err(CatalogError::input(
                    "filter",
                    format!(
                        "{statement} is not a valid statement (expected a string on the form a=b or a= or a)"
                    ),
                ));
            }
            let key = lower(key);
            let idx = match conditions.iter().position(|c| c.key == key) {
                Some(i) => i,
                None => {
                    conditions.push(Condition {
                        key,
                        values: Vec::new(),
                    });
                    conditions.len() - 1
                }
            };
            if let Some(v) = value {
                conditions[idx].values.push(lower(v));
            }
        }
        if !conditions.is_empty() {
            out.push(conditions);
        }
    }
    Ok(out)
}

/// A full-text filter: `term` in any value of `fields` (all keys when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FullText {
    pub(crate) term: String,
    pub(crate) fields: Vec<String>,
}

/// A sort field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Order {
    pub(crate) field: String,
    pub(crate) desc: bool,
}

/// Parses `order=asc:<field>` params (GET `/entities`).
pub(crate) fn parse_order(params: &[String]) -> Result<Vec<Order>, CatalogError> {
    params
        .iter()
        .map(|p| {
            let (dir, field) = p.split_once(':').unwrap_or(("", ""));
            let desc = match dir {
                "asc" => false,
                "desc" => true,
                _ => {
                    return Err(CatalogError::input(
                        "order",
                        format!("{p} is not on the form asc:<field> or desc:<field>"),
                    ));
                }
            };
            if field.trim().is_empty() {
                return Err(CatalogError::input(
                    "order",
                    format!("{p} has an empty field"),
                ));
            }
            Ok(Order {
                field: lower(field.trim()),
                desc,
            })
        })
        .collect()
}

/// Parses `orderField=<field>[,asc|desc]` params (GET `/entities/by-query`).
pub(crate) fn parse_order_fields(params: &[String]) -> Result<Vec<Order>, CatalogError> {
    params
        .iter()
        .map(|p| {
            let (field, dir) = match p.split_once(',') {
                Some((f, d)) => (f.trim(), d.trim()),
                None => (p.trim(), "asc"),
            };
            if field.is_empty() {
                return Err(CatalogError::input(
                    "orderField",
                    format!("{p} has an empty field"),
                ));
            }
            let desc = match dir {
                "asc" => false,
                "desc" => true,
                other => {
                    return Err(CatalogError::input(
                        "orderField",
                        format!("order {other} of {p} is not asc or desc"),
                    ));
                }
            };
            Ok(Order {
                field: lower(field),
                desc,
            })
        })
        .collect()
}

/// Parses `fields` params: comma lists, possibly repeated.
pub(crate) fn parse_fields(params: &[String]) -> Vec<String> {
    params
        .iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Keeps only the given field paths (subtrees) of an entity.
pub(crate) fn project(entity: &Value, fields: &[String]) -> Value {
    let mut out = Value::Object(Map::new());
    for field in fields {
        let parts: Vec<&str> = field.split('.').collect();
        let mut src = entity;
        let mut found = true;
        for p in &parts {
            match src.get(p) {
                Some(v) => src = v,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            continue;
        }
        let mut dst = &mut out;
        for (i, p) in parts.iter().enumerate() {
            let Value::Object(map) = dst else { break };
            if i == parts.len() - 1 {
                map.insert((*p).to_owned(), src.clone());
                break;
            }
            dst = map
                .entry((*p).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    out
}

/// The state a `by-query` cursor carries: the query, and the sort key of the item the next
/// page starts after (or the previous page ends before), so pages neither repeat nor skip
/// items when the catalog changes between calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    #[serde(rename = "q")]
    pub(crate) query: Predicate,
    #[serde(rename = "o")]
    pub(crate) order: Vec<Order>,
    #[serde(rename = "t", default)]
    pub(crate) full_text: Option<FullText>,
    #[serde(rename = "a", default)]
    pub(crate) after: Option<SortKey>,
    #[serde(rename = "b", default)]
    pub(crate) before: Option<SortKey>,
}

/// Encodes an opaque paging token: URL-safe base64 of its JSON.
pub(crate) fn encode_token<T: Serialize>(token: &T) -> String {
    let json = serde_json::to_vec(token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a token of [`encode_token`]; errors are input errors naming `param`.
pub(crate) fn decode_token<T: serde::de::DeserializeOwned>(
    s: &str,
    param: &str,
) -> Result<T, CatalogError> {
    let malformed =
        |e: &dyn std::fmt::Display| CatalogError::input(param, format!("malformed cursor: {e}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| malformed(&e))?;
    serde_json::from_slice(&bytes).map_err(|e| malformed(&e))
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        encode_token(self)
    }

    pub(crate) fn decode(s: &str) -> Result<Self, CatalogError> {
        let cursor: Self = decode_token(s, "cursor")?;
        cursor.query.check_depth("cursor")?;
        Ok(cursor)
    }

    /// Where the page this cursor points at starts.
    pub(crate) fn position(&self) -> Position {
        match (&self.after, &self.before) {
            (Some(a), _) => Position::After(a.clone()),
            (None, Some(b)) => Position::Before(b.clone()),
            (None, None) => Position::Start,
        }
    }
}

/// The legacy `after` cursor of GET `/entities`.
#[derive(Serialize, Deserialize)]
struct AfterToken {
    offset: u64,
}

/// Encodes the legacy `after` cursor of GET `/entities`.
pub(crate) fn encode_after(offset: u64) -> String {
    encode_token(&AfterToken { offset })
}

/// Decodes the legacy `after` cursor.
pub(crate) fn decode_after(s: &str) -> Result<u64, CatalogError> {
    decode_token::<AfterToken>(s, "after").map(|t| t.offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cursor_predicate_deeper_than_a_request_may_nest_is_refused() {
        let nested = |depth: usize| {
            let mut p = Predicate::In {
                key: "kind".into(),
                values: vec!["component".into()],
            };
            for _ in 0..depth {
                p = Predicate::Not(Box::new(p));
            }
            Cursor {
                query: p,
                order: Vec::new(),
                full_text: None,
                after: None,
                before: None,
            }
            .encode()
        };
        assert!(Cursor::decode(&nested(32)).is_ok());
        let err = Cursor::decode(&nested(40)).unwrap_err().to_string();
        assert!(err.contains("nested deeper than 32"), "{err}");
    }

    #[test]
    fn filters_and_within_or_across_in_for_repeated_keys() {
        let f = parse_filters(&[
            "kind=Component,spec.type=service".into(),
            "kind=api,kind=Group".into(),
        ])
        .unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0][0],
            Condition {
                key: "kind".into(),
                values: vec!["component".into()]
            }
        );
        assert_eq!(
            f[1],
            vec![Condition {
                key: "kind".into(),
                values: vec!["api".into(), "group".into()]
            }]
        );
        let exists = parse_filters(&["metadata.annotations.backstage.io/orphan".into()]).unwrap();
        assert!(exists[0][0].values.is_empty());
        let empty_value = parse_filters(&["spec.type=".into()]).unwrap();
        assert_eq!(empty_value[0][0].values, vec![String::new()]);
    }

    #[test]
    fn empty_key_is_an_input_error() {
        assert!(matches!(
            parse_filters(&["=x".into()]),
            Err(CatalogError::Input { .. })
        ));
    }

    #[test]
    fn order_params_parse_and_reject_garbage() {
        assert_eq!(
            parse_order(&["desc:metadata.name".into()]).unwrap()[0],
            Order {
                field: "metadata.name".into(),
                desc: true
            }
        );
        assert!(parse_order(&["metadata.name".into()]).is_err());
        assert!(parse_order_fields(&["metadata.name,desc".into()]).unwrap()[0].desc);
        assert!(parse_order_fields(&["metadata.name,up".into()]).is_err());
    }

    #[test]
    fn projection_keeps_subtrees() {
        let e = json!({ "kind": "Component", "metadata": { "name": "a", "namespace": "default", "tags": ["x"] }, "spec": {} });
        let p = project(
            &e,
            &[
                "kind".into(),
                "metadata.name".into(),
                "metadata.missing".into(),
            ],
        );
        assert_eq!(
            p,
            json!({ "kind": "Component", "metadata": { "name": "a" } })
        );
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            query: Predicate::from_filter(&parse_filters(&["kind=component".into()]).unwrap()),
            order: vec![],
            full_text: None,
            after: Some(SortKey {
                values: vec![None, Some("x".into())],
                entity_ref: "component:default/a".into(),
            }),
            before: None,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert_eq!(decode_after(&encode_after(7)).unwrap(), 7);
        assert!(Cursor::decode("!!").is_err());
    }
}
