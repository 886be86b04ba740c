//! Tests of the drain over several chunks (`stitch_chunk` is 3 in tests), with deletions
//! between them.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::plugins::catalog::backend::processing::tests::test_engine;
use crate::plugins::catalog::common::Entity;
use crate::plugins::catalog::node::{DeferredEntity, EntityProviderMutation};
use crate::services::database::{DatabaseManager, PluginDatabase};

/// An in-memory catalog database, not migrated.
async fn memory_db() -> PluginDatabase {
    DatabaseManager::in_memory()
        .for_plugin("catalog")
        .await
        .expect("database")
}

async fn engine() -> (Arc<Engine>, PluginDatabase, tempfile::TempDir) {
    engine_on(memory_db().await).await
}

/// An engine on a SQLite database file in a temporary directory: there stitching reads its
/// parts beside its writes.
async fn file_engine() -> (Arc<Engine>, PluginDatabase, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = serde_json::json!({
        "client": "better-sqlite3",
        "connection": { "directory": dir.path().join("db").display().to_string() },
    });
    let db = DatabaseManager::from_config(Some(&config), dir.path())
        .expect("config")
        .for_plugin("catalog")
        .await
        .expect("database");
    let (engine, db, _) = engine_on(db).await;
    (engine, db, dir)
}

async fn engine_on(db: PluginDatabase) -> (Arc<Engine>, PluginDatabase, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    store::migrate(&db).await.expect("migrate");
    let engine = test_engine(
        db.clone(),
        Vec::new(),
        Duration::from_secs(3600),
        4,
        dir.path(),
    );
    (engine, db, dir)
}

/// Groups `team-0` .. `team-{n-1}`, each but the first a child of `team-0`.
fn teams(n: usize, skip: Option<usize>) -> Vec<DeferredEntity> {
    (0..n)
        .filter(|i| Some(*i) != skip)
        .map(|i| {
            let mut spec = serde_json::json!({ "type": "team", "children": [] });
            if i > 0 {
                spec["parent"] = "team-0".into();
            }
            let group =
                Entity::new("backstage.io/v1alpha1", "Group", format!("team-{i}")).with_spec(spec);
            DeferredEntity::new(group, None)
        })
        .collect()
}

async fn count(db: &PluginDatabase, sql: &str) -> i64 {
    let rows: Vec<(i64,)> = Sql::new(sql).fetch_all(db).await.expect("count");
    rows[0].0
}

fn child_refs(json: &str) -> Vec<String> {
    let entity: serde_json::Value = serde_json::from_str(json).expect("entity json");
    let mut refs: Vec<String> = entity["relations"]
        .as_array()
        .expect("relations")
        .iter()
        .filter(|r| r["type"] == "parentOf")
        .map(|r| r["targetRef"].as_str().unwrap_or_default().to_owned())
        .collect();
    refs.sort();
    refs
}

#[tokio::test]
async fn a_drain_over_many_chunks_stitches_everything_and_deletes_between_chunks() {
    let (engine, db, _dir) = engine().await;
    assert!(!engine.reads_beside());
    drain_over_many_chunks(&engine, &db).await;
}

/// The same on a database file, where each chunk's parts are read beside its writes.
#[tokio::test]
async fn a_drain_reading_its_parts_beside_its_writes_stitches_everything() {
    let (engine, db, _dir) = file_engine().await;
    assert!(engine.reads_beside());
    drain_over_many_chunks(&engine, &db).await;
}

/// Why an in-memory database does not read beside a stitching transaction: a read of a table
/// another connection of its pool has written, uncommitted, waits for that commit.
#[tokio::test]
async fn on_an_in_memory_database_a_read_waits_for_anothers_uncommitted_write() {
    let db = memory_db().await;
    store::migrate(&db).await.expect("migrate");
    let mut writing = db.begin().await.expect("begin");
    Sql::new(
        "INSERT INTO final_entities (entity_id, entity_ref, hash, final_entity) \
         VALUES ('1', 'group:default/a', 'h', '{}')",
    )
    .execute(&mut writing)
    .await
    .expect("insert");
    let mut reading = db.begin_read().await.expect("begin read");
    let read = Sql::new("SELECT COUNT(*) FROM final_entities WHERE entity_ref = 'group:default/b'")
        .fetch_all::<(i64,)>(&mut reading);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), read)
            .await
            .is_err(),
        "the read did not wait"
    );
}

/// Ingests eleven teams, then drops one, checking every entity and relation each time.
async fn drain_over_many_chunks(engine: &Engine, db: &PluginDatabase) {
    let db = db.clone();
    let full = |n, skip| EntityProviderMutation::Full {
        entities: teams(n, skip),
    };
    engine
        .apply_mutation_now("test", full(11, None))
        .await
        .expect("ingest");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM final_entities").await, 11);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM stitch_queue").await, 0);
    assert_eq!(engine.index.len(), 11);
    let root = engine
        .index
        .by_ref("group:default/team-0", None)
        .expect("team-0");
    assert_eq!(child_refs(&root).len(), 10);

    // The provider drops team-5: its eager deletion falls in a chunk of its own, between
    // chunks that are only restitched (team-0 loses a child).
    engine
        .apply_mutation_now("test", full(11, Some(5)))
        .await
        .expect("drop team-5");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM final_entities").await, 10);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM stitch_queue").await, 0);
    assert_eq!(engine.index.len(), 10);
    assert!(engine.index.by_ref("group:default/team-5", None).is_none());
    let root = engine
        .index
        .by_ref("group:default/team-0", None)
        .expect("team-0");
    assert!(!child_refs(&root).contains(&"group:default/team-5".to_owned()));
    assert_eq!(child_refs(&root).len(), 9);
}

/// A plain mark leaves a queued row as it is (its ticket, whether it is eager); an eager
/// mark makes a queued row eager. Every writer holds the writer lock, so no drain sits
/// between its read of a row and the removal that checks the ticket.
#[tokio::test]
async fn marking_again_keeps_the_row_and_eager_marks_upgrade_it() {
    let (_engine, db, _dir) = engine().await;
    let rows = |db: PluginDatabase| async move {
        let rows: Vec<(String, String, i64)> =
            Sql::new("SELECT entity_ref, ticket, eager FROM stitch_queue ORDER BY entity_ref")
                .fetch_all(&db)
                .await
                .expect("queue");
        rows
    };
    let write = |marks: StitchMarks, db: PluginDatabase| async move {
        let mut tx = db.begin().await.expect("begin");
        store::lock_writers(&mut tx).await.expect("lock");
        marks.write(&mut tx).await.expect("write marks");
        tx.commit().await.expect("commit");
    };
    let mut first = StitchMarks::default();
    first.stitch("group:default/a");
    first.delete_if_unreferenced("group:default/b");
    write(first, db.clone()).await;
    let before = rows(db.clone()).await;
    assert_eq!(before.len(), 2);
    assert_eq!((before[0].2, before[1].2), (0, 1));

    let mut again = StitchMarks::default();
    again.stitch("group:default/a");
    again.stitch("group:default/b");
    again.stitch("group:default/c");
    write(again, db.clone()).await;
    let after = rows(db.clone()).await;
    assert_eq!(after.len(), 3);
    assert_eq!(after[..2], before[..], "queued rows are left as they are");
    assert_eq!(after[2].2, 0);

    let mut eager = StitchMarks::default();
    eager.delete_if_unreferenced("group:default/a");
    write(eager, db.clone()).await;
    let last = rows(db.clone()).await;
    assert_eq!(last[0].2, 1, "an eager mark makes the queued row eager");
    assert_ne!(last[0].1, before[0].1);
}

/// A final row left for an entity's ref under another id (an entity deleted and made again
/// with a new uid) is found by its ref and replaced, not duplicated.
#[tokio::test]
async fn a_final_row_under_another_id_is_replaced_by_ref() {
    let (engine, db, _dir) = engine().await;
    engine
        .apply_mutation_now(
            "test",
            EntityProviderMutation::Full {
                entities: teams(2, None),
            },
        )
        .await
        .expect("ingest");
    let ids: Vec<(String,)> =
        Sql::new("SELECT entity_id FROM refresh_state WHERE entity_ref = 'group:default/team-1'")
            .fetch_all(&db)
            .await
            .expect("id");
    let id = ids[0].0.clone();
    Sql::new(
        "UPDATE final_entities SET entity_id = 'left-over' \
         WHERE entity_ref = 'group:default/team-1'",
    )
    .execute(&db)
    .await
    .expect("leave a final row under another id");
    Sql::new("INSERT INTO stitch_queue (entity_ref, ticket, eager) VALUES (?, 't', 0)")
        .bind("group:default/team-1")
        .execute(&db)
        .await
        .expect("queue");
    engine.drain_stitch_queue().await.expect("drain");
    let finals: Vec<(String,)> =
        Sql::new("SELECT entity_id FROM final_entities WHERE entity_ref = 'group:default/team-1'")
            .fetch_all(&db)
            .await
            .expect("finals");
    assert_eq!(finals, [(id,)]);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM final_entities").await, 2);
}

/// Migration 8 (SQLite) rebuilds the queue as a `WITHOUT ROWID` table and keeps what was
/// queued in it.
#[tokio::test]
async fn migration_8_clusters_the_queue_and_keeps_its_rows() {
    let db = memory_db().await;
    db.migrate(&store::MIGRATIONS[..7])
        .await
        .expect("migrate to 7");
    Sql::new("INSERT INTO stitch_queue (entity_ref, ticket, eager) VALUES (?, ?, ?), (?, ?, ?)")
        .bind("group:default/a")
        .bind("t1")
        .bind(1i64)
        .bind("group:default/b")
        .bind("t2")
        .bind(0i64)
        .execute(&db)
        .await
        .expect("queue");
    store::migrate(&db).await.expect("migrate");
    let rows: Vec<(String, String, i64)> =
        Sql::new("SELECT entity_ref, ticket, eager FROM stitch_queue ORDER BY entity_ref")
            .fetch_all(&db)
            .await
            .expect("queue rows");
    assert_eq!(
        rows,
        [
            ("group:default/a".to_owned(), "t1".to_owned(), 1),
            ("group:default/b".to_owned(), "t2".to_owned(), 0)
        ]
    );
    let (sql,): (String,) =
        Sql::new("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'stitch_queue'")
            .fetch_one(&db)
            .await
            .expect("schema");
    assert!(sql.ends_with("WITHOUT ROWID"), "{sql}");
}

/// `unreferenced` answers from a count when every ref is referenced, and reads the refs
/// otherwise; refs repeated (within a chunk of the `IN` lists or across them) count once.
#[tokio::test]
async fn unreferenced_refs_are_found_whatever_their_order_and_repeats() {
    let db = memory_db().await;
    store::migrate(&db).await.expect("migrate");
    let referenced: Vec<String> = (0..600).map(|i| format!("group:default/r{i}")).collect();
    let mut tx = db.begin().await.expect("begin");
    store::insert_references(
        &mut tx,
        referenced
            .iter()
            .chain(&referenced[..10])
            .map(|r| (None, Some("location:default/l".to_owned()), r.clone()))
            .collect(),
    )
    .await
    .expect("references");
    let lone = "group:default/lone".to_owned();
    // All referenced, with repeats: nothing.
    let mut refs = referenced.clone();
    refs.extend(referenced[..50].iter().cloned());
    assert!(
        store::unreferenced(&mut tx, &refs)
            .await
            .expect("all referenced")
            .is_empty()
    );
    // One unreferenced ref after a chunk's worth, and a repeat of the first ref after it.
    let mut refs = referenced[..499].to_vec();
    refs.push(lone.clone());
    refs.push(referenced[0].clone());
    refs.extend(referenced[499..].iter().cloned());
    let found = store::unreferenced(&mut tx, &refs).await.expect("one");
    assert_eq!(found, HashSet::from([lone.clone()]));
    // Nothing referenced.
    let none = vec![lone.clone(), "group:default/other".to_owned(), lone.clone()];
    assert_eq!(
        store::unreferenced(&mut tx, &none).await.expect("none"),
        HashSet::from([lone, "group:default/other".to_owned()])
    );
    tx.commit().await.expect("commit");
}
