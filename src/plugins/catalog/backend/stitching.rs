//! Stitching: the final entity (processed entity + relations + status) and its search rows.

use serde_json::{Map, Value, json};

use crate::plugins::catalog::common::{ANNOTATION_ORPHAN, DEFAULT_NAMESPACE};

use super::locations::sha1_hex;

/// Longest key or value kept in the search table.
const MAX_SEARCH_LEN: usize = 200;

/// Builds the final entity from its processed form; returns the entity JSON text and its hash
/// (also its etag).
pub(crate) fn build_final(
    processed: &str,
    errors: Option<&str>,
    mut relations: Vec<(String, String)>,
    orphan: bool,
) -> Result<(Value, String), serde_json::Error> {
    let mut entity: Value = serde_json::from_str(processed)?;
    relations.sort();
    relations.dedup();
    let relations: Vec<Value> = relations
        .into_iter()
        .map(|(t, target)| json!({ "type": t, "targetRef": target }))
        .collect();
    if let Value::Object(root) = &mut entity {
        root.insert("relations".into(), Value::Array(relations));
        let items: Vec<Value> = match errors {
            Some(text) => serde_json::from_str(text)?,
            None => Vec::new(),
        };
        if items.is_empty() {
            root.remove("status");
        } else {
            root.insert("status".into(), json!({ "items": items }));
        }
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.remove("etag");
            if orphan {
                let annotations = meta
                    .entry("annotations")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(a) = annotations {
                    a.insert(ANNOTATION_ORPHAN.into(), Value::String("true".into()));
                }
            }
        }
    }
    let hash = sha1_hex(serde_json::to_string(&entity)?.as_bytes());
    if let Some(Value::Object(meta)) = entity.get_mut("metadata") {
        meta.insert("etag".into(), Value::String(hash.clone()));
    }
    Ok((entity, hash))
}

fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// A search row: `(key, lowercased value, original value, whether the value is a string item
/// of an array)`. The original value is `None` when it is the lowercased value itself (or
/// when there is no value).
pub(crate) type SearchRow = (String, Option<String>, Option<String>, bool);

/// The search rows of a final entity, as Backstage's `buildEntitySearch` makes them, except
/// one kind: for each string item `s` of an array at `path`, Backstage also adds the key
/// `path.s` with the value `true`. Those rows are not made here; the row of the item itself
/// is marked instead, and the index answers `path.s` from it (see `index/state.rs`).
pub(crate) fn search_rows(entity: &Value) -> Vec<SearchRow> {
    let mut raw: Vec<(String, Option<String>, bool)> = Vec::new();
    visit("", entity, &mut raw);
    let meta = entity.get("metadata");
    let meta_str = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    raw.push(("metadata.name".into(), meta_str("name"), false));
    raw.push((
        "metadata.namespace".into(),
        Some(meta_str("namespace").unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())),
        false,
    ));
    raw.push(("metadata.uid".into(), meta_str("uid"), false));
    if let Some(Value::Array(relations)) = entity.get("relations") {
        for r in relations {
            if let (Some(t), Some(target)) = (
                r.get("type").and_then(Value::as_str),
                r.get("targetRef").and_then(Value::as_str),
            ) {
                raw.push((format!("relations.{t}"), Some(target.to_owned()), false));
            }
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    for (key, value, item) in raw {
        let key = lower(&key);
        if key.len() > MAX_SEARCH_LEN {
            continue;
        }
        match value {
            Some(v) if v.len() <= MAX_SEARCH_LEN => {
                // Most values are lowercase already: then the one string serves as both.
                if v.is_ascii() && !v.bytes().any(|b| b.is_ascii_uppercase()) {
                    out.push((key, Some(v), None, item));
                } else {
                    let lowered = lower(&v);
                    let original = (lowered != v).then_some(v);
                    out.push((key, Some(lowered), original, item));
                }
            }
            _ => out.push((key, None, None, false)),
        }
    }
    out
}

const SPECIAL_KEYS: [&str; 7] = [
    "attachments",
    "relations",
    "status",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.etag",
];

fn visit(path: &str, value: &Value, out: &mut Vec<(String, Option<String>, bool)>) {
    if SPECIAL_KEYS.contains(&path) {
        return;
    }
    match value {
        Value::Null => out.push((path.to_owned(), None, false)),
        Value::String(s) => out.push((path.to_owned(), Some(s.clone()), false)),
        Value::Bool(b) => out.push((path.to_owned(), Some(b.to_string()), false)),
        Value::Number(n) => out.push((path.to_owned(), Some(n.to_string()), false)),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => out.push((path.to_owned(), Some(s.clone()), true)),
                    other => visit(path, other, out),
                }
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                visit(&p, v, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_entity_has_sorted_relations_status_and_etag() {
        let processed = r#"{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"name":"a","uid":"u1"},"spec":{"owner":"t"}}"#;
        let errors =
            r#"[{"type":"backstage.io/catalog-processing","level":"error","message":"x"}]"#;
        let (e, hash) = build_final(
            processed,
            Some(errors),
            vec![
                ("ownedBy".into(), "group:default/t".into()),
                ("dependsOn".into(), "resource:default/db".into()),
            ],
            true,
        )
        .unwrap();
        assert_eq!(e["relations"][0]["type"], "dependsOn");
        assert_eq!(e["status"]["items"][0]["message"], "x");
        assert_eq!(e["metadata"]["etag"], hash.as_str());
        assert_eq!(e["metadata"]["annotations"]["backstage.io/orphan"], "true");
        let (_, again) = build_final(
            processed,
            Some(errors),
            vec![
                ("ownedBy".into(), "group:default/t".into()),
                ("dependsOn".into(), "resource:default/db".into()),
            ],
            true,
        )
        .unwrap();
        assert_eq!(hash, again);
    }

    #[test]
    fn search_rows_follow_backstage_rules() {
        let e = json!({
            "kind": "Component",
            "metadata": { "name": "Foo", "tags": ["Java"], "annotations": { "backstage.io/x": "Y" } },
            "spec": { "type": "service" },
            "relations": [{ "type": "ownedBy", "targetRef": "group:default/team-a" }]
        });
        let rows = search_rows(&e);
        let has = |k: &str, v: &str| {
            rows.iter()
                .any(|(key, val, _, _)| key == k && val.as_deref() == Some(v))
        };
        assert!(has("kind", "component"));
        assert!(has("metadata.name", "foo"));
        assert!(has("metadata.namespace", "default"));
        assert!(has("metadata.tags", "java"));
        // The item key `metadata.tags.java` is answered by the index from the marked item.
        assert!(!has("metadata.tags.java", "true"));
        assert!(
            rows.iter()
                .any(|(k, _, _, item)| k == "metadata.tags" && *item)
        );
        assert!(rows.iter().any(|(k, _, _, item)| k == "kind" && !*item));
        assert!(has("metadata.annotations.backstage.io/x", "y"));
        assert!(has("relations.ownedby", "group:default/team-a"));
        assert!(
            rows.iter()
                .any(|(k, _, o, _)| k == "kind" && o.as_deref() == Some("Component"))
        );
        // A value spelled in lowercase is not stored twice.
        assert!(rows.iter().any(|(k, v, o, _)| k == "spec.type"
            && v.as_deref() == Some("service")
            && o.is_none()));
    }
}
