//! The registered-locations operations added to Backstage's catalog API later:
//! `POST /locations/by-query` (predicate query with keyset cursors) and
//! `PUT /locations/{id}` (replace a location's type and target).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::plugins::catalog::node::{DeferredEntity, EntityProviderMutation, LocationSpec};

use crate::plugins::catalog::common::permissions::{
    CATALOG_LOCATION_CREATE, CATALOG_LOCATION_DELETE,
};

use super::error::CatalogError;
use super::locations::{absolute_file_target, generated_location_entity};
use super::permissions::Caller;
use super::predicate::Predicate;
use super::query::{decode_token, encode_token};
use super::service::{CatalogService, LOCATION_STORE_PROVIDER};
use super::store::{self, LocationRow};

/// Page size of `POST /locations/by-query` when the request gives none (Backstage's
/// `parseLocationQuery` default).
pub(crate) const DEFAULT_LOCATION_QUERY_LIMIT: u64 = 1000;

/// A location's position in the query order: `(type, target, id)`, compared byte-wise so
/// SQLite and PostgreSQL (whose collations differ) page identically.
type SortKey = (String, String, String);

fn sort_key(row: &LocationRow) -> SortKey {
    (
        row.location_type.clone(),
        row.target.clone(),
        row.id.clone(),
    )
}

/// The opaque `cursor` of `POST /locations/by-query`: the query it continues, the page size
/// and the sort key of the last location returned. Pages continue strictly after that key, so
/// locations added or removed between calls never make a page repeat or skip one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    query: Option<Value>,
    limit: u64,
    after: SortKey,
}

impl LocationCursor {
    fn encode(&self) -> String {
        encode_token(self)
    }

    fn decode(s: &str) -> Result<Self, CatalogError> {
        if s.is_empty() {
            return Err(CatalogError::input("cursor", "cursor must not be empty"));
        }
        let cursor: Self = decode_token(s, "cursor")?;
        if cursor.limit == 0 {
            return Err(CatalogError::input(
                "cursor",
                "malformed cursor: limit must be at least 1",
            ));
        }
        Ok(cursor)
    }
}

/// A parsed `POST /locations/by-query` body.
#[derive(Debug, Clone)]
pub(crate) struct LocationQuery {
    predicate: Predicate,
    /// The predicate as given, carried in the cursors.
    query: Option<Value>,
    limit: u64,
    after: Option<SortKey>,
}

impl LocationQuery {
    /// Parses `{ cursor?, limit?, query? }`; with a cursor, the query comes from the cursor.
    /// Errors name the broken field.
    pub(crate) fn parse(body: &Value) -> Result<Self, CatalogError> {
        let empty = Map::new();
        let map = match body {
            Value::Object(map) => map,
            Value::Null => &empty,
            _ => {
                return Err(CatalogError::input(
                    "body",
                    "expected a JSON object { cursor?, limit?, query? }",
                ));
            }
        };
        let present = |key: &str| map.get(key).filter(|v| !v.is_null());
        let limit = match present("limit") {
            None => None,
            Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                CatalogError::input("limit", format!("{v} is not an integer of at least 1"))
            })?),
        };
        match present("cursor") {
            Some(Value::String(s)) => {
                let cursor = LocationCursor::decode(s)?;
                let predicate = match &cursor.query {
                    None => Predicate::everything(),
                    Some(q) => Predicate::parse(q, "cursor")?,
                };
                Ok(Self {
                    predicate,
                    query: cursor.query,
                    limit: limit.unwrap_or(cursor.limit),
                    after: Some(cursor.after),
                })
            }
            Some(_) => Err(CatalogError::input("cursor", "expected a string")),
            None => {
                let query = present("query").cloned();
                let predicate = match &query {
                    None => Predicate::everything(),
                    Some(q) => Predicate::parse(q, "query")?,
                };
                Ok(Self {
                    predicate,
                    query,
                    limit: limit.unwrap_or(DEFAULT_LOCATION_QUERY_LIMIT),
                    after: None,
                })
            }
        }
    }

    /// Whether `row` satisfies the predicate over its fields `id`, `type` and `target`.
    fn matches(&self, row: &LocationRow) -> bool {
        if self.predicate.is_everything() {
            return true;
        }
        let id = row.id.to_lowercase();
        let location_type = row.location_type.to_lowercase();
        let target = row.target.to_lowercase();
        self.predicate.matches(&|field: &str| match field {
            "id" => Some(id.as_str()),
            "type" => Some(location_type.as_str()),
            "target" => Some(target.as_str()),
            _ => None,
        })
    }

    /// The page of `rows` this query asks for: `{items, totalItems, pageInfo}`.
    fn page(&self, rows: Vec<LocationRow>) -> Value {
        let mut matching: Vec<(SortKey, LocationRow)> = rows
            .into_iter()
            .filter(|r| self.matches(r))
            .map(|r| (sort_key(&r), r))
            .collect();
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        let total = matching.len();
        let start = match &self.after {
            None => 0,
            Some(after) => matching.partition_point(|(key, _)| key <= after),
        };
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let end = start.saturating_add(limit).min(total);
        let page = &matching[start..end];
        let mut page_info = Map::new();
        if end < total {
            if let Some((last, _)) = page.last() {
                let cursor = LocationCursor {
                    query: self.query.clone(),
                    limit: self.limit,
                    after: last.clone(),
                };
                page_info.insert("nextCursor".into(), Value::String(cursor.encode()));
            }
        }
        let items: Vec<Value> = page.iter().map(|(_, r)| r.to_json()).collect();
        json!({ "items": items, "totalItems": total, "pageInfo": page_info })
    }
}

impl CatalogService {
    /// `POST /locations/by-query`: registered locations matching a predicate over `id`, `type`
    /// and `target`, ordered by type, target and id, one page at a time; none for a caller
    /// who may not read locations.
    pub(crate) async fn query_locations(
        &self,
        body: &Value,
        caller: &Caller,
    ) -> Result<Value, CatalogError> {
        let mut query = LocationQuery::parse(body)?;
        query.limit = query.limit.min(self.max_page_limit);
        let rows = if self.may_read_locations(caller).await? {
            store::list_locations(&self.engine.db).await?
        } else {
            Vec::new()
        };
        Ok(query.page(rows))
    }

    /// `PUT /locations/:id`: points a registered location at a new type and target. The
    /// entities of the old target are removed and the new target is ingested, as if the
    /// location had been deleted and registered again under the same id. It needs a user or
    /// service holding both `catalog.location.create` and `catalog.location.delete`.
    pub(crate) async fn update_location(
        &self,
        id: &str,
        location_type: &str,
        target: &str,
        caller: &Caller,
    ) -> Result<LocationRow, CatalogError> {
        caller.user_or_service("updating locations")?;
        for permission in [&CATALOG_LOCATION_CREATE, &CATALOG_LOCATION_DELETE] {
            self.authorizer.require(caller, permission, None).await?;
        }
        if self.readonly {
            return Err(CatalogError::ReadOnly {
                operation: "updating locations",
            });
        }
        super::service::check_location_spec(location_type, target)?;
        self.check_location_type(location_type)?;
        let old = self.location_row(id).await?;
        let target = if location_type == "file" {
            absolute_file_target(target)
        } else {
            target.to_owned()
        };
        let row = LocationRow {
            id: old.id.clone(),
            location_type: location_type.to_owned(),
            target,
        };
        if row == old {
            return Ok(row);
        }
        let spec = LocationSpec::new(row.location_type.clone(), row.target.clone());
        if let Some(other) =
            store::location_by_spec(&self.engine.db, &spec.location_type, &spec.target).await?
        {
            if other.id != row.id {
                return Err(CatalogError::Conflict {
                    what: "location",
                    id: spec.to_string(),
                });
            }
        }
        // Other types belong to processors of modules; the catalog reads file and url ones.
        let built_in = matches!(spec.location_type.as_str(), "file" | "url");
        if built_in && self.engine.reader.read(&spec).await?.is_none() {
            return Err(CatalogError::Read {
                location: spec.to_string(),
                message: "not found".into(),
            });
        }
        if !store::update_location(&self.engine.db, &row).await? {
            return Err(CatalogError::not_found("location", id));
        }
        let old_spec = LocationSpec::new(old.location_type, old.target);
        self.engine
            .apply_mutation(
                LOCATION_STORE_PROVIDER,
                EntityProviderMutation::Delta {
                    added: vec![DeferredEntity::new(
                        generated_location_entity(&spec),
                        Some(spec.to_string()),
                    )],
                    removed: vec![DeferredEntity::new(
                        generated_location_entity(&old_spec),
                        Some(old_spec.to_string()),
                    )],
                },
            )
            .await?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, t: &str, target: &str) -> LocationRow {
        LocationRow {
            id: id.into(),
            location_type: t.into(),
            target: target.into(),
        }
    }

    fn ids(page: &Value) -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn pages_follow_type_target_id_and_survive_inserts() {
        let mut rows = vec![
            row("3", "url", "https://b"),
            row("1", "file", "/z"),
            row("2", "url", "https://a"),
            row("4", "url", "https://a"),
        ];
        let q = LocationQuery::parse(&json!({ "limit": 2, "query": { "type": "URL" } })).unwrap();
        let first = q.page(rows.clone());
        assert_eq!(ids(&first), ["2", "4"]);
        assert_eq!(first["totalItems"], 3);
        let cursor = first["pageInfo"]["nextCursor"].as_str().unwrap().to_owned();
        // A location sorting before the cursor appears meanwhile: the next page neither
        // repeats nor skips.
        rows.push(row("0", "url", "https://0"));
        let next = LocationQuery::parse(&json!({ "cursor": cursor })).unwrap();
        let second = next.page(rows);
        assert_eq!(ids(&second), ["3"]);
        assert_eq!(second["totalItems"], 4);
        assert!(second["pageInfo"].get("nextCursor").is_none());
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let cases = [
            (json!([]), "body"),
            (json!({ "limit": 0 }), "limit"),
            (json!({ "limit": "5" }), "limit"),
            (json!({ "cursor": 5 }), "cursor"),
            (json!({ "cursor": "" }), "cursor"),
            (json!({ "cursor": "!!!" }), "cursor"),
            (json!({ "cursor": "e30" }), "cursor"), // {}
            (json!({ "query": { "$bad": 1 } }), "query"),
            (json!({ "query": [] }), "query"),
        ];
        for (body, field) in cases {
            let e = LocationQuery::parse(&body).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid {field}:")),
                "{body}: {e} should name {field}"
            );
        }
        let q = LocationQuery::parse(&json!({})).unwrap();
        assert_eq!(q.limit, DEFAULT_LOCATION_QUERY_LIMIT);
    }
}
