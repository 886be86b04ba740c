//! Per-plugin databases on every backend: each test body runs on SQLite (always) and on
//! PostgreSQL in `database` and `schema` division modes when `BACKLOT_TEST_POSTGRES_URL` is set
//! (e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and the `postgres` feature is on, and
//! on MySQL / MariaDB when `BACKLOT_TEST_MYSQL_URL` is set (e.g. `mysql://root@127.0.0.1:3306`)
//! and the `mysql` feature is on.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use backlot::services::database::{
    DatabaseError, DatabaseManager, DbRow, Dialect, FromDbRow, MIGRATIONS_TABLE, Migration,
    PluginDatabase, Sql, placeholders,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

const PG_VAR: &str = "BACKLOT_TEST_POSTGRES_URL";
const MY_VAR: &str = "BACKLOT_TEST_MYSQL_URL";

/// One backend configuration to run a test body against.
struct Case {
    name: &'static str,
    config: Value,
    /// Config for a plugin override pointing somewhere else, and a marker its location holds.
    override_connection: (Value, String),
    persistent: bool,
    _dir: Option<tempfile::TempDir>,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pg_prefix: Option<(String, String)>,
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    my_prefix: Option<(String, String)>,
}

impl Case {
    fn manager(&self) -> DatabaseManager {
        DatabaseManager::from_config(Some(&self.config), Path::new("/nonexistent-default-dir"))
            .unwrap()
    }

    fn manager_with(&self, extra: Value) -> DatabaseManager {
        let mut config = self.config.clone();
        merge(&mut config, extra);
        DatabaseManager::from_config(Some(&config), Path::new("/nonexistent-default-dir")).unwrap()
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        #[cfg(feature = "postgres")]
        if let Some((url, prefix)) = self.pg_prefix.take() {
            // Drop the databases this case created, on a runtime of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(drop_pg_databases(&url, &prefix));
            })
            .join();
        }
        #[cfg(feature = "mysql")]
        if let Some((url, prefix)) = self.my_prefix.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(drop_my_databases(&url, &prefix));
            })
            .join();
        }
    }
}

#[cfg(feature = "mysql")]
async fn drop_my_databases(url: &str, prefix: &str) {
    use sqlx::{Connection, MySqlConnection};
    let mut conn = MySqlConnection::connect(url).await.unwrap();
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
    )
    .bind(format!("{prefix}%"))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (name,) in names {
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{name}`"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

fn merge(into: &mut Value, extra: Value) {
    match (into, extra) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = Utc::now().timestamp_subsec_nanos();
    format!(
        "bt{}{:x}{:x}{}_",
        tag,
        std::process::id(),
        nanos & 0xfffff,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(feature = "postgres")]
async fn drop_pg_databases(url: &str, prefix: &str) {
    use sqlx::{Connection, PgConnection};
    let mut conn = PgConnection::connect(url).await.unwrap();
    let names: Vec<(String,)> = sqlx::query_as("SELECT datname FROM pg_database")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    for (name,) in names.into_iter().filter(|(n,)| n.starts_with(prefix)) {
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

fn sqlite_case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    Case {
        name: "sqlite",
        config: json!({ "client": "better-sqlite3", "connection": { "directory": dir.path() } }),
        override_connection: (json!(":memory:"), ":memory:".to_owned()),
        persistent: true,
        _dir: Some(dir),
        pg_prefix: None,
        my_prefix: None,
    }
}

/// The cases to run: SQLite always, PostgreSQL when configured.
fn cases() -> Vec<Case> {
    let mut cases = vec![sqlite_case()];
    match std::env::var(PG_VAR) {
        Err(_) => println!("skipped: {PG_VAR} not set (PostgreSQL cases)"),
        Ok(url) => {
            if cfg!(feature = "postgres") {
                let prefix = unique("d");
                cases.push(Case {
                    name: "pg database mode",
                    config: json!({ "client": "pg", "connection": url, "prefix": prefix }),
                    override_connection: (
                        json!({ "database": format!("{prefix}custom") }),
                        format!("{prefix}custom"),
                    ),
                    persistent: true,
                    _dir: None,
                    pg_prefix: Some((url.clone(), prefix)),
                    my_prefix: None,
                });
                let prefix = unique("s");
                cases.push(Case {
                    name: "pg schema mode",
                    config: json!({
                        "client": "pg",
                        "pluginDivisionMode": "schema",
                        "connection": { "connectionString": url, "database": format!("{prefix}shared") },
                    }),
                    override_connection: (
                        json!({ "database": format!("{prefix}custom") }),
                        format!("{prefix}custom"),
                    ),
                    persistent: true,
                    _dir: None,
                    pg_prefix: Some((url, prefix)),
                    my_prefix: None,
                });
            } else {
                println!("skipped: PostgreSQL cases need the 'postgres' feature");
            }
        }
    }
    match std::env::var(MY_VAR) {
        Err(_) => println!("skipped: {MY_VAR} not set (MySQL cases)"),
        Ok(url) if cfg!(feature = "mysql") => {
            let prefix = unique("m");
            cases.push(Case {
                name: "mysql",
                config: json!({ "client": "mysql2", "connection": url, "prefix": prefix }),
                override_connection: (
                    json!({ "database": format!("{prefix}custom") }),
                    format!("{prefix}custom"),
                ),
                persistent: true,
                _dir: None,
                pg_prefix: None,
                my_prefix: Some((url, prefix)),
            });
        }
        Ok(_) => println!("skipped: MySQL cases need the 'mysql' feature"),
    }
    cases
}

static ITEMS: &[Migration] = &[
    Migration::new(
        1,
        "create_items",
        "CREATE TABLE items (id ${id}, name ${key} NOT NULL UNIQUE, n ${bigint} NOT NULL DEFAULT 0);",
    ),
    Migration::new(
        2,
        "add_flag",
        "ALTER TABLE items ADD COLUMN flag ${bool} NOT NULL DEFAULT FALSE;",
    ),
];

async fn insert(db: &PluginDatabase, name: &str) {
    Sql::new("INSERT INTO items (name) VALUES (?)")
        .bind(name)
        .execute(db)
        .await
        .unwrap();
}

async fn names(db: &PluginDatabase) -> Vec<String> {
    Sql::new("SELECT name FROM items ORDER BY name")
        .fetch_all::<(String,)>(db)
        .await
        .unwrap()
        .into_iter()
        .map(|(n,)| n)
        .collect()
}

#[tokio::test]
async fn two_plugins_data_stay_apart() {
    for case in cases() {
        let manager = case.manager();
        let alpha = manager.for_plugin("alpha").await.unwrap();
        let beta = manager.for_plugin("beta").await.unwrap();
        assert_eq!(
            alpha.migrate(ITEMS).await.unwrap().applied,
            vec![1, 2],
            "{}",
            case.name
        );
        assert_eq!(
            beta.migrate(ITEMS).await.unwrap().applied,
            vec![1, 2],
            "{}",
            case.name
        );
        insert(&alpha, "a1").await;
        insert(&beta, "b1").await;
        insert(&beta, "b2").await;
        assert_eq!(names(&alpha).await, ["a1"], "{}", case.name);
        assert_eq!(names(&beta).await, ["b1", "b2"], "{}", case.name);
        // The pool is built once and shared.
        let alpha_again = manager.for_plugin("alpha").await.unwrap();
        insert(&alpha_again, "a2").await;
        assert_eq!(names(&alpha).await, ["a1", "a2"], "{}", case.name);
        assert_ne!(alpha.location(), beta.location(), "{}", case.name);
        manager.close().await;
    }
}

#[tokio::test]
async fn a_rebuilt_manager_keeps_the_data() {
    for case in cases().into_iter().filter(|c| c.persistent) {
        let first = case.manager();
        let db = first.for_plugin("keeper").await.unwrap();
        db.migrate(ITEMS).await.unwrap();
        insert(&db, "survivor").await;
        first.close().await;
        drop(db);

        let second = case.manager();
        let db = second.for_plugin("keeper").await.unwrap();
        assert!(
            db.migrate(ITEMS).await.unwrap().applied.is_empty(),
            "{}",
            case.name
        );
        assert_eq!(names(&db).await, ["survivor"], "{}", case.name);
        second.close().await;
    }
}

static COUNTED: &[Migration] = &[
    Migration::new(1, "create_log", "CREATE TABLE log (n ${bigint} NOT NULL);"),
    Migration::new(2, "first_entry", "INSERT INTO log (n) VALUES (2);"),
    Migration::new(3, "second_entry", "INSERT INTO log (n) VALUES (3);"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrators_apply_each_migration_once() {
    for case in cases() {
        for round in 0..3 {
            let plugin = format!("race{round}");
            let (m1, m2) = (case.manager(), case.manager());
            let (p1, p2) = (plugin.clone(), plugin.clone());
            let t1 = tokio::spawn(async move {
                let db = m1.for_plugin(&p1).await.unwrap();
                let r = db.migrate(COUNTED).await.unwrap();
                (m1, r)
            });
            let t2 = tokio::spawn(async move {
                let db = m2.for_plugin(&p2).await.unwrap();
                let r = db.migrate(COUNTED).await.unwrap();
                (m2, r)
            });
            let ((m1, r1), (m2, r2)) = (t1.await.unwrap(), t2.await.unwrap());
            let mut all: Vec<i64> = r1.applied.iter().chain(&r2.applied).copied().collect();
            all.sort_unstable();
            assert_eq!(all, vec![1, 2, 3], "{} round {round}", case.name);

            let db = m1.for_plugin(&plugin).await.unwrap();
            let log: Vec<(i64,)> = Sql::new("SELECT n FROM log ORDER BY n")
                .fetch_all(&db)
                .await
                .unwrap();
            assert_eq!(log, vec![(2,), (3,)], "{} round {round}", case.name);
            let (recorded,): (i64,) = Sql::new(format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}"))
                .fetch_one(&db)
                .await
                .unwrap();
            assert_eq!(recorded, 3, "{}", case.name);
            m1.close().await;
            m2.close().await;
        }
    }
}

#[tokio::test]
async fn a_failed_migration_names_the_plugin_and_the_migration() {
    for case in cases() {
        let manager = case.manager();
        let db = manager.for_plugin("broken").await.unwrap();
        let bad = [
            ITEMS[0],
            Migration::new(
                2,
                "add_bogus_column",
                "ALTER TABLE no_such_table ADD COLUMN x ${text};",
            ),
        ];
        let err = db.migrate(&bad).await.unwrap_err();
        match &err {
            DatabaseError::Migration {
                plugin_id,
                version,
                name,
                ..
            } => {
                assert_eq!(
                    (plugin_id.as_str(), *version, name.as_str()),
                    ("broken", 2, "add_bogus_column")
                );
            }
            other => panic!("{}: unexpected error {other:?}", case.name),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("'broken'") && msg.contains("'add_bogus_column'"),
            "{msg}"
        );
        assert!(std::error::Error::source(&err).is_some());

        // Migration 1 stays applied; the fixed list applies only the rest.
        insert(&db, "kept").await;
        assert_eq!(
            db.migrate(ITEMS).await.unwrap().applied,
            vec![2],
            "{}",
            case.name
        );
        assert_eq!(names(&db).await, ["kept"]);
        manager.close().await;
    }
}

#[tokio::test]
async fn per_plugin_overrides_apply_to_that_plugin_only() {
    for case in cases() {
        let (connection, marker) = case.override_connection.clone();
        let manager = case.manager_with(json!({
            "plugin": {
                "special": { "connection": connection },
                "local": { "client": "sqlite3", "connection": ":memory:" },
                "frozen": { "skipMigrations": true },
            }
        }));
        let special = manager.for_plugin("special").await.unwrap();
        let plain = manager.for_plugin("plain").await.unwrap();
        let local = manager.for_plugin("local").await.unwrap();
        let frozen = manager.for_plugin("frozen").await.unwrap();
        assert!(
            special.location().contains(&marker),
            "{}: {}",
            case.name,
            special.location()
        );
        assert!(
            !plain.location().contains(&marker),
            "{}: {}",
            case.name,
            plain.location()
        );
        assert_eq!(local.dialect(), Dialect::Sqlite);
        assert_eq!(local.location(), ":memory:");

        for db in [&special, &plain, &local] {
            db.migrate(ITEMS).await.unwrap();
        }
        insert(&special, "s").await;
        assert_eq!(names(&special).await, ["s"]);
        assert!(names(&plain).await.is_empty(), "{}", case.name);
        assert!(names(&local).await.is_empty(), "{}", case.name);

        let report = frozen.migrate(ITEMS).await.unwrap();
        assert!(report.skipped && report.applied.is_empty());
        let missing = Sql::new("SELECT name FROM items")
            .fetch_all::<DbRow>(&frozen)
            .await;
        assert!(
            missing.is_err(),
            "{}: skipMigrations still created the table",
            case.name
        );
        manager.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_databases_are_isolated_per_plugin_and_per_manager() {
    let config = json!({ "client": "better-sqlite3", "connection": ":memory:" });
    let m1 = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
    let m2 = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
    let a = m1.for_plugin("a").await.unwrap();
    let b = m1.for_plugin("b").await.unwrap();
    let a_other = m2.for_plugin("a").await.unwrap();
    for db in [&a, &b, &a_other] {
        db.migrate(ITEMS).await.unwrap();
    }
    insert(&a, "only-in-a").await;
    assert!(names(&b).await.is_empty());
    assert!(names(&a_other).await.is_empty());

    // Concurrent writers on one in-memory database share it (and its locks) correctly.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let db = a.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            Sql::new("INSERT INTO items (name, n) VALUES (?, ?)")
                .bind(format!("w{i}"))
                .bind(i)
                .execute(&mut tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(names(&a).await.len(), 17);
    // The database outlives idle periods: its pool keeps a connection open.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(names(&a).await.len(), 17);
}

struct Event {
    id: i64,
    kind: String,
    payload: Value,
    at: DateTime<Utc>,
    done: bool,
    score: f64,
    blob: Option<Vec<u8>>,
    uid: uuid::Uuid,
}

impl FromDbRow for Event {
    fn from_row(row: DbRow) -> Result<Self, DatabaseError> {
        Ok(Event {
            id: row.get("id")?,
            kind: row.get("kind")?,
            payload: row.get("payload")?,
            at: row.get("at")?,
            done: row.get("done")?,
            score: row.get("score")?,
            blob: row.get("blob")?,
            uid: row.get("uid")?,
        })
    }
}

static EVENTS: &[Migration] = &[Migration::new(
    1,
    "create_events",
    "CREATE TABLE events (
        id ${id},
        kind ${text} NOT NULL,
        payload ${json} NOT NULL,
        at ${timestamp} NOT NULL,
        created ${timestamp} NOT NULL DEFAULT ${now},
        done ${bool} NOT NULL,
        score ${float} NOT NULL,
        \"blob\" ${bytes},
        uid ${uuid} NOT NULL UNIQUE
    );
    CREATE INDEX events_at ON events (at);",
)];

#[tokio::test]
async fn portable_queries_behave_the_same_everywhere() {
    for case in cases() {
        let manager = case.manager();
        let db = manager.for_plugin("events").await.unwrap();
        db.migrate(EVENTS).await.unwrap();
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let mut ids = Vec::new();
        for i in 0..5_i64 {
            let (id,): (i64,) = Sql::new(
                "INSERT INTO events (kind, payload, at, done, score, \"blob\", uid) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(if i % 2 == 0 { "Component" } else { "api" })
            .bind(json!({ "i": i, "tags": ["x", "y"] }))
            .bind(t0 + chrono::Duration::microseconds(i * 1500))
            .bind(i % 2 == 0)
            .bind(i as f64 / 2.0)
            .bind(if i == 0 { None } else { Some(vec![i as u8; 3]) })
            .bind(uuid::Uuid::from_u128(i as u128 + 1))
            .fetch_one(&db)
            .await
            .unwrap();
            ids.push(id);
        }
        assert_eq!(ids, vec![1, 2, 3, 4, 5], "{}", case.name);

        // Timestamps compare and sort correctly, microseconds included.
        let later: Vec<Event> = Sql::new("SELECT * FROM events WHERE at > ? ORDER BY at DESC")
            .bind(t0 + chrono::Duration::microseconds(1500))
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(
            later.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![5, 4, 3],
            "{}",
            case.name
        );
        let e = &later[2];
        assert_eq!(e.at, t0 + chrono::Duration::microseconds(3000));
        assert_eq!((e.kind.as_str(), e.done, e.score), ("Component", true, 1.0));
        assert_eq!(e.payload["tags"][1], "y");
        assert_eq!(e.blob.as_deref(), Some(&[2u8, 2, 2][..]));
        assert_eq!(e.uid, uuid::Uuid::from_u128(3));

        // `${now}` defaults decode as timestamps and sort after the fixed past instants.
        let (created,): (DateTime<Utc>,) = Sql::new("SELECT created FROM events WHERE id = ?")
            .bind(1)
            .fetch_one(&db)
            .await
            .unwrap();
        assert!(
            (Utc::now() - created).num_seconds().abs() < 60,
            "{}: {created}",
            case.name
        );
        let (n,): (i64,) = Sql::new("SELECT COUNT(*) FROM events WHERE created > at")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(n, 5, "{}", case.name);

        // JSON field access, case-insensitive matching, IN lists and NULLs.
        let d = db.dialect();
        let sql = format!(
            "SELECT id FROM events WHERE {} = ? AND kind {} ? AND id IN ({}) ORDER BY id",
            d.json_text("payload", "i"),
            d.like_case_insensitive(),
            placeholders(3)
        );
        let hits: Vec<(i64,)> = Sql::new(sql)
            .bind("2")
            .bind("component")
            .bind_all([1_i64, 3, 5])
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(hits, vec![(3,)], "{}", case.name);
        let texts: Vec<(Option<String>, Option<String>)> = Sql::new(format!(
            "SELECT {}, {} FROM events WHERE id = ?",
            d.json_text("payload", "tags"),
            d.json_text("payload", "missing")
        ))
        .bind(2)
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(
            texts[0].0.as_deref().is_some_and(|t| t.contains("\"x\"")),
            "{}",
            case.name
        );
        assert_eq!(texts[0].1, None, "{}", case.name);
        let nulls: Option<(Option<Vec<u8>>,)> =
            Sql::new("SELECT \"blob\" FROM events WHERE id = ?")
                .bind(1)
                .fetch_optional(&db)
                .await
                .unwrap();
        assert_eq!(nulls, Some((None,)));
        let none: Option<(i64,)> = Sql::new("SELECT id FROM events WHERE id = ?")
            .bind(99)
            .fetch_optional(&db)
            .await
            .unwrap();
        assert!(none.is_none());
        let err = Sql::new("SELECT id FROM events WHERE id = ?")
            .bind(99)
            .fetch_one::<(i64,)>(&db)
            .await
            .unwrap_err();
        assert!(matches!(err, DatabaseError::RowNotFound { .. }));

        // Upserts, unique violations and transactions.
        let upsert = d.upsert(&["uid"], &["kind"]);
        Sql::new(format!(
            "INSERT INTO events (kind, payload, at, done, score, uid) VALUES (?, ?, ?, ?, ?, ?) {upsert}"
        ))
        .bind("renamed")
        .bind(json!({}))
        .bind(t0)
        .bind(false)
        .bind(0.0)
        .bind(uuid::Uuid::from_u128(1))
        .execute(&db)
        .await
        .unwrap();
        let (kind,): (String,) = Sql::new("SELECT kind FROM events WHERE id = ?")
            .bind(1)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(kind, "renamed", "{}", case.name);
        let dup = Sql::new(
            "INSERT INTO events (kind, payload, at, done, score, uid) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind("dup")
        .bind(json!({}))
        .bind(t0)
        .bind(false)
        .bind(0.0)
        .bind(uuid::Uuid::from_u128(2))
        .execute(&db)
        .await
        .unwrap_err();
        assert!(dup.is_unique_violation(), "{}: {dup:?}", case.name);

        let mut tx = db.begin().await.unwrap();
        let deleted = Sql::new("DELETE FROM events WHERE done = ?")
            .bind(false)
            .execute(&mut tx)
            .await
            .unwrap();
        assert_eq!(deleted, 2, "{}", case.name);
        tx.rollback().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        Sql::new("DELETE FROM events WHERE id = ?")
            .bind(5)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (count,): (i64,) = Sql::new("SELECT COUNT(*) FROM events")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(count, 4, "{}", case.name);
        manager.close().await;
    }
}

#[tokio::test]
async fn default_config_uses_one_file_per_plugin_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let manager = DatabaseManager::from_config(None, &data).unwrap();
    let db = manager.for_plugin("catalog").await.unwrap();
    db.migrate(ITEMS).await.unwrap();
    assert!(data.join("catalog.sqlite").is_file());
    manager.close().await;
}

#[tokio::test]
async fn bad_config_and_ids_are_rejected_with_their_names() {
    let err = DatabaseManager::from_config(Some(&json!({ "client": "mssql" })), Path::new("."))
        .unwrap_err();
    assert!(
        matches!(err, DatabaseError::UnsupportedClient { ref client, .. } if client == "mssql")
    );
    let manager = DatabaseManager::in_memory();
    let err = manager.for_plugin("../etc").await.unwrap_err();
    assert!(matches!(err, DatabaseError::InvalidPluginId { .. }));
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn unreachable_postgres_fails_naming_the_plugin() {
    let config = json!({ "client": "pg", "connection": "postgres://postgres@127.0.0.1:1/postgres",
        "ensureExists": false,
        "pool": { "acquireTimeoutMillis": 500 },
    });
    let manager = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
    let err = manager.for_plugin("catalog").await.unwrap_err();
    assert!(
        matches!(err, DatabaseError::Connect { ref plugin_id, .. } if plugin_id == "catalog"),
        "{err:?}"
    );
    assert!(err.to_string().contains("backstage_plugin_catalog"));
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn schema_mode_sets_the_search_path_on_every_connection() {
    let Ok(url) = std::env::var(PG_VAR) else {
        println!("skipped: {PG_VAR} not set");
        return;
    };
    let prefix = unique("p");
    let _cleanup = Case {
        name: "cleanup",
        config: Value::Null,
        override_connection: (Value::Null, String::new()),
        persistent: false,
        _dir: None,
        pg_prefix: Some((url.clone(), prefix.clone())),
        my_prefix: None,
    };
    let config = json!({
        "client": "pg",
        "pluginDivisionMode": "schema",
        "connection": { "connectionString": url, "database": format!("{prefix}shared") },
        "pool": { "min": 3, "max": 3 },
    });
    let manager = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
    let db = manager.for_plugin("my-plugin").await.unwrap();
    let pool = db.pool().as_postgres().unwrap();
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(pool.acquire().await.unwrap());
    }
    for conn in &mut conns {
        let (schema,): (String,) = sqlx::query_as("SELECT current_schema()")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(schema, "my-plugin");
    }
    drop(conns);
    manager.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_read_then_write_transactions_all_commit() {
    for case in cases() {
        let manager = case.manager();
        let db = manager.for_plugin("counter").await.unwrap();
        db.migrate(&[Migration::new(
            1,
            "create_counter",
            "CREATE TABLE counter (id ${bigint} PRIMARY KEY, n ${bigint} NOT NULL);
             INSERT INTO counter (id, n) VALUES (1, 0);",
        )])
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = db.begin().await.unwrap();
                let (_n,): (i64,) = Sql::new("SELECT n FROM counter WHERE id = 1")
                    .fetch_one(&mut tx)
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
                Sql::new("UPDATE counter SET n = n + 1 WHERE id = 1")
                    .execute(&mut tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let (n,): (i64,) = Sql::new("SELECT n FROM counter WHERE id = 1")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(n, 20, "{}", case.name);
        manager.close().await;
    }
}

#[cfg(feature = "postgres")]
/// A read transaction (`begin_read`) does not wait for an open writing transaction (on SQLite
/// `begin` takes the write lock up front, so a second `begin` would wait out the busy
/// timeout): it sees what had committed, and the write commits after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_transactions_run_beside_an_open_write() {
    for case in cases() {
        let manager = case.manager();
        let db = manager.for_plugin("readers").await.unwrap();
        db.migrate(ITEMS).await.unwrap();
        insert(&db, "committed").await;
        let mut write = db.begin().await.unwrap();
        Sql::new("INSERT INTO items (name) VALUES (?)")
            .bind("pending")
            .execute(&mut write)
            .await
            .unwrap();
        let read = async {
            let mut tx = db.begin_read().await.unwrap();
            let seen: Vec<(String,)> = Sql::new("SELECT name FROM items ORDER BY name")
                .fetch_all(&mut tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            seen
        };
        let seen = tokio::time::timeout(std::time::Duration::from_secs(5), read)
            .await
            .unwrap_or_else(|_| panic!("{}: the read waited for the write", case.name));
        assert_eq!(seen, [("committed".to_owned(),)], "{}", case.name);
        write.commit().await.unwrap();
        assert_eq!(names(&db).await, ["committed", "pending"], "{}", case.name);
        manager.close().await;
    }
}

#[tokio::test]
async fn ensure_exists_false_leaves_missing_databases_missing() {
    let Ok(url) = std::env::var(PG_VAR) else {
        println!("skipped: {PG_VAR} not set");
        return;
    };
    let prefix = unique("e");
    let _cleanup = Case {
        name: "cleanup",
        config: Value::Null,
        override_connection: (Value::Null, String::new()),
        persistent: false,
        _dir: None,
        pg_prefix: Some((url.clone(), prefix.clone())),
        my_prefix: None,
    };
    let config =
        json!({ "client": "pg", "connection": url, "prefix": prefix, "ensureExists": false });
    let manager = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
    let err = manager.for_plugin("absent").await.unwrap_err();
    assert!(
        matches!(err, DatabaseError::Connect { ref plugin_id, .. } if plugin_id == "absent"),
        "{err:?}"
    );

    // With the default (`ensureExists: true`) the same plugin gets its database created.
    let config = json!({ "client": "pg", "connection": url, "prefix": prefix });
    let manager = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
    let db = manager.for_plugin("absent").await.unwrap();
    assert!(db.location().contains(&format!("{prefix}absent")));
    manager.close().await;
}
