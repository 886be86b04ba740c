//! Tests of the processing engine: the order processors run in.

use super::*;
use crate::plugins::catalog::node::{Emitter, LocationSpec, ProcessingOutput, ProcessorError};

struct Named(&'static str, Option<i32>);

#[async_trait::async_trait]
impl CatalogProcessor for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn priority(&self) -> i32 {
        self.1
            .unwrap_or(crate::plugins::catalog::node::DEFAULT_PROCESSOR_PRIORITY)
    }
}

fn names(list: &[Arc<dyn CatalogProcessor>]) -> Vec<&str> {
    list.iter().map(|p| p.name()).collect()
}

fn p(name: &'static str, priority: Option<i32>) -> Arc<dyn CatalogProcessor> {
    Arc::new(Named(name, priority))
}

/// An engine on `db` that reads files below `dir` (orphans are deleted).
pub(crate) fn test_engine(
    db: PluginDatabase,
    processors: Vec<Arc<dyn CatalogProcessor>>,
    interval: Duration,
    batch_size: usize,
    dir: &std::path::Path,
) -> Arc<Engine> {
    buffered_engine(
        db,
        processors,
        interval,
        batch_size,
        super::DEFAULT_MAX_BUFFERED_CHILDREN,
        dir,
        Arc::new(crate::services::logger::CapturingLogger::new()),
    )
}

/// [`test_engine`] with `maxBufferedChildren` set, logging to `logger`.
fn buffered_engine(
    db: PluginDatabase,
    processors: Vec<Arc<dyn CatalogProcessor>>,
    interval: Duration,
    batch_size: usize,
    max_buffered_children: usize,
    dir: &std::path::Path,
    logger: Arc<dyn crate::services::logger::LoggerService>,
) -> Arc<Engine> {
    Engine::new(
        db,
        processors,
        EngineOptions {
            orphan_strategy: OrphanStrategy::Delete,
            interval,
            rules: RulesEnforcer::default(),
            batch_size,
            max_buffered_children,
        },
        LocationReader::new(
            Arc::new(
                crate::services::url_reader::UrlReaders::builder()
                    .build()
                    .expect("url readers"),
            ),
            crate::services::url_reader::FileUrlReader::new([dir]),
            1 << 20,
        ),
        logger,
    )
}

#[test]
fn processors_run_by_priority_then_in_the_order_they_were_added() {
    let builtin = vec![p("builtin", None)];
    let added = vec![
        p("late", Some(30)),
        p("default-a", None),
        p("early", Some(10)),
        p("default-b", Some(20)),
        p("negative", Some(-5)),
        p("late-2", Some(30)),
    ];
    assert_eq!(
        names(&ordered_processors(builtin, added)),
        [
            "negative",
            "early",
            "builtin",
            "default-a",
            "default-b",
            "late",
            "late-2"
        ]
    );
}

#[tokio::test]
async fn a_processor_with_a_lower_priority_reads_file_locations_first() {
    /// Reads `file` locations itself, emitting one fixed entity.
    struct FileOverride(i32);

    #[async_trait::async_trait]
    impl CatalogProcessor for FileOverride {
        fn name(&self) -> &str {
            "file-override"
        }
        fn priority(&self) -> i32 {
            self.0
        }
        async fn read_location(
            &self,
            location: &LocationSpec,
            _optional: bool,
            emit: &mut Emitter,
        ) -> Result<bool, ProcessorError> {
            if location.location_type != "file" {
                return Ok(false);
            }
            emit.entity(
                Entity::new("backstage.io/v1alpha1", "Group", "from-override"),
                location.clone(),
            );
            Ok(true)
        }
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("catalog.yaml");
    std::fs::write(
        &file,
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: from-file\nspec:\n  type: team\n  children: []\n",
    )
    .expect("write");
    let location = LocationSpec::new("file", file.display().to_string());
    for (priority, expected) in [(10, "from-override"), (20, "from-file"), (30, "from-file")] {
        let db = crate::services::database::DatabaseManager::in_memory()
            .for_plugin("catalog")
            .await
            .expect("database");
        let engine = test_engine(
            db,
            vec![Arc::new(FileOverride(priority))],
            Duration::from_secs(100),
            super::DEFAULT_BATCH_SIZE,
            dir.path(),
        );
        let mut emit = Emitter::default();
        let mut errors = Vec::new();
        engine
            .read_location(&location, false, &mut emit, &mut errors)
            .await;
        assert!(errors.is_empty(), "{errors:?}");
        let read: Vec<String> = emit
            .take()
            .into_iter()
            .filter_map(|o| match o {
                ProcessingOutput::Entity { entity, .. } => Some(entity.metadata.name),
                _ => None,
            })
            .collect();
        assert_eq!(read, [expected], "priority {priority}");
    }
}

#[test]
fn processing_errors_keep_backstages_status_item_shape_byte_for_byte() {
    use super::outcome::ProcessingError;
    let err = ProcessingError::new("ConflictError", "entity a conflicts");
    let before = serde_json::json!({
        "type": crate::plugins::catalog::common::STATUS_TYPE_CATALOG_PROCESSING,
        "level": "error",
        "message": "ConflictError: entity a conflicts",
        "error": { "name": "ConflictError", "message": "entity a conflicts" },
    });
    assert_eq!(
        serde_json::to_string(&[&err]).unwrap(),
        serde_json::Value::Array(vec![before.clone()]).to_string()
    );
    assert_eq!(err.to_value(), before);
    let invalid = ProcessorError::Invalid {
        entity: "component:default/a".into(),
        message: "bad".into(),
    };
    let item = ProcessingError::from(&invalid);
    assert_eq!(item.name, "InputError");
    assert_eq!(item.message, "invalid entity component:default/a: bad");
}

/// `(entity_ref, entity_id, next_update_at, result_hash)` of every row, by ref.
async fn state_rows(db: &PluginDatabase) -> Vec<(String, String, i64, Option<String>)> {
    crate::services::database::Sql::new(
        "SELECT entity_ref, entity_id, next_update_at, result_hash FROM refresh_state \
         ORDER BY entity_ref",
    )
    .fetch_all(db)
    .await
    .expect("refresh state")
}

#[tokio::test]
async fn passes_with_writes_in_flight_process_everything_and_schedule_every_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = crate::services::database::DatabaseManager::in_memory()
        .for_plugin("catalog")
        .await
        .expect("database");
    super::super::store::migrate(&db).await.expect("migrate");
    // Batches of 2: each batch's write is in flight while the next one is processed.
    let interval = Duration::from_millis(300);
    let engine = test_engine(db.clone(), Vec::new(), interval, 2, dir.path());
    let groups: Vec<_> = (0..9)
        .map(|i| {
            let group = Entity::new("backstage.io/v1alpha1", "Group", format!("team-{i}"))
                .with_spec(serde_json::json!({ "type": "team", "children": [] }));
            crate::plugins::catalog::node::DeferredEntity::new(group, None)
        })
        .collect();
    let before = now_ms();
    engine
        .apply_mutation_now(
            "test",
            EntityProviderMutation::Full {
                entities: groups.clone(),
            },
        )
        .await
        .expect("ingest");
    let after = now_ms();
    let rows = state_rows(&db).await;
    assert_eq!(rows.len(), 9);
    let base = interval.as_millis() as i64;
    for (entity_ref, _, next, hash) in &rows {
        assert!(hash.is_some(), "{entity_ref} was not processed");
        // Due again after 1 to 1.5 intervals, written with the result.
        assert!(
            (before + base..=after + base * 3 / 2).contains(next),
            "{entity_ref}: next update {next} not in [{}, {}]",
            before + base,
            after + base * 3 / 2
        );
    }
    let finals: Vec<(i64,)> =
        crate::services::database::Sql::new("SELECT COUNT(*) FROM final_entities")
            .fetch_all(&db)
            .await
            .expect("finals");
    assert_eq!(finals, [(9,)]);
    // New ids are time-ordered UUIDs (version 7).
    for (_, id, _, _) in &rows {
        let uuid = uuid::Uuid::parse_str(id).expect("uuid");
        assert_eq!(uuid.get_version_num(), 7, "{id}");
    }

    // Once due, a pass that changes nothing still schedules every row again.
    tokio::time::sleep(interval * 2).await;
    let again = now_ms();
    assert_eq!(engine.process_due().await.expect("reprocess"), 9);
    let done = now_ms();
    for ((entity_ref, id, next, hash), (_, old_id, _, old_hash)) in
        state_rows(&db).await.iter().zip(&rows)
    {
        assert_eq!((id, hash), (old_id, old_hash), "{entity_ref} changed");
        assert!(
            (again + base..=done + base * 3 / 2).contains(next),
            "{entity_ref}: next update {next} not rescheduled"
        );
    }
}

async fn count(db: &PluginDatabase, table: &str) -> i64 {
    let rows: Vec<(i64,)> =
        crate::services::database::Sql::new(format!("SELECT COUNT(*) FROM {table}"))
            .fetch_all(db)
            .await
            .expect("count");
    rows[0].0
}

async fn migrated_db() -> PluginDatabase {
    let db = crate::services::database::DatabaseManager::in_memory()
        .for_plugin("catalog")
        .await
        .expect("database");
    super::super::store::migrate(&db).await.expect("migrate");
    db
}

/// `catalog.yaml` in `dir`: components `c0` to `c{n-1}`, owned in turn by `team-0` to
/// `team-{teams-1}`.
fn components_file(dir: &std::path::Path, n: usize, teams: usize) -> std::path::PathBuf {
    let yaml: String = (0..n)
        .map(|i| {
            format!(
                "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: c{i}\n\
                 spec:\n  type: service\n  lifecycle: production\n  owner: team-{}\n",
                i % teams
            )
        })
        .collect();
    let file = dir.join("catalog.yaml");
    std::fs::write(&file, yaml).expect("write");
    file
}

/// Ingests the location `location:default/children`, a file location of `file`, as a
/// provider's full mutation.
async fn ingest_location(engine: &Engine, file: &std::path::Path) -> Result<(), CatalogError> {
    let location = Entity::new("backstage.io/v1alpha1", "Location", "children")
        .with_spec(serde_json::json!({ "type": "file", "target": file.display().to_string() }));
    engine
        .apply_mutation_now(
            "test",
            EntityProviderMutation::Full {
                entities: vec![crate::plugins::catalog::node::DeferredEntity::new(
                    location, None,
                )],
            },
        )
        .await
}

/// A location's children are all processed and stitched whether `maxBufferedChildren` holds
/// them all or makes the pass write (and wait) several times over.
#[tokio::test]
async fn a_locations_children_are_processed_whatever_the_children_budget() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = components_file(dir.path(), 7, 2);
    for buffered in [3, 1000] {
        let db = migrated_db().await;
        // Batches of 2; a budget of 3 children is less than the location emits.
        let engine = buffered_engine(
            db.clone(),
            Vec::new(),
            Duration::from_secs(100),
            2,
            buffered,
            dir.path(),
            Arc::new(crate::services::logger::CapturingLogger::new()),
        );
        ingest_location(&engine, &file).await.expect("ingest");
        let rows = state_rows(&db).await;
        assert_eq!(rows.len(), 8, "buffered {buffered}: {rows:?}");
        for (entity_ref, _, _, hash) in &rows {
            assert!(
                hash.is_some(),
                "buffered {buffered}: {entity_ref} was not processed"
            );
        }
        assert_eq!(count(&db, "final_entities").await, 8, "buffered {buffered}");
        // Each component's `ownerOf` view for its group is a row; its own `ownedBy` is not.
        assert_eq!(count(&db, "relations").await, 7, "buffered {buffered}");
        assert_eq!(count(&db, "stitch_queue").await, 0, "buffered {buffered}");
        let c3: Vec<(String,)> = crate::services::database::Sql::new(
            "SELECT processed_entity FROM refresh_state WHERE entity_ref = 'component:default/c3'",
        )
        .fetch_all(&db)
        .await
        .expect("processed");
        let c3: serde_json::Value = serde_json::from_str(&c3[0].0).expect("json");
        assert_eq!(c3["spec"]["owner"], "team-1", "buffered {buffered}");
        assert_eq!(c3["metadata"]["name"], "c3", "buffered {buffered}");
    }
}

/// An entity deleted (by another process) after it was read and before its outcome is
/// written: the write drops that outcome instead of leaving relations, references or stitch
/// marks that nothing would ever delete.
#[tokio::test]
async fn an_outcome_whose_row_is_gone_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = migrated_db().await;
    let engine = test_engine(
        db.clone(),
        Vec::new(),
        Duration::from_secs(100),
        10,
        dir.path(),
    );
    let json = serde_json::json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": { "name": "gone" },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" },
    })
    .to_string();
    let outcome = engine
        .process(
            &uuid::Uuid::now_v7().to_string(),
            "component:default/gone",
            &json,
            None,
        )
        .await
        .seal();
    assert!(outcome.succeeded(), "{:?}", outcome.errors);
    assert!(!outcome.relations.is_empty());
    let changed = engine
        .write_outcomes(vec![outcome], Vec::new())
        .await
        .expect("write");
    assert!(changed.is_empty());
    for table in [
        "refresh_state",
        "relations",
        "refresh_state_references",
        "stitch_queue",
    ] {
        assert_eq!(count(&db, table).await, 0, "{table}");
    }
}

/// The children of a location read for the first time are written processed, a batch per
/// transaction, before the location's own outcome. A process that stops between the two
/// loses nothing: the children are not stitched (not even as orphans, which this engine
/// deletes) until the location's next processing finds them stored and stitches them.
#[tokio::test]
async fn children_written_ahead_of_their_parent_wait_for_its_next_processing() {
    use super::super::store::{self, UnprocessedWrite};
    let dir = tempfile::tempdir().expect("temp dir");
    let file = components_file(dir.path(), 3, 1);
    let db = migrated_db().await;
    let engine = test_engine(
        db.clone(),
        Vec::new(),
        Duration::from_secs(100),
        2,
        dir.path(),
    );
    // The location's row as a provider leaves it: unprocessed, due, and referenced by the
    // provider.
    let location = Entity::new("backstage.io/v1alpha1", "Location", "children")
        .with_spec(serde_json::json!({ "type": "file", "target": file.display().to_string() }));
    let json = serde_json::to_string(&location).expect("json");
    let (id, location_ref) = (
        uuid::Uuid::now_v7().to_string(),
        "location:default/children".to_owned(),
    );
    let mut tx = engine.begin().await.expect("begin");
    let row = UnprocessedWrite {
        entity_id: id.clone(),
        entity_ref: location_ref.clone(),
        unprocessed: json.clone(),
        unprocessed_hash: "hash".to_owned(),
        location_key: None,
    };
    store::insert_unprocessed(&mut tx, vec![row], now_ms())
        .await
        .expect("insert");
    store::insert_references(
        &mut tx,
        vec![(Some("test".to_owned()), None, location_ref.clone())],
    )
    .await
    .expect("reference");
    tx.commit().await.expect("commit");

    // The location's first processing writes its children, then the process stops.
    let outcome = engine.process(&id, &location_ref, &json, None).await.seal();
    let children: Vec<&super::outcome::Child> = outcome.children.iter().collect();
    assert_eq!(children.len(), 3);
    let fresh = engine.process_ahead(&children).await;
    engine
        .write_outcomes(Vec::new(), fresh)
        .await
        .expect("write children");
    drop(outcome);
    let stored = state_rows(&db).await;
    assert_eq!(stored.len(), 4);
    assert!(
        stored
            .iter()
            .all(|(r, _, _, hash)| hash.is_some() == r.starts_with("component:")),
        "children processed, location not: {stored:?}"
    );
    let queued: Vec<(String,)> = crate::services::database::Sql::new(
        "SELECT entity_ref FROM stitch_queue ORDER BY entity_ref",
    )
    .fetch_all(&db)
    .await
    .expect("queue");
    // Only the other end of their relations (the owner) is marked.
    assert_eq!(queued, [("group:default/team-0".to_owned(),)]);
    engine.drain_stitch_queue().await.expect("drain");
    assert_eq!(count(&db, "refresh_state").await, 4, "orphans deleted");
    assert_eq!(count(&db, "final_entities").await, 0);

    // The location is still due: its next processing keeps the rows and stitches them.
    assert_eq!(engine.process_due().await.expect("process"), 1);
    let after = state_rows(&db).await;
    assert!(
        after.iter().all(|(_, _, _, hash)| hash.is_some()),
        "{after:?}"
    );
    for ((r, id, _, _), (_, old_id, _, _)) in after.iter().zip(&stored) {
        assert_eq!(id, old_id, "{r} was written again");
    }
    assert_eq!(count(&db, "final_entities").await, 4);
    let finals: Vec<(String,)> = crate::services::database::Sql::new(
        "SELECT final_entity FROM final_entities WHERE entity_ref LIKE 'component:%'",
    )
    .fetch_all(&db)
    .await
    .expect("finals");
    assert_eq!(finals.len(), 3);
    for (text,) in finals {
        let entity: serde_json::Value = serde_json::from_str(&text).expect("json");
        let annotations = &entity["metadata"]["annotations"];
        assert!(annotations.get("backstage.io/orphan").is_none(), "{entity}");
    }
}

/// On PostgreSQL the children a location emits are written ahead of it, two batches at a
/// time, taking the writer lock only for their stitch marks. A batch that meets another
/// transaction's row for one of its refs gives up after the lock timeout and leaves its
/// children to the usual path: the location's write inserts them unprocessed and the pass
/// processes them, so every entity is stored and stitched.
#[tokio::test]
async fn children_written_beside_other_writes_give_way_to_a_row_being_inserted() {
    use super::super::store::{self, UnprocessedWrite};
    use crate::services::database::DatabaseManager;
    let Ok(url) = std::env::var("BACKLOT_TEST_POSTGRES_URL") else {
        eprintln!("skipped: BACKLOT_TEST_POSTGRES_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = components_file(dir.path(), 40, 3);
    let prefix = format!("backlot_beside_{}_", uuid::Uuid::new_v4().simple());
    let config = serde_json::json!({ "client": "pg", "connection": url, "prefix": prefix });
    let manager = DatabaseManager::from_config(Some(&config), dir.path()).expect("config");
    let db = manager.for_plugin("catalog").await.expect("database");
    store::migrate(&db).await.expect("migrate");
    let logger = Arc::new(crate::services::logger::CapturingLogger::new());
    let engine = buffered_engine(
        db.clone(),
        Vec::new(),
        Duration::from_secs(100),
        8,
        super::DEFAULT_MAX_BUFFERED_CHILDREN,
        dir.path(),
        logger.clone(),
    );
    // Another writer's transaction holds a row for `c17` (in the third batch of children)
    // and rolls back only after the lock timeout.
    let mut other = db.begin().await.expect("begin");
    let row = UnprocessedWrite {
        entity_id: uuid::Uuid::now_v7().to_string(),
        entity_ref: "component:default/c17".to_owned(),
        unprocessed: "{}".to_owned(),
        unprocessed_hash: "other".to_owned(),
        location_key: Some("elsewhere".to_owned()),
    };
    store::insert_unprocessed(&mut other, vec![row], now_ms())
        .await
        .expect("insert");
    let ingesting = {
        let engine = engine.clone();
        tokio::spawn(async move { ingest_location(&engine, &file).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    other.rollback().await.expect("rollback");
    let ingested = ingesting.await.expect("task");
    let rows = state_rows(&db).await;
    let finals = count(&db, "final_entities").await;
    let queued = count(&db, "stitch_queue").await;
    manager.close().await;
    let admin = sqlx::postgres::PgPool::connect(&url).await.expect("admin");
    sqlx::query(&format!("DROP DATABASE {prefix}catalog WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("drop database");
    ingested.expect("ingest");
    let gave_way = logger
        .messages()
        .iter()
        .filter(|m| m.contains("take the usual path"))
        .count();
    assert_eq!(gave_way, 1, "{:?}", logger.messages());
    assert_eq!(rows.len(), 41, "{rows:?}");
    assert!(
        rows.iter().all(|(_, _, _, hash)| hash.is_some()),
        "{rows:?}"
    );
    assert_eq!(finals, 41);
    assert_eq!(queued, 0);
}
