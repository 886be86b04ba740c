//! Tests of the in-memory index, and a measurement of what it costs per entity.

use super::*;
use serde_json::json;

use std::collections::HashMap;

use super::super::query::{FullText, Order};
use super::postings::FEW_SLOTS;
use super::sync::LOAD_PAGE;

pub(super) fn entity(kind: &str, name: &str, spec_type: &str, tags: &[&str]) -> IndexedEntity {
    let v = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": { "name": name, "namespace": "default", "uid": format!("uid-{name}"), "tags": tags },
        "spec": { "type": spec_type },
    });
    // A codec of its own: the entity is compressed with the preset dictionary, which every
    // index reads.
    IndexedEntity::new(
        &Codec::default(),
        format!("uid-{name}"),
        format!("{}:default/{}", kind.to_lowercase(), name),
        format!("h-{name}"),
        &v.to_string(),
        search_rows(&v),
    )
}

pub(super) fn index(n: usize) -> EntityIndex {
    let idx = EntityIndex::default();
    let mut all = Vec::new();
    for i in 0..n {
        let (kind, t) = if i % 3 == 0 {
            ("API", "openapi")
        } else {
            ("Component", if i % 2 == 0 { "service" } else { "Website" })
        };
        let tags: &[&str] = if i % 5 == 0 {
            &["java", "web"]
        } else {
            &["go"]
        };
        all.push(entity(kind, &format!("e{i:03}"), t, tags));
    }
    idx.apply(all, &[], None);
    idx
}

pub(super) fn names(page: &Page) -> Vec<String> {
    page.items
        .iter()
        .map(|t| {
            serde_json::from_str::<Value>(t).unwrap()["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// How many entities a full-text search of `term` in `metadata.name` matches.
fn name_matches(idx: &EntityIndex, term: &str) -> u64 {
    let t = FullText {
        term: term.into(),
        fields: vec!["metadata.name".into()],
    };
    idx.page(
        &Predicate::everything(),
        Some(&t),
        &[],
        &Position::Start,
        None,
    )
    .total
}

fn pred(v: Value) -> Predicate {
    Predicate::parse(&v, "query").unwrap()
}

#[test]
fn filters_count_and_lookup() {
    let idx = index(30);
    assert_eq!(idx.len(), 30);
    assert_eq!(idx.count(&pred(json!({ "kind": "api" }))), 10);
    assert_eq!(
        idx.count(&pred(
            json!({ "kind": "component", "spec.type": "website" })
        )),
        10
    );
    assert_eq!(idx.count(&pred(json!({ "metadata.tags": "java" }))), 6);
    assert_eq!(idx.count(&pred(json!({ "$not": { "kind": "api" } }))), 20);
    assert_eq!(
        idx.count(&pred(json!({ "metadata.name": { "$hasPrefix": "e00" } }))),
        10
    );
    // Backstage's item keys: `metadata.tags.java` holds (as `true`) where `java` is a tag.
    assert_eq!(idx.count(&pred(json!({ "metadata.tags.java": "true" }))), 6);
    assert_eq!(idx.count(&pred(json!({ "metadata.tags.JAVA": true }))), 6);
    assert_eq!(
        idx.count(&pred(json!({ "metadata.tags.java": { "$exists": true } }))),
        6
    );
    assert_eq!(
        idx.count(&pred(json!({ "metadata.tags.java": { "$exists": false } }))),
        24
    );
    assert_eq!(
        idx.count(&pred(json!({ "metadata.tags.java": "false" }))),
        0
    );
    // A plain string field has no item keys.
    assert_eq!(idx.count(&pred(json!({ "spec.type.service": "true" }))), 0);
    assert_eq!(
        idx.facet("metadata.tags.web", &pred(json!({ "kind": "api" }))),
        vec![("true".to_owned(), 2)]
    );
    let t = FullText {
        term: "tru".into(),
        fields: vec!["metadata.tags.go".into()],
    };
    assert_eq!(
        idx.page(
            &Predicate::everything(),
            Some(&t),
            &[],
            &Position::Start,
            None
        )
        .total,
        24
    );
    assert!(idx.by_ref("api:default/e000", None).is_some());
    assert!(idx.by_uid("uid-e001", None).is_some());
    assert!(idx.by_ref("api:default/nope", None).is_none());
    let got = idx.by_refs(
        &[
            "component:default/e001".into(),
            "api:default/e000".into(),
            "x:y/z".into(),
        ],
        &pred(json!({ "kind": "component" })),
    );
    assert!(got[0].is_some() && got[1].is_none() && got[2].is_none());
}

#[test]
fn updates_and_removals_keep_postings_exact() {
    let idx = index(30);
    // e001 becomes an API; e002 goes away.
    idx.apply(
        vec![entity("Component", "e001", "library", &[])],
        &["uid-e002".into()],
        None,
    );
    assert_eq!(idx.len(), 29);
    assert_eq!(idx.count(&pred(json!({ "spec.type": "library" }))), 1);
    assert_eq!(idx.count(&pred(json!({ "spec.type": "website" }))), 9);
    assert_eq!(idx.count(&pred(json!({ "spec.type": "service" }))), 9);
    assert!(idx.by_uid("uid-e002", None).is_none());
    // Removing everything leaves no keys behind.
    let ids: Vec<String> = (0..30).map(|i| format!("uid-e{i:03}")).collect();
    idx.apply(Vec::new(), &ids, None);
    let s = idx.state.read();
    assert!(s.keys.is_empty() && s.strings.len() == 0 && s.by_ref.is_empty());
}

#[test]
fn postings_grow_into_bitmaps_and_shrink_back_exactly() {
    let idx = EntityIndex::default();
    let n = FEW_SLOTS * 3;
    let all: Vec<IndexedEntity> = (0..n)
        .map(|i| entity("Component", &format!("p{i:03}"), "service", &["shared"]))
        .collect();
    idx.apply(all, &[], None);
    let shared = pred(json!({ "metadata.tags": "shared" }));
    assert_eq!(idx.count(&shared) as usize, n);
    // Remove all but a few: the posting goes from bitmap back to a handful of slots.
    let gone: Vec<String> = (3..n).map(|i| format!("uid-p{i:03}")).collect();
    idx.apply(Vec::new(), &gone, None);
    assert_eq!(idx.count(&shared), 3);
    assert_eq!(
        idx.facet(
            "metadata.tags",
            &pred(json!({ "metadata.name": { "$in": ["p000", "p002"] } }))
        ),
        vec![("shared".to_owned(), 2)]
    );
    // And across the small/large boundary again.
    let back: Vec<IndexedEntity> = (3..FEW_SLOTS + 5)
        .map(|i| entity("Component", &format!("p{i:03}"), "service", &["shared"]))
        .collect();
    idx.apply(back, &[], None);
    assert_eq!(idx.count(&shared) as usize, FEW_SLOTS + 5);
    let page = idx.page(&shared, None, &[], &Position::Start, Some(5));
    assert_eq!(page.total as usize, FEW_SLOTS + 5);
    assert!(page.items[0].contains("p000"));
}

#[tokio::test]
async fn load_reads_every_stored_entity_page_by_page() {
    let db = crate::services::database::DatabaseManager::in_memory()
        .for_plugin("catalog")
        .await
        .unwrap();
    super::super::store::migrate(&db).await.unwrap();
    let n = LOAD_PAGE as usize * 2 + 7;
    let rows: Vec<super::super::store::FinalWrite> = (0..n)
        .map(|i| {
            let e = entity("Component", &format!("l{i:05}"), "service", &[]);
            super::super::store::FinalWrite {
                entity_id: e.entity_id,
                entity_ref: e.entity_ref,
                hash: e.hash,
                json: Codec::default().decompress(&e.compressed_json),
            }
        })
        .collect();
    let mut tx = db.begin().await.unwrap();
    super::super::store::write_finals(&mut tx, rows, &HashMap::new())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let idx = EntityIndex::default();
    idx.load(&db, &crate::services::logger::CapturingLogger::new())
        .await
        .unwrap();
    assert_eq!(idx.len(), n);
    assert!(idx.by_uid("uid-l00000", None).is_some());
    assert!(
        idx.by_ref(&format!("component:default/l{:05}", n - 1), None)
            .is_some()
    );
    assert_eq!(
        idx.count(&pred(json!({ "spec.type": "service" }))) as usize,
        n
    );
}

#[test]
fn keyset_pages_walk_everything_once_both_ways() {
    let idx = index(47);
    let order = vec![Order {
        field: "spec.type".into(),
        desc: true,
    }];
    let everything = Predicate::everything();
    let mut seen = Vec::new();
    let mut pos = Position::Start;
    let mut pages = Vec::new();
    loop {
        let page = idx.page(&everything, None, &order, &pos, Some(10));
        assert_eq!(page.total, 47);
        seen.extend(names(&page));
        pages.push(names(&page));
        if !page.more {
            break;
        }
        pos = Position::After(page.last.clone().unwrap());
        // Walk back one page and find the previous one again.
        if pages.len() == 2 {
            let back = idx.page(
                &everything,
                None,
                &order,
                &Position::Before(page.first.clone().unwrap()),
                Some(10),
            );
            assert_eq!(names(&back), pages[0]);
        }
    }
    assert_eq!(seen.len(), 47);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 47);
    // Descending by type: website, service, openapi.
    let first = idx.page(&everything, None, &order, &Position::Start, Some(1));
    assert!(first.items[0].contains("Website"));
    let off = idx.page(&everything, None, &[], &Position::Offset(45), Some(10));
    assert_eq!(off.items.len(), 2);
    assert!(!off.more);
}

#[test]
fn full_text_and_facets() {
    let idx = index(30);
    assert_eq!(name_matches(&idx, "E01"), 10);
    let facets = idx.facet("spec.type", &pred(json!({ "kind": "component" })));
    assert_eq!(
        facets,
        vec![("Website".to_owned(), 10), ("service".to_owned(), 10)]
    );
    let tags = idx.facet("metadata.tags", &Predicate::everything());
    assert_eq!(tags[0], ("go".to_owned(), 24));
    // Two spellings of one value are counted apart, with and without a filter, and both
    // counting strategies (per value, per entity) agree.
    idx.apply(vec![entity("Component", "zz", "website", &[])], &[], None);
    let expected = vec![
        ("Website".to_owned(), 10),
        ("service".to_owned(), 10),
        ("website".to_owned(), 1),
    ];
    assert_eq!(
        idx.facet("spec.type", &pred(json!({ "kind": "component" }))),
        expected
    );
    let mut all = idx.facet("spec.type", &Predicate::everything());
    all.retain(|(v, _)| v != "openapi");
    assert_eq!(all, expected);
    let names = idx.facet(
        "metadata.name",
        &pred(json!({ "metadata.name": { "$in": ["zz", "e001"] } })),
    );
    assert_eq!(names, vec![("e001".to_owned(), 1), ("zz".to_owned(), 1)]);
}

mod memory {
    use super::*;

    fn rss_mb() -> f64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }

    /// Prints what the index of a synthetic catalog costs:
    /// `cargo test --features testing --lib index::tests::memory -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn index_memory_per_entity() {
        let n = 100_000;
        let yaml = super::super::super::generate::synthetic_catalog_yaml(n);
        let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml)
            .map(|d| {
                serde_yaml::with::singleton_map_recursive::deserialize(d).unwrap_or(Value::Null)
            })
            .collect();
        drop(yaml);
        let idx = EntityIndex::default();
        let mut entries = Vec::with_capacity(docs.len());
        let mut json_bytes = 0;
        for (i, mut v) in docs.into_iter().enumerate() {
            let kind = v["kind"].as_str().unwrap_or("x").to_lowercase();
            let name = v["metadata"]["name"].as_str().unwrap_or("x").to_owned();
            let uid = format!("{:08x}-1111-2222-3333-{:012x}", i, i);
            v["metadata"]["uid"] = Value::String(uid.clone());
            v["metadata"]["namespace"] = Value::String("default".into());
            v["metadata"]["etag"] = Value::String(format!("{:040x}", i));
            v["metadata"]["annotations"] = serde_json::json!({
                "backstage.io/managed-by-location": format!("file:/tmp/catalog/part-{}.yaml", i / 10_000),
                "backstage.io/managed-by-origin-location": format!("file:/tmp/catalog/part-{}.yaml", i / 10_000),
            });
            v["relations"] = serde_json::json!([
                { "type": "ownedBy", "targetRef": format!("group:default/group-{}", i % 500) },
                { "type": "partOf", "targetRef": format!("system:default/system-{}", i % 2000) },
                { "type": "dependsOn", "targetRef": format!("resource:default/resource-{}", i % 10_000) },
            ]);
            let json = v.to_string();
            json_bytes += json.len();
            entries.push(IndexedEntity::new(
                idx.codec(),
                uid,
                format!("{kind}:default/{name}"),
                format!("{:040x}", i),
                &json,
                search_rows(&v),
            ));
        }
        let rows: usize = entries.iter().map(|e| e.rows.len()).sum();
        let before = rss_mb();
        for chunk in entries.chunks(2000) {
            idx.apply(
                chunk
                    .iter()
                    .map(|e| IndexedEntity {
                        entity_id: e.entity_id.clone(),
                        entity_ref: e.entity_ref.clone(),
                        hash: e.hash.clone(),
                        compressed_json: e.compressed_json.clone(),
                        rows: e.rows.clone(),
                    })
                    .collect(),
                &[],
                None,
            );
        }
        let after = rss_mb();
        let compressed: usize = idx
            .state
            .read()
            .slots
            .iter()
            .flatten()
            .map(|s| s.json.len())
            .sum();
        println!(
            "{n} entities: JSON {:.0} MB ({:.0} B each), compressed {:.0} MB, {rows} search rows; index grew RSS by {:.0} MB ({:.0} B per entity)",
            json_bytes as f64 / 1e6,
            json_bytes as f64 / n as f64,
            compressed as f64 / 1e6,
            after - before,
            (after - before) * 1024.0 * 1024.0 / n as f64
        );
        {
            let s = idx.state.read();
            let postings: usize = s.keys.values().map(|k| k.values.len()).sum();
            let many = s
                .keys
                .values()
                .flat_map(|k| k.values.iter())
                .filter(|(_, p)| p.is_bitmap())
                .count();
            let string_bytes = s.strings.text_bytes();
            println!(
                "strings {} ({:.0} MB of text), keys {}, postings {postings} ({many} bitmaps)",
                s.strings.len(),
                string_bytes as f64 / 1e6,
                s.keys.len(),
            );
        }
        assert_eq!(idx.len(), n);
    }
}

#[test]
fn one_entity_matching_agrees_with_the_index() {
    let idx = index(40);
    let cases = [
        json!({ "kind": "api" }),
        json!({ "kind": { "$in": ["API", "component"] }, "spec.type": "website" }),
        json!({ "$not": { "kind": "api" } }),
        json!({ "metadata.tags": "java" }),
        json!({ "metadata.tags.java": "true" }),
        json!({ "metadata.tags.java": { "$exists": true } }),
        json!({ "metadata.tags.java": { "$exists": false } }),
        json!({ "metadata.tags.go": { "$hasPrefix": "tr" } }),
        json!({ "metadata.name": { "$hasPrefix": "e01" } }),
        json!({ "spec.owner": { "$exists": false } }),
        json!({ "spec.type.service": "true" }),
        json!({ "unknown.key": "x" }),
        json!({ "$any": [{ "kind": "api" }, { "$all": [{ "metadata.tags": "web" }, { "$not": { "spec.type": "service" } }] }] }),
        json!({ "$any": [] }),
        json!({}),
    ];
    let s = idx.state.read();
    for case in cases {
        let p = pred(case.clone());
        let matched = s.eval(&p);
        for slot in &s.live {
            assert_eq!(
                s.slot_matches(slot, &p),
                matched.contains(slot),
                "{case} on slot {slot}"
            );
        }
        // A whole entity's JSON answers the same.
        for slot in s.live.iter().take(12) {
            let e = s.slot(slot).unwrap();
            let v: Value = serde_json::from_str(&idx.codec.decompress(&e.json)).unwrap();
            assert_eq!(entity_matches(&v, &p), matched.contains(slot), "{case}");
        }
    }
    drop(s);
    let visible = pred(json!({ "kind": "api" }));
    assert!(idx.by_ref("api:default/e000", Some(&visible)).is_some());
    assert!(
        idx.by_ref("component:default/e001", Some(&visible))
            .is_none()
    );
    assert!(idx.by_uid("uid-e001", Some(&visible)).is_none());
    assert!(idx.contains("component:default/e001", None));
    assert!(!idx.contains("component:default/e001", Some(&visible)));
}

/// Writes `entities` (and removes `removed`) the way the stitcher does: final rows, then the
/// generation bump with the change log, in one transaction.
async fn commit_change(
    db: &crate::services::database::PluginDatabase,
    entities: &[&IndexedEntity],
    removed: &[String],
) -> (i64, i64) {
    use super::super::store;
    let mut tx = db.begin().await.unwrap();
    let ids: Vec<String> = entities.iter().map(|e| e.entity_id.clone()).collect();
    let refs: Vec<String> = entities.iter().map(|e| e.entity_ref.clone()).collect();
    let existing = store::stored_finals(&mut tx, &refs).await.unwrap();
    let rows: Vec<store::FinalWrite> = entities
        .iter()
        .map(|e| store::FinalWrite {
            entity_id: e.entity_id.clone(),
            entity_ref: e.entity_ref.clone(),
            hash: e.hash.clone(),
            json: Codec::default().decompress(&e.compressed_json),
        })
        .collect();
    store::write_finals(&mut tx, rows, &existing).await.unwrap();
    store::delete_where_in(&mut tx, "final_entities", "entity_id", removed, "delete")
        .await
        .unwrap();
    let generation = store::bump_generation(&mut tx, ids.iter().chain(removed).map(String::as_str))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    generation
}

#[tokio::test]
async fn sync_reads_the_change_log_and_falls_back_when_it_was_pruned() {
    use super::super::store::{self, Retention};
    let db = crate::services::database::DatabaseManager::in_memory()
        .for_plugin("catalog")
        .await
        .unwrap();
    store::migrate(&db).await.unwrap();
    let logger = crate::services::logger::CapturingLogger::new();
    let all: Vec<IndexedEntity> = (0..200)
        .map(|i| entity("Component", &format!("s{i:03}"), "service", &[]))
        .collect();
    commit_change(&db, &all.iter().collect::<Vec<_>>(), &[]).await;
    let follower = EntityIndex::default();
    follower.load(&db, &logger).await.unwrap();
    assert_eq!(follower.len(), 200);

    // One entity changes, one goes: the follower reads two log rows and one entity.
    let changed = entity("Component", "s007", "website", &[]);
    let changed = IndexedEntity {
        hash: "h-s007-v2".into(),
        ..changed
    };
    commit_change(&db, &[&changed], &["uid-s008".to_owned()]).await;
    assert!(follower.sync(&db, &logger).await.unwrap());
    let stats = follower.sync_stats();
    assert_eq!((stats.incremental, stats.full), (1, 0));
    assert_eq!(stats.last_rows_read, 3);
    assert_eq!(follower.len(), 199);
    assert!(
        follower
            .by_uid("uid-s007", None)
            .unwrap()
            .contains("website")
    );
    assert!(follower.by_uid("uid-s008", None).is_none());
    assert!(!follower.sync(&db, &logger).await.unwrap(), "nothing new");

    // Pruned past the follower's generation: it compares every row once.
    let other = entity("Component", "s009", "library", &[]);
    let other = IndexedEntity {
        hash: "h-s009-v2".into(),
        ..other
    };
    commit_change(&db, &[&other], &[]).await;
    let retention = Retention {
        max_age: std::time::Duration::from_secs(3600),
        max_rows: 0,
    };
    let horizon = store::prune_changes(&db, retention).await.unwrap();
    assert_eq!(horizon, Some(store::read_generation(&db).await.unwrap()));
    assert!(follower.sync(&db, &logger).await.unwrap());
    let stats = follower.sync_stats();
    assert_eq!((stats.incremental, stats.full), (1, 1));
    assert_eq!(
        stats.last_rows_read,
        199 + 1,
        "every hash, then the changed entity"
    );
    assert!(
        follower
            .by_uid("uid-s009", None)
            .unwrap()
            .contains("library")
    );
}

#[test]
fn a_local_change_older_than_what_a_sync_loaded_is_dropped() {
    let idx = EntityIndex::default();
    let newer = entity("Component", "x", "website", &[]);
    idx.apply(vec![newer], &[], Some((1, 2)));
    assert_eq!(
        idx.sync_stats().generation,
        0,
        "another writer came in between"
    );
    // As if a sync loaded generation 2's state: a late local apply of generation 1 is dropped.
    *idx.generation.lock() = 2;
    idx.apply(
        vec![entity("Component", "x", "service", &[])],
        &[],
        Some((0, 1)),
    );
    assert!(idx.by_uid("uid-x", None).unwrap().contains("website"));
    idx.apply(Vec::new(), &["uid-x".to_owned()], Some((2, 3)));
    assert!(idx.by_uid("uid-x", None).is_none());
    assert_eq!(idx.sync_stats().generation, 3);
}

/// Keys with many values are scanned in value id order; full text and prefix matches over
/// such a key find exactly what a look at every name finds.
#[test]
fn scans_of_a_key_with_many_values_match_every_value() {
    let n = super::state::SCAN_IN_ORDER + 1000;
    let idx = index(n);
    let all: Vec<String> = (0..n).map(|i| format!("e{i:03}")).collect();
    for term in ["E01", "99", "e4", "zz"] {
        let want = all
            .iter()
            .filter(|name| name.contains(&term.to_lowercase()))
            .count() as u64;
        assert_eq!(name_matches(&idx, term), want, "full text {term}");
        let prefix = Predicate::HasPrefix {
            key: "metadata.name".into(),
            prefix: term.to_lowercase(),
        };
        let want = all
            .iter()
            .filter(|name| name.starts_with(&term.to_lowercase()))
            .count() as u64;
        assert_eq!(idx.count(&prefix), want, "prefix {term}");
    }
}
