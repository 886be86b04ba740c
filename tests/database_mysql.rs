//! MySQL / MariaDB specifics of the database service (`backend.database.client: mysql2`):
//! token types, upserts, reserved words, JSON access, the migration lock across managers, a
//! failed migration, and the catalog over HTTP. Needs `BACKLOT_TEST_MYSQL_URL` (e.g.
//! `mysql://root@127.0.0.1:3306`) and the `mysql` feature; each test prints that it is skipped
//! without the variable and fails when it is set but the server is unreachable.

#![cfg(feature = "mysql")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::path::Path;

use backlot::services::database::{
    DatabaseError, DatabaseManager, DbPool, Dialect, MIGRATIONS_TABLE, Migration, Sql,
};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

/// A manager on a fresh database prefix, and a guard that drops its databases.
struct Fixture {
    url: String,
    prefix: String,
}

impl Fixture {
    fn new(tag: &str) -> Option<Self> {
        let Ok(url) = std::env::var("BACKLOT_TEST_MYSQL_URL") else {
            println!("skipped: BACKLOT_TEST_MYSQL_URL not set");
            return None;
        };
        let prefix = format!(
            "bm{tag}{}_",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Some(Self { url, prefix })
    }

    fn manager(&self) -> DatabaseManager {
        let config = json!({ "client": "mysql2", "connection": self.url, "prefix": self.prefix });
        DatabaseManager::from_config(Some(&config), Path::new("/nonexistent")).unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                use sqlx::{Connection, MySqlConnection};
                let mut conn = MySqlConnection::connect(&url).await.unwrap();
                let names: Vec<(String,)> = sqlx::query_as(
                    "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
                     WHERE SCHEMA_NAME LIKE ?",
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
            });
        })
        .join();
    }
}

static KV: &[Migration] = &[Migration::new(
    1,
    "create_kv",
    "CREATE TABLE kv (
        k ${key} PRIMARY KEY,
        \"key\" ${text},
        v ${json} NOT NULL,
        flag ${bool} NOT NULL DEFAULT FALSE,
        id_ref ${uuid},
        at ${timestamp} NOT NULL DEFAULT ${now}
    );",
)];

#[tokio::test]
async fn tokens_upserts_reserved_words_and_json_work() {
    let Some(fx) = Fixture::new("tok") else {
        return;
    };
    let manager = fx.manager();
    let db = manager.for_plugin("kv").await.unwrap();
    assert_eq!(db.dialect(), Dialect::Mysql);
    assert!(matches!(db.pool(), DbPool::Mysql(_)));
    assert!(db.location().starts_with("mysql "), "{}", db.location());
    assert!(db.location().ends_with(&format!("{}kv", fx.prefix)));
    assert_eq!(db.migrate(KV).await.unwrap().applied, vec![1]);

    let upsert = db.dialect().upsert(&["k"], &["v", "flag"]);
    let id = uuid::Uuid::new_v4();
    for n in [1, 2] {
        Sql::new(format!(
            "INSERT INTO kv (k, \"key\", v, flag, id_ref) VALUES (?, ?, ?, ?, ?) {upsert}"
        ))
        .bind("a")
        .bind("reserved")
        .bind(json!({ "n": n, "name": "Alpha", "on": true, "nothing": null }))
        .bind(n == 2)
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    }
    let (v, flag, got_id, key): (Value, bool, uuid::Uuid, String) =
        Sql::new("SELECT v, flag, id_ref, \"key\" FROM kv WHERE k = ?")
            .bind("a")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(v["n"], 2);
    assert!(flag);
    assert_eq!(got_id, id);
    assert_eq!(key, "reserved");

    // Skipping on conflict leaves the row alone.
    let skip = db.dialect().upsert(&["k"], &[]);
    Sql::new(format!("INSERT INTO kv (k, v) VALUES (?, ?) {skip}"))
        .bind("a")
        .bind(json!({ "n": 3 }))
        .execute(&db)
        .await
        .unwrap();
    let (count, n): (i64, Option<String>) = Sql::new(format!(
        "SELECT COUNT(*), MAX({}) FROM kv",
        db.dialect().json_text("v", "n")
    ))
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((count, n.as_deref()), (1, Some("2")));

    // JSON text: strings unquoted, booleans as text, JSON null and missing keys as NULL.
    let d = db.dialect();
    let (name, on, nothing, missing): (String, String, Option<String>, Option<String>) =
        Sql::new(format!(
            "SELECT {}, {}, {}, {} FROM kv",
            d.json_text("v", "name"),
            d.json_text("v", "on"),
            d.json_text("v", "nothing"),
            d.json_text("v", "missing")
        ))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!((name.as_str(), on.as_str()), ("Alpha", "true"));
    assert_eq!((nothing, missing), (None, None));

    // Case-insensitive matching and LIMIT/OFFSET.
    let hits: Vec<(String,)> = Sql::new(format!(
        "SELECT k FROM kv WHERE {} {} ? ORDER BY k LIMIT ? OFFSET ?",
        d.json_text("v", "name"),
        d.like_case_insensitive()
    ))
    .bind("al%")
    .bind(10)
    .bind(0)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(hits, vec![("a".to_owned(),)]);

    // Timestamps go in and come out in UTC with microseconds; `${now}` is UTC too.
    let t = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::microseconds(7);
    Sql::new("UPDATE kv SET at = ? WHERE k = ?")
        .bind(t)
        .bind("a")
        .execute(&db)
        .await
        .unwrap();
    let (at,): (chrono::DateTime<Utc>,) =
        Sql::new("SELECT at FROM kv").fetch_one(&db).await.unwrap();
    assert_eq!(at, t);
    let (now,): (chrono::DateTime<Utc>,) = Sql::new("SELECT ${now}").fetch_one(&db).await.unwrap();
    assert!((now - Utc::now()).num_seconds().abs() < 60, "{now}");

    // Keys longer than VARCHAR(255) are refused, not cut.
    let long = "x".repeat(300);
    let err = Sql::new("INSERT INTO kv (k, v) VALUES (?, ?)")
        .bind(&long)
        .bind(json!({}))
        .execute(&db)
        .await;
    assert!(err.is_err(), "a 300-character key was stored");
    manager.close().await;
}

static COUNTER: &[Migration] = &[
    Migration::new(1, "create_log", "CREATE TABLE log (n ${bigint} NOT NULL);"),
    Migration::new(2, "first", "INSERT INTO log (n) VALUES (2);"),
    Migration::new(3, "second", "INSERT INTO log (n) VALUES (3);"),
];

#[tokio::test]
async fn two_managers_migrating_at_once_apply_each_migration_once() {
    let Some(fx) = Fixture::new("mig") else {
        return;
    };
    let (a, b) = (fx.manager(), fx.manager());
    let (da, db) = (
        a.for_plugin("shared").await.unwrap(),
        b.for_plugin("shared").await.unwrap(),
    );
    let (ra, rb) = tokio::join!(da.migrate(COUNTER), db.migrate(COUNTER));
    let mut applied = ra.unwrap().applied;
    applied.extend(rb.unwrap().applied);
    applied.sort_unstable();
    assert_eq!(applied, vec![1, 2, 3]);
    let rows: Vec<(i64,)> = Sql::new("SELECT n FROM log ORDER BY n")
        .fetch_all(&da)
        .await
        .unwrap();
    assert_eq!(rows, vec![(2,), (3,)]);
    let (recorded,): (i64,) = Sql::new(format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE}"))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(recorded, 3);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_failed_migration_is_reported_and_the_lock_is_released() {
    let Some(fx) = Fixture::new("bad") else {
        return;
    };
    let manager = fx.manager();
    let db = manager.for_plugin("broken").await.unwrap();
    let bad = [
        Migration::new(1, "ok", "CREATE TABLE t1 (n ${bigint});"),
        Migration::new(
            2,
            "bad",
            "CREATE TABLE t2 (n ${bigint}); CREATE TABLE nope nope;",
        ),
    ];
    let err = db.migrate(&bad).await.unwrap_err();
    assert!(
        matches!(err, DatabaseError::Migration { version: 2, ref plugin_id, .. } if plugin_id == "broken"),
        "{err:?}"
    );
    // DDL is not transactional on MySQL: t2 stays, version 2 is not recorded, and another
    // migrator (a second manager) is not blocked by the lock.
    let other = fx.manager();
    let again = other.for_plugin("broken").await.unwrap();
    let fixed = [
        Migration::new(1, "ok", "CREATE TABLE t1 (n ${bigint});"),
        Migration::new(2, "bad", "CREATE TABLE IF NOT EXISTS t2 (n ${bigint});"),
    ];
    assert_eq!(again.migrate(&fixed).await.unwrap().applied, vec![2]);
    manager.close().await;
    other.close().await;
}

#[tokio::test]
async fn an_unreachable_server_fails_naming_the_plugin() {
    if std::env::var("BACKLOT_TEST_MYSQL_URL").is_err() {
        println!("skipped: BACKLOT_TEST_MYSQL_URL not set");
        return;
    }
    let config = json!({
        "client": "mysql2",
        "connection": { "host": "127.0.0.1", "port": 1, "user": "root" },
        "pool": { "acquireTimeoutMillis": 2000 },
    });
    let manager = DatabaseManager::from_config(Some(&config), Path::new(".")).unwrap();
    let err = manager.for_plugin("catalog").await.unwrap_err();
    assert!(
        matches!(err, DatabaseError::Connect { ref plugin_id, ref target, .. }
            if plugin_id == "catalog" && target.contains("127.0.0.1:1")),
        "{err:?}"
    );
}

#[cfg(feature = "testing")]
#[tokio::test]
async fn the_catalog_ingests_and_answers_queries_over_http() {
    use backlot::backend::Feature;
    use backlot::plugins::catalog::CatalogPlugin;
    use backlot::testing::TestBackend;

    let Some(db_yaml) = support::mysql_database_yaml("catmy") else {
        println!("skipped: BACKLOT_TEST_MYSQL_URL not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog-info.yaml");
    let mut docs = String::new();
    for i in 0..30 {
        docs.push_str(&format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: svc-{i}\n  \
             tags: [t{}]\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
            i % 3
        ));
    }
    std::fs::write(&file, docs).unwrap();
    let b = TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(db_yaml)
        .config_yaml(format!(
            "catalog:\n  rules:\n    - allow: [Component, Location]\n  locations:\n    - type: file\n      target: {}\n",
            file.display()
        ))
        .start()
        .await
        .expect("backend starts on MySQL");
    let client = b.client();
    let res = client
        .get("/api/catalog/entities/by-query?filter=metadata.tags=t1&limit=100")
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let body: Value = res.json().unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 10, "{body}");
    let res = client
        .get("/api/catalog/entities/by-name/component/default/svc-7")
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let res = client.get("/api/catalog/locations").await.unwrap();
    assert_eq!(res.status(), 200);
    b.stop().await.unwrap();
}
